"""QC outlier calls (msc_secretome.outliers): the rules, the table, single-cell groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
from report_fixtures import make_report_inputs

from msc_secretome.outliers import (
    OUTLIER_COLUMNS,
    biological_group_columns,
    find_outliers,
    outlier_reasons,
)


def test_library_size_and_pca_rules() -> None:
    inputs = make_report_inputs(n_genes=50, n_contrasts=1)
    out = find_outliers(inputs["samples"], inputs["library_sizes"], inputs["pca"])
    assert list(out.columns) == OUTLIER_COLUMNS
    assert out["sample"].tolist() == ["CA_CM_radiation_r1"]
    assert out["rule"].tolist() == ["library_size"]
    assert "1/3 of the median" in out["reason"].iloc[0]
    # a PCA outlier: one replicate far from its group (3 replicates per group)
    big = make_report_inputs(n_genes=50, n_contrasts=1, n_reps=3)
    pca = big["pca"].copy()
    pca.loc[pca["sample"] == "NO_CM_chemo_r2", "PC2"] += 40.0
    reasons = outlier_reasons(find_outliers(big["samples"], big["library_sizes"], pca))
    assert any("PCA distance" in r for r in reasons["NO_CM_chemo_r2"])


def test_no_outliers_is_an_empty_table_with_columns() -> None:
    samples = pd.DataFrame({"sample": ["a", "b"], "group": ["x", "x"]})
    sizes = pd.DataFrame({"sample": ["a", "b"], "total_counts": [100, 110]})
    out = find_outliers(samples, sizes, None)
    assert out.empty and list(out.columns) == OUTLIER_COLUMNS
    assert outlier_reasons(out) == {}


def test_single_cell_groups_are_conditions_not_pseudo_samples() -> None:
    """Pseudo-samples are unique per original sample x cell type; the bookkeeping columns must
    not define the groups, or no group reaches 3 members and the PCA rule can never fire."""
    rows = []
    for medium in ("control", "CM"):
        for rep in (1, 2, 3, 4):
            for cell_type in ("cancer", "normal"):
                original = f"{medium}_r{rep}"
                rows.append(
                    {
                        "sample": f"{original}__{cell_type}",
                        "original_sample": original,
                        "cell_type": cell_type,
                        "medium": medium,
                        "n_cells": str(100 + rep),
                    }
                )
    samples = pd.DataFrame(rows)
    groups = biological_group_columns(samples)
    assert groups == ["cell_type", "medium"]
    rng = np.random.default_rng(0)
    pca = pd.DataFrame(
        {"sample": samples["sample"], "PC1": rng.normal(0, 1, 16), "PC2": rng.normal(0, 1, 16)}
    )
    pca.loc[samples["cell_type"] == "normal", "PC1"] += 20
    pca.loc[0, "PC2"] += 30.0
    out = find_outliers(samples, None, pca)
    pca_rows = out[out["rule"] == "pca_distance"]
    assert pca_rows.sort_values("value")["sample"].iloc[-1] == "control_r1__cancer"
    # before: groups were original_sample x cell type x ..., each of one pseudo-sample
    assert samples.groupby(["original_sample", *groups]).size().max() == 1


def test_rule_text_names_the_groups() -> None:
    from msc_secretome.outliers import rule_text

    samples = pd.DataFrame({"sample": list("abcd"), "medium": list("xxyy"), "batch": list("1212")})
    text = rule_text(samples)
    assert "a group is the samples sharing medium (groups with ≥ 3 samples)" in text
