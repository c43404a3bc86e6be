"""The benchmark's tables and plot, from its measurements.

Tables (``--out``, default ``benchmarks/results``), each a TSV with a fixed float format:

* ``measurements.tsv``: one row per measurement (part, size, tool, repeat, order, wall_s,
  compute_s, cpu_s, peak_tree_rss_mb, load_before, load_after, load_mean);
* ``jobs.tsv``: every Snakemake job of the workflow runs (rule, stage, s, max_rss_mb, ...);
* ``summary.tsv``: per part x size x tool: n, min/median/max of wall_s, median compute_s,
  max peak memory, the load range;
* ``exponents.tsv``: time ~ samples^a (at fixed genes) and ~ genes^b (at fixed samples) per
  tool and workflow stage, with the fit range;
* ``predictions.tsv``: seconds per tool at the target sizes, measured or predicted;
* ``consortium.tsv``: the consortium-scale claims (peak memory, ratio to DESeq2 in R), each
  marked measured or predicted.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from .stats import exponent_table, predictions, stage_sort_key, summarise

FLOAT_FORMAT = "%.4g"
KEYS = ["part", "size", "tool"]
#: 2,000 samples rounded up to whole replicates of the 12-cell design (167 x 12).
CONSORTIUM = (2004, 60000)


def write_table(table: pd.DataFrame, path: Path) -> None:
    """TSV with the fixed float format and ``\\n`` line ends (stable bytes for equal data)."""
    tmp = path.with_name(path.name + ".tmp")
    table.to_csv(tmp, sep="\t", index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
    tmp.replace(path)


def merge(new: pd.DataFrame, old: pd.DataFrame | Path | None, keys=KEYS) -> pd.DataFrame:
    """``new`` plus the rows of ``old`` (a table or the TSV at that path) whose ``keys``
    ``new`` does not have (a re-measured part/size/tool replaces its old rows)."""
    if isinstance(old, Path):
        old = pd.read_csv(old, sep="\t") if old.is_file() else None
    if old is None or new.empty:
        return new
    if not set(keys) <= set(old.columns):
        return new
    measured = pd.MultiIndex.from_frame(new[keys].astype(str)).unique()
    stale = pd.MultiIndex.from_frame(old[keys].astype(str)).isin(measured)
    return pd.concat([old[~stale], new], ignore_index=True)


def summary_table(measurements: pd.DataFrame) -> pd.DataFrame:
    by = ["part", "size", "samples", "genes", "tool"]
    table = summarise(measurements, by)
    if "cpu" not in measurements:
        measurements = measurements.assign(cpu=float("nan"))
    extra = measurements.groupby(by, sort=False, dropna=False).agg(
        compute_median_s=("compute_s", "median"),
        cpu_median_s=("cpu_s", "median"),
        peak_tree_rss_max_mb=("peak_tree_rss_mb", "max"),
        machine=("cpu", lambda cpus: "; ".join(sorted(set(cpus.dropna().astype(str))))),
    )
    table = table.merge(extra.reset_index(), on=by, how="left")
    order = table["tool"].map(lambda t: stage_sort_key(t.split(":", 1)[-1]))
    return (
        table.assign(_order=order)
        .sort_values(["part", "genes", "samples", "_order", "tool"], kind="stable")
        .drop(columns="_order")
    )


#: wall: wall time (start-up and reading included); cpu: CPU time (less sensitive to the
#: machine's load); compute: the seconds a tool reports for fitting and testing only (no
#: start-up, no reading: the part that grows with the data, so the better one to extrapolate).
METRICS = {"wall": "median_s", "cpu": "cpu_median_s", "compute": "compute_median_s"}
RUN_CLAIMS = ("end_to_end_s", "peak_tree_rss_gb", "under_16_gb")


def scaling_points(summary: pd.DataFrame, metric: str = "wall") -> pd.DataFrame:
    """Median seconds per tool and size (``metric`` wall: wall time; cpu: CPU time, less
    sensitive to the machine's load): DE tools from the ``de`` part, workflow stages
    (``workflow:<stage>``, summed over the stage's jobs) from the ``workflow`` part."""
    parts = summary[summary["part"].isin(["de", "workflow"])]
    return parts.rename(columns={METRICS[metric]: "seconds"}).loc[
        :, ["tool", "samples", "genes", "seconds"]
    ]


def consortium_table(summary: pd.DataFrame, predicted: pd.DataFrame) -> pd.DataFrame:
    """The consortium claims at 2,004 x 60,000: end-to-end time and peak memory (measured if
    the workflow ran at that size, else predicted), and the DE stage over DESeq2 in R."""
    samples, genes = CONSORTIUM
    rows = []
    at = predicted[(predicted["samples"] == samples) & (predicted["genes"] == genes)]
    seconds = at.set_index("tool")["seconds"] if len(at) else pd.Series(dtype=float)
    kind = at.set_index("tool")["kind"] if len(at) else pd.Series(dtype=str)
    workflow = summary[
        (summary["part"] == "workflow")
        & (summary["samples"] == samples)
        & (summary["genes"] == genes)
    ].set_index("tool")
    if "workflow" in workflow.index:
        rows.append(("end_to_end_s", workflow.loc["workflow", "median_s"], "measured"))
        peak = workflow.loc["workflow", "peak_tree_rss_max_mb"]
        rows.append(("peak_tree_rss_gb", peak / 1024, "measured"))
        rows.append(("under_16_gb", float(peak < 16 * 1024), "measured"))
    for ours in ("workflow:de", "python_wald", "python_qlf"):
        if ours in seconds and "deseq2_r" in seconds:
            ratio = seconds["deseq2_r"] / seconds[ours]
            both = {kind[ours], kind["deseq2_r"]}
            rows.append((f"deseq2_r_over_{ours}", ratio, "/".join(sorted(both))))
        if ours in seconds:
            rows.append((f"{ours}_s", seconds[ours], kind[ours]))
    if "deseq2_r" in seconds:
        rows.append(("deseq2_r_s", seconds["deseq2_r"], kind["deseq2_r"]))
    table = pd.DataFrame(rows, columns=["metric", "value", "kind"])
    table.insert(0, "size", f"{samples}x{genes}")
    return table


def build_tables(measurements: pd.DataFrame, out: Path) -> dict[str, pd.DataFrame]:
    """Summary, exponents, predictions and consortium tables from all measurements so far."""
    summary = summary_table(measurements)
    exponents, predicted = [], []
    for metric in METRICS:
        points = scaling_points(summary, metric)
        fits = exponent_table(points)
        sizes = sorted(set(zip(points["samples"], points["genes"], strict=True)))
        # the consortium size once, also when it was measured
        guess = predictions(fits, points, list(dict.fromkeys([*sizes, CONSORTIUM])))
        exponents.append(fits.assign(metric=metric))
        predicted.append(guess.assign(metric=metric))
    exponents, predicted = pd.concat(exponents), pd.concat(predicted)
    claims = []
    for metric in METRICS:
        table = consortium_table(summary, predicted[predicted["metric"] == metric])
        if metric != "wall":
            table = table[~table["metric"].isin(RUN_CLAIMS)]
        claims.append(table.assign(seconds=metric))
    tables = {
        "summary": summary,
        "exponents": exponents,
        "predictions": predicted,
        "consortium": pd.concat(claims, ignore_index=True),
    }
    for name, table in tables.items():
        write_table(table, out / f"{name}.tsv")
    return tables


def main_stages(summary: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The workflow part's end-to-end rows and its ``n`` stages with the most job time at the
    largest size (summed job seconds per stage)."""
    runs = summary[(summary["part"] == "workflow") & summary["tool"].str.startswith("workflow")]
    if runs.empty:
        return runs
    largest = runs[runs["samples"] * runs["genes"] == (runs["samples"] * runs["genes"]).max()]
    stages = largest[largest["tool"] != "workflow"].nlargest(n, "median_s")["tool"]
    return runs[runs["tool"].isin({"workflow", *stages})]


def plot(summary: pd.DataFrame, exponents: pd.DataFrame, predicted, path: Path) -> None:
    """Three log-log panels: DE tools vs samples, workflow stages vs samples, peak memory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 3, figsize=(16, 5.2))
    panels = (
        (axes[0], summary[summary["part"] == "de"], "DE on the same models (one process / R)"),
        (axes[1], main_stages(summary), "workflow: end to end and its 5 largest stages"),
    )
    for ax, part, title in panels:
        for index, (tool, line) in enumerate(part.groupby("tool", sort=True)):
            colour = plt.get_cmap("tab10")(index % 10)
            for genes, points in line.groupby("genes"):
                points = points.sort_values("samples")
                marker = "o" if genes == line["genes"].max() else "s"
                low = points["median_s"] - points["min_s"]
                high = points["max_s"] - points["median_s"]
                ax.errorbar(
                    points["samples"], points["median_s"], yerr=[low, high],
                    fmt=marker + "-", color=colour, ms=4, lw=1, capsize=2,
                    label=f"{tool} ({genes // 1000}k genes)",
                )  # fmt: skip
            guess = predicted[(predicted["tool"] == tool) & (predicted["kind"] == "predicted")]
            for _, row in guess.iterrows():
                ax.plot(row["samples"], row["seconds"], "o", mfc="none", color=colour, ms=8)
            fit = exponents[(exponents["tool"] == tool) & (exponents["axis"] == "samples")]
            if len(fit) and len(guess):
                best = fit.sort_values("at_genes").iloc[-1]
                x = np.geomspace(best["size_min"], guess["samples"].max(), 20)
                ax.plot(x, np.exp(best["log_c"]) * x ** best["exponent"], ":", color=colour)
        ax.set(xscale="log", yscale="log", xlabel="samples", ylabel="seconds", title=title)
        ax.grid(which="both", alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
    runs = summary[(summary["part"] == "workflow") & (summary["tool"] == "workflow")]
    for genes, line in runs.groupby("genes"):
        line = line.sort_values("samples")
        axes[2].plot(line["samples"], line["peak_tree_rss_max_mb"] / 1024, "o-",
                     label=f"{genes // 1000}k genes")  # fmt: skip
    axes[2].axhline(16, color="firebrick", ls="--", lw=0.8)
    axes[2].text(axes[2].get_xlim()[0] if len(runs) else 1, 16, " 16 GB", color="firebrick",
                 va="bottom")  # fmt: skip
    axes[2].set(xscale="log", xlabel="samples", ylabel="GB",
                title="workflow peak memory (whole process tree)")  # fmt: skip
    axes[2].grid(which="both", alpha=0.3)
    axes[2].legend(fontsize=7)
    fig.suptitle(
        "median over interleaved repeats (bars: min-max); hollow circles: predicted from the "
        "fitted exponent (dotted)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def markdown(table: pd.DataFrame, columns: list[str]) -> str:
    """A small Markdown table (README)."""

    def cell(value):
        if isinstance(value, float):
            return "" if math.isnan(value) else f"{value:.3g}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(cell(row[c]) for c in columns) + " |")
    return "\n".join(lines)


def markdown_tables(tables: dict[str, pd.DataFrame]) -> str:
    """The README's tables: example and DE times (min/median/max, load), consortium claims,
    cost exponents (wall time)."""
    summary = tables["summary"].copy()
    summary["seconds (min / median / max)"] = [
        f"{a:.1f} / {b:.1f} / {c:.1f}"
        for a, b, c in zip(summary["min_s"], summary["median_s"], summary["max_s"], strict=True)
    ]
    summary["load (1-min)"] = [
        f"{a:.1f}-{b:.1f}" for a, b in zip(summary["load_min"], summary["load_max"], strict=True)
    ]
    summary["cpu s (median)"] = summary["cpu_median_s"]
    summary["peak GB"] = summary["peak_tree_rss_max_mb"] / 1024
    columns = ["size", "tool", "n", "seconds (min / median / max)", "cpu s (median)", "peak GB",
               "load (1-min)"]  # fmt: skip
    parts = []
    example = summary[(summary["part"] == "example") & (summary["tool"] == "workflow")]
    if len(example):
        parts.append("Example end to end (`snakemake --cores 2`, clean `results/`):\n\n"
                     + markdown(example, columns))  # fmt: skip
    de = summary[summary["part"] == "de"]
    if len(de):
        parts.append("DE on the same counts, models and contrasts (fresh process each):\n\n"
                     + markdown(de, columns))  # fmt: skip
    runs = summary[(summary["part"] == "workflow") & (summary["tool"] == "workflow")]
    if len(runs):
        parts.append("Workflow end to end on simulated sizes:\n\n" + markdown(runs, columns))
    if len(tables["consortium"]):
        claims = markdown(tables["consortium"], ["size", "metric", "seconds", "value", "kind"])
        parts.append("Consortium scale:\n\n" + claims)
    exponents = tables["exponents"]
    exponents = exponents[exponents["metric"] != "cpu"].copy()
    if len(exponents):
        exponents["fixed"] = [
            f"{g:.0f} genes" if a == "samples" else f"{n:.0f} samples"
            for a, g, n in zip(exponents["axis"], exponents["at_genes"], exponents["at_samples"],
                               strict=True)
        ]  # fmt: skip
        exponents["fit range"] = [
            f"{a:.0f}-{b:.0f}" for a, b in zip(exponents["size_min"], exponents["size_max"],
                                                strict=True)
        ]  # fmt: skip
        fits = markdown(
            exponents,
            ["tool", "metric", "axis", "exponent", "fixed", "fit range", "n_sizes", "r2"],
        )
        parts.append("Cost exponents (seconds ~ size^exponent; wall and compute):\n\n" + fits)
    return "\n\n".join(parts) + "\n"
