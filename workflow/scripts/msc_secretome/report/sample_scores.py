"""Per-sample programme scores: z-scored heatmap with factor strips (plotly dicts)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..catalogue import category_of_programme
from .constants import (
    CATEGORY_LABEL,
    CATEGORY_ORDER,
    DIVERGING,
    PALETTE,
    SAMPLE_SCORE_Z_CAP,
)
from .figures import _strip_colourscale, figure_view
from .formatting import _factor_columns, _is_missing, esc, sig4


def programme_categories(
    programme_calls: pd.DataFrame | None, programmes: Iterable[str]
) -> dict[str, str]:
    """programme -> category from the calls, else from its prefix (CYT_, STRESS_, REG_, RISK_)."""
    known: dict[str, str] = {}
    if programme_calls is not None and not programme_calls.empty and "category" in programme_calls:
        for p, c in zip(programme_calls["programme"], programme_calls["category"], strict=True):
            if not _is_missing(c):
                known.setdefault(str(p), str(c))
    return {p: known.get(p, category_of_programme(p) or "other") for p in map(str, programmes)}


def zscore_sample_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Each programme (column) z-scored across samples (rows): (x - mean) / sd (ddof=1).
    Programmes that are constant or have fewer than two finite scores become NaN."""
    values = scores.apply(pd.to_numeric, errors="coerce").astype(float)
    values = values.where(np.isfinite(values))
    sd = values.std(axis=0, ddof=1)
    return (values - values.mean(axis=0)) / sd.where(sd > 0)


def factor_level_colours(
    samples: pd.DataFrame, factors: Sequence[str], order: Sequence[str]
) -> dict[str, list[tuple[str, str]]]:
    """factor -> [(level, colour)] for the sample annotation strips: levels in order of first
    appearance among ``order`` (samples), colours running on through PALETTE across factors so
    neighbouring strips do not share colours."""
    if samples is None or samples.empty or not factors:
        return {}
    info = samples.astype({"sample": str}).drop_duplicates("sample").set_index("sample")
    out: dict[str, list[tuple[str, str]]] = {}
    k = 0
    for f in factors:
        levels = list(dict.fromkeys(str(info.at[s, f]) if s in info.index else "" for s in order))
        out[f] = []
        for level in levels:
            out[f].append((level, PALETTE[k % len(PALETTE)]))
            k += 1
    return out


def sample_scores_figure(
    sample_scores: pd.DataFrame, samples: pd.DataFrame, programme_calls: pd.DataFrame | None
) -> dict[str, Any] | None:
    """Samples x programmes heatmap of z-scored per-sample programme scores (None when there
    is nothing to draw). Samples in sample-sheet order with a colour strip per factor;
    programmes grouped by category (the order of the NES heatmap). The figure's ``legend`` key
    (factor -> [(level, colour)]) is not part of the plotly spec: pop it before drawing."""
    if sample_scores is None or sample_scores.empty or "sample" not in sample_scores.columns:
        return None
    raw = sample_scores.copy()
    raw["sample"] = raw["sample"].astype(str)
    raw = raw.drop_duplicates("sample").set_index("sample")
    raw = raw.apply(pd.to_numeric, errors="coerce")
    raw = raw.loc[:, raw.notna().any(axis=0)]
    if raw.empty or raw.shape[1] == 0:
        return None
    sheet = samples.astype({"sample": str}) if samples is not None else pd.DataFrame()
    order = [s for s in sheet.get("sample", pd.Series(dtype=str)) if s in raw.index]
    order += [s for s in raw.index if s not in set(order)]
    raw = raw.loc[order]
    categories = programme_categories(programme_calls, raw.columns)
    rank = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    programmes = sorted(
        map(str, raw.columns), key=lambda p: (rank.get(categories[p], len(rank)), p)
    )
    raw = raw.loc[:, programmes]
    z = zscore_sample_scores(raw)
    finite = np.abs(z.to_numpy(dtype=float))
    finite = finite[np.isfinite(finite)]
    top = float(finite.max()) if finite.size else 1.0
    cap = max(1.0, min(SAMPLE_SCORE_Z_CAP, math.ceil(top * 2) / 2))

    factors = [f for f in _factor_columns(sheet) if f in sheet.columns] if len(sheet) else []
    info = sheet.set_index("sample") if len(sheet) else pd.DataFrame()
    # the y categories carry the hover text of each sample (factors) once; ticks show the name
    y_full, y_tick = [], []
    for s in order:
        bits = [f"<b>{esc(s)}</b>"]
        if s in info.index:
            bits += [f"{esc(f)}: {esc(info.at[s, f])}" for f in factors]
        y_full.append("<br>".join(bits))
        y_tick.append(esc(s))
    x_full = [
        f"{esc(p)} ({esc(CATEGORY_LABEL.get(categories[p], categories[p]))})" for p in programmes
    ]
    traces: list[dict[str, Any]] = [
        {
            "type": "heatmap",
            "z": [[sig4(v) for v in row] for row in z.to_numpy(dtype=float)],
            "customdata": [[sig4(v) for v in row] for row in raw.to_numpy(dtype=float)],
            "x": x_full,
            "y": y_full,
            "xaxis": "x",
            "yaxis": "y",
            "colorscale": DIVERGING,
            "zmin": -cap,
            "zmax": cap,
            "zmid": 0,
            "xgap": 1,
            "ygap": 1,
            "colorbar": {"title": {"text": "z-score"}, "len": 0.6},
            "hovertemplate": "%{y}<br>%{x}<br>z %{z}, score %{customdata}<extra></extra>",
        }
    ]
    strip_colours = factor_level_colours(sheet, factors, order)
    if strip_colours:
        codes: dict[tuple[str, str], int] = {}
        colours: list[str] = []
        for f, levels in strip_colours.items():
            for level, colour in levels:
                codes[(f, level)] = len(colours)
                colours.append(colour)

        def level_of(s: str, f: str) -> str:
            return str(info.at[s, f]) if s in info.index else ""

        traces.append(
            {
                "type": "heatmap",
                "z": [[codes[(f, level_of(s, f))] for f in factors] for s in order],
                "x": [esc(f) for f in factors],
                "y": y_full,
                "xaxis": "x2",
                "yaxis": "y",
                "zmin": -0.5,
                "zmax": len(colours) - 0.5,
                "colorscale": _strip_colourscale(len(colours), colours),
                "showscale": False,
                "xgap": 2,
                "ygap": 1,
                "hovertemplate": "%{y}<extra></extra>",
            }
        )
    strip = min(0.03 * len(factors), 0.18)
    shapes, annotations = [], []
    start = 0
    for i in range(1, len(programmes) + 1):
        if i < len(programmes) and categories[programmes[i]] == categories[programmes[start]]:
            continue
        cat = categories[programmes[start]]
        annotations.append(
            {
                "x": (start + i - 1) / 2,
                "xref": "x",
                "y": 1.0,
                "yref": "paper",
                "yanchor": "bottom",
                "showarrow": False,
                "text": f"<b>{esc(CATEGORY_LABEL.get(cat, cat))}</b>",
                "font": {"size": 11},
            }
        )
        if i < len(programmes):
            shapes.append(
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": i - 0.5,
                    "x1": i - 0.5,
                    "y0": 0,
                    "y1": 1.04,
                    "line": {"color": "#333", "width": 1.5},
                }
            )
        start = i
    return {
        "legend": strip_colours,
        "data": traces,
        "layout": {
            "title": {
                "text": "Programme scores per sample (z-score across samples)",
                "x": 0.98,
                "xanchor": "right",
            },
            "xaxis": {
                "domain": [strip + 0.01 if factors else 0, 1],
                "tickangle": -45,
                "automargin": True,
                "tickmode": "array",
                "tickvals": x_full,
                "ticktext": [esc(p) for p in programmes],
                "tickfont": {"size": 10},
            },
            "xaxis2": {
                "domain": [0, strip],
                "tickangle": -45,
                "automargin": True,
                "tickfont": {"size": 10},
            },
            "yaxis": {
                "autorange": "reversed",
                "automargin": True,
                "anchor": "x2" if factors else "x",
                "tickmode": "array",
                "tickvals": y_full,
                "ticktext": y_tick,
                "tickfont": {"size": 10 if len(order) <= 48 else 8},
            },
            "shapes": shapes,
            "annotations": annotations,
            "margin": {"l": 60, "r": 20, "t": 70, "b": 60},
        },
    }


def sample_scores_view(
    sample_scores: pd.DataFrame | None, samples: pd.DataFrame, programme_calls: pd.DataFrame
) -> dict[str, Any] | None:
    """The per-sample score block (``templates/sample_scores.html.j2``); None without input.

    ``sample_scores``: ``sample`` + one column per programme (only ``sample`` when disabled).
    """
    if sample_scores is None:
        return None
    fig = sample_scores_figure(sample_scores, samples, programme_calls)
    if fig is None:
        return {"computed": False}
    n_samples, n_programmes = len(fig["data"][0]["y"]), len(fig["data"][0]["x"])
    legend = [
        {
            "factor": factor,
            "levels": [{"level": level or "—", "colour": colour} for level, colour in levels],
        }
        for factor, levels in fig.pop("legend", {}).items()
    ]
    height = max(380, 190 + 16 * n_samples)
    return {
        "computed": True,
        "n_samples": n_samples,
        "n_programmes": n_programmes,
        "legend": legend,
        "figure": figure_view("fig-sample-scores", fig, height=height, css_class="samplescores"),
    }
