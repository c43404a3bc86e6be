"""Section 1, the verdict: one card per row of ``results/programmes/dual_benefit.tsv``.

The verdict and its prose belong to the verdict's owner (``msc_secretome.verdict``: the table's
``verdict``, ``summary``, ``explanation``, ``design_summary`` columns and the stability
threshold); this module only lays out what the table says. A card is headed by its receiver
group(s) x exposure x therapy arm, leads with the row's ``summary``, notes what the design could
not measure and gives the leave-one-out stability beside the badge. Any other column the
verdict owner adds later is shown under its own name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..programme_definitions import definitions_note
from ..verdict import STABLE
from .constants import (
    NO_THERAPY_IN_STUDY,
    THERAPY_NONE_LABEL,
    VERDICT_HEADING,
    VERDICT_LABEL,
    VERDICT_LABEL_BY_DESIGN,
    VERDICT_QUESTION,
    VERDICT_WORDS,
)
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
    "receiver_group",
    "exposure",
    "control",
    "verdict",
    "summary",
    "explanation",
    "not_measured",
    "design_summary",
    "risk_flags",
    "programme_definitions",
    "stability",
    "stability_refits",
    "flipped_programmes",
    "unstable_when",
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


def card_head(row: Mapping[str, Any], none_level: Any = "none") -> str:
    """A card's head: receiver group(s) · exposure vs control · therapy arm.

    e.g. ``"HCT116 · BM-MSC CM vs control · cisplatin 5 uM"``. A study without therapy
    (``therapy`` "") gets no therapy part; the no-therapy level reads 'no therapy'. Tables
    without the receiver/exposure columns are headed by the therapy alone.
    """
    parts = []
    if not _is_missing(row.get("receiver_group")):
        parts.append(str(row["receiver_group"]))
    exposure, control = row.get("exposure"), row.get("control")
    if not _is_missing(exposure):
        parts.append(f"{exposure} vs {control}" if not _is_missing(control) else str(exposure))
    therapy = therapy_label(row.get("therapy"), none_level)
    if therapy:
        parts.append(therapy)
    return " · ".join(parts) or NO_THERAPY_IN_STUDY


def verdict_badge(verdict: str, design_answer: Any = None) -> str:
    """The badge label of a verdict; 'unclear' names the side when only one was measured."""
    answer = None if _is_missing(design_answer) else str(design_answer)
    return VERDICT_LABEL_BY_DESIGN.get((verdict, answer), VERDICT_LABEL.get(verdict, verdict))


def stability_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """The leave-one-out stability of a row as its card shows it.

    Returns ``{"computed", "unstable", "text", "unstable_when": [str], "flipped": [str]}``;
    e.g. text ``"stable in 5/6 leave-one-out refits (0.83)"``. Below the verdict owner's
    threshold (:data:`msc_secretome.verdict.STABLE`) the row is ``unstable``; no refits (or
    no stability column) reads 'stability not computed'.
    """
    refits, stability = row.get("stability_refits"), row.get("stability")
    out = {
        "unstable_when": _split_list(row.get("unstable_when")),
        "flipped": _split_list(row.get("flipped_programmes")),
    }
    if _is_missing(refits) or _is_missing(stability) or int(refits) == 0:
        return {**out, "computed": False, "unstable": False, "text": "stability not computed"}
    refits, stability = int(refits), float(stability)
    same = int(round(stability * refits))
    unstable = stability < STABLE
    words = "not stable: holds in" if unstable else "stable in"
    text = f"{words} {same}/{refits} leave-one-out refits ({stability:.2f})"
    return {**out, "computed": True, "unstable": unstable, "text": text}


def design_question(dual_benefit: pd.DataFrame) -> str:
    """Which question the section asks: ``cancer_only`` or ``normal_only`` when every row's
    ``design_answer`` is that, else ``dual_benefit`` (also for tables without the column)."""
    if "design_answer" not in dual_benefit.columns:
        return "dual_benefit"
    answers = {str(a) for a in dual_benefit["design_answer"] if not _is_missing(a)}
    if len(answers) == 1 and answers <= {"cancer_only", "normal_only"}:
        return answers.pop()
    return "dual_benefit"


def design_summaries(dual_benefit: pd.DataFrame) -> list[str]:
    """The table's ``design_summary`` sentences, each once, in table order."""
    if "design_summary" not in dual_benefit.columns:
        return []
    return [str(t) for t in dict.fromkeys(dual_benefit["design_summary"]) if not _is_missing(t)]


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


def potentiation_text(row: Mapping[str, Any], programme_calls: pd.DataFrame | None) -> str:
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
    if programme_calls is not None and not programme_calls.empty:
        called = programme_calls[
            (programme_calls["contrast"].astype(str) == str(contrast))
            & (programme_calls["category"] == "cytotoxic")
            & programme_calls["call"].isin(["up", "down"])
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
    i: int, row: Mapping[str, Any], programme_calls, none_level, verdict_factors=None
) -> dict[str, Any]:
    verdict = str(row.get("verdict", "unclear"))
    flags = _split_list(row.get("risk_flags"))
    components = []
    for key, name in COMPONENTS:
        if key in row:
            value = (
                potentiation_text(row, programme_calls)
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
    has_summary = not _is_missing(row.get("summary"))
    lead = row.get("summary") if has_summary else row.get("explanation")
    not_measured = row.get("not_measured")
    return {
        "id": f"verdict-{i + 1}",
        "css": f"v-{slugify(verdict)}",
        "head": card_head(row, none_level),
        "verdict": verdict,
        "badge": verdict_badge(verdict, row.get("design_answer")),
        "stability": stability_view(row),
        "risk_flags": flags,
        "lead": programme_segments(lead),
        "explanation": programme_segments(row.get("explanation")) if has_summary else [],
        "not_measured": None if _is_missing(not_measured) else str(not_measured),
        "evidence": evidence,
        "factors": factor_chains(row, verdict_factors),
        "rows": components + contrasts + extra,
    }


def verdict_view(
    dual_benefit: pd.DataFrame | None,
    programme_calls: pd.DataFrame | None = None,
    none_level: Any = "none",
    verdict_factors: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The verdict section's view model: its question, the design, one chip and card per row.

    ``dual_benefit``: the verdict owner's table, one row per receiver group(s) x exposure x
    therapy arm (``verdict`` and ``explanation`` required for a card; the other columns,
    ``summary``, ``design_answer``, ``not_measured``, ``design_summary``, ``stability``...,
    optional). The heading and question follow the rows' design answers
    (:func:`design_question`); the rule is the table's ``verdict_rule`` (or ``rule``/
    ``question``) column when present. ``programme_calls`` only tells whether a zero
    potentiation means "nothing called". ``verdict_factors``
    (``results/secretome/verdict_factors.tsv``, secretome runs) gives each card the ranked
    factor chains of its contrasts.

    Returns a dict with ``empty``, ``heading``, ``question``, ``rule``, ``design`` (list of
    sentences), ``definitions``, ``chips`` (one per card: ``href``, ``css``, ``head``,
    ``words``, ``n_flags``, ``unstable``) and ``cards``.
    """
    definitions = programme_definitions(dual_benefit, programme_calls)
    if dual_benefit is None or dual_benefit.empty:
        return {
            "empty": True,
            "heading": VERDICT_HEADING["dual_benefit"],
            "question": VERDICT_QUESTION["dual_benefit"],
            "rule": None,
            "design": [],
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
    question = design_question(dual_benefit)
    cards = [_card(i, r, programme_calls, none_level, verdict_factors) for i, r in enumerate(rows)]
    chips = [
        {
            "href": f"#{card['id']}",
            "css": card["css"],
            "head": card["head"],
            "words": VERDICT_WORDS.get(card["verdict"], card["verdict"]),
            "n_flags": len(card["risk_flags"]),
            "unstable": card["stability"]["unstable"],
        }
        for card in cards
    ]
    return {
        "empty": False,
        "heading": VERDICT_HEADING[question],
        "question": VERDICT_QUESTION[question],
        "rule": rule,
        "design": design_summaries(dual_benefit),
        "chips": chips,
        "cards": cards,
        "definitions": definitions,
    }
