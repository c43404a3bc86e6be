"""Why a contrast has no significant gene: diagnostics computed with the DE summary.

:func:`contrast_diagnostics` gives, per contrast, the numbers behind the diagnosis and the
plain-language reasons; ``summarise_contrasts`` writes them as columns of
``results/de/contrasts.tsv`` (:data:`DIAGNOSTIC_COLUMNS`), so the report states what the table
says. ``no_hits_reasons`` holds the reasons joined by :data:`REASON_SEPARATOR` and is empty when
the contrast has at least one gene with padj < alpha.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from .outliers import biological_group_columns

FEW_SAMPLES = 6
FEW_REPLICATES = 3
LOW_LIBRARY_SIZE = 5_000_000
HIGH_UNTESTED_FRACTION = 0.5
REASON_SEPARATOR = " | "
DIAGNOSTIC_COLUMNS = [
    "smallest_group",
    "fraction_p_below_0_05",
    "fraction_untested",
    "median_library_size",
    "outlier_samples",
    "no_hits_reasons",
]


def _plural(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else word + 's'}"


def _count_text(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1e4 else f"{x:g}"


def contrast_diagnostics(
    de: pd.DataFrame,
    samples: pd.DataFrame,
    library_sizes: pd.DataFrame | None,
    outlier_samples: Iterable[str],
    alpha: float,
    groups: Sequence[str] | None = None,
) -> dict:
    """Diagnostics of one contrast, keyed by :data:`DIAGNOSTIC_COLUMNS`.

    ``de``: the contrast's DE table (``pvalue``, ``padj``); ``samples``: the rows of the sample
    sheet its model uses (``sample`` + factors); ``library_sizes``: ``sample``,
    ``total_counts``; ``outlier_samples``: samples of ``results/qc/outliers.tsv``; ``groups``:
    the biological group columns, decided on the whole sheet (default: from ``samples``; a
    subset's own columns would look unique per sample and hide small groups).
    """
    if groups is None:
        groups = biological_group_columns(samples)
    groups = [g for g in groups if g in samples.columns]
    smallest = int(samples.groupby(groups, dropna=False).size().min()) if groups else None
    if smallest is not None and len(samples) == 0:
        smallest = None
    p = pd.to_numeric(de["pvalue"], errors="coerce").dropna()
    padj = pd.to_numeric(de["padj"], errors="coerce")
    frac_p = float((p < 0.05).mean()) if len(p) else float("nan")
    untested = float(padj.isna().mean()) if len(padj) else float("nan")
    used = set(samples["sample"].astype(str))
    median = float("nan")
    if library_sizes is not None and not library_sizes.empty:
        sizes = library_sizes[library_sizes["sample"].astype(str).isin(used)]
        if not sizes.empty:
            median = float(pd.to_numeric(sizes["total_counts"], errors="coerce").median())
    flagged = sorted(used & {str(s) for s in outlier_samples})
    reasons = []
    if not bool((padj < alpha).any()):
        reasons = _reasons(len(samples), smallest, frac_p, untested, median, flagged)
    return {
        "smallest_group": smallest if smallest is not None else np.nan,
        "fraction_p_below_0_05": frac_p,
        "fraction_untested": untested,
        "median_library_size": median,
        "outlier_samples": ";".join(flagged),
        "no_hits_reasons": REASON_SEPARATOR.join(reasons),
    }


def _reasons(n, smallest, frac_p, untested, median, flagged) -> list[str]:
    reasons = []
    if n < FEW_SAMPLES or (smallest is not None and smallest < FEW_REPLICATES):
        detail = f"the model uses {n} samples"
        if smallest is not None:
            detail += f" and the smallest group has {_plural(smallest, 'replicate')}"
        reasons.append(f"Few replicates: {detail}; power to detect single genes is low.")
    if math.isfinite(frac_p):
        if frac_p < 1.5 * 0.05:
            reasons.append(
                f"The p-value histogram is flat: {100 * frac_p:.1f}% of p-values are below "
                "0.05, about the 5% expected when nothing changes — there is little signal to "
                "find."
            )
        else:
            reasons.append(
                f"p-values are enriched near 0 ({100 * frac_p:.1f}% below 0.05 vs 5% expected), "
                "but no single gene survives the FDR correction: effects are likely small and "
                "spread over many genes; the programme-level GSEA can still detect them."
            )
    if math.isfinite(untested) and untested > HIGH_UNTESTED_FRACTION:
        reasons.append(
            f"{100 * untested:.0f}% of genes have no padj (independent filtering of "
            "low-count genes), so few genes were tested."
        )
    if math.isfinite(median) and median < LOW_LIBRARY_SIZE:
        reasons.append(
            f"Small libraries: median {_count_text(median)} counts per sample in this model "
            f"(< {LOW_LIBRARY_SIZE / 1e6:g} million) limits power for low-expressed genes."
        )
    if flagged:
        reasons.append(
            "Possible outlier sample(s) in this model inflate the variance: "
            + ", ".join(flagged)
            + " (see Design & QC)."
        )
    if not reasons:
        reasons.append("No obvious technical cause: the biological effect may simply be small.")
    return reasons


def diagnostics_table(
    contrasts: list,
    models: dict,
    samples: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    library_sizes: pd.DataFrame | None,
    outliers: pd.DataFrame | None,
    alpha: float,
) -> pd.DataFrame:
    """One row per contrast: ``contrast`` + :data:`DIAGNOSTIC_COLUMNS`.

    ``contrasts``/``models``: the experiment's objects (each model's ``subset`` selects its
    samples, no string is parsed); ``tables``: contrast name -> DE table; ``outliers``:
    ``results/qc/outliers.tsv``.
    """
    flagged = [] if outliers is None or outliers.empty else outliers["sample"].astype(str)
    groups = biological_group_columns(samples)
    rows = []
    for contrast in contrasts:
        model = models[contrast.model]
        keep = np.ones(len(samples), dtype=bool)
        for column, levels in model.subset.items():
            keep &= samples[column].astype(str).isin([str(v) for v in levels]).to_numpy()
        diagnostics = contrast_diagnostics(
            tables[contrast.name], samples[keep], library_sizes, flagged, alpha, groups
        )
        rows.append({"contrast": contrast.name, **diagnostics})
    return pd.DataFrame(rows, columns=["contrast", *DIAGNOSTIC_COLUMNS])
