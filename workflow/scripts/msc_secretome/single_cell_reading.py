"""Reading single-cell counts: h5ad, a 10x matrix folder or a 10x ``.h5`` file, checked as counts.

:func:`read_single_cell` loads the whole matrix (small data, tests, the formats that cannot be
read in parts); :func:`msc_secretome.cell_source.open_cells` reads the same files chunk by chunk
and shares the checks here (:func:`h5ad_parts`, :func:`as_count_matrix`, :func:`standardise_names`;
a 10x folder's files and names: :mod:`msc_secretome.tenx_folder`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import anndata as ad
import numpy as np
from scipy import io as scipy_io
from scipy import sparse

from .errors import InputError
from .tenx_folder import COUNTS_FIX, find_10x_files, read_10x_names

#: Elements of ``.data`` checked per chunk when validating counts.
CHECK_CHUNK = 1 << 24
#: The fix named when a 10x file has a layer setting.
NO_LAYERS_FIX = "remove single_cell.layer (it applies to .h5ad files only)"


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
                fix=NO_LAYERS_FIX,
            )
        adata = _read_10x_folder(path)
        what, fix = "matrix.mtx", COUNTS_FIX
    elif path.name.endswith(".h5ad"):
        adata, what, fix = _read_h5ad(path, layer)
    elif path.suffix == ".h5":
        if layer is not None:
            raise InputError(
                f"layer {layer!r} was given, but a 10x .h5 file has no layers",
                path=str(path),
                fix=NO_LAYERS_FIX,
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
    return standardise_names(adata, path)


def standardise_names(adata: ad.AnnData, path: str | Path) -> ad.AnnData:
    """Text cell and gene names, gene names made unique (``-1``, ``-2``); in place.

    An empty matrix (no cells or no genes) is an :class:`InputError` naming ``path``. ``X`` may
    be ``None`` (obs and var only, as :func:`msc_secretome.cell_source.open_cells` keeps them).
    """
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
    from anndata.io import read_elem

    with open_h5ad(path) as handle:
        obs, var, element, what, fix = h5ad_parts(handle, path, layer)
        matrix = read_elem(element)
    return ad.AnnData(X=as_csr(matrix), obs=obs, var=var), what, fix


def open_h5ad(path: Path, **options):
    """``h5py.File(path, "r")``; an :class:`InputError` naming the file when it is not HDF5."""
    import h5py

    try:
        return h5py.File(path, "r", **options)
    except OSError as err:
        raise InputError(
            f"cannot open as HDF5/AnnData ({err})",
            path=str(path),
            fix="write the file with AnnData's write_h5ad",
        ) from err


def h5ad_parts(handle, path: Path, layer: str | None):
    """obs and var (read) and the HDF5 element of the chosen matrix (not read) of an h5ad file.

    Returns ``(obs, var, element, what, fix)``: ``what`` names the matrix in errors (``X``,
    ``raw.X`` or ``layer 'name'``) and ``fix`` lists the file's other matrices. Raises
    :class:`InputError` when obs/var, the layer or ``raw`` are missing.
    """
    from anndata.io import read_elem

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
        element, var, what = handle["X"], read_elem(handle["var"]), "X"
    elif layer == "raw.X":
        if not has_raw:
            raise InputError(
                f"layer 'raw.X' was asked for but the file has no .raw; layers: {layers}",
                path=str(path),
                fix="set single_cell.layer to one of the layers, or leave it empty for X",
            )
        element, var, what = handle["raw"]["X"], read_elem(handle["raw"]["var"]), "raw.X"
    else:
        if layer not in layers:
            raise InputError(
                f"no layer {layer!r}; layers in this file: {available}",
                path=str(path),
                fix="set single_cell.layer to the layer holding raw counts "
                "(leave it empty when X holds them)",
            )
        element, var = handle["layers"][layer], read_elem(handle["var"])
        what = f"layer {layer!r}"
    others = [x for x in ["X", *available] if x != (layer or "X")]
    fix = (
        f"give the layer holding raw counts with single_cell.layer (other matrices in this "
        f"file: {others})"
        if others
        else "give a file with raw integer counts (not normalised or scaled values)"
    )
    return obs, var, element, what, fix


def _read_10x_folder(folder: Path) -> ad.AnnData:
    """A 10x matrix folder read whole with scipy (Cell Ranger 2 and 3+ layouts, plain or gz)."""
    files = find_10x_files(folder)
    try:
        matrix = scipy_io.mmread(files.matrix)
    except (ValueError, OSError) as err:
        raise InputError(f"cannot read as Matrix Market ({err})", path=str(files.matrix)) from err
    n_features, n_cells = matrix.shape
    obs, var, gex = read_10x_names(files, n_features, n_cells)
    adata = ad.AnnData(X=sparse.csr_matrix(matrix.T), obs=obs, var=var)
    return adata if gex is None else adata[:, gex].copy()


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


def as_csr(matrix) -> sparse.csr_matrix:
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
    first_row: int = 0,
) -> sparse.csr_matrix:
    """Check that ``matrix`` holds non-negative integers; return it as canonical float CSR.

    Parameters
    ----------
    matrix : array or sparse matrix
        n_cells x n_genes counts (or a chunk of rows of them).
    where, path, fix : str, optional
        The matrix, the file and the fix named in the :class:`InputError` raised for
        NaN/infinite, negative or non-integer values.
    adata : AnnData or CellSource, optional
        Anything with ``obs_names`` and ``var_names``, to name the first bad cell and gene.
    first_row : int
        Row of ``adata`` that is the first row of ``matrix`` (when checking a chunk).

    Returns
    -------
    scipy.sparse.csr_matrix
        n_cells x n_genes, duplicates summed, explicit zeros removed; float32 (float64 when a
        count exceeds 2**24). Every stored value is checked, in chunks of :data:`CHECK_CHUNK`
        (temporary memory stays small).
    """
    matrix = as_csr(matrix)
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
    elif np.issubdtype(data.dtype, np.floating) and _whole_non_negative(data):
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
        row += first_row
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


def _whole_non_negative(data: np.ndarray) -> bool:
    """True when every value is a finite non-negative integer (the fast check of good counts;
    a False sends :func:`as_count_matrix` to the detailed scan that names the first bad one)."""
    for start in range(0, data.size, CHECK_CHUNK):
        chunk = data[start : start + CHECK_CHUNK]
        if not chunk.size:
            continue
        low, high = chunk.min(), chunk.max()  # NaN makes both NaN: not >= 0
        if not (low >= 0 and np.isfinite(high)):
            return False
        if not np.array_equal(np.floor(chunk), chunk):
            return False
    return True
