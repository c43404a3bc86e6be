"""10x Matrix Market folders read chunk by chunk (msc_secretome.tenx_folder, mtx_rows).

Fixtures are written in the layouts Cell Ranger writes: version 3+ (``matrix.mtx.gz`` with the
``%metadata_json`` comment, ``features.tsv.gz`` id/name/type, ``barcodes.tsv.gz``) and version 2
(plain ``matrix.mtx``, ``genes.tsv`` id/name, ``barcodes.tsv``), entries sorted by cell then gene
as Cell Ranger writes them or shuffled as other tools may. The streamed results are compared
with the whole-matrix reader (scipy's ``mmread``).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from msc_secretome import cell_source, tenx_folder
from msc_secretome.cell_annotation import dropped_cells_table
from msc_secretome.cell_pipeline import embedding_subsample, prepare_cells, pseudobulk_cells
from msc_secretome.cell_source import CellSource, _MemoryRows
from msc_secretome.errors import InputError
from msc_secretome.mtx_rows import BucketedMtxRows, SortedMtxRows
from msc_secretome.single_cell_reading import read_single_cell
from msc_secretome.tables import write_tsv, write_tsv_gz

CR3_HEADER = [
    "%%MatrixMarket matrix coordinate integer general",
    '%metadata_json: {"software_version": "cellranger-3.1.0", "format_version": 2}',
]


def write_10x(
    folder: Path,
    counts: sparse.spmatrix,
    genes: list[str],
    barcodes: list[str],
    *,
    layout: str = "cr3",
    order: str = "sorted",
    feature_types: list[str] | None = None,
    header: list[str] | None = None,
    values: list[str] | None = None,
    seed: int = 0,
) -> Path:
    """A ``filtered_feature_bc_matrix`` folder of ``counts`` (cells x genes).

    ``layout`` "cr3": gzipped files, features.tsv.gz ``id name type``; "cr2": plain files,
    genes.tsv ``id name``. ``order`` "sorted": by cell then gene (Cell Ranger); "shuffled": a
    seeded permutation. ``header`` replaces the banner and comment lines, ``values`` the
    written value of each entry (in cell-then-gene order, before shuffling).
    """
    folder.mkdir(parents=True)
    coo = sparse.coo_matrix(sparse.csr_matrix(counts).T.astype(np.int64))  # genes x cells
    by_cell = np.lexsort((coo.row, coo.col))
    row, col = coo.row[by_cell], coo.col[by_cell]
    text = [str(v) for v in coo.data[by_cell]] if values is None else values
    entries = [f"{r + 1} {c + 1} {v}" for r, c, v in zip(row, col, text, strict=True)]
    if order == "shuffled":
        entries = [entries[i] for i in np.random.default_rng(seed).permutation(len(entries))]
    cr3 = layout == "cr3"
    banner = header if header is not None else (CR3_HEADER if cr3 else CR3_HEADER[:1] + ["%"])
    lines = [*banner, f"{coo.shape[0]} {coo.shape[1]} {len(entries)}", *entries]
    types = feature_types or ["Gene Expression"] * len(genes)
    features = [
        f"ENSG{i + 1:011d}\t{g}\t{t}" if cr3 else f"ENSG{i + 1:011d}\t{g}"
        for i, (g, t) in enumerate(zip(genes, types, strict=True))
    ]
    files = {
        "matrix.mtx": lines,
        "features.tsv" if cr3 else "genes.tsv": features,
        "barcodes.tsv": barcodes,
    }
    for name, rows in files.items():
        data = ("\n".join(rows) + "\n").encode()
        if cr3:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (folder / name).write_bytes(data)
    return folder


def small_counts(n_cells: int = 53, n_genes: int = 17, seed: int = 4) -> np.ndarray:
    """Cells x genes counts with empty cells: one inside a chunk, one ending a chunk of 7
    (cell 14), the last cell; cell 7 starts a chunk and has one entry."""
    rng = np.random.default_rng(seed)
    dense = rng.poisson(1.3, (n_cells, n_genes)) * (rng.random((n_cells, n_genes)) < 0.4)
    dense[[3, 13, n_cells - 1]] = 0
    dense[7] = 0
    dense[7, 5] = 40_000_000  # above 2**24: float64 chunk
    return dense


def names(n_cells: int, n_genes: int) -> tuple[list[str], list[str]]:
    genes = [f"G{i}" for i in range(n_genes - 2)] + ["MT-CO1", "G0"]  # a repeated symbol
    return genes, [f"AAACCTG{i:05d}-1" for i in range(n_cells)]


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 7 cells; blocks of 40 bytes, ~5 lines (blocks end inside cells and chunks)."""
    monkeypatch.setattr(cell_source, "CHUNK_CELLS", 7)
    monkeypatch.setattr(tenx_folder, "BLOCK_BYTES", 40)


@pytest.mark.parametrize(
    ("layout", "order", "kind"),
    [
        ("cr3", "sorted", SortedMtxRows),
        ("cr3", "shuffled", BucketedMtxRows),
        ("cr2", "sorted", SortedMtxRows),
        ("cr2", "shuffled", BucketedMtxRows),
    ],
)
def test_chunks_equal_the_whole_matrix(tmp_path, small_chunks, layout, order, kind):
    dense = small_counts()
    genes, barcodes = names(*dense.shape)
    folder = write_10x(tmp_path / "mtx", dense, genes, barcodes, layout=layout, order=order)
    whole = read_single_cell(folder)
    np.testing.assert_array_equal(whole.X.toarray(), dense)
    with cell_source.open_cells(folder) as source:
        assert source.streamed and isinstance(source._rows, kind)
        assert list(source.obs_names) == barcodes
        assert list(source.var_names) == list(whole.var_names)  # G0, ..., G0-1
        chunks = list(source.chunks())
        assert [(a, b) for a, b, _ in chunks][-1] == (49, 53)  # last chunk partial
        for start, stop, block in chunks:
            expected = whole.X[start:stop]  # float64 (a count > 2**24)
            assert block.dtype == (np.float64 if start == 7 else np.float32)
            for part in ("data", "indices", "indptr"):
                np.testing.assert_array_equal(getattr(block, part), getattr(expected, part))
        # out of order, across chunk boundaries, then back to the start (reopens the file)
        for start, stop in [(10, 30), (0, 1), (13, 14), (52, 53), (0, 53)]:
            assert (source.read(start, stop) != whole.X[start:stop]).nnz == 0
        rows = np.array([0, 1, 2, 3, 8, 13, 14, 30, 52])
        assert (source.read_rows(rows) != whole.X[rows]).nnz == 0
        if kind is BucketedMtxRows:
            temporary = Path(source._rows.folder)
            assert temporary.is_dir()
    if kind is BucketedMtxRows:
        assert not temporary.exists()  # removed on close


def test_other_feature_types_are_dropped_and_their_counts_not_checked(tmp_path, small_chunks):
    dense = small_counts(20, 6)
    genes = ["A", "B", "MT-CO1", "CD3_TotalSeqB", "C", "CD4_TotalSeqB"]
    types = ["Gene Expression"] * 3 + ["Antibody Capture", "Gene Expression", "Antibody Capture"]
    barcodes = names(20, 6)[1]
    coo = sparse.coo_matrix(sparse.csr_matrix(dense).T)
    order = np.lexsort((coo.row, coo.col))
    values = [
        f"{v}.5" if r in (3, 5) else str(v)  # antibody rows: not counts, dropped unchecked
        for r, v in zip(coo.row[order], coo.data[order], strict=True)
    ]
    for order_kind in ("sorted", "shuffled"):
        folder = write_10x(
            tmp_path / order_kind, dense, genes, barcodes, order=order_kind,
            feature_types=types, values=values,
        )  # fmt: skip
        with cell_source.open_cells(folder) as source:
            assert list(source.var_names) == ["A", "B", "MT-CO1", "C"]
            assert list(source.meta.var["gene_ids"]) == [
                "ENSG00000000001", "ENSG00000000002", "ENSG00000000003", "ENSG00000000005"
            ]  # fmt: skip
            blocks = sparse.vstack([b for _, _, b in source.chunks()])
        np.testing.assert_array_equal(blocks.toarray(), dense[:, [0, 1, 2, 4]])


@pytest.mark.parametrize("field", ["real", "pattern"])
def test_real_with_whole_values_and_pattern_fields(tmp_path, small_chunks, field):
    dense = small_counts(20, 6)
    genes, barcodes = names(20, 6)
    expected = dense if field == "real" else (dense > 0).astype(np.int64)
    coo = sparse.coo_matrix(sparse.csr_matrix(dense).T)
    order = np.lexsort((coo.row, coo.col))
    values = [f"{v}.0" if field == "real" else "" for v in coo.data[order]]
    header = [f"%%MatrixMarket matrix coordinate {field} general"]
    folder = write_10x(tmp_path / "mtx", dense, genes, barcodes, header=header, values=values)
    if field == "pattern":  # "1 2 " -> "1 2"
        path = folder / "matrix.mtx.gz"
        text = gzip.decompress(path.read_bytes()).decode().replace(" \n", "\n")
        path.write_bytes(gzip.compress(text.encode()))
    with cell_source.open_cells(folder) as source:
        blocks = sparse.vstack([b for _, _, b in source.chunks()])
    np.testing.assert_array_equal(blocks.toarray(), expected)


def test_lines_scipy_refuses_are_read_by_pandas(tmp_path, small_chunks):
    """Blank lines, tabs and Windows line endings (hand-edited files) still read the same."""
    dense = small_counts(20, 6)
    genes, barcodes = names(20, 6)
    folder = write_10x(tmp_path / "mtx", dense, genes, barcodes, layout="cr2")
    path = folder / "matrix.mtx"
    lines = path.read_text().splitlines()
    lines[5] = lines[5].replace(" ", "\t")
    lines = lines[:9] + ["", ""] + lines[9:]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    with cell_source.open_cells(folder) as source:
        blocks = sparse.vstack([b for _, _, b in source.chunks()])
    np.testing.assert_array_equal(blocks.toarray(), dense)


def bad_folder(tmp_path, order: str = "sorted", **change) -> Path:
    dense = small_counts(20, 6)
    genes, barcodes = names(20, 6)
    coo = sparse.coo_matrix(sparse.csr_matrix(dense).T)
    by_cell = np.lexsort((coo.row, coo.col))
    values = [str(v) for v in coo.data[by_cell]]
    for index, value in change.get("values", {}).items():
        values[index] = value
    folder = write_10x(tmp_path / "mtx", dense, genes, barcodes, order=order, values=values)
    if "edit" in change:
        path = folder / "matrix.mtx.gz"
        lines = gzip.decompress(path.read_bytes()).decode().splitlines()
        path.write_bytes(gzip.compress(("\n".join(change["edit"](lines)) + "\n").encode()))
    return folder


def entry_of(index: int) -> tuple[str, str]:
    """Cell barcode and gene (unique name) of entry ``index`` (0-based, cell-then-gene order)."""
    dense = small_counts(20, 6)
    genes, barcodes = names(20, 6)
    genes = list(ad.utils.make_index_unique(pd.Index(genes, dtype=object)))
    coo = sparse.coo_matrix(sparse.csr_matrix(dense).T)
    by_cell = np.lexsort((coo.row, coo.col))
    return barcodes[coo.col[by_cell][index]], genes[coo.row[by_cell][index]]


@pytest.mark.parametrize(
    ("value", "kind"), [("-2", "negative"), ("2.5", "non-integer"), ("nan", "NaN or infinite")]
)
def test_a_bad_count_names_file_entry_line_cell_gene_and_fix(tmp_path, small_chunks, value, kind):
    folder = bad_folder(tmp_path, values={20: value})
    cell, gene = entry_of(20)
    with pytest.raises(InputError) as err:
        cell_source.open_cells(folder)
    message = str(err.value)
    assert f"matrix.mtx.gz entry 21 (line 24) holds a {kind} count" in message
    assert f"cell {cell!r}, gene {gene!r}" in message
    assert str(folder / "matrix.mtx.gz") in message
    assert "raw (not normalised) 10x matrix folder" in message


def test_an_entry_outside_the_declared_size_is_named(tmp_path, small_chunks):
    def beyond(lines):
        lines[3 + 11] = "7 21 1"  # 6 genes x 20 cells
        return lines

    with pytest.raises(InputError) as err:
        cell_source.open_cells(bad_folder(tmp_path, edit=beyond))
    message = str(err.value)
    assert "entry 12 (line 15) is at gene row 7, cell column 21" in message
    assert "outside the declared 6 genes x 20 cells (size line 3)" in message


@pytest.mark.parametrize("order", ["sorted", "shuffled"])
@pytest.mark.parametrize("change", [-1, 1])
def test_entries_must_match_the_size_line(tmp_path, small_chunks, order, change):
    def size(lines):
        n_genes, n_cells, n_entries = lines[2].split()
        lines[2] = f"{n_genes} {n_cells} {int(n_entries) + change}"
        return lines

    folder = bad_folder(tmp_path, order, edit=size)
    n_entries = int(small_counts(20, 6).astype(bool).sum())
    with pytest.raises(InputError) as err:
        cell_source.open_cells(folder)
    message = str(err.value)
    assert f"matrix.mtx.gz has {n_entries} entries but its size line (line 3) declares " in message
    assert f"declares {n_entries + change};" in message
    assert "truncated or was edited" in message and "re-export" in message


def test_a_truncated_gzip_stream_is_named(tmp_path):
    folder = bad_folder(tmp_path)
    path = folder / "matrix.mtx.gz"
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(InputError, match="gzip stream is corrupt or truncated") as err:
        cell_source.open_cells(folder)
    assert str(path) in str(err.value)


def test_unreadable_headers_and_lines_are_named(tmp_path):
    folder = bad_folder(tmp_path, edit=lambda lines: ["%%MatrixMarket matrix array real general"])
    with pytest.raises(InputError, match="Matrix Market array real general"):
        cell_source.open_cells(folder)
    (tmp_path / "mtx2").mkdir()
    folder = bad_folder(tmp_path / "mtx2", edit=lambda lines: lines[:5] + ["1 x 3"] + lines[6:])
    with pytest.raises(InputError, match="cannot parse the entries of lines 4-"):
        cell_source.open_cells(folder)
    with pytest.raises(InputError, match="a 10x matrix folder has no layers"):
        cell_source.open_cells(folder, layer="counts")


def test_a_stray_field_on_an_entry_line_is_named_not_dropped(tmp_path):
    """scipy's reader would take '1 1 2 7' as gene 1, cell 1, count 2 and drop the 7."""

    def stray(lines):
        lines[6] = lines[6] + " 7"
        return lines

    with pytest.raises(InputError, match="cannot parse the entries of lines 4-") as err:
        cell_source.open_cells(bad_folder(tmp_path, edit=stray))
    assert "Expected 3 fields in line 4, saw 4" in str(err.value)


# --------------------------------------------------------------------------------------------
# The bundled single-cell example written as a 10x folder: the tables of the rule
# pseudobulk_cells and the embedding subsample, streamed vs the whole-matrix path
# --------------------------------------------------------------------------------------------

SETTINGS = {
    "barcode_column": "barcode",
    "sample_column": "sample",
    "cell_type_column": "cell_type",
    "cell_types": ["cancer", "normal", "fibroblast"],
}
QC = {"min_genes": 200, "min_counts": 300, "max_mito_fraction": 0.2, "mito_prefix": "MT-"}


@pytest.fixture(scope="module")
def example_folders(tmp_path_factory):
    """The example of config/single_cell.yaml (seed 20151; 40 cells per sample here to keep
    the test fast) as Cell Ranger 3 folders, sorted and shuffled, with its annotation table."""
    from msc_secretome.catalogue import read_catalogue
    from msc_secretome.simulate_single_cell import simulate_single_cell_experiment

    data = tmp_path_factory.mktemp("example_10x")
    simulated = simulate_single_cell_experiment(
        read_catalogue(), n_cells_per_sample=40, n_genes=4000, seed=20151
    )
    adata = simulated.adata
    barcodes = list(adata.obs_names)
    for order in ("sorted", "shuffled"):
        write_10x(data / order, adata.X, list(adata.var_names), barcodes, order=order, seed=3)
    annotation = adata.obs.loc[:, ["sample", "cell_type"]].astype(str)
    annotation.index.name = "barcode"
    annotation.reset_index().to_csv(data / "cells.tsv", sep="\t", index=False)
    return data, simulated.samples


def whole_matrix_source(folder: Path) -> CellSource:
    """What open_cells gave for a 10x folder before: read whole (mmread), served from memory."""
    adata = read_single_cell(folder)
    meta = ad.AnnData(obs=adata.obs, var=adata.var)
    return CellSource(folder, meta, _MemoryRows(adata.X), what="X", fix="")


def rule_outputs(source: CellSource, samples: pd.DataFrame, annotation: Path, out: Path):
    """The files of the rule pseudobulk_cells, written as its script writes them."""
    out.mkdir()
    prepared = prepare_cells(source, samples, SETTINGS, annotation_path=str(annotation))
    result = pseudobulk_cells(source, prepared, samples, qc=QC, min_cells=5)
    write_tsv(result.cell_qc, out / "cell_qc.tsv")
    write_tsv_gz(dropped_cells_table(result.dropped_cells), out / "dropped_cells.tsv.gz")
    write_tsv(result.dropped, out / "pseudobulk_dropped.tsv")
    write_tsv(result.sheet, out / "pseudobulk_samples.tsv")
    write_tsv_gz(result.counts, out / "pseudobulk_counts.tsv.gz", index=True)
    kept = embedding_subsample(source, prepared, qc=QC, max_cells=300, seed=11)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}, kept


def test_example_as_10x_folder_streamed_equals_the_whole_matrix(
    tmp_path, monkeypatch, example_folders
):
    monkeypatch.setattr(cell_source, "CHUNK_CELLS", 100)  # 720 cells: 8 chunks, last partial
    monkeypatch.setattr(tenx_folder, "BLOCK_BYTES", 1 << 18)
    data, samples = example_folders
    with whole_matrix_source(data / "sorted") as source:
        expected, expected_kept = rule_outputs(source, samples, data / "cells.tsv", tmp_path / "w")
    assert b"failed QC" in gzip.decompress(expected["dropped_cells.tsv.gz"])
    for order, kind in (("sorted", SortedMtxRows), ("shuffled", BucketedMtxRows)):
        with cell_source.open_cells(data / order) as source:
            assert isinstance(source._rows, kind)
            files, kept = rule_outputs(source, samples, data / "cells.tsv", tmp_path / order)
        assert files == expected, order  # byte-identical tables
        assert list(kept.obs_names) == list(expected_kept.obs_names)
        pd.testing.assert_frame_equal(kept.obs, expected_kept.obs)
        assert kept.X.dtype == expected_kept.X.dtype and (kept.X != expected_kept.X).nnz == 0
