"""The verdict per receiver group x exposure x therapy arm, and its only prose.

What a row can answer depends on what the study measured (``design_answer``):

* ``dual_benefit``: a cancer group and a normal group both measured under the exposure and
  therapy arm: does the secretome make cancer cells die more *and* protect normal cells?
  Verdict ``dual_benefit`` | ``no_dual_benefit`` | ``unclear`` | ``incomplete``.
* ``cancer_only``: only cancer cells: the cytotoxic / risk answer; the protective side was not
  measured. Verdict ``cancer_benefit`` | ``cancer_harm`` | ``cancer_risk`` (risk programmes
  up, no cytotoxic gain) | ``unclear`` | ``incomplete``.
* ``normal_only``: only normal cells: the protective answer. Verdict ``normal_protection`` |
  ``normal_harm`` | ``unclear`` | ``incomplete``.

``incomplete`` is used only when the sheet has the samples for a contrast the contrasts file
does not ask; a side the study did not sequence is "not measured", never "add a contrast".

Scores use the signed programme statistic S = NES where the programme is called (FDR below
the threshold) and 0 otherwise, multiplied by the programme's desired direction in that cell
context, averaged over the core programmes that were tested. Risk flags name pro-tumour-risk
or regenerative programmes called *up* in cancer cells: the secretome may help the tumour.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .roles import Study

DUAL_BENEFIT_COLUMNS = [
    "therapy",
    "cancer_contrast",
    "potentiation_contrast",
    "normal_contrast",
    "cancer_gain",
    "potentiation",
    "normal_protection",
    "cytotoxic_up",
    "protective_up",
    "damage_down",
    "adverse_cancer",
    "adverse_normal",
    "verdict",
    "risk_flags",
    "cancer_evidence",
    "normal_evidence",
    "explanation",
    # what the row is about and what the design can answer
    "receiver_group",
    "cancer_group",
    "normal_group",
    "exposure",
    "control",
    "design_answer",
    "not_measured",
    "summary",
    "design_summary",
    # how sure: leave-one-out refits (msc_secretome.stability; NaN/"" when switched off)
    "stability",
    "stability_refits",
    "flipped_programmes",
    "unstable_when",
]


def dual_benefit(
    calls: pd.DataFrame,
    contrast_roles: pd.DataFrame,
    catalogue: pd.DataFrame,
    study: Study,
    samples: pd.DataFrame,
) -> pd.DataFrame:
    """One row per receiver group(s) x exposure x therapy arm: components, verdict, prose.

    Parameters
    ----------
    calls : programme calls (contrast, programme, NES, fdr, call, ...), one row per
        contrast x programme.
    contrast_roles : one row per contrast with columns contrast, receiver_group, side,
        exposure, therapy, role (``results/de/contrasts.tsv``).
    catalogue : the programme catalogue (programme, category, tier, direction_cancer,
        direction_normal).
    study : the study's roles.
    samples : the sample sheet (what was sequenced decides what can be answered).

    Returns
    -------
    pd.DataFrame with :data:`DUAL_BENEFIT_COLUMNS`; rows in order exposure, therapy arm
    (no therapy first), cancer group, normal group.
    """
    core = catalogue[catalogue["tier"] == "core"].set_index("programme")
    everything = catalogue.set_index("programme")
    roles = contrast_roles.fillna("").astype(str)
    summary_sentence = design_summary(study, samples)
    rows = []
    for exposure, control in study.exposures.items():
        for therapy in study.therapy_arms(samples):
            cancer = [
                g
                for g in study.groups_of("cancer")
                if study.measured(samples, g, exposure, therapy)
            ]
            normal = [
                g
                for g in study.groups_of("normal")
                if study.measured(samples, g, exposure, therapy)
            ]
            if cancer and normal:
                pairs = [(c, n) for c in cancer for n in normal]
            else:
                pairs = [(c, None) for c in cancer] + [(None, n) for n in normal]
            for cancer_group, normal_group in pairs:
                row = _row(
                    calls, roles, core, everything, study,
                    (cancer_group, normal_group, exposure, control, therapy),
                )  # fmt: skip
                row["design_summary"] = summary_sentence
                rows.append(row)
    return pd.DataFrame(rows, columns=DUAL_BENEFIT_COLUMNS)


def _row(calls, roles, core, everything, study: Study, key) -> dict:
    cancer_group, normal_group, exposure, control, therapy = key
    is_none = therapy is None or therapy == study.none_level
    cancer = _pick(roles, cancer_group, "secretome_effect", exposure, therapy)
    normal = _pick(roles, normal_group, "secretome_effect", exposure, therapy)
    potent = None if is_none else _pick(roles, cancer_group, "potentiation", exposure, therapy)
    row = dict.fromkeys(DUAL_BENEFIT_COLUMNS, np.nan)
    answer = (
        "dual_benefit"
        if cancer_group and normal_group
        else ("cancer_only" if cancer_group else "normal_only")
    )
    row.update(
        therapy="" if therapy is None else therapy,
        cancer_contrast=cancer or "",
        normal_contrast=normal or "",
        potentiation_contrast=potent or "",
        receiver_group=" + ".join(g for g in (cancer_group, normal_group) if g),
        cancer_group=cancer_group or "",
        normal_group=normal_group or "",
        exposure=exposure,
        control=control,
        design_answer=answer,
        not_measured=_not_measured(study, answer, therapy),
    )
    cancer_calls = _calls_of(calls, cancer)
    normal_calls = _calls_of(calls, normal)
    potent_calls = _calls_of(calls, potent)
    row["cancer_gain"] = _side_score(cancer_calls, core, "direction_cancer")
    row["normal_protection"] = _side_score(normal_calls, core, "direction_normal")
    if cancer_group and is_none:
        row["potentiation"] = 0.0
    elif potent is not None:
        cytotoxic = core.index[core["category"] == "cytotoxic"]
        scores = _signed(potent_calls).reindex(cytotoxic).dropna()
        row["potentiation"] = float(scores.mean()) if len(scores) else np.nan
    cyt_up = _named(cancer_calls, everything, "cytotoxic", "up") | _named(
        potent_calls, everything, "cytotoxic", "up"
    )
    reg_up = _named(normal_calls, everything, "regenerative_protective", "up")
    stress_down = _named(normal_calls, everything, "stress_damage", "down")
    risks = sorted(
        _named(cancer_calls, everything, "pro_tumour_risk", "up")
        | _named(cancer_calls, everything, "regenerative_protective", "up")
    )
    row.update(
        cytotoxic_up=len(cyt_up),
        protective_up=len(reg_up),
        damage_down=len(stress_down),
        adverse_cancer=len(_named(cancer_calls, everything, "cytotoxic", "down")),
        adverse_normal=len(_adverse(normal_calls, core, "direction_normal")),
        risk_flags=";".join(risks),
        cancer_evidence=";".join(sorted(cyt_up)),
        normal_evidence=";".join(sorted(reg_up | stress_down)),
    )
    row["verdict"], row["explanation"] = _verdict(row, _arm_phrase(study, therapy))
    row["summary"] = _summary(row, study, therapy)
    return row


def _not_measured(study: Study, answer: str, therapy: str | None) -> str:
    missing = []
    if answer == "cancer_only":
        missing.append("protection of normal cells (no normal cells in this comparison)")
    if answer == "normal_only":
        missing.append("cytotoxicity in cancer cells (no cancer cells in this comparison)")
    if study.therapy_column is None:
        missing.append("interaction with therapy (no therapy in this study)")
    return "; ".join(missing)


def verdict_can_use(role: dict) -> bool:
    """Whether a verdict row can read a contrast with this role (:func:`roles.contrast_role`):
    the secretome's effect in a receiver group (the cancer and normal contrasts), or its
    interaction with a therapy in a cancer group (the potentiation contrast)."""
    if role.get("role") == "secretome_effect":
        return bool(role.get("receiver_group"))
    return role.get("role") == "potentiation" and role.get("side") == "cancer"


def _pick(roles: pd.DataFrame, group, role: str, exposure: str, therapy) -> str | None:
    if group is None:
        return None
    hit = roles[
        (roles["receiver_group"] == group)
        & (roles["role"] == role)
        & (roles["exposure"] == exposure)
        & (roles["therapy"] == ("" if therapy is None else therapy))
    ]
    return str(hit["contrast"].iloc[0]) if len(hit) else None


def _calls_of(calls: pd.DataFrame, contrast: str | None) -> pd.DataFrame:
    if contrast is None:
        return calls.iloc[0:0].set_index("programme")
    return calls[calls["contrast"] == contrast].set_index("programme")


def _signed(calls: pd.DataFrame) -> pd.Series:
    """S = NES where called (up/down), 0 where tested but not called, NaN where not tested."""
    nes = calls["NES"].astype(float)
    return nes.where(calls["call"].isin(["up", "down"]), 0.0).where(calls["call"] != "not_tested")


def _side_score(calls: pd.DataFrame, core: pd.DataFrame, direction: str) -> float:
    if calls.empty:
        return np.nan
    desired = core[direction][core[direction] != 0]
    scores = (_signed(calls).reindex(desired.index) * desired).dropna()
    return float(scores.mean()) if len(scores) else np.nan


def _named(calls: pd.DataFrame, catalogue: pd.DataFrame, category: str, call: str) -> set[str]:
    if calls.empty:
        return set()
    chosen = calls[calls["call"] == call].index
    return {p for p in chosen if p in catalogue.index and catalogue.at[p, "category"] == category}


def _adverse(calls: pd.DataFrame, core: pd.DataFrame, direction: str) -> set[str]:
    if calls.empty:
        return set()
    out = set()
    for programme, row in calls.iterrows():
        if programme not in core.index or core.at[programme, direction] == 0:
            continue
        desired = core.at[programme, direction]
        if (row["call"] == "up" and desired < 0) or (row["call"] == "down" and desired > 0):
            out.add(programme)
    return out


def _arm_phrase(study: Study, therapy: str | None) -> str:
    if therapy is None:
        return "without therapy (the study has none)"
    if therapy == study.none_level:
        return f"without therapy ({therapy})"
    return f"under {therapy}"


def _zero(value: float) -> float:
    return 0.0 if np.isnan(value) else value


def _group_name(group, side: str) -> str:
    """A receiver group in prose: ``HCT116 (cancer)``; a group named after its side as is."""
    return side if str(group) == side else f"{group} ({side})"


def _verdict(row: dict, arm: str) -> tuple[str, str]:
    """(verdict, explanation) for one row; every sentence names the receiver group(s)."""
    answer = row["design_answer"]
    cancer_name = _group_name(row["cancer_group"], "cancer")
    normal_name = _group_name(row["normal_group"], "normal")
    what = f"{row['exposure']} vs {row['control']}"
    needed = []
    if answer in ("dual_benefit", "cancer_only") and not row["cancer_contrast"]:
        needed.append(cancer_name)
    if answer in ("dual_benefit", "normal_only") and not row["normal_contrast"]:
        needed.append(normal_name)
    if needed:
        return "incomplete", (
            f"No {what} contrast for {' and '.join(needed)} cells {arm}, although the sample "
            "sheet has those samples: add one to the contrasts file (or leave `contrasts` "
            "unset to have it derived)."
        )
    cancer_side = _zero(row["cancer_gain"]) + _zero(row["potentiation"])
    normal_side = _zero(row["normal_protection"])
    cancer_benefit = row["cytotoxic_up"] >= 1 and cancer_side > 0
    normal_benefit = (row["protective_up"] + row["damage_down"]) >= 1 and normal_side > 0
    cancer_harm = row["adverse_cancer"] >= 1 and cancer_side < 0
    normal_harm = row["adverse_normal"] >= 1 and normal_side < 0
    flags = (
        f" Risk: {row['risk_flags'].replace(';', ', ')} up in {cancer_name} cells."
        if row["risk_flags"]
        else ""
    )
    cancer_text = f"raised {row['cytotoxic_up']} cytotoxic programme(s) in {cancer_name} cells"
    normal_text = (
        f"protected {normal_name} cells ({row['protective_up']} protective up, "
        f"{row['damage_down']} damage down)"
    )
    if answer == "cancer_only":
        untested = " The protective side was not measured (no normal cells)."
        if cancer_benefit:
            return "cancer_benefit", f"{what} {arm} {cancer_text}.{flags}{untested}"
        if cancer_harm:
            return "cancer_harm", (
                f"{what} {arm} lowered cytotoxic programmes in {cancer_name} cells.{flags}"
                f"{untested}"
            )
        verdict = "cancer_risk" if row["risk_flags"] else "unclear"
        return verdict, (
            f"{what} {arm}: no significant cytotoxic gain in {cancer_name} cells.{flags}{untested}"
        )
    if answer == "normal_only":
        untested = " The cancer side was not measured (no cancer cells)."
        if normal_benefit:
            return "normal_protection", f"{what} {arm} {normal_text}.{untested}"
        if normal_harm:
            return "normal_harm", (
                f"{what} {arm} moved programmes against protection in {normal_name} cells."
                f"{untested}"
            )
        return "unclear", (
            f"{what} {arm}: no significant protection of {normal_name} cells.{untested}"
        )
    if cancer_benefit and normal_benefit:
        return "dual_benefit", f"{what} {arm} {cancer_text} and {normal_text}.{flags}"
    if cancer_harm or normal_harm:
        sides = [s for s, h in ((cancer_name, cancer_harm), (normal_name, normal_harm)) if h]
        return "no_dual_benefit", (
            f"{what} {arm} moved programmes against the aim in {' and '.join(sides)} cells.{flags}"
        )
    missing = [
        s for s, b in ((cancer_name, cancer_benefit), (normal_name, normal_benefit)) if not b
    ]
    return "unclear", (
        f"{what} {arm}: no significant benefit in {' and '.join(missing)} cells.{flags}"
    )


def stability_sentence(row) -> str:
    """The stability of one verdict row in words ('' when it was not computed)."""
    refits = row["stability_refits"]
    if pd.isna(refits) or int(refits) == 0:
        return ""
    refits = int(refits)
    same = int(round(float(row["stability"]) * refits))
    group = row["receiver_group"]
    text = f" Stability for {group}: the verdict holds in {same} of {refits} leave-one-out refits"
    if row["unstable_when"]:
        units = row["unstable_when"].replace(";", ", ")
        text += f"; it changes when {units} is left out, so it rests on that unit"
        if float(row["stability"]) < STABLE:
            text += " and is not stable"
    if row["flipped_programmes"]:
        text += f" (calls that move: {row['flipped_programmes'].replace(';', ', ')})"
    return text + "."


#: A verdict holding in at least this fraction of refits is called stable.
STABLE = 0.8

QUESTION = {
    "dual_benefit": "does the secretome kill {cancer} cells more and protect {normal} cells",
    "cancer_only": "the cytotoxic / risk answer for {cancer} cells",
    "normal_only": "the protective answer for {normal} cells",
}


def _summary(row: dict, study: Study, therapy: str | None) -> str:
    """One sentence: the question this row answers, its verdict, what it cannot answer."""
    question = QUESTION[row["design_answer"]].format(
        cancer=row["cancer_group"], normal=row["normal_group"]
    )
    if therapy is None or therapy == study.none_level:
        arm = "the secretome alone"
    else:
        arm = f"next to {therapy}"
    text = f"{row['exposure']} vs {row['control']}, {arm}: {question}; verdict {row['verdict']}"
    if row["not_measured"]:
        text += f"; not answerable here: {row['not_measured']}"
    return text + "."


def design_summary(study: Study, samples: pd.DataFrame) -> str:
    """The study in one sentence: receiver groups, exposures, therapy arms, blocks.

    Parameters
    ----------
    study : the study's roles.
    samples : the sample sheet (n_samples rows).
    """
    cancer, normal = study.groups_of("cancer"), study.groups_of("normal")
    parts = [f"{len(samples)} samples"]
    parts.append(f"cancer cells: {', '.join(cancer)}" if cancer else "no cancer cells")
    parts.append(f"normal cells: {', '.join(normal)}" if normal else "no normal cells")
    parts.append("exposure(s) " + ", ".join(f"{e} vs {c}" for e, c in study.exposures.items()))
    arms = [a for a in study.therapy_arms(samples) if a is not None and a != study.none_level]
    parts.append(f"therapy: {', '.join(arms)} vs {study.none_level}" if arms else "no therapy")
    if study.blocks:
        parts.append(f"blocked by {', '.join(study.blocks)}")
    answers = []
    if cancer and normal:
        answers.append("the dual-benefit question")
    elif cancer:
        answers.append("the cytotoxic / risk answer for cancer cells only")
    else:
        answers.append("the protective answer for normal cells only")
    if arms:
        answers.append("the secretome's effect next to each therapy arm")
    return f"{'; '.join(parts)}. This design answers {' and '.join(answers)}."
