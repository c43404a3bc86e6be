"""Section 3: programme calls (heatmap and table) and per-sample programme scores."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .constants import (
    CATEGORY_LABEL,
    CATEGORY_ORDER,
    DIVERGING,
)
from .figures import _annotated_heatmap, figure_view
from .formatting import (
    _is_missing,
    _num,
    _short_genes,
    _split_list,
    esc,
    fmt_value,
    sig4,
    table_view,
)
from .sample_scores import sample_scores_view

# --------------------------------------------------------------------------------------------
# 3. programmes
# --------------------------------------------------------------------------------------------


def _programme_order(programme_calls: pd.DataFrame) -> list[str]:
    rank = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    progs = programme_calls[["programme", "category"]].drop_duplicates("programme")
    progs = progs.assign(_r=progs["category"].map(rank).fillna(len(rank)))
    return progs.sort_values(["_r", "programme"], kind="stable")["programme"].astype(str).tolist()


def programmes_view(
    programme_calls: pd.DataFrame | None,
    contrast_order: list[str],
    samples: pd.DataFrame | None = None,
    sample_scores: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The programmes section's view model (``templates/programmes.html.j2``).

    ``programme_calls``: ``results/programmes/programme_calls.tsv``; ``contrast_order``:
    contrasts in report order (heatmap rows); ``sample_scores``: per-sample scores or None.
    """
    if programme_calls is None or programme_calls.empty:
        return {
            "empty": True,
            "sample_scores": sample_scores_view(sample_scores, samples, programme_calls),
        }
    pc = programme_calls.copy()
    pc["contrast"] = pc["contrast"].astype(str)
    programmes = _programme_order(pc)
    contrasts = [c for c in contrast_order if c in set(pc["contrast"])]
    contrasts += sorted(set(pc["contrast"]) - set(contrasts))
    cell = {(r["contrast"], str(r["programme"])): r for r in pc.to_dict("records")}
    overlaps = _overlap_partners(pc)
    z, text, hover = [], [], []
    max_abs = 1.0
    for c in contrasts:
        zr, tr, hr = [], [], []
        for p in programmes:
            r = cell.get((c, p))
            nes = sig4(r["NES"]) if r is not None else None
            if nes is not None:
                max_abs = max(max_abs, abs(nes))
            zr.append(nes)
            call = str(r["call"]) if r is not None else ""
            tr.append("*" if call in ("up", "down") else "")
            if r is None:
                hr.append(f"{esc(c)}<br>{esc(p)}: not tested")
            else:
                hr.append(
                    f"<b>{esc(p)}</b> "
                    f"({esc(CATEGORY_LABEL.get(str(r['category']), r['category']))})"
                    f"<br>{esc(c)}<br>NES {fmt_value(r['NES'])}, FDR {fmt_value(r['fdr'])}, "
                    f"call {esc(call)}<br>leading edge: {esc(_short_genes(r.get('leading_edge')))}"
                    + overlaps.get((c, p), "")
                )
        z.append(zr)
        text.append(tr)
        hover.append(hr)
    max_abs = float(f"{math.ceil(max_abs * 10) / 10:.4g}")
    categories = dict(zip(pc["programme"].astype(str), pc["category"].astype(str), strict=True))
    tick = [
        f"{esc(p)}" if categories.get(p) != "pro_tumour_risk" else f"<b>{esc(p)}</b>"
        for p in programmes
    ]
    fig = {
        "data": [
            _annotated_heatmap(
                z,
                [esc(p) for p in programmes],
                [esc(c) for c in contrasts],
                text,
                hover,
                text_size=14,
                colorscale=DIVERGING,
                zmin=-max_abs,
                zmax=max_abs,
                zmid=0,
                colorbar={"title": {"text": "NES"}},
            )
        ],
        "layout": {
            "title": {
                "text": "Programme NES per contrast (* = called up/down at the configured FDR)"
            },
            "xaxis": {
                "tickangle": -45,
                "automargin": True,
                "tickmode": "array",
                "tickvals": [esc(p) for p in programmes],
                "ticktext": tick,
            },
            "yaxis": {"autorange": "reversed", "automargin": True},
            "margin": {"l": 60, "r": 20, "t": 50, "b": 60},
        },
    }
    height = max(360, 220 + 30 * len(contrasts))
    has_groups = "overlap_group" in pc.columns
    cols = ["contrast", "programme", "category", "tier", "NES", "fdr", "call"]
    cols += ["overlap_group"] if has_groups else []
    cols += ["leading_edge"]
    rows = []
    for r in pc.to_dict("records"):
        group = r.get("overlap_group")
        rows.append(
            [
                r["contrast"],
                r["programme"],
                r.get("category"),
                r.get("tier"),
                _num(r.get("NES")) if _num(r.get("NES")) is not None else float("nan"),
                _num(r.get("fdr")) if _num(r.get("fdr")) is not None else float("nan"),
                r.get("call"),
                *([("" if _is_missing(group) else str(group))] if has_groups else []),
                ", ".join(_split_list(r.get("leading_edge"))),
            ]
        )
    return {
        "empty": False,
        "max_abs": fmt_value(max_abs),
        "categories": [CATEGORY_LABEL[c] for c in CATEGORY_ORDER],
        "heatmap": figure_view("fig-programmes", fig, height=height),
        "sample_scores": sample_scores_view(sample_scores, samples, pc),
        "has_groups": has_groups,
        "calls": table_view(
            "table-programme-calls", cols, rows, css_class="calls", clamp_columns=["leading_edge"]
        ),
    }


def _overlap_partners(programme_calls: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(contrast, programme) -> hover line naming the programmes of its overlap group."""
    if "overlap_group" not in programme_calls.columns:
        return {}
    out: dict[tuple[str, str], str] = {}
    pc = programme_calls[~programme_calls["overlap_group"].map(_is_missing)]
    for (contrast, group), rows in pc.groupby(["contrast", "overlap_group"], sort=True):
        members = sorted(rows["programme"].astype(str).unique().tolist())
        if len(members) < 2:
            continue
        for p in members:
            others = [m for m in members if m != p]
            out[(str(contrast), p)] = (
                f"<br>overlap group {esc(group)}: leading edge shared with "
                f"{esc(', '.join(others[:5]) + (', …' if len(others) > 5 else ''))}"
            )
    return out
