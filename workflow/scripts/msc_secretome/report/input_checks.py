"""What the input validation saw (issue #14), for the QC, Methods and single-cell sections.

``results/validated/validation_summary.tsv`` (check, status ``ok``/``note``/``warning``,
detail): warnings are shown prominently in QC, the ``methods`` sentence in Methods.
``results/validated/count_summary_rows.tsv`` (per sample: reads_in_genes,
reads_in_summary_rows, fraction_in_summary_rows, then one column of reads per summary row such
as ``__no_feature`` or ``N_unmapped``): a QC table and a stacked bar figure of each sample's
reads lost to each summary row. ``results/single_cell/dropped_cells.tsv.gz`` (barcode, sample,
cell_type, reason): cells dropped per reason. The checks are the validation's; this module
only lays out what the tables say.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .constants import PALETTE
from .figures import _axis, figure_view
from .formatting import _is_missing, _num, esc, sig4, table_view

#: The first columns of ``count_summary_rows.tsv``; the columns after them are summary rows.
SUMMARY_ROW_BASE = ("sample", "reads_in_genes", "reads_in_summary_rows", "fraction_in_summary_rows")


def validation_view(summary: pd.DataFrame | None) -> dict[str, Any] | None:
    """The validation summary: warnings, notes, the count format and the methods sentence.

    Parameters
    ----------
    summary : ``validation_summary.tsv`` (``n_checks`` rows: check, status, detail) or None

    Returns
    -------
    dict or None
        ``{"warnings": [{"check", "detail"}], "notes": [...], "format": str or None,
        "methods": str or None, "table": table view of the checks other than the methods
        sentence}``; None without a table.
    """
    if summary is None or summary.empty or not {"check", "status", "detail"} <= set(summary):
        return None
    rows = [
        {k: "" if _is_missing(r[k]) else str(r[k]) for k in ("check", "status", "detail")}
        for r in summary.to_dict("records")
    ]

    def first(check: str) -> str | None:
        return next((r["detail"] for r in rows if r["check"] == check), None)

    shown = [r for r in rows if r["check"] != "methods"]
    return {
        "warnings": [
            {"check": r["check"], "detail": r["detail"]} for r in rows if r["status"] == "warning"
        ],
        "notes": [
            {"check": r["check"], "detail": r["detail"]} for r in rows if r["status"] == "note"
        ],
        "format": first("counts_format"),
        "methods": first("methods"),
        "table": table_view(
            "table-validation",
            ["check", "status", "detail"],
            [[r["check"], r["status"], r["detail"]] for r in shown],
            searchable=False,
            css_class="compact",
        ),
    }


def summary_rows_view(table: pd.DataFrame | None) -> dict[str, Any] | None:
    """Reads each sample lost to the count file's summary rows (None when it has none).

    Parameters
    ----------
    table : ``count_summary_rows.tsv`` (``n_samples`` rows; the summary-row columns hold reads)

    Returns
    -------
    dict or None
        ``{"names": [summary rows], "table": table view, "figure": stacked bar figure view of
        the fraction of each sample's reads per summary row}``.
    """
    if table is None or table.empty or "sample" not in table.columns:
        return None
    names = [str(c) for c in table.columns if c not in SUMMARY_ROW_BASE]
    if not names:
        return None
    columns = [c for c in SUMMARY_ROW_BASE if c in table.columns] + names
    records = table.to_dict("records")
    rows = [[str(r["sample"])] + [_number(r.get(c)) for c in columns[1:]] for r in records]
    samples = [str(r["sample"]) for r in records]
    totals = [
        (_number(r.get("reads_in_genes")) or 0.0) + (_number(r.get("reads_in_summary_rows")) or 0.0)
        for r in records
    ]
    traces = []
    for i, name in enumerate(names):
        fractions = [
            sig4(_number(r.get(name)) / total) if total > 0 else None
            for r, total in zip(records, totals, strict=True)
        ]
        traces.append(
            {
                "type": "bar",
                "name": esc(name),
                "x": [esc(s) for s in samples],
                "y": fractions,
                "marker": {"color": PALETTE[i % len(PALETTE)]},
                "hovertemplate": f"%{{x}}<br>{esc(name)}: %{{y:.1%}}<extra></extra>",
            }
        )
    layout = {
        "barmode": "stack",
        "title": {"text": "Reads in the count file's summary rows (not analysed as genes)"},
        "xaxis": _axis("sample", tickangle=-45),
        "yaxis": _axis("fraction of the sample's reads", tickformat=".0%"),
        "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom"},
        "margin": {"l": 70, "r": 20, "t": 70, "b": 120},
    }
    return {
        "names": names,
        "table": table_view("table-summary-rows", columns, rows, searchable=False),
        "figure": figure_view("fig-summary-rows", {"data": traces, "layout": layout}, height=420),
    }


def _number(value: Any) -> float:
    x = _num(value)
    return float("nan") if x is None else x


def dropped_cells_view(dropped: pd.DataFrame | None) -> dict[str, Any] | None:
    """Cells dropped before pseudobulking, counted per reason (None without the table).

    Parameters
    ----------
    dropped : ``dropped_cells.tsv.gz`` (one row per dropped cell: barcode, sample, cell_type,
        reason; QC failures read ``failed QC: <rules>``, counted under ``failed QC``)

    Returns
    -------
    dict or None
        ``{"n": cells dropped, "table": table view (reason, cells, samples, cell types)}``.
    """
    if dropped is None or "reason" not in dropped.columns:
        return None
    if dropped.empty:
        return {"n": 0, "table": None}
    frame = dropped.assign(
        _reason=dropped["reason"].astype(str).str.split(":").str[0].str.strip(),
        sample=dropped.get("sample", pd.Series("", index=dropped.index)).astype(str),
        cell_type=dropped.get("cell_type", pd.Series("", index=dropped.index)).astype(str),
    )
    rows = []
    for reason, block in frame.groupby("_reason", sort=True):
        types = sorted(t for t in block["cell_type"].unique() if t and t != "nan")
        rows.append([reason, len(block), block["sample"].nunique(), ", ".join(types)])
    rows.sort(key=lambda r: (-r[1], r[0]))
    table = table_view(
        "table-dropped-cells",
        ["reason", "cells", "samples", "cell types"],
        rows,
        searchable=False,
        css_class="compact",
    )
    return {"n": len(frame), "table": table}
