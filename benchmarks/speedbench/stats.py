"""Pure parts of the benchmark: interleaving, stage names, summaries, cost exponents.

No I/O, no subprocesses: tested directly by ``tests/test_benchmark_harness.py``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

#: Job directories under ``logs/benchmarks/<rule>/`` -> the stage they belong to. Holds the
#: rule names of today (fit_model, contrast_results, gene_set_enrichment) and plausible names
#: of a regrouped workflow (one DE job per model, one enrichment job per model); a rule that
#: is in neither list is its own stage (:func:`stage_of`).
STAGE_OF_RULE = {
    "simulate_example": "simulate",
    "validate_inputs": "validate",
    "write_contrasts": "validate",
    "quality_control": "qc",
    "prepare_gene_sets": "gene_sets",
    # before the jobs were grouped per model: one fit job plus one job per contrast
    "fit_model": "de",
    "contrast_results": "de",
    # one job per model (differential_expression_{model}, gene_set_enrichment_{model})
    "differential_expression": "de",
    "summarise_contrasts": "de_summary",
    "gene_set_enrichment": "enrichment",
    "programme_sample_scores": "programmes",
    "call_programmes": "programmes",
    "dual_benefit_verdict": "programmes",
    "stability_refits": "stability",
    "secretome_links": "secretome",
    "html_report": "report",
}
#: Stages in workflow order (unknown rules follow, alphabetically).
STAGE_ORDER = (
    "simulate",
    "validate",
    "qc",
    "gene_sets",
    "de",
    "de_summary",
    "enrichment",
    "programmes",
    "stability",
    "secretome",
    "report",
)


def stage_of(rule: str) -> str:
    """The stage of a rule (its ``logs/benchmarks/`` folder name); unknown rules are their
    own stage, under their own name."""
    return STAGE_OF_RULE.get(rule, rule)


def stage_sort_key(stage: str) -> tuple[int, str]:
    """Workflow order for known stages, then unknown ones by name."""
    if stage in STAGE_ORDER:
        return STAGE_ORDER.index(stage), ""
    return len(STAGE_ORDER), stage


def interleave(items: Sequence, repeats: int) -> list[tuple[int, object]]:
    """The measurement order A B C A B C ...: ``repeats`` rounds over ``items``.

    Returns ``[(repeat, item), ...]`` of length ``repeats * len(items)``, repeat 0 first, so
    slow drift of the machine's load spreads over every item instead of biasing one.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    return [(repeat, item) for repeat in range(repeats) for item in items]


def parse_size(text: str) -> tuple[int, int]:
    """``"96x20000"`` -> (96, 20000); samples must be a multiple of 12 (the design's cells)."""
    try:
        samples, genes = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"size {text!r} is not SAMPLESxGENES (e.g. 96x20000)") from None
    if samples < 12 or samples % 12:
        raise ValueError(f"size {text!r}: samples must be a multiple of 12 (>= 12)")
    if genes < 2000:
        raise ValueError(
            f"size {text!r}: at least 2000 genes (the simulator plants effects in them)"
        )
    return samples, genes


def summarise(measurements: pd.DataFrame, by: Sequence[str], value: str = "wall_s"):
    """min / median / max of ``value`` over the repeats of each ``by`` group, with the range of
    the 1-min load average seen during those measurements.

    ``measurements``: one row per measurement with the ``by`` columns, ``value`` and
    ``load_before``/``load_after``. Returns one row per group: ``n``, ``min_s``,
    ``median_s``, ``max_s``, ``load_min``, ``load_max`` (NaN values are not counted).
    """
    rows = []
    for key, part in measurements.groupby(list(by), sort=False, dropna=False):
        values = part[value].dropna().to_numpy(dtype=float)
        loads = part[["load_before", "load_after"]].to_numpy(dtype=float).ravel()
        loads = loads[np.isfinite(loads)]
        key = key if isinstance(key, tuple) else (key,)
        rows.append(
            dict(zip(by, key, strict=True))
            | {
                "n": len(values),
                "min_s": values.min() if len(values) else math.nan,
                "median_s": float(np.median(values)) if len(values) else math.nan,
                "max_s": values.max() if len(values) else math.nan,
                "load_min": loads.min() if len(loads) else math.nan,
                "load_max": loads.max() if len(loads) else math.nan,
            }
        )
    return pd.DataFrame(rows)


def fit_exponent(sizes: Iterable[float], seconds: Iterable[float]) -> dict:
    """Least-squares fit of ``log(seconds) = log(c) + k log(size)``.

    Parameters
    ----------
    sizes, seconds : iterables of float, same length (n,)
        One point per measured size (e.g. the median over repeats); sizes > 0, seconds > 0.

    Returns
    -------
    dict
        ``exponent`` (k), ``log_c``, ``n_points``, ``n_sizes`` (distinct sizes), ``size_min``,
        ``size_max`` (the fit range: predictions outside it are extrapolations) and ``r2`` on
        the log scale. With fewer than 2 distinct sizes the exponent is NaN.
    """
    x = np.asarray(list(sizes), dtype=float)
    y = np.asarray(list(seconds), dtype=float)
    if x.shape != y.shape:
        raise ValueError("sizes and seconds must have the same length")
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    result = {
        "n_points": int(keep.sum()),
        "n_sizes": len(np.unique(x[keep])),
        "size_min": float(x[keep].min()) if keep.any() else math.nan,
        "size_max": float(x[keep].max()) if keep.any() else math.nan,
    }
    x, y = np.log(x[keep]), np.log(y[keep])
    if result["n_sizes"] < 2:
        return result | {"exponent": math.nan, "log_c": math.nan, "r2": math.nan}
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (intercept + slope * x)
    total = ((y - y.mean()) ** 2).sum()
    r2 = 1.0 - (residual**2).sum() / total if total > 0 else 1.0
    return result | {"exponent": float(slope), "log_c": float(intercept), "r2": float(r2)}


def predict(fit: dict, size: float) -> float:
    """Seconds at ``size`` from :func:`fit_exponent`'s result (NaN if it has no exponent)."""
    if not math.isfinite(fit.get("exponent", math.nan)):
        return math.nan
    return float(math.exp(fit["log_c"] + fit["exponent"] * math.log(size)))


def predict_two_way(by_samples: dict, by_genes: dict, samples: int, genes: int) -> float:
    """Seconds at (samples, genes) from a samples fit (at fixed genes G0) and a genes fit
    (at fixed samples N0): ``t(N0-fit at samples) * (genes / G0) ** b``, where G0 is the gene
    count of the samples fit (``by_samples["at_genes"]``).
    """
    base = predict(by_samples, samples)
    b = by_genes.get("exponent", math.nan)
    if not (math.isfinite(base) and math.isfinite(b)):
        return math.nan
    return base * (genes / by_samples["at_genes"]) ** b


def exponent_table(points: pd.DataFrame) -> pd.DataFrame:
    """Cost exponents per tool/stage: time ~ samples^a at each fixed gene count, ~ genes^b at
    each fixed sample count.

    ``points``: columns ``tool``, ``samples``, ``genes``, ``seconds`` (one row per size, e.g.
    medians over repeats). Returns one row per (tool, axis, fixed value) with at least two
    sizes: ``tool``, ``axis`` (samples | genes), ``at_samples`` or ``at_genes`` (the fixed
    other axis), ``exponent``, ``r2``, ``n_sizes``, ``size_min``, ``size_max`` (fit range).
    """
    rows = []
    for tool, part in points.groupby("tool", sort=False):
        for axis, fixed in (("samples", "genes"), ("genes", "samples")):
            for value, line in part.groupby(fixed, sort=True):
                fit = fit_exponent(line[axis], line["seconds"])
                if fit["n_sizes"] < 2:
                    continue
                rows.append(
                    {"tool": tool, "axis": axis, f"at_{fixed}": value}
                    | {k: fit[k] for k in ("exponent", "log_c", "r2", "n_sizes")}
                    | {"size_min": fit["size_min"], "size_max": fit["size_max"]}
                )
    columns = ["tool", "axis", "at_samples", "at_genes", "exponent", "log_c", "r2", "n_sizes"]
    table = pd.DataFrame(rows).reindex(columns=[*columns, "size_min", "size_max"])
    return table


def predictions(
    exponents: pd.DataFrame, points: pd.DataFrame, targets: Sequence[tuple[int, int]]
) -> pd.DataFrame:
    """Measured or predicted seconds per tool at each target size.

    A size that was measured gives its measured median (``kind`` measured); otherwise the
    samples fit at the largest fixed gene count is extrapolated in samples and scaled by the
    genes exponent (``kind`` predicted, with the fit ranges in ``basis``). Tools without
    both fits get NaN (``kind`` unknown).
    """
    rows = []
    for tool in points["tool"].drop_duplicates():
        mine = points[points["tool"] == tool]
        fits = exponents[exponents["tool"] == tool]
        for samples, genes in targets:
            hit = mine[(mine["samples"] == samples) & (mine["genes"] == genes)]
            row = {"tool": tool, "samples": samples, "genes": genes}
            if len(hit):
                rows.append(row | {"seconds": float(hit["seconds"].median()), "kind": "measured"})
                continue
            by_samples = fits[fits["axis"] == "samples"].sort_values("at_genes")
            by_genes = fits[fits["axis"] == "genes"].sort_values("at_samples")
            if by_samples.empty:
                rows.append(row | {"seconds": math.nan, "kind": "unknown", "basis": ""})
                continue
            s_fit = by_samples.iloc[-1].to_dict()
            at_genes = s_fit["at_genes"]
            if genes == at_genes:
                seconds, basis = predict(s_fit, samples), ""
            elif by_genes.empty:
                rows.append(row | {"seconds": math.nan, "kind": "unknown", "basis": ""})
                continue
            else:
                g_fit = by_genes.iloc[-1].to_dict()
                seconds = predict_two_way(s_fit, g_fit, samples, genes)
                basis = (
                    f"; genes^{g_fit['exponent']:.2f} over {g_fit['size_min']:.0f}-"
                    f"{g_fit['size_max']:.0f} genes at {g_fit['at_samples']:.0f} samples"
                )
            basis = (
                f"samples^{s_fit['exponent']:.2f} over {s_fit['size_min']:.0f}-"
                f"{s_fit['size_max']:.0f} samples at {at_genes:.0f} genes" + basis
            )
            rows.append(row | {"seconds": seconds, "kind": "predicted", "basis": basis})
    return pd.DataFrame(rows).reindex(
        columns=["tool", "samples", "genes", "seconds", "kind", "basis"]
    )
