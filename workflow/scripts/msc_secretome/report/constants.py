"""Constants of the report: sizes, caps, colours and labels of what it draws."""

from __future__ import annotations

from ..catalogue import CATEGORIES
from ..catalogue import CATEGORY_LABEL as CATALOGUE_CATEGORY_LABEL

DEFAULT_TITLE = "MSC secretome dual-benefit report"
# Shown on top of the page when the input is the bundled simulation (methods["simulated_example"]).
EXAMPLE_BANNER = (
    "This report is built from the bundled seeded simulation (synthetic genes SYN..., planted "
    "programme shifts), not from a real experiment. Point samples and counts in "
    "config/config.yaml at your data to analyse it."
)
# The per-contrast "full table (TSV)" links point at files beside the report, not inside it.
TSV_LINK_NOTE = (
    "The \u201cfull table (TSV)\u201d links are relative to results/report/: they work while "
    "this file stays in the run's results folder. Send the results/ folder (or the TSVs) with "
    "the report when you share it."
)

# Volcano / MA plots: all genes with padj < PLOT_PADJ (at most MAX_SIGNIFICANT_POINTS, the
# smallest padj kept first) plus every k-th of the rest in baseMean order (at most
# MAX_BACKGROUND_POINTS).
PLOT_PADJ = 0.1
MAX_SIGNIFICANT_POINTS = 4000
MAX_BACKGROUND_POINTS = 1500
TOP_GENES = 50
TOP_TERMS = 10
TOP_ORA = 10  # ORA rows per direction and contrast
PROGRAMMES_LIBRARY = "programmes"
# GSEA running-score small multiples: the called programmes of a contrast with the largest
# |NES|, at most MAX_RUNNING_PANELS, RUNNING_COLUMNS per row. The running sum is piecewise
# linear (it only jumps at hits), so the line through its corners (each hit and the gene just
# before it, plus both ends and the extremes) is exact; sets with more than
# MAX_RUNNING_LINE_POINTS corners fall back to every k-th point plus the extremes.
MAX_RUNNING_PANELS = 12
RUNNING_COLUMNS = 4
MAX_RUNNING_LINE_POINTS = 600
# Per-sample programme scores: z-scores beyond this saturate the colour scale.
SAMPLE_SCORE_Z_CAP = 3.0

# Single cells: the UMAP draws at most MAX_UMAP_CELLS cells (every k-th in sample x cell type
# order), shuffled with UMAP_DRAW_SEED; per-cell score boxes for at most MAX_CELL_SCORE_PANELS
# called programmes, CELL_SCORE_COLUMNS per row.
MAX_UMAP_CELLS = 10_000
UMAP_DRAW_SEED = 0
MAX_CELL_SCORE_PANELS = 12
CELL_SCORE_COLUMNS = 3
CELL_RESERVED_COLUMNS = ("cell", "sample", "cell_type", "UMAP1", "UMAP2")
SHEET_ONLY_COLUMNS = ("original_sample", "n_cells")  # pseudobulk sheet columns, not factors
SCORE_COLOURSCALE = "Viridis"
CELL_COUNT_COLOURSCALE = [[0.0, "#f7fbff"], [0.5, "#9ecae1"], [1.0, "#2171b5"]]


# Categories, their order and labels are the catalogue's (one owner).
CATEGORY_ORDER = CATEGORIES
CATEGORY_LABEL = CATALOGUE_CATEGORY_LABEL
# Every verdict of msc_secretome.verdict (its owner) has a badge label and chip words; unclear and
# incomplete read per side when the design measured one side only (VERDICT_LABEL_BY_DESIGN).
VERDICT_LABEL = {
    "dual_benefit": "Dual benefit: yes",
    "no_dual_benefit": "Dual benefit: no",
    "unclear": "Dual benefit: unclear",
    "incomplete": "Incomplete: contrasts missing",
    "cancer_benefit": "Cancer side: benefit",
    "cancer_harm": "Cancer side: harm",
    "cancer_risk": "Cancer side: risk",
    "normal_protection": "Normal side: protected",
    "normal_harm": "Normal side: harmed",
}
VERDICT_LABEL_BY_DESIGN = {
    ("unclear", "cancer_only"): "Cancer side: unclear",
    ("unclear", "normal_only"): "Normal side: unclear",
}
VERDICT_WORDS = {
    "dual_benefit": "dual benefit",
    "no_dual_benefit": "no dual benefit",
    "unclear": "unclear",
    "incomplete": "incomplete (a needed contrast is missing)",
    "cancer_benefit": "cancer side: benefit",
    "cancer_harm": "cancer side: harm",
    "cancer_risk": "cancer side: risk",
    "normal_protection": "normal side: protected",
    "normal_harm": "normal side: harmed",
}
# The verdict section's question, by the design answers of its rows (dual_benefit.tsv's
# design_answer): all rows one side only -> that side's question, otherwise the dual one.
VERDICT_HEADING = {
    "dual_benefit": "Verdict: does the MSC secretome give a dual benefit?",
    "cancer_only": "Verdict: what does the MSC secretome do to cancer cells?",
    "normal_only": "Verdict: does the MSC secretome protect normal cells?",
}
VERDICT_QUESTION = {
    "dual_benefit": (
        "For each receiver group, exposure and therapy arm: did the conditioned medium raise "
        "death (cytotoxic) programmes in cancer cells and raise protective or lower damage "
        "programmes in normal cells?"
    ),
    "cancer_only": (
        "This study has cancer cells only. For each receiver group, exposure and therapy arm: "
        "did the conditioned medium raise death (cytotoxic) programmes in cancer cells, lower "
        "them, or raise pro-tumour risk programmes? The protective side (normal cells) was not "
        "measured, so no dual-benefit verdict can be given."
    ),
    "normal_only": (
        "This study has normal cells only. For each receiver group, exposure and therapy arm: "
        "did the conditioned medium raise protective or lower damage programmes in normal "
        "cells? The cancer side (cytotoxicity in cancer cells) was not measured, so no "
        "dual-benefit verdict can be given."
    ),
}
THERAPY_NONE_LABEL = "no therapy"
#: Card heads and chips when the study has no therapy column (``therapy`` is "").
NO_THERAPY_IN_STUDY = "no therapy in this study"
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
UP_COLOUR, DOWN_COLOUR, NS_COLOUR = "#c0392b", "#2166ac", "#b0b0b0"
# blue (down) - white - red (up); explicit so the direction never depends on a named scale
DIVERGING = [
    [0.0, "#2166ac"],
    [0.25, "#92c5de"],
    [0.5, "#f7f7f7"],
    [0.75, "#f4a582"],
    [1.0, "#b2182b"],
]
# showSendToCloud defaults to true in plotly.js 3 ("Share chart..." uploads to Plotly Cloud):
# an offline report must never offer that.
PLOTLY_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "showSendToCloud": False,
    "showLink": False,
    "modeBarButtonsToRemove": ["sendDataToCloud", "select2d", "lasso2d"],
}
