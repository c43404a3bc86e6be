"""Section 2b (single-cell runs only):

Cell QC, cells kept, pseudo-samples, UMAP and per-cell scores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from .cell_figures import _sheet_levels, _text_column, umap_figure
from .cell_scores import cell_score_figure
from .constants import CELL_COUNT_COLOURSCALE
from .formatting import _axis, _figure, _is_missing, _num, _plural, esc, fmt_value, html_table, sig4
from .qc import _annotated_heatmap


def _single_cell_settings(config: Any) -> dict[str, Any]:
    try:
        settings = config["single_cell"]
    except (KeyError, TypeError):
        return {}
    return dict(settings) if isinstance(settings, Mapping) else {}


def _cell_qc_block(cell_qc: pd.DataFrame | None, settings: Mapping[str, Any]) -> list[str]:
    out = ['<h3 id="cell-qc">Cell quality control per sample</h3>']
    if cell_qc is None or cell_qc.empty or "sample" not in cell_qc.columns:
        out.append('<p class="muted">No per-sample cell QC table.</p>')
        return out
    qc = cell_qc.copy()
    qc["sample"] = _text_column(qc["sample"])
    thresholds = settings.get("qc") if isinstance(settings.get("qc"), Mapping) else {}
    rules = [
        text.format(esc(fmt_value(thresholds[key])))
        for key, text in (
            ("min_genes", "at least {} genes detected"),
            ("min_counts", "at least {} counts"),
            ("max_mito_fraction", "a mitochondrial fraction of at most {}"),
        )
        if key in thresholds and not _is_missing(thresholds[key])
    ]
    text = f"A cell is kept with {', '.join(rules)}. " if rules else ""
    if {"cells_in", "cells_kept"} <= set(qc.columns):
        cells_in = pd.to_numeric(qc["cells_in"], errors="coerce")
        kept = pd.to_numeric(qc["cells_kept"], errors="coerce")
        total_in, total_kept = float(cells_in.sum()), float(kept.sum())
        share = f" ({100 * total_kept / total_in:.1f}%)" if total_in > 0 else ""
        text += (
            f"{fmt_value(total_kept)} of {fmt_value(total_in)} cells kept{share} across "
            f"{_plural(len(qc), 'sample')}. "
        )
        ratio = (100 * kept / cells_in.where(cells_in > 0)).round(1)
        qc.insert(list(qc.columns).index("cells_kept") + 1, "kept_%", ratio)
    text += (
        "The failure counts overlap (a cell can fail several rules); medians are over the "
        "kept cells."
    )
    out.append(f'<p class="small">{text}</p>')
    cols = list(map(str, qc.columns))
    rows = []
    for rec in qc.to_dict("records"):
        row = []
        for c in cols:
            value = rec[c]
            x = None if c == "sample" or isinstance(value, str) else _num(value)
            row.append(x if x is not None else _text_value(value))
        rows.append(row)
    out.append(html_table("table-cell-qc", cols, rows, css_class="compact"))
    return out


def _cells_kept_figure(cell_qc: pd.DataFrame) -> dict[str, Any] | None:
    if cell_qc is None or cell_qc.empty or not {"sample", "cells_kept"} <= set(cell_qc.columns):
        return None
    samples = [esc(s) for s in _text_column(cell_qc["sample"])]
    kept = pd.to_numeric(cell_qc["cells_kept"], errors="coerce")
    cells_in = pd.to_numeric(cell_qc.get("cells_in", kept), errors="coerce")
    removed = (cells_in - kept).clip(lower=0)
    hover = [
        f"<b>{s}</b><br>kept {fmt_value(k)} of {fmt_value(n)}"
        + (f" ({100 * k / n:.1f}%)" if n and math.isfinite(n) and n > 0 else "")
        for s, k, n in zip(samples, kept, cells_in, strict=True)
    ]
    data = [
        {
            "type": "bar",
            "name": "kept",
            "x": samples,
            "y": [sig4(v) for v in kept],
            "text": hover,
            "textposition": "none",
            "hovertemplate": "%{text}<extra></extra>",
            "marker": {"color": "#4c78a8"},
        }
    ]
    if "cells_in" in cell_qc.columns:
        data.append(
            {
                "type": "bar",
                "name": "removed by QC",
                "x": samples,
                "y": [sig4(v) for v in removed],
                "text": hover,
                "textposition": "none",
                "hovertemplate": "%{text}<extra></extra>",
                "marker": {"color": "#c7c7c7"},
            }
        )
    return {
        "data": data,
        "layout": {
            "title": {"text": "Cells per sample after QC", "x": 0.02, "xanchor": "left"},
            "barmode": "stack",
            "xaxis": _axis("", tickangle=-45, tickfont={"size": 10 if len(samples) <= 24 else 8}),
            "yaxis": _axis("cells"),
            "legend": {
                "orientation": "h",
                "x": 1,
                "xanchor": "right",
                "y": 1.02,
                "yanchor": "bottom",
            },
        },
    }


def _pseudosample_figure(
    samples: pd.DataFrame | None,
    dropped: pd.DataFrame | None,
    cell_qc: pd.DataFrame | None,
) -> dict[str, Any] | None:
    """Samples x cell types heatmap of cells per pseudo-sample (the sheet's ``n_cells``);
    dropped pseudo-samples show their count with a cross."""
    need = {"original_sample", "cell_type", "n_cells"}
    if samples is None or samples.empty or not need <= set(samples.columns):
        return None
    entries: dict[tuple[str, str], tuple[float, str]] = {}
    for rec in samples.to_dict("records"):
        key = (_text_value(rec["original_sample"]), _text_value(rec["cell_type"]))
        entries[key] = (_num(rec["n_cells"]) or 0.0, f"pseudo-sample {esc(rec.get('sample'))}")
    have_dropped = dropped is not None and not dropped.empty and need <= set(dropped.columns)
    if have_dropped:
        for rec in dropped.to_dict("records"):
            key = (_text_value(rec["original_sample"]), _text_value(rec["cell_type"]))
            entries.setdefault(
                key, (_num(rec["n_cells"]) or 0.0, f"dropped: {esc(rec.get('reason'))}")
            )
    order = []
    if cell_qc is not None and "sample" in cell_qc.columns:
        order = list(_text_column(cell_qc["sample"]))
    order += [s for s in _sheet_levels(samples, "original_sample") if s not in order]
    order += sorted({s for s, _ in entries} - set(order))
    order = list(dict.fromkeys(order))
    types = _sheet_levels(samples, "cell_type")
    types += sorted({c for _, c in entries} - set(types))
    z, text, hover = [], [], []
    for s in order:
        zr, tr, hr = [], [], []
        for c in types:
            n, what = entries.get((s, c), (None, "no cells"))
            is_dropped = what.startswith("dropped")
            zr.append(sig4(n) if n is not None else None)
            tr.append("" if n is None else f"{fmt_value(n)}{' ✕' if is_dropped else ''}")
            hr.append(
                f"<b>{esc(s)}</b> · {esc(c)}<br>{fmt_value(n) if n is not None else 0} "
                f"cells<br>{what}"
            )
        z.append(zr)
        text.append(tr)
        hover.append(hr)
    return {
        "data": [
            _annotated_heatmap(
                z,
                [esc(c) for c in types],
                [esc(s) for s in order],
                text,
                hover,
                text_size=10,
                colorscale=CELL_COUNT_COLOURSCALE,
                zmin=0,
                zmax=max([v for row in z for v in row if v is not None] or [1]),
                colorbar={"title": {"text": "cells"}, "thickness": 12},
            )
        ],
        "layout": {
            "title": {"text": "Cells per pseudo-sample (sample × cell type)"},
            "xaxis": {"side": "top", "automargin": True},
            "yaxis": {
                "autorange": "reversed",
                "automargin": True,
                "tickfont": {"size": 10 if len(order) <= 24 else 8},
            },
            "margin": {"l": 60, "r": 20, "t": 70, "b": 20},
        },
        "height": max(380, 110 + 18 * len(order)),
    }


def _text_value(value: Any) -> str:
    return "" if _is_missing(value) else str(value)


def _dropped_block(dropped: pd.DataFrame | None, settings: Mapping[str, Any]) -> str:
    min_cells = settings.get("min_cells")
    rule = f"fewer than {esc(fmt_value(min_cells))} cells" if min_cells is not None else ""
    if dropped is None or dropped.empty:
        at_least = (
            f": every sample × cell type had at least {esc(fmt_value(min_cells))} cells"
            if min_cells is not None
            else ""
        )
        return (
            f'<div class="box ok" id="pseudobulk-dropped"><b>No pseudo-sample dropped</b>'
            f"{at_least}.</div>"
        )
    cols = [
        c
        for c in ("sample", "original_sample", "cell_type", "n_cells", "reason")
        if c in dropped.columns
    ] or list(map(str, dropped.columns))
    rows = [
        [
            _num(rec[c]) if c == "n_cells" and _num(rec[c]) is not None else _text_value(rec[c])
            for c in cols
        ]
        for rec in dropped.to_dict("records")
    ]
    why = f" ({rule})" if rule else ""
    return (
        f'<div class="box warn" id="pseudobulk-dropped"><b>'
        f"{_plural(len(dropped), 'pseudo-sample')} dropped{why}</b>: they are left out of "
        "the pseudobulk counts, so their samples are missing from that cell type's contrasts."
        f"</div>"
        + html_table("table-pseudobulk-dropped", cols, rows, searchable=False, css_class="compact")
    )


def _single_cell_section(
    single_cell: Mapping[str, pd.DataFrame | None],
    samples: pd.DataFrame,
    program_calls: pd.DataFrame | None,
    config: Any,
) -> str:
    cells = single_cell.get("cells")
    cell_qc = single_cell.get("cell_qc")
    dropped = single_cell.get("dropped")
    settings = _single_cell_settings(config)
    out = ['<section id="single-cells"><h2>2b. Single cells</h2>']
    n_samples = len(cell_qc) if cell_qc is not None and not cell_qc.empty else None
    from_samples = f" from {_plural(n_samples, 'sample')}" if n_samples else ""
    n_dropped = 0 if dropped is None else len(dropped)
    out.append(
        '<p class="lead">Cells are filtered per sample, then the counts of each sample × cell '
        "type are summed into a pseudo-sample; the pseudo-samples are the samples of every "
        f"model and contrast in this report ({_plural(len(samples), 'pseudo-sample')}"
        f"{from_samples}, {n_dropped} dropped).</p>"
    )
    out += _cell_qc_block(cell_qc, settings)
    kept_fig = _cells_kept_figure(cell_qc)
    pseudo_fig = _pseudosample_figure(samples, dropped, cell_qc)
    if kept_fig or pseudo_fig:
        height = pseudo_fig.pop("height") if pseudo_fig else 380
        out.append('<div class="grid2">')
        if kept_fig:
            out.append(_figure("fig-cells-kept", kept_fig, height=max(380, min(height, 520))))
        if pseudo_fig:
            out.append(_figure("fig-pseudo-samples", pseudo_fig, height=height))
        out.append("</div>")
        if pseudo_fig:
            out.append(
                '<p class="small">Cells per pseudo-sample: the sheet\'s <code>n_cells</code>; '
                "✕ marks a pseudo-sample dropped for too few cells (hover for the reason).</p>"
            )
    out.append('<h3 id="pseudo-samples-dropped">Pseudo-samples dropped</h3>')
    out.append(_dropped_block(dropped, settings))

    out.append('<h3 id="umap">Cells in a UMAP</h3>')
    n_table = 0 if cells is None else len(cells)
    fig, info = umap_figure(cells, samples, program_calls, config) if n_table else (None, {})
    if fig is None:
        out.append('<p class="muted">No cells with UMAP coordinates.</p>')
    else:
        embedding = settings.get("embedding_cells")
        subsample = (
            f" (a seeded subsample of at most {esc(fmt_value(embedding))} kept cells)"
            if embedding is not None
            else ""
        )
        shown = (
            f"one of the {fmt_value(info['n_cells'])} scored cells{subsample}"
            if info["n_shown"] == info["n_cells"]
            else f"a cell: {fmt_value(info['n_shown'])} of the {fmt_value(info['n_cells'])} "
            f"scored cells{subsample} are drawn, evenly spread over samples and cell types"
        )
        out.append(
            f'<p class="small">Each dot is {shown}. '
            "The menu colours them by cell type, by a sample-sheet factor or by the per-cell "
            "score of a programme called up or down in at least one contrast "
            f"({_plural(info['n_programmes'], 'programme')}; module score: mean expression of the "
            "programme's genes minus that of matched control genes; colour range 1st–99th "
            "percentile). Hover for a cell's sample and cell type; drag to zoom, double-click "
            "to reset.</p>"
        )
        out.append(_figure("fig-umap", fig, height=640, css_class="square umap"))

    out.append('<h3 id="cell-scores">Per-cell programme scores</h3>')
    box, binfo = (
        cell_score_figure(cells, samples, program_calls, config)
        if n_table
        else (None, {"n_called": 0})
    )
    if box is None:
        out.append(
            '<p class="muted">No programme is called up or down in any contrast, so there are '
            "no per-cell score distributions to show.</p>"
            if n_table
            else '<p class="muted">No per-cell scores.</p>'
        )
    else:
        which = (
            f"each of the {binfo['n_shown']} programmes called"
            if binfo["n_shown"] == binfo["n_called"]
            else f"the {binfo['n_shown']} of {binfo['n_called']} called programmes with the "
            "largest |NES|"
        )
        by = (
            f"cell type and {esc(binfo['group'])} (other factors pooled)"
            if binfo["group"]
            else "cell type"
        )
        out.append(
            f'<p class="small">Per-cell scores of {which} up or down in at least one contrast, '
            f"by {by}, over all {fmt_value(n_table)} scored cells. Box: quartiles; line: "
            "median; dashed: mean; whiskers: the most extreme cells within 1.5 × IQR (cells "
            "beyond are not drawn).</p>"
        )
        out.append(_figure("fig-cell-scores", box, height=binfo["height"], css_class="cellscores"))
    out.append("</section>")
    return "\n".join(out)
