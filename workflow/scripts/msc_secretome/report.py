"""The HTML report: one self-contained, offline, deterministic file that answers the question first.

Pure functions: tables in, an HTML string out (``render_report``); ``write_report`` is the only
I/O and writes atomically. The adapter script reads the workflow's TSV/JSON files and calls these.

Properties the tests check:

* one file that works from ``file://`` with no network: plotly.js is inlined once
  (``plotly.offline.get_plotlyjs()``), figures are JSON specs drawn with ``Plotly.newPlot``,
  tables are searched and sorted by a few lines of vanilla JS; no CDN, no web fonts;
* deterministic: the same inputs give byte-identical HTML apart from ``methods["date"]``
  (stable element ids from sanitised contrast names, ``json.dumps(sort_keys=True)``, floats
  rounded to 4 significant digits, deterministic subsampling of volcano/MA points and of the
  cells of the single-cell UMAP);
* every piece of user text is escaped (``html.escape`` in markup, ``\\u003c`` in embedded JSON).
"""

from __future__ import annotations

import html
import json
import math
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .enrichment import enrichment_score, gene_ranking

DEFAULT_TITLE = "MSC secretome dual-benefit report"

# Volcano / MA plots: all genes with padj < PLOT_PADJ (at most MAX_SIGNIFICANT_POINTS, the
# smallest padj kept first) plus every k-th of the rest in baseMean order (at most
# MAX_BACKGROUND_POINTS).
PLOT_PADJ = 0.1
MAX_SIGNIFICANT_POINTS = 4000
MAX_BACKGROUND_POINTS = 1500
TOP_GENES = 50
TOP_TERMS = 10
TOP_ORA = 10  # ORA rows per direction and contrast
PROGRAMS_LIBRARY = "programs"
# GSEA running-score small multiples: the called programmes of a contrast with the largest
# |NES|, at most MAX_RUNNING_PANELS, RUNNING_COLUMNS per row. The running sum is piecewise
# linear (it only jumps at hits), so the line through its corners (each hit and the gene just
# before it, plus both ends and the extremes) is exact; sets with more than
# MAX_RUNNING_LINE_POINTS corners fall back to every k-th point plus the extremes.
MAX_RUNNING_PANELS = 12
RUNNING_COLUMNS = 4
MAX_RUNNING_LINE_POINTS = 600
# Per-sample programme scores: z-scores beyond this saturate the colour scale.
SAMPLE_SCORE_Z_CAP = 3.0

# Single cells: the UMAP draws at most MAX_UMAP_CELLS cells (every k-th in sample x cell type
# order), shuffled with UMAP_DRAW_SEED; per-cell score boxes for at most MAX_CELL_SCORE_PANELS
# called programmes, CELL_SCORE_COLUMNS per row.
MAX_UMAP_CELLS = 10_000
UMAP_DRAW_SEED = 0
MAX_CELL_SCORE_PANELS = 12
CELL_SCORE_COLUMNS = 3
CELL_RESERVED_COLUMNS = ("cell", "sample", "cell_type", "UMAP1", "UMAP2")
SHEET_ONLY_COLUMNS = ("original_sample", "n_cells")  # pseudobulk sheet columns, not factors
SCORE_COLOURSCALE = "Viridis"
CELL_COUNT_COLOURSCALE = [[0.0, "#f7fbff"], [0.5, "#9ecae1"], [1.0, "#2171b5"]]

# Outlier rules (stated in the report).
LIBSIZE_FRACTION = 1 / 3  # total_counts below this fraction of the median
PCA_MAD_CUTOFF = 3.0  # distance to group centroid (PC1-PC2) above median + 3 scaled MADs
PCA_MIN_GROUP = 3  # groups smaller than this are not judged on PCA
PCA_MIN_SPAN_FRACTION = 0.1  # ... and farther than 10% of the largest PC1-PC2 distance
NON_GROUP_COLUMNS = ("batch", "replicate", "rep", "donor", "lane", "run", "date")

# "Why nothing is significant" hints.
FEW_SAMPLES = 6
LOW_LIBRARY_SIZE = 5_000_000
HIGH_FILTERED_FRACTION = 0.5

CATEGORY_ORDER = ("cytotoxic", "stress_damage", "regenerative_protective", "pro_tumour_risk")
CATEGORY_LABEL = {
    "cytotoxic": "cytotoxic",
    "stress_damage": "stress/damage",
    "regenerative_protective": "regenerative/protective",
    "pro_tumour_risk": "pro-tumour risk",
}
VERDICT_LABEL = {
    "dual_benefit": "Dual benefit: yes",
    "no_dual_benefit": "Dual benefit: no",
    "unclear": "Dual benefit: unclear",
    "incomplete": "Incomplete: contrasts missing",
}
VERDICT_WORDS = {
    "dual_benefit": "dual benefit",
    "no_dual_benefit": "no dual benefit",
    "unclear": "unclear",
    "incomplete": "incomplete (a needed contrast is missing)",
}
THERAPY_NONE_LABEL = "no therapy"
PROGRAMME_PREFIX_CATEGORY = {
    "CYT": "cytotoxic",
    "STRESS": "stress_damage",
    "REG": "regenerative_protective",
    "RISK": "pro_tumour_risk",
}
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
UP_COLOUR, DOWN_COLOUR, NS_COLOUR = "#c0392b", "#2166ac", "#b0b0b0"
# blue (down) - white - red (up); explicit so the direction never depends on a named scale
DIVERGING = [
    [0.0, "#2166ac"],
    [0.25, "#92c5de"],
    [0.5, "#f7f7f7"],
    [0.75, "#f4a582"],
    [1.0, "#b2182b"],
]
# showSendToCloud defaults to true in plotly.js 3 ("Share chart..." uploads to Plotly Cloud):
# an offline report must never offer that.
PLOTLY_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "showSendToCloud": False,
    "showLink": False,
    "modeBarButtonsToRemove": ["sendDataToCloud", "select2d", "lasso2d"],
}


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def esc(value: Any) -> str:
    """HTML-escape any value (``None``/NaN become an empty string)."""
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


def _json(obj: Any) -> str:
    """Deterministic JSON that is safe inside a <script> element."""
    text = json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


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


def _group_columns(samples: pd.DataFrame) -> list[str]:
    """Factor columns that define biological groups (not batch-like, not unique per sample)."""
    out = []
    for col in _factor_columns(samples):
        if col.lower() in NON_GROUP_COLUMNS:
            continue
        if len(samples) > 1 and samples[col].nunique(dropna=False) == len(samples):
            continue
        out.append(col)
    return out


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


def html_table(
    table_id: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    searchable: bool = True,
    caption: str = "",
    raw_columns: Sequence[str] = (),
    css_class: str = "",
) -> str:
    """A sortable table; numbers get ``data-v`` for numeric sorting. Cells are escaped unless
    their column is in ``raw_columns`` (already-escaped markup)."""
    raw = set(raw_columns)
    head = "".join(f'<th title="sort">{esc(c)}</th>' for c in columns)
    body = []
    n = 0
    for row in rows:
        n += 1
        cells = []
        for col, value in zip(columns, row, strict=True):
            if col in raw:
                cells.append(f"<td>{value}</td>")
                continue
            is_number = isinstance(
                value, int | float | np.integer | np.floating
            ) and not isinstance(value, bool | np.bool_)
            if is_number:
                v = float(value)
                data_v = "NaN" if math.isnan(v) else repr(sig4(v) if math.isfinite(v) else v)
                cells.append(f'<td class="num" data-v="{data_v}">{esc(fmt_value(value))}</td>')
            else:
                cells.append(f"<td>{esc(fmt_value(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    search = ""
    if searchable:
        search = (
            f'<div class="tsearch"><input type="search" class="table-search" '
            f'data-table="{table_id}" placeholder="Search table…" aria-label="search table"> '
            f'<span class="tcount" data-table="{table_id}">{n} rows</span></div>'
        )
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    cls = f"sortable {css_class}".strip()
    return (
        f'{search}<div class="tablewrap"><table id="{table_id}" class="{cls}">{cap}'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _figure(fig_id: str, spec: Mapping[str, Any], *, height: int, css_class: str = "") -> str:
    """A plot placeholder plus its JSON spec; the page script draws it with Plotly.newPlot."""
    layout = dict(spec.get("layout", {}))
    layout.setdefault("height", height)
    layout.setdefault("margin", {"l": 60, "r": 20, "t": 40, "b": 50})
    layout.setdefault("font", {"family": "system-ui, -apple-system, Segoe UI, Arial, sans-serif"})
    layout.setdefault("paper_bgcolor", "white")
    layout.setdefault("plot_bgcolor", "white")
    payload = {"data": list(spec.get("data", [])), "layout": layout}
    cls = f"plot {css_class}".strip()
    return (
        f'<div id="{fig_id}" class="{cls}" data-fig="{fig_id}-spec" style="min-height:{height}px">'
        f'</div><script type="application/json" id="{fig_id}-spec">{_json(payload)}</script>'
    )


def _axis(title: str, **extra: Any) -> dict[str, Any]:
    out = {"title": {"text": title}, "zeroline": False, "gridcolor": "#eeeeee", "automargin": True}
    out.update(extra)
    return out


# --------------------------------------------------------------------------------------------
# 1. verdict
# --------------------------------------------------------------------------------------------


def _calls_for(program_calls: pd.DataFrame, contrast: Any, category: str, call: str) -> list[str]:
    if program_calls is None or program_calls.empty or _is_missing(contrast):
        return []
    sel = program_calls[
        (program_calls["contrast"].astype(str) == str(contrast))
        & (program_calls["category"] == category)
        & (program_calls["call"] == call)
    ]
    if "tier" in sel.columns and (sel["tier"] == "core").any():
        sel = sel[sel["tier"] == "core"]
    return sorted(sel["program"].astype(str).unique().tolist())


def _named(count: int, names: list[str]) -> str:
    """' (A, B)' when the names match the count, else ''."""
    if count > 0 and len(names) == count:
        return " (" + ", ".join(names[:6]) + (", …" if len(names) > 6 else "") + ")"
    return ""


def _describe_flag(flag: str, row: Mapping[str, Any], program_calls: pd.DataFrame) -> str:
    category = ""
    verb, where = "flagged", ""
    if program_calls is not None and not program_calls.empty:
        rows = program_calls[program_calls["program"].astype(str) == flag]
        if not rows.empty:
            category = str(rows["category"].iloc[0])
        for key, cells in (
            ("cancer_contrast", "in cancer cells"),
            ("normal_contrast", "in normal cells"),
            ("potentiation_contrast", "on top of the therapy (interaction)"),
        ):
            contrast = row.get(key)
            if _is_missing(contrast):
                continue
            hit = rows[(rows["contrast"].astype(str) == str(contrast)) & (rows["call"] != "ns")]
            if not hit.empty:
                verb = "raised" if hit["call"].iloc[0] == "up" else "lowered"
                where = f" {cells}"
                break
    kind = {
        "pro_tumour_risk": "a pro-tumour risk",
        "stress_damage": "a damage programme",
        "cytotoxic": "a cytotoxic programme",
        "regenerative_protective": "a protective programme",
    }.get(category, "a risk flag")
    return f"{verb} {flag}{where}, {kind}"


def therapy_label(therapy: Any, none_level: Any = "none") -> str:
    """The therapy as a heading shows it: the no-therapy level reads 'no therapy'."""
    text = "" if _is_missing(therapy) else str(therapy)
    if not _is_missing(none_level) and text == str(none_level):
        return THERAPY_NONE_LABEL
    return text


def _under(therapy: Any, none_level: Any) -> str:
    label = therapy_label(therapy, none_level)
    if label == THERAPY_NONE_LABEL:
        return "Without therapy"
    return f"Under {label or 'this therapy'}"


def verdict_summary(
    row: Mapping[str, Any], program_calls: pd.DataFrame | None = None, none_level: Any = "none"
) -> str:
    """One plain-language paragraph (plain text, not escaped) from a dual-benefit row.

    The pipeline's own ``explanation`` is not part of it: :func:`verdict_explanation` returns
    the part of it that adds to this paragraph."""
    calls = program_calls if program_calls is not None else pd.DataFrame()
    under = _under(row.get("therapy"), none_level)
    verdict = str(row.get("verdict", "unclear"))
    parts: list[str] = []
    cancer_c, normal_c = row.get("cancer_contrast"), row.get("normal_contrast")
    pot_c = row.get("potentiation_contrast")

    if _is_missing(cancer_c):
        parts.append(
            f"{under}, there is no cancer-cell contrast, so cancer-cell effects are unknown"
        )
    else:
        n = _int(row.get("cytotoxic_up"))
        names = _calls_for(calls, cancer_c, "cytotoxic", "up")
        what = (
            f"raised {_plural(n, 'cytotoxic programme')}" if n else "raised no cytotoxic programme"
        )
        parts.append(f"{under}, the secretome {what} in cancer cells{_named(n, names)}")
    if _is_missing(normal_c):
        parts.append("there is no normal-cell contrast, so protection of normal cells is unknown")
    else:
        n_p, n_d = _int(row.get("protective_up")), _int(row.get("damage_down"))
        p_names = _calls_for(calls, normal_c, "regenerative_protective", "up")
        d_names = _calls_for(calls, normal_c, "stress_damage", "down")
        p_txt = (
            f"raised {_plural(n_p, 'protective programme')}{_named(n_p, p_names)}"
            if n_p
            else "raised no protective programme"
        )
        d_txt = (
            f"lowered {_plural(n_d, 'damage programme')}{_named(n_d, d_names)}"
            if n_d
            else "lowered no damage programme"
        )
        parts.append(f"in normal cells it {p_txt} and {d_txt}")
    text = "; ".join(parts) + "."
    pot = row.get("potentiation")
    if not _is_missing(pot_c) and not _is_missing(pot):
        text += (
            f" Potentiation of the therapy's effect in cancer cells (interaction contrast "
            f"{pot_c}): {fmt_value(pot)}."
        )
    flags = _split_list(row.get("risk_flags"))
    if flags:
        described = [_describe_flag(f, row, calls) for f in flags]
        text += " But it also " + "; and ".join(described) + "."
    else:
        adverse = _int(row.get("adverse_cancer")) + _int(row.get("adverse_normal"))
        if adverse:
            text += f" It also made {_plural(adverse, 'adverse programme change')}."
        else:
            text += " No risk programme was flagged."
    text += f" Verdict: {VERDICT_WORDS.get(verdict, verdict)}."
    return text


_PROGRAMME_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def _mark_programmes(escaped: str) -> str:
    """Wrap programme identifiers of already-escaped text in ``<span class="pname">``."""
    return _PROGRAMME_NAME.sub(lambda m: f'<span class="pname">{m.group(0)}</span>', escaped)


def verdict_explanation(row: Mapping[str, Any], summary: str, none_level: Any = "none") -> str:
    """The sentences of the pipeline's ``explanation`` that add to ``summary`` ('' if none).

    The summary already gives the counts, the programmes' names, the risk flags and the
    verdict, so a sentence is dropped when it names no programme that the summary does not
    name and it is either a ``Risk: ...`` sentence or belongs to a ``dual_benefit`` verdict
    (which the summary fully explains). What stays says why a verdict is not a dual benefit
    (which side failed or moved against the aim) or what is missing (``incomplete``). The
    no-therapy level reads 'without therapy'."""
    explanation = row.get("explanation")
    if _is_missing(explanation):
        return ""
    text = " ".join(str(explanation).split())
    therapy = row.get("therapy")
    if therapy_label(therapy, none_level) == THERAPY_NONE_LABEL:
        level = re.escape(str(therapy))
        text = re.sub(rf"\bUnder {level}\b", "Without therapy", text)
        text = re.sub(rf"\bunder {level}\b", "without therapy", text)
    named = set(_PROGRAMME_NAME.findall(summary))
    verdict = str(row.get("verdict", ""))
    kept = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        if not sentence or sentence in summary:
            continue
        nothing_new = set(_PROGRAMME_NAME.findall(sentence)) <= named
        if nothing_new and (sentence.startswith("Risk:") or verdict == "dual_benefit"):
            continue
        kept.append(sentence)
    return " ".join(kept)


def _verdict_section(
    dual_benefit: pd.DataFrame, program_calls: pd.DataFrame, none_level: Any = "none"
) -> str:
    out = ['<section id="verdict"><h2>1. Verdict: does the MSC secretome give a dual benefit?</h2>']
    out.append(
        '<p class="lead">For each therapy: did the conditioned medium raise death (cytotoxic) '
        "programmes in cancer cells <em>and</em> raise protective or lower damage programmes in "
        "normal cells, without raising pro-tumour risk programmes?</p>"
    )
    if dual_benefit is None or dual_benefit.empty:
        out.append('<p class="warn">No dual-benefit verdict was computed.</p></section>')
        return "\n".join(out)
    chips = []
    for row in dual_benefit.to_dict("records"):
        v = str(row.get("verdict", "unclear"))
        chips.append(
            f'<span class="chip v-{esc(slugify(v))}">'
            f"{esc(therapy_label(row.get('therapy'), none_level))}: "
            f"{esc(VERDICT_WORDS.get(v, v))}</span>"
        )
    out.append(f'<p class="chips">{" ".join(chips)}</p><div class="cards">')
    components = (
        ("cancer_gain", "cancer gain"),
        ("potentiation", "potentiation"),
        ("normal_protection", "normal protection"),
        ("cytotoxic_up", "cytotoxic ↑ (cancer)"),
        ("protective_up", "protective ↑ (normal)"),
        ("damage_down", "damage ↓ (normal)"),
        ("adverse_cancer", "adverse (cancer)"),
        ("adverse_normal", "adverse (normal)"),
    )
    for i, row in enumerate(dual_benefit.to_dict("records")):
        v = str(row.get("verdict", "unclear"))
        flags = _split_list(row.get("risk_flags"))
        comp_rows = "".join(
            f"<tr><th>{esc(label)}</th><td>{esc(fmt_value(row.get(key)))}</td></tr>"
            for key, label in components
            if key in row
        )
        contrasts = "".join(
            f"<tr><th>{esc(label)}</th><td><code>{esc(row.get(key)) or '—'}</code></td></tr>"
            for key, label in (
                ("cancer_contrast", "cancer contrast"),
                ("potentiation_contrast", "potentiation contrast"),
                ("normal_contrast", "normal contrast"),
            )
            if key in row
        )
        flag_html = (
            "".join(f'<span class="flag">⚠ {esc(f)}</span>' for f in flags)
            if flags
            else '<span class="noflag">no risk flags</span>'
        )
        summary = verdict_summary(row, program_calls, none_level)
        reason = verdict_explanation(row, summary, none_level)
        reason_html = f'<p class="reason"><b>Reason:</b> {esc(reason)}</p>' if reason else ""
        out.append(
            f'<div class="card v-{esc(slugify(v))}" id="verdict-{i + 1}">'
            f'<div class="cardhead"><span class="therapy">'
            f"{esc(therapy_label(row.get('therapy'), none_level))}</span>"
            f'<span class="badge">{esc(VERDICT_LABEL.get(v, v))}</span></div>'
            f'<p class="summary">{_mark_programmes(esc(summary))}</p>{reason_html}'
            f'<div class="flags">Risk flags: {flag_html}</div>'
            f'<table class="kv">{comp_rows}{contrasts}</table></div>'
        )
    out.append("</div></section>")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# 2. design & QC
# --------------------------------------------------------------------------------------------


def find_outliers(
    samples: pd.DataFrame, library_sizes: pd.DataFrame, pca: pd.DataFrame
) -> dict[str, list[str]]:
    """sample -> reasons. Rules: total_counts < 1/3 of the median; or distance to its group
    centroid on PC1-PC2 > median + 3 x 1.4826 x MAD of all such distances (groups of >= 3)."""
    reasons: dict[str, list[str]] = {}
    if library_sizes is not None and not library_sizes.empty:
        totals = pd.to_numeric(library_sizes["total_counts"], errors="coerce")
        median = float(np.nanmedian(totals)) if totals.notna().any() else float("nan")
        if math.isfinite(median) and median > 0:
            for s, t in zip(library_sizes["sample"].astype(str), totals, strict=True):
                if pd.notna(t) and t < LIBSIZE_FRACTION * median:
                    reasons.setdefault(s, []).append(
                        f"library size {fmt_value(float(t))} < 1/3 of the median "
                        f"({fmt_value(median)})"
                    )
    pcs = [c for c in ("PC1", "PC2") if pca is not None and c in pca.columns]
    groups = _group_columns(samples)
    if pcs and groups and samples is not None and not samples.empty:
        merged = samples.astype({"sample": str}).merge(
            pca.astype({"sample": str})[["sample", *pcs]], on="sample", how="inner"
        )
        dist_rows = []
        for _, grp in merged.groupby(groups, sort=True, dropna=False):
            if len(grp) < PCA_MIN_GROUP:
                continue
            xy = grp[pcs].to_numpy(dtype=float)
            d = np.sqrt(((xy - xy.mean(axis=0)) ** 2).sum(axis=1))
            dist_rows.extend(zip(grp["sample"], d, strict=True))
        if len(dist_rows) >= 2 * PCA_MIN_GROUP:
            d_all = np.array([d for _, d in dist_rows])
            med = float(np.median(d_all))
            mad = 1.4826 * float(np.median(np.abs(d_all - med)))
            xy_all = merged[pcs].to_numpy(dtype=float)
            span = float(np.sqrt(((xy_all[:, None, :] - xy_all[None, :, :]) ** 2).sum(-1)).max())
            if mad > 0:
                cut = max(med + PCA_MAD_CUTOFF * mad, PCA_MIN_SPAN_FRACTION * span)
                for s, d in dist_rows:
                    if d > cut:
                        reasons.setdefault(str(s), []).append(
                            f"PCA distance to its group centroid {d:.3g} > {cut:.3g} "
                            f"(median + 3 MAD, at least 10% of the PC1–PC2 span)"
                        )
    return reasons


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


def _annotated_heatmap(
    z: list, x: list, y: list, text: list, hover: list, *, text_size: int, **style: Any
) -> dict:
    """A plotly heatmap trace with a label in each cell and an HTML hover (``hover``, same
    shape as ``z``); ``style``: colour scale, range and colour bar."""
    return {
        "type": "heatmap",
        "z": z,
        "x": x,
        "y": y,
        "text": text,
        "texttemplate": "%{text}",
        "textfont": {"size": text_size},
        "customdata": hover,
        "hovertemplate": "%{customdata}<extra></extra>",
        "xgap": 1,
        "ygap": 1,
        **style,
    }


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
            "updatemenus": [
                {
                    "buttons": buttons,
                    "direction": "down",
                    "x": 0,
                    "xanchor": "left",
                    "y": 1.02,
                    "yanchor": "bottom",
                    "pad": {"t": 0, "b": 0},
                    "showactive": True,
                }
            ],
        },
    }


def _qc_section(
    samples: pd.DataFrame,
    library_sizes: pd.DataFrame,
    pca: pd.DataFrame,
    pca_variance: pd.DataFrame,
    distances: pd.DataFrame,
    outliers: Mapping[str, list[str]],
) -> str:
    out = ['<section id="qc"><h2>2. Design &amp; quality control</h2>']
    # sample table
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
    out.append(f"<h3>Samples ({len(samples)})</h3>")
    out.append(html_table("table-samples", cols, rows))
    # outlier box
    rule = (
        "Outlier rule: a sample is flagged when its library size is below 1/3 of the median, or "
        "when its distance to its group centroid on PC1–PC2 exceeds the median + 3 × MAD "
        "(scaled by 1.4826) of all samples' distances and 10% of the largest sample-to-sample "
        "distance on PC1–PC2; a group is the samples sharing "
        f"{', '.join(_group_columns(samples)) or 'all factors'} (groups with ≥ {PCA_MIN_GROUP} "
        "samples). Flagged samples are kept in the analysis; judge them from the plots."
    )
    if outliers:
        items = "".join(
            f"<li><b>{esc(s)}</b>: {esc('; '.join(r))}</li>" for s, r in sorted(outliers.items())
        )
        out.append(
            f'<div class="box warn" id="outliers"><b>{_plural(len(outliers), "possible outlier")}'
            f"</b><ul>{items}</ul><p class='small'>{esc(rule)}</p></div>"
        )
    else:
        out.append(
            f'<div class="box ok" id="outliers"><b>No outlier samples flagged.</b>'
            f"<p class='small'>{esc(rule)}</p></div>"
        )
    out.append('<div class="grid2">')
    # library sizes
    if library_sizes is not None and not library_sizes.empty:
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
        out.append(_figure("fig-libsizes", fig, height=380))
    if pca is not None and not pca.empty and "PC1" in pca.columns:
        out.append(_figure("fig-pca", _pca_figure(samples, pca, pca_variance), height=380))
    out.append("</div>")
    if distances is not None and not distances.empty:
        order = [s for s in _sample_order(samples) if s in set(map(str, distances.index))]
        d = distances.copy()
        d.index, d.columns = d.index.astype(str), d.columns.astype(str)
        order += [s for s in d.index if s not in order]
        d = d.loc[order, [c for c in order if c in d.columns]]
        fig = {
            "data": [
                {
                    "type": "heatmap",
                    "z": [[sig4(v) for v in r] for r in d.to_numpy(dtype=float)],
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
        out.append(_figure("fig-distances", fig, height=size, css_class="square"))
    out.append("</section>")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# 3. programmes
# --------------------------------------------------------------------------------------------


def _programme_order(program_calls: pd.DataFrame) -> list[str]:
    rank = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    progs = program_calls[["program", "category"]].drop_duplicates("program")
    progs = progs.assign(_r=progs["category"].map(rank).fillna(len(rank)))
    return progs.sort_values(["_r", "program"], kind="stable")["program"].astype(str).tolist()


def _programmes_section(
    program_calls: pd.DataFrame,
    contrast_order: list[str],
    samples: pd.DataFrame | None = None,
    sample_scores: pd.DataFrame | None = None,
) -> str:
    out = ['<section id="programmes"><h2>3. Programmes (GSEA on the curated catalogue)</h2>']
    if program_calls is None or program_calls.empty:
        out.append('<p class="warn">No programme calls.</p>')
        out.append(_sample_scores_block(sample_scores, samples, program_calls))
        out.append("</section>")
        return "\n".join(out)
    pc = program_calls.copy()
    pc["contrast"] = pc["contrast"].astype(str)
    programs = _programme_order(pc)
    contrasts = [c for c in contrast_order if c in set(pc["contrast"])]
    contrasts += sorted(set(pc["contrast"]) - set(contrasts))
    cell = {(r["contrast"], str(r["program"])): r for r in pc.to_dict("records")}
    overlaps = _overlap_partners(pc)
    z, text, hover = [], [], []
    max_abs = 1.0
    for c in contrasts:
        zr, tr, hr = [], [], []
        for p in programs:
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
    categories = dict(zip(pc["program"].astype(str), pc["category"].astype(str), strict=True))
    tick = [
        f"{esc(p)}" if categories.get(p) != "pro_tumour_risk" else f"<b>{esc(p)}</b>"
        for p in programs
    ]
    fig = {
        "data": [
            _annotated_heatmap(
                z,
                [esc(p) for p in programs],
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
                "tickvals": [esc(p) for p in programs],
                "ticktext": tick,
            },
            "yaxis": {"autorange": "reversed", "automargin": True},
            "margin": {"l": 60, "r": 20, "t": 50, "b": 60},
        },
    }
    height = max(360, 220 + 30 * len(contrasts))
    out.append(
        '<p class="small">Red: programme enriched among up-regulated genes; blue: among '
        "down-regulated genes. Symmetric colour range ±"
        f"{fmt_value(max_abs)}. Categories left to right: "
        + ", ".join(esc(CATEGORY_LABEL[c]) for c in CATEGORY_ORDER)
        + " (prefixes CYT_, STRESS_, REG_, RISK_; risk programmes in bold). Hover a cell for its "
        "leading-edge genes.</p>"
    )
    out.append(_figure("fig-programmes", fig, height=height))
    out.append(_sample_scores_block(sample_scores, samples, pc))
    has_groups = "overlap_group" in pc.columns
    cols = ["contrast", "program", "category", "tier", "NES", "fdr", "call"]
    cols += ["overlap_group"] if has_groups else []
    cols += ["leading_edge"]
    rows = []
    for r in pc.to_dict("records"):
        group = r.get("overlap_group")
        rows.append(
            [
                r["contrast"],
                r["program"],
                r.get("category"),
                r.get("tier"),
                _num(r.get("NES")) if _num(r.get("NES")) is not None else float("nan"),
                _num(r.get("fdr")) if _num(r.get("fdr")) is not None else float("nan"),
                r.get("call"),
                *([("" if _is_missing(group) else str(group))] if has_groups else []),
                ", ".join(_split_list(r.get("leading_edge"))),
            ]
        )
    out.append("<h3>All programme calls</h3>")
    if has_groups:
        out.append(
            '<p class="small">overlap_group: called programmes of one contrast whose leading '
            "edges overlap share a group (named by its first programme); a group of several "
            "programmes is one signal seen through overlapping gene sets, not independent "
            "evidence.</p>"
        )
    out.append(html_table("table-program-calls", cols, rows, css_class="calls"))
    out.append("</section>")
    return "\n".join(out)


def _overlap_partners(program_calls: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(contrast, programme) -> hover line naming the programmes of its overlap group."""
    if "overlap_group" not in program_calls.columns:
        return {}
    out: dict[tuple[str, str], str] = {}
    pc = program_calls[~program_calls["overlap_group"].map(_is_missing)]
    for (contrast, group), rows in pc.groupby(["contrast", "overlap_group"], sort=True):
        members = sorted(rows["program"].astype(str).unique().tolist())
        if len(members) < 2:
            continue
        for p in members:
            others = [m for m in members if m != p]
            out[(str(contrast), p)] = (
                f"<br>overlap group {esc(group)}: leading edge shared with "
                f"{esc(', '.join(others[:5]) + (', …' if len(others) > 5 else ''))}"
            )
    return out


def programme_categories(
    program_calls: pd.DataFrame | None, programmes: Iterable[str]
) -> dict[str, str]:
    """programme -> category from the calls, else from its prefix (CYT_, STRESS_, REG_, RISK_)."""
    known: dict[str, str] = {}
    if program_calls is not None and not program_calls.empty and "category" in program_calls:
        for p, c in zip(program_calls["program"], program_calls["category"], strict=True):
            if not _is_missing(c):
                known.setdefault(str(p), str(c))
    return {
        p: known.get(p, PROGRAMME_PREFIX_CATEGORY.get(p.split("_", 1)[0], "other"))
        for p in map(str, programmes)
    }


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


def _strip_colourscale(n_levels: int, colours: Sequence[str]) -> list[list[Any]]:
    """A stepped colour scale: level i (z = i) gets colours[i]."""
    n = max(n_levels, 1)
    scale: list[list[Any]] = []
    for i in range(n):
        colour = colours[i % len(colours)] if colours else "#999999"
        scale.append([sig4(i / n), colour])
        scale.append([sig4((i + 1) / n), colour])
    return scale


def sample_scores_figure(
    sample_scores: pd.DataFrame, samples: pd.DataFrame, program_calls: pd.DataFrame | None
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
    categories = programme_categories(program_calls, raw.columns)
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


def _sample_scores_block(
    sample_scores: pd.DataFrame | None, samples: pd.DataFrame, program_calls: pd.DataFrame
) -> str:
    if sample_scores is None:
        return ""
    out = ['<h3 id="sample-scores">Programme scores per sample</h3>']
    fig = sample_scores_figure(sample_scores, samples, program_calls)
    if fig is None:
        out.append(
            '<p class="muted">Per-sample programme scores were not computed '
            "(<code>enrichment: sample_scores: none</code>).</p>"
        )
        return "\n".join(out)
    n_samples, n_programmes = len(fig["data"][0]["y"]), len(fig["data"][0]["x"])
    legend = fig.pop("legend", {})
    legend_html = "".join(
        f'<span class="legend-factor"><b>{esc(f)}</b>'
        + "".join(
            f'<span class="swatch" style="background:{c}"></span>{esc(level or "—")}'
            for level, c in levels
        )
        + "</span>"
        for f, levels in legend.items()
    )
    out.append(
        '<p class="small">Each programme\'s per-sample score (ssGSEA or mean z, on the VST '
        "matrix) is z-scored across the samples, so colours compare samples within a programme, "
        f"not programmes with each other. {n_samples} samples in sample-sheet order, "
        f"{n_programmes} programmes grouped by category; the strips on the left are the samples' "
        "factors (hover for their levels and the raw score). Programmes constant across samples "
        "are blank.</p>"
    )
    if legend_html:
        out.append(f'<p class="small strip-legend">Strips: {legend_html}</p>')
    height = max(380, 190 + 16 * n_samples)
    out.append(_figure("fig-sample-scores", fig, height=height, css_class="samplescores"))
    return "\n".join(out)


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


def called_programmes(program_calls: pd.DataFrame | None) -> list[str]:
    """Programmes called up or down in at least one contrast, in the NES heatmap's order."""
    if program_calls is None or program_calls.empty or "call" not in program_calls.columns:
        return []
    called = set(program_calls.loc[program_calls["call"].isin(["up", "down"]), "program"].map(str))
    if "category" not in program_calls.columns:
        return sorted(called)
    return [p for p in _programme_order(program_calls) if p in called]


def single_cell_columns(
    cells: pd.DataFrame, samples: pd.DataFrame | None, program_calls: pd.DataFrame | None
) -> tuple[list[str], list[str]]:
    """(factor columns, programme-score columns) of a cells table: programmes are the columns
    named in the calls, else numeric columns not in the sample sheet; factors the rest."""
    known = (
        set(program_calls["program"].astype(str))
        if program_calls is not None and "program" in program_calls.columns
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
    program_calls: pd.DataFrame | None,
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
    factors, programmes = single_cell_columns(cells, samples, program_calls)
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
    for p in (p for p in called_programmes(program_calls) if p in programmes):
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
            "updatemenus": [
                {
                    "buttons": buttons,
                    "direction": "down",
                    "x": 0,
                    "xanchor": "left",
                    "y": 1.02,
                    "yanchor": "bottom",
                    "pad": {"t": 0, "b": 0},
                    "showactive": True,
                }
            ],
        },
    }
    return fig, info


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


def _called_contrasts(program_calls: pd.DataFrame | None) -> dict[str, dict[str, list[str]]]:
    """programme -> {"up": contrasts calling it up, "down": ... down} (in table order)."""
    if program_calls is None or program_calls.empty or "call" not in program_calls.columns:
        return {}
    out: dict[str, dict[str, list[str]]] = {}
    for rec in program_calls.to_dict("records"):
        call = str(rec.get("call"))
        if call in ("up", "down"):
            entry = out.setdefault(str(rec["program"]), {"up": [], "down": []})
            entry[call].append(str(rec.get("contrast")))
    return out


def cell_score_figure(
    cells: pd.DataFrame,
    samples: pd.DataFrame | None,
    program_calls: pd.DataFrame | None,
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
    factors, score_columns = single_cell_columns(table, samples, program_calls)
    called = [p for p in called_programmes(program_calls) if p in score_columns]
    info["n_called"] = len(called)
    if not called:
        return None, info
    if len(called) > max_panels:
        sel = program_calls[program_calls["call"].isin(["up", "down"])]
        strength = (
            pd.to_numeric(sel["NES"], errors="coerce").abs().groupby(sel["program"].astype(str))
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
    called_in = _called_contrasts(program_calls)
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
        layout["annotations"].append(
            {
                "xref": f"{xa} domain",
                "yref": f"{ya} domain",
                "x": 0,
                "y": 1.02,
                "xanchor": "left",
                "yanchor": "bottom",
                "align": "left",
                "showarrow": False,
                "text": f"<b>{esc(p)}</b><br>called {called_text} "
                f"{'contrast' if up + down == 1 else 'contrasts'}",
                "hovertext": hover,
                "font": {"size": 10},
            }
        )
    info["n_shown"] = len(called)
    info["height"] = height
    return {"data": data, "layout": layout}, info


def _single_cell_settings(config: Any) -> dict[str, Any]:
    try:
        settings = config["single_cell"]
    except (KeyError, TypeError):
        return {}
    return dict(settings) if isinstance(settings, Mapping) else {}


def _cell_qc_block(cell_qc: pd.DataFrame | None, settings: Mapping[str, Any]) -> list[str]:
    out = ['<h3 id="cell-qc">Cell quality control per sample</h3>']
    if cell_qc is None or cell_qc.empty or "sample" not in cell_qc.columns:
        out.append('<p class="muted">No per-sample cell QC table.</p>')
        return out
    qc = cell_qc.copy()
    qc["sample"] = _text_column(qc["sample"])
    thresholds = settings.get("qc") if isinstance(settings.get("qc"), Mapping) else {}
    rules = [
        text.format(esc(fmt_value(thresholds[key])))
        for key, text in (
            ("min_genes", "at least {} genes detected"),
            ("min_counts", "at least {} counts"),
            ("max_mito_fraction", "a mitochondrial fraction of at most {}"),
        )
        if key in thresholds and not _is_missing(thresholds[key])
    ]
    text = f"A cell is kept with {', '.join(rules)}. " if rules else ""
    if {"cells_in", "cells_kept"} <= set(qc.columns):
        cells_in = pd.to_numeric(qc["cells_in"], errors="coerce")
        kept = pd.to_numeric(qc["cells_kept"], errors="coerce")
        total_in, total_kept = float(cells_in.sum()), float(kept.sum())
        share = f" ({100 * total_kept / total_in:.1f}%)" if total_in > 0 else ""
        text += (
            f"{fmt_value(total_kept)} of {fmt_value(total_in)} cells kept{share} across "
            f"{_plural(len(qc), 'sample')}. "
        )
        ratio = (100 * kept / cells_in.where(cells_in > 0)).round(1)
        qc.insert(list(qc.columns).index("cells_kept") + 1, "kept_%", ratio)
    text += (
        "The failure counts overlap (a cell can fail several rules); medians are over the "
        "kept cells."
    )
    out.append(f'<p class="small">{text}</p>')
    cols = list(map(str, qc.columns))
    rows = []
    for rec in qc.to_dict("records"):
        row = []
        for c in cols:
            value = rec[c]
            x = None if c == "sample" or isinstance(value, str) else _num(value)
            row.append(x if x is not None else _text_value(value))
        rows.append(row)
    out.append(html_table("table-cell-qc", cols, rows, css_class="compact"))
    return out


def _cells_kept_figure(cell_qc: pd.DataFrame) -> dict[str, Any] | None:
    if cell_qc is None or cell_qc.empty or not {"sample", "cells_kept"} <= set(cell_qc.columns):
        return None
    samples = [esc(s) for s in _text_column(cell_qc["sample"])]
    kept = pd.to_numeric(cell_qc["cells_kept"], errors="coerce")
    cells_in = pd.to_numeric(cell_qc.get("cells_in", kept), errors="coerce")
    removed = (cells_in - kept).clip(lower=0)
    hover = [
        f"<b>{s}</b><br>kept {fmt_value(k)} of {fmt_value(n)}"
        + (f" ({100 * k / n:.1f}%)" if n and math.isfinite(n) and n > 0 else "")
        for s, k, n in zip(samples, kept, cells_in, strict=True)
    ]
    data = [
        {
            "type": "bar",
            "name": "kept",
            "x": samples,
            "y": [sig4(v) for v in kept],
            "text": hover,
            "textposition": "none",
            "hovertemplate": "%{text}<extra></extra>",
            "marker": {"color": "#4c78a8"},
        }
    ]
    if "cells_in" in cell_qc.columns:
        data.append(
            {
                "type": "bar",
                "name": "removed by QC",
                "x": samples,
                "y": [sig4(v) for v in removed],
                "text": hover,
                "textposition": "none",
                "hovertemplate": "%{text}<extra></extra>",
                "marker": {"color": "#c7c7c7"},
            }
        )
    return {
        "data": data,
        "layout": {
            "title": {"text": "Cells per sample after QC", "x": 0.02, "xanchor": "left"},
            "barmode": "stack",
            "xaxis": _axis("", tickangle=-45, tickfont={"size": 10 if len(samples) <= 24 else 8}),
            "yaxis": _axis("cells"),
            "legend": {
                "orientation": "h",
                "x": 1,
                "xanchor": "right",
                "y": 1.02,
                "yanchor": "bottom",
            },
        },
    }


def _pseudosample_figure(
    samples: pd.DataFrame | None,
    dropped: pd.DataFrame | None,
    cell_qc: pd.DataFrame | None,
) -> dict[str, Any] | None:
    """Samples x cell types heatmap of cells per pseudo-sample (the sheet's ``n_cells``);
    dropped pseudo-samples show their count with a cross."""
    need = {"original_sample", "cell_type", "n_cells"}
    if samples is None or samples.empty or not need <= set(samples.columns):
        return None
    entries: dict[tuple[str, str], tuple[float, str]] = {}
    for rec in samples.to_dict("records"):
        key = (_text_value(rec["original_sample"]), _text_value(rec["cell_type"]))
        entries[key] = (_num(rec["n_cells"]) or 0.0, f"pseudo-sample {esc(rec.get('sample'))}")
    have_dropped = dropped is not None and not dropped.empty and need <= set(dropped.columns)
    if have_dropped:
        for rec in dropped.to_dict("records"):
            key = (_text_value(rec["original_sample"]), _text_value(rec["cell_type"]))
            entries.setdefault(
                key, (_num(rec["n_cells"]) or 0.0, f"dropped: {esc(rec.get('reason'))}")
            )
    order = []
    if cell_qc is not None and "sample" in cell_qc.columns:
        order = list(_text_column(cell_qc["sample"]))
    order += [s for s in _sheet_levels(samples, "original_sample") if s not in order]
    order += sorted({s for s, _ in entries} - set(order))
    order = list(dict.fromkeys(order))
    types = _sheet_levels(samples, "cell_type")
    types += sorted({c for _, c in entries} - set(types))
    z, text, hover = [], [], []
    for s in order:
        zr, tr, hr = [], [], []
        for c in types:
            n, what = entries.get((s, c), (None, "no cells"))
            is_dropped = what.startswith("dropped")
            zr.append(sig4(n) if n is not None else None)
            tr.append("" if n is None else f"{fmt_value(n)}{' ✕' if is_dropped else ''}")
            hr.append(
                f"<b>{esc(s)}</b> · {esc(c)}<br>{fmt_value(n) if n is not None else 0} "
                f"cells<br>{what}"
            )
        z.append(zr)
        text.append(tr)
        hover.append(hr)
    return {
        "data": [
            _annotated_heatmap(
                z,
                [esc(c) for c in types],
                [esc(s) for s in order],
                text,
                hover,
                text_size=10,
                colorscale=CELL_COUNT_COLOURSCALE,
                zmin=0,
                zmax=max([v for row in z for v in row if v is not None] or [1]),
                colorbar={"title": {"text": "cells"}, "thickness": 12},
            )
        ],
        "layout": {
            "title": {"text": "Cells per pseudo-sample (sample × cell type)"},
            "xaxis": {"side": "top", "automargin": True},
            "yaxis": {
                "autorange": "reversed",
                "automargin": True,
                "tickfont": {"size": 10 if len(order) <= 24 else 8},
            },
            "margin": {"l": 60, "r": 20, "t": 70, "b": 20},
        },
        "height": max(380, 110 + 18 * len(order)),
    }


def _text_value(value: Any) -> str:
    return "" if _is_missing(value) else str(value)


def _dropped_block(dropped: pd.DataFrame | None, settings: Mapping[str, Any]) -> str:
    min_cells = settings.get("min_cells")
    rule = f"fewer than {esc(fmt_value(min_cells))} cells" if min_cells is not None else ""
    if dropped is None or dropped.empty:
        at_least = (
            f": every sample × cell type had at least {esc(fmt_value(min_cells))} cells"
            if min_cells is not None
            else ""
        )
        return (
            f'<div class="box ok" id="pseudobulk-dropped"><b>No pseudo-sample dropped</b>'
            f"{at_least}.</div>"
        )
    cols = [
        c
        for c in ("sample", "original_sample", "cell_type", "n_cells", "reason")
        if c in dropped.columns
    ] or list(map(str, dropped.columns))
    rows = [
        [
            _num(rec[c]) if c == "n_cells" and _num(rec[c]) is not None else _text_value(rec[c])
            for c in cols
        ]
        for rec in dropped.to_dict("records")
    ]
    why = f" ({rule})" if rule else ""
    return (
        f'<div class="box warn" id="pseudobulk-dropped"><b>'
        f"{_plural(len(dropped), 'pseudo-sample')} dropped{why}</b>: they are left out of "
        "the pseudobulk counts, so their samples are missing from that cell type's contrasts."
        f"</div>"
        + html_table("table-pseudobulk-dropped", cols, rows, searchable=False, css_class="compact")
    )


def _single_cell_section(
    single_cell: Mapping[str, pd.DataFrame | None],
    samples: pd.DataFrame,
    program_calls: pd.DataFrame | None,
    config: Any,
) -> str:
    cells = single_cell.get("cells")
    cell_qc = single_cell.get("cell_qc")
    dropped = single_cell.get("dropped")
    settings = _single_cell_settings(config)
    out = ['<section id="single-cells"><h2>2b. Single cells</h2>']
    n_samples = len(cell_qc) if cell_qc is not None and not cell_qc.empty else None
    from_samples = f" from {_plural(n_samples, 'sample')}" if n_samples else ""
    n_dropped = 0 if dropped is None else len(dropped)
    out.append(
        '<p class="lead">Cells are filtered per sample, then the counts of each sample × cell '
        "type are summed into a pseudo-sample; the pseudo-samples are the samples of every "
        f"model and contrast in this report ({_plural(len(samples), 'pseudo-sample')}"
        f"{from_samples}, {n_dropped} dropped).</p>"
    )
    out += _cell_qc_block(cell_qc, settings)
    kept_fig = _cells_kept_figure(cell_qc)
    pseudo_fig = _pseudosample_figure(samples, dropped, cell_qc)
    if kept_fig or pseudo_fig:
        height = pseudo_fig.pop("height") if pseudo_fig else 380
        out.append('<div class="grid2">')
        if kept_fig:
            out.append(_figure("fig-cells-kept", kept_fig, height=max(380, min(height, 520))))
        if pseudo_fig:
            out.append(_figure("fig-pseudo-samples", pseudo_fig, height=height))
        out.append("</div>")
        if pseudo_fig:
            out.append(
                '<p class="small">Cells per pseudo-sample: the sheet\'s <code>n_cells</code>; '
                "✕ marks a pseudo-sample dropped for too few cells (hover for the reason).</p>"
            )
    out.append('<h3 id="pseudo-samples-dropped">Pseudo-samples dropped</h3>')
    out.append(_dropped_block(dropped, settings))

    out.append('<h3 id="umap">Cells in a UMAP</h3>')
    n_table = 0 if cells is None else len(cells)
    fig, info = umap_figure(cells, samples, program_calls, config) if n_table else (None, {})
    if fig is None:
        out.append('<p class="muted">No cells with UMAP coordinates.</p>')
    else:
        embedding = settings.get("embedding_cells")
        subsample = (
            f" (a seeded subsample of at most {esc(fmt_value(embedding))} kept cells)"
            if embedding is not None
            else ""
        )
        shown = (
            f"one of the {fmt_value(info['n_cells'])} scored cells{subsample}"
            if info["n_shown"] == info["n_cells"]
            else f"a cell: {fmt_value(info['n_shown'])} of the {fmt_value(info['n_cells'])} "
            f"scored cells{subsample} are drawn, evenly spread over samples and cell types"
        )
        out.append(
            f'<p class="small">Each dot is {shown}. '
            "The menu colours them by cell type, by a sample-sheet factor or by the per-cell "
            "score of a programme called up or down in at least one contrast "
            f"({_plural(info['n_programmes'], 'programme')}; module score: mean expression of the "
            "programme's genes minus that of matched control genes; colour range 1st–99th "
            "percentile). Hover for a cell's sample and cell type; drag to zoom, double-click "
            "to reset.</p>"
        )
        out.append(_figure("fig-umap", fig, height=640, css_class="square umap"))

    out.append('<h3 id="cell-scores">Per-cell programme scores</h3>')
    box, binfo = (
        cell_score_figure(cells, samples, program_calls, config)
        if n_table
        else (None, {"n_called": 0})
    )
    if box is None:
        out.append(
            '<p class="muted">No programme is called up or down in any contrast, so there are '
            "no per-cell score distributions to show.</p>"
            if n_table
            else '<p class="muted">No per-cell scores.</p>'
        )
    else:
        which = (
            f"each of the {binfo['n_shown']} programmes called"
            if binfo["n_shown"] == binfo["n_called"]
            else f"the {binfo['n_shown']} of {binfo['n_called']} called programmes with the "
            "largest |NES|"
        )
        by = (
            f"cell type and {esc(binfo['group'])} (other factors pooled)"
            if binfo["group"]
            else "cell type"
        )
        out.append(
            f'<p class="small">Per-cell scores of {which} up or down in at least one contrast, '
            f"by {by}, over all {fmt_value(n_table)} scored cells. Box: quartiles; line: "
            "median; dashed: mean; whiskers: the most extreme cells within 1.5 × IQR (cells "
            "beyond are not drawn).</p>"
        )
        out.append(_figure("fig-cell-scores", box, height=binfo["height"], css_class="cellscores"))
    out.append("</section>")
    return "\n".join(out)


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


def _volcano_ma(de: pd.DataFrame, alpha: float, fid: str, label: str) -> tuple[str, str]:
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
        f"Plotted: all {counts['n_sig_shown']} genes with padj &lt; {PLOT_PADJ}"
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
        '<div class="grid2">'
        + _figure(f"{fid}-volcano", vfig, height=400, css_class="volcano")
        + _figure(f"{fid}-ma", mfig, height=400, css_class="ma")
        + "</div>",
        f'<p class="small">{caption}</p>',
    )


def _pvalue_hist(de: pd.DataFrame, fid: str) -> str:
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
    return _figure(f"{fid}-pvalues", fig, height=260, css_class="phist")


def no_hits_reasons(
    de: pd.DataFrame,
    contrast_row: Mapping[str, Any],
    samples: pd.DataFrame,
    library_sizes: pd.DataFrame,
    outliers: Mapping[str, list[str]],
) -> list[str]:
    """Plain-language reasons why a contrast may have no gene with padj < alpha."""
    reasons = []
    n = _int(contrast_row.get("n_samples"), default=-1)
    sub = subset_samples(samples, contrast_row.get("subset")) if samples is not None else None
    smallest = None
    groups = _group_columns(samples) if samples is not None else []
    if sub is not None and not sub.empty and groups:
        smallest = int(sub.groupby(groups, dropna=False).size().min())
    if 0 <= n < FEW_SAMPLES or (smallest is not None and smallest < 3):
        detail = f"the model uses {n} samples" if n >= 0 else "few samples"
        if smallest is not None:
            detail += f" and the smallest group has {_plural(smallest, 'replicate')}"
        reasons.append(f"Few replicates: {detail}; power to detect single genes is low.")
    p = pd.to_numeric(de["pvalue"], errors="coerce").dropna()
    if len(p):
        frac = float((p < 0.05).mean())
        if frac < 1.5 * 0.05:
            reasons.append(
                f"The p-value histogram is flat: {100 * frac:.1f}% of p-values are below 0.05, "
                "about the 5% expected when nothing changes — there is little signal to find."
            )
        else:
            reasons.append(
                f"p-values are enriched near 0 ({100 * frac:.1f}% below 0.05 vs 5% expected), "
                "but no single gene survives the FDR correction: effects are likely small and "
                "spread over many genes; the programme-level GSEA can still detect them."
            )
    padj = pd.to_numeric(de["padj"], errors="coerce")
    if len(padj):
        filtered = float(padj.isna().mean())
        if filtered > HIGH_FILTERED_FRACTION:
            reasons.append(
                f"{100 * filtered:.0f}% of genes have no padj (independent filtering of "
                "low-count genes), so few genes were tested."
            )
    if library_sizes is not None and not library_sizes.empty and sub is not None:
        ls = library_sizes[library_sizes["sample"].astype(str).isin(sub["sample"].astype(str))]
        if not ls.empty:
            med = float(pd.to_numeric(ls["total_counts"], errors="coerce").median())
            if math.isfinite(med) and med < LOW_LIBRARY_SIZE:
                reasons.append(
                    f"Small libraries: median {fmt_value(med)} counts per sample in this model "
                    f"(< {LOW_LIBRARY_SIZE / 1e6:g} million) limits power for low-expressed genes."
                )
            bad = sorted(s for s in ls["sample"].astype(str) if s in outliers)
            if bad:
                reasons.append(
                    "Possible outlier sample(s) in this model inflate the variance: "
                    + ", ".join(bad)
                    + " (see Design & QC)."
                )
    if not reasons:
        reasons.append("No obvious technical cause: the biological effect may simply be small.")
    return reasons


def _top_genes_table(de: pd.DataFrame, table_id: str) -> str:
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
    return html_table(table_id, cols, rows, caption=f"Top {TOP_GENES} genes by padj")


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
    called["program"] = called["program"].astype(str)
    called = called[called["program"].isin(set(gene_sets))]
    counts["n_called"] = len(called)
    if called.empty:
        return None, counts
    called["_abs"] = -pd.to_numeric(called["NES"], errors="coerce").abs().fillna(0.0)
    called = called.sort_values(["_abs", "program"], kind="stable")
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
            es, running, hits = enrichment_score(ranking, gene_sets[r["program"]], weight)
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
            {
                "xref": f"{xa} domain",
                "yref": f"{ya} domain",
                "x": 0,
                "y": 1.02,
                "xanchor": "left",
                "yanchor": "bottom",
                "align": "left",
                "showarrow": False,
                "text": f"<b>{esc(r['program'])}</b><br>NES {nes}, FDR {fdr}, ES {sig4(es)}",
                "font": {"size": 10},
            }
        )
    return {"data": data, "layout": layout, "height": height}, counts


def _running_block(
    de: pd.DataFrame,
    calls: pd.DataFrame | None,
    gene_sets: Mapping[str, Sequence[str]] | None,
    sid: str,
    statistic: str,
    weight: float,
) -> str:
    if gene_sets is None or calls is None:
        return ""
    fig, counts = running_score_figure(de, calls, gene_sets, statistic=statistic, weight=weight)
    if fig is None:
        return (
            '<p class="small running-none">No programme is called up or down in this contrast, '
            "so there is no running-score plot.</p>"
            if counts["n_called"] == 0
            else ""
        )
    height = fig.pop("height")
    shown = (
        f"all {counts['n_shown']} called programmes"
        if counts["n_shown"] == counts["n_called"]
        else f"{counts['n_shown']} of {counts['n_called']} called programmes"
    )
    caption = (
        f"GSEA running enrichment score of {shown}, largest |NES| first, along the "
        f"{counts['n_genes']} genes ranked by <code>{esc(statistic)}</code> (highest first; "
        f"weight {fmt_value(weight)}). Ticks: the programme's genes; dotted line: where the "
        "statistic changes sign. Red: called up, blue: called down."
    )
    return (
        f'<h4 class="running-title">Programme running scores</h4><p class="small">{caption}</p>'
        + _figure(f"{sid}-running", fig, height=height, css_class="running")
    )


def _contrast_section(
    name: str,
    sid: str,
    row: Mapping[str, Any],
    de: pd.DataFrame | None,
    samples: pd.DataFrame,
    library_sizes: pd.DataFrame,
    outliers: Mapping[str, list[str]],
    running_html: str = "",
) -> str:
    alpha = _num(row.get("alpha"))
    alpha = alpha if alpha is not None and 0 < alpha < 1 else 0.05
    out = [f'<section class="contrast" id="{sid}"><h3>{esc(name)}</h3>']
    desc = row.get("description")
    if not _is_missing(desc):
        out.append(f'<p class="desc">{esc(desc)}</p>')
    meta = [
        ("kind", row.get("kind")),
        ("model", row.get("model")),
        ("design", row.get("design")),
        ("subset", row.get("subset") if not _is_missing(row.get("subset")) else "all samples"),
        ("samples", row.get("n_samples")),
        ("alpha", alpha),
    ]
    out.append(
        '<p class="meta">'
        + " · ".join(
            f"{esc(k)}: <code>{esc(fmt_value(v))}</code>" for k, v in meta if v is not None
        )
        + "</p>"
    )
    href = "../de/" + urllib.parse.quote(str(name), safe="") + ".tsv"
    if de is None or de.empty:
        out.append(
            f'<p class="warn">No DE table for this contrast. Full table (if any): '
            f'<a href="{esc(href)}">{esc(href)}</a></p></section>'
        )
        return "\n".join(out)
    up, down = _de_classes(de, alpha)
    n_up = _int(row.get("n_up"), default=int(up.sum()))
    n_down = _int(row.get("n_down"), default=int(down.sum()))
    tested = int(pd.to_numeric(de["padj"], errors="coerce").notna().sum())
    out.append(
        f'<div class="counts"><span class="up">▲ {n_up} up</span> '
        f'<span class="down">▼ {n_down} down</span> '
        f'<span class="muted">at padj &lt; {fmt_value(alpha)}; {tested} of {len(de)} genes '
        f'tested</span> · <a href="{esc(href)}">full table (TSV)</a></div>'
    )
    if not bool((pd.to_numeric(de["padj"], errors="coerce") < alpha).any()):
        reasons = no_hits_reasons(de, row, samples, library_sizes, outliers)
        out.append(
            f'<div class="box hint" id="{sid}-why"><b>Why nothing is significant here</b>'
            "<ul>" + "".join(f"<li>{esc(r)}</li>" for r in reasons) + "</ul></div>"
        )
    plots, caption = _volcano_ma(de, alpha, sid, esc(name))
    out.append(plots)
    out.append(caption)
    if running_html:
        out.append(running_html)
    out.append('<div class="grid2b">')
    out.append(_pvalue_hist(de, sid))
    out.append(f"<div>{_top_genes_table(de, f'{sid}-top')}</div>")
    out.append("</div></section>")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# 5. other libraries, 6. methods
# --------------------------------------------------------------------------------------------


def _prerank_table(table: pd.DataFrame | None, table_id: str) -> tuple[str, int]:
    """Top GSEA prerank terms of the libraries other than the programme catalogue."""
    if table is None or table.empty or "library" not in table.columns:
        return "", 0
    other = table[table["library"].astype(str) != PROGRAMS_LIBRARY]
    if other.empty:
        return "", 0
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
    return (
        html_table(
            table_id,
            cols,
            rows,
            searchable=False,
            caption=f"GSEA prerank: top {TOP_TERMS} of {len(other)} terms by FDR",
            css_class="compact",
        ),
        len(other),
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


def _ora_table(ora: pd.DataFrame | None, table_id: str) -> str:
    if ora is None or ora.empty or "direction" not in ora.columns:
        return ""
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
        return f'<p class="small ora-empty" id="{esc(table_id)}">{esc(caption)}: none.</p>'
    return html_table(table_id, cols, rows, searchable=False, caption=caption, css_class="compact")


def _enrichment_section(
    enrichment: Mapping[str, pd.DataFrame],
    order: list[str],
    ids: Mapping[str, str],
    ora: Mapping[str, pd.DataFrame] | None = None,
) -> str:
    out = [
        '<section id="enrichment"><h2>5. Gene-set tables: other libraries (GSEA) and '
        "over-representation (ORA)</h2>"
    ]
    blocks, any_prerank, any_ora = [], False, False
    for name in order:
        base = ids.get(name, "contrast-" + slugify(name))
        prerank, _ = _prerank_table((enrichment or {}).get(name), f"{base}-enrichment")
        ora_html = _ora_table((ora or {}).get(name), f"{base}-ora")
        if not prerank and not ora_html:
            continue
        any_prerank, any_ora = any_prerank or bool(prerank), any_ora or bool(ora_html)
        blocks.append(f'<h3 id="{base}-genesets">{esc(name)}</h3>')
        if prerank and ora_html:
            blocks.append(f'<div class="grid2"><div>{prerank}</div><div>{ora_html}</div></div>')
        else:
            blocks.append(prerank or ora_html)
    if not any_prerank:
        out.append("<p>No gene-set library other than the programme catalogue was run.</p>")
    if any_ora:
        out.append(
            '<p class="small">ORA (over-representation): for each library, the up- and the '
            "down-regulated genes (padj below the contrast's alpha) are tested separately for "
            "enrichment in each set, one-sided hypergeometric test against the tested genes as "
            "background, Benjamini–Hochberg FDR within library and direction. overlap = DE genes "
            "in the set / the set's tested genes. Unlike GSEA prerank, which uses every gene's "
            "rank, ORA only sees genes past the cut-off; the programme catalogue is included.</p>"
        )
    elif ora is not None:
        out.append("<p>No over-representation analysis was run (<code>enrichment: ora</code>).</p>")
    out.extend(blocks)
    out.append("</section>")
    return "\n".join(out)


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(obj, Mapping):
        items = []
        for k in sorted(obj, key=str):
            items.extend(_flatten(obj[k], f"{prefix}.{k}" if prefix else str(k)))
        return items
    return [(prefix, obj)]


def _config_text(config: Any) -> str:
    normal = json.loads(json.dumps(config, sort_keys=True, default=str))
    try:
        import yaml

        return yaml.safe_dump(normal, sort_keys=True, default_flow_style=False, allow_unicode=True)
    except ImportError:  # pragma: no cover - pyyaml is a dependency
        return json.dumps(normal, sort_keys=True, indent=2)


KEY_PARAMETER = re.compile(
    r"seed|filter|min|max|alpha|fdr|lfc|threshold|cutoff|permutation|perm|shrink|design|ref",
    re.IGNORECASE,
)


GENE_MAPPING_LABELS = {
    "id_type": "identifier type of the counts",
    "n": "genes in the counts",
    "n_mapped": "mapped to a symbol",
    "rate": "mapping rate",
    "n_alias_resolved": "outdated symbols renamed (aliases)",
    "n_ambiguous_alias": "ambiguous aliases (left as they were)",
    "n_many_to_one": "ids sharing a symbol with another id",
}


def _gene_mapping_block(gene_mapping: pd.DataFrame | None) -> str:
    if gene_mapping is None or gene_mapping.empty:
        return ""
    if {"key", "value"} <= set(gene_mapping.columns):
        pairs = [
            (str(k), v) for k, v in zip(gene_mapping["key"], gene_mapping["value"], strict=True)
        ]
    else:  # one row, one column per key
        first = gene_mapping.iloc[0].to_dict()
        pairs = [(str(k), v) for k, v in first.items()]
    values = dict(pairs)

    def show(key: str, value: Any) -> str:
        x = _num(value)
        if key == "rate" and x is not None and math.isfinite(x):
            return f"{100 * x:.1f}%"
        if x is not None and math.isfinite(x) and not isinstance(value, bool):
            return fmt_value(int(x) if x == int(x) else x)
        return "" if _is_missing(value) else str(value)

    out = ["<h3>Gene identifiers</h3>"]
    n, mapped = _num(values.get("n")), _num(values.get("n_mapped"))
    if n and mapped is not None:
        out.append(
            f"<p>{esc(show('n_mapped', mapped))} of {esc(show('n', n))} count-matrix ids "
            f"({esc(show('rate', values.get('rate', mapped / n)))}) map to a gene symbol used "
            "for gene-set "
            f"enrichment (identifier type: <code>{esc(values.get('id_type', 'unknown'))}</code>)."
            "</p>"
        )
    out.append(
        html_table(
            "table-gene-mapping",
            ["item", "value"],
            [[GENE_MAPPING_LABELS.get(k, k), show(k, v)] for k, v in pairs],
            searchable=False,
            css_class="compact",
        )
    )
    return "\n".join(out)


def _libraries_table(libraries: pd.DataFrame) -> str:
    wanted = (
        "library",
        "kind",
        "path",
        "sha256",
        "n_sets",
        "n_genes",
        "genes_in_data",
        "coverage",
    )
    cols = [c for c in wanted if c in libraries.columns]
    rows = []
    for r in libraries.to_dict("records"):
        row = []
        for c in cols:
            v = r.get(c)
            if c == "coverage":
                x = _num(v)
                row.append(f"{100 * x:.1f}%" if x is not None and math.isfinite(x) else "NA")
            elif c in ("n_sets", "n_genes", "genes_in_data"):
                x = _num(v)
                row.append(float("nan") if x is None else x)
            else:
                row.append("" if _is_missing(v) else str(v))
        rows.append(row)
    note = ""
    if "coverage" in cols:
        note = (
            '<p class="small">coverage: the fraction of a library\'s genes found in the data '
            "(genes_in_data / n_genes); a low coverage usually means the count-matrix ids are "
            "not the symbols the library uses.</p>"
        )
    return (
        "<h3>Gene-set libraries</h3>"
        + note
        + html_table("table-libraries", cols, rows, searchable=False, css_class="compact")
    )


def _methods_section(
    methods: Mapping[str, Any],
    contrasts: pd.DataFrame,
    libraries: pd.DataFrame,
    gene_mapping: pd.DataFrame | None = None,
) -> str:
    methods = methods or {}
    out = ['<section id="methods"><h2>6. Methods &amp; reproducibility</h2>']
    out.append(
        '<table class="kv"><tr><th>workflow version</th><td><code>'
        f"{esc(methods.get('workflow_version', 'unknown'))}</code></td></tr>"
        f'<tr><th>date</th><td><span class="report-date">{esc(methods.get("date", ""))}'
        "</span></td></tr></table>"
    )
    out.append(
        "<p>Pipeline: counts → QC (library sizes, VST, PCA, sample distances) → differential "
        "expression per model with PyDESeq2 (Wald tests, Benjamini–Hochberg padj, independent "
        "filtering: padj is NA for filtered genes) → GSEA prerank of each contrast's ranked "
        "genes against the curated programme catalogue and other libraries → programme calls "
        "(up/down/ns at the configured FDR) → dual-benefit verdict per therapy.</p>"
    )
    models = methods.get("models") or []
    if models:
        out.append("<h3>Models (design formulas)</h3>")
        out.append(
            html_table(
                "table-models",
                ["model", "design", "subset", "n_samples"],
                [
                    [
                        str(m.get("model", "")),
                        str(m.get("design", "")),
                        str(m.get("subset", "") or "all samples"),
                        _num(m.get("n_samples")) if _num(m.get("n_samples")) is not None else "",
                    ]
                    for m in models
                ],
                searchable=False,
            )
        )
    if contrasts is not None and not contrasts.empty:
        cols = [
            c
            for c in (
                "contrast",
                "model",
                "kind",
                "description",
                "design",
                "subset",
                "n_samples",
                "n_up",
                "n_down",
                "alpha",
            )
            if c in contrasts.columns
        ]
        rows = [[r.get(c) for c in cols] for r in contrasts.to_dict("records")]
        rows = [
            [("" if _is_missing(v) and not isinstance(v, float) else v) for v in r] for r in rows
        ]
        out.append("<h3>Contrasts</h3>")
        out.append(html_table("table-contrasts", cols, rows))
    config = methods.get("config") or {}
    keys = [(k, v) for k, v in _flatten(config) if KEY_PARAMETER.search(k)]
    if keys:
        out.append("<h3>Filters, thresholds and seeds</h3>")
        out.append(
            html_table(
                "table-key-params",
                ["parameter", "value"],
                [[k, json.dumps(v, sort_keys=True, default=str)] for k, v in keys],
                searchable=False,
                css_class="compact",
            )
        )
    out.append("<h3>All configuration parameters</h3>")
    out.append(f'<pre class="config">{esc(_config_text(config))}</pre>')
    gene_ids = _gene_mapping_block(gene_mapping)
    if gene_ids:
        out.append(gene_ids)
    if libraries is not None and not libraries.empty:
        out.append(_libraries_table(libraries))
    versions = methods.get("versions") or {}
    if versions:
        out.append("<h3>Package versions</h3>")
        out.append(
            html_table(
                "table-versions",
                ["package", "version"],
                [[str(k), str(versions[k])] for k in sorted(versions, key=str)],
                searchable=False,
                css_class="compact",
            )
        )
    inputs = methods.get("inputs") or []
    if inputs:
        out.append("<h3>Input files</h3>")
        out.append(
            html_table(
                "table-inputs",
                ["path", "sha256"],
                [[str(i.get("path", "")), str(i.get("sha256", ""))] for i in inputs],
                searchable=False,
                css_class="compact",
            )
        )
    out.append("</section>")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# page assembly
# --------------------------------------------------------------------------------------------

CSS = """
:root{--fg:#1d2327;--muted:#5f6b73;--line:#d9dee2;--bg:#f6f7f9;--card:#fff;
--ok:#1e8449;--bad:#b03a2e;--warn:#b9770e;--na:#6c7a89}
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;
color:var(--fg);background:var(--bg);line-height:1.45;font-size:15px}
header{background:#1f3a4d;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:1.45em}
header .sub{opacity:.85;font-size:.9em}
nav{position:sticky;top:0;z-index:10;background:#fff;border-bottom:1px solid var(--line);
padding:6px 24px;font-size:.9em;white-space:nowrap;overflow-x:auto}
nav a{margin-right:14px;color:#1f5f8b;text-decoration:none}
nav select{font-size:.95em;max-width:320px}
main{max-width:1400px;margin:0 auto;padding:8px 24px 40px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;
padding:6px 20px 16px;margin:16px 0;scroll-margin-top:44px}
section.contrast{border-left:4px solid #1f5f8b;margin:18px 0;padding-top:2px}
h2{font-size:1.3em;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:1.1em;margin:14px 0 6px}
h4{font-size:1em;margin:14px 0 2px}
.lead{font-size:1.02em}
.small,.muted{color:var(--muted);font-size:.85em}
code{font-size:.9em;background:#f0f2f4;padding:0 3px;border-radius:3px}
.chips .chip{display:inline-block;padding:3px 10px;border-radius:12px;margin:2px 6px 2px 0;
font-weight:600;color:#fff;background:var(--na)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:14px}
.card{border:1px solid var(--line);border-top:6px solid var(--na);border-radius:8px;
padding:10px 14px}
.v-dual_benefit{border-top-color:var(--ok)} .chip.v-dual_benefit{background:var(--ok)}
.v-no_dual_benefit{border-top-color:var(--bad)} .chip.v-no_dual_benefit{background:var(--bad)}
.v-unclear{border-top-color:var(--warn)} .chip.v-unclear{background:var(--warn)}
.v-incomplete{border-top-color:var(--na)} .chip.v-incomplete{background:var(--na)}
.cardhead{display:flex;justify-content:space-between;align-items:center;gap:8px}
.therapy{font-size:1.25em;font-weight:700;display:inline-block}
.therapy::first-letter{text-transform:uppercase}
.badge{font-weight:700;padding:3px 10px;border-radius:4px;background:#eef0f2}
.card.v-dual_benefit .badge{background:#d5f5e3;color:var(--ok)}
.card.v-no_dual_benefit .badge{background:#fadbd8;color:var(--bad)}
.card.v-unclear .badge{background:#fdebd0;color:var(--warn)}
.summary{margin:8px 0}
.summary .pname{font-size:.84em;font-family:ui-monospace,Menlo,Consolas,monospace;
color:#34495e}
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin:0 3px 0 6px;
vertical-align:-1px}
.legend-factor{margin-right:18px;white-space:nowrap}
.reason{margin:-2px 0 8px;font-size:.92em;color:var(--muted)}
.flag{display:inline-block;background:#fadbd8;color:#922b21;border:1px solid #e6b0aa;
border-radius:4px;padding:1px 7px;margin:2px 4px 2px 0;font-weight:600;font-size:.9em}
.noflag{color:var(--ok);font-size:.9em}
table{border-collapse:collapse;font-size:.85em}
table.kv th{text-align:left;font-weight:500;color:var(--muted);padding:1px 12px 1px 0}
table.kv td{padding:1px 0}
.tablewrap{overflow:auto;max-height:460px;border:1px solid var(--line);border-radius:4px}
table.sortable{width:100%}
table.sortable th{position:sticky;top:0;background:#eef1f4;cursor:pointer;text-align:left;
padding:4px 8px;border-bottom:1px solid var(--line);white-space:nowrap;user-select:none}
table.sortable th[data-dir=asc]::after{content:" ▲"}
table.sortable th[data-dir=desc]::after{content:" ▼"}
table.sortable td{padding:3px 8px;border-bottom:1px solid #eef0f2;vertical-align:top}
table.sortable td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.sortable tbody tr:hover{background:#f7fafc}
table.calls td:last-child{font-size:.85em;color:var(--muted);max-width:520px}
table.compact td{font-size:.95em}
caption{caption-side:top;text-align:left;color:var(--muted);padding:2px}
.tsearch{margin:6px 0}
.tsearch input{padding:4px 8px;width:260px;border:1px solid #b9c2c9;border-radius:4px}
.box{border-radius:6px;padding:8px 14px;margin:10px 0}
.box ul{margin:4px 0 4px 18px;padding:0}
.box.warn,.warn{background:#fef5e7;border:1px solid #f5cba7}
.box.ok{background:#eafaf1;border:1px solid #abebc6}
.box.hint{background:#ebf5fb;border:1px solid #aed6f1}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:12px}
.grid2b{display:grid;grid-template-columns:minmax(300px,1fr) minmax(460px,2fr);gap:12px;
align-items:start}
.plot{width:100%}
.plot.square{max-width:980px}
.counts{margin:4px 0 8px}.counts .up{color:var(--bad);font-weight:700}
.counts .down{color:#2166ac;font-weight:700;margin-left:8px}
.desc{margin:2px 0;font-size:1.02em}.meta{margin:2px 0;color:var(--muted);font-size:.85em}
pre.config{background:#f4f6f8;border:1px solid var(--line);border-radius:4px;padding:8px;
max-height:420px;overflow:auto;font-size:.82em}
table.sortable.compact{width:auto;min-width:50%}
@media print{nav{display:none}.tablewrap,pre.config{max-height:none}}
"""

JS = r"""
(function(){
"use strict";
function cellValue(td){
  var v=td.getAttribute("data-v");
  if(v!==null){var x=parseFloat(v);return {num:true,v:x};}
  return {num:false,v:td.textContent.trim().toLowerCase()};
}
function sortBy(th){
  var table=th.closest("table"),tbody=table.tBodies[0];
  var idx=Array.prototype.indexOf.call(th.parentNode.children,th);
  var asc=th.getAttribute("data-dir")!=="asc";
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(h){h.removeAttribute("data-dir");});
  th.setAttribute("data-dir",asc?"asc":"desc");
  var rows=Array.prototype.slice.call(tbody.rows);
  rows.sort(function(a,b){
    var x=cellValue(a.cells[idx]),y=cellValue(b.cells[idx]);
    if(x.num&&y.num){
      var xn=isNaN(x.v),yn=isNaN(y.v);
      if(xn||yn){return xn===yn?0:(xn?1:-1);}
      return asc?x.v-y.v:y.v-x.v;
    }
    var c=String(x.v).localeCompare(String(y.v),undefined,{numeric:true});
    return asc?c:-c;
  });
  rows.forEach(function(r){tbody.appendChild(r);});
}
document.querySelectorAll("table.sortable thead th").forEach(function(th){
  th.addEventListener("click",function(){sortBy(th);});
});
document.querySelectorAll("input.table-search").forEach(function(inp){
  var table=document.getElementById(inp.getAttribute("data-table"));
  var count=document.querySelector('span.tcount[data-table="'+inp.getAttribute("data-table")+'"]');
  inp.addEventListener("input",function(){
    var q=inp.value.trim().toLowerCase(),shown=0,rows=table.tBodies[0].rows;
    for(var i=0;i<rows.length;i++){
      var hit=!q||rows[i].textContent.toLowerCase().indexOf(q)>=0;
      rows[i].hidden=!hit; if(hit){shown++;}
    }
    if(count){count.textContent=(q?shown+" of "+rows.length:rows.length)+" rows";}
  });
});
var jump=document.getElementById("contrast-jump");
if(jump){jump.addEventListener("change",function(){
  if(jump.value){document.getElementById(jump.value).scrollIntoView();}
});}
var divs=Array.prototype.slice.call(document.querySelectorAll("div.plot[data-fig]"));
if(typeof Plotly==="undefined"){
  divs.forEach(function(d){d.textContent="Plotly failed to load.";});
  return;
}
var config=JSON.parse(document.getElementById("plotly-config").textContent);
var i=0;
function next(){
  if(i>=divs.length){document.documentElement.setAttribute("data-plots","done");return;}
  var d=divs[i++];
  try{
    var spec=JSON.parse(document.getElementById(d.getAttribute("data-fig")).textContent);
    Plotly.newPlot(d,spec.data,spec.layout,config).then(function(){setTimeout(next,0);},
      function(e){console.error("plot "+d.id+": "+e);setTimeout(next,0);});
  }catch(e){console.error("plot "+d.id+": "+e);setTimeout(next,0);}
}
next();
})();
"""


def _therapy_none_level(config: Any) -> Any:
    """The sample-sheet level meaning 'no therapy' (``roles.therapy.none``, default 'none')."""
    try:
        level = config["roles"]["therapy"]["none"]
    except (KeyError, TypeError):
        return "none"
    return "none" if _is_missing(level) else level


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    # a literal "</script" would end the element early; the bundle has none, but be safe
    return js.replace("</script", "<\\/script")


def render_report(
    *,
    samples: pd.DataFrame,
    library_sizes: pd.DataFrame,
    pca: pd.DataFrame,
    pca_variance: pd.DataFrame,
    distances: pd.DataFrame,
    contrasts: pd.DataFrame,
    de: Mapping[str, pd.DataFrame],
    enrichment: Mapping[str, pd.DataFrame],
    program_calls: pd.DataFrame,
    dual_benefit: pd.DataFrame,
    libraries: pd.DataFrame,
    methods: Mapping[str, Any],
    title: str = DEFAULT_TITLE,
    sample_scores: pd.DataFrame | None = None,
    ora: Mapping[str, pd.DataFrame] | None = None,
    gene_mapping: pd.DataFrame | None = None,
    programme_gene_sets: Mapping[str, Sequence[str]] | None = None,
    single_cell: Mapping[str, pd.DataFrame | None] | None = None,
) -> str:
    """The whole report as one self-contained HTML string (see the module docstring).

    Optional inputs (a section or figure is left out when its input is None):
    ``sample_scores`` (``sample`` + one column per programme; only ``sample`` when disabled),
    ``ora`` (contrast -> ORA table), ``gene_mapping`` (key/value rows of the gene-id mapping)
    and ``programme_gene_sets`` (programme -> genes, for the GSEA running-score plots; the
    ranking statistic and weight come from ``methods["config"]["enrichment"]``) and
    ``single_cell`` (single-cell runs only: ``cells`` -- one row per scored cell with ``cell``,
    ``sample``, ``cell_type``, the factors, ``UMAP1``/``UMAP2`` and one score column per
    programme --, ``cell_qc`` and ``dropped``; ``samples`` is then the pseudobulk sheet with
    ``original_sample``, ``cell_type`` and ``n_cells``), which adds the "Single cells"
    section."""
    de = dict(de or {})
    enrichment = dict(enrichment or {})
    methods = dict(methods or {})
    samples = samples.copy()
    samples["sample"] = samples["sample"].astype(str)
    order: list[str] = []
    if contrasts is not None and not contrasts.empty:
        order = [str(c) for c in contrasts["contrast"]]
    order += [str(c) for c in de if str(c) not in order]
    ids = contrast_ids(order)
    rows_by_name = (
        {str(r["contrast"]): r for r in contrasts.to_dict("records")}
        if contrasts is not None and not contrasts.empty
        else {}
    )
    outliers = find_outliers(samples, library_sizes, pca)
    config = methods.get("config") or {}
    settings = config.get("enrichment") or {} if isinstance(config, Mapping) else {}
    statistic = str(settings.get("statistic") or "stat")
    weight = _num(settings.get("weight"))
    weight = weight if weight is not None and math.isfinite(weight) else 1.0
    none_level = _therapy_none_level(config)
    calls_by_contrast = (
        {str(c): t for c, t in program_calls.groupby(program_calls["contrast"].astype(str))}
        if program_calls is not None and not program_calls.empty
        else {}
    )
    gene_sets = (
        {str(k): [str(g) for g in v] for k, v in programme_gene_sets.items()}
        if programme_gene_sets is not None
        else None
    )

    contrast_html = []
    for name in order:
        running = ""
        if gene_sets is not None and de.get(name) is not None and not de[name].empty:
            running = _running_block(
                de[name],
                calls_by_contrast.get(name, pd.DataFrame(columns=["program", "call", "NES"])),
                gene_sets,
                ids[name],
                statistic,
                weight,
            )
        contrast_html.append(
            _contrast_section(
                name,
                ids[name],
                rows_by_name.get(name, {"contrast": name}),
                de.get(name),
                samples,
                library_sizes,
                outliers,
                running,
            )
        )
    jump = "".join(f'<option value="{ids[n]}">{esc(n)}</option>' for n in order)
    cells_link = '<a href="#single-cells">Single cells</a>' if single_cell is not None else ""
    nav = (
        '<nav><a href="#verdict">Verdict</a><a href="#qc">Design &amp; QC</a>'
        f"{cells_link}"
        '<a href="#programmes">Programmes</a><a href="#contrasts">Contrasts</a>'
        '<a href="#enrichment">Gene-set tables</a><a href="#methods">Methods</a>'
        f'<select id="contrast-jump" aria-label="jump to contrast"><option value="">jump to '
        f"contrast…</option>{jump}</select></nav>"
    )
    toc = "".join(
        f'<li><a href="#{ids[n]}">{esc(n)}</a>'
        + (
            f" — {esc(rows_by_name[n].get('description'))}"
            if n in rows_by_name and not _is_missing(rows_by_name[n].get("description"))
            else ""
        )
        + "</li>"
        for n in order
    )
    body = [
        f"<header><h1>{esc(title)}</h1><div class='sub'>Generated "
        f'<span class="report-date">{esc(methods.get("date", ""))}</span> · workflow '
        f"{esc(methods.get('workflow_version', 'unknown'))} · {len(samples)} "
        f"{'pseudo-samples' if single_cell is not None else 'samples'} · "
        f"{_plural(len(order), 'contrast')}</div></header>",
        nav,
        "<main>",
        _verdict_section(dual_benefit, program_calls, none_level),
        _qc_section(samples, library_sizes, pca, pca_variance, distances, outliers),
        *(
            [_single_cell_section(single_cell, samples, program_calls, config)]
            if single_cell is not None
            else []
        ),
        _programmes_section(program_calls, order, samples, sample_scores),
        '<section id="contrasts"><h2>4. Differential expression per contrast</h2>'
        f"<ul class='toc'>{toc}</ul></section>",
        *contrast_html,
        _enrichment_section(enrichment, order, ids, ora),
        _methods_section(methods, contrasts, libraries, gene_mapping),
        "</main>",
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(body)
        + f'\n<script type="application/json" id="plotly-config">{_json(PLOTLY_CONFIG)}</script>'
        + f'\n<script type="text/javascript">{_plotly_js()}</script>'
        + f"\n<script>{JS}</script>\n</body></html>\n"
    )


def write_report(html_text: str, path: str | Path) -> Path:
    """Write the report atomically: a temporary file in the same folder, then a rename."""
    from .tables import write_text_atomic

    write_text_atomic(html_text, path)
    return Path(path)
