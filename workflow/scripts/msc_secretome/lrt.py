"""Likelihood-ratio tests of a contrast on the negative binomial GLM at fixed dispersions.

``de.test: lrt`` is DESeq2's ``nbinomLRT``: the full and the reduced model are fitted with the
same (final, MAP) dispersions and the deviance difference is referred to chi-square with the
difference in coefficients as degrees of freedom. The reduced model of a contrast ``c`` is the
full design restricted to the coefficients orthogonal to ``c`` (``X N`` with ``N`` a basis of
``c``'s null space), as edgeR's ``glmLRT(contrast=)`` builds it; a contrast may name its own
reduced design instead (e.g. ``~ batch + medium`` to test every level of therapy at once).

The fits are :class:`batched_inference.BatchedInference`'s IRLS (DESeq2's, all genes at once).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import xlogy
from scipy.stats import chi2

from .errors import InputError

MIN_MU = 0.5  # DESeq2's minmu for the IRLS
BETA_TOL = 1e-8  # DESeq2's betaTol


def null_space_design(design_matrix: np.ndarray, contrast: np.ndarray) -> np.ndarray:
    """(samples, p - 1) design of the model with ``contrast @ beta = 0`` imposed."""
    contrast = np.asarray(contrast, dtype=float).reshape(-1, 1)
    q, _ = np.linalg.qr(contrast, mode="complete")
    return design_matrix @ q[:, 1:]


def check_nested(full: np.ndarray, reduced: np.ndarray, where: str) -> int:
    """Degrees of freedom of the test; ``InputError`` unless ``reduced`` lies in ``full``'s span."""
    coefficients, *_ = np.linalg.lstsq(full, reduced, rcond=None)
    if not np.allclose(full @ coefficients, reduced, atol=1e-8):
        raise InputError(
            f"{where}: the reduced design is not nested in the model's design",
            path="contrasts",
            fix="the reduced design must drop terms of the full design, not add new ones",
        )
    df = np.linalg.matrix_rank(full) - np.linalg.matrix_rank(reduced)
    if df < 1:
        raise InputError(
            f"{where}: the reduced design has as many coefficients as the full one",
            path="contrasts",
            fix="drop at least one term from the full design",
        )
    return int(df)


def nb_deviance(counts: np.ndarray, mu: np.ndarray, dispersion: np.ndarray) -> np.ndarray:
    """Negative binomial deviance per gene: counts, mu (samples, genes); dispersion (genes,).

    ``2 sum[y log(y / mu) - (y + 1/phi) log((1 + phi y) / (1 + phi mu))]``, the unit deviance
    edgeR sums (Poisson's where ``phi`` is 0).
    """
    phi = np.asarray(dispersion, dtype=float)[None, :]
    y = np.asarray(counts, dtype=float)
    poisson_genes = np.flatnonzero(phi[0] <= 1e-10)
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = xlogy(y, y / mu)  # shared by both unit deviances, computed once
        poisson = unit[:, poisson_genes] - (y[:, poisson_genes] - mu[:, poisson_genes])
        size = np.where(phi > 0, 1.0 / np.where(phi > 0, phi, 1.0), np.inf)
        log_ratio = np.log1p(phi * y)
        log_ratio -= np.log1p(phi * mu)
        log_ratio *= y + size
        unit -= log_ratio
    unit[:, poisson_genes] = poisson
    return 2.0 * np.maximum(unit, 0.0, out=unit).sum(axis=0)


def model_counts(fitted: dict) -> np.ndarray:
    """A model's counts as floats in row-major order: (samples, genes).

    The model file stores them column-major (as PyDESeq2 holds them); the fits and deviances
    combine them elementwise with row-major means, which is faster on one layout (same
    values either way).
    """
    return np.ascontiguousarray(fitted["counts"], dtype=float)


def fit_fixed_dispersion(
    counts: np.ndarray,
    size_factors: np.ndarray,
    design: np.ndarray,
    dispersion: np.ndarray,
    log_binomial: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """NB GLM fit of every gene at fixed dispersions: ``(beta (genes, p), mu (samples, genes))``.

    DESeq2's IRLS (start, ridge, tolerance) batched; genes that diverge are refitted by
    PyDESeq2's per-gene solver (:meth:`BatchedInference.irls`). ``log_binomial`` (samples,
    genes): ``batched_inference.nb_log_binomial(counts, dispersion)``, for a caller that fits
    several designs at the same dispersions.
    """
    from .batched_inference import BatchedInference

    beta, mu, _, _ = BatchedInference().irls(
        np.asarray(counts, dtype=float),
        np.asarray(size_factors, dtype=float),
        np.asarray(design, dtype=float),
        np.asarray(dispersion, dtype=float),
        MIN_MU,
        BETA_TOL,
        with_hat=False,
        log_binomial=log_binomial,
    )
    return beta, mu


@dataclass(frozen=True)
class LRTFullFit:
    """What the LRT needs of the full model, the same for every contrast of a fit.

    ``counts`` (samples, genes): the model's counts as floats (:func:`model_counts`);
    ``log_binomial`` (samples, genes): their ``nb_log_binomial`` at the final dispersions,
    shared by the full and every reduced fit; ``deviance`` (genes,): the full model's.
    """

    counts: np.ndarray
    log_binomial: np.ndarray
    deviance: np.ndarray


def lrt_full_fit(fitted: dict) -> LRTFullFit:
    """Fit the full model of ``fitted`` (:func:`model_store.read_model`) at its final (MAP)
    dispersions, once per model, for :func:`lrt_test` of each of its contrasts."""
    from .batched_inference import nb_log_binomial

    counts = model_counts(fitted)
    size_factors = np.asarray(fitted["size_factors"], dtype=float)
    dispersion = np.asarray(fitted["dispersions"], dtype=float)
    log_binomial = nb_log_binomial(counts, dispersion)
    design = np.asarray(fitted["design_matrix"], dtype=float)
    _, mu_full = fit_fixed_dispersion(counts, size_factors, design, dispersion, log_binomial)
    return LRTFullFit(counts, log_binomial, nb_deviance(counts, mu_full, dispersion))


def lrt_test(
    fitted: dict,
    contrast: np.ndarray,
    reduced_design: np.ndarray | None = None,
    where: str = "",
    full: LRTFullFit | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """DESeq2's LRT (``nbinomLRT``) at the model's final dispersions.

    Returns ``(pvalue, LR statistic, df)``, (genes,) each; ``reduced_design`` (samples, p0)
    defaults to the contrast's null-space design (:func:`null_space_design`); ``full``:
    :func:`lrt_full_fit` of ``fitted`` (fitted here when not given; pass it to test several
    contrasts of one fit without refitting the full model each time).
    """
    design = np.asarray(fitted["design_matrix"], dtype=float)
    if reduced_design is None:
        reduced_design = null_space_design(design, contrast)
    df = check_nested(design, reduced_design, where)
    if full is None:
        full = lrt_full_fit(fitted)
    dispersion = np.asarray(fitted["dispersions"], dtype=float)
    size_factors = np.asarray(fitted["size_factors"], dtype=float)
    _, mu_reduced = fit_fixed_dispersion(
        full.counts, size_factors, reduced_design, dispersion, full.log_binomial
    )
    reduced_deviance = nb_deviance(full.counts, mu_reduced, dispersion)
    ratio = np.maximum(reduced_deviance - full.deviance, 0.0)
    return chi2.sf(ratio, df), ratio, df
