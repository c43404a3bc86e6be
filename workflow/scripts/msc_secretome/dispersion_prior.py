"""DESeq2's dispersion prior variance at 1-3 residual degrees of freedom.

With few residual df the distribution of log gene-wise dispersions around the trend is very
asymmetric (log of a chi-square on 1-3 df), and the MAD-based estimate PyDESeq2 uses for every
design (``max(MAD^2 - trigamma(df / 2), 0.25)``) is poor. DESeq2's
``estimateDispersionsPriorVar`` then matches the observed residuals instead: for each prior
variance ``v`` on a grid of 200 values in [0, 8] it simulates
``log(chisq(df)) + N(0, v) - log(df)`` (10,000 draws), takes the Kullback-Leibler divergence of
the observed histogram (breaks -10..10 by 0.5) from the simulated one, smooths the divergences
over the grid with ``loess(span = 0.2)`` and returns the minimiser on a 1,000-point grid, at
least 0.25. R seeds it with ``set.seed(2)``; here the draws come from
``numpy.random.default_rng(seed)`` (``seed`` from the config), so the numbers are the same
procedure with another random stream, deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np

BREAKS = np.arange(-20, 21) / 2
GRID = np.linspace(0, 8, 200)
FINE_GRID = np.linspace(0, 8, 1000)
DRAWS = 10_000
MIN_PRIOR_VAR = 0.25


def _density(values: np.ndarray) -> np.ndarray:
    """R's ``hist(values, breaks=BREAKS)$density`` (right-closed bins, lowest included)."""
    index = np.clip(np.searchsorted(BREAKS, values, side="left") - 1, 0, BREAKS.size - 2)
    counts = np.bincount(index, minlength=BREAKS.size - 1).astype(float)
    return counts / (values.size * np.diff(BREAKS))


def local_quadratic(x: np.ndarray, y: np.ndarray, at: np.ndarray, span: float) -> np.ndarray:
    """``predict(loess(y ~ x, span=span), at)`` computed exactly (degree 2, tricube, no
    robustness iterations): for each point of ``at`` a weighted quadratic fit on the
    ``floor(span * n)`` nearest ``x``. R's default interpolates between kd-tree vertices
    instead, which moves the smooth slightly but not its shape."""
    q = max(int(np.floor(span * x.size)), 3)
    fitted = np.empty(at.size)
    for i, point in enumerate(at):
        distance = np.abs(x - point)
        nearest = np.argsort(distance, kind="stable")[:q]
        radius = distance[nearest].max() * (1 + 1e-12) or 1.0
        weight = (1 - (distance[nearest] / radius) ** 3) ** 3
        basis = np.column_stack([np.ones(q), x[nearest] - point, (x[nearest] - point) ** 2])
        root = np.sqrt(weight)[:, None]
        coefficients, *_ = np.linalg.lstsq(basis * root, y[nearest] * root[:, 0], rcond=None)
        fitted[i] = coefficients[0]
    return fitted


def small_df_prior_variance(residuals: np.ndarray, residual_df: int, seed: int = 2) -> float:
    """DESeq2's Monte-Carlo prior variance of log dispersions for 1-3 residual df.

    ``residuals``: (genes,) log gene-wise minus log trended dispersions of the genes above
    100 x the minimum dispersion; ``residual_df``: samples minus design columns (1, 2 or 3).
    """
    if not 1 <= residual_df <= 3:
        raise ValueError(f"the simulation estimate is for 1-3 residual df, not {residual_df}")
    rng = np.random.default_rng(seed)
    observed = residuals[(residuals > BREAKS[0]) & (residuals < BREAKS[-1])]
    observed_density = _density(observed)
    divergences = np.empty(GRID.size)
    for i, variance in enumerate(GRID):
        simulated = (
            np.log(rng.chisquare(residual_df, DRAWS))
            + rng.normal(0, np.sqrt(variance), DRAWS)
            - np.log(residual_df)
        )
        simulated = simulated[(simulated > BREAKS[0]) & (simulated < BREAKS[-1])]
        simulated_density = _density(simulated)
        both = np.concatenate([observed_density, simulated_density])
        small = both[both > 0].min()
        divergences[i] = np.sum(
            observed_density
            * (np.log(observed_density + small) - np.log(simulated_density + small))
        )
    smooth = local_quadratic(GRID, divergences, FINE_GRID, span=0.2)
    return float(max(FINE_GRID[int(np.argmin(smooth))], MIN_PRIOR_VAR))
