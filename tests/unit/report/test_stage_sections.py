"""Sections of the stages merged after the report package: secretome (#15), species and
inputs (#14). View models are compared as dicts; the page is checked for what it shows."""

from __future__ import annotations

from report_fixtures import make_report_inputs
from stage_fixtures import with_stages

from msc_secretome.report import render_report, verdict_view

INPUTS = with_stages(make_report_inputs(n_genes=80, n_contrasts=3))


def test_verdict_cards_show_the_factor_chains_of_their_contrasts() -> None:
    factors = INPUTS["secretome"]["verdict_factors"]
    view = verdict_view(INPUTS["dual_benefit"], INPUTS["program_calls"], "none", factors)
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
    without = verdict_view(INPUTS["dual_benefit"], INPUTS["program_calls"], "none")
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
