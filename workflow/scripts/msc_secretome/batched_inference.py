"""PyDESeq2 inference on all genes at once: the same estimators, batched with numpy.

PyDESeq2's :class:`~pydeseq2.default_inference.DefaultInference` fits one gene at a time in
Python (one ``scipy.optimize.minimize`` call per gene and per step), spread over joblib
workers. For a lab-sized experiment (tens of samples, 15-60 thousand genes) that per-gene
overhead, not arithmetic, is most of the fit: profiled on the example's cancer model
(18 samples x 14,148 genes, one core), 16.1 of 16.3 s went to gene-wise dispersions (8.1 s),
MAP dispersions (5.1 s) and the coefficient fit (3.0 s); with this class the same fit takes
1.4 s.

:class:`BatchedInference` computes the same quantities for blocks of genes in single numpy
operations:

* ``lin_reg_mu``: one least-squares solve with every gene as a right-hand side.
* ``irls``: the same iteratively reweighted least squares as ``utils.irls_solver`` (same
  start, ridge, convergence rule and ``beta_tol``), every gene iterated until its own
  deviance ratio falls below the tolerance; a gene that diverges (``|beta| > max_beta`` or
  ``maxiter`` reached) is handed to PyDESeq2's own per-gene solver, which then does exactly
  what it would have done (L-BFGS-B, grid search).
* ``alpha_mle``: the same objective as ``utils.fit_alpha_mle`` (negative binomial likelihood
  in log-dispersion, Cox-Reid adjustment, optional log-normal prior), minimised by a
  safeguarded Newton method with exact first and second derivatives within the same bounds,
  stopping by L-BFGS-B's projected-gradient rule or when the step falls below 1e-9; genes
  where Newton does not converge are handed to ``utils.fit_alpha_mle``. Dispersions agree
  with PyDESeq2's to its optimiser's tolerance (median relative difference 3e-7 on the
  example's cancer model) except where the likelihood is nearly flat: 21 of 14,148 genes
  near the 1e-8 floor, where L-BFGS-B stops after one tiny step and Newton goes on to the
  optimum; no call changed (``tests/test_batched_inference.py``).
* ``wald_test``: closed form, vectorised (:func:`wald.wald_test`).

Everything else (size factors, trend, prior, Cook's distances, apeGLM shrinkage) is
PyDESeq2's own. Genes are processed in blocks of ``block_size`` so memory stays bounded
whatever the number of genes.
"""

from __future__ import annotations

import numpy as np
from pydeseq2 import utils
from pydeseq2.default_inference import DefaultInference
from scipy.special import gammaln, psi, zeta

from .wald import gene_blocks as _blocks
from .wald import outer_rows as _outer_rows
from .wald import wald_test as _wald_test
from .wald import weighted_gram as _weighted_gram

NEWTON_MAX_ITER = 100
NEWTON_TOL = 1e-9
# L-BFGS-B's default projected-gradient tolerance (scipy ``pgtol``), which PyDESeq2's per-gene
# fits stop at. Kept so that a start where the objective is flat stays where it is, as in
# PyDESeq2 and in DESeq2 (R's line search stops there too): e.g. a gene-wise dispersion that
# starts at the 1e-8 floor, where the likelihood is numerically Poisson.
PROJECTED_GRADIENT_TOL = 1e-5
# L-BFGS-B's default relative-reduction tolerance (scipy ``ftol``): its first iteration is the
# projected gradient step ``x0 - g``, and it stops when that step lowers the objective by at
# most ``ftol * max(|f0|, |f1|, 1)``. Where the likelihood is nearly flat (a gene-wise
# dispersion starting at the 1e-8 floor with a gradient just above ``pgtol``) that is where
# PyDESeq2 ends, and DESeq2's line search (relative change below 1e-6) ends there too; Newton
# would go on to an interior optimum far in log-dispersion (measured: 2.2e-4 for a gene both
# leave at 1e-8), which then enters the trend and the prior variance.
FIRST_STEP_FTOL = 2.220446049250313e-09
MAX_HALVINGS = 40


def nb_log_binomial(counts: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The term of :func:`nb_nll_genes` that does not depend on mu: (samples, genes)."""
    alpha_neg1 = 1.0 / alpha
    return gammaln(counts + alpha_neg1) - gammaln(counts + 1) - gammaln(alpha_neg1)


def nb_nll_genes(
    counts: np.ndarray, mu: np.ndarray, alpha: np.ndarray, logbinom: np.ndarray | None = None
) -> np.ndarray:
    """Negative binomial negative log-likelihood per gene (column); ``utils.nb_nll``'s formula.

    ``logbinom``: :func:`nb_log_binomial` of ``counts`` and ``alpha`` when the caller has it
    (an IRLS at fixed dispersions evaluates the likelihood once per iteration).
    """
    alpha_neg1 = 1.0 / alpha
    if logbinom is None:
        logbinom = nb_log_binomial(counts, alpha)
    return counts.shape[0] * alpha_neg1 * np.log(alpha) + (
        -logbinom + (counts + alpha_neg1) * np.log(alpha_neg1 + mu) - counts * np.log(mu)
    ).sum(axis=0)


class BatchedInference(DefaultInference):
    """:class:`DefaultInference` with the per-gene fits replaced by batched numpy code."""

    def __init__(self, n_cpus: int | None = 1, block_size: int = 2048):
        super().__init__(n_cpus=n_cpus)
        self.block_size = block_size

    # -- means for the dispersion start -------------------------------------------------
    def lin_reg_mu(self, counts, size_factors, design_matrix, min_mu):
        normed = counts / size_factors[:, None]
        coefficients, *_ = np.linalg.lstsq(design_matrix, normed, rcond=None)
        return np.maximum(size_factors[:, None] * (design_matrix @ coefficients), min_mu)

    # -- coefficients ---------------------------------------------------------------------
    def irls(
        self,
        counts,
        size_factors,
        design_matrix,
        disp,
        min_mu,
        beta_tol,
        min_beta=-30,
        max_beta=30,
        optimizer="L-BFGS-B",
        maxiter=250,
        with_hat=True,
    ):
        """PyDESeq2's ``irls`` for every gene: ``(beta, mu, hat diagonals, converged)``.

        ``with_hat=False`` (a caller that needs only beta and mu, such as the fits at fixed
        dispersions of the LRT and QL tests) skips the hat diagonals, returned as NaN.
        """
        n_samples, n_genes = counts.shape
        p = design_matrix.shape[1]
        beta = np.empty((n_genes, p))
        mu = np.empty((n_samples, n_genes))
        hat = np.empty((n_samples, n_genes))
        converged = np.ones(n_genes, dtype=bool)
        for block in _blocks(n_genes, self.block_size):
            beta[block], mu[:, block], hat[:, block], failed = self._irls_block(
                np.asarray(counts[:, block], dtype=float),
                size_factors,
                design_matrix,
                np.asarray(disp[block], dtype=float),
                min_mu,
                beta_tol,
                max_beta,
                maxiter,
                with_hat,
            )
            for offset in np.flatnonzero(failed):
                gene = block.start + offset
                beta[gene], mu[:, gene], hat[:, gene], converged[gene] = utils.irls_solver(
                    counts=counts[:, gene],
                    size_factors=size_factors,
                    design_matrix=design_matrix,
                    disp=disp[gene],
                    min_mu=min_mu,
                    beta_tol=beta_tol,
                    min_beta=min_beta,
                    max_beta=max_beta,
                    optimizer=optimizer,
                    maxiter=maxiter,
                )
        return beta, mu, hat, converged

    @staticmethod
    def _irls_block(
        counts, size_factors, X, disp, min_mu, beta_tol, max_beta, maxiter, with_hat=True
    ):
        """IRLS for a block of genes; returns beta, mu, hat diagonals (NaN without
        ``with_hat``) and a 'diverged' mask."""
        n_samples, n_genes = counts.shape
        p = X.shape[1]
        outer = _outer_rows(X)
        sf = size_factors[:, None]
        ridge = np.diag(np.repeat(1e-6, p))
        if np.linalg.matrix_rank(X) == p:
            q, r = np.linalg.qr(X)
            beta = np.linalg.solve(r, q.T @ np.log(counts / sf + 0.1)).T
        else:
            beta = np.zeros((n_genes, p))
            with np.errstate(divide="ignore"):
                beta[:, 0] = np.log(counts / sf).mean(axis=0)
        mu = np.maximum(sf * np.exp(X @ beta.T), min_mu)
        logbinom = nb_log_binomial(counts, disp)  # fixed dispersions: once, not per iteration
        deviance = np.full(n_genes, 1000.0)
        active = np.ones(n_genes, dtype=bool)
        diverged = np.zeros(n_genes, dtype=bool)
        iteration = 0
        while active.any():
            genes = np.flatnonzero(active)
            m, y, d = mu[:, genes], counts[:, genes], disp[genes]
            w = m / (1.0 + m * d)
            z = np.log(m / sf) + (y - m) / m
            gram = _weighted_gram(w, outer, p) + ridge
            beta_hat = np.linalg.solve(gram, ((w * z).T @ X)[..., None])[..., 0]
            iteration += 1
            bad = (np.abs(beta_hat) > max_beta).any(axis=1) | (iteration >= maxiter)
            diverged[genes[bad]] = True
            active[genes[bad]] = False
            genes, beta_hat, y, d = genes[~bad], beta_hat[~bad], y[:, ~bad], d[~bad]
            beta[genes] = beta_hat
            mu[:, genes] = np.maximum(sf * np.exp(X @ beta_hat.T), min_mu)
            old = deviance[genes]
            new = -2.0 * nb_nll_genes(y, mu[:, genes], d, logbinom[:, genes])
            deviance[genes] = new
            done = np.abs(new - old) / (np.abs(new) + 0.1) <= beta_tol
            active[genes[done]] = False
        if with_hat:
            w = mu / (1.0 + mu * disp)
            inverse = np.linalg.inv(_weighted_gram(w, outer, p) + ridge)
            hat = (inverse.reshape(n_genes, -1) @ outer.T).T * w
        else:
            hat = np.full((n_samples, n_genes), np.nan)
        return beta, sf * np.exp(X @ beta.T), hat, diverged

    # -- dispersions ----------------------------------------------------------------------
    def alpha_mle(
        self,
        counts,
        design_matrix,
        mu,
        alpha_hat,
        min_disp,
        max_disp,
        prior_disp_var=None,
        cr_reg=True,
        prior_reg=False,
        optimizer="L-BFGS-B",
    ):
        if prior_reg and prior_disp_var is None:
            raise ValueError("Sigma_prior is required for prior regularization")
        n_genes = counts.shape[1]
        dispersions = np.empty(n_genes)
        converged = np.ones(n_genes, dtype=bool)
        for block in _blocks(n_genes, self.block_size):
            log_alpha, ok = _newton_log_dispersion(
                np.asarray(counts[:, block], dtype=float),
                design_matrix,
                np.asarray(mu[:, block], dtype=float),
                np.log(np.asarray(alpha_hat[block], dtype=float)),
                np.log(min_disp),
                np.log(max_disp),
                prior_disp_var if prior_reg else None,
                cr_reg,
            )
            dispersions[block] = np.exp(log_alpha)
            for offset in np.flatnonzero(~ok):
                gene = block.start + offset
                dispersions[gene], converged[gene] = utils.fit_alpha_mle(
                    counts=counts[:, gene],
                    design_matrix=design_matrix,
                    mu=mu[:, gene],
                    alpha_hat=alpha_hat[gene],
                    min_disp=min_disp,
                    max_disp=max_disp,
                    prior_disp_var=prior_disp_var,
                    cr_reg=cr_reg,
                    prior_reg=prior_reg,
                    optimizer=optimizer,
                )
        return dispersions, converged

    # -- tests ----------------------------------------------------------------------------
    def wald_test(
        self,
        design_matrix,
        disp,
        lfc,
        mu,
        ridge_factor,
        contrast,
        lfc_null,
        alt_hypothesis=None,
    ):
        return _wald_test(
            design_matrix,
            disp,
            lfc,
            mu,
            ridge_factor,
            contrast,
            lfc_null,
            alt_hypothesis,
            self.block_size,
        )


def _dispersion_objective(
    counts, X, outer, mu, log_alpha, log_alpha_hat, prior_var, cr_reg, log_factorial=None,
    derivatives=True,
):  # fmt: skip
    """Objective of ``utils.fit_alpha_mle`` and its first two derivatives in log-dispersion.

    Per gene (columns): negative binomial negative log-likelihood, plus the Cox-Reid term
    ``0.5 log det(X^T W X)`` with ``W = mu / (1 + mu alpha)``, plus the log-normal prior
    ``(log alpha - log alpha_hat)^2 / (2 prior_var)`` when ``prior_var`` is given.
    ``log_factorial``: ``gammaln(counts + 1)`` when the caller has it (it does not change
    with alpha); ``derivatives=False``: the value only (gradient and hessian ``None``), the
    same numbers at a fraction of the cost, for the line search.
    """
    p = X.shape[1]
    alpha = np.exp(log_alpha)
    r = 1.0 / alpha
    y_r = counts + r
    mu_r = mu + r
    if log_factorial is None:
        log_factorial = gammaln(counts + 1)
    value = counts.shape[0] * r * log_alpha + (
        -gammaln(y_r) + log_factorial + gammaln(r) + y_r * np.log(mu_r) - counts * np.log(mu)
    ).sum(axis=0)
    one_mu_alpha = 1.0 + mu * alpha
    if not derivatives:
        if cr_reg:
            _, logdet = np.linalg.slogdet(_weighted_gram(mu / one_mu_alpha, outer, p))
            value = value + 0.5 * logdet
        if prior_var is not None:
            value = value + (log_alpha - log_alpha_hat) ** 2 / (2 * prior_var)
        return value, None, None
    s = (psi(r) - psi(y_r) + np.log(one_mu_alpha) + (counts - mu) / mu_r).sum(axis=0)
    ds = (
        # zeta(2, x) is trigamma (scipy's polygamma(1, x) returns exactly this product)
        -(r**2) * (zeta(2, r) - zeta(2, y_r)) + mu / one_mu_alpha + r**2 * (counts - mu) / mu_r**2
    ).sum(axis=0)
    d_alpha = -(r**2) * s
    d2_alpha = 2 * r**3 * s - r**2 * ds
    if cr_reg:
        w = mu / one_mu_alpha
        gram = _weighted_gram(w, outer, p)
        sign, logdet = np.linalg.slogdet(gram)
        inverse = np.linalg.inv(gram)
        d_gram = _weighted_gram(-(w**2), outer, p)
        d2_gram = _weighted_gram(2 * w**3, outer, p)
        product = inverse @ d_gram
        value = value + 0.5 * logdet
        d_alpha = d_alpha + 0.5 * np.einsum("gij,gji->g", inverse, d_gram)
        d2_alpha = d2_alpha + 0.5 * (
            np.einsum("gij,gji->g", inverse, d2_gram) - np.einsum("gij,gji->g", product, product)
        )
    gradient = alpha * d_alpha
    hessian = alpha * d_alpha + alpha**2 * d2_alpha
    if prior_var is not None:
        value = value + (log_alpha - log_alpha_hat) ** 2 / (2 * prior_var)
        gradient = gradient + (log_alpha - log_alpha_hat) / prior_var
        hessian = hessian + 1.0 / prior_var
    return value, gradient, hessian


def _newton_log_dispersion(counts, X, mu, log_alpha_hat, lower, upper, prior_var, cr_reg):
    """Minimise the dispersion objective per gene within ``[lower, upper]`` (log scale).

    Projected Newton steps (a gradient step of length 1 where the objective is not convex),
    halved until the objective does not increase. Returns the log-dispersions and a mask of
    the genes that converged: step below ``NEWTON_TOL``, projected gradient at most
    ``PROJECTED_GRADIENT_TOL`` (L-BFGS-B's rule), at a bound with the gradient pointing out
    of the interval, or, on the first iteration, L-BFGS-B's first step (the projected
    gradient step) reducing the objective by at most ``FIRST_STEP_FTOL`` relative, where
    PyDESeq2's per-gene fit stops. A gene whose line search stalls counts as converged only
    if its projected gradient meets the tolerance; the others are refitted per gene by the
    caller.
    """
    outer = _outer_rows(X)
    log_alpha = np.clip(log_alpha_hat, lower, upper)
    n_genes = counts.shape[1]
    converged = np.zeros(n_genes, dtype=bool)
    active = np.ones(n_genes, dtype=bool)

    log_factorial = gammaln(counts + 1)

    def objective(genes, values, derivatives=True):
        return _dispersion_objective(
            counts[:, genes],
            X,
            outer,
            mu[:, genes],
            values,
            log_alpha_hat[genes],
            prior_var,
            cr_reg,
            log_factorial[:, genes],
            derivatives,
        )

    for iteration in range(NEWTON_MAX_ITER):
        genes = np.flatnonzero(active)
        if genes.size == 0:
            break
        current = log_alpha[genes]
        value, gradient, hessian = objective(genes, current)
        if iteration == 0:
            first = np.clip(current - gradient, lower, upper)
            first_value, _, _ = objective(genes, first, derivatives=False)
            scale = np.maximum(np.maximum(np.abs(value), np.abs(first_value)), 1.0)
            flat = (first_value <= value) & (value - first_value <= FIRST_STEP_FTOL * scale)
            # L-BFGS-B tests the projected gradient before stepping: those stay at the start
            flat &= np.abs(first - current) > PROJECTED_GRADIENT_TOL
            log_alpha[genes[flat]] = first[flat]
            converged[genes[flat]] = True
            active[genes[flat]] = False
            keep = ~flat
            genes, current = genes[keep], current[keep]
            value, gradient, hessian = value[keep], gradient[keep], hessian[keep]
        step = np.where(
            hessian > 0, -gradient / np.where(hessian > 0, hessian, 1.0), -np.sign(gradient)
        )
        at_bound = ((current <= lower) & (gradient > 0)) | ((current >= upper) & (gradient < 0))
        projected = np.abs(np.clip(current - gradient, lower, upper) - current)
        finished = at_bound | (np.abs(step) < NEWTON_TOL) | (projected <= PROJECTED_GRADIENT_TOL)
        # Stopped on a flat slope that still descends towards the floor (dispersion tending
        # to 0, the likelihood tending to Poisson's): the floor itself is the optimum if it
        # is no worse, as where L-BFGS-B's box step lands.
        sliding = np.flatnonzero(finished & ~at_bound & (gradient > 0) & (current > lower))
        if sliding.size and iteration > 0:
            floor_value, _, _ = objective(
                genes[sliding], np.full(sliding.size, lower), derivatives=False
            )
            to_floor = sliding[floor_value <= value[sliding]]
            log_alpha[genes[to_floor]] = lower
        converged[genes[finished]] = True
        active[genes[finished]] = False
        keep = ~finished & np.isfinite(step)
        active[genes[~finished & ~np.isfinite(step)]] = False
        genes, current, value, step = genes[keep], current[keep], value[keep], step[keep]
        scale = np.ones(genes.size)
        pending = np.arange(genes.size)
        proposal = current.copy()
        for _ in range(MAX_HALVINGS):
            if pending.size == 0:
                break
            candidate = np.clip(current[pending] + scale[pending] * step[pending], lower, upper)
            new_value, _, _ = objective(genes[pending], candidate, derivatives=False)
            accepted = np.isfinite(new_value) & (new_value <= value[pending])
            proposal[pending[accepted]] = candidate[accepted]
            scale[pending[~accepted]] /= 2
            pending = pending[~accepted]
        moved = np.abs(proposal - current)
        log_alpha[genes] = proposal
        # no decrease along the step within the halvings: at the optimum to rounding if the
        # projected gradient says so; otherwise not converged (refitted per gene)
        stalled = np.isin(np.arange(genes.size), pending) | (moved < NEWTON_TOL)
        if stalled.any():
            at = proposal[stalled]
            _, stalled_gradient, _ = objective(genes[stalled], at)
            step_out = np.abs(np.clip(at - stalled_gradient, lower, upper) - at)
            converged[genes[stalled][step_out <= PROJECTED_GRADIENT_TOL]] = True
            active[genes[stalled]] = False
    return log_alpha, converged
