"""Several experiments (separate runs or count matrices), one answer.

``experiments:`` in the config lists them, each with its own counts, sample sheet and optional
contrasts file::

    experiments:
      HCT116: {counts: cancer_counts.tsv.gz, samples: cancer_samples.tsv}
      fibroblasts: {counts: normal_counts.tsv, samples: normal_samples.tsv,
                    contrasts: normal_contrasts.yaml}

The sheets are stacked with an added ``experiment`` column (usable in ``roles``, e.g.
``cell_type: {column: experiment, cancer: [HCT116], normal: [fibroblasts]}``); a factor column
that one sheet lacks gets the level ``not_recorded`` in that sheet's samples. Every model is
restricted to one experiment (``subset: {experiment: [...]}``), so each experiment is fitted on
its own (its own size factors, dispersions and prefilter); the per-side results meet only in
the verdict. The count matrices are joined on the genes they share; how many genes each lacks
is written to ``results/experiments/experiments.tsv``.
"""

from __future__ import annotations

import pandas as pd

from .errors import InputError
from .validation import match_counts_to_samples, read_counts, read_sample_sheet

EXPERIMENT_COLUMN = "experiment"
NOT_RECORDED = "not_recorded"


def combined_sheet(experiments: dict[str, dict]) -> pd.DataFrame:
    """The experiments' sample sheets stacked, with an ``experiment`` column.

    Parameters
    ----------
    experiments : name -> {counts, samples, contrasts (optional)}.

    Returns
    -------
    pd.DataFrame, one row per sample of every experiment (n_samples total), columns
    ``sample``, ``experiment``, then the union of the sheets' factor columns.
    """
    sheets = []
    for name, spec in experiments.items():
        sheet = read_sample_sheet(spec["samples"])
        if EXPERIMENT_COLUMN in sheet.columns:
            raise InputError(
                f"experiment {name!r}: the sample sheet has an {EXPERIMENT_COLUMN!r} column, "
                "which the workflow adds itself",
                path=spec["samples"],
                fix="rename that column",
            )
        sheet.insert(1, EXPERIMENT_COLUMN, str(name))
        sheets.append(sheet)
    combined = pd.concat(sheets, ignore_index=True).fillna(NOT_RECORDED)
    duplicated = combined["sample"][combined["sample"].duplicated()].unique().tolist()
    if duplicated:
        owners = {
            s: sorted(combined.loc[combined["sample"] == s, EXPERIMENT_COLUMN]) for s in duplicated
        }
        raise InputError(
            f"sample name(s) used in more than one experiment: {owners}",
            path="config: experiments",
            fix="give every sample a name unique across the experiments (sheet and counts header)",
        )
    return combined


def combined_counts(
    experiments: dict[str, dict], *, round_estimated: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The experiments' count matrices joined on their shared genes.

    Each matrix is checked against its own sheet first (errors name that file).

    Returns
    -------
    counts : genes x samples (shared genes in the first matrix's order; samples in sheet
        order, experiment by experiment).
    report : one row per experiment: experiment, counts, samples, n_samples, n_genes,
        n_genes_not_shared.
    """
    matrices, rows = [], []
    for name, spec in experiments.items():
        sheet = read_sample_sheet(spec["samples"])
        counts = read_counts(spec["counts"], round_estimated=round_estimated)
        counts = match_counts_to_samples(
            counts, sheet, counts_path=spec["counts"], samples_path=spec["samples"]
        )
        matrices.append(counts)
        rows.append(
            {"experiment": name, "counts": spec["counts"], "samples": spec["samples"],
             "n_samples": counts.shape[1], "n_genes": counts.shape[0]}
        )  # fmt: skip
    shared = matrices[0].index
    for counts in matrices[1:]:
        shared = shared[shared.isin(counts.index)]
    if len(shared) == 0:
        raise InputError(
            "the experiments' count matrices share no gene id",
            path="config: experiments",
            fix="use the same gene ids (e.g. all Ensembl, or all symbols) in every matrix",
        )
    report = pd.DataFrame(rows)
    report["n_genes_not_shared"] = report["n_genes"] - len(shared)
    combined = pd.concat([m.loc[shared] for m in matrices], axis=1)
    combined.index.name = "gene_id"
    return combined, report


def experiment_contrasts(name: str, data: dict, taken: set[str]) -> dict:
    """One experiment's models and contrasts, each model restricted to that experiment.

    Names that another experiment already uses (``taken``) get the prefix ``{name}_``.
    """

    def rename(key: str) -> str:
        return f"{name}_{key}" if key in taken else key

    models = {
        rename(m): {**spec, "subset": {**(spec.get("subset") or {}), EXPERIMENT_COLUMN: [name]}}
        for m, spec in (data.get("models") or {}).items()
    }
    contrasts = {
        rename(c): {**spec, "model": rename(spec["model"])}
        for c, spec in (data.get("contrasts") or {}).items()
    }
    return {"models": models, "contrasts": contrasts}
