"""DESeq2 in R on one model of a simulated size, measured, beside the workflow's DE job of it.

``run_benchmark.py`` predicts DESeq2 at the consortium size (2,004 x 60,000) from its
measurements at 36-192 samples; this script measures it instead, on one model (1,002 samples
of the example's design, 13 coefficients, 7 contrasts), since both models of that size are
the same shape and one R run takes many minutes::

    python benchmarks/deseq2_one_model.py --size 2004x60000 --model cancer \\
        --workdir /tmp/bench_cons

It simulates the data as ``run_benchmark.py`` does (or reuses ``WORKDIR/data/SIZE``), runs
``tests/r/deseq2_peer.R`` (``DESeq()`` then ``results()`` per contrast, single-threaded, as
DESeq2's default) once, and writes ``benchmarks/results/deseq2_one_model.tsv``: R's wall time,
CPU, peak memory and the seconds DESeq2 itself reports per step; and, when
``benchmarks/results/jobs.tsv`` holds a workflow run of that size, the workflow's DE job of the
same model (wall, CPU and the fit + tests seconds it logs), with the ratio. ``--job
LABEL=BENCHMARK_TSV`` adds another run of that DE job (e.g. with ``de.test: wald``, DESeq2's
own test) from its Snakemake benchmark file (``logs/benchmarks/differential_expression/``)
and its compute seconds from the ``compute:`` lines of its ``logs/fit_model/`` log, next to
it; ``--jobs-only`` rebuilds the table from the R run already measured.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from speedbench import peers, workloads  # noqa: E402
from speedbench.measure import run_measured  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="2004x60000")
    parser.add_argument("--model", default="cancer")
    parser.add_argument("--seed", type=int, default=20151)
    parser.add_argument("--nice", type=int, default=0)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--job", action="append", default=[], metavar="LABEL=BENCHMARK_TSV")
    parser.add_argument("--jobs-only", action="store_true", help="reuse the measured R run")
    args = parser.parse_args(argv)
    out_path = args.out / "deseq2_one_model.tsv"
    if args.jobs_only:
        previous = pd.read_csv(out_path, sep="\t")
        rows = previous[previous["what"] == "deseq2_r"].loc[:, ["what", "metric", "value"]]
        rows = rows.to_dict("records")
        load = previous.iloc[0][["load_before", "load_after"]].tolist()
    else:
        rows, load = measure_deseq2(args, parser)
    rows += workflow_de_job(args.out / "jobs.tsv", args.size, args.model)
    for job in args.job:
        label, _, path = job.partition("=")
        rows += benchmarked_job(label, Path(path))
    table = pd.DataFrame(rows)
    ours = table.set_index(["what", "metric"])["value"]
    for what in table["what"].unique():
        for metric in ("wall_s", "compute_s"):
            if what != "deseq2_r" and (what, metric) in ours.index:
                ratio = ours[("deseq2_r", metric)] / ours[(what, metric)]
                table.loc[len(table)] = {"what": f"ratio_over_{what}", "metric": metric,
                                         "value": ratio}  # fmt: skip
    table.insert(0, "model", args.model)
    table.insert(0, "size", args.size)
    table["load_before"], table["load_after"] = load
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_path, sep="\t", index=False, float_format="%.4g")
    print(table.to_string(index=False))
    return 0


def measure_deseq2(args, parser) -> tuple[list[dict], list[float]]:
    """One run of DESeq2 in R on the model: its rows and the load before/after."""
    rscript = peers.r_tools_available().get("deseq2_r")
    if rscript is None:
        parser.error("Rscript with DESeq2 not found (Debian: apt-get install r-bioc-deseq2)")
    samples, genes = (int(x) for x in args.size.split("x"))
    data = workloads.simulate_size(samples, genes, args.workdir / "data" / args.size, args.seed)
    folder = args.workdir / "deseq2_one_model" / args.size
    models = peers.prepare_inputs(data["counts"], data["samples"], data["contrasts"], folder)
    (model,) = [m for m in models if m["name"] == args.model]
    out, timing = folder / f"deseq2_r_{args.model}.tsv", folder / f"deseq2_r_{args.model}_t.tsv"
    command = peers.r_command("deseq2_r", rscript, model, run_config_de(), out, timing)
    print(f"DESeq2 on model {args.model} of {args.size}: {' '.join(command[:2])}", flush=True)
    result = run_measured(command, cwd=folder, log=folder / "deseq2_r.log", nice=args.nice)
    steps = pd.read_csv(timing, sep="\t").set_index("step")["seconds"]
    rows = [
        {"what": "deseq2_r", "metric": "wall_s", "value": result["wall_s"]},
        {"what": "deseq2_r", "metric": "cpu_s", "value": result["cpu_s"]},
        {"what": "deseq2_r", "metric": "peak_rss_mb", "value": result["peak_tree_rss_mb"]},
        {"what": "deseq2_r", "metric": "compute_s",
         "value": float(steps.drop("read", errors="ignore").sum())},
    ] + [
        {"what": "deseq2_r", "metric": f"step_{step}_s", "value": float(seconds)}
        for step, seconds in steps.items()
    ]  # fmt: skip
    return rows, [result["load_before"], result["load_after"]]


def benchmarked_job(label: str, benchmark: Path) -> list[dict]:
    """Wall, CPU and peak memory of a Snakemake job from its benchmark file, and its compute
    seconds (the ``compute: ... in X s`` lines of the DE job's fit log, found beside it,
    from its last fit on: a log kept across runs holds each run's lines)."""
    import re

    bench = pd.read_csv(benchmark, sep="\t").iloc[-1]
    rows = [
        {"what": label, "metric": "wall_s", "value": float(bench["s"])},
        {"what": label, "metric": "cpu_s", "value": float(bench["cpu_time"])},
        {"what": label, "metric": "peak_rss_mb", "value": float(bench["max_rss"])},
    ]
    logs = benchmark.parents[2]  # logs/benchmarks/differential_expression/<model>.tsv
    fit_log = logs / "fit_model" / f"{benchmark.stem}.log"
    if fit_log.is_file():
        text = fit_log.read_text()
        text = text[text.rfind("compute: fit in") :]
        seconds = re.findall(r"compute: .* in ([0-9.]+) s", text)
        rows.append({"what": label, "metric": "compute_s", "value": sum(map(float, seconds))})
    return rows


def run_config_de() -> dict:
    """The ``de`` settings of the repository's config (as ``run_benchmark.py`` uses)."""
    from msc_secretome.settings import read_yaml

    return read_yaml(ROOT / "config" / "config.yaml")["de"]


def workflow_de_job(jobs_path: Path, size: str, model: str) -> list[dict]:
    """The workflow's DE job of ``model`` at ``size`` from ``jobs.tsv`` (none if not run)."""
    if not jobs_path.is_file():
        return []
    jobs = pd.read_csv(jobs_path, sep="\t", dtype={"size": str})
    job = jobs[
        (jobs["part"] == "workflow")
        & (jobs["size"] == size)
        & (jobs["rule"] == "differential_expression")
        & (jobs["job"] == model)
    ]
    if job.empty:
        return []
    first = job.iloc[0]
    return [
        {"what": "workflow_de_job", "metric": "wall_s", "value": float(first["s"])},
        {"what": "workflow_de_job", "metric": "cpu_s", "value": float(first["cpu_s"])},
        {"what": "workflow_de_job", "metric": "compute_s", "value": float(first["compute_s"])},
        {"what": "workflow_de_job", "metric": "peak_rss_mb", "value": float(first["max_rss_mb"])},
    ]  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
