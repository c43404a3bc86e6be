"""Report inputs of the stages merged after the report package (secretome, species, inputs).

``with_stages(make_report_inputs(...))`` adds the secretome stage's tables (in the columns of
``msc_secretome.ligand_links`` and ``pathway_activity``, through their own ``verdict_factors``
and ``methods_table``), the species columns of ``libraries.tsv`` and the
``programme_definitions`` column to the bulk fixture, so snapshot and browser tests draw
every section.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from msc_secretome.ligand_links import LINK_COLUMNS, methods_table, verdict_factors
from msc_secretome.pathway_activity import ACTIVITY_COLUMNS
from msc_secretome.programme_definitions import definitions_note

# (contrast, side, therapy, role, ligand, factor, receptors, pathway, score, fdr,
#  programmes, status, rank)
LINKS = (
    ("cancer_chemo_CM_vs_ctrl", "cancer", "chemo", "secretome_effect", "TNFSF10", "TRAIL",
     "TNFRSF10B", "Trail", 8.2, 1e-9, "CYT_APOPTOSIS_EXTRINSIC up", "ranked", 1),
    ("cancer_chemo_CM_vs_ctrl", "cancer", "chemo", "secretome_effect", "IL6", "IL-6",
     "IL6R_IL6ST", "JAK-STAT", 5.1, 1e-4, "RISK_IL6_JAK_STAT3 up", "ranked", 2),
    ("cancer_chemo_CM_vs_ctrl", "cancer", "chemo", "secretome_effect", "IFNB1", "IFN-beta",
     "", "", np.nan, np.nan, "", "receptor_not_expressed", np.nan),
    ("normal_chemo_CM_vs_ctrl", "normal", "chemo", "secretome_effect", "HGF", "HGF", "MET",
     "MAPK", 4.0, 1e-3, "REG_ANTIOXIDANT_NRF2 up", "ranked", 1),
    ("cancer_chemo_x_CM", "cancer", "chemo", "potentiation", "TNFSF10", "TRAIL", "TNFRSF10B",
     "Trail", 3.3, 0.01, "CYT_APOPTOSIS_INTRINSIC up", "ranked", 1),
)  # fmt: skip
PATHWAYS = ("Trail", "JAK-STAT", "MAPK", "NFkB", "p53")


def _chain(row: dict[str, Any]) -> str:
    if row["status"] != "ranked":
        return ""
    direction = "up" if row["pathway_score"] > 0 else "down"
    receptors = row["signalling_receptors"].replace("_", "/")
    return (
        f"{row['factor']} -> {receptors} expressed -> {row['pathway']} pathway {direction} -> "
        f"{row['consistent_programmes']} in {row['side']} cells"
    )


def secretome_tables(names: list[str], samples: pd.DataFrame, seed: int = 11) -> dict:
    """The ``secretome`` argument of ``render_report`` for the fixture's contrasts ``names``."""
    columns = ["contrast", "side", "therapy", "role", "ligand", "factor", "signalling_receptors",
               "pathway", "pathway_score", "pathway_fdr", "consistent_programmes", "status",
               "rank"]  # fmt: skip
    links = pd.DataFrame([r for r in LINKS if r[0] in names], columns=columns)
    links["receptors_expressed"] = links["signalling_receptors"]
    links["receptors"] = links["signalling_receptors"]
    links["in_secretome"] = "factor table"
    links["pathway_pvalue"] = links["pathway_fdr"] / 10
    links["chain"] = [_chain(r) for r in links.to_dict("records")]
    links = links.reindex(columns=LINK_COLUMNS, fill_value="")
    rng = np.random.default_rng(seed)
    activity = pd.DataFrame(
        [
            (c, p, round(rng.normal(0, 3), 4), 0.01, 0.04, 95, 100)
            for c in dict.fromkeys(links["contrast"])
            for p in PATHWAYS
        ],
        columns=ACTIVITY_COLUMNS,
    )
    scores = pd.DataFrame(
        np.round(rng.normal(0, 1, (len(samples), len(PATHWAYS))), 4), columns=list(PATHWAYS)
    )
    scores.insert(0, "sample", samples["sample"].to_numpy())
    methods = methods_table(
        {
            "ligand_receptor_resource": "consensus (liana)",
            "ligand_receptor_version": "1.5.0",
            "ligand_receptor_sha256": "c" * 64,
            "footprints": "PROGENy top-100 (human), progeny 1.20.0 (r-bioc-progeny)",
            "footprints_sha256": "d" * 64,
        }
    )
    return {
        "links": links,
        "activity": activity,
        "sample_scores": scores,
        "verdict_factors": verdict_factors(links, 3),
        "methods": methods,
    }


def with_stages(kw: dict[str, Any]) -> dict[str, Any]:
    """``kw`` (``make_report_inputs``) with the later stages' tables added."""
    out = dict(kw)
    out["secretome"] = secretome_tables(list(kw["de"]), kw["samples"])
    # #14: libraries.tsv's species and coverage columns, the programme definitions note
    libraries = kw["libraries"]
    out["libraries"] = libraries.assign(
        data_coverage=[0.0061, 0.219, 0.85][: len(libraries)],
        coverage_verdict="ok",
        organism="human",
        mapped_from="",
        ortholog_mapping_rate=np.nan,
    )
    note = definitions_note("builtin", "human", [])
    for key in ("program_calls", "dual_benefit"):
        out[key] = kw[key].assign(programme_definitions=note)
    return out
