"""Signalling-pathway activity from footprints: a univariate linear model per pathway.

A pathway's footprint is a set of response genes with signed weights (PROGENy: the genes that
move when the pathway is perturbed, Schubert 2018 Nat Commun). Its activity in one contrast is
the t-value of the slope of the regression ``stat_g = b0 + b1 * weight_g + e`` over all genes
``g`` of the data (genes outside the footprint have weight 0), the method decoupler calls
``ulm`` (Badia-i-Mompel 2022 Bioinform Adv). The p-value is two-sided from Student's t with
``n_genes - 2`` degrees of freedom; the FDR is Benjamini-Hochberg over the pathways of one
contrast (the project's one BH, :func:`msc_secretome.wald.benjamini_hochberg`).

The same model on a per-sample profile (expression centred and scaled per gene) gives per-sample
pathway scores for the report.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

from .errors import InputError
from .tables import read_table
from .wald import benjamini_hochberg

FOOTPRINT_COLUMNS = ("pathway", "gene", "weight")
BUILTIN_FOOTPRINTS = {"human": "progeny_human_top100.tsv", "mouse": "progeny_mouse_top100.tsv"}
ACTIVITY_COLUMNS = ["contrast", "pathway", "score", "pvalue", "fdr", "n_genes", "n_footprint"]


def builtin_footprint_path(organism: str = "human") -> Path:
    """Path of the shipped PROGENy top-100 footprints (see data/SOURCE_secretome.md)."""
    if organism not in BUILTIN_FOOTPRINTS:
        raise InputError(
            f"no built-in footprints for organism {organism!r}",
            fix=f"use one of {sorted(BUILTIN_FOOTPRINTS)} or give secretome.footprints: a TSV",
        )
    return Path(str(resources.files("msc_secretome") / "data" / BUILTIN_FOOTPRINTS[organism]))


def read_footprints(path: str | Path) -> pd.DataFrame:
    """Read a footprint table (columns pathway, gene, weight; extra columns are ignored).

    Returns
    -------
    pandas.DataFrame
        ``n_edges x 3``: pathway (str), gene (str), weight (float, non-zero), sorted by pathway
        then gene; one row per pathway x gene.
    """
    table = read_table(path)
    missing = [c for c in FOOTPRINT_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(
            f"footprint table lacks column(s) {missing}; it has {list(table.columns)}",
            path=str(path),
            fix="give columns pathway, gene, weight (PROGENy long format)",
        )
    table = table[list(FOOTPRINT_COLUMNS)].copy()
    weight = pd.to_numeric(table["weight"], errors="coerce")
    bad = weight.isna() | ~np.isfinite(weight)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise InputError(
            f"weight on line {row} is not a finite number ({table['weight'].iloc[row - 2]!r})",
            path=str(path),
            fix="weights must be numbers",
        )
    table["weight"] = weight.astype(float)
    duplicated = table.duplicated(["pathway", "gene"])
    if duplicated.any():
        first = table[duplicated].iloc[0]
        raise InputError(
            f"pathway {first['pathway']!r} lists gene {first['gene']!r} twice",
            path=str(path),
            fix="keep one weight per pathway and gene",
        )
    table = table[table["weight"] != 0]
    return table.sort_values(["pathway", "gene"], ignore_index=True)


def footprint_matrix(footprints: pd.DataFrame, genes: pd.Index) -> pd.DataFrame:
    """Weights as a genes x pathways matrix over ``genes`` (0 where a gene is not a target).

    Parameters
    ----------
    footprints : long table (pathway, gene, weight)
    genes : the data's genes (unique), ``n_genes``

    Returns
    -------
    pandas.DataFrame
        ``n_genes x n_pathways`` float weights, pathways sorted.
    """
    wide = footprints.pivot(index="gene", columns="pathway", values="weight")
    wide = wide.reindex(index=genes).fillna(0.0)
    return wide.reindex(columns=sorted(wide.columns))


def ulm(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Univariate linear model t-values and two-sided p-values.

    Parameters
    ----------
    values : ``n_genes`` or ``n_genes x n_profiles`` statistics (finite)
    weights : ``n_genes x n_pathways`` footprint weights

    Returns
    -------
    (scores, pvalues)
        each ``n_pathways`` (1-d ``values``) or ``n_profiles x n_pathways``; a pathway whose
        weights or a profile whose values are constant gets NaN.
    """
    y = np.asarray(values, dtype=float)
    one = y.ndim == 1
    y = y[:, None] if one else y
    x = np.asarray(weights, dtype=float)
    n = x.shape[0]
    if n < 3:
        raise InputError(f"pathway activity needs at least 3 genes, got {n}")
    xc = x - x.mean(axis=0)
    yc = y - y.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (yc.T @ xc) / np.outer(np.sqrt((yc**2).sum(axis=0)), np.sqrt((xc**2).sum(axis=0)))
        r = np.clip(r, -1.0, 1.0)
        df = n - 2
        t = r * np.sqrt(df / ((1.0 - r) * (1.0 + r)))
    t = np.where(np.abs(r) >= 1.0, np.sign(r) * np.inf, t)
    p = 2.0 * special.stdtr(df, -np.abs(t))  # stats.t.sf's own formula, without scipy.stats
    return (t[0], p[0]) if one else (t, p)


def contrast_pathway_activity(
    de_tables: dict[str, pd.DataFrame],
    footprints: pd.DataFrame,
    *,
    statistic: str = "stat",
    min_targets: int = 5,
) -> pd.DataFrame:
    """Pathway activity per contrast from the DE statistic.

    Parameters
    ----------
    de_tables : contrast -> DE table with columns ``symbol`` and ``statistic`` (one row per gene)
    footprints : long footprint table (:func:`read_footprints`)
    statistic : the DE column regressed on the weights (default the Wald ``stat``)
    min_targets : pathways with fewer footprint genes in a contrast's data get NaN scores

    Returns
    -------
    pandas.DataFrame
        ``n_contrasts * n_pathways`` rows: contrast, pathway, score (t), pvalue, fdr (BH over
        the pathways of the contrast), n_genes (genes regressed), n_footprint (footprint genes
        among them).
    """
    parts = []
    for contrast, table in de_tables.items():
        for column in ("symbol", statistic):
            if column not in table.columns:
                raise InputError(f"DE table of contrast {contrast!r} has no column {column!r}")
        data = table.loc[table[statistic].notna() & (table["symbol"].astype(str) != "")]
        data = data.assign(_abs=data[statistic].abs()).sort_values(
            ["symbol", "_abs"], ascending=[True, False], kind="mergesort"
        )
        data = data.drop_duplicates("symbol")  # one row per symbol: the strongest statistic
        genes = pd.Index(data["symbol"].astype(str))
        weights = footprint_matrix(footprints, genes)
        scores, pvalues = ulm(data[statistic].to_numpy(dtype=float), weights.to_numpy())
        n_targets = (weights != 0).sum(axis=0).to_numpy()
        small = n_targets < min_targets
        scores, pvalues = np.where(small, np.nan, scores), np.where(small, np.nan, pvalues)
        parts.append(
            pd.DataFrame(
                {
                    "contrast": contrast,
                    "pathway": weights.columns,
                    "score": scores,
                    "pvalue": pvalues,
                    "fdr": _bh_with_nan(pvalues),
                    "n_genes": len(genes),
                    "n_footprint": n_targets.astype(np.int64),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=ACTIVITY_COLUMNS)
    return pd.concat(parts, ignore_index=True)[ACTIVITY_COLUMNS]


def sample_pathway_scores(
    expression: pd.DataFrame, footprints: pd.DataFrame, *, min_targets: int = 5
) -> pd.DataFrame:
    """Per-sample pathway scores: ulm of each sample's per-gene z-scores on the weights.

    Parameters
    ----------
    expression : ``n_samples x n_genes`` log-scale expression (e.g. VST), columns symbols
    footprints : long footprint table

    Returns
    -------
    pandas.DataFrame
        ``n_samples x n_pathways`` t-values (index the samples, columns pathways sorted);
        constant genes are left out; pathways with fewer than ``min_targets`` genes dropped.
    """
    spread = expression.std(axis=0, ddof=1)
    kept = expression.loc[:, spread > 0]
    z = (kept - kept.mean(axis=0)) / kept.std(axis=0, ddof=1)
    weights = footprint_matrix(footprints, pd.Index(z.columns))
    weights = weights.loc[:, (weights != 0).sum(axis=0) >= min_targets]
    scores, _ = ulm(z.to_numpy().T, weights.to_numpy())
    return pd.DataFrame(scores, index=expression.index, columns=weights.columns)


def _bh_with_nan(pvalues: np.ndarray) -> np.ndarray:
    fdr = np.full(len(pvalues), np.nan)
    finite = np.isfinite(pvalues)
    if finite.any():
        fdr[finite] = benjamini_hochberg(pvalues[finite])
    return fdr
