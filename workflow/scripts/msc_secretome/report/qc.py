"""Section 2, design & QC:

Sample sheet, library sizes, outliers (from QC's table), PCA, distances.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..outliers import LIBSIZE_FRACTION, rule_text
from .constants import (
    PALETTE,
)
from .figures import _axis, dropdown, figure_view
from .formatting import _factor_columns, _group_columns, _plural, esc, fmt_value, sig4, table_view

# --------------------------------------------------------------------------------------------
# 2. design & QC
# --------------------------------------------------------------------------------------------


def _off_diagonal_range(d: pd.DataFrame) -> dict[str, float]:
    """``zmin``/``zmax`` of a square distance matrix without its diagonal ({} if 1 x 1)."""
    values = d.to_numpy(dtype=float)
    mask = ~np.eye(len(values), dtype=bool) & np.isfinite(values)
    if not mask.any():
        return {}
    return {"zmin": sig4(values[mask].min()), "zmax": sig4(values[mask].max())}


def _sample_order(samples: pd.DataFrame) -> list[str]:
    groups = _group_columns(samples)
    ordered = samples.sort_values(groups, kind="stable") if groups else samples
    return ordered["sample"].astype(str).tolist()


def _colour_map(values: Sequence[Any]) -> dict[str, str]:
    levels: list[str] = []
    for v in values:
        if str(v) not in levels:
            levels.append(str(v))
    return {lvl: PALETTE[i % len(PALETTE)] for i, lvl in enumerate(levels)}


def _pca_figure(samples: pd.DataFrame, pca: pd.DataFrame, pca_variance: pd.DataFrame) -> dict:
    merged = pca.astype({"sample": str}).merge(
        samples.astype({"sample": str}), on="sample", how="left"
    )
    factors = [c for c in _factor_columns(samples)] or ["sample"]
    var = {}
    if pca_variance is not None and not pca_variance.empty:
        var = dict(
            zip(
                pca_variance["component"].astype(str),
                pd.to_numeric(pca_variance["variance_ratio"], errors="coerce"),
                strict=True,
            )
        )
    hover = []
    for rec in merged.to_dict("records"):
        bits = [f"<b>{esc(rec['sample'])}</b>"]
        bits += [f"{esc(f)}: {esc(rec.get(f))}" for f in _factor_columns(samples)]
        hover.append("<br>".join(bits))
    merged = merged.assign(_hover=hover)
    traces, owner = [], []
    for fi, factor in enumerate(factors):
        colours = _colour_map(merged[factor].tolist())
        for level, colour in colours.items():
            sel = merged[merged[factor].astype(str) == level]
            traces.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": esc(level),
                    "x": [sig4(v) for v in sel["PC1"]],
                    "y": [sig4(v) for v in sel["PC2"]] if "PC2" in sel else [0] * len(sel),
                    "text": sel["_hover"].tolist(),
                    "hovertemplate": "%{text}<extra></extra>",
                    "marker": {"color": colour, "size": 11, "line": {"width": 1, "color": "#333"}},
                    "visible": fi == 0,
                }
            )
            owner.append(fi)
    buttons = [
        {
            "label": f"colour by {esc(factor)}",
            "method": "update",
            "args": [{"visible": [o == fi for o in owner]}, {"legend.title.text": esc(factor)}],
        }
        for fi, factor in enumerate(factors)
    ]

    def label(pc: str) -> str:
        r = var.get(pc)
        return f"{pc} ({100 * r:.1f}% variance)" if r is not None and math.isfinite(r) else pc

    return {
        "data": traces,
        "layout": {
            "title": {"text": "PCA of VST counts", "x": 0.98, "xanchor": "right"},
            "margin": {"l": 60, "r": 20, "t": 80, "b": 50},
            "xaxis": _axis(label("PC1")),
            "yaxis": _axis(label("PC2")),
            "legend": {"title": {"text": esc(factors[0])}},
            "updatemenus": [dropdown(buttons)],
        },
    }


def _library_size_figure(
    library_sizes: pd.DataFrame, outliers: Mapping[str, list[str]]
) -> dict[str, Any]:
    """Bar chart of total counts per sample, outliers in red, dashed line at the QC cut-off."""
    ls = library_sizes.astype({"sample": str})
    totals = pd.to_numeric(ls["total_counts"], errors="coerce")
    median = float(np.nanmedian(totals)) if totals.notna().any() else float("nan")
    colours = ["#d62728" if s in outliers else "#4c78a8" for s in ls["sample"]]
    hover = [
        f"<b>{esc(s)}</b><br>total {fmt_value(float(t))}<br>detected genes "
        f"{fmt_value(d)}<br>size factor {fmt_value(sf)}"
        for s, t, d, sf in zip(
            ls["sample"], totals, ls["detected_genes"], ls["size_factor"], strict=True
        )
    ]
    shapes = []
    if math.isfinite(median):
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": sig4(median * LIBSIZE_FRACTION),
                "y1": sig4(median * LIBSIZE_FRACTION),
                "line": {"dash": "dash", "color": "#d62728", "width": 1},
            }
        )
    fig = {
        "data": [
            {
                "type": "bar",
                "x": [esc(s) for s in ls["sample"]],
                "y": [sig4(t) for t in totals],
                "text": hover,
                "textposition": "none",
                "hovertemplate": "%{text}<extra></extra>",
                "marker": {"color": colours},
            }
        ],
        "layout": {
            "title": {"text": "Library sizes (dashed: 1/3 of median)"},
            "xaxis": _axis("", tickangle=-45, tickfont={"size": 10 if len(ls) <= 24 else 8}),
            "yaxis": _axis("total counts"),
            "shapes": shapes,
        },
    }
    return figure_view("fig-libsizes", fig, height=380)


def _distance_figure(samples: pd.DataFrame, distances: pd.DataFrame) -> dict[str, Any]:
    """Heatmap of sample-to-sample distances in group order (the zero diagonal left blank)."""
    order = [s for s in _sample_order(samples) if s in set(map(str, distances.index))]
    d = distances.copy()
    d.index, d.columns = d.index.astype(str), d.columns.astype(str)
    order += [s for s in d.index if s not in order]
    d = d.loc[order, [c for c in order if c in d.columns]]
    fig = {
        "data": [
            {
                "type": "heatmap",
                # the zero diagonal is left blank so the colour scale spans the
                # distances between different samples
                "z": [
                    [None if i == j else sig4(v) for j, v in enumerate(r)]
                    for i, r in enumerate(d.to_numpy(dtype=float))
                ],
                **_off_diagonal_range(d),
                "x": [esc(s) for s in d.columns],
                "y": [esc(s) for s in d.index],
                "colorscale": "Viridis",
                "reversescale": True,
                "colorbar": {"title": {"text": "distance"}},
                "hovertemplate": "%{y} – %{x}: %{z}<extra></extra>",
            }
        ],
        "layout": {
            "title": {"text": "Sample-to-sample Euclidean distance (VST), grouped by factors"},
            "xaxis": {"tickangle": -45, "automargin": True},
            "yaxis": {"autorange": "reversed", "automargin": True},
        },
    }
    size = max(420, min(900, 160 + 18 * len(d)))
    return figure_view("fig-distances", fig, height=size, css_class="square")


def qc_view(
    samples: pd.DataFrame,
    library_sizes: pd.DataFrame | None,
    pca: pd.DataFrame | None,
    pca_variance: pd.DataFrame | None,
    distances: pd.DataFrame | None,
    outliers: Mapping[str, list[str]],
    validation: Mapping[str, Any] | None = None,
    summary_rows: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The design & QC section's view model (``templates/qc.html.j2``).

    ``samples``: the sample sheet (samples x factors); ``outliers``: sample -> reasons, from
    ``results/qc/outliers.tsv``; the rule's wording is the outlier module's
    (:func:`msc_secretome.outliers.rule_text`). ``validation`` and ``summary_rows``: the input
    checks' views (:mod:`msc_secretome.report.input_checks`) or None.
    """
    lib = (
        library_sizes.astype({"sample": str}).set_index("sample")
        if library_sizes is not None
        else None
    )
    factors = _factor_columns(samples)
    cols = ["sample", *factors, "total_counts", "detected_genes", "size_factor", "outlier"]
    rows = []
    for rec in samples.astype({"sample": str}).to_dict("records"):
        s = rec["sample"]
        lib_vals = []
        for c in ("total_counts", "detected_genes", "size_factor"):
            v = lib.at[s, c] if lib is not None and s in lib.index and c in lib.columns else np.nan
            lib_vals.append(float(v) if pd.notna(v) else float("nan"))
        rows.append([s, *[rec.get(f) for f in factors], *lib_vals, "; ".join(outliers.get(s, []))])
    have_libraries = library_sizes is not None and not library_sizes.empty
    have_pca = pca is not None and not pca.empty and "PC1" in pca.columns
    return {
        "n_samples": len(samples),
        "validation": validation,
        "summary_rows": summary_rows,
        "samples": table_view("table-samples", cols, rows),
        "outliers": [{"sample": s, "reasons": "; ".join(r)} for s, r in sorted(outliers.items())],
        "outlier_word": _plural(len(outliers), "possible outlier"),
        "rule": rule_text(samples),
        "library_sizes": _library_size_figure(library_sizes, outliers) if have_libraries else None,
        "pca": (
            figure_view("fig-pca", _pca_figure(samples, pca, pca_variance), height=380)
            if have_pca
            else None
        ),
        "distances": (
            _distance_figure(samples, distances)
            if distances is not None and not distances.empty
            else None
        ),
    }
