"""A 10x Matrix Market folder (``matrix.mtx``, ``features.tsv``/``genes.tsv``, ``barcodes.tsv``).

Cell Ranger's ``filtered_feature_bc_matrix/`` holds genes x cells counts as Matrix Market text
(``%%MatrixMarket matrix coordinate integer general``, ``%`` comment lines, then ``n_genes
n_cells n_entries`` and one ``gene cell count`` line per stored count, 1-based). At a million
cells that is 1.5e9 lines, so they are read in blocks of :data:`BLOCK_BYTES` of lines
(:func:`mtx_blocks`) and never held whole. :func:`scan_mtx` is the checking pass: every entry
inside the declared size, non-negative whole counts (``integer``, ``real`` with whole values,
``pattern``), as many entries as the size line says; an :class:`InputError` names the file,
the entry and its line, the cell barcode, the gene and the fix. It counts the entries per cell
and tells whether the file is sorted by cell, for :mod:`msc_secretome.mtx_rows`, which then
serves chunks of cells. :func:`find_10x_files` and :func:`read_10x_names` are shared with the
whole-matrix reader (:func:`msc_secretome.single_cell_reading.read_single_cell`).
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from scipy import io as scipy_io

from .errors import InputError
from .tables import open_text_stream

#: Bytes of matrix.mtx entry lines parsed at a time (~1.2 million lines).
BLOCK_BYTES = 1 << 24
#: The fix named for bad counts in a 10x folder.
COUNTS_FIX = "give the raw (not normalised) 10x matrix folder"
REEXPORT_FIX = "re-export the folder (Cell Ranger: outs/filtered_feature_bc_matrix) or fix the tool"
FIELDS = ("integer", "real", "pattern")


@dataclass(frozen=True)
class TenxFiles:
    """The three files of a 10x matrix folder, each plain or gzipped."""

    matrix: Path
    features: Path
    barcodes: Path


@dataclass(frozen=True)
class MtxHeader:
    """The banner and size line of a coordinate Matrix Market file."""

    field: str  #: integer, real or pattern
    n_genes: int  #: rows
    n_cells: int  #: columns
    n_entries: int  #: stored entries (lines after the size line)
    header_lines: int  #: lines up to and including the size line


def find_10x_files(folder: Path) -> TenxFiles:
    """matrix.mtx, features.tsv (or Cell Ranger 2's genes.tsv) and barcodes.tsv, ``.gz`` or not.

    Raises :class:`InputError` naming the missing files and the folder's contents.
    """
    found = {
        "matrix.mtx[.gz]": _find_file(folder, ["matrix.mtx"]),
        "features.tsv[.gz] or genes.tsv[.gz]": _find_file(folder, ["features.tsv", "genes.tsv"]),
        "barcodes.tsv[.gz]": _find_file(folder, ["barcodes.tsv"]),
    }
    missing = [name for name, path in found.items() if path is None]
    if missing:
        present = sorted(p.name for p in folder.iterdir())[:20]
        raise InputError(
            f"10x matrix folder without {missing}; files there: {present}",
            path=str(folder),
            fix="point single_cell.counts at Cell Ranger's filtered_feature_bc_matrix folder",
        )
    matrix, features, barcodes = found.values()
    assert matrix and features and barcodes
    return TenxFiles(matrix, features, barcodes)


def _find_file(folder: Path, stems: list[str]) -> Path | None:
    for stem in stems:
        for name in (stem, f"{stem}.gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def read_mtx_header(path: Path) -> MtxHeader:
    """Banner, comments and size line of ``matrix.mtx[.gz]`` (:class:`InputError` if not 10x)."""
    with _text(path) as handle:
        banner = handle.readline()
        tokens = banner.lower().split()
        if len(tokens) != 5 or tokens[0] != "%%matrixmarket" or tokens[1] != "matrix":
            raise InputError(
                f"not a Matrix Market file: line 1 is {banner[:80]!r}",
                path=str(path),
                fix="the first line must be '%%MatrixMarket matrix coordinate integer general'",
            )
        _, _, layout, field, symmetry = tokens
        if layout != "coordinate" or field not in FIELDS or symmetry != "general":
            raise InputError(
                f"Matrix Market {layout} {field} {symmetry}: a 10x matrix is 'coordinate "
                "integer general' (real with whole values and pattern are read too)",
                path=str(path),
                fix=REEXPORT_FIX,
            )
        lines = 1
        for line in handle:
            lines += 1
            if line.startswith("%") or not line.strip():
                continue
            size = line.split()
            if len(size) == 3 and all(s.isdigit() for s in size):
                n_genes, n_cells, n_entries = (int(s) for s in size)
                return MtxHeader(field, n_genes, n_cells, n_entries, lines)
            raise InputError(
                f"line {lines} should be the size line 'n_genes n_cells n_entries', is "
                f"{line.strip()[:80]!r}",
                path=str(path),
                fix=REEXPORT_FIX,
            )
    raise InputError("no size line after the banner", path=str(path), fix=REEXPORT_FIX)


def _text(path: Path):
    try:
        return open_text_stream(path)
    except OSError as err:
        raise InputError(f"cannot open ({err})", path=str(path)) from err


def _read_tsv(path: Path) -> pd.DataFrame:
    try:
        with _text(path) as handle:
            return pd.read_csv(handle, sep="\t", header=None, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, EOFError) as err:
        raise InputError(f"cannot read as a tab-separated table ({err})", path=str(path)) from err


def read_10x_names(
    files: TenxFiles, n_genes: int, n_cells: int
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray | None]:
    """Cells and genes of a 10x folder whose matrix is ``n_genes x n_cells``.

    Returns
    -------
    obs : pandas.DataFrame
        n_cells rows, index the barcodes.
    var : pandas.DataFrame
        n_genes rows (every feature): index the gene symbols made unique (``-1``, ``-2``),
        ``gene_ids`` and (Cell Ranger 3+) ``feature_types``.
    gex : numpy.ndarray or None
        n_genes booleans, the "Gene Expression" features, when the folder also has other
        feature types (antibody capture, CRISPR guides); None when every feature is kept.
    """
    features, barcodes = _read_tsv(files.features), _read_tsv(files.barcodes)
    if len(features) != n_genes or len(barcodes) != n_cells:
        raise InputError(
            f"matrix.mtx is {n_genes} features x {n_cells} barcodes but "
            f"{files.features.name} has {len(features)} rows and {files.barcodes.name} "
            f"{len(barcodes)}",
            path=str(files.matrix.parent),
            fix="use the three files of one Cell Ranger output folder",
        )
    symbols = features[1] if features.shape[1] > 1 else features[0]
    names = ad.utils.make_index_unique(pd.Index(symbols.to_numpy(), dtype=object))
    var = pd.DataFrame({"gene_ids": features[0].to_numpy()}, index=names)
    gex = None
    if features.shape[1] > 2:
        var["feature_types"] = features[2].to_numpy()
        gex = (var["feature_types"] == "Gene Expression").to_numpy()
        if not gex.any() or gex.all():
            gex = None
    obs = pd.DataFrame(index=barcodes[0].to_numpy())
    return obs, var, gex


def mtx_blocks(
    path: Path, header: MtxHeader
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """``(first, gene, cell, count)`` per block of about :data:`BLOCK_BYTES` of entry lines.

    ``first`` is the 0-based index of the block's first entry; ``gene`` and ``cell`` are 0-based
    integers, ``count`` float64 (ones for a pattern matrix), each of the block's length. Each
    block is parsed by scipy's Matrix Market reader (fast_matrix_market, given the block under
    a header of its own) or, for blocks it would misread or refuses (other separators than
    one space, a stray field, blank lines), by pandas.
    Unparseable lines and a corrupt gzip stream are an :class:`InputError` naming the file and
    the lines.
    """
    first = 0
    try:
        for data in _byte_blocks(path, header):
            gene, cell, count = _parse_block(data, header, first, path)
            yield first, gene, cell, count
            first += gene.size
    except (EOFError, OSError, zlib.error, gzip.BadGzipFile) as err:
        raise InputError(
            f"the gzip stream is corrupt or truncated after entry {first} ({err})",
            path=str(path),
            fix=REEXPORT_FIX,
        ) from err


def _byte_blocks(path: Path, header: MtxHeader) -> Iterator[bytes]:
    """The entry lines after the header, in blocks of whole lines (gzip or plain, by magic)."""
    size = BLOCK_BYTES  # read at call time (tests shrink it)
    handle = _text(path).detach()  # the binary stream under the one text opener
    try:
        for _ in range(header.header_lines):
            handle.readline()
        rest = b""
        while True:
            data = handle.read(size)
            if not data:
                if rest.strip():
                    yield rest + b"\n"
                return
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if cut:
                yield data[:cut]
            rest = data[cut:]
    finally:
        handle.close()


def _parse_block(data: bytes, header: MtxHeader, first: int, path: Path):
    """gene, cell (0-based) and count of the entry lines ``data``."""
    pattern = header.field == "pattern"
    n_lines = data.count(b"\n")
    banner = (
        f"%%MatrixMarket matrix coordinate {'pattern' if pattern else 'real'} general\n"
        f"{2**31 - 1} {2**31 - 1} {n_lines}\n"  # the real size is checked by scan_mtx
    )
    # scipy's reader ignores a stray field at the end of a line ("1 1 2 7"): blocks that are
    # not exactly one space between fields go to pandas, which refuses such lines by number
    separators = (1 if pattern else 2) * n_lines
    if data.count(b" ") == separators and b"\t" not in data and b"\r" not in data:
        try:
            block = scipy_io.mmread(io.BytesIO(banner.encode() + data))
            return block.row, block.col, block.data.astype(np.float64, copy=False)
        except ValueError:
            pass
    if not data.strip():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    names = ["gene", "cell"] if pattern else ["gene", "cell", "count"]
    types = {"gene": np.int64, "cell": np.int64, "count": np.float64}
    try:
        part = pd.read_csv(
            io.BytesIO(data), sep=r"\s+", header=None, names=names, dtype=types, engine="c",
            comment="%",
        )  # fmt: skip
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        lines = f"{header.header_lines + first + 1}-{header.header_lines + first + n_lines}"
        raise InputError(
            f"cannot parse the entries of lines {lines} as 'gene cell count' numbers ({err})",
            path=str(path),
            fix=REEXPORT_FIX,
        ) from err
    gene = part["gene"].to_numpy() - 1
    count = np.ones(gene.size) if pattern else part["count"].to_numpy()
    return gene, part["cell"].to_numpy() - 1, count


@dataclass
class MtxScan:
    """What the checking pass over a matrix.mtx learnt."""

    kept_per_cell: np.ndarray  #: n_cells int64: entries of kept genes per cell
    entry_ptr: np.ndarray | None  #: n_cells + 1 file positions of each cell's entries, if sorted
    max_count: float  #: the largest count of a kept gene


def scan_mtx(
    path: Path,
    header: MtxHeader,
    barcodes: pd.Index,
    genes: pd.Index,
    gex: np.ndarray | None = None,
) -> MtxScan:
    """Check every entry of a matrix.mtx in one pass; count the entries per cell.

    ``barcodes`` (n_cells) and ``genes`` (n_genes, every feature) name the cell and gene of a
    bad entry; counts of features outside ``gex`` are not checked (they are dropped). Raises
    :class:`InputError` naming the file, the entry, its line, the cell, the gene and the fix for
    an entry outside the declared size, a negative, non-integer or non-finite count, or a number
    of entries other than the size line's.
    """
    n_cells = header.n_cells
    all_per_cell = np.zeros(n_cells, dtype=np.int64)
    kept_per_cell = all_per_cell if gex is None else np.zeros(n_cells, dtype=np.int64)
    last_cell, is_sorted, max_count, total = -1, True, 0.0, 0
    for first, gene, cell, count in mtx_blocks(path, header):
        _check_entries(path, header, first, gene, cell, count, barcodes, genes, gex)
        total = first + gene.size
        if not gene.size:
            continue
        if is_sorted:
            is_sorted = cell[0] >= last_cell and bool(np.all(cell[1:] >= cell[:-1]))
        last_cell = int(cell[-1])
        low = int(cell.min())
        all_per_cell[low : int(cell.max()) + 1] += np.bincount(cell - low)
        if gex is not None:
            cell = cell[gex[gene]]
            count = count[gex[gene]]
            if cell.size:
                low = int(cell.min())
                kept_per_cell[low : int(cell.max()) + 1] += np.bincount(cell - low)
        if count.size:
            max_count = max(max_count, float(count.max()))
    if total != header.n_entries:
        raise InputError(
            f"{path.name} has {total} entries but its size line (line {header.header_lines}) "
            f"declares {header.n_entries}; the file is truncated or was edited",
            path=str(path),
            fix=REEXPORT_FIX,
        )
    entry_ptr = None
    if is_sorted:
        entry_ptr = np.concatenate([[0], np.cumsum(all_per_cell)])
    return MtxScan(kept_per_cell, entry_ptr, max_count)


def _check_entries(path, header, first, gene, cell, count, barcodes, genes, gex) -> None:
    def where(i: int) -> str:
        return f"entry {first + i + 1} (line {header.header_lines + first + i + 1})"

    outside = (gene < 0) | (gene >= header.n_genes) | (cell < 0) | (cell >= header.n_cells)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise InputError(
            f"{path.name} {where(i)} is at gene row {gene[i] + 1}, cell column {cell[i] + 1}, "
            f"outside the declared {header.n_genes} genes x {header.n_cells} cells (size line "
            f"{header.header_lines})",
            path=str(path),
            fix=f"give matrix.mtx with its own features and barcodes files; {REEXPORT_FIX}",
        )
    checked = count if gex is None else np.where(gex[gene], count, 0.0)
    finite = np.isfinite(checked)
    problems = (
        ("NaN or infinite", ~finite, ""),
        ("negative", checked < 0, " It looks scaled (centred), not raw counts."),
        (
            "non-integer",
            finite & (checked != np.floor(checked)),
            " It looks log-normalised or normalised, not raw counts.",
        ),
    )
    for kind, mask, looks in problems:
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise InputError(
                f"{path.name} {where(i)} holds a {kind} count {count[i]:g} for cell "
                f"{barcodes[cell[i]]!r}, gene {genes[gene[i]]!r}; pseudobulk DE needs raw "
                f"integer counts (UMI counts).{looks}",
                path=str(path),
                fix=COUNTS_FIX,
            )
