"""Time and memory of the whole workflow at lab and consortium scale, against DESeq2 in R.

For each size (``SAMPLESxGENES``) the seeded example experiment is simulated
(:func:`msc_secretome.simulate.simulate_bulk_experiment`), written into a fresh working
directory and run end to end with the project's Snakefile::

    python -m snakemake --snakefile <repo>/Snakefile --directory <workdir> --cores 2 \\
        --configfile <workdir>/config/benchmark.yaml

(counts and sample sheet point at the simulated files; ``enrichment.permutations`` 1000).

Measured per size:

* end to end: wall time of the snakemake command; peak RSS of its whole process tree (the sum
  over all live processes, sampled every 0.2 s with psutil, an upper bound since shared pages
  count once per process) and the largest single process (``ru_maxrss`` from ``wait4``);
* per stage (rule): the jobs' Snakemake benchmark files (``logs/benchmarks/**.tsv``: ``s``,
  ``max_rss``, ``cpu_time``) summed or maxed over the rule's jobs, plus the peak RSS of each
  job's process tree from the same 0.2 s sampler (Snakemake samples every 30 s after a job's
  first 15 s, so it can miss the peak of long jobs) -- this also covers the rules without a
  ``benchmark:`` directive (prepare_gene_sets, summarise_contrasts, call_programmes);
* ``pydeseq2``: the DE stage, fit_model + contrast_results jobs' summed wall time (each job
  includes its Python start-up and imports); ``pydeseq2_critical``: the longest model's fit
  plus its longest contrast (the DE time with enough cores);
* ``deseq2_r`` (where ``Rscript`` and DESeq2 are installed): the same models in R on the same
  counts, ``DESeq()`` per model plus ``results()`` for every contrast vector (vectors built in
  Python by :func:`msc_secretome.design.contrast_vector`, as the workflow builds them), one R
  process per model, run one after the other with one core (DESeq2's default) by
  ``tests/r/deseq2_peer.R``; ``deseq2_r_process`` adds R start-up and reading the counts.
  ``deseq2_r_critical`` is the slower model alone (the two R processes side by side).
* ratios (summary.tsv), PyDESeq2 side over R side:
  ``ratio_vs_r_process``: all-in over all-in (our DE jobs' wall time, each with its start-up,
  imports and I/O, over R's processes with theirs) -- the time a user waits for the same work
  on one core; ``ratio_compute``: computation over computation (the seconds the DE jobs log as
  ``compute: ... in X s`` over R's ``DESeq()`` + ``results()``); ``ratio_sum``: our all-in
  over R's computation only (the strictest); ``ratio_critical``: the DE stage's critical path
  with enough cores (one model's fit and its slowest contrast) over R's slower model.

Designs: ``SAMPLES`` must be a multiple of 12 (cancer/normal x control/MSC-CM x
none/chemo/radiation); ``n_replicates = SAMPLES / 12`` (replicate r in batch b{r}) with the
project's two models (``~ batch + medium * therapy`` per cell type) and 14 contrasts. 12
samples (one replicate per cell) leave no residual degrees of freedom for that design, so the
lab-scale size 12 is the common small experiment instead: cancer/normal x control/MSC-CM x 3
replicates without therapy, models ``~ batch + medium`` per cell type, 2 contrasts.

Outputs (``--out``, default ``benchmarks/results``; rows of re-run sizes are replaced, others
kept):

* ``benchmark.tsv``: one row per size x stage (wall_s, job_max_s, max_rss_mb, cpu_s, ...);
* ``summary.tsv``: one row per size: end-to-end wall and peak memory, PyDESeq2 vs R times and
  their ratios, agreement of the Wald statistics (lowest Pearson r over contrasts);
* ``jobs.tsv``: every benchmarked job;
* ``benchmark.png``: wall time and peak memory per stage per size.

Usage (from the repository root; about 5 min for the first three sizes on 2 cores, about an
hour for all, most of it DESeq2 in R at 384 samples)::

    python benchmarks/run_benchmark.py --sizes 12x20000,36x20000,96x20000
    python benchmarks/run_benchmark.py            # all: 12,36,96,384 x 20000,60000
    python benchmarks/run_benchmark.py --plot-only  # redraw benchmark.png from benchmark.tsv

Options: ``--cores 2``, ``--permutations 1000``, ``--no-r``, ``--workdir DIR --keep`` (keep the
work folders, e.g. to profile one job), ``--seed``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"
sys.path.insert(0, str(SCRIPTS))

DEFAULT_SIZES = [f"{n}x{g}" for g in (20000, 60000) for n in (12, 36, 96, 384)]
DEFAULT_OUT = ROOT / "benchmarks" / "results"
R_PEER = ROOT / "tests" / "r" / "deseq2_peer.R"
DE_RULES = ("fit_model", "contrast_results")
#: Rule scripts in order of the workflow; a job process is recognised by its script's name.
RULE_SCRIPTS = (
    "validate_inputs",
    "quality_control",
    "prepare_gene_sets",
    "fit_model",
    "contrast_results",
    "summarise_contrasts",
    "gene_set_enrichment",
    "programme_sample_scores",
    "call_programmes",
    "html_report",
)
#: The lab-scale design at 12 samples (see the module docstring).
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
PLOT_STAGES = (
    "validate_inputs",
    "quality_control",
    "fit_model",
    "contrast_results",
    "pydeseq2",
    "deseq2_r",
    "gene_set_enrichment",
    "programme_sample_scores",
    "html_report",
    "workflow",
)


def parse_size(text: str) -> tuple[int, int]:
    try:
        samples, genes = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} is not SAMPLESxGENES") from None
    if samples % 12 or samples < 12:
        raise argparse.ArgumentTypeError(f"size {text!r}: samples must be a multiple of 12")
    return samples, genes


def layout(samples: int) -> str:
    return "lab_2x2" if samples == 12 else "full_2x2x3"


def mb(n_bytes: float) -> float:
    return n_bytes / 2**20


# ------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------


def simulate(samples: int, genes: int, outdir: Path, seed: int) -> dict:
    """Simulate and write counts.tsv.gz + samples.tsv (runs in a child process)."""
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
    outdir.mkdir(parents=True, exist_ok=True)
    text = counts.to_csv(sep="\t", index_label="gene_id", lineterminator="\n")
    (outdir / "counts.tsv.gz").write_bytes(gzip.compress(text.encode(), compresslevel=6, mtime=0))
    sheet.to_csv(outdir / "samples.tsv", sep="\t", index=False, lineterminator="\n")
    return {"simulate_s": time.perf_counter() - start, "n_replicates": n_replicates}


def prepare_workdir(workdir: Path, samples: int, genes: int, args) -> Path:
    """Simulated data under workdir/data, config/ copied, the override config written."""
    if workdir.exists():
        shutil.rmtree(workdir)
    data = workdir / "data"
    child = subprocess.run(
        [sys.executable, __file__, "--simulate", f"{samples}x{genes}", "--workdir", str(data)]
        + ["--seed", str(args.seed)],
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        raise RuntimeError(f"simulation failed:\n{child.stderr[-3000:]}")
    info = json.loads(child.stdout.strip().splitlines()[-1])
    shutil.copytree(ROOT / "config", workdir / "config")
    contrasts = workdir / "config" / "contrasts.yaml"
    if samples == 12:
        contrasts = workdir / "config" / "benchmark_contrasts.yaml"
        contrasts.write_text(yaml.safe_dump(LAB_CONTRASTS, sort_keys=False))
    override = {
        "counts": str(data / "counts.tsv.gz"),
        "samples": str(data / "samples.tsv"),
        "contrasts": str(contrasts),
        "enrichment": {"permutations": args.permutations},
    }
    path = workdir / "config" / "benchmark.yaml"
    path.write_text(yaml.safe_dump(override, sort_keys=True))
    (workdir / "simulate.json").write_text(json.dumps(info))
    return path


# ------------------------------------------------------------------------------------------
# Running the workflow, with a process-tree memory sampler
# ------------------------------------------------------------------------------------------


def _script_of(cmdline: list[str]) -> str | None:
    """The rule of a job process (``python .snakemake/scripts/tmpXXXX.fit_model.py``)."""
    if not cmdline or not Path(cmdline[0]).name.startswith("python"):
        return None  # not the job's shell wrapper (bash -c "python ...") nor a loky worker
    for part in cmdline[1:3]:
        name = Path(part).name
        if part.endswith(".py") and ".snakemake" in part:
            for rule in RULE_SCRIPTS:
                if name.endswith(f".{rule}.py"):
                    return rule
    return None


class TreeSampler(threading.Thread):
    """Samples the RSS of a process tree every ``interval`` s; per-job peaks by rule script."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        import psutil

        self.psutil = psutil
        self.root = psutil.Process(pid)
        self.interval = interval
        self.done = threading.Event()
        self.peak_total = 0
        self.loads: list[float] = []  # 1-min load average (includes this run's own jobs)
        self.jobs: dict[int, dict] = {}  # pid -> rule, first, last, peak (tree of the job)

    def run(self) -> None:
        psutil = self.psutil
        while not self.done.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            rss, parent, now = {}, {}, time.time()
            for proc in procs:
                try:
                    rss[proc.pid] = proc.memory_info().rss
                    parent[proc.pid] = proc.ppid()
                    if proc.pid not in self.jobs:
                        rule = _script_of(proc.cmdline())
                        if rule is not None:
                            self.jobs[proc.pid] = {"rule": rule, "first": now, "peak": 0}
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
            self.peak_total = max(self.peak_total, sum(rss.values()))
            self.loads.append(os.getloadavg()[0])
            tree = dict.fromkeys(self.jobs, 0)
            for pid, value in rss.items():  # add each process to its nearest job ancestor
                node = pid
                while node in parent and node not in tree:
                    node = parent[node]
                if node in tree:
                    tree[node] += value
            for pid, value in tree.items():
                if pid in rss:
                    job = self.jobs[pid]
                    job["last"], job["peak"] = now, max(job["peak"], value)
            self.done.wait(self.interval)


def run_workflow(workdir: Path, override: Path, cores: int) -> dict:
    command = [
        sys.executable, "-m", "snakemake",
        "--snakefile", str(ROOT / "Snakefile"),
        "--directory", str(workdir),
        "--cores", str(cores),
        "--configfile", str(override),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    log = (workdir / "snakemake.out").open("w")
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    sampler = TreeSampler(process.pid)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    sampler.done.set()
    sampler.join()
    log.close()
    if process.returncode != 0:
        tail = (workdir / "snakemake.out").read_text()[-5000:]
        raise RuntimeError(f"snakemake failed ({process.returncode}) in {workdir}:\n{tail}")
    return {
        "wall_s": wall,
        "peak_tree_rss_mb": mb(sampler.peak_total),
        "peak_process_rss_mb": usage.ru_maxrss / 1024,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "jobs": sampler.jobs,
        "load_mean": sum(sampler.loads) / max(len(sampler.loads), 1),
    }


def collect_jobs(workdir: Path) -> pd.DataFrame:
    """Every Snakemake benchmark file of the run: rule, job, s, max_rss_mb, cpu_s, end time."""
    rows = []
    base = workdir / "logs" / "benchmarks"
    for path in sorted(base.rglob("*.tsv")):
        relative = path.relative_to(base)
        rule = relative.parts[0] if len(relative.parts) > 1 else path.stem
        job = path.stem if len(relative.parts) > 1 else ""
        table = pd.read_csv(path, sep="\t", na_values=["NA", "-"])
        record = table.iloc[-1]
        rows.append(
            {
                "rule": rule,
                "job": job,
                "s": float(record["s"]),
                "max_rss_mb": float(record["max_rss"]),
                "cpu_s": float(record["cpu_time"]),
                "compute_s": logged_compute_seconds(workdir / "logs" / rule / f"{job}.log"),
                "end": path.stat().st_mtime,
            }
        )
    return pd.DataFrame(rows)


COMPUTE_LINE = re.compile(r"compute: .* in ([0-9.]+) s")


def logged_compute_seconds(log: Path) -> float:
    """Seconds of computation a DE job logs (``compute: ... in X s``), without its start-up,
    imports and I/O; NaN for jobs that log none."""
    if not log.is_file():
        return float("nan")
    found = COMPUTE_LINE.findall(log.read_text(encoding="utf-8", errors="replace"))
    return sum(float(x) for x in found) if found else float("nan")


# ------------------------------------------------------------------------------------------
# DESeq2 in R on the same counts and models
# ------------------------------------------------------------------------------------------


def r_available() -> str | None:
    rscript = shutil.which("Rscript")
    if rscript is None or not R_PEER.is_file():
        return None
    probe = subprocess.run(
        [rscript, "-e", "suppressPackageStartupMessages(library(DESeq2))"],
        capture_output=True,
        check=False,
    )
    return rscript if probe.returncode == 0 else None


def run_deseq2_r(rscript: str, workdir: Path, override: Path) -> tuple[dict, dict]:
    """One R process per model (DESeq + results for every contrast); times, RSS, tables."""
    from msc_secretome.design import check_design, contrast_vector, model_samples
    from msc_secretome.settings import parse_contrasts, parse_models, read_yaml

    settings = read_yaml(override)
    de = read_yaml(ROOT / "config" / "config.yaml")["de"]
    spec = read_yaml(settings["contrasts"])
    models, contrasts = parse_models(spec), parse_contrasts(spec, parse_models(spec))
    samples = pd.read_csv(settings["samples"], sep="\t", dtype=str)
    rdir = workdir / "deseq2_r"
    rdir.mkdir(exist_ok=True)
    per_model, tables = {}, {}
    for model in models.values():
        metadata = model_samples(samples, model).loc[:, model.variables]
        helper = check_design(metadata, model)
        vectors = {
            c.name: contrast_vector(helper, c, model, metadata)
            for c in contrasts.values()
            if c.model == model.name
        }
        sheet = rdir / f"{model.name}_samples.tsv"
        samples.set_index("sample").loc[metadata.index].to_csv(sheet, sep="\t")
        vector_path = rdir / f"{model.name}_contrasts.tsv"
        pd.DataFrame(vectors).rename_axis("coefficient").to_csv(vector_path, sep="\t")
        out, timing = rdir / f"{model.name}_results.tsv", rdir / f"{model.name}_timing.tsv"
        reference = ",".join(f"{v}={metadata[v].cat.categories[0]}" for v in model.variables)
        command = [
            rscript, str(R_PEER),
            f"counts={settings['counts']}", f"samples={sheet}", f"design={model.design}",
            f"reference={reference}", f"contrasts={vector_path}", f"out={out}",
            f"timing={timing}", f"alpha={de['alpha']}",
            f"min_count={de['prefilter']['min_count']}",
            f"min_samples={de['prefilter']['min_samples']}",
            f"independent_filter={de['independent_filter']}",
            f"cooks_filter={de['cooks_filter']}", f"refit_cooks={de['refit_cooks']}",
        ]  # fmt: skip
        start = time.perf_counter()
        with (rdir / f"{model.name}.log").open("w") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError((rdir / f"{model.name}.log").read_text()[-3000:])
        steps = pd.read_csv(timing, sep="\t").set_index("step")["seconds"]
        per_model[model.name] = {
            "deseq_s": float(steps["DESeq"]),
            "results_s": float(steps["results"]),
            "process_s": wall,
            "rss_mb": usage.ru_maxrss / 1024,
            "cpu_s": usage.ru_utime + usage.ru_stime,
        }
        table = pd.read_csv(out, sep="\t", keep_default_na=False, na_values=["NA"])
        for name, part in table.groupby("contrast"):
            tables[name] = part.set_index("gene_id")["stat"]
    return per_model, tables


def agreement(workdir: Path, r_tables: dict) -> float:
    """Lowest Pearson r of the Wald statistic, workflow vs R, over the contrasts."""
    import numpy as np

    lowest = 1.0
    for name, r_stat in r_tables.items():
        table = pd.read_csv(workdir / "results" / "de" / f"{name}.tsv", sep="\t")
        py_stat = table.set_index("gene_id")["stat"].astype(float)
        both = pd.concat([py_stat, r_stat.astype(float)], axis=1, join="inner").dropna()
        both = both[np.isfinite(both).all(axis=1)]
        lowest = min(lowest, float(np.corrcoef(both.iloc[:, 0], both.iloc[:, 1])[0, 1]))
    return lowest


# ------------------------------------------------------------------------------------------
# One size: run, measure, tabulate
# ------------------------------------------------------------------------------------------


def benchmark_size(samples: int, genes: int, workdir: Path, args, rscript) -> tuple:
    size = f"{samples}x{genes}"
    print(f"[{size}] simulating into {workdir}", file=sys.stderr, flush=True)
    override = prepare_workdir(workdir, samples, genes, args)
    sim = json.loads((workdir / "simulate.json").read_text())
    print(f"[{size}] running the workflow", file=sys.stderr, flush=True)
    load_before = os.getloadavg()[0]
    run = run_workflow(workdir, override, args.cores)
    jobs = collect_jobs(workdir)
    jobs.insert(0, "size", size)
    print(f"[{size}] workflow {run['wall_s']:.0f} s", file=sys.stderr, flush=True)

    common = {"size": size, "samples": samples, "genes": genes, "layout": layout(samples)}
    rows = [{**common, "stage": "simulate", "jobs": 1, "wall_s": sim["simulate_s"]}]
    sampled = pd.DataFrame(run["jobs"].values())
    for rule in RULE_SCRIPTS:
        mine = jobs[jobs["rule"] == rule]
        peaks = sampled[sampled["rule"] == rule] if len(sampled) else sampled
        if mine.empty and peaks.empty:
            continue
        row = {**common, "stage": rule, "jobs": len(mine) or len(peaks)}
        if not mine.empty:
            row.update(
                wall_s=mine["s"].sum(),
                job_max_s=mine["s"].max(),
                max_rss_mb=mine["max_rss_mb"].max(),
                cpu_s=mine["cpu_s"].sum(),
            )
        else:  # no benchmark directive: first to last sighting of the job's process
            row.update(wall_s=(peaks["last"] - peaks["first"]).sum())
            row["job_max_s"] = (peaks["last"] - peaks["first"]).max()
        if not peaks.empty:
            row["peak_rss_sampled_mb"] = mb(peaks["peak"].max())
        rows.append(row)

    de_jobs = jobs[jobs["rule"].isin(DE_RULES)]
    fits = jobs[jobs["rule"] == "fit_model"].set_index("job")
    contrast_model = _contrast_models(override)
    critical = 0.0
    for model, fit in fits.iterrows():
        of_model = jobs["job"].map(contrast_model).eq(model)
        mine = jobs[(jobs["rule"] == "contrast_results") & of_model]
        critical = max(critical, fit["s"] + (mine["s"].max() if len(mine) else 0.0))
    span = de_jobs["end"].max() - (de_jobs["end"] - de_jobs["s"]).min()
    de_peak = rows_peak(rows, DE_RULES)
    rows.append(
        {**common, "stage": "pydeseq2", "jobs": len(de_jobs), "wall_s": de_jobs["s"].sum(),
         "job_max_s": de_jobs["s"].max(), "max_rss_mb": de_jobs["max_rss_mb"].max(),
         "peak_rss_sampled_mb": de_peak, "cpu_s": de_jobs["cpu_s"].sum()}
    )  # fmt: skip
    rows.append({**common, "stage": "pydeseq2_critical", "jobs": 2, "wall_s": critical})
    rows.append({**common, "stage": "pydeseq2_span", "jobs": len(de_jobs), "wall_s": span})
    rows.append(
        {**common, "stage": "workflow", "jobs": len(jobs), "wall_s": run["wall_s"],
         "max_rss_mb": run["peak_process_rss_mb"], "peak_rss_sampled_mb": run["peak_tree_rss_mb"],
         "cpu_s": run["cpu_s"]}
    )  # fmt: skip

    summary = {
        **common,
        "replicates": sim["n_replicates"],
        "workflow_s": run["wall_s"],
        "peak_tree_rss_mb": run["peak_tree_rss_mb"],
        "peak_process_rss_mb": run["peak_process_rss_mb"],
        "pydeseq2_sum_s": de_jobs["s"].sum(),
        "pydeseq2_compute_s": de_jobs["compute_s"].sum(),
        "pydeseq2_critical_s": critical,
        "pydeseq2_peak_rss_mb": de_peak,
        "pydeseq2_cpu_s": de_jobs["cpu_s"].sum(),
        "workflow_cpu_s": run["cpu_s"],
        "load_before": load_before,
        "load_mean": run["load_mean"],
    }
    if rscript:
        print(f"[{size}] DESeq2 in R", file=sys.stderr, flush=True)
        per_model, r_tables = run_deseq2_r(rscript, workdir, override)
        r = pd.DataFrame(per_model).T
        compute = r["deseq_s"] + r["results_s"]
        rows.append(
            {**common, "stage": "deseq2_r", "jobs": len(r), "wall_s": compute.sum(),
             "job_max_s": compute.max(), "max_rss_mb": r["rss_mb"].max(),
             "peak_rss_sampled_mb": r["rss_mb"].max(), "cpu_s": r["cpu_s"].sum()}
        )  # fmt: skip
        rows.append(
            {**common, "stage": "deseq2_r_process", "jobs": len(r),
             "wall_s": r["process_s"].sum(), "job_max_s": r["process_s"].max(),
             "max_rss_mb": r["rss_mb"].max()}
        )  # fmt: skip
        rows.append({**common, "stage": "deseq2_r_critical", "jobs": 1, "wall_s": compute.max()})
        summary.update(
            r_deseq_s=r["deseq_s"].sum(),
            r_results_s=r["results_s"].sum(),
            r_sum_s=compute.sum(),
            r_process_s=r["process_s"].sum(),
            r_critical_s=compute.max(),
            r_peak_rss_mb=r["rss_mb"].max(),
            ratio_sum=summary["pydeseq2_sum_s"] / compute.sum(),
            ratio_compute=summary["pydeseq2_compute_s"] / compute.sum(),
            ratio_critical=critical / compute.max(),
            ratio_vs_r_process=summary["pydeseq2_sum_s"] / r["process_s"].sum(),
            r_cpu_s=r["cpu_s"].sum(),
            ratio_cpu=summary["pydeseq2_cpu_s"] / r["cpu_s"].sum(),
            min_pearson_stat=agreement(workdir, r_tables),
        )
        print(
            f"[{size}] PyDESeq2 {summary['pydeseq2_sum_s']:.0f} s vs R {compute.sum():.0f} s",
            file=sys.stderr,
            flush=True,
        )
    return pd.DataFrame(rows), pd.DataFrame([summary]), jobs.drop(columns="end")


def rows_peak(rows: list[dict], rules) -> float:
    values = [r.get("peak_rss_sampled_mb", float("nan")) for r in rows if r["stage"] in rules]
    return max(values) if values else float("nan")


def _contrast_models(override: Path) -> dict[str, str]:
    from msc_secretome.settings import read_yaml

    spec = read_yaml(read_yaml(override)["contrasts"])
    return {name: item["model"] for name, item in spec["contrasts"].items()}


# ------------------------------------------------------------------------------------------
# Tables and plot
# ------------------------------------------------------------------------------------------


def merge_write(new: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Replace the rows of the sizes in ``new`` in the TSV at ``path``; sorted, rounded."""
    if path.is_file():
        old = pd.read_csv(path, sep="\t")
        new = pd.concat([old[~old["size"].isin(set(new["size"]))], new], ignore_index=True)
    order = {"samples": True, "genes": True}
    keys = [k for k in ("genes", "samples") if k in new.columns]
    if keys:
        new = new.sort_values(keys, ascending=[order[k] for k in keys], kind="stable")
    new.to_csv(path, sep="\t", index=False, float_format="%.4g", lineterminator="\n")
    return new


def plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    table = table[table["stage"].isin(PLOT_STAGES)].copy()
    table["memory_mb"] = table["peak_rss_sampled_mb"].fillna(table["max_rss_mb"])
    sizes = list(dict.fromkeys(table.sort_values(["genes", "samples"])["size"]))
    stages = [s for s in PLOT_STAGES if s in set(table["stage"])]
    fig, axes = plt.subplots(3, 1, figsize=(11, 10), sharex=True)
    width = 0.8 / max(len(sizes), 1)
    x = np.arange(len(stages))
    colours = plt.get_cmap("viridis")(np.linspace(0.05, 0.9, max(len(sizes), 1)))
    for i, size in enumerate(sizes):
        part = table[table["size"] == size].set_index("stage")
        for ax, column in zip(axes, ("wall_s", "cpu_s", "memory_mb"), strict=True):
            values = [part[column].get(s, np.nan) for s in stages]
            ax.bar(x + (i - (len(sizes) - 1) / 2) * width, values, width, label=size,
                   color=colours[i])  # fmt: skip
    axes[0].set_ylabel("wall time (s, summed over jobs)")
    axes[1].set_ylabel("CPU time (s, summed over jobs)")
    axes[2].set_ylabel("peak RSS (MB, largest job)")
    for ax in axes:
        ax.set_yscale("log")
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[2].axhline(8192, color="firebrick", lw=0.8, ls="--")
    axes[2].text(len(stages) - 0.5, 8192, "8 GB", color="firebrick", ha="right", va="bottom")
    axes[2].set_xticks(x, stages, rotation=30, ha="right")
    axes[0].legend(title="samples x genes", ncol=min(len(sizes), 4), fontsize=8)
    axes[0].set_title(
        "msc-secretome workflow, 2 cores: per stage and end to end (workflow: peak of the "
        "whole process tree);\npydeseq2 = fit_model + contrast_results, deseq2_r = DESeq() + "
        "results() in R (1 core); wall times depend on the machine's load (see summary.tsv)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default=",".join(DEFAULT_SIZES),
        help="comma-separated SAMPLESxGENES (default: %(default)s)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder")
    parser.add_argument("--workdir", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20151)
    parser.add_argument("--no-r", action="store_true", help="skip DESeq2 in R")
    parser.add_argument("--plot-only", action="store_true", help="redraw the plot only")
    parser.add_argument("--simulate", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.simulate:  # child process
        samples, genes = parse_size(args.simulate)
        print(json.dumps(simulate(samples, genes, args.workdir, args.seed)))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    if args.plot_only:
        plot(pd.read_csv(args.out / "benchmark.tsv", sep="\t"), args.out / "benchmark.png")
        return 0
    try:
        sizes = [parse_size(s) for s in args.sizes.split(",") if s]
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    rscript = None if args.no_r else r_available()
    if not args.no_r and rscript is None:
        print("Rscript with DESeq2 not found: R comparison skipped", file=sys.stderr)
    base = args.workdir or Path(tempfile.mkdtemp(prefix="msc_benchmark_"))
    started = time.perf_counter()
    try:
        for samples, genes in sizes:
            workdir = base / f"{samples}x{genes}"
            stages, summary, jobs = benchmark_size(samples, genes, workdir, args, rscript)
            # written after every size, so a long run keeps what it measured
            table = merge_write(stages, args.out / "benchmark.tsv")
            merge_write(summary, args.out / "summary.tsv")
            merge_write(jobs, args.out / "jobs.tsv")
            plot(table, args.out / "benchmark.png")
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    summary = pd.read_csv(args.out / "summary.tsv", sep="\t")
    with pd.option_context("display.width", 250, "display.max_columns", 40):
        print(summary.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"total {time.perf_counter() - started:.0f} s; tables in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
