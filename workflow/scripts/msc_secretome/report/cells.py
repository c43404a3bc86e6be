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
from .figures import _annotated_heatmap, _axis, figure_view
from .formatting import _is_missing, _num, _plural, esc, fmt_value, sig4, table_view
from .input_checks import dropped_cells_view


def _single_cell_settings(config: Any) -> dict[str, Any]:
    try:
        settings = config["single_cell"]
    except (KeyError, TypeError):
        return {}
    return dict(settings) if isinstance(settings, Mapping) else {}


def _cell_qc_view(cell_qc: pd.DataFrame | None, settings: Mapping[str, Any]) -> dict | None:
    """Cell QC per sample: the rules, the totals and the table (None without a table)."""
    if cell_qc is None or cell_qc.empty or "sample" not in cell_qc.columns:
        return None
    qc = cell_qc.copy()
    qc["sample"] = _text_column(qc["sample"])
    thresholds = settings.get("qc") if isinstance(settings.get("qc"), Mapping) else {}
    rules = [
        text.format(fmt_value(thresholds[key]))
        for key, text in (
            ("min_genes", "at least {} genes detected"),
            ("min_counts", "at least {} counts"),
            ("max_mito_fraction", "a mitochondrial fraction of at most {}"),
        )
        if key in thresholds and not _is_missing(thresholds[key])
    ]
    totals = None
    if {"cells_in", "cells_kept"} <= set(qc.columns):
        cells_in = pd.to_numeric(qc["cells_in"], errors="coerce")
        kept = pd.to_numeric(qc["cells_kept"], errors="coerce")
        total_in, total_kept = float(cells_in.sum()), float(kept.sum())
        totals = {
            "kept": fmt_value(total_kept),
            "cells_in": fmt_value(total_in),
            "share": f" ({100 * total_kept / total_in:.1f}%)" if total_in > 0 else "",
            "samples": _plural(len(qc), "sample"),
        }
        ratio = (100 * kept / cells_in.where(cells_in > 0)).round(1)
        qc.insert(list(qc.columns).index("cells_kept") + 1, "kept_%", ratio)
    cols = list(map(str, qc.columns))
    rows = []
    for rec in qc.to_dict("records"):
        row = []
        for c in cols:
            value = rec[c]
            x = None if c == "sample" or isinstance(value, str) else _num(value)
            row.append(x if x is not None else _text_value(value))
        rows.append(row)
    return {
        "rules": ", ".join(rules),
        "totals": totals,
        "table": table_view("table-cell-qc", cols, rows, css_class="compact"),
    }


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


def _dropped_view(dropped: pd.DataFrame | None, settings: Mapping[str, Any]) -> dict:
    """Pseudo-samples dropped for too few cells: the rule and the table (None if none)."""
    min_cells = settings.get("min_cells")
    view = {"min_cells": None if min_cells is None else fmt_value(min_cells), "table": None}
    if dropped is None or dropped.empty:
        return view
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
    view["n"] = _plural(len(dropped), "pseudo-sample")
    view["table"] = table_view(
        "table-pseudobulk-dropped", cols, rows, searchable=False, css_class="compact"
    )
    return view


def single_cell_view(
    single_cell: Mapping[str, pd.DataFrame | None],
    samples: pd.DataFrame,
    programme_calls: pd.DataFrame | None,
    config: Any,
) -> dict[str, Any]:
    """The single-cell section's view model (``templates/single_cell.html.j2``).

    ``single_cell``: ``cells`` (one row per scored cell), ``cell_qc``, ``dropped`` (pseudo-
    samples) and optionally ``dropped_cells`` (``dropped_cells.tsv.gz``, one row per cell);
    ``samples``: the pseudobulk sheet; ``config``: the run's config (single_cell settings).
    """
    cells = single_cell.get("cells")
    cell_qc = single_cell.get("cell_qc")
    dropped = single_cell.get("dropped")
    settings = _single_cell_settings(config)
    n_samples = len(cell_qc) if cell_qc is not None and not cell_qc.empty else None
    view: dict[str, Any] = {
        "n_pseudo": _plural(len(samples), "pseudo-sample"),
        "from_samples": f" from {_plural(n_samples, 'sample')}" if n_samples else "",
        "n_dropped": 0 if dropped is None else len(dropped),
        "cell_qc": _cell_qc_view(cell_qc, settings),
        "dropped": _dropped_view(dropped, settings),
        "dropped_cells": dropped_cells_view(single_cell.get("dropped_cells")),
        "kept_figure": None,
        "pseudo_figure": None,
    }
    kept_fig = _cells_kept_figure(cell_qc)
    pseudo_fig = _pseudosample_figure(samples, dropped, cell_qc)
    height = pseudo_fig.pop("height") if pseudo_fig else 380
    if kept_fig:
        kept_height = max(380, min(height, 520))
        view["kept_figure"] = figure_view("fig-cells-kept", kept_fig, height=kept_height)
    if pseudo_fig:
        view["pseudo_figure"] = figure_view("fig-pseudo-samples", pseudo_fig, height=height)
    n_table = 0 if cells is None else len(cells)
    view["n_cells_table"] = fmt_value(n_table)
    fig, info = umap_figure(cells, samples, programme_calls, config) if n_table else (None, {})
    view["umap"] = None
    if fig is not None:
        embedding = settings.get("embedding_cells")
        view["umap"] = {
            "all_shown": info["n_shown"] == info["n_cells"],
            "n_cells": fmt_value(info["n_cells"]),
            "n_shown": fmt_value(info["n_shown"]),
            "embedding": None if embedding is None else fmt_value(embedding),
            "n_programmes": _plural(info["n_programmes"], "programme"),
            "figure": figure_view("fig-umap", fig, height=640, css_class="square umap"),
        }
    box, binfo = (
        cell_score_figure(cells, samples, programme_calls, config)
        if n_table
        else (None, {"n_called": 0})
    )
    view["has_cells"] = bool(n_table)
    view["scores"] = None
    if box is not None:
        view["scores"] = {
            "all_shown": binfo["n_shown"] == binfo["n_called"],
            "n_shown": binfo["n_shown"],
            "n_called": binfo["n_called"],
            "group": binfo["group"] or None,
            "figure": figure_view(
                "fig-cell-scores", box, height=binfo["height"], css_class="cellscores"
            ),
        }
    return view
