"""Pseudobulk: the raw counts of the cells of one cell type in one sample, summed.

One pseudo-sample ``{sample}__{cell_type}`` per (sample, cell type), in int64, accumulated chunk by
chunk of cells (:func:`add_group_sums`), so the sums are the same whether the cells are in
memory (:func:`pseudobulk`) or read from disk in chunks
(:func:`msc_secretome.cell_pipeline.pseudobulk_cells`).
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

from .cell_source import row_chunks
from .errors import InputError
from .single_cell import CELL_TYPE, PSEUDO_COLUMNS, SAMPLE
from .single_cell_reading import as_csr


def _category_order(values: pd.Series) -> list[str]:
    if isinstance(values.dtype, pd.CategoricalDtype):
        return [str(c) for c in values.cat.categories]
    return sorted(set(values.astype(str)))


def pseudo_sample_name(sample: str, cell_type: str) -> str:
    """Name of the pseudo-sample of ``cell_type`` cells in ``sample``: ``{sample}__{cell_type}``."""
    return f"{sample}__{cell_type}"


def pseudobulk_groups(
    obs: pd.DataFrame,
    samples_sheet: pd.DataFrame,
    *,
    min_cells: int,
    sample_column: str = SAMPLE,
    cell_type_column: str = CELL_TYPE,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Each cell's pseudo-sample: ``(group, groups)`` for :func:`add_group_sums`.

    Returns
    -------
    group : numpy.ndarray
        n_cells int64 codes into ``groups``.
    groups : pandas.DataFrame
        One row per (cell type, sheet sample), by cell type (categorical order, else sorted)
        then sheet order: ``sample`` (``{sample}__{cell_type}``), ``original_sample``,
        ``cell_type``.

    Raises :class:`InputError` for missing obs columns, sheet columns that pseudobulk adds
    itself, ``min_cells < 1`` or cells of samples not in the sheet.
    """
    for column in (sample_column, cell_type_column):
        if column not in obs.columns:
            raise InputError(
                f"obs has no column {column!r}; obs columns: {list(obs.columns)}",
                fix="run check_obs_columns first",
            )
    clash = [c for c in PSEUDO_COLUMNS[1:] if c in samples_sheet.columns]
    if clash:
        raise InputError(
            f"the sample sheet has column(s) {clash}, which pseudobulk adds itself",
            fix=f"remove or rename {clash} in the sample sheet",
        )
    if min_cells < 1:
        raise InputError(f"min_cells is {min_cells}; it must be at least 1")
    sheet_samples = list(samples_sheet["sample"].astype(str))
    cell_samples = obs[sample_column].astype(str).to_numpy()
    unknown = sorted(set(cell_samples) - set(sheet_samples))
    if unknown:
        raise InputError(
            f"cells of sample(s) {unknown[:10]} are not in the sample sheet",
            fix="run check_obs_columns first",
        )
    cell_types = _category_order(obs[cell_type_column])
    sample_code = pd.Index(sheet_samples).get_indexer(cell_samples)
    type_code = pd.Index(cell_types).get_indexer(obs[cell_type_column].astype(str))
    # Group g = type * n_samples + sample: columns come out by cell type, then sheet order.
    group = type_code.astype(np.int64) * len(sheet_samples) + sample_code
    groups = pd.DataFrame(
        {
            "sample": [pseudo_sample_name(s, t) for t in cell_types for s in sheet_samples],
            "original_sample": [s for _ in cell_types for s in sheet_samples],
            "cell_type": [t for t in cell_types for _ in sheet_samples],
        }
    )
    return group, groups


def add_group_sums(totals: np.ndarray, block: sparse.spmatrix, group: np.ndarray) -> None:
    """Add the counts of ``block``'s cells to their groups' rows of ``totals``, in place.

    ``totals`` is n_groups x n_genes int64, ``block`` n_block_cells x n_genes raw counts,
    ``group`` n_block_cells codes. The sum is a sparse product (groups x cells indicator @
    cells x genes counts) in int64: exact, and no dense cells x genes matrix.
    """
    block = as_csr(block)
    values = block.data
    if np.issubdtype(values.dtype, np.floating) and np.any(values != np.floor(values)):
        raise InputError(
            "X holds non-integer values; pseudobulk sums raw integer counts",
            fix="read the data with read_single_cell (checks the counts)",
        )
    block = sparse.csr_matrix(
        (values.astype(np.int64), block.indices, block.indptr), shape=block.shape
    )
    n_block = block.shape[0]
    indicator = sparse.csr_matrix(
        (np.ones(n_block, dtype=np.int64), (group, np.arange(n_block))),
        shape=(totals.shape[0], n_block),
    )
    totals += (indicator @ block).toarray()


def pseudobulk_tables(
    totals: np.ndarray,
    n_cells: np.ndarray,
    groups: pd.DataFrame,
    samples_sheet: pd.DataFrame,
    var_names: pd.Index,
    *,
    min_cells: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(counts, sheet, dropped)`` of :func:`pseudobulk` from the group sums.

    ``totals`` is n_groups x n_genes int64, ``n_cells`` n_groups cell counts, ``groups`` from
    :func:`pseudobulk_groups`.
    """
    groups = groups.assign(n_cells=np.asarray(n_cells, dtype=np.int64))
    keep = groups["n_cells"].to_numpy() >= min_cells
    dropped = groups.loc[~keep].copy()
    dropped["reason"] = f"fewer than {min_cells} cells"
    factors = samples_sheet.astype({"sample": str}).rename(columns={"sample": "original_sample"})
    sheet = groups.loc[keep].merge(factors, on="original_sample", how="left", sort=False)
    counts = pd.DataFrame(
        totals[keep].T,
        index=pd.Index(var_names.astype(str), name="gene_id"),
        columns=sheet["sample"].to_numpy(),
    )
    return counts, sheet.reset_index(drop=True), dropped.reset_index(drop=True)


def pseudobulk(
    adata: ad.AnnData,
    samples_sheet: pd.DataFrame,
    *,
    min_cells: int,
    sample_column: str = SAMPLE,
    cell_type_column: str = CELL_TYPE,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Sum raw counts per (sample, cell type).

    Returns

    * ``counts``: genes x pseudo-samples, int64, index ``gene_id`` (= ``var_names``), columns
      ``{sample}__{cell_type}`` ordered by cell type, then by sheet order of the samples;
    * ``sheet``: one row per kept pseudo-sample: ``sample`` (the pseudo-sample name),
      ``original_sample``, ``cell_type``, ``n_cells``, then the factor columns of
      ``samples_sheet`` -- a sample sheet for the bulk workflow (models subset by
      ``cell_type``);
    * ``dropped``: (sample, cell type) pairs with fewer than ``min_cells`` cells, including those
      without any cell: ``sample, original_sample, cell_type, n_cells, reason``
      (``"fewer than {min_cells} cells"``).

    Sums are accumulated over chunks of :data:`~msc_secretome.cell_source.CHUNK_CELLS` cells
    (:func:`add_group_sums`). Cell types are ordered by their categorical order, else sorted.
    """
    group, groups = pseudobulk_groups(
        adata.obs,
        samples_sheet,
        min_cells=min_cells,
        sample_column=sample_column,
        cell_type_column=cell_type_column,
    )
    matrix = as_csr(adata.X)
    totals = np.zeros((len(groups), adata.n_vars), dtype=np.int64)
    for start, stop in row_chunks(adata.n_obs):
        add_group_sums(totals, matrix[start:stop], group[start:stop])
    n_cells = np.bincount(group, minlength=len(groups))
    return pseudobulk_tables(
        totals, n_cells, groups, samples_sheet, adata.var_names, min_cells=min_cells
    )
