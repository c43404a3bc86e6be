"""Programme calls per contrast and the dual-benefit summary per therapy.

The dual-benefit question has two sides, and the summary reports each as components:

* cancer side: does the secretome raise cytotoxic programmes in cancer cells under a therapy
  (``cancer_gain``), and does it raise them *more* under the therapy than without it
  (``potentiation``, from the interaction contrast)?
* normal side: does it raise protective/regenerative programmes and lower stress/damage
  programmes in normal cells under the same therapy (``normal_protection``)?

Scores use the signed programme statistic S = NES where the programme is called (FDR below
the threshold) and 0 otherwise, multiplied by the programme's desired direction in that cell
context, averaged over the core programmes that were tested. Risk flags name pro-tumour-risk
or regenerative programmes called *up* in cancer cells: the secretome may help the tumour.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CALL_COLUMNS = ["contrast", "program", "category", "tier", "NES", "fdr", "call", "leading_edge"]
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
]


def program_calls(
    enrichment: dict[str, pd.DataFrame],
    catalogue: pd.DataFrame,
    *,
    fdr: float,
    library: str = "programs",
) -> pd.DataFrame:
    """One row per contrast x catalogue programme: NES, FDR, call (up/down/ns/not_tested).

    A ``library`` column in ``catalogue`` (programmes made from GMT libraries,
    :func:`msc_secretome.programme_definitions.catalogue_from_libraries`) names each
    programme's library; otherwise every programme is looked up in ``library``.
    """
    rows = []
    per_row = (
        list(catalogue["library"]) if "library" in catalogue.columns else [library] * len(catalogue)
    )
    for contrast, table in enrichment.items():
        by_library = {
            name: rows_.set_index("term") for name, rows_ in table.groupby("library", sort=False)
        }
        empty = table.iloc[0:0].set_index("term")
        for programme, programme_library in zip(
            catalogue.itertuples(index=False), per_row, strict=True
        ):
            hits = by_library.get(programme_library, empty)
            if programme.program in hits.index:
                hit = hits.loc[programme.program]
                nes, q = float(hit["NES"]), float(hit["fdr"])
                call = ("up" if nes > 0 else "down") if q < fdr else "ns"
                edge = str(hit["leading_edge"])
            else:
                nes, q, call, edge = np.nan, np.nan, "not_tested", ""
            rows.append(
                (
                    contrast,
                    programme.program,
                    programme.category,
                    programme.tier,
                    nes,
                    q,
                    call,
                    edge,
                )
            )
    return pd.DataFrame(rows, columns=CALL_COLUMNS)


def add_overlap_groups(calls: pd.DataFrame, min_jaccard: float = 0.5) -> pd.DataFrame:
    """Add ``overlap_group``: called programmes of one contrast whose leading edges overlap.

    Within each contrast, programmes called up or down are linked when the Jaccard index of
    their leading-edge genes is at least ``min_jaccard`` (single linkage); the group is named
    by its first programme in sorted order. Programmes not called get ``""``. A group of
    several programmes is one signal seen through overlapping gene sets, not independent
    evidence.
    """
    from .enrichment import group_overlapping

    out = calls.copy()
    out["overlap_group"] = ""
    for _, rows in out.groupby("contrast", sort=False):
        called = rows[rows["call"].isin(["up", "down"])]
        edges = {
            row.program: {g for g in str(row.leading_edge).split(";") if g}
            for row in called.itertuples(index=False)
        }
        groups = group_overlapping(edges, min_jaccard)
        for index, row in called.iterrows():
            out.at[index, "overlap_group"] = groups[row["program"]]
    return out


def classify_contrast(
    *,
    kind: str,
    terms: list[tuple[str, str, str]],
    context: dict[str, str | None],
    roles: dict,
) -> dict[str, str | None]:
    """Role of a contrast in the dual-benefit question.

    ``context`` maps each sample-sheet column to the single level the contrast is evaluated
    at (from ``at``, the model's subset or the reference level), or None when pooled.
    Returns ``{"side": cancer|normal|None, "therapy": level|None, "role": ...}`` with role
    ``secretome_effect``, ``potentiation``, ``therapy_effect`` or None.
    """
    cell_role, exposure, therapy = roles["cell_type"], roles["exposure"], roles["therapy"]
    cell_level = context.get(cell_role["column"])
    side = None
    if cell_level in cell_role.get("cancer", []):
        side = "cancer"
    elif cell_level in cell_role.get("normal", []):
        side = "normal"
    exposure_term = (exposure["column"], exposure["exposed"], exposure["control"])
    by_variable = {t[0]: t for t in terms}
    role, therapy_level = None, None
    if kind == "compare" and terms[0] == exposure_term:
        role, therapy_level = "secretome_effect", context.get(therapy["column"])
    elif kind == "interaction" and by_variable.get(exposure["column"]) == exposure_term:
        therapy_term = by_variable.get(therapy["column"])
        if therapy_term is not None and therapy_term[2] == therapy["none"]:
            role, therapy_level = "potentiation", therapy_term[1]
    elif kind == "compare" and terms[0][0] == therapy["column"] and terms[0][2] == therapy["none"]:
        if context.get(exposure["column"]) == exposure["control"]:
            role, therapy_level = "therapy_effect", terms[0][1]
    return {"side": side, "therapy": therapy_level, "role": role}


def dual_benefit(
    calls: pd.DataFrame,
    contrast_roles: pd.DataFrame,
    catalogue: pd.DataFrame,
    *,
    therapies: list[str],
    none_level: str,
) -> pd.DataFrame:
    """One row per therapy level with the components, the verdict and the risk flags.

    ``contrast_roles``: columns contrast, side, therapy, role (see :func:`classify_contrast`).
    """
    core = catalogue[catalogue["tier"] == "core"].set_index("program")
    everything = catalogue.set_index("program")
    rows = []
    for therapy in therapies:
        cancer = _pick(contrast_roles, "cancer", "secretome_effect", therapy)
        normal = _pick(contrast_roles, "normal", "secretome_effect", therapy)
        potent = (
            None
            if therapy == none_level
            else _pick(contrast_roles, "cancer", "potentiation", therapy)
        )
        row = dict.fromkeys(DUAL_BENEFIT_COLUMNS, np.nan)
        row.update(
            therapy=therapy,
            cancer_contrast=cancer or "",
            normal_contrast=normal or "",
            potentiation_contrast=potent or "",
        )
        cancer_calls = _calls_of(calls, cancer)
        normal_calls = _calls_of(calls, normal)
        potent_calls = _calls_of(calls, potent)
        row["cancer_gain"] = _side_score(cancer_calls, core, "direction_cancer")
        row["normal_protection"] = _side_score(normal_calls, core, "direction_normal")
        if therapy == none_level:
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
        adverse_cancer = _named(cancer_calls, everything, "cytotoxic", "down")
        adverse_normal = _adverse(normal_calls, core, "direction_normal")
        risks = sorted(
            _named(cancer_calls, everything, "pro_tumour_risk", "up")
            | _named(cancer_calls, everything, "regenerative_protective", "up")
        )
        row.update(
            cytotoxic_up=len(cyt_up),
            protective_up=len(reg_up),
            damage_down=len(stress_down),
            adverse_cancer=len(adverse_cancer),
            adverse_normal=len(adverse_normal),
            risk_flags=";".join(risks),
            cancer_evidence=";".join(sorted(cyt_up)),
            normal_evidence=";".join(sorted(reg_up | stress_down)),
        )
        row["verdict"], row["explanation"] = _verdict(row, therapy)
        rows.append(row)
    return pd.DataFrame(rows, columns=DUAL_BENEFIT_COLUMNS)


def with_definitions(table: pd.DataFrame, note: str, *, explain: bool = False) -> pd.DataFrame:
    """``table`` with a ``programme_definitions`` column (the note); with ``explain`` the note
    is also appended to each ``explanation`` (the verdict states whose programmes it used)."""
    out = table.copy()
    out["programme_definitions"] = note
    if explain and "explanation" in out.columns:
        out["explanation"] = out["explanation"].astype(str) + " " + note
    return out


def _pick(roles: pd.DataFrame, side: str, role: str, therapy: str) -> str | None:
    hit = roles[(roles["side"] == side) & (roles["role"] == role) & (roles["therapy"] == therapy)]
    return str(hit["contrast"].iloc[0]) if len(hit) else None


def _calls_of(calls: pd.DataFrame, contrast: str | None) -> pd.DataFrame:
    if contrast is None:
        return calls.iloc[0:0].set_index("program")
    return calls[calls["contrast"] == contrast].set_index("program")


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
    for program, row in calls.iterrows():
        if program not in core.index or core.at[program, direction] == 0:
            continue
        desired = core.at[program, direction]
        if (row["call"] == "up" and desired < 0) or (row["call"] == "down" and desired > 0):
            out.add(program)
    return out


def _verdict(row: dict, therapy: str) -> tuple[str, str]:
    if not row["cancer_contrast"] or not row["normal_contrast"]:
        missing = [
            s
            for s, c in (("cancer", row["cancer_contrast"]), ("normal", row["normal_contrast"]))
            if not c
        ]
        return "incomplete", (
            f"No secretome contrast for {' and '.join(missing)} cells under {therapy}: "
            "add one to the contrasts file to judge this therapy."
        )
    potentiation = 0.0 if np.isnan(row["potentiation"]) else row["potentiation"]
    cancer_side = (row["cancer_gain"] if not np.isnan(row["cancer_gain"]) else 0.0) + potentiation
    normal_side = row["normal_protection"] if not np.isnan(row["normal_protection"]) else 0.0
    cancer_benefit = row["cytotoxic_up"] >= 1 and cancer_side > 0
    normal_benefit = (row["protective_up"] + row["damage_down"]) >= 1 and normal_side > 0
    cancer_harm = row["adverse_cancer"] >= 1 and cancer_side < 0
    normal_harm = row["adverse_normal"] >= 1 and normal_side < 0
    flags = (
        f" Risk: {row['risk_flags'].replace(';', ', ')} up in cancer cells."
        if row["risk_flags"]
        else ""
    )
    if cancer_benefit and normal_benefit:
        return "dual_benefit", (
            f"Under {therapy}, the secretome raised {row['cytotoxic_up']} cytotoxic programme(s) "
            f"in cancer cells and protected normal cells ({row['protective_up']} protective up, "
            f"{row['damage_down']} damage down).{flags}"
        )
    if cancer_harm or normal_harm:
        sides = [s for s, h in (("cancer", cancer_harm), ("normal", normal_harm)) if h]
        return "no_dual_benefit", (
            f"Under {therapy}, the secretome moved programmes against the aim in "
            f"{' and '.join(sides)} cells.{flags}"
        )
    missing = [s for s, b in (("cancer", cancer_benefit), ("normal", normal_benefit)) if not b]
    return "unclear", (
        f"Under {therapy}, no significant benefit on the {' and '.join(missing)} side.{flags}"
    )
