"""verdict"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from .constants import THERAPY_NONE_LABEL, VERDICT_LABEL, VERDICT_WORDS
from .formatting import _int, _is_missing, _plural, _split_list, esc, fmt_value, slugify

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
