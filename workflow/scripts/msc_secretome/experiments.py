"""Several experiments (separate runs or count matrices), one answer.

``experiments:`` in the config lists them, each with its own counts, sample sheet and optional
contrasts file::

    experiments:
      HCT116: {counts: cancer_counts.tsv.gz, samples: cancer_samples.tsv}
      fibroblasts: {counts: normal_counts.tsv, samples: normal_samples.tsv,
                    contrasts: normal_contrasts.yaml}
      organoids: {counts: featurecounts/counts.txt, samples: organoid_samples.tsv,
                  counts_format: featurecounts}
      primary: {counts: null, samples: primary_samples.tsv}   # counts_file column: STAR/HTSeq

Each experiment's counts are read in their own format (``counts_format``, ``counts_strand``,
default the top-level settings; a ``{sample}`` pattern or ``counts: null`` with a
``counts_file`` column for one file per sample), exactly as a single study's counts are
(:mod:`.count_formats`); the files' summary rows and gene names are kept.

The sheets are stacked with an added ``experiment`` column (usable in ``roles``, e.g.
``cell_type: {column: experiment, cancer: [HCT116], normal: [fibroblasts]}``); a factor column
that one sheet lacks gets the level ``not_recorded`` in that sheet's samples. Every model is
restricted to one experiment (``subset: {experiment: [...]}``), so each experiment is fitted on
its own (its own size factors, dispersions and prefilter); the per-side results meet only in
the verdict. The count matrices are joined on the genes they share; how many genes each lacks
is written to ``results/experiments/experiments.tsv``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from . import count_formats
from .errors import InputError
from .validation import count_spec, match_counts_to_samples, read_sample_sheet

EXPERIMENT_COLUMN = "experiment"
NOT_RECORDED = "not_recorded"
#: The sample-sheet column that lists each sample's count file (not a factor).
COUNTS_FILE_COLUMN = "counts_file"


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
        sheet = sheet.drop(columns=[COUNTS_FILE_COLUMN], errors="ignore")
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


def experiment_count_spec(spec: dict, sheet: pd.DataFrame, defaults: dict | None = None) -> dict:
    """What :func:`.count_formats.read_counts` reads for one experiment.

    Parameters
    ----------
    spec : the experiment's config entry (``counts``, ``samples``, optional ``counts_format``
        and ``counts_strand``).
    sheet : its sample sheet (n_samples rows; a ``counts_file`` column when ``counts`` is null).
    defaults : the top-level ``counts_format``, ``counts_strand`` and ``round_estimated_counts``.
    """
    defaults = defaults or {}
    return count_spec(
        spec.get("counts"),
        sheet,
        counts_format=spec.get("counts_format") or defaults.get("counts_format", "auto"),
        strand=spec.get("counts_strand") or defaults.get("counts_strand", "auto"),
        round_estimated=bool(defaults.get("round_estimated_counts", False)),
        samples_path=spec["samples"],
    )


def experiment_count_files(experiments: dict[str, dict], defaults: dict | None = None) -> list:
    """Every count file the experiments read (the rule's inputs), in config order."""
    files = []
    for spec in experiments.values():
        read = experiment_count_spec(spec, read_sample_sheet(spec["samples"]), defaults)
        files.extend(read["files"].values() if read["files"] else [read["counts"]])
    return files


@dataclass
class CombinedCounts:
    """What :func:`combined_counts` returns.

    ``counts``: genes x samples (shared genes); ``report``: one row per experiment;
    ``summary``: the files' summary rows per sample (:class:`.count_formats.CountTable`'s
    ``summary``, stacked; a column one format lacks is 0 for its samples); ``annotation``:
    gene_id/symbol from the files' gene-name columns (header only when none has one).
    """

    counts: pd.DataFrame
    report: pd.DataFrame
    summary: pd.DataFrame
    annotation: pd.DataFrame


def combined_counts(experiments: dict[str, dict], defaults: dict | None = None) -> CombinedCounts:
    """The experiments' count matrices, each read in its own format, joined on shared genes.

    Each experiment is read as :func:`experiment_count_spec` says and checked against its own
    sheet first (errors name that file).

    Parameters
    ----------
    experiments : name -> {counts, samples, contrasts?, counts_format?, counts_strand?}.
    defaults : the top-level ``counts_format``, ``counts_strand``, ``round_estimated_counts``.

    Returns
    -------
    CombinedCounts; its ``counts`` are genes x samples (shared genes in the first matrix's
    order; samples in sheet order, experiment by experiment) and its ``report`` has one row
    per experiment: experiment, counts, samples, format, n_samples, n_genes,
    n_genes_not_shared, methods.
    """
    matrices, rows, summaries, annotations = [], [], [], []
    for name, spec in experiments.items():
        sheet = read_sample_sheet(spec["samples"])
        read = experiment_count_spec(spec, sheet, defaults)
        table = count_formats.read_counts(read)
        source = spec.get("counts") or f"{spec['samples']} ({COUNTS_FILE_COLUMN})"
        counts = match_counts_to_samples(
            table.counts, sheet, counts_path=source, samples_path=spec["samples"]
        )
        matrices.append(counts)
        summaries.append(table.summary.set_index("sample").loc[list(counts.columns)])
        if table.annotation is not None:
            annotations.append(table.annotation.loc[:, ["gene_id", "symbol"]])
        rows.append(
            {"experiment": name, "counts": source, "samples": spec["samples"],
             "format": table.format, "n_samples": counts.shape[1], "n_genes": counts.shape[0],
             "methods": table.methods}
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
    report.insert(len(report.columns) - 1, "n_genes_not_shared", report["n_genes"] - len(shared))
    combined = pd.concat([m.loc[shared] for m in matrices], axis=1)
    combined.index.name = "gene_id"
    summary = pd.concat(summaries).fillna(0)  # a summary row one format lacks: 0 reads
    reads = [c for c in summary.columns if c != "fraction_in_summary_rows"]
    summary = summary.astype(dict.fromkeys(reads, "int64"))
    annotation = (
        pd.concat(annotations).drop_duplicates("gene_id", keep="first")
        if annotations
        else pd.DataFrame(columns=["gene_id", "symbol"])
    )
    return CombinedCounts(combined, report, summary.reset_index(), annotation)


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
