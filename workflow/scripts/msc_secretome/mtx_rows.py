"""A 10x Matrix Market folder's counts, read chunk by chunk of cells from the checked text.

After :func:`~msc_secretome.tenx_folder.scan_mtx` has checked every entry of ``matrix.mtx``
and counted the entries per cell, :func:`open_10x_folder` serves CSR rows of cells:

* :class:`SortedMtxRows` for a file sorted by cell (Cell Ranger writes column by column): a
  chunk of cells is one run of lines, read forward from the text (no temporary file);
* :class:`BucketedMtxRows` for any other order (STARsolo, kallisto-bustools, R's ``writeMM``
  need not sort): one more pass over the text writes each entry into the region of its chunk
  of cells in a temporary binary file (8 bytes per count when there are under 65,536 genes and
  counts fit 32 bits), removed on close; a read loads the regions it needs.

Memory is bounded by the chunk, not the file: one block of
:data:`~msc_secretome.tenx_folder.BLOCK_BYTES` (16 MB of text, ~1.2 million lines, ~40 MB
parsed), 16 bytes per cell (entries per cell, row pointers) and one chunk of cells' counts: 8
bytes per stored count when sorted (gene int32 and count float32, filled in place), ~24 when
not (records, the sort order, the sorted copy). 200,000 cells x 1,440 genes, the whole rule
``pseudobulk_cells``: 0.61 GB peak sorted, 0.80 GB shuffled (README, "Speed and memory").
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path

import numpy as np
from scipy import sparse

from .errors import InputError
from .tenx_folder import (
    MtxHeader,
    MtxScan,
    find_10x_files,
    mtx_blocks,
    read_10x_names,
    read_mtx_header,
    scan_mtx,
)


def _value_dtype(max_count: float):
    return np.float32 if max_count <= 2**24 else np.float64


def _csr(row, column, value, n_rows: int, n_columns: int, *, by_row: bool = False):
    """CSR from entries in any order (stable sort by row unless ``by_row``: already in row
    order); duplicates are left for the counts check to sum."""
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n_rows), out=indptr[1:])
    if indptr[-1] < 2**31 and n_columns < 2**31:
        indptr = indptr.astype(np.int32)
    if not by_row:
        order = np.argsort(row, kind="stable")
        column, value = column[order], value[order]
    indices = column.astype(np.int32 if n_columns < 2**31 else np.int64, copy=False)
    return sparse.csr_matrix((value, indices, indptr), shape=(n_rows, n_columns))


class SortedMtxRows:
    """Rows of a matrix.mtx sorted by cell, read from the text: a chunk of cells is a run of lines.

    Reads move forward through the file; a read before the current position reopens it (a
    pass over the chunks in order reads the file once).
    """

    streamed = True

    def __init__(self, path: Path, header: MtxHeader, scan: MtxScan, gex: np.ndarray | None):
        assert scan.entry_ptr is not None
        self.path, self.header, self.entry_ptr = path, header, scan.entry_ptr
        self.dtype = _value_dtype(scan.max_count)
        self.new_column = None
        self.n_columns = header.n_genes
        if gex is not None:
            self.new_column = np.full(gex.size, -1, dtype=np.int32)
            self.new_column[gex] = np.arange(int(gex.sum()))
            self.n_columns = int(gex.sum())
        self._blocks = None
        self._pending = None  # (first, gene, cell, count) of the block being read
        self._position = 0  # index of the first entry not yet passed

    def _take(self, first: int, last: int):
        """gene (int32), count and (with a gene filter) cell (int32) of entries ``first:last``,
        filled block by block into arrays of their final size (no copies to concatenate)."""
        if first < self._position or self._blocks is None:
            self._restart()
        n = last - first
        gene, count = np.empty(n, dtype=np.int32), np.empty(n, dtype=self.dtype)
        cell = np.empty(n, dtype=np.int32) if self.new_column is not None else None
        filled = 0
        while self._position < last:
            if self._pending is None:
                self._pending = next(self._blocks, None)
                if self._pending is None:
                    break
            start, block_gene, block_cell, block_count = self._pending
            end = start + block_gene.size
            low, high = max(first - start, 0), min(last - start, block_gene.size)
            if high > low:
                at = slice(start + low - first, start + high - first)
                gene[at], count[at] = block_gene[low:high], block_count[low:high]
                if cell is not None:
                    cell[at] = block_cell[low:high]
                filled += high - low
            if end > last:
                self._position = last
                break
            self._pending, self._position = None, end
        if filled != n:  # the scan counted them: the file changed since
            raise InputError("matrix.mtx changed while it was read", path=str(self.path))
        return gene, cell, count

    def _restart(self) -> None:
        self.close()
        self._blocks = mtx_blocks(self.path, self.header)
        self._pending, self._position = None, 0

    def read(self, start: int, stop: int) -> sparse.csr_matrix:
        first, last = int(self.entry_ptr[start]), int(self.entry_ptr[stop])
        gene, cell, count = self._take(first, last)
        if self.new_column is None:  # the entries' row pointers are the scan's
            indptr = self.entry_ptr[start : stop + 1] - first
            if indptr[-1] < 2**31:
                indptr = indptr.astype(np.int32)
            return sparse.csr_matrix((count, gene, indptr), shape=(stop - start, self.n_columns))
        column = self.new_column[gene]
        keep = column >= 0
        row = cell[keep] - start
        return _csr(row, column[keep], count[keep], stop - start, self.n_columns, by_row=True)

    def read_rows(self, rows: np.ndarray) -> sparse.csr_matrix:
        """Rows ``rows`` (strictly increasing), one forward read per run of consecutive rows."""
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        firsts = rows[np.concatenate([[0], breaks])]
        lasts = rows[np.concatenate([breaks, [rows.size]]) - 1] + 1
        runs = [self.read(int(a), int(b)) for a, b in zip(firsts, lasts, strict=True)]
        return sparse.vstack(runs, format="csr")

    def close(self) -> None:
        if self._blocks is not None:
            self._blocks.close()
        self._blocks = self._pending = None


class BucketedMtxRows:
    """Rows of a matrix.mtx in any entry order, sorted once into a temporary binary file.

    One more pass over the text writes each entry as a record (cell within its bucket, gene,
    count: 8 bytes when there are under 65,536 genes and counts fit 32 bits) into the region of
    its bucket of ``bucket_cells`` cells; a read loads the buckets it needs and sorts them by
    cell. The folder (in ``$TMPDIR`` unless ``tmp_dir``) is removed on close.
    """

    streamed = True

    def __init__(
        self,
        path: Path,
        header: MtxHeader,
        scan: MtxScan,
        gex: np.ndarray | None,
        bucket_cells: int,
        tmp_dir: str | None = None,
    ):
        self.bucket_cells, self.n_cells = bucket_cells, header.n_cells
        self.n_columns = header.n_genes if gex is None else int(gex.sum())
        self.dtype = _value_dtype(scan.max_count)
        self.record = np.dtype(
            [
                ("cell", np.uint16 if bucket_cells <= 2**16 else np.uint32),
                ("gene", np.uint16 if self.n_columns <= 2**16 else np.uint32),
                ("count", np.uint32 if scan.max_count < 2**32 else np.float64),
            ]
        )
        starts = np.arange(0, header.n_cells, bucket_cells)
        self.sizes = np.add.reduceat(scan.kept_per_cell, starts) if starts.size else starts
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)])
        self.folder = tempfile.mkdtemp(prefix="msc_secretome_mtx_", dir=tmp_dir)
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)
        self.file = Path(self.folder) / "entries.bin"
        new_column = None
        if gex is not None:
            new_column = np.full(gex.size, -1, dtype=np.int64)
            new_column[gex] = np.arange(self.n_columns)
        try:
            self._write(path, header, new_column)
        except BaseException:
            self.close()
            raise

    def _write(self, path: Path, header: MtxHeader, new_column: np.ndarray | None) -> None:
        fill = self.offsets[:-1].copy()
        size = self.record.itemsize
        with open(self.file, "wb") as out:
            for _, gene, cell, count in mtx_blocks(path, header):
                if new_column is not None:
                    gene = new_column[gene]
                    keep = gene >= 0
                    gene, cell, count = gene[keep], cell[keep], count[keep]
                bucket = cell // self.bucket_cells
                order = np.argsort(bucket, kind="stable")
                records = np.empty(order.size, dtype=self.record)
                records["cell"] = (cell - bucket * self.bucket_cells)[order]
                records["gene"] = gene[order]
                records["count"] = count[order]
                bucket = bucket[order]
                edges = np.flatnonzero(np.diff(bucket)) + 1
                firsts = np.concatenate([[0], edges])
                lasts = np.concatenate([edges, [bucket.size]])
                for a, b in zip(firsts, lasts, strict=True):
                    if b > a:
                        k = int(bucket[a])
                        out.seek(int(fill[k]) * size)
                        out.write(records[a:b].tobytes())
                        fill[k] += b - a
        if not np.array_equal(fill, self.offsets[1:]):  # the file changed since the scan
            raise InputError("matrix.mtx changed while it was read", path=str(path))

    def _bucket(self, k: int) -> np.ndarray:
        return np.fromfile(
            self.file,
            dtype=self.record,
            count=int(self.sizes[k]),
            offset=int(self.offsets[k]) * self.record.itemsize,
        )

    def read(self, start: int, stop: int) -> sparse.csr_matrix:
        rows, genes, counts = [], [], []
        for k in range(start // self.bucket_cells, (stop - 1) // self.bucket_cells + 1):
            records = self._bucket(k)
            row, gene, count = records["cell"], records["gene"], records["count"]
            offset = k * self.bucket_cells - start
            n_bucket = min(self.bucket_cells, self.n_cells - k * self.bucket_cells)
            if offset or n_bucket > stop - start:  # not the whole bucket
                row = row.astype(np.int64) + offset
                keep = (row >= 0) & (row < stop - start)
                row, gene, count = row[keep], gene[keep], count[keep]
            rows.append(row)
            genes.append(gene)
            counts.append(count.astype(self.dtype))
            del records
        if len(rows) > 1:
            rows, genes, counts = ([np.concatenate(x)] for x in (rows, genes, counts))
        return _csr(rows[0], genes[0], counts[0], stop - start, self.n_columns)

    def read_rows(self, rows: np.ndarray) -> sparse.csr_matrix:
        """Rows ``rows`` (strictly increasing): each bucket holding some is read once."""
        bucket = rows // self.bucket_cells
        parts = []
        for k in np.unique(bucket):
            wanted = rows[bucket == k]
            start = int(k) * self.bucket_cells
            parts.append(self.read(start, int(wanted[-1]) + 1)[wanted - start])
        return sparse.vstack(parts, format="csr")

    def close(self) -> None:
        self._cleanup()


def open_10x_folder(folder: Path, *, bucket_cells: int, tmp_dir: str | None = None):
    """Names and streamed rows of a 10x matrix folder, after the checking pass over its counts.

    Returns ``(obs, var, rows)``: obs n_cells (barcodes), var the kept genes
    (:func:`read_10x_names`), and a :class:`SortedMtxRows` (entries sorted by cell) or
    :class:`BucketedMtxRows` (any other order) with ``read(start, stop)``/``read_rows(rows)``
    giving CSR rows of counts (float32, float64 when a count exceeds 2**24).
    """
    files = find_10x_files(folder)
    header = read_mtx_header(files.matrix)
    obs, var, gex = read_10x_names(files, header.n_genes, header.n_cells)
    scan = scan_mtx(files.matrix, header, obs.index, var.index, gex)
    if scan.entry_ptr is not None:
        rows = SortedMtxRows(files.matrix, header, scan, gex)
    else:
        rows = BucketedMtxRows(files.matrix, header, scan, gex, bucket_cells, tmp_dir)
    return obs, (var if gex is None else var.loc[gex]), rows
