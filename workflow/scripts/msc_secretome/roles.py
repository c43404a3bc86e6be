"""The study a sample sheet describes, read from ``roles``: receiver groups, exposures, therapy.

``roles`` in the config says which sample-sheet columns carry which part of a secretome study::

    roles:
      cell_type: {column: cell_line, cancer: [HT29, SW480], normal: [fibroblast]}
      exposure: {column: medium, exposed: {bm_cm: control, ad_cm: control, ev: ev_vehicle}}
      therapy: {column: treatment, none: untreated}
      blocks: [batch, donor]

* ``cell_type``: the *receiver groups* (cell lines, organoids, primary cells), each named by a
  level of ``column`` and listed as ``cancer`` or ``normal``. Either list may be empty or left
  out (a study without normal cells, or without cancer cells). With one group and no column,
  every sample belongs to that group (``cell_type: {cancer: [organoids]}``).
* ``exposure``: the secretome arm(s). ``exposed`` is one level, a list of levels sharing
  ``control``, or a mapping ``exposed level -> its own control level``.
* ``therapy`` (optional): the column whose levels other than ``none`` are therapy arms (one
  level per agent and dose, e.g. ``cisplatin_5uM``). Left out: the study has no therapy.
* ``blocks`` (optional): blocking factors (batch, donor, passage) put in derived designs.

Omitting a role means "not in this study"; it is never filled from the bundled example.
:func:`read_study` checks every named column and level against the sheet before any job runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .errors import InputError

SIDES = ("cancer", "normal")


@dataclass(frozen=True)
class Study:
    """What the roles say about the study.

    Attributes
    ----------
    cell_column : sample-sheet column naming the receiver group, or None (one group).
    groups : receiver group -> side (``cancer`` | ``normal``), in roles order.
    exposure_column : column of the exposure factor.
    exposures : exposed level -> its control level, in roles order.
    therapy_column : column of the therapy factor, or None (no therapy in the study).
    none_level : the therapy level meaning "no therapy", or None.
    blocks : blocking-factor columns.
    """

    cell_column: str | None
    groups: dict[str, str]
    exposure_column: str
    exposures: dict[str, str]
    therapy_column: str | None = None
    none_level: str | None = None
    blocks: tuple[str, ...] = field(default_factory=tuple)

    @property
    def controls(self) -> list[str]:
        """Distinct control levels, in roles order."""
        return list(dict.fromkeys(self.exposures.values()))

    def groups_of(self, side: str) -> list[str]:
        return [g for g, s in self.groups.items() if s == side]

    def group_samples(self, samples: pd.DataFrame, group: str) -> pd.DataFrame:
        """Rows of ``samples`` that belong to receiver ``group``."""
        if self.cell_column is None:
            return samples
        return samples[samples[self.cell_column].astype(str) == group]

    def therapy_arms(self, samples: pd.DataFrame) -> list[str | None]:
        """The no-therapy level first, then the other therapy levels in sheet order.

        ``[None]`` when the study has no therapy.
        """
        if self.therapy_column is None:
            return [None]
        levels = list(dict.fromkeys(samples[self.therapy_column].astype(str)))
        return [self.none_level] + [lv for lv in levels if lv != self.none_level]

    def measured(
        self, samples: pd.DataFrame, group: str, exposure: str, therapy: str | None
    ) -> bool:
        """True when the sheet has samples of ``group`` in ``exposure`` and in its control
        (under ``therapy`` when the study has one)."""
        rows = self.group_samples(samples, group)
        if therapy is not None and self.therapy_column is not None:
            rows = rows[rows[self.therapy_column].astype(str) == therapy]
        present = set(rows[self.exposure_column].astype(str))
        return exposure in present and self.exposures[exposure] in present

    def to_dict(self) -> dict:
        """Canonical plain-dict form (rule params), read back by :func:`study_from_dict`."""
        return {
            "cell_column": self.cell_column,
            "groups": dict(self.groups),
            "exposure_column": self.exposure_column,
            "exposures": dict(self.exposures),
            "therapy_column": self.therapy_column,
            "none_level": self.none_level,
            "blocks": list(self.blocks),
        }


def study_from_dict(data: dict) -> Study:
    return Study(
        data["cell_column"],
        dict(data["groups"]),
        data["exposure_column"],
        dict(data["exposures"]),
        data.get("therapy_column"),
        data.get("none_level"),
        tuple(data.get("blocks") or ()),
    )


def parse_roles(roles: dict, where: str = "config") -> Study:
    """A :class:`Study` from the ``roles`` mapping (schema-checked), without the sheet."""
    cell = roles.get("cell_type")
    if not cell:
        raise InputError(
            "roles.cell_type is missing: the verdict needs to know whether the receiver cells "
            "are cancer or normal cells",
            path=where,
            fix="add e.g. roles: {cell_type: {column: cell_line, cancer: [HT29]}} (or "
            "{cancer: [organoids]} when all samples are one group)",
        )
    groups: dict[str, str] = {}
    for side in SIDES:
        for level in cell.get(side) or []:
            level = str(level)
            if level in groups:
                raise InputError(
                    f"roles.cell_type lists {level!r} as both {groups[level]} and {side}",
                    path=where,
                    fix="list each receiver group under one side only",
                )
            groups[level] = side
    if not groups:
        raise InputError(
            "roles.cell_type lists no receiver group under 'cancer' or 'normal'",
            path=where,
            fix="list the levels of the cell-type column as cancer: [...] and/or normal: [...]",
        )
    cell_column = cell.get("column")
    if cell_column is None and len(groups) > 1:
        raise InputError(
            f"roles.cell_type lists {len(groups)} groups {list(groups)} but no column",
            path=where,
            fix="name the sample-sheet column that says which group each sample is "
            "(roles.cell_type.column)",
        )
    exposure = roles.get("exposure")
    if not exposure:
        raise InputError(
            "roles.exposure is missing: name the column of the conditioned-medium (or other "
            "exposure) factor, its exposed level(s) and control",
            path=where,
            fix="add roles: {exposure: {column: medium, exposed: msc_cm, control: control}}",
        )
    exposures = _exposures(exposure, where)
    therapy = roles.get("therapy")
    therapy_column = none_level = None
    if therapy:
        therapy_column, none_level = str(therapy["column"]), str(therapy["none"])
    blocks = tuple(str(b) for b in roles.get("blocks") or [])
    return Study(
        str(cell_column) if cell_column is not None else None,
        groups,
        str(exposure["column"]),
        exposures,
        therapy_column,
        none_level,
        blocks,
    )


def _exposures(exposure: dict, where: str) -> dict[str, str]:
    exposed = exposure.get("exposed")
    control = exposure.get("control")
    if exposed is None or exposed == [] or exposed == {}:
        raise InputError(
            "roles.exposure.exposed is missing: which level(s) of the exposure column are the "
            "exposed samples?",
            path=where,
            fix="add e.g. exposed: msc_cm (or a list, or {exposed level: its control})",
        )
    if isinstance(exposed, dict):
        pairs = {str(k): (None if v is None else str(v)) for k, v in exposed.items()}
        if control is not None:
            pairs = {k: (v if v is not None else str(control)) for k, v in pairs.items()}
    else:
        levels = exposed if isinstance(exposed, list) else [exposed]
        pairs = {str(lv): (None if control is None else str(control)) for lv in levels}
    without = [k for k, v in pairs.items() if v is None]
    if without:
        raise InputError(
            f"roles.exposure: exposure(s) {without} have no control",
            path=where,
            fix="give roles.exposure.control (shared by every exposure), or map each "
            "exposure to its own control: exposed: {bm_cm: control, ev: ev_vehicle}",
        )
    both = sorted(set(pairs) & set(pairs.values()))
    if both:
        raise InputError(
            f"roles.exposure: {both} is both an exposure and a control",
            path=where,
            fix="a control level is not itself an exposure; compare exposures with each other "
            "in the contrasts file if that is the question",
        )
    return pairs


def read_study(roles: dict, samples: pd.DataFrame, sheet: str = "sample sheet") -> Study:
    """Parse ``roles`` and check it against the sample sheet.

    Every named column must exist; every named level must occur; every level of the
    cell-type and exposure columns must have a role (nothing is silently left out).

    Parameters
    ----------
    roles : the config's ``roles`` mapping.
    samples : the sample sheet (n_samples rows; a ``sample`` column plus factor columns).
    sheet : the sheet's path, for messages.
    """
    study = parse_roles(roles)
    columns = [c for c in samples.columns if c != "sample"]
    named = [("roles.exposure.column", study.exposure_column)]
    if study.cell_column is not None:
        named.append(("roles.cell_type.column", study.cell_column))
    if study.therapy_column is not None:
        named.append(("roles.therapy.column", study.therapy_column))
    named += [("roles.blocks", b) for b in study.blocks]
    for key, column in named:
        if column not in columns:
            raise InputError(
                f"{key} is {column!r}, which is not a column of the sample sheet {sheet}; "
                f"columns: {columns}",
                path="config",
                fix="use one of the sheet's columns (names are case-sensitive), or leave the "
                "role out if the study does not have it",
            )
    if study.cell_column is not None:
        _check_levels(samples, study.cell_column, list(study.groups), "roles.cell_type", sheet)
    levels = list(study.exposures) + study.controls
    _check_levels(samples, study.exposure_column, levels, "roles.exposure", sheet)
    if study.therapy_column is not None:
        present = set(samples[study.therapy_column].astype(str))
        if study.none_level not in present:
            raise InputError(
                f"roles.therapy.none is {study.none_level!r}, which no sample has in "
                f"{study.therapy_column!r}; levels: {_levels(samples[study.therapy_column])}",
                path="config",
                fix="set roles.therapy.none to the level of untreated samples",
            )
    return study


def _check_levels(samples: pd.DataFrame, column: str, wanted: list[str], key: str, sheet: str):
    present = _levels(samples[column])
    missing = [lv for lv in wanted if lv not in present]
    if missing:
        raise InputError(
            f"{key} names level(s) {missing} of {column!r} that no sample has; levels in "
            f"{sheet}: {present}",
            path="config",
            fix="correct the spelling (levels are case-sensitive)",
        )
    unnamed = [lv for lv in present if lv not in wanted]
    if unnamed:
        raise InputError(
            f"level(s) {unnamed} of {column!r} in {sheet} have no role in {key}",
            path="config",
            fix=f"list them in {key} (or remove those samples from the sheet)",
        )


def _levels(values: pd.Series) -> list[str]:
    return list(dict.fromkeys(values.astype(str)))


def contrast_role(
    study: Study,
    *,
    kind: str,
    terms: list[tuple[str, str, str]],
    context: dict[str, str | None],
) -> dict[str, str | None]:
    """Role of a contrast in the study's question.

    Parameters
    ----------
    study : the study's roles.
    kind : ``compare`` | ``interaction``.
    terms : (column, target level, reference level) per factor the contrast varies.
    context : each sample-sheet column -> the single level the contrast is evaluated at
        (from ``at``, a one-level subset or the model's reference level), or None (pooled).

    Returns
    -------
    dict with ``receiver_group`` (None when the contrast pools groups), ``side``
    (cancer | normal | None), ``exposure``, ``therapy`` and ``role``: ``secretome_effect``
    (exposure vs its control), ``potentiation`` (exposure x therapy interaction),
    ``therapy_effect`` (therapy vs none in a control), ``exposure_comparison`` (two
    exposures) or None.
    """
    if study.cell_column is None:
        group = next(iter(study.groups))
    else:
        group = context.get(study.cell_column)
        group = group if group in study.groups else None
    out = {
        "receiver_group": group,
        "side": study.groups.get(group) if group else None,
        "exposure": None,
        "therapy": None,
        "role": None,
    }
    column, exposures = study.exposure_column, study.exposures
    by_variable = {t[0]: t for t in terms}
    first = terms[0]
    therapy_here = context.get(study.therapy_column) if study.therapy_column else None
    if kind == "compare" and first[0] == column:
        _, target, reference = first
        if exposures.get(target) == reference:
            out.update(role="secretome_effect", exposure=target, therapy=therapy_here)
        elif target in exposures and reference in exposures:
            out.update(
                role="exposure_comparison", exposure=f"{target} vs {reference}",
                therapy=therapy_here,
            )  # fmt: skip
    elif kind == "interaction" and column in by_variable and study.therapy_column:
        _, target, reference = by_variable[column]
        therapy_term = by_variable.get(study.therapy_column)
        if (
            exposures.get(target) == reference
            and therapy_term is not None
            and therapy_term[2] == study.none_level
        ):
            out.update(role="potentiation", exposure=target, therapy=therapy_term[1])
    elif (
        kind == "compare"
        and study.therapy_column
        and first[0] == study.therapy_column
        and first[2] == study.none_level
        and context.get(column) in study.controls
    ):
        out.update(role="therapy_effect", therapy=first[1])
    return out
