"""The verdict section's view model: what the verdict owner's table says, laid out per card."""

from __future__ import annotations

import pandas as pd

from msc_secretome.report import potentiation_text, programme_segments, verdict_view

ROW = {
    "therapy": "radiation",
    "cancer_contrast": "cancer_cm_vs_ctrl_radiation",
    "potentiation_contrast": "cancer_cm_x_radiation",
    "normal_contrast": "normal_cm_vs_ctrl_radiation",
    "cancer_gain": 0.5,
    "potentiation": 0.0,
    "normal_protection": 0.25,
    "cytotoxic_up": 1,
    "protective_up": 1,
    "damage_down": 0,
    "adverse_cancer": 0,
    "adverse_normal": 0,
    "verdict": "dual_benefit",
    "risk_flags": "RISK_EMT",
    "cancer_evidence": "CYT_APOPTOSIS",
    "normal_evidence": "REG_WOUND",
    "explanation": "Under radiation, the secretome raised 1 cytotoxic programme. Risk: RISK_EMT.",
}
CALLS = pd.DataFrame(
    {
        "contrast": ["cancer_cm_x_radiation"],
        "programme": ["CYT_APOPTOSIS"],
        "category": ["cytotoxic"],
        "call": ["ns"],
    }
)


def test_card_states_the_tables_verdict_and_explanation() -> None:
    view = verdict_view(pd.DataFrame([ROW]), CALLS)
    assert view["empty"] is False and view["rule"] is None
    assert view["chips"] == [
        {
            "href": "#verdict-1",
            "css": "v-dual_benefit",
            "head": "radiation",
            "words": "dual benefit",
            "n_flags": 1,
            "unstable": False,
        }
    ]
    (card,) = view["cards"]
    assert card["badge"] == "Dual benefit: yes" and card["risk_flags"] == ["RISK_EMT"]
    # no summary column: the explanation is the lead, shown once
    assert "".join(s["text"] for s in card["lead"]) == ROW["explanation"]
    assert card["explanation"] == []
    assert [s["text"] for s in card["lead"] if s["programme"]] == ["RISK_EMT"]
    assert card["stability"]["text"] == "stability not computed"
    assert card["not_measured"] is None
    assert card["evidence"] == [
        {"label": "evidence (cancer)", "segments": [{"text": "CYT_APOPTOSIS", "programme": True}]},
        {"label": "evidence (normal)", "segments": [{"text": "REG_WOUND", "programme": True}]},
    ]
    rows = {r["label"]: r["value"] for r in card["rows"]}
    assert rows["potentiation"] == "0 (no cytotoxic programme called in the interaction)"
    assert rows["cancer contrast"] == "cancer_cm_vs_ctrl_radiation"
    assert rows["cytotoxic ↑ (cancer)"] == "1"


def test_new_columns_of_the_verdict_owner_are_shown_and_the_rule_is_theirs() -> None:
    row = dict(ROW, future_column="x", stability=0.9, verdict_rule="Rule X.")
    view = verdict_view(pd.DataFrame([row]), CALLS)
    assert view["rule"] == "Rule X."
    rows = {r["label"]: r["value"] for r in view["cards"][0]["rows"]}
    assert rows["future_column"] == "x"
    assert "verdict_rule" not in rows and "stability" not in rows  # stability is in the head


def test_potentiation_in_words() -> None:
    assert potentiation_text(dict(ROW, potentiation_contrast=""), CALLS) == (
        "not applicable (no interaction contrast)"
    )
    called = CALLS.assign(call="up")
    assert potentiation_text(dict(ROW, potentiation=0.0), called) == "0"
    assert potentiation_text(dict(ROW, potentiation=1.74), CALLS) == "1.74"


def test_empty_table_and_segments() -> None:
    empty = verdict_view(pd.DataFrame())
    assert empty["empty"] is True and empty["cards"] == [] and empty["chips"] == []
    assert empty["design"] == [] and empty["rule"] is None and empty["definitions"] == []
    assert programme_segments("a CYT_X b") == [
        {"text": "a ", "programme": False},
        {"text": "CYT_X", "programme": True},
        {"text": " b", "programme": False},
    ]
