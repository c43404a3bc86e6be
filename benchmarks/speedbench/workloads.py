"""The workloads: simulated experiments of a given size, the workflow on them, the example.

* :func:`simulate_size` writes ``counts.tsv.gz`` + ``samples.tsv`` of SAMPLESxGENES from the
  example's simulator (:func:`msc_secretome.simulate.simulate_bulk_experiment`, seeded) in a
  child process, and the contrasts file of the design (the example's two models and 14
  contrasts; at 12 samples the lab-scale 2 x 2 design, see ``LAB_CONTRASTS``).
* :func:`run_workflow` runs ``snakemake --cores N`` on it from a clean folder and returns the
  whole run's measurement plus one row per job (its ``logs/benchmarks/<rule>/`` file and the
  sampled peak of the job's process tree), each with its stage (:func:`stats.stage_of`).
* :func:`run_example` is the bundled example (``snakemake --cores 2`` with the repository's
  config and profile) from a clean ``results/``.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from .measure import MB, run_measured
from .stats import stage_of

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "workflow" / "scripts"
LAB_CONTRASTS = {
    "models": {
        cell: {
            "subset": {"cell_type": cell, "therapy": "none"},
            "design": "~ batch + medium",
            "reference": {"medium": "control", "batch": "b1"},
        }
        for cell in ("cancer", "normal")
    },
    "contrasts": {
        f"{cell}_cm_vs_ctrl_none": {"model": cell, "compare": {"medium": ["msc_cm", "control"]}}
        for cell in ("cancer", "normal")
    },
}
COMPUTE_LINE = re.compile(r"compute: .* in ([0-9.]+) s")


def job_env(root: Path = ROOT) -> dict[str, str]:
    """Fixed hash seed; rule scripts import the package of the checkout at ``root``."""
    return {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "PYTHONPATH": str(root / "workflow" / "scripts"),
    }


def checkout(revision: str, folder: Path) -> Path:
    """A detached git worktree of ``revision`` of this repository at ``folder`` (reused)."""
    if not (folder / "Snakefile").is_file():
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), revision],
            check=True,
        )
    return folder


#: Most batches of a simulated design. The simulator puts replicate r in batch b{r}, so the
#: design ``~ batch + medium * therapy`` would grow with the samples (166 batches, 171
#: coefficients at 2,000 samples) and the cost would mix samples with coefficients; above 8
#: replicates, replicate r goes to batch b{1 + (r - 1) mod 8} (8 sites), so every size from
#: 96 samples up fits the same 13 coefficients (the per-replicate shifts the simulator drew
#: then add noise within a site).
MAX_BATCHES = 8


def site_batches(batches: pd.Series, max_batches: int = MAX_BATCHES) -> pd.Series:
    """Batch labels ``b{r}`` folded onto ``b1 .. b{max_batches}`` (replicate r -> site
    ``1 + (r - 1) mod max_batches``); at most ``max_batches`` replicates stay as they are."""
    replicate = batches.str.removeprefix("b").astype(int)
    return "b" + ((replicate - 1) % max_batches + 1).astype(str)


def simulate_child(samples: int, genes: int, folder: Path, seed: int) -> dict:
    """Simulate and write the data (run inside the child process); batches folded onto
    :data:`MAX_BATCHES` sites (:func:`site_batches`)."""
    from msc_secretome.catalogue import read_catalogue
    from msc_secretome.simulate import simulate_bulk_experiment

    start = time.perf_counter()
    n_replicates = 3 if samples == 12 else samples // 12
    experiment = simulate_bulk_experiment(
        read_catalogue(), n_genes=genes, n_replicates=n_replicates, seed=seed
    )
    sheet, counts = experiment.samples, experiment.counts
    if samples == 12:
        sheet = sheet[sheet["therapy"] == "none"].reset_index(drop=True)
        counts = counts.loc[:, sheet["sample"]]
    assert len(sheet) == samples and counts.shape == (genes, samples)
    sheet = sheet.assign(batch=site_batches(sheet["batch"]))
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "counts.tsv.gz", "wt", compresslevel=1, newline="\n") as handle:
        for start_row in range(0, len(counts), 5000):  # in blocks: 2000 x 60000 fits in RAM
            block = counts.iloc[start_row : start_row + 5000]
            handle.write(
                block.to_csv(sep="\t", index_label="gene_id", header=start_row == 0,
                             lineterminator="\n")
            )  # fmt: skip
    sheet.to_csv(folder / "samples.tsv", sep="\t", index=False, lineterminator="\n")
    return {
        "simulate_s": time.perf_counter() - start,
        "n_replicates": n_replicates,
        "n_batches": int(sheet["batch"].nunique()),
    }


def simulate_size(samples: int, genes: int, folder: Path, seed: int) -> dict:
    """Data of one size in ``folder`` (reused if already there); returns its paths."""
    counts = folder / "counts.tsv.gz"
    info_path = folder / "simulate.json"
    if not info_path.is_file():
        child = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "run_benchmark.py"), "--simulate",
             f"{samples}x{genes}", "--simulate-into", str(folder), "--seed", str(seed)],
            capture_output=True, text=True, check=False, env=job_env(),
        )  # fmt: skip
        if child.returncode != 0:
            raise RuntimeError(f"simulation failed:\n{child.stderr[-3000:]}")
        info_path.write_text(child.stdout.strip().splitlines()[-1])
    contrasts = ROOT / "config" / "contrasts.yaml"
    if samples == 12:
        contrasts = folder / "lab_contrasts.yaml"
        contrasts.write_text(yaml.safe_dump(LAB_CONTRASTS, sort_keys=False))
    return json.loads(info_path.read_text()) | {
        "counts": counts,
        "samples": folder / "samples.tsv",
        "contrasts": contrasts,
    }


def workflow_overrides(data: dict, path: Path, permutations: int, extra: dict | None = None):
    """The config file pointing the workflow at simulated data."""
    override = {
        "counts": str(data["counts"]),
        "samples": str(data["samples"]),
        "contrasts": str(data["contrasts"]),
        "enrichment": {"permutations": permutations},
        # the example's medium proteomics belongs to the bundled example only
        "secretome": {"source": "builtin"},
    } | (extra or {})
    path.write_text(yaml.safe_dump(override, sort_keys=True))
    return path


def clean(workdir: Path, keep: tuple[str, ...] = ("config", "profiles", "resources")) -> None:
    """Remove everything a run wrote (results, logs, .snakemake) except ``keep``."""
    if not workdir.exists():
        return
    for child in workdir.iterdir():
        if child.name not in keep:
            shutil.rmtree(child) if child.is_dir() else child.unlink()


def snakemake_command(workdir: Path, cores: int, *extra: str, root: Path = ROOT) -> list[str]:
    return [
        sys.executable, "-m", "snakemake",
        "--snakefile", str(root / "Snakefile"),
        "--directory", str(workdir),
        "--workflow-profile", str(root / "profiles" / "default"),
        "--cores", str(cores),
        *extra,
    ]  # fmt: skip


def run_workflow(workdir: Path, override: Path, cores: int, nice: int) -> tuple[dict, list]:
    """One end-to-end run from a clean ``workdir``; the run's measurement and its jobs."""
    clean(workdir)
    shutil.copytree(ROOT / "config", workdir / "config", dirs_exist_ok=True)
    command = snakemake_command(workdir, cores, "--configfile", str(override))
    run = run_measured(command, cwd=workdir, log=workdir / "snakemake.out", env=job_env(),
                       nice=nice)  # fmt: skip
    return run, collect_jobs(workdir, run.pop("jobs"))


def run_example(workdir: Path, cores: int, nice: int, root: Path = ROOT) -> tuple[dict, list]:
    """The bundled example from a clean ``results/`` (``resources/example`` kept: the first
    call simulates it, untimed), with the config and default profile of the checkout at
    ``root``."""
    env = job_env(root)
    if not (workdir / "resources" / "example" / "counts.tsv.gz").is_file():
        workdir.mkdir(parents=True, exist_ok=True)
        shutil.copytree(root / "config", workdir / "config", dirs_exist_ok=True)
        command = snakemake_command(workdir, cores, "resources/example/counts.tsv.gz", root=root)
        run_measured(command, cwd=workdir, log=workdir / "simulate.out", env=env)
    clean(workdir)
    command = snakemake_command(workdir, cores, root=root)
    run = run_measured(command, cwd=workdir, log=workdir / "snakemake.out", env=env,
                       nice=nice)  # fmt: skip
    return run, collect_jobs(workdir, run.pop("jobs"))


#: Where a rule's job log is, when not under logs/<rule>/ (the per-model DE job logs its fit and
#: every contrast's test to logs/fit_model/{model}.log).
LOG_FOLDER_OF_RULE = {
    "differential_expression": "fit_model",
    "gene_set_enrichment": "gene_set_enrichment/models",
}


def collect_jobs(workdir: Path, sampled: dict) -> list[dict]:
    """One row per job: rule, stage, job, s, max_rss_mb, cpu_s (Snakemake's benchmark file),
    compute_s (what a DE job logs as ``compute: ... in X s``), peak_tree_mb (sampled); jobs of
    rules without a ``benchmark:`` directive appear with their sampled lifetime as ``s``."""
    rows = []
    base = workdir / "logs" / "benchmarks"
    for path in sorted(base.rglob("*.tsv")) if base.is_dir() else []:
        relative = path.relative_to(base)
        rule = relative.parts[0] if len(relative.parts) > 1 else path.stem
        job = path.stem if len(relative.parts) > 1 else ""
        record = pd.read_csv(path, sep="\t", na_values=["NA", "-"]).iloc[-1]
        folder = LOG_FOLDER_OF_RULE.get(rule, rule)
        log = workdir / "logs" / folder / f"{job}.log" if job else workdir / "logs" / f"{rule}.log"
        rows.append(
            {
                "rule": rule,
                "stage": stage_of(rule),
                "job": job,
                "s": float(record["s"]),
                "max_rss_mb": float(record["max_rss"]),
                "cpu_s": float(record["cpu_time"]),
                "compute_s": logged_compute_seconds(log),
            }
        )
    by_rule: dict[str, list] = {}
    for job in sampled.values():
        by_rule.setdefault(job["rule"], []).append(job)
    benchmarked = {row["rule"] for row in rows}
    for rule, jobs in by_rule.items():
        peak = max(j["peak"] for j in jobs) / MB
        for row in rows:
            if row["rule"] == rule:
                row["peak_tree_mb"] = peak  # the rule's largest sampled job
        if rule not in benchmarked:
            for index, job in enumerate(jobs):
                rows.append(
                    {"rule": rule, "stage": stage_of(rule), "job": f"#{index}",
                     "s": job.get("last", job["first"]) - job["first"],
                     "peak_tree_mb": job["peak"] / MB}
                )  # fmt: skip
    return rows


def logged_compute_seconds(log: Path) -> float:
    """Seconds of computation a DE job logs (sum of ``compute: ... in X s``), else NaN."""
    if not log.is_file():
        return float("nan")
    found = COMPUTE_LINE.findall(log.read_text(encoding="utf-8", errors="replace"))
    return sum(float(x) for x in found) if found else float("nan")
