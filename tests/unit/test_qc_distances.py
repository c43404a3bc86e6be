"""qc.sample_distances: the Gram identity, with near pairs recomputed, equals pdist."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist, squareform

from msc_secretome.qc import sample_distances


def _vst(samples: int, genes: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(9.0, 2.5, size=genes)  # VST-like: large common level, small spread
    values = base + rng.normal(0, 0.3, size=(samples, genes))
    return pd.DataFrame(values, index=[f"s{i}" for i in range(samples)])


def test_distances_equal_pdist_to_a_relative_1e_12():
    vst = _vst(40, 3000)
    ours = sample_distances(vst).to_numpy()
    exact = squareform(pdist(vst.to_numpy()))
    off = ~np.eye(40, dtype=bool)
    assert np.max(np.abs(ours[off] - exact[off]) / exact[off]) < 1e-12
    assert np.array_equal(ours, ours.T) and (np.diag(ours) == 0).all()


def test_identical_and_nearly_identical_samples():
    vst = _vst(12, 2000, seed=1)
    vst.iloc[5] = vst.iloc[2]  # a sample sequenced twice (or copied by mistake)
    vst.iloc[7] = vst.iloc[3] + 1e-9  # nearly the same
    table = sample_distances(vst)
    assert table.loc["s2", "s5"] == 0.0 and table.loc["s5", "s2"] == 0.0
    exact = squareform(pdist(vst.to_numpy()))
    assert abs(table.loc["s3", "s7"] - exact[3, 7]) / exact[3, 7] < 1e-6
    assert list(table.index) == list(vst.index) and table.index.name == "sample"
