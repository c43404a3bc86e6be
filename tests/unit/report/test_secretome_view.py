"""The secretome report section: view model (dicts compared) and its Jinja2 template."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from msc_secretome.ligand_links import LINK_COLUMNS
from msc_secretome.report.secretome import secretome_methods_table, secretome_view
from msc_secretome.report.templating import render


def _links() -> pd.DataFrame:
    rows = [
        ("k", "cancer", "none", "secretome_effect", "TNFSF10", "TRAIL", "TNFRSF10B", "Trail",
         8.0, 1e-9, "CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS up", "ranked", 1),
        ("k", "cancer", "none", "secretome_effect", "IL6", "IL-6", "IL6R_IL6ST", "JAK-STAT",
         -5.0, 1e-4, "", "ranked", 2),
        ("k", "cancer", "none", "secretome_effect", "IFNB1", "IFN-beta", "", "", np.nan, np.nan,
         "", "receptor_not_expressed", pd.NA),
        ("n", "normal", "none", "secretome_effect", "HGF", "HGF", "MET", "MAPK", 4.0, 1e-3,
         "REG_GROWTH_FACTOR_REGENERATION up;RISK_PROLIFERATION_CELL_CYCLE up", "ranked", 1),
    ]  # fmt: skip
    table = pd.DataFrame(
        rows,
        columns=["contrast", "side", "therapy", "role", "ligand", "factor",
                 "receptors_expressed", "pathway", "pathway_score", "pathway_fdr",
                 "consistent_programmes", "status", "rank"],
    )  # fmt: skip
    table["rank"] = table["rank"].astype("Int64")
    table["signalling_receptors"] = table["receptors_expressed"]
    table["in_secretome"] = "factor table"
    table["chain"] = [f"{f} chain" if s == "ranked" else "" for f, s in
                      zip(table["factor"], table["status"], strict=True)]  # fmt: skip
    return table.reindex(columns=LINK_COLUMNS, fill_value="")


def test_view_model_groups_top_ligands_and_sankey():
    view = secretome_view(_links(), pd.DataFrame({"key": ["resource"], "value": ["liana 1.10"]}))
    assert [g["contrast"] for g in view["groups"]] == ["k", "n"]
    cancer = view["groups"][0]
    assert cancer["title"] == "cancer cells, MSC-CM vs control, therapy none"
    assert cancer["top_ligands"] == [
        {"rank": 1, "ligand": "TNFSF10", "factor": "TRAIL", "receptor": "TNFRSF10B",
         "pathway": "Trail", "score": 8.0, "fdr": 1e-9,
         "programmes": ["CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS up"], "chain": "TRAIL chain"},
        {"rank": 2, "ligand": "IL6", "factor": "IL-6", "receptor": "IL6R/IL6ST",
         "pathway": "JAK-STAT", "score": -5.0, "fdr": 1e-4, "programmes": [],
         "chain": "IL-6 chain"},
    ]  # fmt: skip
    assert cancer["sankey"] == {
        "node": {
            "label": ["TRAIL", "IL-6", "TNFRSF10B", "IL6R/IL6ST", "Trail up", "JAK-STAT down",
                      "CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS up"],
            "color": ["#1f77b4", "#1f77b4", "#2ca02c", "#2ca02c", "#9467bd", "#9467bd",
                      "#d62728"],
            "layer": ["ligand", "ligand", "receptor", "receptor", "pathway", "pathway",
                      "programme"],
        },
        "link": {
            "source": [0, 2, 4, 1, 3],
            "target": [2, 4, 6, 3, 5],
            "value": [1.0, 8.0, 8.0, 1.0, 5.0],
            "label": ["TRAIL binds TNFRSF10B", "score +8, FDR 1e-09", "called the same way",
                      "IL-6 binds IL6R/IL6ST", "score -5, FDR 0.0001"],
        },
    }  # fmt: skip
    assert cancer["n_unranked"] == {"receptor_not_expressed": 1}
    assert [r["ligand"] for r in cancer["rows"]] == ["TNFSF10", "IL6", "IFNB1"]
    assert cancer["rows"][2]["rank"] is None and cancer["rows"][2]["pathway_score"] is None
    assert view["methods"] == [{"key": "resource", "value": "liana 1.10"}]
    assert view["sample_scores"] is None
    scores = pd.DataFrame({"sample": ["s1", "s2"], "JAK-STAT": [2.5, -1.0], "Trail": [0.1, np.nan]})
    heatmap = secretome_view(_links(), sample_scores=scores)["sample_scores"]
    assert heatmap == {
        "type": "heatmap", "x": ["JAK-STAT", "Trail"], "y": ["s1", "s2"],
        "z": [[2.5, 0.1], [-1.0, None]], "zmid": 0, "colorscale": "RdBu", "reversescale": True,
    }  # fmt: skip
    json.dumps(view)  # plain data only


def test_view_model_tables_figures_and_activity():
    activity = pd.DataFrame(
        {"contrast": ["k", "k", "n"], "pathway": ["JAK-STAT", "Trail", "MAPK"],
         "score": [-5.0, 8.0, 4.0], "pvalue": [1e-5, 1e-10, 1e-4], "fdr": [1e-4, 1e-9, 1e-3],
         "n_genes": [90, 95, 99], "n_footprint": [100, 100, 100]}
    )  # fmt: skip
    view = secretome_view(_links(), activity=activity)
    cancer, normal = view["groups"]
    assert [row[0]["text"] for row in cancer["activity"]["rows"]] == ["Trail", "JAK-STAT"]
    assert [row[0]["text"] for row in normal["activity"]["rows"]] == ["MAPK"]
    assert cancer["table"]["columns"][:2] == ["rank", "ligand"]
    assert [r[1]["text"] for r in cancer["table"]["rows"]] == ["TNFSF10", "IL6", "IFNB1"]
    assert cancer["table"]["rows"][2][0]["text"] == ""  # unranked: no rank
    trace = cancer["figure"]["spec"]["data"][0]
    assert cancer["figure"]["id"] == "fig-secretome-1" and trace["type"] == "sankey"
    assert trace["link"]["target"] == cancer["sankey"]["link"]["target"]
    assert view["heatmap"] is None
    no_activity = secretome_view(_links())
    assert no_activity["groups"][0]["activity"] is None
    methods = pd.DataFrame(
        {"key": ["ligand_receptor_resource", "ligand_receptor_sha256"], "value": ["liana", "ab"]}
    )
    table = secretome_methods_table(methods)
    assert [[c["text"] for c in r] for r in table["rows"]] == [
        ["ligand receptor resource", "liana"], ["ligand receptor sha256", "ab"]
    ]  # fmt: skip
    assert secretome_methods_table(None) is None


def test_template_renders_escaped_with_a_sankey_per_group():
    links = _links()
    links.loc[0, "factor"] = "TRAIL<script>alert(1)</script>"
    links.loc[0, "chain"] = "TRAIL<b> chain"
    scores = pd.DataFrame({"sample": ["s<1>"], "Trail": [1.5]})
    view = secretome_view(links, sample_scores=scores)
    html = str(render("secretome.html.j2", view=view))
    assert 'id="fig-secretome-sample-scores"' in html
    assert "<script>alert(1)" not in html
    assert "TRAIL&lt;b&gt; chain" in html
    specs = re.findall(r'<script type="application/json" id="fig-secretome-\d-spec">(.*?)</script>',
                       html)  # fmt: skip
    assert len(specs) == 2
    first = json.loads(specs[0])
    assert first["data"][0]["type"] == "sankey"
    assert first["data"][0]["link"]["target"] == [2, 4, 6, 3, 5]
    assert "\\u003cscript\\u003e" not in specs[0]  # plotly labels escaped, then JSON-escaped
    assert "TRAIL\\u0026lt;script\\u0026gt;" in specs[0]
    assert "receptor not expressed 1" in html
