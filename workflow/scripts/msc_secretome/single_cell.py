"""Single-cell input: from cells to pseudobulk counts and per-cell programme scores.

The bulk workflow answers its questions with PyDESeq2 on *samples*. Single-cell data enter it as
**pseudobulk**: the raw counts of all cells of one cell type in one sample are summed, giving one
pseudo-sample ``{sample}__{cell_type}`` per (sample, cell type). Differential expression then
treats biological replicates (samples) as the unit of replication, which keeps the false-positive
rate honest, unlike cell-level tests that treat every cell as a replicate.

Steps (pure functions over AnnData; file reading only in :func:`read_single_cell`):

1. :func:`read_single_cell`: h5ad (counts in ``X``, a named layer or ``raw.X``), a 10x matrix
   folder or a 10x ``.h5`` file, into an AnnData with raw integer counts as CSR in ``X``.
2. :func:`check_obs_columns`: the cell -> sample and cell -> cell type columns, matched against
   the sample sheet. The workflow does **not** annotate or cluster cells: cell types come from
   the user's annotation, or all cells form one pseudo cell type ``all``.
3. :func:`cell_qc`: per-cell filters (genes, counts, mitochondrial fraction), per-sample table.
4. :func:`pseudobulk`: genes x pseudo-samples int64 counts, the pseudo-sample sheet and the
   pseudo-samples dropped for having too few cells.
5. :func:`cell_programme_scores` (Seurat/scanpy ``score_genes`` per programme) and :func:`embed`
   (UMAP) for per-cell figures.

Memory: cells x genes matrices stay sparse throughout; nothing densifies them. Normalised values
are computed in chunks of cells (:data:`CHUNK_CELLS`), or as a copy of the ``data`` array that
shares the index arrays of the counts (:func:`log_normalise`).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from scipy import io as scipy_io
from scipy import sparse

from .errors import InputError

#: Standard obs columns written by :func:`check_obs_columns` and read by the later steps.
SAMPLE = "sample"
CELL_TYPE = "cell_type"
#: The single pseudo cell type used when no cell-type column is given.
ALL_CELLS = "all"
#: Columns of the pseudo-sample sheet added before the sample-sheet factors.
PSEUDO_COLUMNS = ("sample", "original_sample", "cell_type", "n_cells")
#: Cells per chunk in chunked passes over the matrix (bounded temporary memory).
CHUNK_CELLS = 10_000
#: Elements of ``.data`` checked per chunk when validating counts.
CHECK_CHUNK = 1 << 24
#: Default target of library-size normalisation (counts per 10,000, then log1p).
TARGET_SUM = 1e4

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


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read_single_cell(path: str | Path, *, layer: str | None = None) -> ad.AnnData:
    """Read single-cell counts into an AnnData with raw integer counts as CSR in ``X``.

    ``path`` is one of

    * an ``.h5ad`` file: counts in ``X``, or in ``layers[layer]``; ``layer="raw.X"`` takes
      ``adata.raw.X`` (with ``raw.var``). Only the chosen matrix is loaded, not the others;
    * a 10x matrix folder (Cell Ranger ``filtered_feature_bc_matrix/``): ``matrix.mtx``,
      ``features.tsv`` (or ``genes.tsv`` of Cell Ranger 2) and ``barcodes.tsv``, each plain or
      gzipped; only "Gene Expression" features are kept;
    * a 10x ``.h5`` file (read with :func:`scanpy.read_10x_h5`, gene expression only).

    Gene names become ``var_names`` (10x: gene symbols, Ensembl ids in ``var["gene_ids"]``),
    made unique by appending ``-1``, ``-2``. ``X`` is float32 CSR (float64 when a count exceeds
    2**24) with explicit zeros removed. Raises :class:`InputError` naming the file (and layer)
    when the file is missing or unreadable, the layer does not exist, or the values are not
    non-negative integers (log-normalised or scaled data).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(
            "file or folder not found", path=str(path), fix="check single_cell.counts in config"
        )
    if path.is_dir():
        if layer is not None:
            raise InputError(
                f"layer {layer!r} was given, but a 10x matrix folder has no layers",
                path=str(path),
                fix="remove single_cell.layer (it applies to .h5ad files only)",
            )
        adata = _read_10x_folder(path)
        what, fix = "matrix.mtx", "give the raw (not normalised) 10x matrix folder"
    elif path.name.endswith(".h5ad"):
        adata, what, fix = _read_h5ad(path, layer)
    elif path.suffix == ".h5":
        if layer is not None:
            raise InputError(
                f"layer {layer!r} was given, but a 10x .h5 file has no layers",
                path=str(path),
                fix="remove single_cell.layer (it applies to .h5ad files only)",
            )
        adata = _read_10x_h5(path)
        what, fix = "the matrix", "give Cell Ranger's raw count .h5 (filtered_feature_bc_matrix.h5)"
    else:
        raise InputError(
            "unknown single-cell format (expected an .h5ad file, a 10x .h5 file or a 10x "
            "matrix folder with matrix.mtx, features.tsv and barcodes.tsv)",
            path=str(path),
            fix="convert the data to .h5ad (AnnData) with raw counts in X or a layer",
        )
    adata.X = as_count_matrix(adata.X, where=what, path=str(path), fix=fix, adata=adata)
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise InputError(
            f"the matrix is empty ({adata.n_obs} cells x {adata.n_vars} genes)", path=str(path)
        )
    adata.var_names = adata.var_names.astype(str)
    adata.obs_names = adata.obs_names.astype(str)
    if not adata.var_names.is_unique:
        adata.var_names_make_unique()
    return adata


def _read_h5ad(path: Path, layer: str | None) -> tuple[ad.AnnData, str, str]:
    """Only obs, var and the chosen matrix of an h5ad file (other layers stay on disk)."""
    import h5py
    from anndata.io import read_elem

    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise InputError(
            f"cannot open as HDF5/AnnData ({err})",
            path=str(path),
            fix="write the file with AnnData's write_h5ad",
        ) from err
    with handle:
        layers = sorted(handle["layers"].keys()) if "layers" in handle else []
        has_raw = "raw" in handle and "X" in handle["raw"]
        available = layers + (["raw.X"] if has_raw else [])
        if "obs" not in handle or "var" not in handle:
            raise InputError(
                "not an AnnData file (no obs/var groups)",
                path=str(path),
                fix="write the file with AnnData's write_h5ad",
            )
        obs = read_elem(handle["obs"])
        if layer is None:
            if "X" not in handle:
                raise InputError(
                    f"X is empty; layers in this file: {available}",
                    path=str(path),
                    fix="name the layer holding raw counts with single_cell.layer",
                )
            matrix, var, what = read_elem(handle["X"]), read_elem(handle["var"]), "X"
        elif layer == "raw.X":
            if not has_raw:
                raise InputError(
                    f"layer 'raw.X' was asked for but the file has no .raw; layers: {layers}",
                    path=str(path),
                    fix="set single_cell.layer to one of the layers, or leave it empty for X",
                )
            matrix, var = read_elem(handle["raw"]["X"]), read_elem(handle["raw"]["var"])
            what = "raw.X"
        else:
            if layer not in layers:
                raise InputError(
                    f"no layer {layer!r}; layers in this file: {available}",
                    path=str(path),
                    fix="set single_cell.layer to the layer holding raw counts "
                    "(leave it empty when X holds them)",
                )
            matrix, var = read_elem(handle["layers"][layer]), read_elem(handle["var"])
            what = f"layer {layer!r}"
    others = [x for x in ["X", *available] if x != (layer or "X")]
    fix = (
        f"give the layer holding raw counts with single_cell.layer (other matrices in this "
        f"file: {others})"
        if others
        else "give a file with raw integer counts (not normalised or scaled values)"
    )
    adata = ad.AnnData(X=_as_csr(matrix), obs=obs, var=var)
    return adata, what, fix


def _find_file(folder: Path, stems: Sequence[str]) -> Path | None:
    for stem in stems:
        for name in (stem, f"{stem}.gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def _read_10x_folder(folder: Path) -> ad.AnnData:
    """A 10x matrix folder, every file plain or gzipped (Cell Ranger 2 and 3+ layouts)."""
    matrix_path = _find_file(folder, ["matrix.mtx"])
    features_path = _find_file(folder, ["features.tsv", "genes.tsv"])
    barcodes_path = _find_file(folder, ["barcodes.tsv"])
    missing = [
        name
        for name, found in (
            ("matrix.mtx[.gz]", matrix_path),
            ("features.tsv[.gz] or genes.tsv[.gz]", features_path),
            ("barcodes.tsv[.gz]", barcodes_path),
        )
        if found is None
    ]
    if missing:
        present = sorted(p.name for p in folder.iterdir())[:20]
        raise InputError(
            f"10x matrix folder without {missing}; files there: {present}",
            path=str(folder),
            fix="point single_cell.counts at Cell Ranger's filtered_feature_bc_matrix folder",
        )
    assert matrix_path and features_path and barcodes_path
    try:
        matrix = scipy_io.mmread(matrix_path)
    except (ValueError, OSError) as err:
        raise InputError(f"cannot read as Matrix Market ({err})", path=str(matrix_path)) from err
    features = pd.read_csv(features_path, sep="\t", header=None, dtype=str, keep_default_na=False)
    barcodes = pd.read_csv(barcodes_path, sep="\t", header=None, dtype=str, keep_default_na=False)
    n_features, n_cells = matrix.shape
    if len(features) != n_features or len(barcodes) != n_cells:
        raise InputError(
            f"matrix.mtx is {n_features} features x {n_cells} barcodes but "
            f"{features_path.name} has {len(features)} rows and {barcodes_path.name} "
            f"{len(barcodes)}",
            path=str(folder),
            fix="use the three files of one Cell Ranger output folder",
        )
    symbols = features[1] if features.shape[1] > 1 else features[0]
    names = ad.utils.make_index_unique(pd.Index(symbols.to_numpy(), dtype=object))
    var = pd.DataFrame({"gene_ids": features[0].to_numpy()}, index=names)
    if features.shape[1] > 2:
        var["feature_types"] = features[2].to_numpy()
    counts = sparse.csr_matrix(matrix.T)
    adata = ad.AnnData(X=counts, obs=pd.DataFrame(index=barcodes[0].to_numpy()), var=var)
    if "feature_types" in var.columns:
        gex = (var["feature_types"] == "Gene Expression").to_numpy()
        if gex.any() and not gex.all():
            adata = adata[:, gex].copy()
    return adata


def _read_10x_h5(path: Path) -> ad.AnnData:
    import scanpy as sc

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            adata = sc.read_10x_h5(path, gex_only=True)
    except (OSError, KeyError, ValueError) as err:
        raise InputError(
            f"cannot read as a 10x Genomics .h5 file ({type(err).__name__}: {err})",
            path=str(path),
            fix="give Cell Ranger's filtered_feature_bc_matrix.h5, or convert to .h5ad",
        ) from err
    adata.var_names_make_unique()
    return adata


def _as_csr(matrix) -> sparse.csr_matrix:
    """CSR from a dense array or any scipy sparse matrix/array (no copy when already CSR)."""
    if isinstance(matrix, sparse.csr_matrix):
        return matrix
    if sparse.issparse(matrix):
        return sparse.csr_matrix(matrix)
    return sparse.csr_matrix(np.asarray(matrix))


def as_count_matrix(
    matrix,
    *,
    where: str = "X",
    path: str | None = None,
    fix: str | None = None,
    adata: ad.AnnData | None = None,
) -> sparse.csr_matrix:
    """Check that ``matrix`` holds non-negative integers; return it as canonical float CSR.

    Every stored value is checked, in chunks of :data:`CHECK_CHUNK` (temporary memory stays
    small). ``where``/``path``/``fix`` and ``adata`` (for cell and gene names) go into the
    :class:`InputError` raised for NaN/infinite, negative or non-integer values.
    """
    matrix = _as_csr(matrix)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    data = matrix.data
    first_bad: int | None = None
    kind = ""
    n_bad = 0
    maximum = 0.0
    if np.issubdtype(data.dtype, np.integer):
        negative = np.flatnonzero(data < 0)
        if negative.size:
            first_bad, kind, n_bad = int(negative[0]), "negative", int(negative.size)
        maximum = float(data.max()) if data.size else 0.0
    elif np.issubdtype(data.dtype, np.floating):
        for start in range(0, data.size, CHECK_CHUNK):
            chunk = data[start : start + CHECK_CHUNK]
            finite = np.isfinite(chunk)
            problems = (
                ("NaN or infinite", ~finite),
                ("negative", chunk < 0),
                ("non-integer", finite & (chunk != np.floor(chunk))),
            )
            for label, mask in problems:
                if mask.any() and first_bad is None:
                    first_bad, kind = start + int(np.flatnonzero(mask)[0]), label
                if label == kind:
                    n_bad += int(mask.sum())
            if chunk.size:
                maximum = max(maximum, float(np.max(np.where(finite, chunk, 0))))
    else:
        raise InputError(f"{where} has dtype {data.dtype}, not numbers", path=path, fix=fix)
    if first_bad is not None:
        row = int(np.searchsorted(matrix.indptr, first_bad, side="right") - 1)
        column = int(matrix.indices[first_bad])
        cell = adata.obs_names[row] if adata is not None else f"row {row + 1}"
        gene = adata.var_names[column] if adata is not None else f"column {column + 1}"
        value = data[first_bad]
        looks = {
            "non-integer": " It looks log-normalised or normalised, not raw counts.",
            "negative": " It looks scaled (centred), not raw counts.",
        }.get(kind, "")
        raise InputError(
            f"{where} holds {n_bad} {kind} value(s), e.g. {value:g} for cell {cell!r}, gene "
            f"{gene!r}; pseudobulk DE needs raw integer counts (UMI counts).{looks}",
            path=path,
            fix=fix,
        )
    dtype = np.float32 if maximum <= 2**24 else np.float64
    if data.dtype != dtype:
        matrix = sparse.csr_matrix(
            (data.astype(dtype), matrix.indices, matrix.indptr), shape=matrix.shape
        )
    return matrix


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

    Metrics come from :func:`scanpy.pp.calculate_qc_metrics` (sparse, no copy of ``X``).
    Returns the kept cells (a copy, with obs columns ``n_genes``, ``total_counts`` and
    ``mito_fraction``) and one row per sample: ``sample, cells_in, cells_kept, median_genes,
    median_counts, median_mito_fraction`` (medians over the cells *before* filtering, to judge
    the library) and ``failed_min_genes, failed_min_counts, failed_max_mito`` (cells failing each
    filter; a cell can fail several). Without genes matching ``mito_prefix`` the fraction is 0
    and a warning is issued. Raises :class:`InputError` when no cell passes.
    """
    import scanpy as sc

    if sample_column not in adata.obs.columns:
        raise InputError(
            f"obs has no column {sample_column!r}; run check_obs_columns first",
            fix="attach cells to samples before QC",
        )
    mito = mito_genes(adata.var_names, mito_prefix)
    if not mito.any():
        warnings.warn(
            f"no gene name starts with {mito_prefix!r}: mitochondrial fraction is 0 for every "
            "cell (set single_cell.qc.mito_prefix, e.g. 'mt-' for mouse)",
            UserWarning,
            stacklevel=2,
        )
    probe = ad.AnnData(
        X=adata.X,
        obs=pd.DataFrame(index=adata.obs_names),
        var=pd.DataFrame({"mito": mito}, index=adata.var_names),
    )
    metrics, _ = sc.pp.calculate_qc_metrics(
        probe, qc_vars=["mito"], percent_top=None, log1p=False, inplace=False
    )
    n_genes = metrics["n_genes_by_counts"].to_numpy(dtype=np.int64)
    total = metrics["total_counts"].to_numpy(dtype=float)
    mito_fraction = np.nan_to_num(metrics["pct_counts_mito"].to_numpy(dtype=float) / 100.0)
    fail_genes = n_genes < min_genes
    fail_counts = total < min_counts
    fail_mito = mito_fraction > max_mito_fraction
    keep = ~(fail_genes | fail_counts | fail_mito)
    table = pd.DataFrame(
        {
            "sample": adata.obs[sample_column].to_numpy(),
            "genes": n_genes,
            "counts": total,
            "mito": mito_fraction,
            "kept": keep,
            "failed_min_genes": fail_genes,
            "failed_min_counts": fail_counts,
            "failed_max_mito": fail_mito,
        }
    )
    order = (
        list(adata.obs[sample_column].cat.categories)
        if isinstance(adata.obs[sample_column].dtype, pd.CategoricalDtype)
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
            "failed_min_genes": grouped["failed_min_genes"].sum(),
            "failed_min_counts": grouped["failed_min_counts"].sum(),
            "failed_max_mito": grouped["failed_max_mito"].sum(),
        }
    )
    summary = summary.reindex([s for s in order if s in summary.index])
    summary.index.name = "sample"
    summary = summary.reset_index()
    for column in ("cells_in", "cells_kept", *QC_COLUMNS[-3:]):
        summary[column] = summary[column].astype(np.int64)
    if not keep.any():
        raise InputError(
            f"no cell passes QC (min_genes={min_genes}, min_counts={min_counts}, "
            f"max_mito_fraction={max_mito_fraction}); median genes per cell "
            f"{np.median(n_genes):g}, counts {np.median(total):g}, mito fraction "
            f"{np.median(mito_fraction):.3f}",
            fix="loosen single_cell.qc thresholds",
        )
    kept = adata[keep].copy()
    kept.obs["n_genes"] = n_genes[keep]
    kept.obs["total_counts"] = total[keep]
    kept.obs["mito_fraction"] = mito_fraction[keep]
    return kept, summary.loc[:, list(QC_COLUMNS)]


# --------------------------------------------------------------------------------------------
# Pseudobulk
# --------------------------------------------------------------------------------------------


def _category_order(values: pd.Series) -> list[str]:
    if isinstance(values.dtype, pd.CategoricalDtype):
        return [str(c) for c in values.cat.categories]
    return sorted(set(values.astype(str)))


def pseudo_sample_name(sample: str, cell_type: str) -> str:
    """Name of the pseudo-sample of ``cell_type`` cells in ``sample``: ``{sample}__{cell_type}``."""
    return f"{sample}__{cell_type}"


def _row_chunks(n_rows: int, chunk: int | None = None) -> Iterator[tuple[int, int]]:
    chunk = chunk or CHUNK_CELLS  # read at call time (tests shrink it)
    for start in range(0, n_rows, chunk):
        yield start, min(start + chunk, n_rows)


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

    Sums are sparse products (groups x cells indicator @ cells x genes counts) over chunks of
    :data:`CHUNK_CELLS` cells, accumulated in int64: no dense cells x genes matrix.
    Cell types are ordered by their categorical order, else sorted.
    """
    for column in (sample_column, cell_type_column):
        if column not in adata.obs.columns:
            raise InputError(
                f"obs has no column {column!r}; obs columns: {list(adata.obs.columns)}",
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
    cell_samples = adata.obs[sample_column].astype(str).to_numpy()
    unknown = sorted(set(cell_samples) - set(sheet_samples))
    if unknown:
        raise InputError(
            f"cells of sample(s) {unknown[:10]} are not in the sample sheet",
            fix="run check_obs_columns first",
        )
    cell_types = _category_order(adata.obs[cell_type_column])
    sample_code = pd.Index(sheet_samples).get_indexer(cell_samples)
    type_code = pd.Index(cell_types).get_indexer(adata.obs[cell_type_column].astype(str))
    n_samples, n_types = len(sheet_samples), len(cell_types)
    # Group g = type * n_samples + sample: columns come out by cell type, then sheet order.
    group = type_code.astype(np.int64) * n_samples + sample_code
    n_groups = n_types * n_samples
    n_cells = np.bincount(group, minlength=n_groups)

    matrix = _as_csr(adata.X)
    totals = np.zeros((n_groups, adata.n_vars), dtype=np.int64)
    for start, stop in _row_chunks(adata.n_obs):
        block = matrix[start:stop]
        values = block.data
        if np.issubdtype(values.dtype, np.floating) and np.any(values != np.floor(values)):
            raise InputError(
                "X holds non-integer values; pseudobulk sums raw integer counts",
                fix="read the data with read_single_cell (checks the counts)",
            )
        block = sparse.csr_matrix(
            (values.astype(np.int64), block.indices, block.indptr), shape=block.shape
        )
        indicator = sparse.csr_matrix(
            (
                np.ones(stop - start, dtype=np.int64),
                (group[start:stop], np.arange(stop - start)),
            ),
            shape=(n_groups, stop - start),
        )
        totals += (indicator @ block).toarray()

    groups = pd.DataFrame(
        {
            "sample": [pseudo_sample_name(s, t) for t in cell_types for s in sheet_samples],
            "original_sample": [s for _ in cell_types for s in sheet_samples],
            "cell_type": [t for t in cell_types for _ in sheet_samples],
            "n_cells": n_cells.astype(np.int64),
        }
    )
    keep = groups["n_cells"].to_numpy() >= min_cells
    dropped = groups.loc[~keep].copy()
    dropped["reason"] = f"fewer than {min_cells} cells"
    factors = samples_sheet.astype({"sample": str}).rename(columns={"sample": "original_sample"})
    sheet = groups.loc[keep].merge(factors, on="original_sample", how="left", sort=False)
    counts = pd.DataFrame(
        totals[keep].T,
        index=pd.Index(adata.var_names.astype(str), name="gene_id"),
        columns=sheet["sample"].to_numpy(),
    )
    return counts, sheet.reset_index(drop=True), dropped.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Normalised values, programme scores, embedding
# --------------------------------------------------------------------------------------------


def log_normalise(
    matrix: sparse.spmatrix, *, target_sum: float = TARGET_SUM, dtype=np.float32
) -> sparse.csr_matrix:
    """``log1p(counts / cell total * target_sum)`` as CSR sharing the index arrays of ``matrix``.

    Same values as :func:`scanpy.pp.normalize_total` (``target_sum``) then
    :func:`scanpy.pp.log1p`; only a new ``data`` array is allocated. Cells without counts stay 0.
    """
    matrix = _as_csr(matrix)
    totals = np.asarray(matrix.sum(axis=1, dtype=np.float64)).ravel()
    scale = np.divide(target_sum, totals, out=np.zeros_like(totals), where=totals > 0)
    data = matrix.data.astype(np.float64) * np.repeat(scale, np.diff(matrix.indptr))
    np.log1p(data, out=data)
    return sparse.csr_matrix(
        (data.astype(dtype, copy=False), matrix.indices, matrix.indptr), shape=matrix.shape
    )


def _lognorm_chunks(
    matrix: sparse.csr_matrix, target_sum: float, chunk: int | None = None
) -> Iterator[tuple[int, int, sparse.csr_matrix]]:
    for start, stop in _row_chunks(matrix.shape[0], chunk):
        yield start, stop, log_normalise(matrix[start:stop], target_sum=target_sum)


def cell_programme_scores(
    adata: ad.AnnData,
    gene_sets: Mapping[str, Sequence[str]],
    *,
    seed: int = 0,
    ctrl_size: int = 50,
    n_bins: int = 25,
    target_sum: float = TARGET_SUM,
) -> pd.DataFrame:
    """Per-cell score of each programme: cells x programmes (index ``obs_names``).

    The score is :func:`scanpy.tl.score_genes` (Seurat's module score) on
    ``log1p(normalize_total(counts, target_sum))``: the mean of the programme's genes minus the
    mean of ``ctrl_size`` control genes drawn from each of the ``n_bins`` expression bins the
    programme's genes fall in (seeded with ``seed`` per programme, as ``score_genes`` with
    ``random_state=seed``). It is computed here in one pass for all programmes -- the same
    algorithm and control genes, equal to ``score_genes`` up to float rounding (tested) -- because
    ``score_genes`` copies the whole matrix twice per programme. The normalised values are made
    chunk by chunk (:data:`CHUNK_CELLS` cells), so memory stays at the counts plus one chunk.
    Programmes with none of their genes in the data get NaN (with a warning). ``X`` must hold
    raw counts.
    """
    matrix = _as_csr(adata.X)
    var_names = pd.Index(adata.var_names.astype(str))
    names = list(gene_sets)
    gene_sums = np.zeros(adata.n_vars, dtype=np.float64)
    for _, _, block in _lognorm_chunks(matrix, target_sum):
        gene_sums += np.asarray(block.sum(axis=0, dtype=np.float64)).ravel()
    gene_means = pd.Series(gene_sums / max(adata.n_obs, 1), index=var_names)
    n_items = int(np.round(len(gene_means) / (n_bins - 1)))
    if n_items < 1:
        raise InputError(
            f"{len(gene_means)} genes are too few for {n_bins} expression bins",
            fix="score programmes on data with more genes",
        )
    cut = (gene_means.rank(method="min") // n_items).to_numpy()
    weights = np.zeros((adata.n_vars, len(names)), dtype=np.float64)
    absent = []
    for j, name in enumerate(names):
        genes = pd.Index(list(dict.fromkeys(map(str, gene_sets[name]))))
        present = var_names.get_indexer(genes.intersection(var_names))
        if present.size == 0:
            absent.append(name)
            weights[:, j] = np.nan
            continue
        control = _control_genes(present, cut, ctrl_size, seed)
        if control.size == 0:
            raise ValueError(f"programme {name!r}: no control genes in any expression bin")
        weights[present, j] = 1.0 / present.size
        weights[control, j] = -1.0 / control.size
    if absent:
        warnings.warn(
            f"programme(s) {absent} have no gene in the data; their scores are NaN",
            UserWarning,
            stacklevel=2,
        )
    finite = np.nan_to_num(weights)
    scores = np.empty((adata.n_obs, len(names)), dtype=np.float64)
    for start, stop, block in _lognorm_chunks(matrix, target_sum):
        scores[start:stop] = block.astype(np.float64) @ finite
    scores[:, np.isnan(weights).all(axis=0)] = np.nan
    return pd.DataFrame(scores, index=pd.Index(adata.obs_names, name="cell"), columns=names)


def _control_genes(present: np.ndarray, cut: np.ndarray, ctrl_size: int, seed: int) -> np.ndarray:
    """Control genes as in scanpy's ``score_genes`` (``ctrl_as_ref=True``), same random draws.

    ``score_genes`` seeds NumPy's global generator with ``random_state`` and, for each bin the
    programme's genes fall in (sorted), draws ``ctrl_size`` genes of the bin with
    ``Series.sample`` (= ``RandomState.choice(n, ctrl_size, replace=False)``), then removes the
    programme's genes. A local ``RandomState(seed)`` gives the same draws without touching the
    global state.
    """
    random = np.random.RandomState(seed)
    chosen: list[np.ndarray] = []
    for value in np.unique(cut[present]):
        members = np.flatnonzero(cut == value)
        if ctrl_size < members.size:
            members = members[random.choice(members.size, ctrl_size, replace=False)]
        chosen.append(members)
    if not chosen:
        return np.array([], dtype=np.int64)
    return np.setdiff1d(np.unique(np.concatenate(chosen)), present)


def embed(
    adata: ad.AnnData,
    *,
    seed: int = 0,
    n_top_genes: int = 2000,
    n_pcs: int = 30,
    n_neighbors: int = 15,
    target_sum: float = TARGET_SUM,
) -> pd.DataFrame:
    """UMAP coordinates (cells x ``UMAP1``, ``UMAP2``) for figures; deterministic for ``seed``.

    Scanpy's standard recipe on a copy: ``log1p(normalize_total)`` (:func:`log_normalise`),
    ``highly_variable_genes`` (flavour ``seurat``, ``n_top_genes``), per-gene scaling to unit
    variance without centring (keeps the matrix sparse; PCA centres implicitly, so this equals
    z-scoring), ``pca`` (``n_pcs``), exact ``neighbors`` (``n_neighbors``, brute force) and
    ``umap``, all seeded.
    ``X`` must hold raw counts.
    """
    import scanpy as sc

    if adata.n_obs < 3:
        raise InputError(f"{adata.n_obs} cells are too few for an embedding")
    work = ad.AnnData(
        X=log_normalise(adata.X, target_sum=target_sum),
        obs=pd.DataFrame(index=adata.obs_names),
        var=pd.DataFrame(index=adata.var_names),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)
        sc.pp.highly_variable_genes(
            work, n_top_genes=min(n_top_genes, work.n_vars), flavor="seurat"
        )
        work = work[:, work.var["highly_variable"].to_numpy()].copy()
        sc.pp.scale(work, zero_center=False)
        n_comps = max(2, min(n_pcs, work.n_obs - 1, work.n_vars - 1))
        sc.pp.pca(work, n_comps=n_comps, random_state=seed)
        # Exact (brute-force) neighbours: deterministic, and the default approximate path
        # (pynndescent, > 4096 cells) breaks with scipy 1.17 (csr_array has no getnnz).
        sc.pp.neighbors(
            work,
            n_neighbors=min(n_neighbors, work.n_obs - 1),
            random_state=seed,
            transformer="sklearn",
        )
        sc.tl.umap(work, random_state=seed)
    return pd.DataFrame(
        np.asarray(work.obsm["X_umap"], dtype=np.float64),
        index=pd.Index(adata.obs_names, name="cell"),
        columns=["UMAP1", "UMAP2"],
    )
