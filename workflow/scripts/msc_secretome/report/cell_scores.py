"""Per-cell programme score boxes of the single-cell section (plotly dicts)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from .cell_figures import (
    _exposure,
    _factor_levels,
    _level_order,
    _prepare_cells,
    _sheet_levels,
    _text_column,
    called_programmes,
    single_cell_columns,
)
from .constants import (
    CELL_SCORE_COLUMNS,
    MAX_CELL_SCORE_PANELS,
    PALETTE,
)
from .figures import panel_title
from .formatting import esc, sig4


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


def _called_contrasts(programme_calls: pd.DataFrame | None) -> dict[str, dict[str, list[str]]]:
    """programme -> {"up": contrasts calling it up, "down": ... down} (in table order)."""
    if programme_calls is None or programme_calls.empty or "call" not in programme_calls.columns:
        return {}
    out: dict[str, dict[str, list[str]]] = {}
    for rec in programme_calls.to_dict("records"):
        call = str(rec.get("call"))
        if call in ("up", "down"):
            entry = out.setdefault(str(rec["programme"]), {"up": [], "down": []})
            entry[call].append(str(rec.get("contrast")))
    return out


def cell_score_figure(
    cells: pd.DataFrame,
    samples: pd.DataFrame | None,
    programme_calls: pd.DataFrame | None,
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
    factors, score_columns = single_cell_columns(table, samples, programme_calls)
    called = [p for p in called_programmes(programme_calls) if p in score_columns]
    info["n_called"] = len(called)
    if not called:
        return None, info
    if len(called) > max_panels:
        sel = programme_calls[programme_calls["call"].isin(["up", "down"])]
        strength = (
            pd.to_numeric(sel["NES"], errors="coerce").abs().groupby(sel["programme"].astype(str))
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
    called_in = _called_contrasts(programme_calls)
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
        title = (
            f"<b>{esc(p)}</b><br>called {called_text} "
            f"{'contrast' if up + down == 1 else 'contrasts'}"
        )
        layout["annotations"].append(panel_title(xa, ya, title, hovertext=hover, font={"size": 10}))
    info["n_shown"] = len(called)
    info["height"] = height
    return {"data": data, "layout": layout}, info
