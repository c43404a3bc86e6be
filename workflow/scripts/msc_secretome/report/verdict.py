"""Section 1, the verdict: one card per row of ``results/programs/dual_benefit.tsv``.

The verdict and its prose belong to the verdict's owner (the table's ``verdict`` and
``explanation`` columns); this module only lays out what the table says. Cards are generic over
the table's columns: the known ones get their labels, any column the verdict owner adds later
(``receiver_group``, ``exposure``, ``stability``...) is shown under its own name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..programme_definitions import definitions_note
from .constants import THERAPY_NONE_LABEL, VERDICT_LABEL, VERDICT_WORDS
from .formatting import _is_missing, _split_list, fmt_value, slugify

#: Optional columns of the verdict owner that state the rule or question the verdict answers.
RULE_COLUMNS = ("verdict_rule", "rule", "question")
COMPONENTS = (
    ("cancer_gain", "cancer gain"),
    ("potentiation", "potentiation"),
    ("normal_protection", "normal protection"),
    ("cytotoxic_up", "cytotoxic ↑ (cancer)"),
    ("protective_up", "protective ↑ (normal)"),
    ("damage_down", "damage ↓ (normal)"),
    ("adverse_cancer", "adverse (cancer)"),
    ("adverse_normal", "adverse (normal)"),
)
CONTRASTS = (
    ("cancer_contrast", "cancer contrast"),
    ("potentiation_contrast", "potentiation contrast"),
    ("normal_contrast", "normal contrast"),
)
EVIDENCE = (("cancer_evidence", "evidence (cancer)"), ("normal_evidence", "evidence (normal)"))
#: Columns a card shows in its head or not at all (everything else is a row of the card).
HEADLINE = (
    "therapy",
    "verdict",
    "explanation",
    "risk_flags",
    "programme_definitions",
    *RULE_COLUMNS,
)
#: The ``programme_definitions`` note of the built-in human catalogue (not shown: the default).
BUILTIN_DEFINITIONS = definitions_note("builtin", "human", [])
_PROGRAMME_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def therapy_label(therapy: Any, none_level: Any = "none") -> str:
    """The therapy as a heading shows it: the no-therapy level reads 'no therapy'."""
    text = "" if _is_missing(therapy) else str(therapy)
    if not _is_missing(none_level) and text == str(none_level):
        return THERAPY_NONE_LABEL
    return text


def programme_segments(text: Any) -> list[dict[str, Any]]:
    """``text`` cut into pieces, programme identifiers (``CYT_FERROPTOSIS``) marked as such.

    Returns a list of ``{"text": str, "programme": bool}``; joined, the texts give ``text``.
    """
    text = "" if _is_missing(text) else str(text)
    out, start = [], 0
    for match in _PROGRAMME_NAME.finditer(text):
        if match.start() > start:
            out.append({"text": text[start : match.start()], "programme": False})
        out.append({"text": match.group(0), "programme": True})
        start = match.end()
    if start < len(text):
        out.append({"text": text[start:], "programme": False})
    return out


def potentiation_text(row: Mapping[str, Any], program_calls: pd.DataFrame | None) -> str:
    """The potentiation value in words where a bare number would mislead.

    No interaction contrast (e.g. without therapy): 'not applicable'; a score of 0 because no
    cytotoxic programme was called in the interaction contrast says so (it is not a measured
    zero effect).
    """
    value, contrast = row.get("potentiation"), row.get("potentiation_contrast")
    if _is_missing(contrast):
        return "not applicable (no interaction contrast)"
    if _is_missing(value):
        return "NA (no cytotoxic programme tested in the interaction)"
    called = pd.DataFrame()
    if program_calls is not None and not program_calls.empty:
        called = program_calls[
            (program_calls["contrast"].astype(str) == str(contrast))
            & (program_calls["category"] == "cytotoxic")
            & program_calls["call"].isin(["up", "down"])
        ]
    if float(value) == 0 and called.empty:
        return "0 (no cytotoxic programme called in the interaction)"
    return fmt_value(value)


def factor_chains(
    row: Mapping[str, Any], verdict_factors: pd.DataFrame | None
) -> list[dict[str, Any]]:
    """The secretome's ranked factor chains for a card's contrasts (``verdict_factors.tsv``).

    Returns one ``{"label", "contrast", "chains": [str, ...]}`` per contrast of the card
    (cancer, potentiation, normal) that has ranked chains, chains in rank order.
    """
    if verdict_factors is None or verdict_factors.empty:
        return []
    by_contrast = verdict_factors.assign(_c=verdict_factors["contrast"].astype(str))
    out = []
    for key, label in CONTRASTS:
        contrast = row.get(key)
        if _is_missing(contrast):
            continue
        block = by_contrast[by_contrast["_c"] == str(contrast)]
        block = block.sort_values("rank", kind="mergesort") if "rank" in block else block
        chains = [str(c) for c in block["chain"] if not _is_missing(c)]
        if chains:
            out.append({"label": label, "contrast": str(contrast), "chains": chains})
    return out


def programme_definitions(*tables: pd.DataFrame | None) -> list[str]:
    """The run's ``programme_definitions`` notes (first table that has the column), unless
    they are the built-in human catalogue's: what the verdict section states once."""
    for table in tables:
        if table is not None and "programme_definitions" in table.columns:
            notes = [str(n) for n in dict.fromkeys(table["programme_definitions"])]
            return [n for n in notes if not _is_missing(n) and n != BUILTIN_DEFINITIONS]
    return []


def _card(
    i: int, row: Mapping[str, Any], program_calls, none_level, verdict_factors=None
) -> dict[str, Any]:
    verdict = str(row.get("verdict", "unclear"))
    flags = _split_list(row.get("risk_flags"))
    label = VERDICT_LABEL.get(verdict, verdict)
    components = []
    for key, name in COMPONENTS:
        if key in row:
            value = (
                potentiation_text(row, program_calls)
                if key == "potentiation"
                else fmt_value(row.get(key))
            )
            components.append({"label": name, "value": value, "code": False})
    contrasts = [
        {"label": name, "value": "—" if _is_missing(row[key]) else str(row[key]), "code": True}
        for key, name in CONTRASTS
        if key in row
    ]
    evidence = [
        {"label": name, "segments": programme_segments(", ".join(_split_list(row[key])) or "—")}
        for key, name in EVIDENCE
        if key in row
    ]
    known = {k for k, _ in (*COMPONENTS, *CONTRASTS, *EVIDENCE)} | set(HEADLINE)
    extra = [
        {"label": str(key), "value": "—" if _is_missing(v) else fmt_value(v), "code": False}
        for key, v in row.items()
        if key not in known
    ]
    return {
        "id": f"verdict-{i + 1}",
        "css": f"v-{slugify(verdict)}",
        "therapy": therapy_label(row.get("therapy"), none_level),
        "verdict": verdict,
        "badge": label,
        "risk_flags": flags,
        "explanation": programme_segments(row.get("explanation")),
        "evidence": evidence,
        "factors": factor_chains(row, verdict_factors),
        "rows": components + contrasts + extra,
    }


def verdict_view(
    dual_benefit: pd.DataFrame | None,
    program_calls: pd.DataFrame | None = None,
    none_level: Any = "none",
    verdict_factors: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The verdict section's view model: the rule, one chip and one card per therapy.

    ``dual_benefit``: the verdict owner's table, one row per therapy (``verdict`` and
    ``explanation`` required for a card; other columns optional). ``program_calls`` only
    tells whether a zero potentiation means "nothing called". The rule is the table's
    ``verdict_rule`` (or ``rule``/``question``) column when present. ``verdict_factors``
    (``results/secretome/verdict_factors.tsv``, secretome runs) gives each card the ranked
    factor chains of its contrasts.
    """
    definitions = programme_definitions(dual_benefit, program_calls)
    if dual_benefit is None or dual_benefit.empty:
        return {
            "empty": True,
            "rule": None,
            "chips": [],
            "cards": [],
            "definitions": definitions,
        }
    rows = dual_benefit.to_dict("records")
    rule = None
    for column in RULE_COLUMNS:
        if column in dual_benefit.columns:
            texts = [str(t) for t in dual_benefit[column] if not _is_missing(t)]
            rule = texts[0] if texts else None
            break
    chips = [
        {
            "css": f"v-{slugify(str(r.get('verdict', 'unclear')))}",
            "therapy": therapy_label(r.get("therapy"), none_level),
            "words": VERDICT_WORDS.get(str(r.get("verdict")), str(r.get("verdict"))),
            "n_flags": len(_split_list(r.get("risk_flags"))),
        }
        for r in rows
    ]
    cards = [_card(i, r, program_calls, none_level, verdict_factors) for i, r in enumerate(rows)]
    return {
        "empty": False,
        "rule": rule,
        "chips": chips,
        "cards": cards,
        "definitions": definitions,
    }
