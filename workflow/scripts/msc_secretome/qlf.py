"""Quasi-likelihood F-test on the DESeq2 negative binomial model (``de.test: qlf``).

The Wald test treats each gene's estimated dispersion as known, so at the designs labs run
(~10 residual df) small p-values are too frequent (measured: ``benchmarks/de_calibration.py``).
edgeR's answer (Lund et al. 2012; ``glmQLFit``/``glmQLFTest``) is kept here on DESeq2's model:

1. the full and the contrast's reduced model are fitted at DESeq2's *trended* dispersion
   (``fitted_dispersions``), with DESeq2's size factors;
2. each gene's QL dispersion is its deviance over its residual df (df lowered where fitted
   values are exactly zero, as edgeR's ``.residDF``);
3. the QL dispersions are squeezed towards an abundance trend by limma's empirical Bayes
   (:func:`squeeze_var`, a port of ``squeezeVar``/``fitFDist`` with the natural-spline
   covariate trend, abundance = log2 baseMean);
4. ``F = LR / df_test / s2_post`` on ``(df_test, df_prior + df_residual)`` degrees of freedom,
   and no gene more significant than under Poisson variance (edgeR's ``poisson.bound``).

Everything is numpy/scipy on arrays of the model file (:mod:`model_store`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, polygamma
from scipy.stats import chi2, f

from .batched_inference import nb_log_binomial
from .lrt import check_nested, fit_fixed_dispersion, model_counts, nb_deviance, null_space_design

POISSON_DISPERSION = 1e-8


def trigamma_inverse(x: np.ndarray) -> np.ndarray:
    """Solve ``trigamma(y) = x`` for y > 0, elementwise (limma's ``trigammaInverse``)."""
    x = np.atleast_1d(np.asarray(x, dtype=float))
    y = np.full_like(x, np.nan)
    large, small = x > 1e7, x < 1e-6
    y[large] = 1 / np.sqrt(x[large])
    y[small] = 1 / x[small]
    rest = ~large & ~small & (x >= 0)
    value = x[rest]
    guess = 0.5 + 1 / value
    for _ in range(50):
        tri = polygamma(1, guess)
        step = tri * (1 - tri / value) / polygamma(2, guess)
        guess = guess + step
        if value.size == 0 or np.max(-step / guess) < 1e-8:
            break
    y[rest] = guess
    return y


def natural_spline_basis(x: np.ndarray, df: int, at: np.ndarray | None = None) -> np.ndarray:
    """A basis of R's ``splines::ns(x, df=df, intercept=TRUE)`` space, evaluated at ``at``.

    Same knots as ``ns`` (boundary: range of ``x``; ``df - 2`` interior knots at equally
    spaced quantiles of ``x``, R's type 7), written in the truncated-power basis of natural
    cubic splines (linear beyond the boundary knots, as ``predict.ns``). The columns differ
    from R's but span the same space, which is all a least-squares fit sees.
    Returns (len(at), df).
    """
    x = np.asarray(x, dtype=float)
    at = x if at is None else np.asarray(at, dtype=float)
    low, high = x.min(), x.max()
    width = high - low if high > low else 1.0
    interior = np.quantile(x, np.arange(1, df - 1) / (df - 1)) if df > 2 else np.array([])
    knots = (np.concatenate([[low], interior, [high]]) - low) / width
    u = (at - low) / width
    columns = [np.ones_like(u), u]

    def d(k):
        cube = np.maximum(u - knots[k], 0) ** 3 - np.maximum(u - knots[-1], 0) ** 3
        return cube / (knots[-1] - knots[k])

    for k in range(len(knots) - 2):
        columns.append(d(k) - d(len(knots) - 2))
    return np.column_stack(columns[:df])


def fit_f_dist(
    x: np.ndarray, df1: np.ndarray, covariate: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """limma's ``fitFDist``: scaled-F prior of variances ``x`` (genes,) on ``df1`` (genes,).

    Returns ``(scale (genes,), df2)``; with ``covariate`` the log-scale follows a natural
    spline trend in it (1 + [n>=3] + [n>=6] + [n>=30] df, at most the distinct values).
    """
    x = np.asarray(x, dtype=float)
    df1 = np.broadcast_to(np.asarray(df1, dtype=float), x.shape)
    n = x.size
    ok = np.isfinite(df1) & (df1 > 1e-15) & np.isfinite(x) & (x > -1e-15)
    if covariate is not None:
        covariate = np.asarray(covariate, dtype=float).copy()
        finite = np.isfinite(covariate)
        if not finite.all():
            low, high = covariate[finite].min(), covariate[finite].max()
            covariate[covariate == -np.inf] = low - 1
            covariate[covariate == np.inf] = high + 1
    n_ok = int(ok.sum())
    if n_ok == 1:
        return np.full(n, x[ok][0]), 0.0
    values, dfs = np.maximum(x[ok], 0), df1[ok]
    spline_df = 1
    if covariate is not None:
        spline_df = 1 + (n_ok >= 3) + (n_ok >= 6) + (n_ok >= 30)
        spline_df = min(spline_df, np.unique(covariate[ok]).size)
    median = np.median(values)
    values = np.maximum(values, 1e-5 * (median if median > 0 else 1.0))
    e = np.log(values) - digamma(dfs / 2) + np.log(dfs / 2)
    if spline_df < 2:
        emean = np.full(n, e.mean())
        evar = np.sum((e - e.mean()) ** 2) / (n_ok - 1)
    else:
        basis = natural_spline_basis(covariate[ok], spline_df)
        coefficients, *_ = np.linalg.lstsq(basis, e, rcond=None)
        rank = np.linalg.matrix_rank(basis)
        evar = np.sum((e - basis @ coefficients) ** 2) / (n_ok - rank)
        emean = natural_spline_basis(covariate[ok], spline_df, covariate) @ coefficients
    evar -= np.mean(polygamma(1, dfs / 2))
    if evar > 0:
        df2 = float(2 * trigamma_inverse(evar)[0])
        return np.exp(emean + digamma(df2 / 2) - np.log(df2 / 2)), df2
    scale = np.exp(emean) if spline_df >= 2 else np.full(n, values.mean())
    return scale, np.inf


def squeeze_var(
    var: np.ndarray, df: np.ndarray, covariate: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """limma's ``squeezeVar`` (not robust): ``(var_post, var_prior, df_prior)``, (genes,)."""
    var = np.where(np.asarray(df) == 0, 0.0, np.asarray(var, dtype=float))
    prior, df_prior = fit_f_dist(var, df, covariate)
    if np.isinf(df_prior):
        return prior.copy(), prior, df_prior
    return (df * var + df_prior * prior) / (df + df_prior), prior, df_prior


def residual_df(zero_fit: np.ndarray, design: np.ndarray) -> np.ndarray:
    """edgeR's ``.residDF``: residual df per gene, lowered where fitted values are zero.

    ``zero_fit``: (samples, genes) mask of samples with count and fitted value below 1e-4.
    """
    n, p = design.shape
    n_zero = zero_fit.sum(axis=0)
    df = np.where(n_zero == n, 0, n - p).astype(float)
    some = np.flatnonzero((n_zero > 0) & (n_zero < n))
    patterns: dict[bytes, int] = {}
    for gene in some:
        pattern = zero_fit[:, gene]
        key = pattern.tobytes()
        if key not in patterns:
            patterns[key] = np.linalg.matrix_rank(design[~pattern])
        df[gene] = max(n - n_zero[gene] - patterns[key], 0)
    return df


@dataclass(frozen=True)
class QLFullFit:
    """What the QL F-test needs of the full model: the same for every contrast of a fit.

    ``counts`` (samples, genes): the model's counts as floats (:func:`lrt.model_counts`);
    ``log_binomial`` (samples, genes): their :func:`batched_inference.nb_log_binomial` at the
    trended dispersion, which every fit of the test shares; ``deviance``, ``df_residual``,
    ``s2_post`` (genes,): the full model's deviance at the trended dispersion, its residual df
    and squeezed QL dispersion; ``df_prior``: the empirical-Bayes prior df; ``poisson_genes``
    (k,): the genes under edgeR's Poisson bound, with ``poisson_deviance`` (k,) the full
    model's deviance at Poisson variance.
    """

    counts: np.ndarray
    log_binomial: np.ndarray
    deviance: np.ndarray
    df_residual: np.ndarray
    s2_post: np.ndarray
    df_prior: float
    poisson_genes: np.ndarray
    poisson_deviance: np.ndarray


def ql_full_fit(fitted: dict) -> QLFullFit:
    """Fit the full model of ``fitted`` (:func:`model_store.read_model`) for the QL F-test.

    Computed once per model and passed to :func:`qlf_test` for each of its contrasts
    (steps 1-3 of the module docstring for the full model; the Poisson-bound fit of step 4).
    """
    design = np.asarray(fitted["design_matrix"], dtype=float)
    counts = model_counts(fitted)
    size_factors = np.asarray(fitted["size_factors"], dtype=float)
    trend = np.asarray(fitted["fitted_dispersions"], dtype=float)
    log_binomial = nb_log_binomial(counts, trend)
    _, mu_full = fit_fixed_dispersion(counts, size_factors, design, trend, log_binomial)
    deviance = nb_deviance(counts, mu_full, trend)
    df_residual = residual_df((mu_full < 1e-4) & (counts < 1e-4), design)
    with np.errstate(divide="ignore", invalid="ignore"):
        s2 = np.where(df_residual > 0, deviance / df_residual, 0.0)
    with np.errstate(divide="ignore"):
        abundance = np.log2(np.asarray(fitted["base_mean"], dtype=float))
    s2_post, _, df_prior = squeeze_var(np.maximum(s2, 0), df_residual, abundance)
    # edgeR's poisson.bound: never more significant than the test under Poisson variance
    below = ((mu_full * trend[None, :] + 1) * s2_post[None, :] < 1).any(axis=0)
    genes = np.flatnonzero(below)
    poisson_deviance = np.empty(0)
    if genes.size:
        poisson = np.full(genes.size, POISSON_DISPERSION)
        sub = counts[:, genes]
        _, mu1 = fit_fixed_dispersion(sub, size_factors, design, poisson)
        poisson_deviance = nb_deviance(sub, mu1, poisson)
    return QLFullFit(
        counts,
        log_binomial,
        deviance,
        df_residual,
        s2_post,
        float(df_prior),
        genes,
        poisson_deviance,
    )


def qlf_test(
    fitted: dict,
    contrast: np.ndarray,
    reduced_design: np.ndarray | None = None,
    where: str = "",
    full: QLFullFit | None = None,
) -> tuple[np.ndarray, np.ndarray, int, float]:
    """QL F-test of a contrast (or of a reduced design) on a model's arrays.

    Returns ``(pvalue, F, df_test, df_prior)``: (genes,) arrays, the numerator df and the
    empirical-Bayes prior df (``inf`` where the QL dispersions are all equal to the trend).
    ``fitted``: :func:`model_store.read_model`; ``contrast``: (p,) weights of the design's
    columns; ``full``: :func:`ql_full_fit` of ``fitted`` (computed here when not given; pass
    it to test several contrasts of one fit without refitting the full model each time).
    """
    design = np.asarray(fitted["design_matrix"], dtype=float)
    if reduced_design is None:
        reduced_design = null_space_design(design, contrast)
    df_test = check_nested(design, reduced_design, where)
    if full is None:
        full = ql_full_fit(fitted)
    counts = full.counts
    size_factors = np.asarray(fitted["size_factors"], dtype=float)
    trend = np.asarray(fitted["fitted_dispersions"], dtype=float)
    _, mu_reduced = fit_fixed_dispersion(
        counts, size_factors, reduced_design, trend, full.log_binomial
    )
    ratio = np.maximum(nb_deviance(counts, mu_reduced, trend) - full.deviance, 0.0)
    statistic = ratio / df_test / full.s2_post
    n, p = design.shape
    df_total = np.minimum(full.df_prior + full.df_residual, counts.shape[1] * (n - p))
    pvalue = f.sf(statistic, df_test, df_total)
    genes = full.poisson_genes
    if genes.size:
        poisson = np.full(genes.size, POISSON_DISPERSION)
        sub = counts[:, genes]
        _, mu0 = fit_fixed_dispersion(sub, size_factors, reduced_design, poisson)
        lr = np.maximum(nb_deviance(sub, mu0, poisson) - full.poisson_deviance, 0)
        pvalue[genes] = np.maximum(pvalue[genes], chi2.sf(lr, df_test))
    return pvalue, statistic, df_test, full.df_prior
