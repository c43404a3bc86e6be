"""The fits at fixed dispersions behind the LRT and QL F-test (``lrt``, ``qlf``,
``batched_inference``) give the same floats as the plain formulas they were first written
as: the in-place IRLS arithmetic, the shared log-binomial term and the single ``xlogy`` of
the deviance are speed-ups only, and the counts' memory layout does not change a result.

(The likelihood itself, ``nb_nll_genes``, stays the plain expression: written in place its
column sums ran over a row-major array where numpy had chosen column-major for the
expression, and summed in another order they differed in the last bits, which moved the
IRLS stopping iteration of a few genes of the example's gene-wise dispersion fit.)"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import xlogy

from msc_secretome.batched_inference import BatchedInference, nb_log_binomial
from msc_secretome.lrt import (
    BETA_TOL,
    MIN_MU,
    fit_fixed_dispersion,
    lrt_full_fit,
    lrt_test,
    model_counts,
    nb_deviance,
)
from msc_secretome.qlf import ql_full_fit, qlf_test


def plain_nb_deviance(counts, mu, dispersion):
    """The deviance as first written: both unit deviances everywhere, then chosen."""
    phi = np.asarray(dispersion, dtype=float)[None, :]
    y = np.asarray(counts, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        poisson = xlogy(y, y / mu) - (y - mu)
        size = np.where(phi > 0, 1.0 / np.where(phi > 0, phi, 1.0), np.inf)
        nb = xlogy(y, y / mu) - (y + size) * (np.log1p(phi * y) - np.log1p(phi * mu))
    return 2.0 * np.maximum(np.where(phi > 1e-10, nb, poisson), 0.0).sum(axis=0)


def plain_nll(counts, mu, alpha):
    alpha_neg1 = 1.0 / alpha
    logbinom = nb_log_binomial(counts, alpha)
    return counts.shape[0] * alpha_neg1 * np.log(alpha) + (
        -logbinom + (counts + alpha_neg1) * np.log(alpha_neg1 + mu) - counts * np.log(mu)
    ).sum(axis=0)


def plain_irls(counts, sf, X, disp, min_mu=MIN_MU, beta_tol=BETA_TOL):
    """``BatchedInference._irls_block`` as first written (genes that all converge)."""
    n_genes, p = counts.shape[1], X.shape[1]
    outer = np.einsum("ip,iq->ipq", X, X).reshape(X.shape[0], -1)
    sf = sf[:, None]
    ridge = np.diag(np.repeat(1e-6, p))
    q, r = np.linalg.qr(X)
    beta = np.linalg.solve(r, q.T @ np.log(counts / sf + 0.1)).T
    mu = np.maximum(sf * np.exp(X @ beta.T), min_mu)
    deviance = np.full(n_genes, 1000.0)
    active = np.ones(n_genes, dtype=bool)
    while active.any():
        genes = np.flatnonzero(active)
        # the operands' memory layout as in _irls_block: whole arrays while every gene
        # iterates, column copies after. Some BLAS kernels sum a matrix product over another
        # layout in another order (OpenBLAS 0.3.31 on AMD EPYC: 275 of these 299 genes'
        # coefficients then differ by up to 1.8e-14), so a reference that took copies from
        # the start would test the BLAS kernel, not the arithmetic.
        every = genes.size == n_genes
        m, y, d = (mu, counts, disp) if every else (mu[:, genes], counts[:, genes], disp[genes])
        w = m / (1.0 + m * d)
        z = np.log(m / sf) + (y - m) / m
        gram = (w.T @ outer).reshape(-1, p, p) + ridge
        beta_hat = np.linalg.solve(gram, ((w * z).T @ X)[..., None])[..., 0]
        beta[genes] = beta_hat
        new_mu = np.maximum(sf * np.exp(X @ beta_hat.T), min_mu)
        mu[:, genes] = new_mu
        new = -2.0 * plain_nll(y, new_mu, d)
        done = np.abs(new - deviance[genes]) / (np.abs(new) + 0.1) <= beta_tol
        deviance[genes] = new
        active[genes[done]] = False
    return beta, sf * np.exp(X @ beta.T)


@pytest.fixture(scope="module")
def model():
    """24 samples (intercept, a 3-level factor, a batch), 300 genes: low and high counts, a
    gene with a single read, dispersions from 1e-3 to 1, a few at Poisson (1e-8, 0)."""
    rng = np.random.default_rng(7)
    group = np.repeat(np.arange(3), 8)
    batch = np.tile([0, 1], 12)
    X = np.column_stack([np.ones(24), group == 1, group == 2, batch]).astype(float)
    beta = np.column_stack([rng.uniform(0, 7, 300), rng.normal(0, 0.7, (300, 3))])
    sf = rng.uniform(0.6, 1.6, 24)
    dispersion = np.exp(rng.uniform(np.log(1e-3), 0, 300))
    mean = sf[:, None] * np.exp(X @ beta.T)
    counts = rng.negative_binomial(1 / dispersion, 1 / (1 + mean * dispersion))
    counts[:, 0] = 0
    counts[5, 0] = 1
    return {"counts": np.asfortranarray(counts), "design_matrix": X, "size_factors": sf,
            "fitted_dispersions": dispersion,
            "base_mean": (counts / sf[:, None]).mean(axis=0)}  # fmt: skip


def test_deviance_is_the_plain_formula_bit_for_bit(model):
    counts = model_counts(model)
    dispersion = model["fitted_dispersions"].copy()
    dispersion[[3, 40, 41]] = [1e-8, 0.0, 1e-11]  # Poisson's unit deviance for these
    mu = np.maximum(counts + np.random.default_rng(0).uniform(-0.4, 3, counts.shape), 0.5)
    assert np.array_equal(nb_deviance(counts, mu, dispersion),
                          plain_nb_deviance(counts, mu, dispersion))  # fmt: skip
    assert np.isfinite(nb_deviance(counts, mu, dispersion)).all()


@pytest.mark.parametrize("layout", ["C", "F"])
def test_irls_is_the_plain_loop_bit_for_bit(model, layout):
    # F: as PyDESeq2 hands counts to the fit; C: as the QL/LR tests do (model_counts)
    counts = np.asarray(model_counts(model)[:, 1:], order=layout)  # gene 0 may diverge
    args = (model["size_factors"], model["design_matrix"], model["fitted_dispersions"][1:])
    beta, mu, _, diverged = BatchedInference._irls_block(
        counts, *args, MIN_MU, BETA_TOL, 30, 250, with_hat=False
    )
    assert not diverged.any()
    plain_beta, plain_mu = plain_irls(counts, *args)
    assert np.array_equal(beta, plain_beta) and np.array_equal(mu, plain_mu)


def test_shared_log_binomial_gives_the_same_fit(model):
    counts = model_counts(model)
    args = (counts, model["size_factors"], model["design_matrix"], model["fitted_dispersions"])
    shared = nb_log_binomial(counts, model["fitted_dispersions"])
    alone, with_shared = fit_fixed_dispersion(*args), fit_fixed_dispersion(*args, shared)
    assert np.array_equal(alone[0], with_shared[0]) and np.array_equal(alone[1], with_shared[1])


def test_qlf_does_not_depend_on_the_counts_layout(model):
    assert not model["counts"].flags.c_contiguous  # as a model file stores them
    assert model_counts(model).flags.c_contiguous
    row_major = model | {"counts": np.ascontiguousarray(model["counts"])}
    contrast = np.array([0.0, 0.0, 1.0, 0.0])
    results = [qlf_test(fitted, contrast, full=ql_full_fit(fitted))
               for fitted in (model, row_major)]  # fmt: skip
    for column, other in zip(results[0][:2], results[1][:2], strict=True):
        assert np.array_equal(column, other, equal_nan=True)
    assert (results[0][0] < 0.05).sum() > 10  # a real test: the planted effects are found


def test_lrt_contrasts_share_one_full_fit(model):
    fitted = model | {"dispersions": model["fitted_dispersions"]}
    full = lrt_full_fit(fitted)
    for contrast in (np.array([0.0, 1.0, 0.0, 0.0]), np.array([0.0, -1.0, 1.0, 0.0])):
        alone, shared = lrt_test(fitted, contrast), lrt_test(fitted, contrast, full=full)
        assert np.array_equal(alone[0], shared[0]) and np.array_equal(alone[1], shared[1])
        assert (shared[0] < 0.05).sum() > 10
