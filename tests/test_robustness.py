"""Reruns are safe: deterministic tables, interrupted runs recover, edits rerun only what
depends on them, and a run that fails validation leaves nothing under results/."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from workflow_runs import (
    PROJECT_ROOT,
    TINY,
    prepare_workdir,
    run_snakemake,
    snakemake_env,
    table_checksums,
)

from msc_secretome.errors import InputError
from msc_secretome.settings import check_unknown_keys


@pytest.mark.slow
def test_same_inputs_give_byte_identical_tables(tiny_run, tmp_path):
    first, _ = tiny_run
    overrides = prepare_workdir(tmp_path, TINY)
    run_snakemake(tmp_path, "--cores", "1", "--configfile", str(overrides))
    a, b = table_checksums(first), table_checksums(tmp_path)
    assert len(a) > 30
    assert a == b, [k for k in a if a[k] != b.get(k)]


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_results(tiny_run, tmp_path):
    first, _ = tiny_run
    overrides = prepare_workdir(tmp_path, TINY)
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(PROJECT_ROOT / "Snakefile"),
        "--directory", str(tmp_path), "--cores", "2", "--configfile", str(overrides),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env=snakemake_env(),
    )  # fmt: skip
    deadline = time.time() + 300
    while time.time() < deadline and not list((tmp_path / "results/de").glob("*.tsv")):
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before it could be interrupted"
    os.killpg(process.pid, signal.SIGKILL)  # no clean-up at all: the worst case
    process.wait()
    assert not (tmp_path / "results/report/index.html").exists()
    for leftover in (tmp_path / "results").rglob(".*.tmp*"):
        leftover.unlink()  # atomic writers' temporary files (.name.XXXX.tmp.tsv) never carry a
        # result's name
    # What a user does after a crash: release the lock, run again (the workflow profile sets
    # rerun-incomplete, so jobs that were running are redone from scratch).
    run_snakemake(tmp_path, "--unlock", "--configfile", str(overrides))
    run_snakemake(tmp_path, "--cores", "2", "--configfile", str(overrides))
    assert table_checksums(tmp_path) == table_checksums(first)


@pytest.mark.slow
def test_changing_one_contrast_reruns_only_what_depends_on_it(tiny_run, tmp_path):
    workdir, overrides = tiny_run
    contrasts_path = workdir / "config" / "contrasts.yaml"
    original = contrasts_path.read_text()
    data = yaml.safe_load(original)
    data["contrasts"]["cancer_cm_vs_ctrl_radiation"]["at"] = {"therapy": "chemo"}
    contrasts_path.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        result = run_snakemake(
            workdir, "--cores", "1", "--configfile", str(overrides), "--dry-run", "--quiet",
            "rules",
        )  # fmt: skip
    finally:
        contrasts_path.write_text(original)
    table = result.stdout
    jobs = dict(
        (line.split()[0], int(line.split()[1]))
        for line in table.splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit()
    )
    # one job per model fits it and tests all its contrasts: only the changed contrast's
    # model reruns (its fit, its contrasts, their enrichment), not the other model's
    assert jobs.get("differential_expression_cancer") == 1, table
    assert jobs.get("gene_set_enrichment_cancer") == 1, table
    assert "differential_expression_normal" not in jobs, table
    assert "gene_set_enrichment_normal" not in jobs and "validate_inputs" not in jobs, table


@pytest.mark.slow
def test_enrichment_threads_rerun_nothing_and_give_the_same_tables(tiny_run, tmp_path):
    """`enrichment.threads` is how fast, not what: raising it re-runs no enrichment (only the
    report, which lists the settings), and enrichment jobs forced to run on 2 threads write
    the same bytes."""
    import shutil

    source, _ = tiny_run
    workdir = tmp_path / "copy"
    shutil.copytree(source, workdir, symlinks=True)  # mtimes and .snakemake/ metadata kept
    overrides = prepare_workdir(
        workdir, {**TINY, "enrichment": {"permutations": 200, "threads": 2}}
    )
    planned = run_snakemake(
        workdir, "--cores", "2", "--configfile", str(overrides), "--dry-run", "--quiet", "rules"
    ).stdout
    assert "html_report" in planned and "gene_set_enrichment" not in planned, planned
    models = ["gene_set_enrichment_cancer", "gene_set_enrichment_normal"]
    result = run_snakemake(
        workdir, "--cores", "2", "--configfile", str(overrides), "--forcerun", *models,
        "--until", *models,
    )  # fmt: skip
    for model in models:
        job_log = workdir / f"logs/gene_set_enrichment/models/{model.rsplit('_', 1)[1]}.log"
        assert job_log.exists(), result.stderr[-2000:]
    assert "threads: 2" in result.stdout + result.stderr
    assert table_checksums(workdir) == table_checksums(source)


def test_failed_validation_writes_nothing_under_results(tmp_path):
    overrides = prepare_workdir(
        tmp_path, {"counts": "bad_counts.tsv", "secretome": {"source": "builtin"}}
    )
    (tmp_path / "bad_counts.tsv").write_text(
        "gene_id\t" + "\t".join(
            line.split("\t")[0] for line in
            (tmp_path / "config/samples.tsv").read_text().splitlines()[1:]
        ) + "\nTP53\t" + "\t".join(["1.5"] * 36) + "\n"
    )  # fmt: skip
    result = run_snakemake(tmp_path, "--cores", "1", "--configfile", str(overrides), check=False)
    assert result.returncode != 0
    log = (tmp_path / "logs/validate_inputs.log").read_text()
    assert "non-integer" in log and "bad_counts.tsv" in log and "round_estimated_counts" in log
    written = [p for p in (tmp_path / "results").rglob("*") if p.is_file()]
    assert written == []


def test_bad_contrast_stops_before_any_job(tmp_path):
    overrides = prepare_workdir(tmp_path, {})
    contrasts = tmp_path / "config" / "contrasts.yaml"
    contrasts.write_text(
        contrasts.read_text().replace("at: {therapy: chemo}", "at: {therapy: chem}", 1)
    )
    result = run_snakemake(tmp_path, "--cores", "1", "--configfile", str(overrides), check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "level 'chem' of 'therapy'" in output and "levels there" in output
    assert not (tmp_path / "results").exists() and not (tmp_path / "resources").exists()


def test_misspelled_config_key_lists_the_allowed_keys():
    config = yaml.safe_load((PROJECT_ROOT / "config/config.yaml").read_text())
    config["de"]["alhpa"] = config["de"].pop("alpha")
    with pytest.raises(
        InputError,
        match=r"unknown key 'alhpa' at de. Did you mean 'alpha'\?.*"
        r"Allowed keys there: \['alpha'",
    ):
        check_unknown_keys(config, PROJECT_ROOT / "workflow/schemas/config.schema.yaml")
