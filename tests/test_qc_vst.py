"""The QC's blind VST with its trend fitted on ``qc.vst_genes`` genes (DESeq2 ``vst(nsub)``)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from pydeseq2.dds import DeseqDataSet

from msc_secretome import qc
from msc_secretome.batched_inference import BatchedInference


def simulate(n_samples=12, n_genes=3000, seed=1, low=0.5, dispersion=None):
    """Negative binomial counts (samples x genes); dispersion ``dispersion(mean)`` (default
    DESeq2-like, ``0.04 + 1 / mean``) times log-normal noise."""
    rng = np.random.default_rng(seed)
    base = np.exp(rng.uniform(np.log(low), np.log(2e4), n_genes))
    trend = (lambda mean: 0.04 + 1 / mean) if dispersion is None else dispersion
    disp = trend(base) * rng.lognormal(0, 0.3, n_genes)
    mu = base[None, :] * rng.lognormal(0, 0.3, (n_samples, 1))
    counts = rng.negative_binomial(1 / disp, 1 / (1 + mu * disp))
    samples = [f"s{i:02d}" for i in range(n_samples)]
    counts = pd.DataFrame(counts, index=samples, columns=[f"g{i:04d}" for i in range(n_genes)])
    metadata = pd.DataFrame({"condition": ["a", "b"] * (n_samples // 2)}, index=samples)
    return counts.loc[:, (counts >= 10).sum(axis=0) >= 3], metadata


@pytest.fixture(scope="module")
def data():
    return simulate()


def test_trend_genes_are_r_evenly_spaced_ranks_of_the_mean():
    #                 0   1   2  3   4  5    6       7  8  9  10  11
    means = np.array([1, 50, 6, 5, 30, 7, 100, 5.0001, 8, 9, 10, 11], dtype=float)
    # above 5 by mean: 7, 2, 5, 8, 9, 10, 11, 4, 1, 6; round(seq(1, 10, length = 4)) = 1 4 7 10
    np.testing.assert_array_equal(qc.vst_trend_genes(means, 4), [7, 8, 11, 6])
    # round(seq(1, 4, length = 3)) = 1 2 4: R rounds 2.5 half to even (floor(x + 0.5) gives 3)
    np.testing.assert_array_equal(qc.vst_trend_genes(np.array([6.0, 7, 8, 9]), 3), [0, 1, 3])


def test_trend_genes_have_mean_above_5_and_fewer_give_all_of_them():
    means = np.array([5.0, 4.9, 0.0, 12.0, 6.0, 5.0, 80.0])
    np.testing.assert_array_equal(qc.vst_trend_genes(means, 1000), [4, 3, 6])  # by mean
    assert qc.vst_trend_genes(np.full(5, 5.0), 10).size == 0


def test_trend_genes_are_deterministic_and_follow_the_genes_not_their_order():
    rng = np.random.default_rng(3)
    means = np.exp(rng.uniform(0, 10, 5000))
    picks = qc.vst_trend_genes(means, 1000)
    assert picks.size == 1000 and np.unique(picks).size == 1000
    assert (means[picks] > 5).all() and (np.diff(means[picks]) > 0).all()
    np.testing.assert_array_equal(picks, qc.vst_trend_genes(means.copy(), 1000))
    shuffled = rng.permutation(means.size)
    again = shuffled[qc.vst_trend_genes(means[shuffled], 1000)]
    np.testing.assert_array_equal(again, picks)
    # the extremes of the passing genes are always in
    passing = np.flatnonzero(means > 5)
    assert {passing[means[passing].argmin()], passing[means[passing].argmax()]} <= set(picks)


def test_all_is_the_previous_vst_exactly(data):
    counts, metadata = data
    meta = metadata.copy()
    meta["_all"] = "all"
    with warnings.catch_warnings():  # the code before qc.vst_genes existed
        warnings.simplefilter("ignore")
        dds = DeseqDataSet(
            counts=counts, metadata=meta, design="~1", inference=BatchedInference(), quiet=True
        )
        dds.vst(use_design=False)
    vst, factors, trend = qc.variance_stabilised(counts, metadata, trend_genes="all")
    np.testing.assert_array_equal(vst.to_numpy(), dds.layers["vst_counts"])
    np.testing.assert_array_equal(factors.to_numpy(), dds.obs["size_factors"].to_numpy())
    assert trend.fitted_on == counts.shape[1] and trend.fit_type == "parametric"
    assert "qc.vst_genes: all" in trend.describe()


def test_subset_trend_transforms_every_gene_with_all_genes_size_factors(data):
    counts, metadata = data
    vst, factors, trend = qc.variance_stabilised(counts, metadata, trend_genes=1000)
    full, full_factors, full_trend = qc.variance_stabilised(counts, metadata, trend_genes="all")
    assert vst.shape == counts.shape and np.isfinite(vst.to_numpy()).all()
    np.testing.assert_array_equal(factors.to_numpy(), full_factors.to_numpy())
    assert (trend.fitted_on, trend.genes) == (1000, counts.shape[1])
    assert trend.passing == int((counts.div(factors, axis=0).mean() > 5).sum())
    # another trend, hence other values (here mostly at low counts); the same for a rerun
    assert trend.coefficients != full_trend.coefficients
    assert np.abs(vst - full).to_numpy().max() > 1e-3
    again, _, _ = qc.variance_stabilised(counts, metadata, trend_genes=1000)
    np.testing.assert_array_equal(vst.to_numpy(), again.to_numpy())
    # the closed form of DESeq2's parametric VST with the subset's trend
    a0, a1 = trend.coefficients
    q = counts.div(factors, axis=0).to_numpy(dtype=float)
    expected = np.log2((1 + a1 + 2 * a0 * q + 2 * np.sqrt(a0 * q * (1 + a1 + a0 * q))) / (4 * a0))
    np.testing.assert_allclose(vst.to_numpy(), expected, rtol=1e-12)


def test_fewer_genes_above_5_than_asked_uses_all_of_them_and_says_so():
    counts, metadata = simulate(n_genes=1500, seed=2)
    vst, factors, trend = qc.variance_stabilised(counts, metadata, trend_genes=5000)
    assert trend.fitted_on == trend.passing < 5000
    assert trend.passing < counts.shape[1]  # genes at mean <= 5 are left out of the fit
    assert "fewer than qc.vst_genes = 5000" in trend.describe()
    # when every gene is above 5, that subset is every gene: the `all` fit, up to rounding
    high, high_meta = simulate(n_genes=800, seed=4, low=200)
    ours, _, subset = qc.variance_stabilised(high, high_meta, trend_genes=1000)
    full, _, _ = qc.variance_stabilised(high, high_meta, trend_genes="all")
    assert subset.fitted_on == high.shape[1]
    np.testing.assert_allclose(ours.to_numpy(), full.to_numpy(), rtol=0, atol=1e-9)


def test_failed_parametric_fit_gives_the_one_dispersion_closed_form():
    # dispersion rising with the mean: a0 + a1 / mean cannot follow (a1 at PyDESeq2's bound),
    # so PyDESeq2's VST trend (the QC's, either mode) takes one dispersion; R: its local fit
    counts, metadata = simulate(
        n_genes=2000, seed=5, dispersion=lambda mean: 0.02 * (mean / 100) ** 0.4
    )
    vst, factors, trend = qc.variance_stabilised(counts, metadata, trend_genes=500)
    assert trend.fit_type == "mean" and trend.fitted_on == 500
    assert "parametric fit failed" in trend.describe()
    alpha = trend.mean_dispersion
    assert 0.02 < alpha < 0.1
    q = counts.div(factors, axis=0).to_numpy(dtype=float)
    expected = (2 * np.arcsinh(np.sqrt(alpha * q)) - np.log(alpha) - np.log(4)) / np.log(2)
    np.testing.assert_allclose(vst.to_numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("bad", [0, -3, "some", 2.5])
def test_vst_genes_must_be_a_positive_integer_or_all(data, bad):
    counts, metadata = data
    with pytest.raises(ValueError, match="qc.vst_genes"):
        qc.variance_stabilised(counts, metadata, trend_genes=bad)
