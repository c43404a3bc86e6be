"""Single-cell counts read chunk by chunk of cells: the whole matrix is never in memory.

A million cells with 1,500 detected genes each are 1.5e9 stored counts, 12 GB as float32 CSR:
more than a laptop or a default cluster job has. :func:`open_cells` keeps only obs, var and the
row pointers in memory and reads :data:`CHUNK_CELLS` cells at a time from disk for

* an ``.h5ad`` whose counts (``X``, a layer or ``raw.X``) are stored as CSR (what
  ``write_h5ad`` writes for a CSR matrix, compressed or not);
* a Cell Ranger 3+ ``.h5`` file (barcodes as columns of a CSC matrix = cells as CSR rows);
* a 10x Matrix Market folder (:mod:`msc_secretome.mtx_rows`: a checking pass over
  ``matrix.mtx``, then chunks read from the text when it is sorted by cell, as Cell Ranger
  writes it, else from a temporary file sorted by chunk of cells).

Other layouts (an h5ad with dense or CSC counts, a Cell Ranger 2 ``.h5``) cannot be read by
rows cheaply; they are loaded whole with
:func:`~msc_secretome.single_cell_reading.read_single_cell` and then served in chunks the same
way. Every chunk is checked with :func:`~msc_secretome.single_cell_reading.as_count_matrix`
(the same check and error as reading the whole file).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

from .errors import InputError
from .mtx_rows import open_10x_folder
from .single_cell_reading import (
    NO_LAYERS_FIX,
    as_count_matrix,
    h5ad_parts,
    open_h5ad,
    read_single_cell,
    standardise_names,
)
from .tenx_folder import COUNTS_FIX

#: Cells per chunk in chunked passes over the matrix (bounded temporary memory).
CHUNK_CELLS = 10_000
#: obs column of :meth:`CellSource.cells` holding each cell's row in the source matrix.
SOURCE_ROW = "_source_row"
#: :meth:`CellSource.read_rows` reads a chunk whole when over 1/DENSE_PICK of its rows are wanted.
DENSE_PICK = 32
#: HDF5 chunk cache when reading by rows (compressed chunks are decompressed once).
H5_CACHE_BYTES = 64 * 2**20


def row_chunks(n_rows: int, chunk: int | None = None) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of consecutive chunks of ``chunk`` (default :data:`CHUNK_CELLS`) rows."""
    chunk = chunk or CHUNK_CELLS  # read at call time (tests shrink it)
    for start in range(0, n_rows, chunk):
        yield start, min(start + chunk, n_rows)


class _MemoryRows:
    """Rows of a checked CSR matrix already in memory."""

    streamed = False

    def __init__(self, matrix: sparse.csr_matrix):
        self.matrix = matrix

    def read(self, start: int, stop: int) -> sparse.csr_matrix:
        return self.matrix[start:stop]

    def read_rows(self, rows: np.ndarray) -> sparse.csr_matrix:
        return self.matrix[rows]

    def close(self) -> None:
        self.matrix = None


class _HDF5Rows:
    """Rows of a CSR matrix stored as ``data``/``indices``/``indptr`` HDF5 datasets.

    ``genes`` (optional) keeps only these columns (10x: gene expression features), renumbered.
    """

    streamed = True

    def __init__(self, handle, group, n_columns: int, genes: np.ndarray | None = None):
        self.handle = handle
        self.data, self.indices = group["data"], group["indices"]
        self.indptr = np.asarray(group["indptr"][:], dtype=np.int64)
        self.n_columns = n_columns
        self.new_column = None
        if genes is not None:
            self.new_column = np.full(genes.size, -1, dtype=np.int64)
            self.new_column[genes] = np.arange(int(genes.sum()))

    def read(self, start: int, stop: int) -> sparse.csr_matrix:
        first, last = int(self.indptr[start]), int(self.indptr[stop])
        data = self.data[first:last]
        indices = self.indices[first:last]
        indptr = self.indptr[start : stop + 1] - first
        if self.new_column is not None:
            column = self.new_column[indices]
            keep = column >= 0
            indptr = np.concatenate([[0], np.cumsum(keep)])[indptr]
            data, indices = data[keep], column[keep]
        if self.n_columns < 2**31 and indices.size < 2**31:  # scipy's own index dtype
            indices = indices.astype(np.int32, copy=False)
            indptr = indptr.astype(np.int32)
        return sparse.csr_matrix((data, indices, indptr), shape=(stop - start, self.n_columns))

    def read_rows(self, rows: np.ndarray) -> sparse.csr_matrix:
        """Rows ``rows`` (strictly increasing), one HDF5 read per run of consecutive rows."""
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        firsts = rows[np.concatenate([[0], breaks])]
        lasts = rows[np.concatenate([breaks, [rows.size]]) - 1] + 1
        data, indices = [], []
        for first, last in zip(firsts, lasts, strict=True):
            a, b = int(self.indptr[first]), int(self.indptr[last])
            data.append(self.data[a:b])
            indices.append(self.indices[a:b])
        lengths = self.indptr[rows + 1] - self.indptr[rows]
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        data, indices = np.concatenate(data), np.concatenate(indices)
        if self.new_column is not None:
            column = self.new_column[indices]
            keep = column >= 0
            indptr = np.concatenate([[0], np.cumsum(keep)])[indptr]
            data, indices = data[keep], column[keep]
        return sparse.csr_matrix((data, indices, indptr), shape=(rows.size, self.n_columns))

    def close(self) -> None:
        self.handle.close()


class _Names:
    """Cell and gene names of a matrix, for :func:`as_count_matrix` errors."""

    def __init__(self, obs_names: pd.Index, var_names: pd.Index):
        self.obs_names, self.var_names = obs_names, var_names


class CellSource:
    """Raw counts of n_cells x n_genes cells, read by chunks of rows; obs and var in memory.

    Build it with :func:`open_cells`. ``obs_names``/``var_names`` name the cells and genes
    (text, genes unique); :meth:`cells` gives the obs/var-only AnnData to annotate and filter;
    :meth:`read` and :meth:`read_rows` give checked float CSR rows (as
    :func:`~msc_secretome.single_cell_reading.as_count_matrix`); :meth:`chunks` walks all rows.
    Use it as a context manager (closes the file).
    """

    def __init__(self, path: str | Path, meta: ad.AnnData, rows, *, what: str, fix: str):
        self.path, self.what, self.fix = str(path), what, fix
        self.meta, self._rows = meta, rows

    @property
    def n_obs(self) -> int:
        return self.meta.n_obs

    @property
    def n_vars(self) -> int:
        return self.meta.n_vars

    @property
    def obs_names(self) -> pd.Index:
        return self.meta.obs_names

    @property
    def var_names(self) -> pd.Index:
        return self.meta.var_names

    @property
    def streamed(self) -> bool:
        """True when rows are read from disk, False when the whole matrix was loaded."""
        return self._rows.streamed

    def cells(self) -> ad.AnnData:
        """obs and var only (``X`` None); each cell's source row in obs :data:`SOURCE_ROW`."""
        obs = self.meta.obs.copy()
        obs[SOURCE_ROW] = np.arange(self.n_obs, dtype=np.int64)
        return ad.AnnData(obs=obs, var=self.meta.var.copy())

    def read(self, start: int, stop: int) -> sparse.csr_matrix:
        """Rows ``start:stop`` (stop - start x n_genes), checked as counts."""
        block = self._rows.read(start, stop)
        if not self._rows.streamed:
            return block  # checked when loaded
        return as_count_matrix(
            block,
            where=f"{self.what} (cells {start + 1}-{stop})",
            path=self.path,
            fix=self.fix,
            adata=self,
            first_row=start,
        )

    def chunks(self, chunk: int | None = None) -> Iterator[tuple[int, int, sparse.csr_matrix]]:
        """``(start, stop, rows)`` over all cells, :data:`CHUNK_CELLS` at a time."""
        for start, stop in row_chunks(self.n_obs, chunk):
            yield start, stop, self.read(start, stop)

    def read_rows(self, rows: np.ndarray) -> sparse.csr_matrix:
        """The rows ``rows`` (strictly increasing source rows; len(rows) x n_genes), checked.

        Per chunk of :data:`CHUNK_CELLS` rows: when more than 1/:data:`DENSE_PICK` of its rows
        are wanted, the chunk is read whole and sliced; otherwise each run of consecutive
        wanted rows is one small read (a sparse subsample does not cost a pass over the file).
        """
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and np.any(np.diff(rows) <= 0):
            raise ValueError("rows must be strictly increasing")
        if not rows.size:
            return sparse.csr_matrix((0, self.n_vars), dtype=np.float32)
        if not self._rows.streamed:
            return self._rows.read_rows(rows)  # checked when loaded
        blocks = []
        for start, stop in row_chunks(self.n_obs):
            wanted = rows[(rows >= start) & (rows < stop)]
            if not wanted.size:
                continue
            if wanted.size * DENSE_PICK > stop - start:
                blocks.append(self.read(start, stop)[wanted - start])
                continue
            blocks.append(
                as_count_matrix(
                    self._rows.read_rows(wanted),
                    where=f"{self.what} ({wanted.size} chosen cells of {start + 1}-{stop})",
                    path=self.path,
                    fix=self.fix,
                    adata=_Names(self.obs_names[wanted], self.var_names),
                )
            )
        dtype = np.result_type(*(b.dtype for b in blocks))
        return sparse.vstack([b.astype(dtype, copy=False) for b in blocks], format="csr")

    def close(self) -> None:
        self._rows.close()

    def __enter__(self) -> CellSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_cells(path: str | Path, *, layer: str | None = None) -> CellSource:
    """Open single-cell counts for chunked reading (the formats of ``read_single_cell``).

    Parameters
    ----------
    path : str or Path
        ``.h5ad``, 10x ``.h5`` or 10x matrix folder (Cell Ranger 2 or 3+, plain or gzipped).
    layer : str, optional
        h5ad only: the layer with raw counts, ``"raw.X"`` for ``adata.raw.X``, None for ``X``.

    Returns
    -------
    CellSource
        n_cells x n_genes; streamed from disk for CSR h5ad, Cell Ranger 3+ ``.h5`` and 10x
        folders, else loaded whole. The same :class:`InputError` as ``read_single_cell`` for a
        missing file, layer or bad values (values: when the chunk holding them is read; in a
        10x folder every entry is checked here, before any chunk, naming its line).
    """
    path = Path(path)
    if path.is_file() and path.name.endswith(".h5ad"):
        source = _open_h5ad(path, layer)
    elif path.is_file() and path.suffix == ".h5":
        source = _open_10x_h5(path, layer)
    elif path.is_dir():
        source = _open_10x_mtx(path, layer)
    else:
        source = None
    if source is None:
        adata = read_single_cell(path, layer=layer)
        meta = ad.AnnData(obs=adata.obs, var=adata.var)
        return CellSource(path, meta, _MemoryRows(adata.X), what="X", fix="")
    return source


def _open_h5ad(path: Path, layer: str | None) -> CellSource | None:
    handle = open_h5ad(path, rdcc_nbytes=H5_CACHE_BYTES)
    try:
        obs, var, element, what, fix = h5ad_parts(handle, path, layer)
        if dict(element.attrs).get("encoding-type") != "csr_matrix":
            handle.close()
            return None
        shape = tuple(int(n) for n in element.attrs["shape"])
        if shape != (len(obs), len(var)):
            raise InputError(
                f"{what} is {shape[0]} x {shape[1]} but obs has {len(obs)} rows and var {len(var)}",
                path=str(path),
                fix="write the file with AnnData's write_h5ad",
            )
        meta = standardise_names(ad.AnnData(obs=obs, var=var), path)
        rows = _HDF5Rows(handle, element, shape[1])
    except BaseException:
        handle.close()
        raise
    return CellSource(path, meta, rows, what=what, fix=fix)


def _open_10x_mtx(path: Path, layer: str | None) -> CellSource:
    """A 10x matrix folder: checking pass over matrix.mtx, then chunks from the text or a sort."""
    if layer is not None:
        raise InputError(
            f"layer {layer!r} was given, but a 10x matrix folder has no layers",
            path=str(path),
            fix=NO_LAYERS_FIX,
        )
    obs, var, rows = open_10x_folder(path, bucket_cells=CHUNK_CELLS)
    try:
        meta = standardise_names(ad.AnnData(obs=obs, var=var), path)
    except BaseException:
        rows.close()
        raise
    return CellSource(path, meta, rows, what="matrix.mtx", fix=COUNTS_FIX)


def _open_10x_h5(path: Path, layer: str | None) -> CellSource | None:
    """Cell Ranger 3+ ``.h5``: ``matrix/{data,indices,indptr,shape,barcodes,features/}``."""
    if layer is not None:
        raise InputError(
            f"layer {layer!r} was given, but a 10x .h5 file has no layers",
            path=str(path),
            fix=NO_LAYERS_FIX,
        )
    handle = open_h5ad(path, rdcc_nbytes=H5_CACHE_BYTES)
    try:
        group = handle.get("matrix")
        if group is None or "features" not in group:
            handle.close()
            return None  # Cell Ranger 2 layout: scanpy reads it whole
        features = group["features"]
        n_features, _ = (int(n) for n in group["shape"][:])
        columns = _10x_features(features)
        obs = pd.DataFrame(index=pd.Index(group["barcodes"][:].astype(str)))
        if "filtered_barcodes" in group:
            obs["filtered_barcodes"] = group["filtered_barcodes"][:].astype(bool)
        var = pd.DataFrame(columns, index=pd.Index(features["name"][:].astype(str)))
        gex = (var["feature_types"] == "Gene Expression").to_numpy()
        genes = gex if gex.any() and not gex.all() else None
        if genes is not None:
            var = var.loc[gex]
        meta = standardise_names(ad.AnnData(obs=obs, var=var), path)
        rows = _HDF5Rows(handle, group, meta.n_vars, genes)
        if rows.indptr.size != meta.n_obs + 1 or len(columns["feature_types"]) != n_features:
            raise InputError(
                "matrix/shape, barcodes and features of the 10x .h5 file disagree",
                path=str(path),
                fix="give Cell Ranger's filtered_feature_bc_matrix.h5, or convert to .h5ad",
            )
    except KeyError as err:
        handle.close()
        raise InputError(
            f"cannot read as a 10x Genomics .h5 file (KeyError: {err})",
            path=str(path),
            fix="give Cell Ranger's filtered_feature_bc_matrix.h5, or convert to .h5ad",
        ) from err
    except BaseException:
        handle.close()
        raise
    fix = "give Cell Ranger's raw count .h5 (filtered_feature_bc_matrix.h5)"
    return CellSource(path, meta, rows, what="the matrix", fix=fix)


def _10x_features(features) -> dict[str, np.ndarray]:
    """var columns of a Cell Ranger 3+ file, as :func:`scanpy.read_10x_h5` names them."""
    import h5py

    columns: dict[str, np.ndarray] = {}
    if "gene_id" not in features:
        columns["gene_ids"] = features["id"][:].astype(str)
    else:  # probe-barcode matrix
        columns["gene_ids"] = features["gene_id"][:].astype(str)
        columns["probe_ids"] = features["id"][:].astype(str)
    columns["feature_types"] = features["feature_type"][:].astype(str)
    for name, item in features.items():
        if isinstance(item, h5py.Dataset) and name not in (
            "name",
            "feature_type",
            "id",
            "gene_id",
            "_all_tag_keys",
        ):
            columns[name] = item[:].astype(bool if item.dtype.kind == "b" else str)
    return columns
