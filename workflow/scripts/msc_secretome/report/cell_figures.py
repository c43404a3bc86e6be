"""Figures of the single-cell section:

UMAP of the cells and per-cell programme score boxes (plotly dicts).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .constants import (
    CELL_RESERVED_COLUMNS,
    CELL_SCORE_COLUMNS,
    MAX_CELL_SCORE_PANELS,
    MAX_UMAP_CELLS,
    PALETTE,
    SCORE_COLOURSCALE,
    SHEET_ONLY_COLUMNS,
    UMAP_DRAW_SEED,
)
from .formatting import _axis, _is_missing, _num, esc, fmt_value, sig4
from .programmes import _programme_order, _strip_colourscale

# --------------------------------------------------------------------------------------------
# 2b. single cells (single-cell runs only)
# --------------------------------------------------------------------------------------------


def sig3(value: Any) -> float | None:
    """Round to 3 significant digits (UMAP coordinates, per-cell scores); ``None`` for NaN/inf."""
    x = _num(value)
    if x is None or not math.isfinite(x):
        return None
    return float(f"{x:.3g}")


def _text_column(values: pd.Series) -> pd.Series:
    return values.map(lambda v: "" if _is_missing(v) else str(v))


def _prepare_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """The cells table with ``cell``, ``sample`` and ``cell_type`` as text columns."""
    table = cells.copy() if "cell" in cells.columns else cells.rename_axis("cell").reset_index()
    for col in ("cell", "sample", "cell_type"):
        table[col] = _text_column(table[col]) if col in table.columns else ""
    return table


def called_programmes(program_calls: pd.DataFrame | None) -> list[str]:
    """Programmes called up or down in at least one contrast, in the NES heatmap's order."""
    if program_calls is None or program_calls.empty or "call" not in program_calls.columns:
        return []
    called = set(program_calls.loc[program_calls["call"].isin(["up", "down"]), "program"].map(str))
    if "category" not in program_calls.columns:
        return sorted(called)
    return [p for p in _programme_order(program_calls) if p in called]


def single_cell_columns(
    cells: pd.DataFrame, samples: pd.DataFrame | None, program_calls: pd.DataFrame | None
) -> tuple[list[str], list[str]]:
    """(factor columns, programme-score columns) of a cells table: programmes are the columns
    named in the calls, else numeric columns not in the sample sheet; factors the rest."""
    known = (
        set(program_calls["program"].astype(str))
        if program_calls is not None and "program" in program_calls.columns
        else set()
    )
    sheet = set(map(str, samples.columns)) if samples is not None else set()
    factors, programmes = [], []
    for col in map(str, cells.columns):
        if col in CELL_RESERVED_COLUMNS or col in SHEET_ONLY_COLUMNS:
            continue
        if col in known:
            programmes.append(col)
        elif col in sheet or not pd.api.types.is_numeric_dtype(cells[col]):
            factors.append(col)
        else:
            programmes.append(col)
    return factors, programmes


def _level_order(values: pd.Series, preferred: Iterable[Any] = ()) -> list[str]:
    """Levels present in ``values``: those in ``preferred`` first (in its order), then sorted."""
    present = set(_text_column(values))
    head = [p for p in dict.fromkeys(map(str, preferred)) if p in present]
    return head + sorted(present - set(head))


def _sheet_levels(samples: pd.DataFrame | None, column: str) -> list[str]:
    if samples is None or column not in samples.columns:
        return []
    return list(dict.fromkeys(_text_column(samples[column])))


def select_umap_cells(cells: pd.DataFrame, max_cells: int = MAX_UMAP_CELLS) -> pd.DataFrame:
    """The cells the UMAP draws, independent of row order: cells with finite coordinates in
    (sample, cell_type, cell) order, every (n / max_cells)-th when there are more than
    ``max_cells`` (so each sample and cell type keeps its share), then shuffled with a fixed
    seed so that no group is always drawn on top."""
    table = _prepare_cells(cells)
    xy = table[["UMAP1", "UMAP2"]].apply(pd.to_numeric, errors="coerce")
    table = table[np.isfinite(xy.to_numpy(dtype=float)).all(axis=1)]
    table = table.sort_values(["sample", "cell_type", "cell"], kind="stable")
    n = len(table)
    if n > max_cells:
        table = table.iloc[(np.arange(max_cells) * n) // max_cells]
    order = np.random.default_rng(UMAP_DRAW_SEED).permutation(len(table))
    return table.iloc[order].reset_index(drop=True)


def _factor_levels(
    cells: pd.DataFrame, samples: pd.DataFrame | None, factors: Sequence[str], config: Any
) -> dict[str, list[str]]:
    """factor -> level order: the control level of the exposure first, then sample-sheet order,
    then any other level sorted."""
    column, control = _exposure(config)
    out = {}
    for f in factors:
        preferred = [control] if f == column and control else []
        out[f] = _level_order(cells[f], [*preferred, *_sheet_levels(samples, f)])
    return out


def _exposure(config: Any) -> tuple[str, str]:
    """(column, control level) of ``roles.exposure``, default ``('medium', '')``."""
    try:
        exposure = config["roles"]["exposure"]
        return str(exposure["column"]), str(exposure.get("control") or "")
    except (KeyError, TypeError, AttributeError):
        return ("medium", "")


def umap_figure(
    cells: pd.DataFrame,
    samples: pd.DataFrame | None,
    program_calls: pd.DataFrame | None,
    config: Any = None,
    *,
    max_cells: int = MAX_UMAP_CELLS,
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """One WebGL scatter of the UMAP and a dropdown that recolours it: by cell type and each
    sample-sheet factor (stepped colour scale, the colour bar naming the levels) and by the
    per-cell score of each called programme (continuous, 1st-99th percentile). Returns (figure
    or None, facts for the caption: n_cells, n_shown, options)."""
    info: dict[str, Any] = {"n_cells": 0, "n_shown": 0, "options": [], "n_programmes": 0}
    if cells is None or cells.empty or not {"UMAP1", "UMAP2"} <= set(cells.columns):
        return None, info
    factors, programmes = single_cell_columns(cells, samples, program_calls)
    info["n_cells"] = len(cells)
    shown = select_umap_cells(cells, max_cells)
    info["n_shown"] = len(shown)
    if shown.empty:
        return None, info
    categorical = ["cell_type", *factors]
    levels = _factor_levels(shown, samples, factors, config)
    levels["cell_type"] = _level_order(shown["cell_type"], _sheet_levels(samples, "cell_type"))
    text = [
        f"{esc(s)} · {esc(c)}" for s, c in zip(shown["sample"], shown["cell_type"], strict=True)
    ]
    options: list[tuple[str, dict[str, Any]]] = []
    for f in categorical:
        lv = levels[f]
        # codes count down so that the colour bar lists the first level on top
        code = {level: len(lv) - 1 - i for i, level in enumerate(lv)}
        colours = [PALETTE[i % len(PALETTE)] for i in reversed(range(len(lv)))]
        options.append(
            (
                f"colour by {esc(f)}",
                {
                    "marker.color": [[code[v] for v in _text_column(shown[f])]],
                    "marker.colorscale": [_strip_colourscale(len(lv), colours)],
                    "marker.cmin": [-0.5],
                    "marker.cmax": [len(lv) - 0.5],
                    "marker.colorbar.tickmode": ["array"],
                    "marker.colorbar.tickvals": [[code[v] for v in lv]],
                    "marker.colorbar.ticktext": [[esc(v) or "—" for v in lv]],
                    "marker.colorbar.title.text": [esc(f)],
                    "hovertemplate": ["%{text}<extra></extra>"],
                },
            )
        )
    for p in (p for p in called_programmes(program_calls) if p in programmes):
        values = pd.to_numeric(shown[p], errors="coerce").to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            continue
        lo, hi = (sig3(v) for v in np.percentile(finite, [1, 99]))
        if hi is None or lo is None or hi <= lo:
            lo, hi = sig3(finite.min()), sig3(finite.min() + 1)
        options.append(
            (
                f"colour by {esc(p)}",
                {
                    "marker.color": [[sig3(v) for v in values]],
                    "marker.colorscale": [SCORE_COLOURSCALE],
                    "marker.cmin": [lo],
                    "marker.cmax": [hi],
                    "marker.colorbar.tickmode": ["auto"],
                    "marker.colorbar.title.text": ["score"],
                    "hovertemplate": [f"%{{text}}<br>{esc(p)}: %{{marker.color}}<extra></extra>"],
                },
            )
        )
    info["options"] = [label for label, _ in options]
    info["n_programmes"] = len(options) - len(categorical)
    first = options[0][1]
    marker = {
        "size": 4 if len(shown) <= 4000 else 3,
        "opacity": 0.8,
        "color": first["marker.color"][0],
        "colorscale": first["marker.colorscale"][0],
        "cmin": first["marker.cmin"][0],
        "cmax": first["marker.cmax"][0],
        "showscale": True,
        "colorbar": {
            "title": {"text": first["marker.colorbar.title.text"][0]},
            "tickmode": "array",
            "tickvals": first["marker.colorbar.tickvals"][0],
            "ticktext": first["marker.colorbar.ticktext"][0],
            "len": 0.8,
            "thickness": 14,
        },
    }
    trace = {
        "type": "scattergl",
        "mode": "markers",
        "x": [sig3(v) for v in shown["UMAP1"]],
        "y": [sig3(v) for v in shown["UMAP2"]],
        "text": text,
        "hovertemplate": first["hovertemplate"][0],
        "marker": marker,
        "showlegend": False,
    }
    buttons = [{"label": label, "method": "restyle", "args": [args]} for label, args in options]
    title = (
        f"UMAP of {fmt_value(len(shown))} cells"
        if len(shown) == len(cells)
        else f"UMAP of {fmt_value(len(shown))} of {fmt_value(len(cells))} cells"
    )
    fig = {
        "data": [trace],
        "layout": {
            "title": {"text": title, "x": 0.98, "xanchor": "right"},
            "margin": {"l": 50, "r": 20, "t": 80, "b": 50},
            "xaxis": _axis("UMAP1", showticklabels=False, showgrid=False),
            "yaxis": _axis("UMAP2", showticklabels=False, showgrid=False),
            "hovermode": "closest",
            "updatemenus": [
                {
                    "buttons": buttons,
                    "direction": "down",
                    "x": 0,
                    "xanchor": "left",
                    "y": 1.02,
                    "yanchor": "bottom",
                    "pad": {"t": 0, "b": 0},
                    "showactive": True,
                }
            ],
        },
    }
    return fig, info


def box_stats(values: Iterable[Any]) -> dict[str, float] | None:
    """Tukey box of finite values: n, quartiles (linear interpolation), whiskers at the most
    extreme values within 1.5 IQR of the box, mean; None when there is no finite value."""
    v = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").to_numpy(float)
    v = np.sort(v[np.isfinite(v)])
    if v.size == 0:
        return None
    q1, median, q3 = np.percentile(v, [25, 50, 75])
    iqr = q3 - q1
    return {
        "n": int(v.size),
        "q1": float(q1),
        "median": float(median),
        "q3": float(q3),
        "lowerfence": float(v[v >= q1 - 1.5 * iqr].min()),
        "upperfence": float(v[v <= q3 + 1.5 * iqr].max()),
        "mean": float(v.mean()),
    }


def _called_contrasts(program_calls: pd.DataFrame | None) -> dict[str, dict[str, list[str]]]:
    """programme -> {"up": contrasts calling it up, "down": ... down} (in table order)."""
    if program_calls is None or program_calls.empty or "call" not in program_calls.columns:
        return {}
    out: dict[str, dict[str, list[str]]] = {}
    for rec in program_calls.to_dict("records"):
        call = str(rec.get("call"))
        if call in ("up", "down"):
            entry = out.setdefault(str(rec["program"]), {"up": [], "down": []})
            entry[call].append(str(rec.get("contrast")))
    return out


def cell_score_figure(
    cells: pd.DataFrame,
    samples: pd.DataFrame | None,
    program_calls: pd.DataFrame | None,
    config: Any = None,
    *,
    max_panels: int = MAX_CELL_SCORE_PANELS,
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Small multiples, one per called programme: box plots of the per-cell scores by cell type
    (x) and exposure level (colour), drawn from precomputed statistics of all cells of the table.
    At most ``max_panels`` programmes (the largest |NES| among their calls), in the NES
    heatmap's order. Returns (figure or None, facts: n_called, n_shown, group, height)."""
    info: dict[str, Any] = {"n_called": 0, "n_shown": 0, "group": None, "height": 0}
    if cells is None or cells.empty:
        return None, info
    table = _prepare_cells(cells)
    factors, score_columns = single_cell_columns(table, samples, program_calls)
    called = [p for p in called_programmes(program_calls) if p in score_columns]
    info["n_called"] = len(called)
    if not called:
        return None, info
    if len(called) > max_panels:
        sel = program_calls[program_calls["call"].isin(["up", "down"])]
        strength = (
            pd.to_numeric(sel["NES"], errors="coerce").abs().groupby(sel["program"].astype(str))
        ).max()
        top = sorted(called, key=lambda p: (-float(strength.get(p, 0.0) or 0.0), p))
        keep = set(top[:max_panels])
        called = [p for p in called if p in keep]
    column = _exposure(config)[0]
    group = column if column in factors else None
    info["group"] = group
    cell_types = _level_order(table["cell_type"], _sheet_levels(samples, "cell_type"))
    if group:
        group_levels = _factor_levels(table, samples, [group], config)[group]
        table[group] = _text_column(table[group])
    else:
        group_levels = [""]
    called_in = _called_contrasts(program_calls)
    cols = min(CELL_SCORE_COLUMNS, len(called))
    rows = math.ceil(len(called) / cols)
    panel_px, title_px, axis_px, top_px, bottom_px = 190, 40, 34, 40, 10
    height = top_px + bottom_px + rows * (panel_px + title_px + axis_px)
    plot_h = height - top_px - bottom_px
    h_gap = 0.06
    width = (1 - h_gap * (cols - 1)) / cols
    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {
        "boxmode": "group",
        "boxgroupgap": 0.25,
        "showlegend": bool(group),
        "legend": {
            "orientation": "h",
            "x": 0,
            "y": 1,
            "yanchor": "bottom",
            "title": {"text": esc(group) if group else ""},
        },
        "margin": {"l": 50, "r": 10, "t": top_px, "b": bottom_px},
        "annotations": [],
    }
    grouped = {
        key: frame
        for key, frame in table.groupby(["cell_type", group] if group else ["cell_type"], sort=True)
    }
    for k, p in enumerate(called):
        row, col = divmod(k, cols)
        suffix = "" if k == 0 else str(k + 1)
        xa, ya = f"x{suffix}", f"y{suffix}"
        top = 1 - (row * (panel_px + title_px + axis_px) + title_px) / plot_h
        bottom = top - panel_px / plot_h
        x0 = col * (width + h_gap)
        for gi, level in enumerate(group_levels):
            xs, stats = [], []
            for ct in cell_types:
                frame = grouped.get((ct, level) if group else (ct,))
                box = box_stats(frame[p]) if frame is not None else None
                if box is not None:
                    xs.append(esc(ct))
                    stats.append(box)
            if not stats:
                continue
            trace: dict[str, Any] = {
                "type": "box",
                "name": esc(level) if group else "cells",
                "legendgroup": esc(level),
                "offsetgroup": str(gi),
                "showlegend": k == 0 and bool(group),
                "x": xs,
                "xaxis": xa,
                "yaxis": ya,
                "marker": {"color": PALETTE[gi % len(PALETTE)]},
                "line": {"width": 1.2},
                "boxpoints": False,
                "boxmean": True,
            }
            for key in ("q1", "median", "q3", "lowerfence", "upperfence", "mean"):
                trace[key] = [sig4(s[key]) for s in stats]
            data.append(trace)
        layout[f"xaxis{suffix}"] = {
            "domain": [sig4(x0), sig4(x0 + width)],
            "anchor": ya,
            "type": "category",
            "categoryorder": "array",
            "categoryarray": [esc(c) for c in cell_types],
            "tickfont": {"size": 10},
        }
        layout[f"yaxis{suffix}"] = {
            "domain": [sig4(max(bottom, 0.0)), sig4(min(top, 1.0))],
            "anchor": xa,
            "zeroline": False,
            "gridcolor": "#eeeeee",
            "tickfont": {"size": 9},
            "title": {"text": "score" if col == 0 else "", "font": {"size": 10}},
        }
        where = called_in.get(p, {"up": [], "down": []})
        up, down = len(where["up"]), len(where["down"])
        called_text = ", ".join(
            t for t in (f"up in {up}" if up else "", f"down in {down}" if down else "") if t
        )
        hover = "<br>".join(f"{call}: {esc(c)}" for call in ("up", "down") for c in where[call])
        layout["annotations"].append(
            {
                "xref": f"{xa} domain",
                "yref": f"{ya} domain",
                "x": 0,
                "y": 1.02,
                "xanchor": "left",
                "yanchor": "bottom",
                "align": "left",
                "showarrow": False,
                "text": f"<b>{esc(p)}</b><br>called {called_text} "
                f"{'contrast' if up + down == 1 else 'contrasts'}",
                "hovertext": hover,
                "font": {"size": 10},
            }
        )
    info["n_shown"] = len(called)
    info["height"] = height
    return {"data": data, "layout": layout}, info
