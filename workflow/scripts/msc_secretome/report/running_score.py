"""GSEA running-score small multiples of a contrast's called programmes (plotly dicts)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..enrichment import enrichment_score, gene_ranking
from .constants import (
    DOWN_COLOUR,
    MAX_RUNNING_LINE_POINTS,
    MAX_RUNNING_PANELS,
    RUNNING_COLUMNS,
    UP_COLOUR,
)
from .figures import figure_view, panel_title
from .formatting import _is_missing, _num, esc, fmt_value, sig4


def running_sum_points(
    running_sum: np.ndarray, hit_indices: np.ndarray, max_points: int = MAX_RUNNING_LINE_POINTS
) -> np.ndarray:
    """Sorted positions that draw the running sum: its corners (each hit and the position just
    before it), both ends and the extremes. The running sum only jumps at hits and falls
    linearly in between, so the line through these points is exact. When there are more than
    ``max_points`` of them: every k-th position plus the ends, extremes and up to
    ``max_points / 4`` evenly spaced hits."""
    n = len(running_sum)
    if n == 0:
        return np.array([], dtype=int)
    hits = np.asarray(hit_indices, dtype=int)
    extremes = [0, n - 1, int(np.argmax(running_sum)), int(np.argmin(running_sum))]
    points = np.concatenate([hits, hits - 1, extremes])
    points = np.unique(points[(points >= 0) & (points < n)])
    if len(points) <= max_points:
        return points
    k = math.ceil(n / (max_points // 2))
    step = max(1, math.ceil(len(hits) / max(1, max_points // 4)))
    points = np.concatenate([np.arange(0, n, k), hits[::step], hits[::step] - 1, extremes])
    return np.unique(points[(points >= 0) & (points < n)])


def running_score_figure(
    de: pd.DataFrame,
    calls: pd.DataFrame,
    gene_sets: Mapping[str, Sequence[str]],
    *,
    statistic: str = "stat",
    weight: float = 1.0,
    max_panels: int = MAX_RUNNING_PANELS,
) -> tuple[dict[str, Any] | None, dict[str, int]]:
    """Small multiples of the GSEA running enrichment score of one contrast's called programmes
    (call up/down; the largest |NES| first, at most ``max_panels``), on ``gene_ranking(de,
    statistic)`` with :func:`enrichment_score`. Returns (figure or None, counts for the
    caption: n_called, n_shown, n_genes)."""
    counts = {"n_called": 0, "n_shown": 0, "n_genes": 0}
    if de is None or de.empty or calls is None or calls.empty:
        return None, counts
    if "symbol" not in de.columns or statistic not in de.columns:
        return None, counts
    called = calls[calls["call"].isin(["up", "down"])].copy()
    called["programme"] = called["programme"].astype(str)
    called = called[called["programme"].isin(set(gene_sets))]
    counts["n_called"] = len(called)
    if called.empty:
        return None, counts
    called["_abs"] = -pd.to_numeric(called["NES"], errors="coerce").abs().fillna(0.0)
    called = called.sort_values(["_abs", "programme"], kind="stable")
    table = de.loc[:, ["symbol", statistic]].copy()
    table[statistic] = pd.to_numeric(table[statistic], errors="coerce")
    table = table[~table["symbol"].map(_is_missing)]
    ranking = gene_ranking(table, statistic)
    n = len(ranking)
    counts["n_genes"] = n
    if n < 2:
        return None, counts
    zero_cross = int((ranking.to_numpy() > 0).sum())
    panels = []
    for r in called.to_dict("records"):
        if len(panels) >= max_panels:
            break
        try:
            es, running, hits = enrichment_score(ranking, gene_sets[r["programme"]], weight)
        except ValueError:
            continue
        panels.append((r, es, running, hits))
    counts["n_shown"] = len(panels)
    if not panels:
        return None, counts
    cols = min(RUNNING_COLUMNS, len(panels))
    rows = math.ceil(len(panels) / cols)
    panel_px, title_px, axis_px, top_px, bottom_px = 150, 44, 26, 10, 30
    height = top_px + bottom_px + rows * (panel_px + title_px + axis_px)
    plot_h = height - top_px - bottom_px
    h_gap = 0.045
    width = (1 - h_gap * (cols - 1)) / cols
    genes = ranking.index.to_numpy()
    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {
        "showlegend": False,
        "margin": {"l": 50, "r": 10, "t": top_px, "b": bottom_px},
        "hovermode": "closest",
        "shapes": [],
        "annotations": [],
    }
    for k, (r, es, running, hits) in enumerate(panels):
        row, col = divmod(k, cols)
        suffix = "" if k == 0 else str(k + 1)
        xa, ya = f"x{suffix}", f"y{suffix}"
        top = 1 - (row * (panel_px + title_px + axis_px) + title_px) / plot_h
        bottom = top - panel_px / plot_h
        x0 = col * (width + h_gap)
        lo, hi = min(float(running.min()), 0.0), max(float(running.max()), 0.0)
        span = (hi - lo) or 1.0
        tick_y = sig4(lo - 0.12 * span)
        colour = UP_COLOUR if r["call"] == "up" else DOWN_COLOUR
        idx = running_sum_points(running, hits)
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": [0, *[int(i) + 1 for i in idx]],
                "y": [0, *[sig4(running[i]) for i in idx]],
                "xaxis": xa,
                "yaxis": ya,
                "line": {"color": colour, "width": 1.6},
                "hovertemplate": "rank %{x}<br>running ES %{y}<extra></extra>",
            }
        )
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [int(i) + 1 for i in hits],
                "y": [tick_y] * len(hits),
                "text": [esc(g) for g in genes[hits]],
                "xaxis": xa,
                "yaxis": ya,
                "marker": {
                    "symbol": "line-ns-open",
                    "size": 10,
                    "color": "#333333",
                    "line": {"width": 1, "color": "#333333"},
                },
                "hovertemplate": "%{text}: rank %{x}<extra></extra>",
            }
        )
        layout[f"xaxis{suffix}"] = {
            "domain": [sig4(x0), sig4(x0 + width)],
            "anchor": ya,
            "range": [0, n + 1],
            "showgrid": False,
            "zeroline": False,
            "tickfont": {"size": 9},
            "title": {
                "text": "gene rank" if k + cols >= len(panels) else "",
                "font": {"size": 10},
                "standoff": 2,
            },
        }
        layout[f"yaxis{suffix}"] = {
            "domain": [sig4(max(bottom, 0.0)), sig4(min(top, 1.0))],
            "anchor": xa,
            "range": [sig4(lo - 0.22 * span), sig4(hi + 0.08 * span)],
            "zeroline": True,
            "zerolinecolor": "#999999",
            "gridcolor": "#eeeeee",
            "tickfont": {"size": 9},
            "title": {"text": "running ES" if col == 0 else "", "font": {"size": 10}},
        }
        layout["shapes"].append(
            {
                "type": "line",
                "xref": xa,
                "yref": f"{ya} domain",
                "x0": zero_cross + 0.5,
                "x1": zero_cross + 0.5,
                "y0": 0,
                "y1": 1,
                "line": {"dash": "dot", "color": "#888888", "width": 1},
            }
        )
        nes = fmt_value(_num(r.get("NES")))
        fdr = fmt_value(_num(r.get("fdr")))
        layout["annotations"].append(
            panel_title(
                xa,
                ya,
                f"<b>{esc(r['programme'])}</b><br>NES {nes}, FDR {fdr}, ES {sig4(es)}",
                font={"size": 10},
            )  # fmt: skip
        )
    return {"data": data, "layout": layout, "height": height}, counts


def running_view(
    de: pd.DataFrame,
    calls: pd.DataFrame | None,
    gene_sets: Mapping[str, Sequence[str]] | None,
    sid: str,
    statistic: str,
    weight: float,
) -> dict[str, Any] | None:
    """The running-score block of a contrast (``templates/running.html.j2``), or None.

    ``{"none": True}`` when no programme is called (the block says so); otherwise the figure
    view and the numbers of its caption.
    """
    if gene_sets is None or calls is None:
        return None
    fig, counts = running_score_figure(de, calls, gene_sets, statistic=statistic, weight=weight)
    if fig is None:
        return {"none": True} if counts["n_called"] == 0 else None
    height = fig.pop("height")
    return {
        "none": False,
        "all_shown": counts["n_shown"] == counts["n_called"],
        "n_shown": counts["n_shown"],
        "n_called": counts["n_called"],
        "n_genes": counts["n_genes"],
        "statistic": statistic,
        "weight": fmt_value(weight),
        "figure": figure_view(f"{sid}-running", fig, height=height, css_class="running"),
    }
