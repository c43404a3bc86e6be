"""Possible outlier samples, called where QC is computed and written as a table.

Two rules, each a row of ``results/qc/outliers.tsv`` when it fires (columns
:data:`OUTLIER_COLUMNS`):

* ``library_size``: total counts below :data:`LIBSIZE_FRACTION` of the median;
* ``pca_distance``: distance to the centroid of its biological group on PC1-PC2 above
  median + :data:`PCA_MAD_CUTOFF` x 1.4826 x MAD of all such distances (and above
  :data:`PCA_MIN_SPAN_FRACTION` of the largest PC1-PC2 distance), for groups of at least
  :data:`PCA_MIN_GROUP` samples.

Biological groups are the sample sheet's factors minus batch-like columns, minus columns unique
per sample and minus the pseudobulk bookkeeping columns (``original_sample``, ``n_cells``): in
single-cell runs the groups are cell type x condition, so the PCA rule can fire there too.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

LIBSIZE_FRACTION = 1 / 3
PCA_MAD_CUTOFF = 3.0
PCA_MIN_GROUP = 3
PCA_MIN_SPAN_FRACTION = 0.1
NON_GROUP_COLUMNS = ("batch", "replicate", "rep", "donor", "lane", "run", "date")
PSEUDOBULK_COLUMNS = ("original_sample", "n_cells")
OUTLIER_COLUMNS = ["sample", "rule", "value", "threshold", "reason"]


def biological_group_columns(samples: pd.DataFrame) -> list[str]:
    """Factor columns of ``samples`` (samples x columns) that define biological groups."""
    out = []
    for column in samples.columns:
        if column == "sample" or column in PSEUDOBULK_COLUMNS:
            continue
        if column.lower() in NON_GROUP_COLUMNS:
            continue
        if len(samples) > 1 and samples[column].nunique(dropna=False) == len(samples):
            continue
        out.append(column)
    return out


def _count_text(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1e4 else f"{x:g}"


def _library_size_rows(library_sizes: pd.DataFrame) -> list[dict]:
    totals = pd.to_numeric(library_sizes["total_counts"], errors="coerce")
    if not totals.notna().any():
        return []
    median = float(np.nanmedian(totals))
    if not (math.isfinite(median) and median > 0):
        return []
    cut = LIBSIZE_FRACTION * median
    return [
        {
            "sample": sample,
            "rule": "library_size",
            "value": float(total),
            "threshold": cut,
            "reason": f"library size {_count_text(float(total))} < 1/3 of the median "
            f"({_count_text(median)})",
        }
        for sample, total in zip(library_sizes["sample"].astype(str), totals, strict=True)
        if pd.notna(total) and total < cut
    ]


def _pca_rows(samples: pd.DataFrame, pca: pd.DataFrame) -> list[dict]:
    pcs = [c for c in ("PC1", "PC2") if c in pca.columns]
    groups = biological_group_columns(samples)
    if len(pcs) < 2 or not groups or samples.empty:
        return []
    merged = samples.astype({"sample": str}).merge(
        pca.astype({"sample": str})[["sample", *pcs]], on="sample", how="inner"
    )
    distances = []
    for _, group in merged.groupby(groups, sort=True, dropna=False):
        if len(group) < PCA_MIN_GROUP:
            continue
        xy = group[pcs].to_numpy(dtype=float)
        d = np.sqrt(((xy - xy.mean(axis=0)) ** 2).sum(axis=1))
        distances.extend(zip(group["sample"], d, strict=True))
    if len(distances) < 2 * PCA_MIN_GROUP:
        return []
    d_all = np.array([d for _, d in distances])
    median = float(np.median(d_all))
    mad = 1.4826 * float(np.median(np.abs(d_all - median)))
    if mad <= 0:
        return []
    xy_all = merged[pcs].to_numpy(dtype=float)
    span = float(np.sqrt(((xy_all[:, None, :] - xy_all[None, :, :]) ** 2).sum(-1)).max())
    cut = max(median + PCA_MAD_CUTOFF * mad, PCA_MIN_SPAN_FRACTION * span)
    return [
        {
            "sample": str(sample),
            "rule": "pca_distance",
            "value": float(d),
            "threshold": cut,
            "reason": f"PCA distance to its group centroid {d:.3g} > {cut:.3g} "
            "(median + 3 MAD, at least 10% of the PC1–PC2 span)",
        }
        for sample, d in distances
        if d > cut
    ]


def find_outliers(
    samples: pd.DataFrame, library_sizes: pd.DataFrame | None, pca: pd.DataFrame | None
) -> pd.DataFrame:
    """Every rule that fires for a sample, one row each (columns :data:`OUTLIER_COLUMNS`).

    ``samples``: the sample sheet (``sample`` + factors; pseudobulk sheets too);
    ``library_sizes``: ``sample``, ``total_counts``; ``pca``: ``sample``, ``PC1``, ``PC2``...
    Rows are ordered by rule (library size first), then sample-sheet order within a rule.
    An empty frame with the columns means no sample is flagged.
    """
    rows = []
    if library_sizes is not None and not library_sizes.empty:
        rows += _library_size_rows(library_sizes)
    if pca is not None and not pca.empty and samples is not None:
        rows += _pca_rows(samples, pca)
    return pd.DataFrame(rows, columns=OUTLIER_COLUMNS)


def outlier_reasons(outliers: pd.DataFrame | None) -> dict[str, list[str]]:
    """``results/qc/outliers.tsv`` as sample -> reasons (in table order)."""
    out: dict[str, list[str]] = {}
    if outliers is None or outliers.empty:
        return out
    for sample, reason in zip(outliers["sample"].astype(str), outliers["reason"], strict=True):
        out.setdefault(sample, []).append(str(reason))
    return out


def rule_text(samples: pd.DataFrame) -> str:
    """The outlier rules in words, naming the group columns of ``samples``."""
    groups = ", ".join(biological_group_columns(samples)) or "all factors"
    return (
        "Outlier rule: a sample is flagged when its library size is below 1/3 of the median, or "
        "when its distance to its group centroid on PC1–PC2 exceeds the median + 3 × MAD "
        "(scaled by 1.4826) of all samples' distances and 10% of the largest sample-to-sample "
        f"distance on PC1–PC2; a group is the samples sharing {groups} (groups with ≥ "
        f"{PCA_MIN_GROUP} samples). Flagged samples are kept in the analysis; judge them from "
        "the plots."
    )
