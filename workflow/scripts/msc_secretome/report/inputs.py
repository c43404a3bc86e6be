"""The report's inputs, read once from the run's files into one typed object.

:func:`load_inputs` is the only reader of the report: it takes the ``input`` and ``params`` of
the ``html_report`` rule (or any object with the same attributes) and returns
:class:`ReportInputs`, whose :meth:`~ReportInputs.as_kwargs` are the arguments of
:func:`msc_secretome.report.render_report`. Run facts (versions, git, checksums) come from
:mod:`msc_secretome.provenance`; paths are relative unless ``params.absolute_paths``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

from .. import provenance
from ..gmt import read_gmt


def read_tsv(path: str, **kwargs: Any) -> pd.DataFrame:
    """A result table as the workflow wrote it ('' and NaN are missing, 'NA' is text)."""
    return pd.read_csv(
        path, sep="\t", keep_default_na=False, na_values=["", "NaN", "nan"], **kwargs
    )


def read_optional_tsv(path: str, **kwargs: Any) -> pd.DataFrame:
    """A table that a disabled step writes without columns (an empty file): empty frame."""
    try:
        return read_tsv(path, **kwargs)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


@dataclass(frozen=True)
class ReportInputs:
    """Every table the report shows (frames: as written by their rules) and the run's facts."""

    samples: pd.DataFrame
    library_sizes: pd.DataFrame
    pca: pd.DataFrame
    pca_variance: pd.DataFrame
    distances: pd.DataFrame
    outliers: pd.DataFrame
    contrasts: pd.DataFrame
    de: dict[str, pd.DataFrame]
    enrichment: dict[str, pd.DataFrame]
    ora: dict[str, pd.DataFrame]
    programme_calls: pd.DataFrame
    dual_benefit: pd.DataFrame
    libraries: pd.DataFrame
    validation_summary: pd.DataFrame
    count_summary_rows: pd.DataFrame
    sample_scores: pd.DataFrame
    gene_mapping: pd.DataFrame
    programme_gene_sets: dict[str, list[str]]
    single_cell: dict[str, pd.DataFrame] | None
    secretome: dict[str, pd.DataFrame] | None
    methods: dict[str, Any]

    def as_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``render_report``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _single_cell(paths: list[str], samples: pd.DataFrame) -> dict[str, pd.DataFrame] | None:
    if not paths:
        return None
    cells_path, qc_path, dropped_path, dropped_cells_path = paths
    ids = dict.fromkeys(["cell", "sample", "original_sample", "cell_type"], str)
    # sample-sheet factors are text too (a batch "1" stays a level, not a number)
    factors = {c: str for c in samples.columns if c != "n_cells"}
    return {
        "cells": read_tsv(cells_path, dtype=ids | factors),
        "cell_qc": read_tsv(qc_path, dtype={"sample": str}),
        "dropped": read_optional_tsv(dropped_path, dtype=ids),
        "dropped_cells": read_optional_tsv(dropped_cells_path, dtype=str),
    }


#: The secretome stage's tables the report reads, in the order of the rule's ``secretome``
#: input (``secretome_report_inputs()`` in ``workflow/rules/common.smk``).
SECRETOME_TABLES = ("links", "activity", "sample_scores", "verdict_factors", "methods")


def _secretome(paths: list[str]) -> dict[str, pd.DataFrame] | None:
    """The secretome tables (None when the stage is disabled: the rule gives no paths)."""
    if not paths:
        return None
    if len(paths) != len(SECRETOME_TABLES):
        raise ValueError(f"secretome inputs: {len(paths)} paths, not {len(SECRETOME_TABLES)}")
    text = dict.fromkeys(["contrast", "side", "therapy", "role", "sample"], str)
    return {
        name: read_optional_tsv(path, dtype=text)
        for name, path in zip(SECRETOME_TABLES, paths, strict=True)
    }


def run_facts(params: Any) -> dict[str, Any]:
    """The Methods section's facts: config, versions, input checksums, workflow version, date,
    models (objects from ``params.models``), and whether the input is the bundled example."""
    absolute = bool(getattr(params, "absolute_paths", False))
    inputs = list(params.inputs)
    return {
        "config": provenance.display_paths(dict(params.config), absolute=absolute),
        "versions": provenance.package_versions(),
        "inputs": provenance.input_checksums(inputs, absolute=absolute),
        "workflow_version": provenance.workflow_version(params.workflow_dir),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "simulated_example": provenance.is_simulated_example(inputs[:1]),
        "models": [
            {
                "model": m["name"],
                "design": m["design"],
                "subset": "; ".join(f"{k}={','.join(v)}" for k, v in m["subset"].items()),
                "reference": m["reference"],
            }
            for m in params.models.values()
        ],
    }


def load_inputs(inputs: Any, params: Any) -> ReportInputs:
    """Read the ``html_report`` rule's inputs (Snakemake ``input``/``params``) once."""
    names = list(params.contrasts)
    samples = read_tsv(inputs.samples, dtype=str)
    absolute = bool(getattr(params, "absolute_paths", False))
    libraries = read_tsv(inputs.libraries)
    if "path" in libraries.columns:
        libraries["path"] = [
            provenance.display_path(p, absolute=absolute) for p in libraries["path"]
        ]
    return ReportInputs(
        samples=samples,
        library_sizes=read_tsv(inputs.library_sizes),
        pca=read_tsv(inputs.pca),
        pca_variance=read_tsv(inputs.pca_variance),
        distances=read_tsv(inputs.distances, index_col=0),
        outliers=read_tsv(inputs.outliers, dtype={"sample": str}),
        contrasts=read_tsv(inputs.contrasts),
        de={n: read_tsv(p) for n, p in zip(names, inputs.de, strict=True)},
        enrichment={n: read_tsv(p) for n, p in zip(names, inputs.enrichment, strict=True)},
        ora={n: read_optional_tsv(p) for n, p in zip(names, inputs.ora, strict=True)},
        programme_calls=read_tsv(inputs.calls),
        dual_benefit=read_tsv(inputs.dual_benefit),
        libraries=libraries,
        validation_summary=read_tsv(inputs.validation_summary, dtype=str),
        count_summary_rows=read_tsv(inputs.count_summary_rows, dtype={"sample": str}),
        sample_scores=read_optional_tsv(inputs.sample_scores, dtype={"sample": str}),
        gene_mapping=read_optional_tsv(inputs.gene_mapping, dtype=str),
        programme_gene_sets=read_gmt(inputs.programmes_gmt),
        single_cell=_single_cell(list(inputs.single_cell), samples),
        secretome=_secretome(list(inputs.secretome)),
        methods=run_facts(params),
    )
