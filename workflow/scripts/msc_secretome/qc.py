"""Quality control and exploration: library sizes, size factors, VST, PCA, sample distances."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd
from scipy.stats import trim_mean

from .batched_inference import BatchedInference
from .pydeseq2_api import DeseqDataSet


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


VST_MIN_MEAN = 5.0  # DESeq2 vst(): trend genes have a mean normalised count above 5


def vst_trend_genes(normed_means: np.ndarray, n_genes: int) -> np.ndarray:
    """DESeq2 ``vst()``'s ``nsub`` trend genes: evenly spaced ranks of the mean, above 5.

    DESeq2 (1.38) keeps the genes whose mean normalised count is above 5, orders them by that
    mean (``order``: ties keep their input order) and takes the ranks
    ``round(seq(1, n, length = nsub))`` (round half to even, as R). Unlike R, which stops, fewer
    than ``n_genes`` such genes gives all of them.

    Parameters
    ----------
    normed_means : (genes,) array
        Mean normalised count of each gene.
    n_genes : int
        ``nsub``, at least 1.

    Returns
    -------
    (min(n_genes, passing),) int array
        Positions in ``normed_means`` of the trend genes, by increasing mean (R's order).
    """
    means = np.asarray(normed_means, dtype=float)
    passing = np.flatnonzero(means > VST_MIN_MEAN)
    order = passing[np.argsort(means[passing], kind="stable")]
    n = order.size
    if n <= n_genes:
        return order
    if n_genes == 1:
        return order[:1]
    positions = np.empty(n_genes)
    # R's seq.default(from, to, length.out): c(from, from + (1:(m - 2)) * (del / n1), to)
    positions[0], positions[-1] = 1.0, float(n)
    positions[1:-1] = 1.0 + np.arange(1, n_genes - 1) * ((n - 1) / (n_genes - 1))
    return order[np.rint(positions).astype(int) - 1]


@dataclass(frozen=True)
class VstTrend:
    """What the blind VST's dispersion trend was fitted on, and the trend used.

    ``requested``: ``qc.vst_genes``; ``genes``: genes transformed; ``passing``: those with mean
    normalised count > 5; ``fitted_on``: the trend genes (``genes`` for ``all``); ``fit_type``:
    ``parametric`` (``a0 + a1 / mean``, ``coefficients``) or ``mean`` (PyDESeq2's fallback
    when the parametric fit fails: one trimmed-mean dispersion, ``mean_dispersion``).
    """

    requested: int | str
    genes: int
    passing: int
    fitted_on: int
    fit_type: str
    coefficients: tuple[float, float] | None = None
    mean_dispersion: float | None = None

    def describe(self) -> str:
        """One log line."""
        if self.requested == "all":
            subset = f"all {self.genes} genes (qc.vst_genes: all)"
        elif self.passing == 0:
            subset = f"all {self.genes} genes (none has a mean normalised count > 5)"
        elif self.fitted_on < self.requested:
            subset = (
                f"all {self.passing} genes with mean normalised count > 5, fewer than "
                f"qc.vst_genes = {self.requested} (DESeq2's vst() would stop here)"
            )
        else:
            subset = f"{self.fitted_on} of the {self.passing} genes with mean normalised count > 5"
        if self.fit_type == "parametric":
            a0, a1 = self.coefficients
            trend = f"parametric trend a0 = {a0:.6g}, a1 = {a1:.6g}"
        else:
            trend = (
                f"the parametric fit failed: mean dispersion {self.mean_dispersion:.6g} "
                "(the transform is DESeq2's closed form for one dispersion)"
            )
        return f"blind VST of {self.genes} genes, trend fitted on {subset}: {trend}"


def _blind_dataset(counts: pd.DataFrame, metadata: pd.DataFrame, size_factors: str):
    meta = metadata.copy()
    meta["_all"] = "all"
    return DeseqDataSet(
        counts=counts,
        metadata=meta,
        design="~1",
        size_factors_fit_type=size_factors,
        inference=BatchedInference(),
        quiet=True,
    )


def _trend(dds: DeseqDataSet, *sizes) -> VstTrend:
    if dds.vst_fit_type == "parametric":
        a0, a1 = (float(c) for c in dds.uns["vst_trend_coeffs"])
        return VstTrend(*sizes, "parametric", coefficients=(a0, a1))
    dispersions = dds.var["vst_genewise_dispersions"]
    used = dispersions[dispersions > 10 * dds.min_disp]
    mean = float(trim_mean(used, proportiontocut=0.001))
    return VstTrend(*sizes, "mean", mean_dispersion=mean)


def variance_stabilised(
    counts: pd.DataFrame,
    metadata: pd.DataFrame,
    *,
    size_factors: str = "ratio",
    trend_genes: int | str = 1000,
):
    """Blind VST (DESeq2's, intercept-only dispersion trend) -> (VST, size factors, trend).

    ``trend_genes`` (``qc.vst_genes``): as DESeq2's ``vst(nsub = 1000)``, the trend is fitted
    on that many genes (:func:`vst_trend_genes`), then every gene is transformed with it;
    ``"all"`` fits it on every gene (``varianceStabilizingTransformation``). Size factors and
    the means that pick the trend genes come from all genes, as in R. Dispersions are
    PyDESeq2's (:class:`BatchedInference`), its parametric trend, and its fallback when that
    fails: one (trimmed-mean) dispersion and DESeq2's closed-form transform for it, where R
    would use a local fit (:class:`VstTrend`).

    Parameters
    ----------
    counts : (samples, genes) DataFrame
    metadata : (samples, factors) DataFrame

    Returns
    -------
    vst : (samples, genes) DataFrame
    factors : (samples,) Series
    trend : VstTrend
    """
    if trend_genes != "all" and not (isinstance(trend_genes, int) and trend_genes >= 1):
        raise ValueError(f"qc.vst_genes must be a positive integer or 'all', not {trend_genes!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dds = _blind_dataset(counts, metadata, size_factors)
        if trend_genes == "all":
            dds.vst(use_design=False)
            vst = dds.layers["vst_counts"]
            means = dds.var["_normed_means"].to_numpy(dtype=float)
            passing = int((means > VST_MIN_MEAN).sum())
            trend = _trend(dds, "all", counts.shape[1], passing, counts.shape[1])
        else:
            dds.fit_size_factors()
            means = dds.var["_normed_means"].to_numpy(dtype=float)
            picks = vst_trend_genes(means, trend_genes)
            if picks.size == 0:  # nothing above 5: fit on every gene
                picks = np.arange(counts.shape[1])
            sub = _blind_dataset(counts.iloc[:, picks], metadata, size_factors)
            sub.obs["size_factors"] = dds.obs["size_factors"].to_numpy()
            sub.layers["normed_counts"] = dds.layers["normed_counts"][:, picks]
            sub.var["_normed_means"] = means[picks]
            sub.vst_fit_type = "parametric"
            sub.fit_genewise_dispersions(vst=True)
            sub._fit_parametric_dispersion_trend(vst=True)  # -> mean if it fails
            passing = int((means > VST_MIN_MEAN).sum())
            trend = _trend(sub, trend_genes, counts.shape[1], passing, picks.size)
            dds.vst_fit_type = sub.vst_fit_type
            if sub.vst_fit_type == "parametric":
                dds.uns["vst_trend_coeffs"] = sub.uns["vst_trend_coeffs"]
            else:  # vst_transform takes the mean of these (the trend genes' dispersions)
                dispersions = np.full(counts.shape[1], np.nan)
                dispersions[picks] = sub.var["vst_genewise_dispersions"].to_numpy()
                dds.var["vst_genewise_dispersions"] = dispersions
            vst = dds.vst_transform()
    vst = pd.DataFrame(vst, index=counts.index, columns=counts.columns)
    factors = pd.Series(dds.obs["size_factors"].to_numpy(dtype=float), index=counts.index)
    return vst, factors, trend


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


#: pairs closer than this (squared distance over the two samples' squared norms) are
#: recomputed from their differences, where the Gram identity loses digits
NEAR_PAIR = 1e-5


def sample_distances(vst: pd.DataFrame) -> pd.DataFrame:
    """Euclidean distances between samples on the VST scale (square, index = sample).

    Computed as ``|x|^2 + |y|^2 - 2 x.y`` on gene-centred values (one matrix product, so 2,000
    samples x 46,000 genes take seconds, not the minutes of a pairwise loop); pairs that are
    nearly equal are recomputed from their differences (identical samples are exactly 0).
    Agrees with ``scipy.spatial.distance.pdist`` to a relative 1e-12.

    Parameters
    ----------
    vst : (samples, genes) DataFrame

    Returns
    -------
    (samples, samples) DataFrame
    """
    values = vst.to_numpy(dtype=float)
    centred = values - values.mean(axis=0)
    norms = np.einsum("ij,ij->i", centred, centred)
    scale = norms[:, None] + norms[None, :]
    squared = scale - 2.0 * (centred @ centred.T)
    near = np.argwhere(np.triu(squared < NEAR_PAIR * scale, k=1))
    for i, j in near:
        difference = centred[i] - centred[j]
        squared[i, j] = squared[j, i] = difference @ difference
    np.fill_diagonal(squared, 0.0)
    matrix = np.sqrt(np.maximum(squared, 0.0))
    table = pd.DataFrame(matrix, index=vst.index, columns=vst.index)
    table.index.name = "sample"
    return table
