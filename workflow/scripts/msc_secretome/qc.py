"""Quality control and exploration: library sizes, size factors, VST, PCA, sample distances."""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
from pydeseq2.dds import DeseqDataSet
from scipy.spatial.distance import pdist, squareform

from .batched_inference import BatchedInference


def library_sizes(counts: pd.DataFrame, size_factors: pd.Series) -> pd.DataFrame:
    """Per sample: total counts, genes detected (count > 0) and the DESeq2 size factor.

    ``counts``: samples x genes.
    """
    return pd.DataFrame(
        {
            "sample": counts.index,
            "total_counts": counts.sum(axis=1).to_numpy(),
            "detected_genes": (counts > 0).sum(axis=1).to_numpy(),
            "size_factor": size_factors.reindex(counts.index).to_numpy(),
        }
    )


def variance_stabilised(counts: pd.DataFrame, metadata: pd.DataFrame, *, size_factors="ratio"):
    """Blind VST (DESeq2's, intercept-only dispersion trend) -> (samples x genes, size factors).

    Dispersions for the trend are fitted with :class:`BatchedInference` (all genes at once).
    """
    meta = metadata.copy()
    meta["_all"] = "all"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dds = DeseqDataSet(
            counts=counts,
            metadata=meta,
            design="~1",
            size_factors_fit_type=size_factors,
            inference=BatchedInference(),
            quiet=True,
        )
        dds.vst(use_design=False)
    vst = pd.DataFrame(dds.layers["vst_counts"], index=counts.index, columns=counts.columns)
    factors = pd.Series(dds.obs["size_factors"].to_numpy(dtype=float), index=counts.index)
    return vst, factors


def principal_components(
    vst: pd.DataFrame,
    metadata: pd.DataFrame,
    *,
    n_top_genes: int = 500,
    n_components: int = 10,
    seed: int = 0,
):
    """PCA (scanpy) of the most variable VST genes -> (scores table, variance table, AnnData)."""
    import scanpy as sc

    variances = vst.var(axis=0).sort_values(ascending=False, kind="stable")
    top = variances.index[: min(n_top_genes, len(variances))]
    adata = ad.AnnData(
        X=vst.loc[:, top].to_numpy(dtype=np.float64),
        obs=metadata.astype(str).reindex(vst.index),
        var=pd.DataFrame(index=[str(g) for g in top]),
    )
    n_components = max(1, min(n_components, adata.n_obs - 1, adata.n_vars - 1))
    sc.pp.pca(adata, n_comps=n_components, svd_solver="covariance_eigh", random_state=seed)
    scores = adata.obsm["X_pca"]
    # Fix the arbitrary sign of each component: largest absolute loading positive.
    loadings = adata.varm["PCs"]
    signs = np.sign(loadings[np.abs(loadings).argmax(axis=0), np.arange(loadings.shape[1])])
    signs[signs == 0] = 1
    scores = scores * signs
    names = [f"PC{i + 1}" for i in range(n_components)]
    table = pd.DataFrame(scores, columns=names)
    table.insert(0, "sample", list(vst.index))
    variance = pd.DataFrame(
        {"component": names, "variance_ratio": adata.uns["pca"]["variance_ratio"]}
    )
    return table, variance, adata


def sample_distances(vst: pd.DataFrame) -> pd.DataFrame:
    """Euclidean distances between samples on the VST scale (square, index = sample)."""
    matrix = squareform(pdist(vst.to_numpy(dtype=float), metric="euclidean"))
    table = pd.DataFrame(matrix, index=vst.index, columns=vst.index)
    table.index.name = "sample"
    return table
