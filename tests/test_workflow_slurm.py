"""The example through Snakemake's SLURM executor on a real cluster: same tables as locally."""

from __future__ import annotations

import time

import pytest
from test_slurm import run_snakemake as run_on_slurm
from test_slurm import slurm_args, slurm_cluster, submitted_job_ids  # noqa: F401
from workflow_runs import PROJECT_ROOT, TINY, prepare_workdir, table_checksums

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def test_example_on_slurm_equals_local_run(slurm_cluster, tiny_run, tmp_path):  # noqa: F811
    local, _ = tiny_run
    cluster = tmp_path / "slurm"
    overrides = prepare_workdir(cluster, TINY)
    started = time.monotonic()
    result = run_on_slurm(
        slurm_args(
            cluster,
            "--snakefile",
            str(PROJECT_ROOT / "Snakefile"),
            "--configfile",
            str(overrides),
        ),  # fmt: skip
        cwd=cluster,
        timeout=1500,
    )
    wall = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-6000:]
    jobs = submitted_job_ids(result.stdout)
    print(f"SLURM run: {len(jobs)} sbatch jobs, {wall:.0f} s wall")
    # Local rules (bookkeeping) do not go to SLURM; everything else does: 12 jobs for the tiny
    # example (one DE, one enrichment and one refit job per model, plus the single stages).
    assert len(jobs) >= 12, result.stdout[-3000:]
    for rule in ("differential_expression_cancer", "gene_set_enrichment_normal", "html_report"):
        assert f"\nrule {rule}:" in result.stdout, f"{rule} was not submitted"
    assert (cluster / "results/report/index.html").is_file()
    a, b = table_checksums(local), table_checksums(cluster)
    assert a == b, [k for k in a if a[k] != b.get(k)]
