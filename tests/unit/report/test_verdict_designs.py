"""The verdict section's first screen for each study design: the cards, chips and lead say what
``dual_benefit.tsv`` holds (hand-made tables in the verdict owner's exact column layout, written
and read back as TSV like the workflow does)."""

from __future__ import annotations

import pandas as pd
import pytest

from msc_secretome.report import verdict_view
from msc_secretome.report.inputs import read_tsv
from msc_secretome.tables import write_tsv
from msc_secretome.verdict import DUAL_BENEFIT_COLUMNS

NOT_MEASURED_NORMAL = "protection of normal cells (no normal cells in this comparison)"
NOT_MEASURED_CANCER = "cytotoxicity in cancer cells (no cancer cells in this comparison)"
NO_THERAPY = "interaction with therapy (no therapy in this study)"


def _row(**values) -> dict:
    """One row of ``dual_benefit.tsv``: the columns the verdict owner writes, zeros elsewhere."""
    row = dict.fromkeys(DUAL_BENEFIT_COLUMNS, "")
    for count in ("cytotoxic_up", "protective_up", "damage_down"):
        row[count] = 0
    for count in ("adverse_cancer", "adverse_normal"):
        row[count] = 0
    row.update(stability="", stability_refits=0)
    unknown = set(values) - set(DUAL_BENEFIT_COLUMNS)
    assert not unknown, f"not a dual_benefit.tsv column: {unknown}"
    row.update(values)
    return row


def _view(tmp_path, rows: list[dict]) -> dict:
    path = tmp_path / "dual_benefit.tsv"
    write_tsv(pd.DataFrame(rows, columns=DUAL_BENEFIT_COLUMNS), path)
    return verdict_view(read_tsv(path))


def _text(segments: list[dict]) -> str:
    return "".join(s["text"] for s in segments)


CANCER_DESIGN = (
    "12 samples; cancer cells: HCT116, organoids; no normal cells; exposure(s) BM-MSC CM vs "
    "control; therapy: cisplatin 5 uM vs none. This design answers the cytotoxic / risk answer "
    "for cancer cells only and the secretome's effect next to each therapy arm."
)


def _cancer_row(group: str, verdict: str, therapy: str, **values) -> dict:
    summary = (
        f"BM-MSC CM vs control, next to {therapy}: the cytotoxic / risk answer for {group} "
        f"cells; verdict {verdict}; not answerable here: {NOT_MEASURED_NORMAL}."
    )
    return _row(
        therapy=therapy, cancer_contrast=f"{group}_cm", receiver_group=group,
        cancer_group=group, exposure="BM-MSC CM", control="control",
        design_answer="cancer_only", not_measured=NOT_MEASURED_NORMAL, verdict=verdict,
        explanation=f"BM-MSC CM vs control under {therapy}: CYT_APOPTOSIS up in {group}.",
        summary=summary, design_summary=CANCER_DESIGN, **values,
    )  # fmt: skip


def test_cancer_only_study_asks_the_cancer_question(tmp_path) -> None:
    rows = [
        _cancer_row("HCT116", "cancer_benefit", "cisplatin 5 uM", cytotoxic_up=2,
                    stability=0.8333, stability_refits=6, unstable_when="sample=H1"),
        _cancer_row("organoids", "cancer_risk", "cisplatin 5 uM", risk_flags="RISK_EMT",
                    stability=0.5, stability_refits=6, flipped_programmes="CYT_APOPTOSIS;RISK_EMT",
                    unstable_when="patient=P1;patient=P2;patient=P3"),
        _cancer_row("HCT116", "unclear", "none"),
    ]  # fmt: skip
    view = _view(tmp_path, rows)
    assert view["heading"] == "Verdict: what does the MSC secretome do to cancer cells?"
    assert "protective side (normal cells) was not measured" in view["question"]
    assert "dual benefit?" not in view["question"]
    assert view["design"] == [CANCER_DESIGN]  # once, not once per row
    heads = [c["head"] for c in view["cards"]]
    assert heads == [
        "HCT116 · BM-MSC CM vs control · cisplatin 5 uM",
        "organoids · BM-MSC CM vs control · cisplatin 5 uM",
        "HCT116 · BM-MSC CM vs control · no therapy",
    ]
    assert [c["head"] for c in view["chips"]] == heads
    assert [c["href"] for c in view["chips"]] == ["#verdict-1", "#verdict-2", "#verdict-3"]
    benefit, risk, unclear = view["cards"]
    assert benefit["badge"] == "Cancer side: benefit" and benefit["css"] == "v-cancer_benefit"
    assert risk["badge"] == "Cancer side: risk" and unclear["badge"] == "Cancer side: unclear"
    assert [c["words"] for c in view["chips"]] == [
        "cancer side: benefit", "cancer side: risk", "unclear"
    ]  # fmt: skip
    # the summary is the lead, the explanation follows, the unmeasured side is a note
    assert _text(benefit["lead"]) == rows[0]["summary"]
    assert _text(benefit["explanation"]) == rows[0]["explanation"]
    assert benefit["not_measured"] == NOT_MEASURED_NORMAL
    # stability beside the badge: 5 of 6 holds (stable), 3 of 6 does not
    assert benefit["stability"] == {
        "computed": True, "unstable": False, "unstable_when": ["sample=H1"], "flipped": [],
        "text": "stable in 5/6 leave-one-out refits (0.83)",
    }  # fmt: skip
    assert risk["stability"]["unstable"] is True
    assert risk["stability"]["text"] == "not stable: holds in 3/6 leave-one-out refits (0.50)"
    assert risk["stability"]["flipped"] == ["CYT_APOPTOSIS", "RISK_EMT"]
    assert risk["stability"]["unstable_when"] == ["patient=P1", "patient=P2", "patient=P3"]
    assert [c["unstable"] for c in view["chips"]] == [False, True, False]
    assert unclear["stability"]["text"] == "stability not computed"
    assert not unclear["stability"]["computed"] and not unclear["stability"]["unstable"]
    # the head columns are not repeated as rows of the card
    labels = {r["label"] for r in benefit["rows"]}
    assert not labels & {"summary", "not_measured", "design_summary", "stability", "exposure"}
    assert {"design_answer", "cancer_group"} <= labels


def test_normal_only_study_asks_the_protective_question(tmp_path) -> None:
    summary = (
        "MSC-EV vs PBS, next to doxorubicin: the protective answer for cardiomyocytes cells; "
        f"verdict normal_protection; not answerable here: {NOT_MEASURED_CANCER}."
    )
    row = _row(
        therapy="doxorubicin", normal_contrast="cm_dox", receiver_group="cardiomyocytes",
        normal_group="cardiomyocytes", exposure="MSC-EV", control="PBS",
        design_answer="normal_only", not_measured=NOT_MEASURED_CANCER,
        verdict="normal_protection", protective_up=1, explanation="protected.",
        summary=summary, design_summary="6 samples; no cancer cells.",
    )  # fmt: skip
    harmed = dict(row, verdict="normal_harm", therapy="none", summary="harmed.")
    view = _view(tmp_path, [row, harmed])
    assert view["heading"] == "Verdict: does the MSC secretome protect normal cells?"
    assert "cancer side (cytotoxicity in cancer cells) was not measured" in view["question"]
    protected, harm = view["cards"]
    assert protected["head"] == "cardiomyocytes · MSC-EV vs PBS · doxorubicin"
    assert protected["badge"] == "Normal side: protected"
    assert harm["badge"] == "Normal side: harmed" and harm["css"] == "v-normal_harm"
    assert protected["not_measured"] == NOT_MEASURED_CANCER
    assert view["design"] == ["6 samples; no cancer cells."]


def test_no_therapy_study_has_no_therapy_part_in_its_heads(tmp_path) -> None:
    row = _row(
        therapy="", cancer_contrast="org_cm", receiver_group="organoids",
        cancer_group="organoids", exposure="CM", control="medium",
        design_answer="cancer_only", not_measured=f"{NOT_MEASURED_NORMAL}; {NO_THERAPY}",
        verdict="cancer_harm", explanation="lowered.", summary="CM vs medium, alone.",
    )  # fmt: skip
    view = _view(tmp_path, [row])
    (card,) = view["cards"]
    assert card["head"] == "organoids · CM vs medium"
    assert view["chips"][0]["head"] == "organoids · CM vs medium"
    assert card["badge"] == "Cancer side: harm"
    assert card["not_measured"].endswith("(no therapy in this study)")


def test_dual_design_asks_the_dual_question(tmp_path) -> None:
    base = {
        "therapy": "radiation", "receiver_group": "A549 + fibroblast", "cancer_group": "A549",
        "normal_group": "fibroblast", "exposure": "CM", "control": "ctrl",
        "design_answer": "dual_benefit", "design_summary": "24 samples.",
    }  # fmt: skip
    rows = [
        _row(**base, verdict="dual_benefit", explanation="both.", summary="yes.",
             stability=1.0, stability_refits=4),
        _row(**dict(base, therapy="none"), verdict="unclear", explanation="one side.",
             summary="unclear."),
        # a therapy arm without normal cells: its row answers the cancer side only
        _row(**dict(base, therapy="cisplatin", receiver_group="A549", normal_group="",
                    design_answer="cancer_only"), verdict="incomplete", explanation="add one."),
    ]  # fmt: skip
    view = _view(tmp_path, rows)
    assert view["heading"] == "Verdict: does the MSC secretome give a dual benefit?"
    assert view["question"].startswith("For each receiver group, exposure and therapy arm")
    assert view["design"] == ["24 samples."]
    assert [c["badge"] for c in view["cards"]] == [
        "Dual benefit: yes", "Dual benefit: unclear", "Incomplete: contrasts missing"
    ]  # fmt: skip
    assert view["cards"][0]["head"] == "A549 + fibroblast · CM vs ctrl · radiation"
    assert view["cards"][0]["stability"]["text"] == "stable in 4/4 leave-one-out refits (1.00)"
    # no summary: the explanation leads, once
    assert _text(view["cards"][2]["lead"]) == "add one." and view["cards"][2]["explanation"] == []


@pytest.mark.parametrize(
    "verdict",
    ["cancer_benefit", "cancer_harm", "cancer_risk", "normal_protection", "normal_harm",
     "unclear", "incomplete", "dual_benefit", "no_dual_benefit"],
)  # fmt: skip
def test_every_verdict_of_the_owner_has_a_label(verdict: str) -> None:
    from msc_secretome.report.constants import VERDICT_LABEL, VERDICT_WORDS

    assert VERDICT_LABEL[verdict] != verdict and VERDICT_WORDS[verdict]
