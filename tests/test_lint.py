"""The workflow follows Snakemake's catalogue conventions: lint, snakefmt, ruff."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from workflow_runs import PROJECT_ROOT


def tool(name: str) -> str | None:
    """A console script of this interpreter's environment, else one on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300, check=False
    )


def test_snakemake_lint_is_clean():
    result = run(sys.executable, "-m", "snakemake", "--lint", "--workflow-profile", "none")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr


@pytest.mark.skipif(tool("snakefmt") is None, reason="snakefmt is not installed")
def test_snakefmt_is_clean():
    result = run(tool("snakefmt"), "--check", "Snakefile", "workflow/rules")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(tool("ruff") is None, reason="ruff is not installed")
def test_ruff_is_clean():
    check = run(tool("ruff"), "check", "workflow", "tests")
    assert check.returncode == 0, check.stdout
    fmt = run(tool("ruff"), "format", "--check", "workflow", "tests")
    assert fmt.returncode == 0, fmt.stdout
