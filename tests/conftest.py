"""Shared fixtures: paths of the project and of the reference data in ../shared."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCRIPTS_DIR = PROJECT_ROOT / "workflow" / "scripts"
if str(SCRIPTS_DIR) not in sys.path:  # the package also works without `pip install -e .`
    sys.path.insert(0, str(SCRIPTS_DIR))

SHARED_DIR = (PROJECT_ROOT.parent / "shared").resolve()
REFERENCE_DIR = SHARED_DIR / "reference"


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """../shared/reference; tests that use it are marked `shared` and skip where it is absent."""
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"reference data not found at {REFERENCE_DIR} (CI provides ../shared)")
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One local run of the tiny example, shared by the tests that compare against it.

    Tests may edit its config only if they restore it.
    """
    from workflow_runs import TINY, prepare_workdir, run_snakemake

    workdir = tmp_path_factory.mktemp("tiny")
    overrides = prepare_workdir(workdir, TINY)
    run_snakemake(workdir, "--cores", "2", "--configfile", str(overrides))
    return workdir, overrides
