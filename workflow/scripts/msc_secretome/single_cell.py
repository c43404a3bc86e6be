"""Single-cell input: cells attached to samples and cell types, cell QC, pseudobulk sums.

The bulk workflow answers its questions with PyDESeq2 on *samples*. Single-cell data enter it as
**pseudobulk**: the raw counts of all cells of one cell type in one sample are summed, giving one
pseudo-sample ``{sample}__{cell_type}`` per (sample, cell type). Differential expression then
treats biological replicates (samples) as the unit of replication, which keeps the false-positive
rate honest, unlike cell-level tests that treat every cell as a replicate.

Steps (pure functions; reading in :mod:`msc_secretome.single_cell_reading` and, chunk by chunk,
:mod:`msc_secretome.cell_source`; the chunked passes of the rules in
:mod:`msc_secretome.cell_pipeline`; per-cell scores and UMAP in :mod:`msc_secretome.cell_scores`):

1. :func:`check_obs_columns`: the cell -> sample and cell -> cell type columns, matched against
   the sample sheet. The workflow does **not** annotate or cluster cells: cell types come from
   the user's annotation, or all cells form one pseudo cell type ``all``.
2. :func:`cell_metrics`, :func:`qc_filters`, :func:`qc_summary` (together :func:`cell_qc`):
   per-cell filters (genes, counts, mitochondrial fraction), per-sample table.
3. :mod:`msc_secretome.pseudobulk`: genes x pseudo-samples int64 counts, the pseudo-sample
   sheet and the pseudo-samples dropped for having too few cells.

Every step works on chunks of cells (row-local metrics, sums accumulated in int64), so the
same numbers come from a matrix in memory and from a file read
:data:`~msc_secretome.cell_source.CHUNK_CELLS` cells at a time.
"""

from __future__ import annotations

import re
import warnings

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

from .errors import InputError
from .single_cell_reading import as_csr

#: Standard obs columns written by :func:`check_obs_columns` and read by the later steps.
SAMPLE = "sample"
CELL_TYPE = "cell_type"
#: The single pseudo cell type used when no cell-type column is given.
ALL_CELLS = "all"
#: Columns of the pseudo-sample sheet added before the sample-sheet factors.
PSEUDO_COLUMNS = ("sample", "original_sample", "cell_type", "n_cells")

LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
QC_COLUMNS = (
    "sample",
    "cells_in",
    "cells_kept",
    "median_genes",
    "median_counts",
    "median_mito_fraction",
    "failed_min_genes",
    "failed_min_counts",
    "failed_max_mito",
)
DROPPED_COLUMNS = ("sample", "original_sample", "cell_type", "n_cells", "reason")
#: Per-cell QC metrics of :func:`cell_metrics` (also the obs columns of the kept cells).
METRIC_COLUMNS = ("n_genes", "total_counts", "mito_fraction")
#: Boolean per-cell masks of :func:`qc_filters`.
FILTER_COLUMNS = ("failed_min_genes", "failed_min_counts", "failed_max_mito")


# --------------------------------------------------------------------------------------------
# Cells -> samples and cell types
# --------------------------------------------------------------------------------------------


def check_obs_columns(
    adata: ad.AnnData,
    sample_column: str,
    cell_type_column: str | None,
    samples_sheet: pd.DataFrame,
    path: str | None = None,
) -> ad.AnnData:
    """Attach each cell to a sample of the sheet and to a cell type; returns a new AnnData.

    * ``sample_column``: obs column naming each cell's sample; its values must be exactly the
      ``sample`` names of ``samples_sheet`` (every cell's sample in the sheet, every sheet sample
      with cells).
    * ``cell_type_column``: obs column with each cell's type, from *your* annotation: the
      workflow does not cluster or annotate cells. ``None`` puts all cells in one pseudo cell
      type ``"all"`` (a whole-sample pseudobulk, e.g. for a monoculture).

    The result shares ``X`` with ``adata`` (no copy) and has the standard obs columns
    ``sample`` and ``cell_type`` (categorical; ``cell_type`` categories in the column's
    categorical order, else sorted), replacing obs columns of those names. Cell-type labels must
    be words (letters, digits, ``_ . -``): they become parts of pseudo-sample names and
    ``subset`` values in config. ``path`` (the data file) is named in every error.
    """
    columns = list(map(str, adata.obs.columns))
    if sample_column not in adata.obs.columns:
        raise InputError(
            f"obs has no column {sample_column!r} (the cell -> sample column); obs columns: "
            f"{columns}",
            path=path,
            fix="set single_cell.sample_column to the obs column that names each cell's sample "
            "(values = the 'sample' names of the sample sheet)",
        )
    if cell_type_column is not None and cell_type_column not in adata.obs.columns:
        raise InputError(
            f"obs has no column {cell_type_column!r} (the cell -> cell type column); obs "
            f"columns: {columns}. The workflow does not cluster or annotate cells: cell types "
            "come from your own annotation",
            path=path,
            fix="set single_cell.cell_type_column to the obs column holding your cell-type "
            "annotation, or set it to null to pool all cells of a sample as one cell type 'all'",
        )
    sheet_clash = [c for c in PSEUDO_COLUMNS[1:] if c in samples_sheet.columns]
    if sheet_clash:
        raise InputError(
            f"the sample sheet has column(s) {sheet_clash}, which pseudobulk adds itself; in "
            "single-cell input each sample holds several cell types, taken from the cells",
            fix=f"remove or rename {sheet_clash} in the sample sheet",
        )
    samples = _labels(adata.obs[sample_column], sample_column, path)
    if cell_type_column is None:
        cell_types = pd.Categorical(np.full(adata.n_obs, ALL_CELLS), categories=[ALL_CELLS])
    else:
        cell_types = _labels(adata.obs[cell_type_column], cell_type_column, path)
        bad = [c for c in cell_types.categories if not LABEL.match(c)]
        if bad:
            raise InputError(
                f"cell-type label(s) {bad[:10]} in obs column {cell_type_column!r} have "
                "characters other than letters, digits, '_', '.', '-'; they become parts of "
                "pseudo-sample names and config values",
                path=path,
                fix="rename them in the annotation, e.g. 'CD4+ T cell' -> 'CD4_T_cell'",
            )
    in_sheet = list(samples_sheet["sample"].astype(str))
    in_cells = list(samples.categories)
    unknown = [s for s in in_cells if s not in set(in_sheet)]
    if unknown:
        raise InputError(
            f"{len(unknown)} sample(s) in obs column {sample_column!r} are not in the sample "
            f"sheet: {unknown[:10]}; sheet samples: {in_sheet[:10]}",
            path=path,
            fix="add them to the sample sheet (or remove their cells)",
        )
    without_cells = [s for s in in_sheet if s not in set(in_cells)]
    if without_cells:
        raise InputError(
            f"{len(without_cells)} sample(s) of the sample sheet have no cells in obs column "
            f"{sample_column!r}: {without_cells[:10]}",
            path=path,
            fix="remove them from the sample sheet, or check single_cell.sample_column",
        )
    obs = adata.obs.copy()
    obs[SAMPLE] = pd.Categorical(np.asarray(samples, dtype=object), categories=in_sheet)
    obs[CELL_TYPE] = cell_types
    return ad.AnnData(X=adata.X, obs=obs, var=adata.var.copy())


def _labels(values: pd.Series, column: str, path: str | None) -> pd.Categorical:
    """Text labels of an obs column as a categorical (categorical order kept, else sorted)."""
    missing = int(values.isna().sum())
    if missing:
        raise InputError(
            f"obs column {column!r} is empty for {missing} cell(s)",
            path=path,
            fix="give every cell a value (or remove the unassigned cells first)",
        )
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = [str(c) for c in values.cat.categories if (values == c).any()]
    else:
        categories = sorted(set(values.astype(str)))
    text = values.astype(str).to_numpy()
    blank = [c for c in categories if not c.strip()]
    if blank:
        raise InputError(f"obs column {column!r} has blank labels", path=path)
    return pd.Categorical(text, categories=categories)


# --------------------------------------------------------------------------------------------
# Cell QC
# --------------------------------------------------------------------------------------------


def mito_genes(var_names: pd.Index, prefix: str = "MT-") -> np.ndarray:
    """Boolean mask of mitochondrial genes: names starting with ``prefix``, case-insensitive
    (``MT-`` matches human ``MT-CO1`` and mouse ``mt-Co1``)."""
    return np.asarray(var_names.str.upper().str.startswith(prefix.upper()), dtype=bool)


def mito_mask(var_names: pd.Index, prefix: str = "MT-") -> np.ndarray:
    """:func:`mito_genes`, with a warning when no gene matches (the fraction is then 0)."""
    mito = mito_genes(pd.Index(var_names.astype(str)), prefix)
    if not mito.any():
        warnings.warn(
            f"no gene name starts with {prefix!r}: mitochondrial fraction is 0 for every "
            "cell (set single_cell.qc.mito_prefix, e.g. 'mt-' for mouse)",
            UserWarning,
            stacklevel=3,
        )
    return mito


def cell_metrics(matrix: sparse.spmatrix, mito: np.ndarray) -> pd.DataFrame:
    """QC metrics of each cell (row): detected genes, total counts, mitochondrial fraction.

    Parameters
    ----------
    matrix : scipy.sparse matrix
        n_cells x n_genes raw counts without explicit zeros (as ``as_count_matrix`` returns).
    mito : numpy.ndarray
        n_genes booleans, the mitochondrial genes.

    Returns
    -------
    pandas.DataFrame
        n_cells rows, :data:`METRIC_COLUMNS`: ``n_genes`` (int64), ``total_counts`` and
        ``mito_fraction`` (float64; 0 for a cell without counts). The same arithmetic as
        :func:`scanpy.pp.calculate_qc_metrics` (sums and percentage in the matrix's dtype),
        so the values are bit for bit scanpy's (tested). Row-local: a chunk of cells gives the
        rows of the whole.
    """
    matrix = as_csr(matrix)
    n_genes = np.diff(matrix.indptr).astype(np.int64)
    total = np.ravel(matrix.sum(axis=1))
    mito_total = np.ravel(matrix[:, np.asarray(mito, dtype=bool)].sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        percent = mito_total / total * 100
    fraction = np.nan_to_num(percent.astype(np.float64) / 100.0)
    return pd.DataFrame(
        {"n_genes": n_genes, "total_counts": total.astype(np.float64), "mito_fraction": fraction}
    )


def qc_filters(
    metrics: pd.DataFrame, *, min_genes: int, min_counts: int, max_mito_fraction: float
) -> pd.DataFrame:
    """Which filter each cell fails: :data:`FILTER_COLUMNS` booleans plus ``kept`` (n_cells rows).

    A cell is kept with ``>= min_genes`` detected genes, ``>= min_counts`` counts and a
    mitochondrial fraction ``<= max_mito_fraction``.
    """
    failed = pd.DataFrame(
        {
            "failed_min_genes": metrics["n_genes"].to_numpy() < min_genes,
            "failed_min_counts": metrics["total_counts"].to_numpy() < min_counts,
            "failed_max_mito": metrics["mito_fraction"].to_numpy() > max_mito_fraction,
        }
    )
    failed["kept"] = ~failed.any(axis=1).to_numpy()
    return failed


def qc_summary(
    samples: pd.Series, metrics: pd.DataFrame, filters: pd.DataFrame, settings: dict
) -> pd.DataFrame:
    """One row per sample (:data:`QC_COLUMNS`) from per-cell ``metrics`` and ``filters``.

    ``samples`` (n_cells, categorical: rows in category order, else sorted) names each cell's
    sample. Medians are over the cells *before* filtering, to judge the library. Raises
    :class:`InputError` naming the ``settings`` (``single_cell.qc``) when no cell passes.
    """
    keep = filters["kept"].to_numpy()
    table = pd.DataFrame(
        {
            "sample": samples.to_numpy(),
            "genes": metrics["n_genes"].to_numpy(),
            "counts": metrics["total_counts"].to_numpy(),
            "mito": metrics["mito_fraction"].to_numpy(),
            "kept": keep,
            **{c: filters[c].to_numpy() for c in FILTER_COLUMNS},
        }
    )
    order = (
        list(samples.cat.categories)
        if isinstance(samples.dtype, pd.CategoricalDtype)
        else sorted(set(table["sample"]))
    )
    grouped = table.groupby("sample", sort=False, observed=True)
    summary = pd.DataFrame(
        {
            "cells_in": grouped.size(),
            "cells_kept": grouped["kept"].sum(),
            "median_genes": grouped["genes"].median(),
            "median_counts": grouped["counts"].median(),
            "median_mito_fraction": grouped["mito"].median(),
            **{c: grouped[c].sum() for c in FILTER_COLUMNS},
        }
    )
    summary = summary.reindex([s for s in order if s in summary.index])
    summary.index.name = "sample"
    summary = summary.reset_index()
    for column in ("cells_in", "cells_kept", *FILTER_COLUMNS):
        summary[column] = summary[column].astype(np.int64)
    if not keep.any():
        raise InputError(
            f"no cell passes QC (min_genes={settings['min_genes']}, min_counts="
            f"{settings['min_counts']}, max_mito_fraction={settings['max_mito_fraction']}); "
            f"median genes per cell {np.median(table['genes']):g}, counts "
            f"{np.median(table['counts']):g}, mito fraction {np.median(table['mito']):.3f}",
            fix="loosen single_cell.qc thresholds",
        )
    return summary.loc[:, list(QC_COLUMNS)]


def cell_qc(
    adata: ad.AnnData,
    *,
    min_genes: int,
    min_counts: int,
    max_mito_fraction: float,
    mito_prefix: str = "MT-",
    sample_column: str = SAMPLE,
) -> tuple[ad.AnnData, pd.DataFrame]:
    """Keep cells with ``>= min_genes`` detected genes, ``>= min_counts`` counts and a
    mitochondrial fraction ``<= max_mito_fraction``.

    Metrics from :func:`cell_metrics` (sparse, no copy of ``X``; scanpy's values). Returns the
    kept cells (a copy, with obs columns ``n_genes``, ``total_counts`` and ``mito_fraction``)
    and one row per sample: ``sample, cells_in, cells_kept, median_genes, median_counts,
    median_mito_fraction`` (medians over the cells *before* filtering, to judge the library)
    and ``failed_min_genes, failed_min_counts, failed_max_mito`` (cells failing each filter; a
    cell can fail several). Without genes matching ``mito_prefix`` the fraction is 0 and a
    warning is issued. Raises :class:`InputError` when no cell passes.
    """
    if sample_column not in adata.obs.columns:
        raise InputError(
            f"obs has no column {sample_column!r}; run check_obs_columns first",
            fix="attach cells to samples before QC",
        )
    settings = {
        "min_genes": min_genes,
        "min_counts": min_counts,
        "max_mito_fraction": max_mito_fraction,
    }
    metrics = cell_metrics(adata.X, mito_mask(adata.var_names, mito_prefix))
    filters = qc_filters(metrics, **settings)
    summary = qc_summary(adata.obs[sample_column], metrics, filters, settings)
    keep = filters["kept"].to_numpy()
    kept = adata[keep].copy()
    for column in METRIC_COLUMNS:
        kept.obs[column] = metrics[column].to_numpy()[keep]
    return kept, summary
