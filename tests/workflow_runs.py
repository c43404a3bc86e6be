"""Running the workflow from tests: a fresh working directory per run, workflow/Snakefile."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]

#: A reduced example for tests: fewer genes and permutations, same design and biology.
SMALL_EXAMPLE = {
    "example": {"seed": 20151, "n_genes": 4000, "n_replicates": 3},
    "enrichment": {"permutations": 500},
}


def prepare_workdir(workdir: Path, overrides: dict | None = None) -> Path:
    """Copy config/ into ``workdir`` and write ``overrides`` as an extra config file."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(PROJECT_ROOT / "config", workdir / "config", dirs_exist_ok=True)
    extra = workdir / "config" / "test-overrides.yaml"
    extra.write_text(yaml.safe_dump(overrides or {}, sort_keys=True))
    return extra


def snakemake_env() -> dict[str, str]:
    """Environment of a test's Snakemake run: fixed hash seed, and rule scripts import this
    checkout's package (an editable install may point at another checkout)."""
    scripts = str(PROJECT_ROOT / "workflow" / "scripts")
    path = os.pathsep.join(p for p in (scripts, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": path}


def run_snakemake(workdir: Path, *args: str, timeout: int = 1200, check: bool = True, wrapper=()):
    """Run the project's workflow in ``workdir``; returns the CompletedProcess.

    ``wrapper``: a command prefix, e.g. ``["unshare", "-n"]`` to run without a network.
    """
    # The repository's default profile, as a user running `snakemake` from the root gets it
    # (Snakemake looks for profiles/default beside the Snakefile or in the working directory).
    profile = [] if "--workflow-profile" in args else [
        "--workflow-profile", str(PROJECT_ROOT / "profiles" / "default"),
    ]  # fmt: skip
    command = [
        *wrapper,
        sys.executable, "-m", "snakemake",
        "--snakefile", str(PROJECT_ROOT / "workflow" / "Snakefile"),
        "--directory", str(workdir),
        *profile,
        *args,
    ]  # fmt: skip
    env = snakemake_env()
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, cwd=workdir
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-5000:]}\n{result.stderr[-8000:]}"
        )
    return result


#: A tiny example for robustness and executor tests (seconds per job, not minutes).
TINY = {
    "example": {"seed": 7, "n_genes": 2000, "n_replicates": 3},
    "enrichment": {"permutations": 200},
}
RESULT_TABLES = ["results/de", "results/enrichment", "results/programmes", "results/qc"]


def table_checksums(workdir: Path) -> dict[str, str]:
    """SHA-256 of every result table (TSV) of a run, keyed by relative path."""
    sums = {}
    for folder in RESULT_TABLES:
        for path in sorted((workdir / folder).glob("[!.]*.tsv")):  # not writers' temp files
            sums[str(path.relative_to(workdir))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return sums
