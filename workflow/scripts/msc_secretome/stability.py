"""How sure is a verdict: leave-one-out refits of the programme calls.

For each model, one *unit* at a time is left out and the model is refitted (PyDESeq2 with the
run's settings, size factors re-estimated on the remaining samples), the model's contrasts a
verdict can read are tested again (:func:`verdict_contrasts`: the secretome's effect in a
receiver group and its interaction with a therapy in a cancer group; a therapy's own effect
or a comparison of two exposures never enters a verdict), the programme catalogue is ranked
again (GSEA prerank, same seed) and the programmes are called again. A unit is one level of a
blocking factor of the design (donor, batch) when the design has one with at least three
levels, else one sample. A left-out unit whose remaining samples cannot be fitted (rank,
residual degrees of freedom, a level with no sample left) is recorded as ``not_refittable``
and not counted.

The verdict of each row of ``dual_benefit.tsv`` is then recomputed once per refit (the
contrasts of other models and those not refitted keep their full-data calls): ``stability``
is the fraction of refits that give the same verdict; ``flipped_programmes`` the programmes
whose call changed in a refit; ``unstable_when`` the units whose removal changed the
verdict.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .design import Contrast, Model, check_design, contrast_context, contrast_vector, model_samples
from .errors import InputError
from .roles import Study, contrast_role
from .verdict import dual_benefit, verdict_can_use

REFIT_COLUMNS = ["unit", "status", "contrast", "programme", "NES", "fdr", "call"]
STABILITY_COLUMNS = ["stability", "stability_refits", "flipped_programmes", "unstable_when"]


def verdict_contrasts(contrasts: list[Contrast], model: Model, study: Study) -> list[Contrast]:
    """The contrasts of ``model`` a verdict row can use, in the given order.

    Parameters
    ----------
    contrasts : contrasts (of any model).
    model : the model, with the reference levels its fit uses.
    study : the study's roles.

    Returns
    -------
    The contrasts of ``model`` whose role (:func:`roles.contrast_role`) a verdict row can
    read (:func:`verdict.verdict_can_use`): the only ones a leave-one-out refit needs to test.
    """
    return [
        contrast
        for contrast in contrasts
        if contrast.model == model.name
        and verdict_can_use(
            contrast_role(
                study,
                kind=contrast.kind,
                terms=list(contrast.terms),
                context=contrast_context(contrast, model),
            )
        )
    ]


def leave_out_units(metadata: pd.DataFrame, model: Model, blocks) -> list[tuple[str, list[str]]]:
    """The units left out one at a time: (label, samples), in sheet order.

    Parameters
    ----------
    metadata : the model's samples (index = sample) with its design columns.
    model : the model (its design says which blocks it has).
    blocks : blocking-factor columns named in the roles.
    """
    for block in blocks:
        if block in model.variables and metadata[block].nunique() >= 3:
            levels = list(dict.fromkeys(metadata[block].astype(str)))
            return [
                (f"{block}={lv}", list(metadata.index[metadata[block].astype(str) == lv]))
                for lv in levels
            ]
    return [(f"sample={s}", [s]) for s in metadata.index]


def refit_designs(samples: pd.DataFrame, model: Model, contrasts: list[Contrast], blocks):
    """Per left-out unit: (label, (metadata, contrast vectors)) or (label, reason) when the
    remaining samples cannot be fitted.

    A left-out block level may be the model's reference: the next level takes its place.
    """
    full = model_samples(samples, model)
    for label, left_out in leave_out_units(full, model, blocks):
        kept = samples[~samples["sample"].isin(left_out)]
        remaining = full.loc[~full.index.isin(left_out)]
        present = {v: set(remaining[v].astype(str)) for v in model.reference}
        reference = {v: lv for v, lv in model.reference.items() if lv in present.get(v, ())}
        refit_model = Model(model.name, model.design, model.subset, reference)
        try:
            metadata = model_samples(kept, refit_model).loc[:, model.variables]
            helper = check_design(metadata, refit_model)
            vectors = {c.name: contrast_vector(helper, c, refit_model, metadata) for c in contrasts}
        except InputError as err:
            yield label, str(err).splitlines()[0]
            continue
        yield label, (metadata, vectors)


def refit_calls(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    model: Model,
    contrasts: list[Contrast],
    *,
    blocks,
    de: dict,
    enrichment: dict,
    gene_sets: dict[str, list[str]],
    catalogue: pd.DataFrame,
    fdr: float,
    symbols: pd.Series,
) -> pd.DataFrame:
    """Programme calls of ``contrasts`` after leaving out each unit of ``model`` in turn.

    Parameters
    ----------
    counts : samples x genes raw counts (all samples of the run).
    samples : the validated sample sheet (``sample`` column plus factors).
    model : the model, with the reference levels the full fit used.
    contrasts : the model's contrasts.
    de, enrichment : the run's ``de`` and ``enrichment`` settings.
    gene_sets : the programme catalogue as gene sets (symbols).
    symbols : gene id -> symbol.

    Returns
    -------
    pd.DataFrame with :data:`REFIT_COLUMNS`, one row per unit x contrast x programme
    (``status`` ``ok``), or one row per unit with ``status`` ``not_refittable: ...``.
    """
    from .contrast_tests import contrast_test, reduced_design_matrix
    from .differential_expression import fit_model, model_arrays, prefilter_mask
    from .enrichment import gene_ranking, run_prerank
    from .model_contrasts import contrast_tables
    from .programmes import programme_calls

    rows = []
    for label, design in refit_designs(samples, model, contrasts, blocks):
        if isinstance(design, str):
            rows.append(pd.DataFrame([{"unit": label, "status": f"not_refittable: {design}"}]))
            continue
        metadata, vectors = design
        block = counts.loc[metadata.index]
        keep = prefilter_mask(block, **de["prefilter"])
        dds = fit_model(
            block.loc[:, keep], metadata, model.design, size_factors=de["size_factors"],
            refit_cooks=de["refit_cooks"], engine=de["engine"],
            prior_seed=de.get("dispersion_prior_seed", 2),
            fit_type=de.get("fit_type", "parametric"),
        )  # fmt: skip
        fitted = model_arrays(dds, symbols)
        requests = [
            (
                contrast.name,
                vectors[contrast.name],
                contrast_test(contrast, de),
                reduced_design_matrix(metadata, model, contrast) if contrast.reduced else None,
            )
            for contrast in contrasts
        ]
        enrichment_tables = {}
        # the model's contrasts share the refit's full-model QL fit (model_contrasts); genes
        # ranked by stat need no p-values of the refit
        ranked_by_stat = enrichment["statistic"] == "stat"
        for name, table in contrast_tables(fitted, requests, de=de, statistic_only=ranked_by_stat):
            enrichment_tables[name] = run_prerank(
                gene_ranking(table, enrichment["statistic"]), gene_sets, library="programmes",
                permutations=enrichment["permutations"], seed=enrichment["seed"],
                weight=enrichment["weight"], method=enrichment["method"],
                null=enrichment.get("nes_null", "block"),
                min_size=enrichment["min_size"], max_size=enrichment["max_size"],
            )  # fmt: skip
        calls = programme_calls(enrichment_tables, catalogue, fdr=fdr)
        rows.append(calls.assign(unit=label, status="ok"))
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return out.reindex(columns=REFIT_COLUMNS)


def verdict_stability(
    full_calls: pd.DataFrame,
    refits: pd.DataFrame,
    contrast_roles: pd.DataFrame,
    catalogue: pd.DataFrame,
    study: Study,
    samples: pd.DataFrame,
) -> pd.DataFrame:
    """Stability of each verdict row over the leave-one-out refits.

    Parameters
    ----------
    full_calls : programme calls of the full data (contrast, programme, NES, fdr, call).
    refits : :func:`refit_calls` tables of every model, concatenated, with a ``model``
        column.
    contrast_roles, catalogue, study, samples : as for :func:`verdict.dual_benefit`.

    Returns
    -------
    pd.DataFrame with :data:`STABILITY_COLUMNS`, one row per verdict row (same order).
    """
    full = dual_benefit(full_calls, contrast_roles, catalogue, study, samples)
    same = np.zeros(len(full))
    counted = np.zeros(len(full))
    flipped: list[set[str]] = [set() for _ in range(len(full))]
    unstable: list[list[str]] = [[] for _ in range(len(full))]
    ok = refits[refits["status"] == "ok"]
    used_columns = ["contrast", "programme", "NES", "fdr", "call"]
    full_calls = full_calls.loc[:, used_columns]
    full_call = full_calls.set_index(["contrast", "programme"])["call"]
    for (_model, unit), calls in ok.groupby(["model", "unit"], sort=False):
        refitted = set(calls["contrast"])
        merged = pd.concat(
            [full_calls[~full_calls["contrast"].isin(refitted)], calls.loc[:, used_columns]],
            ignore_index=True,
        )
        again = dual_benefit(merged, contrast_roles, catalogue, study, samples)
        changed = calls.set_index(["contrast", "programme"])["call"]
        changed = changed[changed != full_call.reindex(changed.index)]
        for i, row in full.iterrows():
            used = {row["cancer_contrast"], row["normal_contrast"], row["potentiation_contrast"]}
            used &= refitted
            if not used:
                continue
            counted[i] += 1
            same[i] += again.at[i, "verdict"] == row["verdict"]
            if again.at[i, "verdict"] != row["verdict"]:
                unstable[i].append(f"{unit} ({again.at[i, 'verdict']})")
            flipped[i] |= {p for c, p in changed.index if c in used}
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(counted > 0, same / np.maximum(counted, 1), np.nan)
    return pd.DataFrame(
        {
            "stability": fraction,
            "stability_refits": counted.astype(int),
            "flipped_programmes": [";".join(sorted(f)) for f in flipped],
            "unstable_when": [";".join(u) for u in unstable],
        }
    )
