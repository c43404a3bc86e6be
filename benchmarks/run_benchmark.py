"""Speed and memory of the workflow, side by side with DESeq2, edgeR QL and limma-voom in R.

One command reproduces every number of the README's "Speed and memory" section (issue #19)::

    nice python benchmarks/run_benchmark.py                      # all parts, 3 repeats
    python benchmarks/run_benchmark.py --parts de --de-sizes 36x20000 --repeats 3
    python benchmarks/run_benchmark.py --tables-only             # tables + plot from measurements

Parts (``--parts``, default all; each measurement is a fresh process, so start-up counts):

* ``example``: the bundled example, ``snakemake --cores 2`` with the repository's config and
  profile, from a clean ``results/`` (its simulated data made once before, untimed);
* ``de``: the same counts, models and contrasts (simulated SAMPLESxGENES, the example's
  design: two models ``~ batch + medium * therapy``, 14 contrasts) through the project's DE in
  one process (``python_wald``: the Wald test, as DESeq2; ``python_qlf``: the QL F-test, as
  edgeR) and, where ``Rscript`` has the packages, DESeq2 (``deseq2_r``), edgeR QL
  (``edger_ql``) and limma-voom (``limma_voom``), one R process per model;
* ``workflow``: the whole workflow on simulated sizes (``--workflow-sizes``) from a clean
  folder, per stage (jobs mapped to stages by their ``logs/benchmarks/<rule>/`` folder,
  :data:`speedbench.stats.STAGE_OF_RULE`) and end to end, with the peak memory of the whole
  process tree; ``--consortium-size`` (default 2004x60000: 2,000 samples in whole
  replicates of the 12-cell design) runs once after it;
* ``consortium_r``: DESeq2, edgeR QL and limma-voom in R on one model of the consortium size,
  each once, beside the workflow's DE job of it from the ``workflow`` part
  (``benchmarks/deseq2_one_model.py``, ``deseq2_one_model.tsv``; ``--consortium-r-args``
  replaces its default options; skipped with ``--no-r``);
* ``enrichment``, ``single_cell``: ``benchmarks/enrichment_speed.py`` and
  ``benchmarks/single_cell_scale.py`` (owned by their stages) are run with
  ``--enrichment-args`` / ``--single-cell-args`` when they exist, else skipped with a message.

Repeats are interleaved (A B C A B C ...: every tool and size once per round, ``--repeats``
rounds) and the 1-min load average is recorded before and after every measurement. Cost
exponents (time ~ samples^a at fixed genes, ~ genes^b at fixed samples; log-log least
squares over the measured sizes, fit range in the table) predict the sizes not measured, e.g.
DESeq2 in R at 2,000 x 60,000 (``predictions.tsv``: ``kind`` measured | predicted;
``benchmarks/deseq2_one_model.py`` measures it on one model instead). Tables
and the plot: see :mod:`speedbench.report`; ``--out`` (default ``benchmarks/results``); rows
of re-measured part/size/tool replace the old ones.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from speedbench import peers, report, workloads  # noqa: E402
from speedbench.measure import cpu_model, run_measured  # noqa: E402
from speedbench.stats import interleave, parse_size  # noqa: E402

CPU = cpu_model()
PARTS = ("example", "de", "workflow", "consortium_r", "enrichment", "single_cell")
DE_TOOLS = ("python_wald", "python_qlf", *peers.R_TOOLS)
EXTERNAL = {
    "consortium_r": ROOT / "benchmarks" / "deseq2_one_model.py",
    "enrichment": ROOT / "benchmarks" / "enrichment_speed.py",
    "single_cell": ROOT / "benchmarks" / "single_cell_scale.py",
}


MEASURED = (
    "wall_s",
    "compute_s",
    "cpu_s",
    "peak_tree_rss_mb",
    "load_before",
    "load_after",
    "load_mean",
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def sizes_of(text: str) -> list[tuple[int, int]]:
    return [parse_size(s) for s in text.split(",") if s]


def label(samples: int, genes: int) -> str:
    return f"{samples}x{genes}"


def record(part, size, tool, repeat, order, result) -> dict:
    samples, genes = size if size else (0, 0)
    return (
        {
            "part": part,
            "size": label(*size) if size else part,
            "samples": samples,
            "genes": genes,
            "tool": tool,
            "repeat": repeat,
            "order": order,
        }
        | {key: result.get(key, float("nan")) for key in MEASURED}
        | {"cpu": CPU}
    )


def stage_records(part, size, repeat, order, run: dict, jobs: list[dict]) -> list[dict]:
    """The run itself (tool ``workflow``) and one row per stage (``workflow:<stage>``)."""
    rows = [record(part, size, "workflow", repeat, order, run)]
    table = pd.DataFrame(jobs)
    if table.empty:
        return rows
    for stage, part_jobs in table.groupby("stage", sort=False):
        peak = part_jobs.get("peak_tree_mb", pd.Series(dtype=float)).max()
        rows.append(
            record(part, size, f"workflow:{stage}", repeat, order, {
                "wall_s": part_jobs["s"].sum(),
                "compute_s": part_jobs.get("compute_s", pd.Series(dtype=float)).sum(min_count=1),
                "cpu_s": part_jobs.get("cpu_s", pd.Series(dtype=float)).sum(min_count=1),
                "peak_tree_rss_mb": peak,
                "load_before": run["load_before"], "load_after": run["load_after"],
                "load_mean": run["load_mean"],
            })
        )  # fmt: skip
    return rows


class Saver:
    """Keeps this run's rows and rewrites the tables after every measurement, so a long run
    that is stopped keeps what it measured. Each write merges with the file as it is then
    (rows of the part/size/tool this run measured replace the file's; others are kept)."""

    def __init__(self, out: Path):
        self.measurements, self.jobs = out / "measurements.tsv", out / "jobs.tsv"
        self.rows, self.job_rows = [], []

    def add(self, rows: list[dict], job_rows: list[dict] = ()) -> None:
        self.rows += rows
        self.job_rows += list(job_rows)
        if self.rows:
            table = report.merge(pd.DataFrame(self.rows), self.measurements)
            report.write_table(table, self.measurements)
        if self.job_rows:
            table = report.merge(pd.DataFrame(self.job_rows), self.jobs, keys=["part", "size"])
            report.write_table(table, self.jobs)


def de_part(args, work: Path, de: dict, saver: Saver) -> None:
    available = {"python_wald": True, "python_qlf": True}
    if not args.no_r:
        found = peers.r_tools_available()
        for tool, rscript in found.items():
            available[tool] = rscript
            if rscript is None:
                log(f"{tool}: Rscript or its R package not found, skipped")
    tools = [t for t in DE_TOOLS if available.get(t)]
    inputs = {}
    for size in sizes_of(args.de_sizes):
        data = workloads.simulate_size(*size, work / "data" / label(*size), args.seed)
        folder = work / "de" / label(*size)
        models = peers.prepare_inputs(data["counts"], data["samples"], data["contrasts"], folder)
        inputs[size] = (data, folder, models)
    schedule = interleave([(s, t) for s in inputs for t in tools], args.repeats)
    for order, (repeat, (size, tool)) in enumerate(schedule):
        data, folder, models = inputs[size]
        log(f"de {label(*size)} {tool} (repeat {repeat + 1}/{args.repeats})")
        if tool.startswith("python_"):
            override = folder / f"{tool}.yaml"
            override.write_text(json.dumps({"de": {"test": tool.split("_", 1)[1]}}))
            job = data | {"config": ROOT / "config" / "config.yaml", "overrides": override,
                          "env": workloads.job_env()}  # fmt: skip
            result = peers.run_python_de(job, folder, args.nice, stats=tool == "python_wald")
        else:
            result = peers.run_r_tool(tool, available[tool], models, de, folder, args.nice)
        saver.add([record("de", size, tool, repeat, order, result)])
        log(f"  {result['wall_s']:.1f} s (compute {result['compute_s']:.1f} s)")
    for size, (_, folder, models) in inputs.items():
        r = peers.deseq2_agreement(folder, models)
        if r == r:
            log(f"de {label(*size)}: lowest Pearson r of the Wald stat vs DESeq2 in R {r:.5f}")
            saver.add([record("de", size, "agreement_min_pearson", 0, -1, {"wall_s": r})])


def workflow_part(args, work: Path, saver: Saver) -> None:
    sizes = sizes_of(args.workflow_sizes)
    prepared = {}
    for size in sizes + ([parse_size(args.consortium_size)] if args.consortium_size else []):
        data = workloads.simulate_size(*size, work / "data" / label(*size), args.seed)
        folder = work / "workflow" / label(*size)
        folder.mkdir(parents=True, exist_ok=True)
        override = workloads.workflow_overrides(data, work / f"{label(*size)}.yaml",
                                                args.permutations)  # fmt: skip
        prepared[size] = (folder, override)
    schedule = interleave(sizes, args.repeats)
    if args.consortium_size:
        schedule.append((0, parse_size(args.consortium_size)))  # once: it takes long
    for order, (repeat, size) in enumerate(schedule):
        folder, override = prepared[size]
        log(f"workflow {label(*size)} (repeat {repeat + 1})")
        run, jobs = workloads.run_workflow(folder, override, args.cores, args.nice)
        saver.add(
            stage_records("workflow", size, repeat, order, run, jobs),
            [{"part": "workflow", "size": label(*size), "repeat": repeat} | j for j in jobs],
        )
        log(f"  {run['wall_s']:.1f} s, peak {run['peak_tree_rss_mb'] / 1024:.2f} GB")


def example_part(args, work: Path, saver: Saver) -> None:
    """The example; with ``--baseline REV`` also a checkout of REV, interleaved with this tree
    (rows of the baseline have ``part`` ``example@REV``)."""
    trees = {"example": ROOT}
    if args.baseline:
        trees[f"example@{args.baseline}"] = workloads.checkout(args.baseline, work / "baseline")
    for order, (repeat, name) in enumerate(interleave(list(trees), args.repeats)):
        log(f"{name} (repeat {repeat + 1}/{args.repeats})")
        folder = work / name.replace("@", "_at_")
        run, jobs = workloads.run_example(folder, args.cores, args.nice, root=trees[name])
        saver.add(
            stage_records(name, None, repeat, order, run, jobs),
            [{"part": name, "size": name, "repeat": repeat} | j for j in jobs],
        )
        log(f"  {run['wall_s']:.1f} s")


def external_part(name: str, extra: str, args, work: Path) -> list[dict]:
    script = EXTERNAL[name]
    if not script.is_file():
        log(f"{name}: {script.relative_to(ROOT)} not found, skipped")
        return []
    command = [sys.executable, str(script), *shlex.split(extra)]
    log(f"{name}: {' '.join(command[1:])}")
    out = args.out / f"{name}.log"
    try:
        result = run_measured(command, cwd=ROOT, log=out, env=workloads.job_env(), nice=args.nice)
    except RuntimeError as error:
        log(f"{name} failed: {error}")
        return []
    result.pop("jobs")
    return [record(name, None, script.stem, 0, 0, result)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default=",".join(PARTS), help="default: %(default)s")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--de-sizes", default="36x20000,96x20000")
    parser.add_argument("--workflow-sizes", default="36x20000,96x20000,96x60000")
    parser.add_argument("--consortium-size", default="2004x60000", help="'' to skip")
    parser.add_argument("--enrichment-args", default="", help="options for enrichment_speed.py")
    parser.add_argument("--single-cell-args", default="", help="options for single_cell_scale.py")
    parser.add_argument("--consortium-r-args", default="", help="options for deseq2_one_model.py")
    parser.add_argument(
        "--baseline", help="example part: also run this git revision, interleaved (before/after)"
    )
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20151)
    parser.add_argument("--nice", type=int, default=0, help="nice level of measured commands")
    parser.add_argument("--no-r", action="store_true", help="skip the R tools")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--workdir", type=Path, help="work folder (kept; default: temporary)")
    parser.add_argument("--tables-only", action="store_true", help="rebuild tables and plot")
    parser.add_argument("--simulate", help=argparse.SUPPRESS)
    parser.add_argument("--simulate-into", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.simulate:  # child process of workloads.simulate_size
        info = workloads.simulate_child(*parse_size(args.simulate), args.simulate_into, args.seed)
        print(json.dumps(info))
        return 0
    parts = [p for p in args.parts.split(",") if p]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {unknown}; parts: {', '.join(PARTS)}")
    try:
        sizes_of(args.de_sizes), sizes_of(args.workflow_sizes)
        if args.consortium_size:
            parse_size(args.consortium_size)
    except ValueError as error:
        parser.error(str(error))
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.tables_only:
        work = args.workdir or Path(tempfile.mkdtemp(prefix="msc_benchmark_"))
        work.mkdir(parents=True, exist_ok=True)
        de = _config_de()
        saver = Saver(args.out)
        for part in parts:
            if part == "de":
                de_part(args, work, de, saver)
            elif part == "workflow":
                workflow_part(args, work, saver)
            elif part == "example":
                example_part(args, work, saver)
            elif part == "consortium_r":
                if args.no_r or not args.consortium_size:
                    log("consortium_r: skipped (--no-r or no --consortium-size)")
                    continue
                extra = args.consortium_r_args or (
                    f"--size {args.consortium_size} --workdir {work / 'consortium_r'} "
                    f"--tools {','.join(peers.R_TOOLS)} --out {args.out}"
                )
                saver.add(external_part(part, extra, args, work))
            else:
                extra = args.enrichment_args if part == "enrichment" else args.single_cell_args
                saver.add(external_part(part, extra, args, work))
        if args.workdir is None:
            log(f"work folder {work} (delete it when done)")
    measurements = pd.read_csv(args.out / "measurements.tsv", sep="\t")
    measured = measurements[measurements["tool"] != "agreement_min_pearson"]
    tables = report.build_tables(measured, args.out)
    wall = {k: tables[k][tables[k]["metric"] == "wall"] for k in ("exponents", "predictions")}
    report.plot(
        tables["summary"], wall["exponents"], wall["predictions"], args.out / "benchmark.png"
    )
    (args.out / "tables.md").write_text(report.markdown_tables(tables))
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        for name in ("summary", "exponents", "consortium"):
            print(f"\n{name}:\n" + tables[name].to_string(index=False))
    return 0


def _config_de() -> dict:
    from msc_secretome.settings import read_yaml

    return read_yaml(ROOT / "config" / "config.yaml")["de"]


if __name__ == "__main__":
    sys.exit(main())
