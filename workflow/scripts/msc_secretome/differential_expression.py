"""Differential expression with PyDESeq2: one fit per model, many contrasts from it."""

from __future__ import annotations

import warnings
from unittest import mock

import numpy as np
import pandas as pd

from .batched_inference import BatchedInference
from .design import design_variables
from .dispersion_trend import (
    FIT_TYPES,
    LocalDispersionTrend,
    ParametricFitFailed,
    parametric_trend,
    r_parametric_fit,
)
from .model_store import metadata_arrays
from .pydeseq2_api import DefaultInference, DeseqDataSet
from .wald import contrast_table

ENGINES = ("batched", "pydeseq2")


def prefilter_mask(counts: pd.DataFrame, min_count: int, min_samples: int) -> np.ndarray:
    """Genes kept: at least ``min_count`` reads in at least ``min_samples`` samples.

    ``counts`` is samples x genes. DESeq2's vignette filter (rowSums(counts >= 10) >= 3).
    """
    return (counts.to_numpy() >= min_count).sum(axis=0) >= min_samples


def inference_engine(engine: str = "batched", n_cpus: int = 1):
    """The PyDESeq2 inference object for ``de.engine``.

    ``batched`` (default): :class:`batched_inference.BatchedInference`, PyDESeq2's estimators
    on blocks of genes at once (about 10x faster, one core). ``pydeseq2``: PyDESeq2's own
    per-gene :class:`DefaultInference` on ``n_cpus`` joblib workers.
    """
    if engine == "batched":
        return BatchedInference()
    if engine == "pydeseq2":
        return DefaultInference(n_cpus=n_cpus)
    raise ValueError(f"de.engine must be one of {ENGINES}, not {engine!r}")


class SmallDfDeseqDataSet(DeseqDataSet):
    """PyDESeq2's ``DeseqDataSet`` with DESeq2's trend fallback and small-df prior variance.

    Trend (``trend_fit_type``: parametric | local | mean, :mod:`dispersion_trend`): a failed
    parametric fit falls back to DESeq2's local fit, as in R (PyDESeq2 goes to the mean).
    ``uns["dispersion_trend"]`` is the fit used, ``uns["dispersion_trend_reason"]`` why.
    Prior variance: PyDESeq2 uses the MAD formula at every df (and warns below 4); DESeq2
    switches to its simulation estimate at 1-3 residual df
    (:func:`dispersion_prior.small_df_prior_variance`, seeded by ``prior_seed``).
    """

    prior_seed: int = 2
    trend_fit_type: str = "parametric"
    local_trend: LocalDispersionTrend | None = None

    def fit_dispersion_trend(self, vst: bool = False) -> None:
        if vst:  # the VST's own trend stays PyDESeq2's
            super().fit_dispersion_trend(vst)
            return
        if "genewise_dispersions" not in self.var:
            self.fit_genewise_dispersions()
        genes = self.non_zero_genes
        means = self.var.loc[genes, "_normed_means"]
        dispersions = self.var.loc[genes, "genewise_dispersions"]
        used, reason = self.trend_fit_type, f"de.fit_type: {self.trend_fit_type}"
        if used not in FIT_TYPES:
            raise ValueError(f"de.fit_type must be one of {FIT_TYPES}, not {used!r}")
        self.var["fitted_dispersions"] = np.full(self.n_vars, np.nan)
        above = (dispersions > 100 * self.min_disp).to_numpy()
        if used == "parametric":
            # R's decision (DESeq2's own fit on its genes); PyDESeq2's coefficients where its
            # fit succeeds too (so its results are unchanged), else R's
            try:
                r_coefficients = r_parametric_fit(
                    means.to_numpy(dtype=float)[above], dispersions.to_numpy(dtype=float)[above]
                )
            except ParametricFitFailed as failure:
                used, reason = "local", f"{failure}; DESeq2 then uses the local fit"
            else:
                try:
                    coefficients = parametric_trend(
                        means, dispersions, self.inference.dispersion_trend_gamma_glm
                    )
                except ParametricFitFailed as failure:
                    coefficients = r_coefficients
                    reason += f"; PyDESeq2's fit failed ({failure}), DESeq2's coefficients"
                self.uns["trend_coeffs"] = pd.Series(coefficients, index=["a0", "a1"])
                self.uns["disp_function_type"] = "parametric"
        if used == "local":
            if above.sum() >= 3:
                self.local_trend = LocalDispersionTrend(
                    means.to_numpy(dtype=float)[above], dispersions.to_numpy(dtype=float)[above]
                )
                self.uns["disp_function_type"] = "local"
            else:
                used = "mean"
                reason += f"; only {int(above.sum())} genes above 100 x the minimum dispersion"
        if used == "mean":
            self._fit_mean_dispersion_trend()
        else:
            self.var.loc[self.var["non_zero"], "fitted_dispersions"] = self.disp_function(
                self.var.loc[self.var["non_zero"], "_normed_means"]
            )
        self.uns["dispersion_trend"] = used
        self.uns["dispersion_trend_reason"] = reason

    def disp_function(self, x):
        if self.uns.get("disp_function_type") == "local":
            return self.local_trend(np.asarray(x, dtype=float))
        return super().disp_function(x)

    def _refit_without_outliers(self) -> None:
        """PyDESeq2's refit of Cook's outliers; a local trend is evaluated at the new means.

        PyDESeq2 refits in a plain ``DeseqDataSet`` that knows the parametric and mean trends
        only; for the duration of the refit its ``disp_function`` also evaluates this fit's
        local trend (DESeq2's refit reuses the trend function likewise).
        """
        if self.uns.get("disp_function_type") != "local":
            super()._refit_without_outliers()
            return
        plain = DeseqDataSet.disp_function
        trend = self.local_trend

        def disp_function(dds, x):
            if dds.uns.get("disp_function_type") == "local":
                return trend(np.asarray(x, dtype=float))
            return plain(dds, x)

        with mock.patch.object(DeseqDataSet, "disp_function", disp_function):
            super()._refit_without_outliers()

    def fit_dispersion_prior(self) -> None:
        super().fit_dispersion_prior()
        n, p = self.obsm["design_matrix"].shape
        if 1 <= n - p <= 3:
            from .dispersion_prior import small_df_prior_variance

            genes = self.var.loc[self.non_zero_genes]
            above = genes["genewise_dispersions"] >= 100 * self.min_disp
            residuals = np.log(genes["genewise_dispersions"]) - np.log(genes["fitted_dispersions"])
            self.uns["prior_disp_var"] = np.float64(
                small_df_prior_variance(
                    residuals[above].to_numpy(dtype=float), n - p, self.prior_seed
                )
            )


def fit_model(
    counts: pd.DataFrame,
    metadata: pd.DataFrame,
    design: str,
    *,
    size_factors: str = "ratio",
    refit_cooks: bool = True,
    min_replicates: int = 7,
    engine: str = "batched",
    n_cpus: int = 1,
    prior_seed: int = 2,
    fit_type: str = "parametric",
) -> DeseqDataSet:
    """Fit size factors, dispersions and coefficients for one model.

    ``counts``: samples x genes (already subset and prefiltered); ``metadata``: samples x
    factors with ordered categoricals (see :func:`design.model_samples`); ``engine``: see
    :func:`inference_engine` (``n_cpus`` is used by the ``pydeseq2`` engine only);
    ``prior_seed``: seed of DESeq2's simulation estimate of the dispersion prior variance at
    1-3 residual df; ``fit_type``: the dispersion trend, parametric (R's fallback to local
    when it fails) | local | mean (:class:`SmallDfDeseqDataSet`).
    """
    if not counts.index.equals(metadata.index):
        raise ValueError("counts and metadata must have the same samples in the same order")
    inference = inference_engine(engine, n_cpus)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        dds = SmallDfDeseqDataSet(
            counts=counts,
            metadata=metadata,
            design=design,
            size_factors_fit_type=size_factors,
            refit_cooks=refit_cooks,
            min_replicates=min_replicates,
            inference=inference,
            quiet=True,
        )
        dds.prior_seed = prior_seed
        dds.trend_fit_type = fit_type
        dds.deseq2()
    return dds


def model_arrays(dds: DeseqDataSet, symbols: pd.Series | None = None) -> dict[str, np.ndarray]:
    """A fitted model as plain arrays: what every contrast job reads (:mod:`model_store`).

    Numbers and text only (no PyDESeq2 objects, no object arrays), so the fit crosses the job
    boundary as data and a contrast job loads it without importing PyDESeq2. Keys: see
    ``model_store.ARRAYS``; shapes with n samples, g genes, p coefficients: ``counts`` (n, g)
    integers, ``design_matrix`` (n, p), ``lfc`` (g, p) natural log, ``size_factors`` (n,),
    ``dispersions`` (final, MAP), ``fitted_dispersions`` (trend), ``genewise_dispersions``,
    ``base_mean`` (g,); masks (g,) that do not depend on the contrast: Cook's outliers
    (``DeseqDataSet.cooks_outlier``), genes left all-zero after outlier replacement, genes with
    a non-zero count; the design formula and, per design variable, the sample values and
    levels (reference first); ``dispersion_trend`` (text): the trend fit used (parametric |
    local | mean). ``symbols``: gene id -> symbol (default: the gene id).
    """
    gene_id = np.asarray(dds.var_names, dtype=str)
    all_zero = np.zeros(dds.n_vars, dtype=bool)
    if dds.refit_cooks and dds.var["replaced"].sum() > 0:
        all_zero = np.asarray(dds.var_names.isin(dds.new_all_zeroes_genes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        cooks_outlier = np.asarray(dds.cooks_outlier(), dtype=bool)
    if symbols is None:
        symbol = gene_id.copy()
    else:
        symbol = np.asarray(symbols.reindex(gene_id).fillna("").astype(str), dtype=str)
    metadata = dds.obs.loc[:, design_variables(dds.design)]
    return {
        "design": np.asarray(dds.design, dtype=str),
        "gene_id": gene_id,
        "symbol": symbol,
        "columns": np.asarray(list(dds.obsm["design_matrix"].columns), dtype=str),
        "design_matrix": dds.obsm["design_matrix"].to_numpy(dtype=float),
        "lfc": dds.varm["LFC"].to_numpy(dtype=float),
        "counts": np.asarray(dds.X).astype(np.int64),
        "size_factors": dds.obs["size_factors"].to_numpy(dtype=float),
        "dispersions": dds.var["dispersions"].to_numpy(dtype=float),
        "fitted_dispersions": dds.var["fitted_dispersions"].to_numpy(dtype=float),
        "genewise_dispersions": dds.var["genewise_dispersions"].to_numpy(dtype=float),
        "base_mean": dds.var["_normed_means"].to_numpy(dtype=float),
        "cooks_outlier": cooks_outlier,
        "all_zero_after_refit": all_zero,
        "non_zero": np.asarray(dds.var["non_zero"], dtype=bool),
        "dispersion_trend": np.asarray(dds.uns.get("dispersion_trend", "parametric"), dtype=str),
    } | metadata_arrays(metadata)


def contrast_results(
    dds: DeseqDataSet,
    vector: pd.Series,
    *,
    alpha: float = 0.05,
    independent_filter: bool = True,
    cooks_filter: bool = True,
    lfc_threshold: float = 0.0,
    symbols: pd.Series | None = None,
    test: str = "wald",
) -> pd.DataFrame:
    """Test of one contrast vector (``test``: wald | lrt | qlf); the output-contract table.

    PyDESeq2's ``DeseqStats`` numbers (Wald statistics and p-values, Cook's-filtered p-values
    NaN, as in R) computed by :func:`wald.contrast_table` from :func:`model_arrays`. With
    ``independent_filter``, padj follows DESeq2's own procedure
    (:func:`independent_filter_padj`, a port of R's ``lowess``), so the calls equal R's.
    """
    return contrast_table(
        model_arrays(dds),
        vector,
        alpha=alpha,
        independent_filter=independent_filter,
        cooks_filter=cooks_filter,
        lfc_threshold=lfc_threshold,
        symbols=symbols,
        test=test,
    )
