"""Section 5: prerank (GSEA) and ORA tables of the other gene-set libraries, per contrast."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .constants import PROGRAMMES_LIBRARY, TOP_ORA, TOP_TERMS
from .formatting import (
    _is_missing,
    _num,
    _short_genes,
    fmt_value,
    slugify,
    table_view,
)

# --------------------------------------------------------------------------------------------
# 5. other libraries, 6. methods
# --------------------------------------------------------------------------------------------


def _prerank_table(table: pd.DataFrame | None, table_id: str) -> dict | None:
    """Top GSEA prerank terms of the libraries other than the programme catalogue."""
    if table is None or table.empty or "library" not in table.columns:
        return None
    other = table[table["library"].astype(str) != PROGRAMMES_LIBRARY]
    if other.empty:
        return None
    other = other.assign(
        _f=pd.to_numeric(other["fdr"], errors="coerce").fillna(np.inf),
        _p=pd.to_numeric(other["pvalue"], errors="coerce").fillna(np.inf),
    ).sort_values(["_f", "_p", "library", "term"], kind="stable")
    top = other.head(TOP_TERMS)
    cols = ["library", "term", "NES", "fdr", "size", "leading_edge"]
    rows = [
        [
            str(r["library"]),
            str(r["term"]),
            _num(r.get("NES")) if _num(r.get("NES")) is not None else float("nan"),
            _num(r.get("fdr")) if _num(r.get("fdr")) is not None else float("nan"),
            _num(r.get("size")) if _num(r.get("size")) is not None else float("nan"),
            _short_genes(r.get("leading_edge"), limit=12),
        ]
        for r in top.to_dict("records")
    ]
    return table_view(
        table_id,
        cols,
        rows,
        searchable=False,
        caption=f"GSEA prerank: top {TOP_TERMS} of {len(other)} terms by FDR",
        css_class="compact",
    )


def ora_top(ora: pd.DataFrame, per_direction: int = TOP_ORA) -> pd.DataFrame:
    """The ``per_direction`` smallest-FDR ORA rows of each direction (up, then down, then any
    other), ties broken by p-value, library and term."""
    if ora is None or ora.empty or "direction" not in ora.columns:
        return pd.DataFrame(columns=list(ora.columns) if ora is not None else [])
    rank = {"up": 0, "down": 1}
    d = ora.assign(
        _d=ora["direction"].astype(str).map(rank).fillna(len(rank)),
        _dir=ora["direction"].astype(str),
        _f=pd.to_numeric(ora["fdr"], errors="coerce").fillna(np.inf),
        _p=pd.to_numeric(ora["pvalue"], errors="coerce").fillna(np.inf),
        _l=ora["library"].astype(str) if "library" in ora.columns else "",
        _t=ora["term"].astype(str),
    ).sort_values(["_d", "_dir", "_f", "_p", "_l", "_t"], kind="stable")
    top = d.groupby("_dir", sort=False).head(per_direction)
    return top.drop(columns=["_d", "_dir", "_f", "_p", "_l", "_t"])


def _ora_table(ora: pd.DataFrame | None, table_id: str) -> dict | None:
    """The ORA block: ``{"table": view}`` or ``{"empty": caption, "id"}``; None if no ORA."""
    if ora is None or ora.empty or "direction" not in ora.columns:
        return None
    informative = ora
    if "overlap" in ora.columns:
        informative = ora[~(pd.to_numeric(ora["overlap"], errors="coerce") == 0)]
    n_empty = len(ora) - len(informative)
    top = ora_top(informative)
    cols = ["direction", "library", "term", "overlap", "fdr", "genes"]
    rows = []
    for r in top.to_dict("records"):
        overlap, size = _num(r.get("overlap")), _num(r.get("size"))
        rows.append(
            [
                str(r.get("direction", "")),
                "" if _is_missing(r.get("library")) else str(r.get("library")),
                str(r.get("term", "")),
                (
                    f"{fmt_value(overlap)} / {fmt_value(size)}"
                    if overlap is not None and size is not None
                    else ""
                ),
                _num(r.get("fdr")) if _num(r.get("fdr")) is not None else float("nan"),
                _short_genes(r.get("genes"), limit=10),
            ]
        )
    notes = []
    if "background" in ora.columns:
        background = pd.to_numeric(ora["background"], errors="coerce")
        if background.notna().any():
            notes.append(f"background {fmt_value(float(background.max()))} genes")
    if n_empty:
        notes.append(f"{n_empty} tests without any DE gene not listed")
    caption = f"ORA: top {TOP_ORA} per direction of {len(ora)} tests by FDR" + (
        f" ({'; '.join(notes)})" if notes else ""
    )
    if not rows:
        return {"id": table_id, "empty": caption, "table": None}
    table = table_view(table_id, cols, rows, searchable=False, caption=caption, css_class="compact")
    return {"id": table_id, "empty": None, "table": table}


def enrichment_view(
    enrichment: Mapping[str, pd.DataFrame],
    order: list[str],
    ids: Mapping[str, str],
    ora: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """The gene-set tables section's view model (``templates/enrichment.html.j2``).

    ``enrichment``/``ora``: contrast -> its prerank / ORA table; ``order``: contrasts in report
    order; ``ids``: contrast -> section id. ``ora_ran`` is None when no ORA input was given.
    """
    blocks = []
    for name in order:
        base = ids.get(name, "contrast-" + slugify(name))
        prerank = _prerank_table((enrichment or {}).get(name), f"{base}-enrichment")
        ora_block = _ora_table((ora or {}).get(name), f"{base}-ora")
        if prerank is None and ora_block is None:
            continue
        blocks.append(
            {"id": f"{base}-genesets", "name": name, "prerank": prerank, "ora": ora_block}
        )
    return {
        "blocks": blocks,
        "any_prerank": any(b["prerank"] is not None for b in blocks),
        "any_ora": any(b["ora"] is not None for b in blocks),
        "ora_given": ora is not None,
    }
