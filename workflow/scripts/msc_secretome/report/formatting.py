"""Small helpers shared by the sections:

Value formatting, ids, subsets, table and figure view models.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..outliers import biological_group_columns
from .templating import json_for_script

# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def esc(value: Any) -> str:
    """Escape user text for plotly's rich-text labels and hovers inside figure specs
    (``None``/NaN become an empty string). Page markup is escaped by the templates."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value), quote=True)


def slugify(name: str) -> str:
    """A stable HTML id fragment for a contrast name: ``[A-Za-z0-9_-]`` only."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", str(name)).strip("-")
    return slug or "x"


def contrast_ids(names: Iterable[str]) -> dict[str, str]:
    """Map contrast names to unique section ids ``contrast-<slug>`` (``-2``, ``-3`` on clashes)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        if name in out:
            continue
        base = f"contrast-{slugify(name)}"
        candidate, k = base, 2
        while candidate in used:
            candidate, k = f"{base}-{k}", k + 1
        used.add(candidate)
        out[name] = candidate
    return out


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float | np.floating) and math.isnan(float(value)):
        return True
    return isinstance(value, str) and value.strip() == ""


def sig4(value: Any) -> float | None:
    """Round to 4 significant digits for embedded figure data (``None`` for NaN/inf)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(x):
        return None
    return float(f"{x:.4g}")


def fmt_value(value: Any) -> str:
    """Human format: bools as yes/no, floats to 3-4 significant digits, NaN as 'NA'."""
    if value is None:
        return "NA"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}" if abs(int(value)) >= 1e4 else str(int(value))
    if isinstance(value, float | np.floating):
        x = float(value)
        if math.isnan(x):
            return "NA"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        if x == int(x) and abs(x) < 1e15:
            return f"{int(x):,}" if abs(x) >= 1e4 else str(int(x))
        if abs(x) < 1e-3 or abs(x) >= 1e9:
            return f"{x:.3g}"
        if abs(x) >= 1e3:
            return f"{x:,.0f}"
        return f"{x:.4g}"
    return str(value)


def _num(value: Any) -> float | None:
    if isinstance(value, bool | np.bool_):
        return float(value)
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x


_json = json_for_script  # one serialiser for embedded JSON (templating.json_for_script)


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _int(value: Any, default: int = 0) -> int:
    x = _num(value)
    if x is None or not math.isfinite(x):
        return default
    return int(x)


def _split_list(value: Any, sep: str = ";") -> list[str]:
    if _is_missing(value):
        return []
    return [part.strip() for part in str(value).split(sep) if part.strip()]


def _short_genes(value: Any, limit: int = 20) -> str:
    genes = _split_list(value)
    text = ", ".join(genes[:limit])
    if len(genes) > limit:
        text += f" … (+{len(genes) - limit})"
    return text


def _factor_columns(samples: pd.DataFrame) -> list[str]:
    return [c for c in samples.columns if c != "sample"]


_group_columns = biological_group_columns  # the QC outlier module owns what a group is


def parse_subset(subset: Any) -> list[tuple[str, tuple[str, ...]]]:
    """A model's subset as the pipeline writes it (``Model.subset_label``) -> (column, levels).

    ``'cell_type=cancer; therapy=chemo,none'`` ->
    ``[('cell_type', ('cancer',)), ('therapy', ('chemo', 'none'))]``: conditions are joined by
    ``'; '``, the levels of one column by ``','``. An empty subset (all samples) gives ``[]``.
    Raises ``ValueError`` for a condition without ``=``, so no condition is silently dropped.
    """
    if _is_missing(subset):
        return []
    out = []
    for part in str(subset).split(";"):
        if not part.strip():
            continue
        if "=" not in part:
            raise ValueError(f"subset condition {part.strip()!r} of {subset!r} has no '='")
        key, levels = part.split("=", 1)
        out.append((key.strip(), tuple(v.strip() for v in levels.split(",") if v.strip())))
    return out


def subset_samples(samples: pd.DataFrame, subset: Any) -> pd.DataFrame:
    """The rows of the sample sheet that a contrast's subset string selects (any listed level)."""
    out = samples
    for key, levels in parse_subset(subset):
        if key in out.columns:
            out = out[out[key].astype(str).isin(levels)]
    return out


# --------------------------------------------------------------------------------------------
# tables and figures (markup builders)
# --------------------------------------------------------------------------------------------


def table_cell(value: Any) -> dict[str, Any]:
    """One table cell as the ``table`` macro draws it: ``text``, and ``sort`` (the ``data-v``
    sort key) for numbers."""
    is_number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )
    sort = None
    if is_number:
        v = float(value)
        sort = "NaN" if math.isnan(v) else repr(sig4(v) if math.isfinite(v) else v)
    return {"text": fmt_value(value), "sort": sort, "clamp": False}


def table_view(
    table_id: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    searchable: bool = True,
    caption: str = "",
    css_class: str = "",
    clamp_columns: Sequence[str] = (),
) -> dict[str, Any]:
    """The view model of a sortable table (``templates/macros.html.j2``, macro ``table``).

    ``rows``: sequences with one value per column; every value is formatted with
    :func:`fmt_value` and escaped by the template;
    cells of ``clamp_columns`` show two lines until hovered or focused (long gene lists).
    """
    clamp = [i for i, c in enumerate(columns) if c in set(clamp_columns)]
    body = []
    for row in rows:
        values = list(row)
        if len(values) != len(columns):
            raise ValueError(
                f"table {table_id}: a row has {len(values)} values, not {len(columns)}"
            )
        cells = [table_cell(v) for v in values]
        for i in clamp:
            cells[i]["clamp"] = True
        body.append(cells)
    return {
        "id": table_id,
        "columns": [str(c) for c in columns],
        "rows": body,
        "searchable": searchable,
        "caption": caption,
        "css_class": f"sortable {css_class}".strip(),
    }
