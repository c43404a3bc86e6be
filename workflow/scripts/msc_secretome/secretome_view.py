"""View model of the report's secretome section (pure: tables in, a plain dict out).

For each receiver group x therapy (each secretome contrast), the top ranked ligands as a
layered ligand -> receptor -> pathway -> programme graph in plotly's ``sankey`` trace format
(``node.label``, ``node.color``, ``link.source``/``target``/``value``/``label``), and the rows
of the table behind it. The template ``templates_pending/secretome.html.j2`` renders it.
"""

from __future__ import annotations

import math

import pandas as pd

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


def secretome_view(
    links: pd.DataFrame,
    methods: pd.DataFrame | None = None,
    top: int = 5,
    sample_scores: pd.DataFrame | None = None,
) -> dict:
    """The secretome section as a plain dict.

    Parameters
    ----------
    links : ``results/secretome/ligand_links.tsv`` (:func:`msc_secretome.ligand_links.link_ligands`)
    methods : ``results/secretome/methods.tsv`` (key, value) or None
    top : ranked ligands drawn per group
    sample_scores : ``results/secretome/pathway_sample_scores.tsv`` or None

    Returns
    -------
    dict
        ``{"groups": [{"side", "therapy", "role", "contrast", "title", "top_ligands": [...],
        "sankey": {...}, "rows": [...], "n_unranked": {...}}], "methods": [{"key", "value"}],
        "sample_scores": heatmap spec or None}``;
        groups ordered by side, role (secretome effect first), therapy as in the table.
    """
    groups = []
    keys = links[["contrast", "side", "therapy", "role"]].drop_duplicates()
    keys = keys.assign(_role=keys["role"].map(ROLE_ORDER).fillna(9))
    keys = keys.sort_values(["side", "_role"], kind="mergesort")
    for key in keys.itertuples(index=False):
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
        groups.append(
            {
                "contrast": key.contrast,
                "side": key.side,
                "therapy": key.therapy,
                "role": key.role,
                "title": f"{key.side} cells, {what}, therapy {key.therapy}",
                "top_ligands": top_ligands,
                "sankey": sankey_spec(ranked),
                "rows": [
                    {c: _clean(v) for c, v in zip(ROW_COLUMNS, values, strict=True)}
                    for values in block[ROW_COLUMNS].itertuples(index=False, name=None)
                ],
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
    return {"groups": groups, "methods": rows, "sample_scores": heatmap}
