"""Section 3b, the secretome: which secreted factors can explain the programmes (issue #15).

For each receiver group x therapy (each secretome contrast), the top ranked ligands as a
layered ligand -> receptor -> pathway -> programme graph in plotly's ``sankey`` trace format
(``node.label``, ``node.color``, ``link.source``/``target``/``value``/``label``), the rows of
the table behind it and the contrast's pathway activities; per-sample pathway scores as a
heatmap. The template ``templates/secretome.html.j2`` draws it; the stage's resources
(``methods.tsv``) are shown in the Methods section. The ranking and the chains are the
secretome stage's (``results/secretome/ligand_links.tsv``); this module only lays them out.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .figures import figure_view
from .formatting import esc, table_view

LAYER_COLOURS = {
    "ligand": "#1f77b4",
    "receptor": "#2ca02c",
    "pathway": "#9467bd",
    "programme": "#d62728",
}
ROW_COLUMNS = ["rank", "ligand", "factor", "in_secretome", "receptors_expressed", "pathway",
               "pathway_score", "pathway_fdr", "consistent_programmes", "status"]  # fmt: skip
ROLE_ORDER = {"secretome_effect": 0, "potentiation": 1}


def _clean(value):
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def sankey_spec(ranked: pd.DataFrame) -> dict:
    """Plotly sankey node and link lists for ranked ligand rows (one chain per row).

    Each row contributes ligand -> receptor (value 1), receptor -> pathway (|score|) and
    pathway -> each consistent programme (|score|). Nodes are listed layer by layer in order of
    first appearance, so the same rows give the same spec.
    """
    nodes: dict[tuple[str, str], int] = {}
    links: dict[tuple[int, int], dict] = {}

    def node(layer: str, name: str) -> int:
        return nodes.setdefault((layer, name), len(nodes))

    def link(a: int, b: int, value: float, label: str) -> None:
        entry = links.setdefault((a, b), {"value": 0.0, "label": label})
        entry["value"] += value

    for layer in LAYER_COLOURS:  # register layer by layer for a stable left-to-right order
        for row in ranked.itertuples(index=False):
            for name in _layer_names(row, layer):
                node(layer, name)
    for row in ranked.itertuples(index=False):
        strength = round(abs(float(row.pathway_score)), 6)
        ligand = node("ligand", row.factor)
        receptor = node("receptor", _receptor(row))
        pathway = node("pathway", f"{row.pathway} {'up' if row.pathway_score > 0 else 'down'}")
        link(ligand, receptor, 1.0, f"{row.factor} binds {_receptor(row)}")
        link(
            receptor,
            pathway,
            strength,
            f"score {row.pathway_score:+.3g}, FDR {row.pathway_fdr:.2g}",
        )
        for programme in _programmes(row):
            link(pathway, node("programme", programme), strength, "called the same way")
    ordered = sorted(nodes.items(), key=lambda item: item[1])
    return {
        "node": {
            "label": [name for (_, name), _ in ordered],
            "color": [LAYER_COLOURS[layer] for (layer, _), _ in ordered],
            "layer": [layer for (layer, _), _ in ordered],
        },
        "link": {
            "source": [a for a, _ in links],
            "target": [b for _, b in links],
            "value": [v["value"] for v in links.values()],
            "label": [v["label"] for v in links.values()],
        },
    }


def _receptor(row) -> str:
    """The expressed receptor(s) through which the chain runs (complex subunits joined by /)."""
    receptors = row.signalling_receptors
    if not isinstance(receptors, str) or not receptors:
        receptors = row.receptors_expressed if isinstance(row.receptors_expressed, str) else ""
    return ", ".join(r.replace("_", "/") for r in str(receptors).split(";") if r)


def _programmes(row) -> list[str]:
    return [p for p in str(row.consistent_programmes).split(";") if p]


def _layer_names(row, layer: str) -> list[str]:
    if layer == "ligand":
        return [row.factor]
    if layer == "receptor":
        return [_receptor(row)]
    if layer == "pathway":
        return [f"{row.pathway} {'up' if row.pathway_score > 0 else 'down'}"]
    return _programmes(row)


def sample_score_heatmap(scores: pd.DataFrame) -> dict:
    """Per-sample pathway scores as a plotly heatmap spec (``x`` pathways, ``y`` samples, ``z``).

    Parameters
    ----------
    scores : ``results/secretome/pathway_sample_scores.tsv``: a ``sample`` column and one
        column per pathway (``n_samples x n_pathways`` values)
    """
    table = scores.set_index("sample") if "sample" in scores.columns else scores
    return {
        "type": "heatmap",
        "x": [str(c) for c in table.columns],
        "y": [str(i) for i in table.index],
        "z": [[_clean(round(float(v), 4)) for v in row] for row in table.to_numpy()],
        "zmid": 0,
        "colorscale": "RdBu",
        "reversescale": True,
    }


ACTIVITY_COLUMNS = ["pathway", "score", "pvalue", "fdr", "n_genes", "n_footprint"]


def sankey_figure(spec: dict, fig_id: str) -> dict[str, Any]:
    """The figure view of a :func:`sankey_spec` (labels escaped for plotly's rich text)."""
    trace = {
        "type": "sankey",
        "arrangement": "snap",
        "node": {
            "label": [esc(x) for x in spec["node"]["label"]],
            "color": spec["node"]["color"],
            "pad": 14,
            "thickness": 14,
        },
        "link": {
            "source": spec["link"]["source"],
            "target": spec["link"]["target"],
            "value": [round(v, 6) for v in spec["link"]["value"]],
            "label": [esc(x) for x in spec["link"]["label"]],
        },
    }
    layout = {"margin": {"l": 10, "r": 10, "t": 10, "b": 10}}
    return figure_view(fig_id, {"data": [trace], "layout": layout}, height=360)


def _activity_table(activity: pd.DataFrame | None, contrast: str, table_id: str) -> dict | None:
    """The contrast's pathway activities (``pathway_activity.tsv``), lowest FDR first."""
    if activity is None or activity.empty or "contrast" not in activity.columns:
        return None
    block = activity[activity["contrast"].astype(str) == str(contrast)]
    if block.empty:
        return None
    block = block.sort_values(["fdr", "pathway"], kind="mergesort", na_position="last")
    columns = [c for c in ACTIVITY_COLUMNS if c in block.columns]
    rows = [[_value(v) for v in r] for r in block[columns].itertuples(index=False, name=None)]
    return table_view(table_id, columns, rows, searchable=False, css_class="compact")


def _value(value: Any) -> Any:
    """A table value: numbers stay numbers (NaN shows as NA), missing text is empty."""
    clean = _clean(value)
    if clean is None:
        return float("nan") if isinstance(value, float) else ""
    return clean


def secretome_view(
    links: pd.DataFrame,
    methods: pd.DataFrame | None = None,
    top: int = 5,
    sample_scores: pd.DataFrame | None = None,
    activity: pd.DataFrame | None = None,
) -> dict:
    """The secretome section as a plain dict.

    Parameters
    ----------
    links : ``results/secretome/ligand_links.tsv`` (:func:`msc_secretome.ligand_links.link_ligands`)
    methods : ``results/secretome/methods.tsv`` (key, value) or None
    top : ranked ligands drawn per group
    sample_scores : ``results/secretome/pathway_sample_scores.tsv`` (``n_samples x
        (1 + n_pathways)``) or None
    activity : ``results/secretome/pathway_activity.tsv`` (contrast x pathway rows) or None

    Returns
    -------
    dict
        ``{"groups": [{"side", "therapy", "role", "contrast", "title", "top_ligands": [...],
        "sankey": {...}, "figure": figure view or None, "rows": [...], "table": table view,
        "activity": table view or None, "n_unranked": {...}}], "methods": [{"key", "value"}],
        "sample_scores": heatmap spec or None, "heatmap": figure view or None}``;
        groups ordered by side, role (secretome effect first), therapy as in the table.
    """
    groups = []
    keys = links[["contrast", "side", "therapy", "role"]].drop_duplicates()
    keys = keys.assign(_role=keys["role"].map(ROLE_ORDER).fillna(9))
    keys = keys.sort_values(["side", "_role"], kind="mergesort")
    for number, key in enumerate(keys.itertuples(index=False), start=1):
        block = links[links["contrast"] == key.contrast]
        ranked = block[block["rank"].notna()].sort_values("rank").head(top)
        top_ligands = [
            {
                "rank": int(r.rank),
                "ligand": r.ligand,
                "factor": r.factor,
                "receptor": _receptor(r),
                "pathway": r.pathway,
                "score": _clean(r.pathway_score),
                "fdr": _clean(r.pathway_fdr),
                "programmes": _programmes(r),
                "chain": r.chain,
            }
            for r in ranked.itertuples(index=False)
        ]
        what = "MSC-CM vs control" if key.role == "secretome_effect" else "MSC-CM x therapy"
        rows = [
            {c: _clean(v) for c, v in zip(ROW_COLUMNS, values, strict=True)}
            for values in block[ROW_COLUMNS].itertuples(index=False, name=None)
        ]
        sankey = sankey_spec(ranked)
        groups.append(
            {
                "contrast": key.contrast,
                "side": key.side,
                "therapy": key.therapy,
                "role": key.role,
                "title": f"{key.side} cells, {what}, therapy {key.therapy}",
                "top_ligands": top_ligands,
                "sankey": sankey,
                "figure": sankey_figure(sankey, f"fig-secretome-{number}") if top_ligands else None,
                "rows": rows,
                "table": table_view(
                    f"table-secretome-{number}",
                    ROW_COLUMNS,
                    [[_value(r[c]) for c in ROW_COLUMNS] for r in rows],
                    searchable=False,
                ),
                "activity": _activity_table(
                    activity, key.contrast, f"table-secretome-activity-{number}"
                ),
                "n_unranked": {
                    status: int(n)
                    for status, n in block.loc[block["rank"].isna(), "status"]
                    .value_counts()
                    .sort_index()
                    .items()
                },
            }
        )
    rows = [] if methods is None else methods.to_dict(orient="records")
    heatmap = None if sample_scores is None else sample_score_heatmap(sample_scores)
    figure = None
    if heatmap is not None and heatmap["y"]:
        trace = dict(heatmap, y=[esc(y) for y in heatmap["y"]], x=[esc(x) for x in heatmap["x"]])
        layout = {"margin": {"l": 160, "r": 10, "t": 10, "b": 80}}
        height = max(320, min(900, 18 * len(heatmap["y"]) + 120))
        figure = figure_view(
            "fig-secretome-sample-scores", {"data": [trace], "layout": layout}, height=height
        )
    return {"groups": groups, "methods": rows, "sample_scores": heatmap, "heatmap": figure}


def secretome_methods_table(methods: pd.DataFrame | None) -> dict | None:
    """The stage's resources, versions and SHA-256 (``methods.tsv`` key/value rows) as a table
    view for the Methods section (None without rows)."""
    if methods is None or methods.empty or not {"key", "value"} <= set(methods.columns):
        return None
    rows = [
        [str(k).replace("_", " "), "" if _clean(v) is None else str(v)]
        for k, v in zip(methods["key"], methods["value"], strict=True)
    ]
    return table_view(
        "table-secretome-methods", ["item", "value"], rows, searchable=False, css_class="compact"
    )
