"""Cell annotations beside the counts, and the list of every cell the single-cell input drops.

A 10x matrix folder (``matrix.mtx.gz``, ``features.tsv.gz``, ``barcodes.tsv.gz``) or ``.h5``
carries no cell metadata; labs keep it in a table beside it (``cells.tsv``: barcode, sample,
cell type, condition columns). :func:`attach_cell_annotation` joins such a table onto the
cells by barcode (also for an h5ad, where it replaces obs columns of the same name).

Every cell that does not reach a pseudo-sample is listed with its reason by
:func:`dropped_cells_table`: no row in the annotation table, a cell type not analysed, or a
failed QC filter (each one it failed, with the value and the setting).
"""

from __future__ import annotations

from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

from .errors import InputError
from .tables import read_table

DROPPED_CELL_COLUMNS = ("barcode", "sample", "cell_type", "reason")
NO_ANNOTATION = "no row in the cell annotation table (single_cell.cell_annotation)"


def read_cell_annotation(path: str, barcode_column: str = "barcode") -> pd.DataFrame:
    """Read a cell annotation table (TSV or CSV, optionally gzipped), one row per cell.

    Returns
    -------
    pandas.DataFrame
        n_cells x n_columns, all text, index = barcode (``barcode_column`` removed).
        :class:`InputError` when the barcode column is missing, a barcode is empty or
        repeated, or the table has no rows.
    """
    table = read_table(path)
    if barcode_column not in table.columns:
        raise InputError(
            f"no column {barcode_column!r} (the cell barcodes); columns: {list(table.columns)}",
            path=path,
            fix="set single_cell.barcode_column to the column holding the barcodes",
        )
    if table.empty:
        raise InputError("the cell annotation table has no rows", path=path)
    barcodes = table[barcode_column].astype(str).str.strip()
    empty = np.flatnonzero((barcodes == "").to_numpy())
    if empty.size:
        raise InputError(
            f"row {int(empty[0]) + 2}: empty barcode ({empty.size} row(s) in all)", path=path
        )
    repeated = barcodes[barcodes.duplicated()]
    if len(repeated):
        first = int(np.flatnonzero(barcodes.duplicated().to_numpy())[0]) + 2
        raise InputError(
            f"row {first}: barcode {repeated.iloc[0]!r} appears more than once "
            f"({len(repeated)} repeated barcode(s))",
            path=path,
            fix="one row per cell; for several libraries make barcodes unique (e.g. a sample "
            "prefix) in both the matrix and the table",
        )
    return table.drop(columns=[barcode_column]).set_index(pd.Index(barcodes, name="barcode"))


def attach_cell_annotation(
    adata: ad.AnnData,
    annotation: pd.DataFrame,
    samples_sheet: pd.DataFrame,
    *,
    sample_column: str,
    path: str,
) -> tuple[ad.AnnData, pd.DataFrame]:
    """Join ``annotation`` (from :func:`read_cell_annotation`) onto the cells by barcode.

    Parameters
    ----------
    adata : anndata.AnnData
        n_cells x n_genes, ``obs_names`` the barcodes.
    annotation : pandas.DataFrame
        Indexed by barcode; its columns replace obs columns of the same name.
    samples_sheet : pandas.DataFrame
        The sample sheet; an annotation column that is also a sheet column (a condition such
        as ``medium``) must agree with the sheet for every cell's sample.
    sample_column : str
        The annotation/obs column naming each cell's sample.
    path : str
        The annotation file, named in errors.

    Returns
    -------
    annotated : anndata.AnnData
        The annotated cells (n_kept x n_genes; shares ``X`` row slices with ``adata``).
    dropped : pandas.DataFrame
        Cells without an annotation row, :data:`DROPPED_CELL_COLUMNS` (reason
        :data:`NO_ANNOTATION`). No barcode in common is an :class:`InputError`.
    """
    barcodes = pd.Index(adata.obs_names.astype(str))
    known = barcodes.isin(annotation.index)
    if not known.any():
        raise InputError(
            f"none of the {len(barcodes)} cell barcodes is in the table (cells e.g. "
            f"{list(barcodes[:3])}; table e.g. {list(annotation.index[:3])})",
            path=path,
            fix="use the barcodes exactly as in barcodes.tsv (with their '-1' suffix), or "
            "point single_cell.barcode_column at the right column",
        )
    dropped = pd.DataFrame(
        {
            "barcode": barcodes[~known],
            "sample": "",
            "cell_type": "",
            "reason": NO_ANNOTATION,
        },
        columns=list(DROPPED_CELL_COLUMNS),
    )
    kept = adata[known]
    obs = kept.obs.drop(columns=[c for c in annotation.columns if c in kept.obs.columns])
    obs = obs.join(annotation, how="left")
    if sample_column in obs.columns:
        _check_conditions(obs, samples_sheet, sample_column, path)
    return ad.AnnData(X=kept.X, obs=obs, var=kept.var.copy()), dropped


def _check_conditions(
    obs: pd.DataFrame, samples_sheet: pd.DataFrame, sample_column: str, path: str
) -> None:
    """Condition columns of the annotation agree with the sample sheet, cell by cell."""
    shared = [c for c in obs.columns if c in samples_sheet.columns and c != "sample"]
    if not shared:
        return
    sheet = samples_sheet.astype(str).set_index("sample")
    cell_sample = obs[sample_column].astype(str)
    for column in shared:
        expected = cell_sample.map(sheet[column])
        given = obs[column].astype(str)
        bad = expected.notna() & (given != expected)
        if bad.any():
            barcode = bad.index[np.flatnonzero(bad.to_numpy())[0]]
            raise InputError(
                f"column {column!r}: cell {barcode!r} of sample {cell_sample[barcode]!r} says "
                f"{given[barcode]!r} but the sample sheet says {expected[barcode]!r} "
                f"({int(bad.sum())} cell(s) disagree)",
                path=path,
                fix="make the annotation's condition columns match the sample sheet (or drop "
                "them from the annotation: conditions come from the sample sheet)",
            )


def qc_failures(
    adata: ad.AnnData,
    *,
    min_genes: int,
    min_counts: int,
    max_mito_fraction: float,
    mito_prefix: str = "MT-",
) -> pd.Series:
    """Why each cell fails the QC of :func:`msc_secretome.single_cell.cell_qc` ("" = passes).

    The same metrics and filters as ``cell_qc`` (:func:`~msc_secretome.single_cell.cell_metrics`,
    :func:`~msc_secretome.single_cell.qc_filters`), so exactly the cells it drops get a reason.
    Returns a Series indexed by ``obs_names`` (:func:`qc_failure_reasons`).
    """
    from .single_cell import cell_metrics, mito_genes, qc_filters

    settings = {
        "min_genes": min_genes,
        "min_counts": min_counts,
        "max_mito_fraction": max_mito_fraction,
    }
    mito = mito_genes(pd.Index(adata.var_names.astype(str)), mito_prefix)
    metrics = cell_metrics(sparse.csr_matrix(adata.X), mito)
    reasons = qc_failure_reasons(metrics, qc_filters(metrics, **settings), settings)
    return pd.Series(reasons, index=pd.Index(adata.obs_names.astype(str)), dtype=object)


def qc_failure_reasons(metrics: pd.DataFrame, filters: pd.DataFrame, settings: dict) -> np.ndarray:
    """Text of each failed cell: each filter it failed, with the value and the setting.

    Parameters
    ----------
    metrics, filters : pandas.DataFrame
        n_cells rows, from :func:`~msc_secretome.single_cell.cell_metrics` and
        :func:`~msc_secretome.single_cell.qc_filters`.
    settings : dict
        ``single_cell.qc``: ``min_genes``, ``min_counts``, ``max_mito_fraction``.

    Returns
    -------
    numpy.ndarray
        n_cells texts (object): ``"failed QC: ..."`` parts ``; ``-joined, ``""`` for kept cells.
    """
    reasons = np.full(len(metrics), "", dtype=object)
    genes = metrics["n_genes"].to_numpy()
    counts = metrics["total_counts"].to_numpy()
    fraction = metrics["mito_fraction"].to_numpy()
    fail_genes = filters["failed_min_genes"].to_numpy()
    fail_counts = filters["failed_min_counts"].to_numpy()
    fail_mito = filters["failed_max_mito"].to_numpy()
    min_genes, min_counts = settings["min_genes"], settings["min_counts"]
    max_mito = settings["max_mito_fraction"]
    for i in np.flatnonzero(~filters["kept"].to_numpy()):
        parts = []
        if fail_genes[i]:
            parts.append(f"{genes[i]} genes < single_cell.qc.min_genes {min_genes}")
        if fail_counts[i]:
            parts.append(f"{counts[i]:g} counts < single_cell.qc.min_counts {min_counts}")
        if fail_mito[i]:
            parts.append(
                f"mito fraction {fraction[i]:.3f} > single_cell.qc.max_mito_fraction {max_mito:g}"
            )
        reasons[i] = "failed QC: " + "; ".join(parts)
    return reasons


def dropped_cells_table(
    parts: Sequence[pd.DataFrame],
) -> pd.DataFrame:
    """One table of every dropped cell (:data:`DROPPED_CELL_COLUMNS`), parts in order."""
    frames = [p.loc[:, list(DROPPED_CELL_COLUMNS)] for p in parts if len(p)]
    if not frames:
        return pd.DataFrame(columns=list(DROPPED_CELL_COLUMNS))
    return pd.concat(frames, ignore_index=True).astype(str)


def cells_dropped(adata: ad.AnnData, mask: np.ndarray, reasons) -> pd.DataFrame:
    """The cells of ``mask`` as dropped-cell rows; ``reasons`` one text or one per cell."""
    obs = adata.obs
    chosen = np.asarray(mask, dtype=bool)

    def column(name: str) -> np.ndarray:
        if name in obs.columns:
            return obs[name].astype(str).to_numpy()[chosen]
        return np.full(int(chosen.sum()), "", dtype=object)

    reason = reasons if isinstance(reasons, str) else np.asarray(reasons, dtype=object)[chosen]
    return pd.DataFrame(
        {
            "barcode": adata.obs_names.astype(str).to_numpy()[chosen],
            "sample": column("sample"),
            "cell_type": column("cell_type"),
            "reason": reason,
        },
        columns=list(DROPPED_CELL_COLUMNS),
    )
