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
    MAX_UMAP_CELLS,
    PALETTE,
    SCORE_COLOURSCALE,
    SHEET_ONLY_COLUMNS,
    UMAP_DRAW_SEED,
)
from .figures import _axis, _strip_colourscale, dropdown
from .formatting import _is_missing, _num, esc, fmt_value
from .programmes import _programme_order

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


def called_programmes(programme_calls: pd.DataFrame | None) -> list[str]:
    """Programmes called up or down in at least one contrast, in the NES heatmap's order."""
    if programme_calls is None or programme_calls.empty or "call" not in programme_calls.columns:
        return []
    called = set(
        programme_calls.loc[programme_calls["call"].isin(["up", "down"]), "programme"].map(str)
    )
    if "category" not in programme_calls.columns:
        return sorted(called)
    return [p for p in _programme_order(programme_calls) if p in called]


def single_cell_columns(
    cells: pd.DataFrame, samples: pd.DataFrame | None, programme_calls: pd.DataFrame | None
) -> tuple[list[str], list[str]]:
    """(factor columns, programme-score columns) of a cells table: programmes are the columns
    named in the calls, else numeric columns not in the sample sheet; factors the rest."""
    known = (
        set(programme_calls["programme"].astype(str))
        if programme_calls is not None and "programme" in programme_calls.columns
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
    programme_calls: pd.DataFrame | None,
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
    factors, programmes = single_cell_columns(cells, samples, programme_calls)
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
    for p in (p for p in called_programmes(programme_calls) if p in programmes):
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
            "updatemenus": [dropdown(buttons)],
        },
    }
    return fig, info
