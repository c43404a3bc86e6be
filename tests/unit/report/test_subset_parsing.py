"""Issue #17 defect 1: subsets are read as the pipeline writes them (Model.subset_label)."""

from __future__ import annotations

import pandas as pd
import pytest

from msc_secretome.design import Model
from msc_secretome.report import parse_subset, subset_samples


def test_several_levels_of_several_columns() -> None:
    assert parse_subset("cell_type=cancer; therapy=chemo,none") == [
        ("cell_type", ("cancer",)),
        ("therapy", ("chemo", "none")),
    ]
    assert parse_subset("") == []


def test_round_trip_with_the_pipelines_own_label() -> None:
    model = Model(
        name="cancer",
        design="~ therapy",
        subset={"cell_type": ("cancer",), "therapy": ("chemo", "none")},
    )
    label = model.subset_label()
    assert parse_subset(label) == [(k, tuple(v)) for k, v in model.subset.items()]


def test_subset_samples_keeps_every_listed_level() -> None:
    samples = pd.DataFrame(
        {
            "sample": ["a", "b", "c", "d"],
            "cell_type": ["cancer", "cancer", "cancer", "normal"],
            "therapy": ["chemo", "none", "radiation", "chemo"],
        }
    )
    kept = subset_samples(samples, "cell_type=cancer; therapy=chemo,none")
    assert kept["sample"].tolist() == ["a", "b"]


def test_a_condition_without_equals_is_refused() -> None:
    with pytest.raises(ValueError, match="has no '='"):
        parse_subset("cell_type=cancer; chemo")
