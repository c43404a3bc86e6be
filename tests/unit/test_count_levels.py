"""count_levels: a function of counts + 1/alpha evaluated once per distinct count of a gene
gives the same bits as evaluating it on every entry, and so does the dispersion fit using it."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import gammaln, zeta

from msc_secretome import count_levels
from msc_secretome.count_levels import CountLevels


def tied_counts(seed: int = 3, n_samples: int = 60, n_genes: int = 300) -> np.ndarray:
    """Counts with many ties: low-count genes, an all-zero gene, a constant gene."""
    rng = np.random.default_rng(seed)
    mean = np.exp(rng.uniform(-1, 5, n_genes))
    counts = rng.negative_binomial(5, 5 / (5 + mean), size=(n_samples, n_genes)).astype(float)
    counts[:, 0] = 0
    counts[:, 1] = 7
    return counts


def test_levels_are_the_distinct_counts_of_each_gene():
    counts = tied_counts()
    levels = CountLevels(counts)
    for gene in (0, 1, 2, 150, 299):
        mine = levels.values[levels.offsets[gene] : levels.offsets[gene + 1]]
        assert np.array_equal(mine, np.unique(counts[:, gene]))
        assert np.array_equal(mine[levels.local[:, gene]], counts[:, gene])
    distinct = sum(np.unique(counts[:, g]).size for g in range(counts.shape[1]))
    assert levels.fraction == pytest.approx(distinct / counts.size)
    assert levels.fraction < count_levels.MAX_DISTINCT_FRACTION  # the gathering path is taken


@pytest.mark.parametrize("function", [lambda x: zeta(2, x), gammaln], ids=["trigamma", "gammaln"])
def test_apply_is_bit_identical_to_every_entry(function):
    counts = tied_counts()
    levels = CountLevels(counts)
    rng = np.random.default_rng(0)
    for genes in (np.arange(counts.shape[1]), np.array([5, 0, 299, 1, 42]), np.array([17])):
        shift = 1.0 / np.exp(rng.uniform(-8, 2, genes.size))
        got = levels.apply(function, counts, genes, shift)
        assert got.shape == (counts.shape[0], genes.size)
        assert np.array_equal(got, function(counts[:, genes] + shift))


def test_mostly_distinct_counts_are_evaluated_directly(monkeypatch):
    counts = np.random.default_rng(1).permuted(np.arange(40 * 20.0)).reshape(40, 20)
    levels = CountLevels(counts)
    assert levels.fraction == 1.0
    seen = []

    def recording(x):
        seen.append(x.shape)
        return np.sqrt(x)

    genes, shift = np.arange(20), np.full(20, 0.5)
    assert np.array_equal(levels.apply(recording, counts, genes, shift), np.sqrt(counts + 0.5))
    assert seen == [(40, 20)]  # the whole block, not the gathered values


def test_dispersion_fit_is_bit_identical_with_and_without_levels(monkeypatch):
    from msc_secretome.differential_expression import fit_model

    rng = np.random.default_rng(7)
    n = 48
    metadata = pd.DataFrame(
        {"condition": np.repeat(["a", "b"], n // 2), "batch": np.tile(["x", "y", "z"], n // 3)},
        index=[f"s{i}" for i in range(n)],
    )
    mean = np.exp(rng.uniform(1, 6, 800))
    counts = rng.negative_binomial(8, 8 / (8 + mean), size=(n, 800))
    counts[: n // 2, :40] *= 3
    frame = pd.DataFrame(counts, index=metadata.index, columns=[f"g{i}" for i in range(800)])
    assert CountLevels(counts[:, :2048].astype(float)).fraction < 0.7
    gathered = []
    apply = CountLevels.apply

    def counting(self, *args):
        gathered.append(self.fraction <= count_levels.MAX_DISTINCT_FRACTION)
        return apply(self, *args)

    monkeypatch.setattr(CountLevels, "apply", counting)
    fits = {}
    for label, limit in (("levels", count_levels.MAX_DISTINCT_FRACTION), ("direct", -1.0)):
        monkeypatch.setattr(count_levels, "MAX_DISTINCT_FRACTION", limit)
        gathered.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits[label] = fit_model(frame, metadata, "~ batch + condition")
        assert gathered and all(gathered) == (label == "levels")
    for column in ("genewise_dispersions", "dispersions"):
        a = fits["levels"].var[column].to_numpy()
        b = fits["direct"].var[column].to_numpy()
        assert np.array_equal(a, b), column
    assert np.array_equal(fits["levels"].varm["LFC"].to_numpy(), fits["direct"].varm["LFC"])
