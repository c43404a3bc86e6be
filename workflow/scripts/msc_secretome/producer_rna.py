"""The secretome from the producer cells' RNA: ligands the MSCs express (or induce).

Input: the MSCs' raw counts (genes x samples, first column gene symbols, as the workflow's own
count matrix) and optionally a DE table of the producers (e.g. primed vs unprimed, columns
``symbol`` or ``gene_id``, ``log2FoldChange``, ``padj``: the workflow's ``results/de`` layout).
A ligand of the resource is in the secretome when its mean counts per million over the
producer samples reach ``min_cpm``, or when the DE table calls it induced
(``padj < alpha`` and ``log2FoldChange > 0``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputError
from .tables import read_table
from .validation import read_counts


def producer_ligands(
    counts_path: str,
    resource_ligands: set[str],
    *,
    de_path: str | None = None,
    min_cpm: float = 10.0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Ligands of the resource that the producer cells express or induce.

    Returns
    -------
    pandas.DataFrame
        one row per ligand: ligand, in_secretome, abundance (mean CPM), log2_fold_change
        (from the DE table, else NaN); sorted by ligand.
    """
    counts = read_counts(counts_path)
    cpm = counts / counts.sum(axis=0).replace(0, np.nan) * 1e6
    mean_cpm = cpm.mean(axis=1)
    mean_cpm.index = mean_cpm.index.astype(str)
    mean_cpm = mean_cpm.groupby(level=0).max()
    induced = pd.Series(dtype=float)
    lfc = pd.Series(dtype=float)
    if de_path:
        de = read_table(de_path)
        gene_column = "symbol" if "symbol" in de.columns else "gene_id"
        missing = [c for c in (gene_column, "log2FoldChange", "padj") if c not in de.columns]
        if missing:
            raise InputError(
                f"producer DE table lacks column(s) {missing}",
                path=de_path,
                fix="give symbol (or gene_id), log2FoldChange and padj (results/de layout)",
            )
        numbers = de[["log2FoldChange", "padj"]].apply(pd.to_numeric, errors="coerce")
        lfc = pd.Series(numbers["log2FoldChange"].to_numpy(), index=de[gene_column])
        called = (numbers["padj"] < alpha) & (numbers["log2FoldChange"] > 0)
        induced = lfc[called.to_numpy()]
        lfc = lfc.groupby(level=0).max()
    expressed = set(mean_cpm.index[mean_cpm >= min_cpm])
    chosen = sorted((expressed | set(induced.index)) & resource_ligands)
    if not chosen:
        raise InputError(
            f"no ligand of the ligand-receptor resource is expressed (mean CPM >= {min_cpm}) "
            "or induced in the producer cells",
            path=counts_path,
            fix="the first column must hold gene symbols; or lower secretome.producer_rna.min_cpm",
        )
    rows = []
    for ligand in chosen:
        cpm_value = float(mean_cpm.get(ligand, np.nan))
        how = f"producer RNA (mean CPM {cpm_value:.3g}"
        if ligand in induced.index:
            how += f", induced log2FC {float(lfc[ligand]):+.3g}"
        rows.append((ligand, how + ")", cpm_value, float(lfc.get(ligand, np.nan))))
    return pd.DataFrame(rows, columns=["ligand", "in_secretome", "abundance", "log2_fold_change"])
