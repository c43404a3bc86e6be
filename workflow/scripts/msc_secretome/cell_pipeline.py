"""The single-cell rules' passes over the cells, chunk by chunk: memory does not grow with cells.

:func:`prepare_cells` works on obs only (annotation join, sample and cell-type checks, the cell
types analysed). :func:`pseudobulk_cells` then reads the counts once, chunk by chunk
(:class:`~msc_secretome.cell_source.CellSource`): each chunk is checked as counts, its cells'
QC metrics computed (row-local) and the kept cells' counts added to their pseudo-samples.
:func:`embedding_subsample` reads them once for the QC metrics, draws the seeded subsample of
kept cells and reads only those rows again. Peak memory: obs, one chunk, the per-cell metrics
and the n_pseudo_samples x n_genes sums; the same numbers as the in-memory functions of
:mod:`msc_secretome.single_cell` and :mod:`msc_secretome.pseudobulk` (tested).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd

from .cell_annotation import (
    attach_cell_annotation,
    cells_dropped,
    qc_failure_reasons,
    read_cell_annotation,
)
from .cell_source import SOURCE_ROW, CellSource
from .errors import InputError
from .pseudobulk import add_group_sums, pseudobulk_groups, pseudobulk_tables
from .single_cell import (
    METRIC_COLUMNS,
    cell_metrics,
    check_obs_columns,
    mito_mask,
    qc_filters,
    qc_summary,
)

NOT_ANALYSED = "cell type not in single_cell.cell_types"


@dataclass
class PreparedCells:
    """The cells to analyse (obs only) and the cells dropped on the way."""

    cells: ad.AnnData  #: n_analysed cells, obs with sample, cell_type and SOURCE_ROW
    dropped: list[pd.DataFrame]  #: dropped-cell rows (no annotation row, type not analysed)
    where: str  #: the file the cells' samples and types come from (named in errors)


@dataclass
class PseudobulkResult:
    """Everything ``pseudobulk_cells`` writes."""

    counts: pd.DataFrame  #: genes x kept pseudo-samples, int64
    sheet: pd.DataFrame  #: one row per kept pseudo-sample
    dropped: pd.DataFrame  #: pseudo-samples with too few cells
    cell_qc: pd.DataFrame  #: one row per sample (QC_COLUMNS)
    dropped_cells: list[pd.DataFrame]  #: dropped-cell rows, in order (QC failures last)
    n_kept: int  #: cells passing QC


def prepare_cells(
    source: CellSource,
    samples: pd.DataFrame,
    settings: dict,
    *,
    annotation_path: str | None = None,
    log: Callable[..., None] | None = None,
) -> PreparedCells:
    """Attach the cells to samples and cell types and keep the analysed types (no counts read).

    Parameters
    ----------
    source : CellSource
        The counts (only obs and var are used here).
    samples : pandas.DataFrame
        The sample sheet.
    settings : dict
        ``single_cell`` config: ``barcode_column``, ``sample_column``, ``cell_type_column``,
        ``cell_types``.
    annotation_path : str, optional
        ``single_cell.cell_annotation``, joined by barcode.
    log : callable, optional
        ``logger.info``-like, told how many cells the annotation matched.
    """
    cells, dropped, where = source.cells(), [], source.path
    if annotation_path:
        where = annotation_path
        annotation = read_cell_annotation(where, settings["barcode_column"])
        if SOURCE_ROW in annotation.columns:
            raise InputError(
                f"the cell annotation table has a column {SOURCE_ROW!r}, a name the workflow "
                "uses itself",
                path=where,
                fix=f"rename or remove the column {SOURCE_ROW!r}",
            )
        cells, no_row = attach_cell_annotation(
            cells, annotation, samples, sample_column=settings["sample_column"], path=where
        )
        dropped.append(no_row)
        if log is not None:
            log(
                "cell annotation %s: %d cells annotated, %d without a row (dropped); %d table "
                "rows match no cell",
                where, cells.n_obs, len(no_row), len(annotation) - cells.n_obs,
            )  # fmt: skip
    cells = check_obs_columns(
        cells, settings["sample_column"], settings["cell_type_column"], samples, path=where
    )
    wanted = settings["cell_types"]
    present = set(cells.obs["cell_type"].astype(str))
    missing = [c for c in wanted if c not in present]
    if missing:
        raise InputError(
            f"single_cell.cell_types {missing} are not among the cells' types {sorted(present)}",
            path=where,
            fix="correct single_cell.cell_types (or single_cell.cell_type_column)",
        )
    analysed = cells.obs["cell_type"].isin(wanted).to_numpy()
    dropped.append(cells_dropped(cells, ~analysed, NOT_ANALYSED))
    return PreparedCells(cells[analysed].copy(), dropped, where)


def _chunks_of_cells(source: CellSource, cells: ad.AnnData):
    """``(positions, block)`` per chunk: the cells' positions in ``cells`` and their counts."""
    rows = cells.obs[SOURCE_ROW].to_numpy(dtype=np.int64)
    position = np.full(source.n_obs, -1, dtype=np.int64)
    position[rows] = np.arange(rows.size)
    for start, stop, block in source.chunks():
        local = position[start:stop]
        chosen = np.flatnonzero(local >= 0)
        if chosen.size == 0:
            continue
        if chosen.size < stop - start:
            block = block[chosen]
        yield local[chosen], block


class _Metrics:
    """Per-cell QC metrics filled chunk by chunk (n_cells rows of METRIC_COLUMNS)."""

    def __init__(self, n_cells: int):
        self.columns = {
            "n_genes": np.zeros(n_cells, dtype=np.int64),
            "total_counts": np.zeros(n_cells, dtype=np.float64),
            "mito_fraction": np.zeros(n_cells, dtype=np.float64),
        }

    def put(self, positions: np.ndarray, part: pd.DataFrame) -> None:
        for name, values in self.columns.items():
            values[positions] = part[name].to_numpy()

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.columns)


def pseudobulk_cells(
    source: CellSource,
    prepared: PreparedCells,
    samples: pd.DataFrame,
    *,
    qc: dict,
    min_cells: int,
) -> PseudobulkResult:
    """QC and pseudobulk of the prepared cells in one chunked pass over the counts.

    The same tables as :func:`~msc_secretome.single_cell.cell_qc`,
    :func:`~msc_secretome.cell_annotation.qc_failures` and
    :func:`~msc_secretome.pseudobulk.pseudobulk` on the whole matrix (``qc`` is
    ``single_cell.qc``). A bad count stops the pass with the
    :class:`~msc_secretome.errors.InputError` of ``as_count_matrix``; no cell passing QC with
    that of ``qc_summary``.
    """
    cells = prepared.cells
    thresholds = {k: qc[k] for k in ("min_genes", "min_counts", "max_mito_fraction")}
    mito = mito_mask(source.var_names, qc.get("mito_prefix", "MT-"))
    group, groups = pseudobulk_groups(cells.obs, samples, min_cells=min_cells)
    # one extra row collects the cells failing QC (cheaper than copying the kept rows out)
    totals = np.zeros((len(groups) + 1, source.n_vars), dtype=np.int64)
    filled = _Metrics(cells.n_obs)
    for positions, block in _chunks_of_cells(source, cells):
        part = cell_metrics(block, mito)
        filled.put(positions, part)
        kept = qc_filters(part, **thresholds)["kept"].to_numpy()
        add_group_sums(totals, block, np.where(kept, group[positions], len(groups)))
    totals = totals[:-1]
    metrics = filled.frame()
    filters = qc_filters(metrics, **thresholds)
    cell_qc = qc_summary(cells.obs["sample"], metrics, filters, thresholds)
    keep = filters["kept"].to_numpy()
    reasons = qc_failure_reasons(metrics, filters, thresholds)
    dropped_cells = [*prepared.dropped, cells_dropped(cells, ~keep, reasons)]
    n_cells = np.bincount(group[keep], minlength=len(groups))
    counts, sheet, dropped = pseudobulk_tables(
        totals, n_cells, groups, samples, source.var_names, min_cells=min_cells
    )
    return PseudobulkResult(counts, sheet, dropped, cell_qc, dropped_cells, int(keep.sum()))


def embedding_subsample(
    source: CellSource, prepared: PreparedCells, *, qc: dict, max_cells: int, seed: int
) -> ad.AnnData:
    """The kept cells, or a seeded subsample of ``max_cells`` of them, with their counts.

    Parameters
    ----------
    source, prepared : CellSource, PreparedCells
        The counts and the cells to analyse (:func:`prepare_cells`).
    qc : dict
        ``single_cell.qc``.
    max_cells : int
        ``single_cell.embedding_cells``.
    seed : int
        ``qc.seed``: ``numpy.random.default_rng(seed).choice(n_kept, max_cells,
        replace=False)``, sorted, picks the cells (the same cells as subsampling the output of
        :func:`~msc_secretome.single_cell.cell_qc`).

    Returns
    -------
    anndata.AnnData
        n_chosen x n_genes, ``X`` float CSR counts, obs of the prepared cells plus
        :data:`~msc_secretome.single_cell.METRIC_COLUMNS`; cells in their input order.
    """
    cells = prepared.cells
    thresholds = {k: qc[k] for k in ("min_genes", "min_counts", "max_mito_fraction")}
    mito = mito_mask(source.var_names, qc.get("mito_prefix", "MT-"))
    filled = _Metrics(cells.n_obs)
    for positions, block in _chunks_of_cells(source, cells):
        filled.put(positions, cell_metrics(block, mito))
    metrics = filled.frame()
    filters = qc_filters(metrics, **thresholds)
    qc_summary(cells.obs["sample"], metrics, filters, thresholds)  # no cell kept: InputError
    chosen = np.flatnonzero(filters["kept"].to_numpy())
    if chosen.size > max_cells:
        picked = np.random.default_rng(seed).choice(chosen.size, max_cells, replace=False)
        chosen = chosen[np.sort(picked)]
    rows = cells.obs[SOURCE_ROW].to_numpy(dtype=np.int64)[chosen]
    order = np.argsort(rows, kind="stable")
    matrix = source.read_rows(rows[order])[np.argsort(order, kind="stable")]
    obs = cells.obs.iloc[chosen].copy()
    for column in METRIC_COLUMNS:
        obs[column] = metrics[column].to_numpy()[chosen]
    return ad.AnnData(X=matrix, obs=obs, var=cells.var.copy())
