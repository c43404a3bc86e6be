"""Sections of the stages merged after the report package: secretome (#15), species and
inputs (#14). View models are compared as dicts; the page is checked for what it shows."""

from __future__ import annotations

import pytest
from report_fixtures import make_report_inputs
from stage_fixtures import with_stages

from msc_secretome.report import render_report, verdict_view

INPUTS = with_stages(make_report_inputs(n_genes=80, n_contrasts=3))


def test_verdict_cards_show_the_factor_chains_of_their_contrasts() -> None:
    factors = INPUTS["secretome"]["verdict_factors"]
    view = verdict_view(INPUTS["dual_benefit"], INPUTS["programme_calls"], "none", factors)
    chemo, radiation = view["cards"]
    assert chemo["factors"] == [
        {
            "label": "cancer contrast",
            "contrast": "cancer_chemo_CM_vs_ctrl",
            "chains": [
                "TRAIL -> TNFRSF10B expressed -> Trail pathway up -> "
                "CYT_APOPTOSIS_EXTRINSIC up in cancer cells",
                "IL-6 -> IL6R/IL6ST expressed -> JAK-STAT pathway up -> "
                "RISK_IL6_JAK_STAT3 up in cancer cells",
            ],
        },
        {
            "label": "potentiation contrast",
            "contrast": "cancer_chemo_x_CM",
            "chains": [
                "TRAIL -> TNFRSF10B expressed -> Trail pathway up -> "
                "CYT_APOPTOSIS_INTRINSIC up in cancer cells"
            ],
        },
        {
            "label": "normal contrast",
            "contrast": "normal_chemo_CM_vs_ctrl",
            "chains": [
                "HGF -> MET expressed -> MAPK pathway up -> REG_ANTIOXIDANT_NRF2 up in normal cells"
            ],
        },
    ]
    assert radiation["factors"] == []  # no radiation contrast in this fixture
    without = verdict_view(INPUTS["dual_benefit"], INPUTS["programme_calls"], "none")
    assert without["cards"][0]["factors"] == []


def test_page_has_the_secretome_section_only_when_the_stage_ran() -> None:
    page = render_report(**INPUTS)
    assert '<section id="secretome">' in page and '<a href="#secretome">Secretome</a>' in page
    assert page.index('<section id="programmes"') < page.index('<section id="secretome"')
    assert page.count('data-fig="fig-secretome-') == 3 + 1  # three groups and the heatmap
    assert "Secreted factors that can explain it:" in page
    assert "TRAIL -&gt; TNFRSF10B expressed -&gt; Trail pathway up" in page
    methods = page[page.index('<section id="methods"') :]
    assert "Secretome resources" in methods and "c" * 64 in methods
    assert "ligand receptor resource" in methods
    bulk = render_report(**{k: v for k, v in INPUTS.items() if k != "secretome"})
    assert 'id="secretome"' not in bulk and "Secretome resources" not in bulk
    assert "Secreted factors" not in bulk


def test_programme_definitions_are_stated_once_unless_built_in_human() -> None:
    from msc_secretome.programme_definitions import definitions_note

    mouse = definitions_note("builtin", "mouse", [])
    dual = INPUTS["dual_benefit"].assign(programme_definitions=mouse)
    calls = INPUTS["programme_calls"].assign(programme_definitions=mouse)
    view = verdict_view(dual, calls)
    assert view["definitions"] == [mouse]
    assert all(
        "programme_definitions" not in {r["label"] for r in c["rows"]} for c in view["cards"]
    )
    page = render_report(**dict(INPUTS, dual_benefit=dual, programme_calls=calls))
    verdict = page[page.index('<section id="verdict"') : page.index('<section id="qc"')]
    assert verdict.count(mouse) == 1 and 'id="programme-definitions"' in verdict
    human = definitions_note("builtin", "human", [])
    assert verdict_view(dual.assign(programme_definitions=human))["definitions"] == []
    no_column = INPUTS["dual_benefit"].drop(columns="programme_definitions")
    assert verdict_view(no_column, calls)["definitions"] == [mouse]  # from the calls


def test_libraries_table_explains_a_targeted_panel_and_shows_organism() -> None:
    from msc_secretome.report.methods import libraries_view

    libraries = INPUTS["libraries"].assign(
        data_coverage=[0.95, 0.9, 0.8],
        coverage_verdict=["targeted_panel", "ok", "ok"],
        organism="human",
        mapped_from="",
        ortholog_mapping_rate=float("nan"),
    )
    view = libraries_view(libraries)
    assert view["table"]["columns"] == [
        "library", "kind", "organism", "path", "sha256", "n_sets", "n_genes", "genes_in_data",
        "coverage", "data_coverage", "coverage_verdict",
    ]  # fmt: skip
    assert view["mapped"] is False
    assert view["panel_notes"] == [
        "programmes: only 100.0% of the library's genes are in the data, but 95.0% of the data's "
        "genes are in the library and the data has fewer genes than the library: read as a "
        "targeted or pre-filtered count matrix, not a wrong identifier type."
    ]
    page = render_report(**dict(INPUTS, libraries=libraries))
    assert 'id="targeted-panel"' in page
    assert 'id="targeted-panel"' not in render_report(**INPUTS)


def test_input_checks_views_state_what_the_validation_saw() -> None:
    from msc_secretome.report.input_checks import summary_rows_view, validation_view

    view = validation_view(INPUTS["validation_summary"])
    assert view["warnings"] == [
        {"check": "excel_dates", "detail": "2 gene ids look like spreadsheet dates (1-Sep, 2-Mar)"}
    ]
    assert view["notes"] == [
        {"check": "layout", "detail": "strand column inferred: reverse (column 4)"}
    ]
    assert view["format"] == "star" and view["methods"].startswith("Counts were read from STAR")
    assert [r[0]["text"] for r in view["table"]["rows"]] == [
        "counts_format", "layout", "n_genes", "excel_dates"
    ]  # fmt: skip
    rows = summary_rows_view(INPUTS["count_summary_rows"])
    assert rows["names"] == ["N_unmapped", "N_multimapping", "N_noFeature", "N_ambiguous"]
    traces = rows["figure"]["spec"]["data"]
    assert [t["name"] for t in traces] == rows["names"]
    first = INPUTS["count_summary_rows"].iloc[0]
    total = first["reads_in_genes"] + first["reads_in_summary_rows"]
    assert sum(t["y"][0] for t in traces) == pytest.approx(first["fraction_in_summary_rows"], 1e-3)
    assert traces[0]["y"][0] == pytest.approx(first["N_unmapped"] / total, 1e-3)
    plain = INPUTS["count_summary_rows"].iloc[:, :4].assign(reads_in_summary_rows=0)
    assert summary_rows_view(plain) is None  # a plain matrix has no summary rows
    assert validation_view(None) is None


def test_qc_and_methods_show_the_input_checks() -> None:
    page = render_report(**INPUTS)
    qc = page[page.index('<section id="qc"') :]
    qc = qc[: qc.index("</section>")]
    assert qc.index('id="input-warnings"') < qc.index("<h3>Samples")
    assert "spreadsheet dates (1-Sep, 2-Mar)" in qc and "<code>star</code>" in qc
    assert 'id="fig-summary-rows"' in qc and 'id="table-summary-rows"' in qc
    methods = page[page.index('<section id="methods"') :]
    assert '<p id="counts-methods">Counts were read from STAR' in methods
    ok = INPUTS["validation_summary"].iloc[:4]
    assert 'id="input-warnings"' not in render_report(**dict(INPUTS, validation_summary=ok))


def test_single_cell_section_counts_dropped_cells_per_reason() -> None:
    from report_fixtures import make_single_cell_report_inputs

    from msc_secretome.report.input_checks import dropped_cells_view

    kw = with_stages(make_single_cell_report_inputs(n_contrasts=2))
    dropped = kw["single_cell"]["dropped_cells"]
    view = dropped_cells_view(dropped)
    n_samples = dropped["sample"].nunique()
    assert view["n"] == 3 * n_samples
    assert [[c["text"] for c in r] for r in view["table"]["rows"]] == [
        ["failed QC", str(2 * n_samples), str(n_samples), "cancer, normal"],
        ["no row in the cell annotation table", str(n_samples), str(n_samples), ""],
    ]
    assert dropped_cells_view(dropped.iloc[0:0]) == {"n": 0, "table": None}
    page = render_report(**kw)
    assert 'id="table-dropped-cells"' in page
    assert page.index('id="cells-dropped"') > page.index('<section id="single-cells"')
