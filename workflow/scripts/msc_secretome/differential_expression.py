"""Differential expression with PyDESeq2: one fit per model, many contrasts from it."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from pydeseq2.dds import DeseqDataSet
from pydeseq2.default_inference import DefaultInference
from pydeseq2.ds import DeseqStats

RESULT_COLUMNS = [
    "gene_id",
    "symbol",
    "baseMean",
    "log2FoldChange",
    "lfcSE",
    "stat",
    "pvalue",
    "padj",
]


def prefilter_mask(counts: pd.DataFrame, min_count: int, min_samples: int) -> np.ndarray:
    """Genes kept: at least ``min_count`` reads in at least ``min_samples`` samples.

    ``counts`` is samples x genes. DESeq2's vignette filter (rowSums(counts >= 10) >= 3).
    """
    return (counts.to_numpy() >= min_count).sum(axis=0) >= min_samples


def fit_model(
    counts: pd.DataFrame,
    metadata: pd.DataFrame,
    design: str,
    *,
    size_factors: str = "ratio",
    refit_cooks: bool = True,
    min_replicates: int = 7,
    n_cpus: int = 1,
) -> DeseqDataSet:
    """Fit size factors, dispersions and coefficients for one model.

    ``counts``: samples x genes (already subset and prefiltered); ``metadata``: samples x
    factors with ordered categoricals (see :func:`design.model_samples`).
    """
    if not counts.index.equals(metadata.index):
        raise ValueError("counts and metadata must have the same samples in the same order")
    inference = DefaultInference(n_cpus=n_cpus)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        dds = DeseqDataSet(
            counts=counts,
            metadata=metadata,
            design=design,
            size_factors_fit_type=size_factors,
            refit_cooks=refit_cooks,
            min_replicates=min_replicates,
            inference=inference,
            quiet=True,
        )
        dds.deseq2()
    return dds


def contrast_results(
    dds: DeseqDataSet,
    vector: pd.Series,
    *,
    alpha: float = 0.05,
    independent_filter: bool = True,
    cooks_filter: bool = True,
    lfc_threshold: float = 0.0,
    symbols: pd.Series | None = None,
    n_cpus: int = 1,
) -> pd.DataFrame:
    """Wald test of one contrast vector; the table of the output contract."""
    columns = list(dds.obsm["design_matrix"].columns)
    if list(vector.index) != columns:
        raise ValueError(f"contrast vector columns {list(vector.index)} != design {columns}")
    inference = DefaultInference(n_cpus=n_cpus)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        stats = DeseqStats(
            dds,
            contrast=vector.to_numpy(dtype=float),
            alpha=alpha,
            cooks_filter=cooks_filter,
            independent_filter=independent_filter,
            lfc_null=lfc_threshold,
            alt_hypothesis="greaterAbs" if lfc_threshold > 0 else None,
            inference=inference,
            quiet=True,
        )
        stats.summary()
    table = stats.results_df.copy()
    table.insert(0, "gene_id", table.index.astype(str))
    if symbols is None:
        table.insert(1, "symbol", table["gene_id"])
    else:
        table.insert(1, "symbol", symbols.reindex(table["gene_id"]).fillna("").to_numpy())
    return table.loc[:, RESULT_COLUMNS].reset_index(drop=True)


def count_significant(table: pd.DataFrame, alpha: float) -> tuple[int, int]:
    """(up, down) genes at padj < alpha."""
    significant = table["padj"] < alpha
    return (
        int((significant & (table["log2FoldChange"] > 0)).sum()),
        int((significant & (table["log2FoldChange"] < 0)).sum()),
    )


def contrast_summary(
    contrasts: list,
    models: dict,
    samples: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    roles: dict,
    alpha: float,
) -> pd.DataFrame:
    """One row per contrast: what it asks, of which fit, how many genes moved, its role."""
    from .design import contrast_context
    from .programs import classify_contrast

    rows = []
    for contrast in contrasts:
        model = models[contrast.model]
        keep = np.ones(len(samples), dtype=bool)
        for column, levels in model.subset.items():
            keep &= samples[column].isin(levels).to_numpy()
        up, down = count_significant(tables[contrast.name], alpha)
        role = classify_contrast(
            kind=contrast.kind,
            terms=list(contrast.terms),
            context=contrast_context(contrast, model),
            roles=roles,
        )
        rows.append(
            {
                "contrast": contrast.name,
                "model": model.name,
                "kind": contrast.kind,
                "description": contrast.describe(),
                "design": model.design,
                "subset": model.subset_label(),
                "n_samples": int(keep.sum()),
                "n_tested": int(tables[contrast.name]["padj"].notna().sum()),
                "n_up": up,
                "n_down": down,
                "alpha": alpha,
                "side": role["side"] or "",
                "therapy": role["therapy"] or "",
                "role": role["role"] or "",
            }
        )
    return pd.DataFrame(rows)
