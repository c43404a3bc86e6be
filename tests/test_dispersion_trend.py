"""DESeq2's dispersion-trend fallback chain (``de.fit_type``) and the locfit-style local fit.

Fast checks of :mod:`msc_secretome.dispersion_trend` and of the fit's fallback in
:class:`differential_expression.SmallDfDeseqDataSet`; agreement with DESeq2/locfit in R is
the live peer test ``tests/test_trend_fallback_peer.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydeseq2.dds import DeseqDataSet

from msc_secretome.batched_inference import BatchedInference
from msc_secretome.design import Model, model_samples
from msc_secretome.differential_expression import fit_model, model_arrays, prefilter_mask
from msc_secretome.dispersion_trend import (
    TREE_CUT,
    LocalDispersionTrend,
    ParametricFitFailed,
    _local_fit,
    parametric_trend,
    r_parametric_fit,
)
from msc_secretome.model_store import read_dispersion_trend, read_model, write_model


def _scatter(n=600, seed=0):
    rng = np.random.default_rng(seed)
    means = np.exp(rng.uniform(0, 9, n))
    log_disp = np.log(0.05 + 0.5 / means) + 0.8 * np.sin(np.log(means)) + rng.normal(0, 0.5, n)
    return means, np.exp(log_disp)


def test_local_trend_reproduces_a_quadratic_everywhere_including_extrapolation():
    means = np.exp(np.linspace(0, 8, 300))
    quadratic = lambda x: -2 + 0.3 * x - 0.05 * x**2  # noqa: E731
    trend = LocalDispersionTrend(means, np.exp(quadratic(np.log(means))))
    at = np.linspace(-2, 11, 500)
    np.testing.assert_allclose(trend.log_trend(at), quadratic(at), atol=1e-9)


def test_local_trend_tree_follows_locfits_rules_and_interpolates_its_vertex_fits():
    means, dispersions = _scatter()
    trend = LocalDispersionTrend(means, dispersions)
    x, y = np.log(means), np.log(dispersions)
    k = int(0.7 * x.size)
    assert trend.vertices[0] == x.min() and trend.vertices[-1] == x.max()
    fits = [_local_fit(x, y, means, v, k) for v in trend.vertices]
    bandwidths = np.array([f[2] for f in fits])
    lengths = np.diff(trend.vertices)
    # every terminal cell is short against its vertices' bandwidths; its parent was not
    smaller = np.minimum(bandwidths[:-1], bandwidths[1:])
    assert (lengths / smaller <= TREE_CUT).all()
    assert (2 * lengths / smaller > TREE_CUT).any()
    # at the vertices the interpolant is the local fit itself, in value and slope
    np.testing.assert_allclose(trend.log_trend(trend.vertices), [f[0] for f in fits])
    step = 1e-6
    slopes = (
        trend.log_trend(trend.vertices[1:-1] + step) - trend.log_trend(trend.vertices[1:-1] - step)
    ) / (2 * step)
    np.testing.assert_allclose(slopes, [f[1] for f in fits[1:-1]], rtol=1e-5)
    # the prior weights matter: equal weights give another curve
    middle = trend.vertices[trend.vertices.size // 2]
    weighted = _local_fit(x, y, means, middle, k)[0]
    assert abs(_local_fit(x, y, np.ones_like(x), middle, k)[0] - weighted) > 1e-3


def test_parametric_trend_fails_where_deseq2_stops():
    means = pd.Series(np.exp(np.linspace(1, 8, 50)))
    dispersions = 0.05 + 1 / means

    def non_positive(covariates, targets):
        return np.array([0.1, 1e-12]), np.full(len(covariates), 0.1), True

    with pytest.raises(ParametricFitFailed, match="not positive"):
        parametric_trend(means, dispersions, non_positive)

    calls = []

    def oscillating(covariates, targets):
        calls.append(1)
        value = 0.1 if len(calls) % 2 else 0.2
        return np.array([value, 1.0]), np.full(len(covariates), value), True

    with pytest.raises(ParametricFitFailed, match="did not converge in 11"):
        parametric_trend(means, dispersions, oscillating)
    assert len(calls) == 11

    def not_converged(covariates, targets):
        return np.array([0.1, 1.0]), np.full(len(covariates), 0.1), False

    with pytest.raises(ParametricFitFailed, match="GLM"):
        parametric_trend(means, dispersions, not_converged)


def test_rs_parametric_fit_recovers_a_curve_and_refuses_a_rising_one():
    means = np.exp(np.linspace(0, 9, 400))
    rng = np.random.default_rng(2)
    noisy = (0.05 + 2 / means) * rng.gamma(4, 1 / 4, means.size)
    np.testing.assert_allclose(r_parametric_fit(means, 0.05 + 2 / means), [0.05, 2], rtol=1e-6)
    a0, a1 = r_parametric_fit(means, noisy)
    assert 0.03 < a0 < 0.07 and 1 < a1 < 3
    with pytest.raises(ParametricFitFailed, match="not positive"):
        r_parametric_fit(means, 0.01 * means**0.3)


def test_where_only_pydeseq2s_fit_fails_the_trend_is_rs_parametric_one():
    # one dispersion for all genes: PyDESeq2's bounded fit puts a1 at its bound (failure,
    # PyDESeq2 would use the mean); R's fit converges with a1 > 0, so R keeps the parametric
    counts, metadata = _experiment(lambda base: np.full_like(base, 0.05), seed=3)
    dds = fit_model(counts, metadata, "~ condition")
    assert dds.uns["dispersion_trend"] == "parametric"
    genes = dds.var.loc[dds.non_zero_genes]
    above = genes["genewise_dispersions"] > 1e-6
    expected = r_parametric_fit(
        genes.loc[above, "_normed_means"].to_numpy(), genes.loc[above, "genewise_dispersions"]
    )
    assert "PyDESeq2's fit failed" in dds.uns["dispersion_trend_reason"]
    np.testing.assert_array_equal(dds.uns["trend_coeffs"], expected)
    a0, a1 = dds.uns["trend_coeffs"]
    assert a1 > 0 and 0.03 < a0 < 0.08


def _experiment(dispersion, n_genes=600, seed=1, replicates=3):
    rng = np.random.default_rng(seed)
    levels = ["a"] * replicates + ["b"] * replicates
    samples = pd.DataFrame({"sample": [f"s{i}" for i in range(len(levels))], "condition": levels})
    base = np.exp(rng.uniform(np.log(5), np.log(5e4), n_genes))
    disp = dispersion(base) * rng.lognormal(0, 0.4, n_genes)
    mu = base[None, :] * rng.lognormal(0, 0.2, (len(levels), 1))
    counts = rng.negative_binomial(1 / disp, 1 / (1 + mu * disp))
    counts = pd.DataFrame(
        counts, index=samples["sample"], columns=[f"g{i}" for i in range(n_genes)]
    )
    model = Model("m", "~ condition", {}, {"condition": "a"})
    metadata = model_samples(samples, model).loc[:, model.variables]
    return counts.loc[:, prefilter_mask(counts, 10, 3)], metadata


def test_the_parametric_fit_gives_pydeseq2s_own_coefficients():
    counts, metadata = _experiment(lambda base: 0.05 + 2 / base)
    dds = fit_model(counts, metadata, "~ condition")
    stock = DeseqDataSet(
        counts=counts, metadata=metadata, design="~ condition", quiet=True,
        inference=BatchedInference(),
    )  # fmt: skip
    stock.fit_size_factors()
    stock.fit_genewise_dispersions()
    stock.fit_dispersion_trend()
    assert dds.uns["dispersion_trend"] == "parametric"
    np.testing.assert_array_equal(dds.uns["trend_coeffs"], stock.uns["trend_coeffs"])
    np.testing.assert_array_equal(dds.var["fitted_dispersions"], stock.var["fitted_dispersions"])


@pytest.mark.parametrize("engine", ["batched", pytest.param("pydeseq2", marks=pytest.mark.slow)])
def test_a_failed_parametric_fit_falls_back_to_the_local_fit(engine):
    # dispersion rising with the mean: a0 + a1 / mean cannot follow it (a1 would be < 0)
    counts, metadata = _experiment(lambda base: 0.02 * (base / 100) ** 0.4)
    dds = fit_model(counts, metadata, "~ condition", engine=engine)
    assert dds.uns["dispersion_trend"] == "local"
    assert "not positive" in dds.uns["dispersion_trend_reason"]
    assert "local fit" in dds.uns["dispersion_trend_reason"]
    genes = dds.var.loc[dds.non_zero_genes]
    above = genes["genewise_dispersions"] > 1e-6
    trend = LocalDispersionTrend(
        genes.loc[above, "_normed_means"].to_numpy(), genes.loc[above, "genewise_dispersions"]
    )
    np.testing.assert_allclose(genes["fitted_dispersions"], trend(genes["_normed_means"]))
    # the trend rises with the mean, as the simulated dispersions do
    order = np.argsort(genes["_normed_means"].to_numpy())
    fitted = genes["fitted_dispersions"].to_numpy()[order]
    assert fitted[-50:].mean() > 3 * fitted[:50].mean()


def test_the_model_file_records_the_trend_used(tmp_path):
    counts, metadata = _experiment(lambda base: 0.02 * (base / 100) ** 0.4)
    dds = fit_model(counts, metadata, "~ condition")
    arrays = model_arrays(dds)
    write_model(arrays, tmp_path / "local.npz")
    assert read_dispersion_trend(tmp_path / "local.npz") == "local"
    assert str(read_model(tmp_path / "local.npz")["dispersion_trend"]) == "local"
    del arrays["dispersion_trend"]  # a model file written before the trend was recorded
    write_model(arrays, tmp_path / "older.npz")
    assert read_dispersion_trend(tmp_path / "older.npz") == "parametric"


def test_fit_type_local_and_mean_are_used_when_asked_for():
    counts, metadata = _experiment(lambda base: 0.05 + 2 / base)
    local = fit_model(counts, metadata, "~ condition", fit_type="local")
    assert (local.uns["dispersion_trend"], local.uns["dispersion_trend_reason"]) == (
        "local",
        "de.fit_type: local",
    )
    mean = fit_model(counts, metadata, "~ condition", fit_type="mean")
    assert mean.uns["dispersion_trend"] == "mean"
    assert np.unique(mean.var["fitted_dispersions"]).size == 1
    assert not np.allclose(local.var["fitted_dispersions"], mean.var["fitted_dispersions"])
    with pytest.raises(ValueError, match="de.fit_type must be one of"):
        fit_model(counts, metadata, "~ condition", fit_type="loess")


def test_cooks_outliers_are_refitted_on_the_local_trend():
    counts, metadata = _experiment(lambda base: 0.02 * (base / 100) ** 0.4, replicates=7)
    counts = counts.copy()
    counts.iloc[0, :5] = counts.iloc[:, :5].max().to_numpy() * 50  # outliers in one sample
    dds = fit_model(counts, metadata, "~ condition")
    assert dds.uns["dispersion_trend"] == "local"
    refitted = dds.var["refitted"].to_numpy(dtype=bool)
    assert refitted[:5].all()
    fitted = dds.var["fitted_dispersions"].to_numpy()
    np.testing.assert_allclose(
        fitted[refitted], dds.local_trend(dds.var["_normed_means"].to_numpy()[refitted])
    )
    assert np.isfinite(dds.var["dispersions"].to_numpy()[refitted]).all()
