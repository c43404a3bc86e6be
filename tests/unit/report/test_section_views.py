"""Section view models are plain dicts: what each section shows, before any markup."""

from __future__ import annotations

import pandas as pd
from report_fixtures import NULL_CONTRAST, make_report_inputs

from msc_secretome.report.contrasts import contrast_view
from msc_secretome.report.enrichment_tables import enrichment_view
from msc_secretome.report.qc import qc_view

INPUTS = make_report_inputs(n_genes=80, n_contrasts=4)


def test_contrast_view_states_the_de_summarys_reasons() -> None:
    row = INPUTS["contrasts"].set_index("contrast").loc[NULL_CONTRAST].to_dict()
    row |= {"contrast": NULL_CONTRAST, "no_hits_reasons": "Reason one. | Reason two."}
    view = contrast_view(
        NULL_CONTRAST, "c-null", row, INPUTS["de"][NULL_CONTRAST], INPUTS["samples"], None, {}
    )
    assert view["why"] == ["Reason one.", "Reason two."]
    assert view["href"] == f"../de/{NULL_CONTRAST}.tsv" and view["missing"] is False
    assert {m["key"] for m in view["meta"]} == {
        "kind", "model", "design", "subset", "samples", "alpha"
    }  # fmt: skip
    assert view["volcano"]["id"] == "c-null-volcano" and view["ma"]["id"] == "c-null-ma"


def test_contrast_view_without_a_table() -> None:
    view = contrast_view("x", "c-x", {"contrast": "x"}, None, INPUTS["samples"], None, {})
    assert view == {
        "id": "c-x",
        "name": "x",
        "description": None,
        "meta": [{"key": "subset", "value": "all samples"}, {"key": "alpha", "value": "0.05"}],
        "href": "../de/x.tsv",
        "missing": True,
    }


def test_qc_view_lists_the_qc_tables_outliers() -> None:
    outliers = {"CA_CM_chemo_r2": ["library size 10 < 1/3 of the median (99)"]}
    view = qc_view(INPUTS["samples"], INPUTS["library_sizes"], INPUTS["pca"], None, None, outliers)
    assert view["outliers"] == [
        {"sample": "CA_CM_chemo_r2", "reasons": "library size 10 < 1/3 of the median (99)"}
    ]
    assert view["outlier_word"] == "1 possible outlier"
    assert view["distances"] is None and view["library_sizes"]["id"] == "fig-libsizes"
    assert view["samples"]["columns"][-1] == "outlier"


def test_enrichment_view_without_ora() -> None:
    empty = {name: pd.DataFrame() for name in INPUTS["de"]}
    view = enrichment_view(empty, list(empty), {n: f"c-{i}" for i, n in enumerate(empty)})
    assert view == {"blocks": [], "any_prerank": False, "any_ora": False, "ora_given": False}
