"""Section 4, one block per contrast:

Counts, 'why nothing is significant', volcano/MA, p-value histogram, top genes.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..de_diagnostics import REASON_SEPARATOR, contrast_diagnostics
from ..outliers import biological_group_columns
from .constants import (
    DOWN_COLOUR,
    MAX_BACKGROUND_POINTS,
    MAX_SIGNIFICANT_POINTS,
    NS_COLOUR,
    PLOT_PADJ,
    TOP_GENES,
    UP_COLOUR,
)
from .figures import _axis, figure_view
from .formatting import _int, _is_missing, _num, esc, fmt_value, sig4, subset_samples, table_view

# --------------------------------------------------------------------------------------------
# 4. per contrast
# --------------------------------------------------------------------------------------------


def select_plot_genes(de: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Genes to draw: all with padj < 0.1 (capped, smallest padj first) plus every k-th of the
    rest in (baseMean, gene_id) order. Returns the rows and counts for the caption."""
    padj = pd.to_numeric(de["padj"], errors="coerce")
    sig_mask = padj < PLOT_PADJ
    sig = de[sig_mask]
    n_sig = len(sig)
    if n_sig > MAX_SIGNIFICANT_POINTS:
        sig = sig.assign(_p=padj[sig_mask]).sort_values(["_p", "gene_id"], kind="stable")
        sig = sig.head(MAX_SIGNIFICANT_POINTS).drop(columns="_p")
    rest = de[~sig_mask]
    rest = rest.assign(_bm=pd.to_numeric(rest["baseMean"], errors="coerce").fillna(0.0))
    rest = rest.sort_values(["_bm", "gene_id"], kind="stable").drop(columns="_bm")
    k = max(1, math.ceil(len(rest) / MAX_BACKGROUND_POINTS))
    sampled = rest.iloc[::k]
    chosen = pd.concat([sig, sampled])
    return chosen, {
        "n_total": len(de),
        "n_sig": n_sig,
        "n_sig_shown": len(sig),
        "n_rest": len(rest),
        "n_rest_shown": len(sampled),
        "k": k,
    }


def _gene_label(df: pd.DataFrame) -> list[str]:
    sym = df["symbol"] if "symbol" in df.columns else pd.Series([None] * len(df), index=df.index)
    return [
        esc(s) if not _is_missing(s) else esc(g)
        for s, g in zip(sym.tolist(), df["gene_id"].tolist(), strict=True)
    ]


def _de_classes(df: pd.DataFrame, alpha: float) -> tuple[pd.Series, pd.Series]:
    padj = pd.to_numeric(df["padj"], errors="coerce")
    lfc = pd.to_numeric(df["log2FoldChange"], errors="coerce")
    up = (padj < alpha) & (lfc > 0)
    down = (padj < alpha) & (lfc < 0)
    return up, down


def _volcano_ma(de: pd.DataFrame, alpha: float, fid: str, label: str) -> tuple[dict, dict, str]:
    """Volcano and MA figure views of a contrast and the caption saying what is plotted."""
    chosen, counts = select_plot_genes(de)
    up_all, down_all = _de_classes(de, alpha)
    up, down = _de_classes(chosen, alpha)
    classes = [
        ("not significant", ~(up | down), NS_COLOUR, 5),
        (f"down (n={int(down_all.sum())})", down, DOWN_COLOUR, 6),
        (f"up (n={int(up_all.sum())})", up, UP_COLOUR, 6),
    ]
    volcano, ma = [], []
    padj_floor = 1e-300
    for name, mask, colour, size in classes:
        sel = chosen[mask.to_numpy()]
        lfc = pd.to_numeric(sel["log2FoldChange"], errors="coerce")
        padj = pd.to_numeric(sel["padj"], errors="coerce")
        bm = pd.to_numeric(sel["baseMean"], errors="coerce")
        labels = _gene_label(sel)
        vmask = padj.notna() & lfc.notna()
        marker = {"color": colour, "size": size, "opacity": 0.75}
        volcano.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": name,
                "x": [sig4(v) for v in lfc[vmask]],
                "y": [sig4(-math.log10(max(p, padj_floor))) for p in padj[vmask]],
                "text": [t for t, m in zip(labels, vmask, strict=True) if m],
                "hovertemplate": "<b>%{text}</b><br>log2FC %{x}<br>-log10 padj %{y}<extra></extra>",
                "marker": marker,
            }
        )
        mmask = bm.notna() & (bm > 0) & lfc.notna()
        ma.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": name,
                "x": [sig4(v) for v in bm[mmask]],
                "y": [sig4(v) for v in lfc[mmask]],
                "text": [t for t, m in zip(labels, mmask, strict=True) if m],
                "hovertemplate": "<b>%{text}</b><br>baseMean %{x}<br>log2FC %{y}<extra></extra>",
                "marker": marker,
            }
        )
    thr = sig4(-math.log10(alpha)) if 0 < alpha < 1 else None
    vshapes = []
    if thr is not None:
        vshapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": thr,
                "y1": thr,
                "line": {"dash": "dot", "color": "#555", "width": 1},
            }
        )
    legend = {"orientation": "h", "y": -0.2}
    vfig = {
        "data": volcano,
        "layout": {
            "title": {"text": f"Volcano: {label}"},
            "xaxis": _axis("log2 fold change"),
            "yaxis": _axis("-log10 padj"),
            "shapes": vshapes,
            "legend": legend,
        },
    }
    mfig = {
        "data": ma,
        "layout": {
            "title": {"text": f"MA plot: {label}"},
            "xaxis": _axis("baseMean (log scale)", type="log"),
            "yaxis": _axis("log2 fold change", zeroline=True, zerolinecolor="#888"),
            "legend": legend,
        },
    }
    caption = (
        f"Plotted: all {counts['n_sig_shown']} genes with padj < {PLOT_PADJ}"
        + (
            f" (the {MAX_SIGNIFICANT_POINTS} smallest padj of {counts['n_sig']})"
            if counts["n_sig_shown"] < counts["n_sig"]
            else ""
        )
        + (
            f" and all {counts['n_rest']} other genes; "
            if counts["k"] == 1
            else f" and every {counts['k']}th of the other {counts['n_rest']} in baseMean order "
            f"({counts['n_rest_shown']} shown); "
        )
        + f"{counts['n_total']} genes in total. Genes without padj (filtered) appear only in the "
        "MA plot."
    )
    return (
        figure_view(f"{fid}-volcano", vfig, height=400, css_class="volcano"),
        figure_view(f"{fid}-ma", mfig, height=400, css_class="ma"),
        caption,
    )


def _pvalue_hist(de: pd.DataFrame, fid: str) -> dict:
    p = pd.to_numeric(de["pvalue"], errors="coerce").dropna()
    counts, edges = np.histogram(p.clip(0, 1), bins=20, range=(0, 1))
    expected = len(p) / 20 if len(p) else 0
    fig = {
        "data": [
            {
                "type": "bar",
                "x": [sig4((a + b) / 2) for a, b in zip(edges[:-1], edges[1:], strict=True)],
                "y": [int(c) for c in counts],
                "width": 0.05,
                "marker": {"color": "#7f8c8d"},
                "hovertemplate": "p %{x}: %{y} genes<extra></extra>",
            }
        ],
        "layout": {
            "title": {"text": "p-value histogram (dotted: flat = no signal)"},
            "xaxis": _axis("p-value", range=[0, 1]),
            "yaxis": _axis("genes"),
            "bargap": 0,
            "shapes": [
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "y0": sig4(expected),
                    "y1": sig4(expected),
                    "line": {"dash": "dot", "color": "#333", "width": 1},
                }
            ],
        },
    }
    return figure_view(f"{fid}-pvalues", fig, height=260, css_class="phist")


def no_hits_reasons(
    de: pd.DataFrame,
    contrast_row: Mapping[str, Any],
    samples: pd.DataFrame,
    library_sizes: pd.DataFrame,
    outliers: Mapping[str, list[str]],
) -> list[str]:
    """Why a contrast may have no gene with padj < alpha, as the DE summary states it.

    The reasons are the ``no_hits_reasons`` column of ``results/de/contrasts.tsv``
    (:mod:`msc_secretome.de_diagnostics`). A summary without that column (older runs, direct
    callers) gets the same module's diagnosis of ``de`` and the subset's samples.
    """
    stated = contrast_row.get("no_hits_reasons")
    if "no_hits_reasons" in contrast_row and not _is_missing(stated):
        return [r for r in str(stated).split(REASON_SEPARATOR) if r.strip()]
    alpha = _num(contrast_row.get("alpha"))
    alpha = alpha if alpha is not None and 0 < alpha < 1 else 0.05
    chosen = subset_samples(samples, contrast_row.get("subset"))
    groups = biological_group_columns(samples)
    diagnosis = contrast_diagnostics(de, chosen, library_sizes, outliers, alpha, groups)
    return [r for r in diagnosis["no_hits_reasons"].split(REASON_SEPARATOR) if r.strip()]


def _top_genes_table(de: pd.DataFrame, table_id: str) -> dict:
    d = de.assign(
        _padj=pd.to_numeric(de["padj"], errors="coerce").fillna(np.inf),
        _p=pd.to_numeric(de["pvalue"], errors="coerce").fillna(np.inf),
    )
    top = d.sort_values(["_padj", "_p", "gene_id"], kind="stable").head(TOP_GENES)
    cols = ["symbol", "gene_id", "baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]
    rows = []
    for r in top.to_dict("records"):
        row = []
        for c in cols:
            v = r.get(c)
            if c in ("symbol", "gene_id"):
                row.append("" if _is_missing(v) else str(v))
            else:
                x = _num(v)
                row.append(float("nan") if x is None else x)
        rows.append(row)
    return table_view(table_id, cols, rows, caption=f"Top {TOP_GENES} genes by padj")


def contrast_view(
    name: str,
    sid: str,
    row: Mapping[str, Any],
    de: pd.DataFrame | None,
    samples: pd.DataFrame,
    library_sizes: pd.DataFrame,
    outliers: Mapping[str, list[str]],
    running: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The view model of one contrast's block (``templates/contrast.html.j2``).

    ``row``: the contrast's row of ``results/de/contrasts.tsv``; ``de``: its DE table (genes x
    columns) or None; ``running``: the running-score view (:func:`running_view`) or None.
    """
    alpha = _num(row.get("alpha"))
    alpha = alpha if alpha is not None and 0 < alpha < 1 else 0.05
    desc = row.get("description")
    meta = [
        ("kind", row.get("kind")),
        ("model", row.get("model")),
        ("design", row.get("design")),
        ("subset", row.get("subset") if not _is_missing(row.get("subset")) else "all samples"),
        ("samples", row.get("n_samples")),
        ("alpha", alpha),
    ]
    view: dict[str, Any] = {
        "id": sid,
        "name": name,
        "description": None if _is_missing(desc) else str(desc),
        "meta": [{"key": k, "value": fmt_value(v)} for k, v in meta if v is not None],
        "href": "../de/" + urllib.parse.quote(str(name), safe="") + ".tsv",
        "missing": de is None or de.empty,
    }
    if view["missing"]:
        return view
    up, down = _de_classes(de, alpha)
    padj = pd.to_numeric(de["padj"], errors="coerce")
    volcano, ma, caption = _volcano_ma(de, alpha, sid, name)
    hits = bool((padj < alpha).any())
    view.update(
        n_up=_int(row.get("n_up"), default=int(up.sum())),
        n_down=_int(row.get("n_down"), default=int(down.sum())),
        alpha=fmt_value(alpha),
        tested=int(padj.notna().sum()),
        n_genes=len(de),
        why=None if hits else no_hits_reasons(de, row, samples, library_sizes, outliers),
        volcano=volcano,
        ma=ma,
        caption=caption,
        running=running,
        pvalues=_pvalue_hist(de, sid),
        top_genes=_top_genes_table(de, f"{sid}-top"),
    )
    return view
