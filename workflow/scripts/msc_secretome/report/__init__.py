"""The HTML report: one self-contained, offline, deterministic file that answers the question first.

``render_report`` (tables in, an HTML string out) and ``write_report`` (the only I/O, atomic)
are the public entry points; the adapter script ``workflow/scripts/html_report.py`` reads the
workflow's tables and calls them. One module per section builds that section's view; the figure
specs are plotly dicts; CSS and JS live in ``static/`` and are inlined at render time.
"""

from ..enrichment import enrichment_score, gene_ranking
from .cell_figures import (
    called_programmes,
    select_umap_cells,
    sig3,
    single_cell_columns,
    umap_figure,
)
from .cell_scores import box_stats, cell_score_figure
from .constants import (
    CATEGORY_LABEL,
    DOWN_COLOUR,
    MAX_BACKGROUND_POINTS,
    MAX_SIGNIFICANT_POINTS,
    MAX_UMAP_CELLS,
    TOP_ORA,
    UP_COLOUR,
)
from .contrasts import no_hits_reasons, select_plot_genes
from .formatting import contrast_ids, esc, fmt_value, parse_subset, sig4, slugify, subset_samples
from .inputs import ReportInputs, load_inputs
from .page import render_report, write_report
from .programmes import _programme_order
from .running_score import running_score_figure, running_sum_points
from .sample_scores import (
    factor_level_colours,
    programme_categories,
    sample_scores_figure,
    zscore_sample_scores,
)
from .verdict import potentiation_text, programme_segments, therapy_label, verdict_view

__all__ = [
    "CATEGORY_LABEL",
    "DOWN_COLOUR",
    "MAX_BACKGROUND_POINTS",
    "MAX_SIGNIFICANT_POINTS",
    "MAX_UMAP_CELLS",
    "TOP_ORA",
    "UP_COLOUR",
    "box_stats",
    "called_programmes",
    "cell_score_figure",
    "contrast_ids",
    "enrichment_score",
    "esc",
    "factor_level_colours",
    "fmt_value",
    "gene_ranking",
    "no_hits_reasons",
    "parse_subset",
    "programme_categories",
    "ReportInputs",
    "load_inputs",
    "render_report",
    "running_score_figure",
    "running_sum_points",
    "sample_scores_figure",
    "select_plot_genes",
    "select_umap_cells",
    "sig3",
    "sig4",
    "single_cell_columns",
    "slugify",
    "subset_samples",
    "therapy_label",
    "umap_figure",
    "potentiation_text",
    "programme_segments",
    "verdict_view",
    "write_report",
    "zscore_sample_scores",
    "_programme_order",
]
