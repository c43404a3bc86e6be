"""msc_secretome.secretome_stage: the secretome rule's steps outside the rule."""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_secretome.secretome_stage import symbol_matrix


def test_symbol_matrix_drops_ids_without_symbol_and_collapses_by_max():
    values = np.array([[1.0, 5.0, 2.0, 9.0], [4.0, 0.0, 3.0, 9.0]])
    symbols = ["IL6", "IL6", "MET", ""]
    kept = symbol_matrix(values, ["s1", "s2"], symbols)
    assert list(kept.columns) == ["IL6", "IL6", "MET"]
    collapsed = symbol_matrix(values, ["s1", "s2"], symbols, collapse="max")
    expected = pd.DataFrame({"IL6": [5.0, 4.0], "MET": [2.0, 3.0]}, index=pd.Index(["s1", "s2"]))
    pd.testing.assert_frame_equal(collapsed, expected, check_names=False)
