"""The dispersion fits of :class:`batched_inference.BatchedInference`: Newton in log-dispersion.

The objective of PyDESeq2's ``utils.fit_alpha_mle`` (negative binomial likelihood, Cox-Reid
adjustment, optional log-normal prior) with its exact first and second derivatives, and a
safeguarded projected Newton method that stops where L-BFGS-B would (see
:func:`newton_log_dispersion`). Trigamma of ``counts + 1/alpha``, most of the objective's cost,
is evaluated once per distinct count of a gene (:class:`count_levels.CountLevels`).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, psi, zeta

from .count_levels import CountLevels
from .wald import outer_rows as _outer_rows
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


def _trigamma(x):
    """Trigamma as the Hurwitz zeta ``zeta(2, x)`` (what scipy's ``polygamma(1, x)`` returns)."""
    return zeta(2, x)


def dispersion_objective(
    counts, X, outer, mu, log_alpha, log_alpha_hat, prior_var, cr_reg, log_factorial=None,
    derivatives=True, trigamma_of_counts=None,
):  # fmt: skip
    """Objective of ``utils.fit_alpha_mle`` and its first two derivatives in log-dispersion.

    Per gene (columns): negative binomial negative log-likelihood, plus the Cox-Reid term
    ``0.5 log det(X^T W X)`` with ``W = mu / (1 + mu alpha)``, plus the log-normal prior
    ``(log alpha - log alpha_hat)^2 / (2 prior_var)`` when ``prior_var`` is given.
    ``log_factorial``: ``gammaln(counts + 1)`` when the caller has it (it does not change
    with alpha); ``derivatives=False``: the value only (gradient and hessian ``None``), the
    same numbers at a fraction of the cost, for the line search. ``trigamma_of_counts(r)``:
    trigamma of ``counts + r`` (samples, genes), most of the objective's cost; given by
    :func:`newton_log_dispersion` from :class:`count_levels.CountLevels` (the same numbers,
    evaluated once per distinct count of a gene).
    """
    if trigamma_of_counts is None:

        def trigamma_of_counts(shift):
            return _trigamma(counts + shift)

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
        -(r**2) * (zeta(2, r) - trigamma_of_counts(r))
        + mu / one_mu_alpha
        + r**2 * (counts - mu) / mu_r**2
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


def newton_log_dispersion(counts, X, mu, log_alpha_hat, lower, upper, prior_var, cr_reg):
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
    levels = CountLevels(counts)

    def objective(genes, values, derivatives=True):
        def trigamma_of_counts(shift):
            return levels.apply(_trigamma, counts, genes, shift)

        return dispersion_objective(
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
            trigamma_of_counts,
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
