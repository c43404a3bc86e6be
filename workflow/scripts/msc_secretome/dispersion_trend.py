"""DESeq2's dispersion trend with R's fallback chain: parametric, else local, or the mean.

DESeq2's ``estimateDispersionsFit`` (``fitType = "parametric"``, the default) fits
``alpha(mu) = a0 + a1 / mu`` by iterated gamma GLMs; when that fails (a coefficient that is not
positive, or no convergence within 11 fits) it substitutes ``fitType = "local"``:
``locfit(log(disp) ~ log(mean), weights = mean)`` on the genes whose gene-wise dispersion is
above 100 x the minimum. PyDESeq2 goes straight to the mean instead, and its bounded optimiser
also "fails" where R's fit converges with a small positive ``a1`` (e.g. one dispersion for all
genes). ``de.fit_type`` picks ``parametric`` (with R's fallback), ``local`` or ``mean``; the
parametric fit's success is decided by :func:`r_parametric_fit` (a port of DESeq2's
``parametricDispersionFit`` and of R's ``glm.fit`` for its gamma GLM), and its coefficients are
PyDESeq2's (:func:`parametric_trend`) where that succeeds too, R's otherwise.

:class:`LocalDispersionTrend` reproduces locfit's defaults for one predictor: nearest-neighbour
bandwidth (the distance to the ``floor(0.7 n)``-th nearest point, prior weights not counted),
tricube kernel, local quadratic, prior weights in the local least squares; the fit is made at
the vertices of locfit's adaptive tree (``ev = rbox()``, ``cut = 0.8``: a cell is halved while
its length exceeds 0.8 x the smaller vertex bandwidth) and interpolated between them by cubic
Hermite polynomials on the vertex values and slopes. As in locfit, a global quadratic (the
"parametric component": prior-weighted least squares centred on the weighted mean) is taken
out before the interpolation and added back after it; that changes nothing inside the data's
range (cubic Hermite interpolation is exact for a quadratic) but makes ``predict.locfit``'s
extrapolation beyond it the global quadratic plus a linearly extrapolated local part.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FIT_TYPES = ("parametric", "local", "mean")
NEAREST_FRACTION = 0.7  # locfit's alpha
TREE_CUT = 0.8  # locfit's rbox(cut = 0.8)
MAX_PARAMETRIC_FITS = 11  # R's parametricDispersionFit stops after iter > 10


def _local_fit(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray, point: float, k: int
) -> tuple[float, float, float]:
    """Local quadratic at ``point``: (value, slope, bandwidth), as locfit's vertex fit."""
    distance = np.abs(x - point)
    bandwidth = float(np.partition(distance, k - 1)[k - 1])
    if bandwidth <= 0:
        bandwidth = float(distance.max()) or 1.0
    u = distance / bandwidth
    kernel = np.where(u < 1, (1 - u**3) ** 3, 0.0) * weights
    used = kernel > 0
    dx = x[used] - point
    root = np.sqrt(kernel[used])
    basis = np.column_stack([np.ones(dx.size), dx, dx**2])
    coefficients, *_ = np.linalg.lstsq(basis * root[:, None], y[used] * root, rcond=None)
    return float(coefficients[0]), float(coefficients[1]), bandwidth


class LocalDispersionTrend:
    """DESeq2's ``localDispersionFit``: ``exp(predict(locfit(log disp ~ log mean)))``.

    Parameters
    ----------
    means, dispersions : (genes,) arrays
        Mean normalised counts and gene-wise dispersions of the genes used for the fit
        (DESeq2: gene-wise dispersion above 100 x the minimum); the means are the prior
        weights.

    Attributes
    ----------
    vertices, values, slopes : (vertices,) arrays
        The tree's vertices on the log-mean axis (sorted), the local fit (log dispersion) minus
        the global quadratic and its derivative there.
    centre : float
        Prior-weighted mean of the log means.
    quadratic : (3,) array
        The global quadratic's coefficients on ``(1, x - centre, (x - centre)^2)``.
    """

    def __init__(self, means: np.ndarray, dispersions: np.ndarray) -> None:
        x = np.log(np.asarray(means, dtype=float))
        y = np.log(np.asarray(dispersions, dtype=float))
        weights = np.asarray(means, dtype=float)
        if x.size < 3:
            raise ValueError(f"a local dispersion fit needs >= 3 genes, not {x.size}")
        k = max(int(x.size * NEAREST_FRACTION + 1e-12), 1)
        fits: dict[float, tuple[float, float, float]] = {}

        def fit(point: float) -> tuple[float, float, float]:
            if point not in fits:
                fits[point] = _local_fit(x, y, weights, point, k)
            return fits[point]

        low, high = float(x.min()), float(x.max())
        stack = [(low, high)]
        while stack:  # halve a cell while it is long against its vertices' bandwidth
            left, right = stack.pop()
            smaller = min(fit(left)[2], fit(right)[2])
            score = (right - left) / smaller if smaller > 0 else 2 * (right - left) / (high - low)
            if score > TREE_CUT:
                middle = (left + right) / 2
                stack += [(middle, right), (left, middle)]
        self.centre = float(np.sum(weights * x) / np.sum(weights))
        dx = x - self.centre
        basis = np.column_stack([np.ones(x.size), dx, dx**2]) * np.sqrt(weights)[:, None]
        self.quadratic = np.linalg.lstsq(basis, y * np.sqrt(weights), rcond=None)[0]
        self.vertices = np.array(sorted(fits))
        self.values = np.array([fits[v][0] for v in self.vertices]) - self._quadratic(self.vertices)
        self.slopes = np.array([fits[v][1] for v in self.vertices]) - self._quadratic_slope(
            self.vertices
        )

    def _quadratic(self, x: np.ndarray) -> np.ndarray:
        c0, c1, c2 = self.quadratic
        return c0 + c1 * (x - self.centre) + c2 * (x - self.centre) ** 2

    def _quadratic_slope(self, x: np.ndarray) -> np.ndarray:
        return self.quadratic[1] + 2 * self.quadratic[2] * (x - self.centre)

    def log_trend(self, log_means: np.ndarray) -> np.ndarray:
        """The fitted log dispersion at ``log_means`` (any shape): locfit's interpolation."""
        x = np.asarray(log_means, dtype=float)
        if self.vertices.size == 1:
            return np.full_like(x, self.values[0]) + self._quadratic(x)
        last = self.vertices.size - 2
        cell = np.clip(np.searchsorted(self.vertices, x, side="right") - 1, 0, last)
        left, right = self.vertices[cell], self.vertices[cell + 1]
        length = right - left
        t = (x - left) / length
        inside = np.clip(t, 0, 1)
        phi1 = inside**2 * (3 - 2 * inside)
        hermite = (
            (1 - phi1) * self.values[cell]
            + phi1 * self.values[cell + 1]
            + inside * (1 - inside) ** 2 * length * self.slopes[cell]
            + inside**2 * (inside - 1) * length * self.slopes[cell + 1]
        )
        below = self.values[cell] + (x - left) * self.slopes[cell]
        above = self.values[cell + 1] + (x - right) * self.slopes[cell + 1]
        local = np.where(t < 0, below, np.where(t > 1, above, hermite))
        return local + self._quadratic(x)

    def __call__(self, means: np.ndarray) -> np.ndarray:
        """Trended dispersions at mean normalised counts ``means`` (any shape)."""
        with np.errstate(divide="ignore"):
            return np.exp(self.log_trend(np.log(np.asarray(means, dtype=float))))


class ParametricFitFailed(Exception):
    """DESeq2's ``parametricDispersionFit`` would stop here (R then uses the local fit)."""


def parametric_trend(means: pd.Series, dispersions: pd.Series, gamma_glm) -> np.ndarray:
    """PyDESeq2's parametric trend ``a0 + a1 / mean`` with R's failure rules.

    The iteration is PyDESeq2's (``DeseqDataSet._fit_parametric_dispersion_trend``: gamma GLM
    on ``1 / mean``, genes with a ratio to the curve below 1e-4 or at least 15 left out before
    the next fit, until the coefficients change by < 1e-6 in squared log), so a fit that
    succeeds gives PyDESeq2's coefficients. It fails where DESeq2's
    ``parametricDispersionFit`` stops: a coefficient that is not positive (here: at the
    optimiser's bound, <= 1e-10), a GLM that does not converge, or no convergence within
    ``MAX_PARAMETRIC_FITS`` fits.

    Parameters
    ----------
    means, dispersions : (genes,) Series
        Mean normalised counts and gene-wise dispersions of the non-zero genes (same index).
    gamma_glm : callable
        ``inference.dispersion_trend_gamma_glm(covariates, targets)`` of the PyDESeq2
        inference object: ``(coefficients (2,), predictions (genes,), converged)``.

    Returns
    -------
    (2,) array
        ``a0, a1``. Raises :class:`ParametricFitFailed` (its message says why).
    """
    covariates = 1 / means
    finite = np.isfinite(covariates.to_numpy(dtype=float))
    covariates, targets = covariates[finite], dispersions[finite]
    old = np.array([0.1, 0.1])
    coefficients = np.array([1.0, 1.0])
    fits = 0
    while np.sum(np.log(np.abs(coefficients / old)) ** 2) >= 1e-6:
        if fits == MAX_PARAMETRIC_FITS:
            raise ParametricFitFailed(
                f"the parametric fit did not converge in {MAX_PARAMETRIC_FITS} gamma fits"
            )
        old = coefficients
        coefficients, predictions, converged = gamma_glm(covariates, targets)
        coefficients = np.asarray(coefficients, dtype=float)
        fits += 1
        if not converged:
            raise ParametricFitFailed("the gamma GLM of the parametric fit did not converge")
        if (coefficients <= 1e-10).any():
            raise ParametricFitFailed(
                f"the parametric fit has a coefficient that is not positive "
                f"(a0 = {coefficients[0]:.3g}, a1 = {coefficients[1]:.3g})"
            )
        ratio = dispersions[covariates.index].to_numpy(dtype=float) / np.asarray(predictions)
        far = (ratio < 1e-4) | (ratio >= 15)
        covariates, targets = covariates[~far], targets[~far]
    return coefficients


def _gamma_identity_glm(
    y: np.ndarray, inverse_mean: np.ndarray, start: np.ndarray, max_iterations: int = 25
) -> tuple[np.ndarray, bool]:
    """R's ``glm(y ~ x, family = Gamma(link = "identity"), start = start)`` (``glm.fit``).

    IRLS with weights ``1 / mu^2``; a step that leaves ``mu > 0`` is halved (as R does), and
    R's error when that cannot be corrected raises :class:`ParametricFitFailed`. Returns the
    coefficients and R's ``converged`` (relative deviance change < 1e-8 within 25 steps).
    """
    design = np.column_stack([np.ones(y.size), inverse_mean])

    def deviance(mu: np.ndarray) -> float:
        return float(-2 * np.sum(np.log(y / mu) - (y - mu) / mu))

    coefficients = np.asarray(start, dtype=float)
    mu = design @ coefficients
    if not (np.all(np.isfinite(mu)) and np.all(mu > 0)):
        raise ParametricFitFailed("the parametric fit cannot start: a mean is not positive")
    old_deviance = deviance(mu)
    for _ in range(max_iterations):
        root = 1 / mu
        previous = coefficients
        coefficients = np.linalg.lstsq(design * root[:, None], y * root, rcond=None)[0]
        mu = design @ coefficients
        halvings = 0
        while not (np.all(np.isfinite(mu)) and np.all(mu > 0)):
            if halvings == max_iterations:
                raise ParametricFitFailed("the parametric fit cannot correct its step size")
            coefficients = (coefficients + previous) / 2
            mu = design @ coefficients
            halvings += 1
        new_deviance = deviance(mu)
        if abs(new_deviance - old_deviance) / (abs(new_deviance) + 0.1) < 1e-8:
            return coefficients, True
        old_deviance = new_deviance
    return coefficients, False


def r_parametric_fit(means: np.ndarray, dispersions: np.ndarray) -> np.ndarray:
    """DESeq2's ``parametricDispersionFit``: ``(asymptDisp, extraPois)``, or why it fails.

    ``means``, ``dispersions``: (genes,) of the genes DESeq2 fits (gene-wise dispersion above
    100 x the minimum). Each round fits the gamma GLM on the genes within ``[1e-4, 15)`` x the
    current curve, from the current coefficients (start 0.1, 1). Raises
    :class:`ParametricFitFailed` where R stops: a coefficient <= 0, or no convergence within
    ``MAX_PARAMETRIC_FITS`` fits (or a GLM that errors).
    """
    means = np.asarray(means, dtype=float)
    dispersions = np.asarray(dispersions, dtype=float)
    coefficients = np.array([0.1, 1.0])
    for _ in range(MAX_PARAMETRIC_FITS):
        ratio = dispersions / (coefficients[0] + coefficients[1] / means)
        good = (ratio > 1e-4) & (ratio < 15)
        if good.sum() < 2:
            raise ParametricFitFailed("too few genes near the parametric curve")
        old = coefficients
        coefficients, converged = _gamma_identity_glm(
            dispersions[good], 1 / means[good], coefficients
        )
        if not (coefficients > 0).all():
            raise ParametricFitFailed(
                f"the parametric fit has a coefficient that is not positive "
                f"(a0 = {coefficients[0]:.3g}, a1 = {coefficients[1]:.3g})"
            )
        if np.sum(np.log(coefficients / old) ** 2) < 1e-6 and converged:
            return coefficients
    raise ParametricFitFailed(
        f"the parametric fit did not converge in {MAX_PARAMETRIC_FITS} gamma fits"
    )
