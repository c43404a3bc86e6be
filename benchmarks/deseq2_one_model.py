"""DESeq2 (and edgeR, limma) in R on one model of a simulated size, beside the workflow's DE job.

``run_benchmark.py`` predicts DESeq2 at the consortium size (2,004 x 60,000) from its
measurements at 36-192 samples; this script measures it instead, on one model (1,002 samples
of the example's design, 13 coefficients, 7 contrasts), since both models of that size are
the same shape and one R run takes many minutes::

    python benchmarks/deseq2_one_model.py --size 2004x60000 --model cancer \\
        --workdir /tmp/bench_cons [--tools deseq2_r,edger_ql,limma_voom]

It simulates the data as ``run_benchmark.py`` does (or reuses ``WORKDIR/data/SIZE``), runs
``tests/r/deseq2_peer.R`` (``DESeq()`` then ``results()`` per contrast, single-threaded, as
DESeq2's default) once, and writes ``benchmarks/results/deseq2_one_model.tsv``: R's wall time,
CPU, peak memory and the seconds DESeq2 itself reports per step. ``--tools`` adds edgeR's
quasi-likelihood pipeline and limma-voom (``tests/r/edger_limma_timing.R``, as
``run_benchmark.py --parts de`` runs them), each once, one after the other. And, when
``benchmarks/results/jobs.tsv`` holds a workflow run of that size, the workflow's DE job of the
same model (wall, CPU and the fit + tests seconds it logs), with the ratio. ``--job
LABEL=BENCHMARK_TSV`` adds another run of that DE job (e.g. with ``de.test: wald``, DESeq2's
own test) from its Snakemake benchmark file (``logs/benchmarks/differential_expression/``)
and its compute seconds from the ``compute:`` lines of its ``logs/fit_model/`` log, next to
it; ``--jobs-only`` rebuilds the table from the R runs already measured. Rows
``ratio_{tool}_over_{job}`` give the R tool's time over the job's (wall and compute) where
both were measured on the same machine (column ``cpu``).
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
from speedbench.measure import cpu_model, run_measured  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="2004x60000")
    parser.add_argument("--model", default="cancer")
    parser.add_argument("--seed", type=int, default=20151)
    parser.add_argument("--nice", type=int, default=0)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--job", action="append", default=[], metavar="LABEL=BENCHMARK_TSV")
    parser.add_argument("--jobs-only", action="store_true", help="reuse the measured R runs")
    parser.add_argument(
        "--tools", default="deseq2_r", help="comma-separated: " + ",".join(peers.R_TOOLS)
    )
    args = parser.parse_args(argv)
    out_path = args.out / "deseq2_one_model.tsv"
    tools = [tool for tool in args.tools.split(",") if tool]
    unknown = sorted(set(tools) - set(peers.R_TOOLS))
    if unknown:
        parser.error(f"--tools: unknown {unknown}; choose from {','.join(peers.R_TOOLS)}")
    rows = []
    if not args.jobs_only:
        for tool in tools:
            rows += measure_r_tool(tool, args, parser)
    rows += workflow_de_job(args.out / "jobs.tsv", args.size, args.model)
    for job in args.job:
        label, _, path = job.partition("=")
        rows += benchmarked_job(label, Path(path))
    # the machine: R runs are measured here, job files are read here from runs made here
    rows = [{"cpu": cpu_model()} | row for row in rows]
    table = merged_with_previous(pd.DataFrame(rows, columns=ROW_COLUMNS), out_path, args)
    table = pd.concat([table, pd.DataFrame(ratio_rows(table))], ignore_index=True)
    table.insert(0, "model", args.model)
    table.insert(0, "size", args.size)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_path, sep="\t", index=False, float_format="%.4g")
    print(table.to_string(index=False))
    return 0


ROW_COLUMNS = ["what", "metric", "value", "load_before", "load_after", "cpu"]


def merged_with_previous(table: pd.DataFrame, out_path: Path, args) -> pd.DataFrame:
    """``table`` plus the rows of an earlier run of this size and model in ``out_path`` that
    it does not measure again (another R tool, another job label); ratios are recomputed."""
    if not out_path.is_file():
        return table
    previous = pd.read_csv(out_path, sep="\t", dtype={"size": str})
    previous = previous[(previous["size"] == args.size) & (previous["model"] == args.model)]
    if "cpu" not in previous:  # written before the machine was recorded
        previous = previous.assign(cpu=float("nan"))
    keep = ~previous["what"].str.startswith("ratio_") & ~previous["what"].isin(table["what"])
    return pd.concat([previous.loc[keep, ROW_COLUMNS], table], ignore_index=True)


def ratio_rows(table: pd.DataFrame) -> list[dict]:
    """``ratio_{tool}_over_{job}`` rows: each R tool's wall and compute seconds over each
    other row's (the workflow's DE jobs), where both have the metric and were measured on the
    same machine (``cpu``; times of different machines are not compared)."""
    values = table.set_index(["what", "metric"])["value"]
    machine = table.drop_duplicates("what").set_index("what")["cpu"].fillna("unknown")
    tools = [w for w in table["what"].unique() if w in peers.R_TOOLS]
    jobs = [w for w in table["what"].unique() if w not in peers.R_TOOLS]
    return [
        {"what": f"ratio_{tool}_over_{job}", "metric": metric,
         "value": values[(tool, metric)] / values[(job, metric)], "cpu": machine[tool]}
        for tool in tools for job in jobs for metric in ("wall_s", "compute_s")
        if (tool, metric) in values.index and (job, metric) in values.index
        and machine[tool] == machine[job]
    ]  # fmt: skip


def measure_r_tool(tool: str, args, parser) -> list[dict]:
    """One run of ``tool`` in R on the model: its rows, with the load before/after it."""
    rscript = peers.r_tools_available().get(tool)
    if rscript is None:
        package = peers.PACKAGES[tool]
        parser.error(f"Rscript with {package} not found (Debian: apt-get install "
                     f"r-bioc-{package.lower()})")  # fmt: skip
    samples, genes = (int(x) for x in args.size.split("x"))
    data = workloads.simulate_size(samples, genes, args.workdir / "data" / args.size, args.seed)
    folder = args.workdir / "deseq2_one_model" / args.size
    models = peers.prepare_inputs(data["counts"], data["samples"], data["contrasts"], folder)
    (model,) = [m for m in models if m["name"] == args.model]
    out, timing = folder / f"{tool}_{args.model}.tsv", folder / f"{tool}_{args.model}_t.tsv"
    command = peers.r_command(tool, rscript, model, run_config_de(), out, timing)
    print(f"{tool} on model {args.model} of {args.size}: {' '.join(command[:2])}", flush=True)
    result = run_measured(command, cwd=folder, log=folder / f"{tool}.log", nice=args.nice)
    steps = pd.read_csv(timing, sep="\t").set_index("step")["seconds"]
    rows = [
        {"what": tool, "metric": "wall_s", "value": result["wall_s"]},
        {"what": tool, "metric": "cpu_s", "value": result["cpu_s"]},
        {"what": tool, "metric": "peak_rss_mb", "value": result["peak_tree_rss_mb"]},
        {"what": tool, "metric": "compute_s",
         "value": float(steps.drop("read", errors="ignore").sum())},
    ] + [
        {"what": tool, "metric": f"step_{step}_s", "value": float(seconds)}
        for step, seconds in steps.items()
    ]  # fmt: skip
    return [row | {"load_before": result["load_before"], "load_after": result["load_after"]}
            for row in rows]  # fmt: skip


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
