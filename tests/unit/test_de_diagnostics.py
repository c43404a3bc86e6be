"""'Why nothing is significant' is computed with the DE summary (msc_secretome.de_diagnostics)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from msc_secretome.de_diagnostics import (
    DIAGNOSTIC_COLUMNS,
    REASON_SEPARATOR,
    contrast_diagnostics,
    diagnostics_table,
)
from msc_secretome.design import Contrast, Model

SAMPLES = pd.DataFrame(
    {
        "sample": [f"s{i}" for i in range(12)],
        "cell_type": ["cancer"] * 6 + ["normal"] * 6,
        "therapy": ["chemo", "none", "radiation"] * 4,
        "medium": (["control"] * 3 + ["msc_cm"] * 3) * 2,
    }
)
SIZES = pd.DataFrame({"sample": SAMPLES["sample"], "total_counts": [1e6] * 11 + [2e7]})


def _null_table(n: int = 400, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"pvalue": rng.random(n), "padj": np.full(n, 0.9)})


def test_reasons_for_a_flat_small_contrast() -> None:
    chosen = SAMPLES.iloc[:6]
    out = contrast_diagnostics(_null_table(), chosen, SIZES, ["s1", "s11"], alpha=0.05)
    assert list(out) == DIAGNOSTIC_COLUMNS
    assert out["smallest_group"] == 1 and out["outlier_samples"] == "s1"
    assert out["median_library_size"] == 1e6
    reasons = out["no_hits_reasons"].split(REASON_SEPARATOR)
    assert reasons[0].startswith("Few replicates: the model uses 6 samples")
    assert any("flat" in r for r in reasons) and any("Small libraries" in r for r in reasons)
    assert (
        reasons[-1].startswith("Possible outlier sample(s) in this model") and "s1" in reasons[-1]
    )


def test_no_reasons_when_a_gene_is_significant() -> None:
    table = _null_table()
    table.loc[0, "padj"] = 0.001
    out = contrast_diagnostics(table, SAMPLES, SIZES, [], alpha=0.05)
    assert out["no_hits_reasons"] == ""


def test_table_selects_each_models_samples_with_several_levels() -> None:
    """A subset with several levels of one column (cell_type=cancer; therapy=chemo,none) keeps
    all of them: the diagnosis sees 4 samples, not the 2 of the first level."""
    model = Model(
        name="m",
        design="~ medium",
        subset={"cell_type": ("cancer",), "therapy": ("chemo", "none")},
    )
    contrast = Contrast(name="c", model="m", kind="compare", terms=())
    out = diagnostics_table(
        [contrast], {"m": model}, SAMPLES, {"c": _null_table()}, SIZES, None, alpha=0.05
    )
    assert list(out.columns) == ["contrast", *DIAGNOSTIC_COLUMNS]
    assert "the model uses 4 samples" in out.loc[0, "no_hits_reasons"]


def test_groups_are_decided_on_the_whole_sheet() -> None:
    """Two samples of a subset differ in every factor left: judged on the subset alone those
    factors look unique per sample and the two would pass for one group of 2 replicates."""
    model = Model(
        name="m", design="~ medium", subset={"cell_type": ("cancer",), "therapy": ("chemo",)}
    )
    contrast = Contrast(name="c", model="m", kind="compare", terms=())
    out = diagnostics_table(
        [contrast], {"m": model}, SAMPLES, {"c": _null_table()}, SIZES, None, alpha=0.05
    )
    assert out.loc[0, "smallest_group"] == 1
    assert "the smallest group has 1 replicate;" in out.loc[0, "no_hits_reasons"]
