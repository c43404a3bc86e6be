"""Models and contrasts named by cells of the design: vectors, references, design problems."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_secretome.design import (
    Contrast,
    Model,
    check_design,
    contrast_context,
    contrast_vector,
    design_variables,
    model_samples,
    parse_contrasts,
    parse_models,
)
from msc_secretome.errors import InputError


def sheet(replicates: int = 2) -> pd.DataFrame:
    rows = []
    for cell in ("cancer", "normal"):
        for medium in ("control", "msc_cm"):
            for therapy in ("none", "chemo", "radiation"):
                for rep in range(1, replicates + 1):
                    rows.append(
                        (f"{cell}_{medium}_{therapy}_{rep}", cell, medium, therapy, f"b{rep}")
                    )
    return pd.DataFrame(rows, columns=["sample", "cell_type", "medium", "therapy", "batch"])


CANCER = Model(
    "cancer",
    "~ batch + medium * therapy",
    {"cell_type": ("cancer",)},
    {"medium": "control", "therapy": "none"},
)


def vector_for(contrast: Contrast, model: Model = CANCER) -> pd.Series:
    metadata = model_samples(sheet(), model)
    helper = check_design(metadata.loc[:, model.variables], model)
    return contrast_vector(helper, contrast, model, metadata)


def test_design_variables_parses_only_names():
    assert design_variables("~ batch + medium * therapy") == ["batch", "medium", "therapy"]
    with pytest.raises(InputError, match="not of the form"):
        design_variables("~ np.log(x) + medium")
    with pytest.raises(InputError):
        design_variables("~ __import__('os').system('true')")


def test_reference_levels_follow_config_not_alphabet():
    metadata = model_samples(sheet(), CANCER)
    assert list(metadata["therapy"].cat.categories) == ["none", "chemo", "radiation"]
    assert list(metadata["medium"].cat.categories) == ["control", "msc_cm"]
    model = Model("m", "~ therapy", {}, {"therapy": "radiation"})
    assert model_samples(sheet(), model)["therapy"].cat.categories[0] == "radiation"


def test_compare_at_a_therapy_adds_the_interaction_term():
    v = vector_for(
        Contrast("c", "cancer", "compare", (("medium", "msc_cm", "control"),), {"therapy": "chemo"})
    )
    nonzero = v[v != 0].to_dict()
    assert nonzero == {"medium[T.msc_cm]": 1.0, "medium[T.msc_cm]:therapy[T.chemo]": 1.0}


def test_interaction_is_the_difference_of_differences():
    v = vector_for(
        Contrast(
            "c",
            "cancer",
            "interaction",
            (("medium", "msc_cm", "control"), ("therapy", "chemo", "none")),
        )
    )
    assert v[v != 0].to_dict() == {"medium[T.msc_cm]:therapy[T.chemo]": 1.0}


def test_compare_between_two_non_reference_levels():
    v = vector_for(
        Contrast(
            "c", "cancer", "compare", (("therapy", "radiation", "chemo"),), {"medium": "control"}
        )
    )
    assert v[v != 0].to_dict() == {"therapy[T.chemo]": -1.0, "therapy[T.radiation]": 1.0}


def test_unknown_level_and_unknown_factor_are_named():
    with pytest.raises(InputError, match="level 'msc' of 'medium'.*levels there"):
        vector_for(Contrast("c", "cancer", "compare", (("medium", "msc", "control"),)))
    with pytest.raises(InputError, match="'donor' is not in the design"):
        vector_for(Contrast("c", "cancer", "compare", (("donor", "d1", "d2"),)))


def test_confounded_design_names_the_columns():
    samples = sheet()
    samples["batch"] = np.where(samples["medium"] == "msc_cm", "bx", "by")
    model = Model("m", "~ batch + medium", {"cell_type": ("cancer",)}, {"medium": "control"})
    metadata = model_samples(samples, model)
    with pytest.raises(InputError, match=r"not full rank.*medium\[T.msc_cm\].*batch"):
        check_design(metadata.loc[:, model.variables], model)


def test_no_residual_degrees_of_freedom():
    model = Model("m", "~ medium * therapy", {"cell_type": ("cancer",)}, {})
    metadata = model_samples(sheet(replicates=1), model)
    with pytest.raises(InputError, match="no residual"):
        check_design(metadata.loc[:, model.variables], model)


def test_constant_factor_in_subset():
    model = Model("m", "~ cell_type + medium", {"cell_type": ("cancer",)}, {})
    with pytest.raises(InputError, match="single level"):
        model_samples(sheet(), model)


def test_subset_level_that_matches_nothing():
    model = Model("m", "~ medium", {"cell_type": ("tumour",)}, {})
    with pytest.raises(InputError, match="matches no sample"):
        model_samples(sheet(), model)


def test_parse_contrasts_checks_shape():
    models = parse_models({"models": {"cancer": {"design": "~ medium"}}})
    with pytest.raises(InputError, match="not defined"):
        parse_contrasts(
            {"contrasts": {"x": {"model": "nope", "compare": {"m": ["a", "b"]}}}}, models
        )
    with pytest.raises(InputError, match="two different levels"):
        parse_contrasts(
            {"contrasts": {"x": {"model": "cancer", "compare": {"m": ["a", "a"]}}}}, models
        )


def test_contrast_context_uses_at_subset_and_references():
    contrast = Contrast(
        "c", "cancer", "compare", (("medium", "msc_cm", "control"),), {"therapy": "chemo"}
    )
    context = contrast_context(contrast, CANCER)
    assert context["cell_type"] == "cancer"
    assert context["therapy"] == "chemo"
    assert context["medium"] is None


def test_level_with_a_single_sample_is_explained():
    samples = sheet()
    samples.loc[0, "batch"] = "b9"  # one sample alone in its batch
    model = Model("m", "~ batch + medium", {"cell_type": ("cancer",)}, {"medium": "control"})
    with pytest.raises(InputError, match=r"\['b9'\] of 'batch' have a single sample"):
        model_samples(samples, model)
