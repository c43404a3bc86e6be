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


def validation_tables(samples: pd.DataFrame, seed: int = 12) -> dict[str, pd.DataFrame]:
    """``validation_summary`` and ``count_summary_rows`` as ``validate_inputs`` writes them for
    STAR files (one spreadsheet-date warning)."""
    rng = np.random.default_rng(seed)
    n = len(samples)
    summary_rows = {
        name: rng.integers(low, high, n)
        for name, low, high in (
            ("N_unmapped", 400_000, 900_000),
            ("N_multimapping", 800_000, 1_600_000),
            ("N_noFeature", 200_000, 500_000),
            ("N_ambiguous", 50_000, 90_000),
        )
    }
    in_genes = rng.integers(18_000_000, 24_000_000, n)
    in_summary = sum(summary_rows.values())
    counts = pd.DataFrame(
        {
            "sample": samples["sample"].to_numpy(),
            "reads_in_genes": in_genes,
            "reads_in_summary_rows": in_summary,
            "fraction_in_summary_rows": np.round(in_summary / (in_genes + in_summary), 6),
            **summary_rows,
        }
    )
    methods = (
        "Counts were read from STAR ReadsPerGene.out.tab files (reverse-stranded column); "
        "its summary rows (N_unmapped, N_multimapping, N_noFeature, N_ambiguous) were not "
        "analysed as genes"
    )
    summary = pd.DataFrame(
        [
            ("counts_format", "ok", "star"),
            ("methods", "ok", methods),
            ("layout", "note", "strand column inferred: reverse (column 4)"),
            ("n_genes", "ok", "80 genes"),
            ("excel_dates", "warning", "2 gene ids look like spreadsheet dates (1-Sep, 2-Mar)"),
        ],
        columns=["check", "status", "detail"],
    )
    return {"validation_summary": summary, "count_summary_rows": counts}


def dropped_cells(cell_qc: pd.DataFrame) -> pd.DataFrame:
    """``dropped_cells.tsv.gz`` rows: a QC failure and an unannotated cell per sample."""
    rows = []
    for sample in cell_qc["sample"]:
        rows.append((f"{sample}_bad1", sample, "cancer", "failed QC: 150 genes < 200"))
        rows.append((f"{sample}_bad2", sample, "normal", "failed QC: 250 counts < 300"))
        rows.append((f"{sample}_x", sample, "", "no row in the cell annotation table"))
    return pd.DataFrame(rows, columns=["barcode", "sample", "cell_type", "reason"])


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
    for key in ("programme_calls", "dual_benefit"):
        out[key] = kw[key].assign(programme_definitions=note)
    out.update(validation_tables(kw["samples"]))
    if kw.get("single_cell"):
        single_cell = dict(kw["single_cell"])
        single_cell["dropped_cells"] = dropped_cells(single_cell["cell_qc"])
        out["single_cell"] = single_cell
    return out
