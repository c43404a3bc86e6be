"""The natural models and contrasts of a study, derived from its roles when no file is given.

One model per receiver group (its samples only), design
``~ blocks + exposure * therapy`` when every exposure level was sequenced in every therapy arm
of that group, ``~ blocks + exposure + therapy`` when some combinations are missing (then the
exposure effect is estimated once, assuming it is the same in every arm), and
``~ blocks + exposure`` without therapy. Blocks that are constant within a group are left out.

Contrasts per group, in this order:

* ``{group}_{exposure}_vs_{control}_{arm}``: each exposure against its own control, per
  therapy arm (or once without therapy);
* ``{group}_{exposure}_x_{therapy}``: exposure x therapy interactions (crossed designs);
* ``{group}_{therapy}_vs_{none}``: each therapy arm against no therapy in the first control;
* ``{group}_{exposure}_vs_{exposure}_{arm}``: two exposures against each other.

The result has the layout of a contrasts file (``models:``, ``contrasts:``) and is written to
``results/design/contrasts.yaml`` so that users can copy and edit it.
"""

from __future__ import annotations

import re
from itertools import combinations

import pandas as pd

from .roles import Study

UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(text: str) -> str:
    """A name usable as a file name and a wildcard value (other characters become ``_``)."""
    return UNSAFE.sub("_", str(text)).strip("_") or "x"


def derive_contrasts(study: Study, samples: pd.DataFrame) -> dict:
    """Models and contrasts for every receiver group of ``study``.

    Parameters
    ----------
    study : the checked roles (:func:`msc_secretome.roles.read_study`).
    samples : the sample sheet (n_samples rows, a ``sample`` column plus factor columns).

    Returns
    -------
    dict with ``models`` (name -> {subset, design, reference}) and ``contrasts`` (name ->
    {model, compare | interaction, at}), the layout of a contrasts file.
    """
    models: dict[str, dict] = {}
    contrasts: dict[str, dict] = {}
    for group in study.groups:
        rows = study.group_samples(samples, group)
        if rows.empty:  # a group of another experiment
            continue
        name = safe_name(group)
        model, crossed, arms = _model(study, rows)
        subset = {} if study.cell_column is None else {study.cell_column: [group]}
        if study.therapy_column is not None and rows[study.therapy_column].nunique() == 1:
            # one therapy level in this group: the subset says which (for the verdict)
            subset[study.therapy_column] = [str(rows[study.therapy_column].iloc[0])]
        if subset:
            model = {"subset": subset, **model}
        models[name] = model
        contrasts.update(_contrasts(study, rows, name, crossed, arms))
    return {"models": models, "contrasts": contrasts}


def _model(study: Study, rows: pd.DataFrame) -> tuple[dict, bool, list[str]]:
    exposure = study.exposure_column
    blocks = [b for b in study.blocks if rows[b].nunique() > 1]
    terms = list(blocks)
    reference = {b: str(rows[b].iloc[0]) for b in blocks}
    present = list(dict.fromkeys(rows[exposure].astype(str)))
    reference[exposure] = next(c for c in study.controls + present if c in present)
    arms: list[str] = []
    crossed = False
    therapy = study.therapy_column
    if therapy is not None and rows[therapy].nunique() > 1:
        arms = [a for a in study.therapy_arms(rows) if a in set(rows[therapy].astype(str))]
        cells = rows.groupby([exposure, therapy], observed=True).size()
        crossed = len(cells) == rows[exposure].nunique() * rows[therapy].nunique()
        terms.append(f"{exposure} * {therapy}" if crossed else f"{exposure} + {therapy}")
        if study.none_level in arms:
            reference[therapy] = study.none_level
    else:
        terms.append(exposure)
    return {"design": "~ " + " + ".join(terms), "reference": reference}, crossed, arms


def _contrasts(
    study: Study, rows: pd.DataFrame, model: str, crossed: bool, arms: list[str]
) -> dict[str, dict]:
    column, therapy = study.exposure_column, study.therapy_column
    out: dict[str, dict] = {}
    # additive designs: one exposure effect, stated at the no-therapy arm
    effect_arms: list[str | None] = arms if crossed else (arms[:1] or [None])

    def has(level: str, arm: str | None) -> bool:
        cell = rows if arm is None else rows[rows[therapy].astype(str) == arm]
        return level in set(cell[column].astype(str))

    def at(arm: str | None) -> dict:
        return {} if arm is None else {"at": {therapy: arm}}

    exposures = [e for e in study.exposures if has(e, None)]
    for exposure in exposures:
        control = study.exposures[exposure]
        for arm in effect_arms:
            if has(exposure, arm) and has(control, arm):
                name = _join(model, exposure, "vs", control, arm)
                out[name] = {"model": model, "compare": {column: [exposure, control]}, **at(arm)}
    if crossed:
        for exposure in exposures:
            control = study.exposures[exposure]
            for arm in arms:
                if arm != study.none_level:
                    out[_join(model, exposure, "x", arm)] = {
                        "model": model,
                        "interaction": {
                            column: [exposure, study.exposures[exposure]],
                            therapy: [arm, study.none_level],
                        },
                    }
    if arms and study.none_level in arms:
        first_control = next(c for c in study.controls if has(c, None))
        for arm in arms:
            if arm != study.none_level:
                out[_join(model, arm, "vs", study.none_level)] = {
                    "model": model,
                    "compare": {therapy: [arm, study.none_level]},
                    "at": {column: first_control},
                }
    for first, second in combinations(exposures, 2):
        for arm in effect_arms:
            if has(first, arm) and has(second, arm):
                out[_join(model, second, "vs", first, arm)] = {
                    "model": model,
                    "compare": {column: [second, first]},
                    **at(arm),
                }
    return out


def _join(*parts: str | None) -> str:
    return "_".join(safe_name(p) for p in parts if p is not None)


def contrasts_yaml(contrasts_file: dict, *, derived: bool, source: str | None) -> str:
    """The contrasts-file mapping as YAML text, with a header saying where it came from.

    Deterministic: keys keep their order, so the same roles and sheet give the same bytes.
    """
    import yaml

    origin = "derived from `roles` (config `contrasts: null`)" if derived else f"read from {source}"
    header = (
        f"# Models and contrasts of this run, {origin}.\n"
        "# To change them: copy this file, edit it and set `contrasts:` to its path.\n"
        "# Layout: workflow/schemas/contrasts.schema.yaml\n"
    )
    plain = {
        "models": {k: dict(v) for k, v in contrasts_file["models"].items()},
        "contrasts": {k: dict(v) for k, v in contrasts_file["contrasts"].items()},
    }
    return header + yaml.safe_dump(plain, sort_keys=False, default_flow_style=None, width=100)
