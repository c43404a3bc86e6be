"""The workflow follows Snakemake's catalogue conventions: lint, snakefmt, ruff."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
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
    result = run(tool("snakefmt"), "--check", "Snakefile", "workflow/Snakefile", "workflow/rules")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(tool("ruff") is None, reason="ruff is not installed")
def test_ruff_is_clean():
    check = run(tool("ruff"), "check", "workflow", "tests")
    assert check.returncode == 0, check.stdout
    fmt = run(tool("ruff"), "format", "--check", "workflow", "tests")
    assert fmt.returncode == 0, fmt.stdout


def test_catalogue_standardized_layout():
    """workflow/Snakefile is the entry (the root one includes it); the catalogue's keys exist."""
    assert (PROJECT_ROOT / "workflow" / "Snakefile").is_file()
    assert 'include: "workflow/Snakefile"' in (PROJECT_ROOT / "Snakefile").read_text()
    assert (PROJECT_ROOT / "config" / "README.md").is_file()
    catalogue = yaml.safe_load((PROJECT_ROOT / ".snakemake-workflow-catalog.yml").read_text())
    usage = catalogue["usage"]
    assert set(usage) >= {"mandatory-flags", "software-stack-deployment", "report"}
    assert set(usage["mandatory-flags"]) == {"desc", "flags"}
    deployment = usage["software-stack-deployment"]
    assert deployment["conda"] is True
    assert {"singularity", "singularity+conda"} <= set(deployment)
    assert all(isinstance(value, bool) for value in deployment.values())


def test_root_snakefile_plans_the_whole_workflow(tmp_path):
    """`snakemake` from the root runs the workflow's `all` (an include sets no default target)."""
    from workflow_runs import prepare_workdir, run_snakemake

    prepare_workdir(tmp_path)
    result = run_snakemake(
        tmp_path, "-n", "--snakefile", str(PROJECT_ROOT / "Snakefile"), "--quiet", "rules"
    )
    assert "html_report" in result.stdout + result.stderr
