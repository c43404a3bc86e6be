"""Rule html_report: gather result tables and run facts; render the self-contained report."""

import datetime as dt
import subprocess
from importlib import metadata as importlib_metadata
from pathlib import Path

import pandas as pd

from msc_secretome import __version__
from msc_secretome.catalogue import read_gmt
from msc_secretome.report import render_report, write_report
from msc_secretome.rule_logging import log_to_file
from msc_secretome.tables import sha256_of

logger = log_to_file(snakemake)
inputs, params = snakemake.input, snakemake.params


def tsv(path, **kwargs):
    return pd.read_csv(
        path, sep="\t", keep_default_na=False, na_values=["", "NaN", "nan"], **kwargs
    )


def optional_tsv(path, **kwargs):
    """A table that a disabled step writes without columns (an empty file): empty frame."""
    try:
        return tsv(path, **kwargs)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def workflow_version(directory: str) -> str:
    try:
        commit = subprocess.run(
            ["git", "-C", directory, "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        return f"{__version__} ({commit})"
    except (OSError, subprocess.SubprocessError):
        return f"{__version__} (not a git checkout)"


PACKAGES = [
    "snakemake",
    "pydeseq2",
    "gseapy",
    "scanpy",
    "anndata",
    "pandas",
    "numpy",
    "scipy",
    "formulaic",
    "plotly",
]
versions = {}
for package in PACKAGES:
    try:
        versions[package] = importlib_metadata.version(package)
    except importlib_metadata.PackageNotFoundError:
        versions[package] = "not installed"
versions["msc_secretome"] = __version__

methods = {
    "config": dict(params.config),
    "versions": versions,
    "inputs": [{"path": p, "sha256": sha256_of(p)} for p in params.inputs if Path(p).is_file()],
    "workflow_version": workflow_version(params.workflow_dir),
    "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
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


def single_cell_tables(paths, samples):
    """The single-cell run's cells, per-sample cell QC and dropped pseudo-samples (None for bulk:
    the rule then has no such inputs)."""
    if not paths:
        return None
    cells_path, qc_path, dropped_path = paths
    ids = dict.fromkeys(["cell", "sample", "original_sample", "cell_type"], str)
    # sample-sheet factors are text too (a batch "1" stays a level, not a number)
    factors = {c: str for c in samples.columns if c != "n_cells"}
    cells = tsv(cells_path, dtype=ids | factors)  # gzipped: pandas infers it from the suffix
    logger.info("single cells: %d scored cells x %d columns", *cells.shape)
    return {
        "cells": cells,
        "cell_qc": tsv(qc_path, dtype={"sample": str}),
        "dropped": optional_tsv(dropped_path, dtype=ids),
    }


contrasts = tsv(inputs.contrasts)
samples = tsv(inputs.samples, dtype=str)
html = render_report(
    samples=samples,
    library_sizes=tsv(inputs.library_sizes),
    pca=tsv(inputs.pca),
    pca_variance=tsv(inputs.pca_variance),
    distances=tsv(inputs.distances, index_col=0),
    contrasts=contrasts,
    de={name: tsv(path) for name, path in zip(params.contrasts, inputs.de, strict=True)},
    enrichment={
        name: tsv(path) for name, path in zip(params.contrasts, inputs.enrichment, strict=True)
    },
    program_calls=tsv(inputs.calls),
    dual_benefit=tsv(inputs.dual_benefit),
    libraries=tsv(inputs.libraries),
    methods=methods,
    sample_scores=optional_tsv(inputs.sample_scores, dtype={"sample": str}),
    ora={name: optional_tsv(path) for name, path in zip(params.contrasts, inputs.ora, strict=True)},
    gene_mapping=optional_tsv(inputs.gene_mapping, dtype=str),
    programme_gene_sets=read_gmt(inputs.programs_gmt),
    single_cell=single_cell_tables(list(inputs.single_cell), samples),
    outliers=tsv(inputs.outliers, dtype={"sample": str}),
)
write_report(html, snakemake.output.html)
logger.info("report: %s (%.1f MB)", snakemake.output.html, len(html.encode()) / 1e6)
