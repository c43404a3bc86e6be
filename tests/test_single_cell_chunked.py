"""Chunked single-cell passes (issue #19): the same numbers as the whole matrix in memory.

Fixtures are real files in the layouts the tools write: ``write_h5ad`` (gzip-compressed and
plain CSR, dense X) and a Cell Ranger 3 ``filtered_feature_bc_matrix.h5`` with an antibody
feature. Chunks of 7 cells put chunk boundaries inside every sample.
"""

from __future__ import annotations

import warnings

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from msc_secretome import cell_source
from msc_secretome.cell_annotation import cells_dropped, dropped_cells_table, qc_failures
from msc_secretome.cell_pipeline import (
    NOT_ANALYSED,
    embedding_subsample,
    prepare_cells,
    pseudobulk_cells,
)
from msc_secretome.errors import InputError
from msc_secretome.pseudobulk import pseudobulk
from msc_secretome.single_cell import cell_metrics, cell_qc, check_obs_columns, mito_genes
from msc_secretome.single_cell_reading import read_single_cell

QC = {"min_genes": 6, "min_counts": 12, "max_mito_fraction": 0.3, "mito_prefix": "MT-"}
SETTINGS = {
    "barcode_column": "barcode",
    "sample_column": "donor",
    "cell_type_column": "annotation",
    "cell_types": ["tumour", "stroma"],
}
SHEET = pd.DataFrame({"sample": ["S1", "S2", "S3"], "medium": ["control", "msc_cm", "msc_cm"]})


def cells_fixture(n_cells: int = 90, n_genes: int = 30, seed: int = 3) -> ad.AnnData:
    """Cells sorted by sample (25-35 per sample), three types (one not analysed), bad cells."""
    rng = np.random.default_rng(seed)
    dense = rng.poisson(1.2, (n_cells, n_genes)) * (rng.random((n_cells, n_genes)) < 0.45)
    dense[::11, :] = 0  # empty and near-empty cells fail QC
    dense[5::13, -2:] += 9  # high mitochondrial fraction
    genes = [f"G{i}" for i in range(n_genes - 2)] + ["MT-CO1", "mt-Nd1"]
    donor = np.repeat(["S1", "S2", "S3"], [27, 35, n_cells - 62])
    annotation = rng.choice(["tumour", "stroma", "immune"], n_cells, p=[0.45, 0.4, 0.15])
    obs = pd.DataFrame(
        {"donor": donor, "annotation": annotation}, index=[f"AAAC{i:04d}-1" for i in range(n_cells)]
    )
    return ad.AnnData(
        X=sparse.csr_matrix(dense.astype(np.float32)), obs=obs, var=pd.DataFrame(index=genes)
    )


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(cell_source, "CHUNK_CELLS", 7)


def in_memory(path) -> tuple:
    """Today's whole-matrix path: read, attach, filter types, cell_qc, qc_failures, pseudobulk."""
    cells = read_single_cell(path)
    cells = check_obs_columns(cells, "donor", "annotation", SHEET, path=str(path))
    analysed = cells.obs["cell_type"].isin(SETTINGS["cell_types"]).to_numpy()
    not_analysed = cells_dropped(cells, ~analysed, NOT_ANALYSED)
    cells = cells[analysed]
    kept, table = cell_qc(cells, **QC)
    failures = qc_failures(cells, **QC)
    failed = cells_dropped(cells, (failures != "").to_numpy(), failures.to_numpy())
    counts, sheet, dropped = pseudobulk(kept, SHEET, min_cells=3)
    return kept, table, dropped_cells_table([not_analysed, failed]), counts, sheet, dropped


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_chunked_pseudobulk_equals_the_whole_matrix(tmp_path, small_chunks, compression):
    path = tmp_path / "cells.h5ad"
    cells_fixture().write_h5ad(path, compression=compression)
    kept, table, dropped_cells, counts, sheet, dropped = in_memory(path)
    with cell_source.open_cells(path) as source:
        assert source.streamed and cell_source.CHUNK_CELLS == 7
        prepared = prepare_cells(source, SHEET, SETTINGS)
        result = pseudobulk_cells(source, prepared, SHEET, qc=QC, min_cells=3)
    assert result.counts.dtypes.eq(np.int64).all()
    pd.testing.assert_frame_equal(result.counts, counts)
    pd.testing.assert_frame_equal(result.sheet, sheet)
    pd.testing.assert_frame_equal(result.dropped, dropped)
    pd.testing.assert_frame_equal(result.cell_qc, table)
    pd.testing.assert_frame_equal(dropped_cells_table(result.dropped_cells), dropped_cells)
    assert result.n_kept == kept.n_obs
    assert (dropped_cells["reason"] == NOT_ANALYSED).any()
    assert dropped_cells["reason"].str.startswith("failed QC").any()
    # against plain numpy: the sums of the kept cells per sample x type
    dense = read_single_cell(path).X.toarray().astype(np.int64)
    obs = read_single_cell(path).obs
    for name, row in sheet.set_index("sample").iterrows():
        members = obs.index.isin(kept.obs_names[kept.obs["sample"] == row["original_sample"]])
        members &= (obs["annotation"] == row["cell_type"]).to_numpy()
        np.testing.assert_array_equal(result.counts[name].to_numpy(), dense[members].sum(axis=0))


def test_cell_metrics_are_scanpys_bit_for_bit():
    import scanpy as sc

    adata = cells_fixture(200, 40, seed=9)
    mito = mito_genes(adata.var_names)
    var = pd.DataFrame({"mito": mito}, index=adata.var_names)
    probe = ad.AnnData(X=adata.X, obs=pd.DataFrame(index=adata.obs_names), var=var)
    expected, _ = sc.pp.calculate_qc_metrics(
        probe, qc_vars=["mito"], percent_top=None, log1p=False, inplace=False
    )
    got = cell_metrics(adata.X, mito)
    np.testing.assert_array_equal(got["n_genes"], expected["n_genes_by_counts"])
    np.testing.assert_array_equal(got["total_counts"], expected["total_counts"].astype(float))
    fraction = np.nan_to_num(expected["pct_counts_mito"].to_numpy(dtype=float) / 100.0)
    np.testing.assert_array_equal(got["mito_fraction"].to_numpy(), fraction)
    assert (got["mito_fraction"] > 0).any() and (got["total_counts"] == 0).any()
    # row-local: chunks give the rows of the whole
    halves = pd.concat([cell_metrics(adata.X[:77], mito), cell_metrics(adata.X[77:], mito)])
    pd.testing.assert_frame_equal(halves.reset_index(drop=True), got)


def test_subsample_is_seeded_and_the_cells_of_the_in_memory_draw(tmp_path, small_chunks):
    path = tmp_path / "cells.h5ad"
    cells_fixture().write_h5ad(path, compression="gzip")
    kept = in_memory(path)[0]
    chosen = np.sort(np.random.default_rng(5).choice(kept.n_obs, 20, replace=False))
    expected = kept[chosen]
    draws = []
    for _ in range(2):
        with cell_source.open_cells(path) as source:
            prepared = prepare_cells(source, SHEET, SETTINGS)
            draws.append(embedding_subsample(source, prepared, qc=QC, max_cells=20, seed=5))
    for sub in draws:
        assert list(sub.obs_names) == list(expected.obs_names)
        assert (sub.X != expected.X).nnz == 0
        np.testing.assert_array_equal(sub.obs["n_genes"], expected.obs["n_genes"])
    with cell_source.open_cells(path) as source:
        prepared = prepare_cells(source, SHEET, SETTINGS)
        other = embedding_subsample(source, prepared, qc=QC, max_cells=20, seed=6)
        everything = embedding_subsample(source, prepared, qc=QC, max_cells=10_000, seed=5)
    assert list(other.obs_names) != list(expected.obs_names)
    assert list(everything.obs_names) == list(kept.obs_names)


@pytest.mark.parametrize("dense_pick", [1, 32])  # 1: runs of rows; 32: whole chunks sliced
@pytest.mark.parametrize("layout", ["h5ad", "10x_h5"])
def test_read_rows_reads_runs_and_single_rows(
    tmp_path, small_chunks, monkeypatch, dense_pick, layout
):
    monkeypatch.setattr(cell_source, "DENSE_PICK", dense_pick)
    adata = cells_fixture()
    if layout == "h5ad":
        path = tmp_path / "cells.h5ad"
        adata.write_h5ad(path, compression="gzip")
    else:
        path = tmp_path / "filtered_feature_bc_matrix.h5"
        write_10x_h5(path, adata)
    rows = np.array([0, 1, 2, 9, 40, 41, 42, 43, 44, 45, 46, 47, 89])
    with cell_source.open_cells(path) as source:
        got = source.read_rows(rows)
        with pytest.raises(ValueError, match="increasing"):
            source.read_rows(rows[::-1])
    assert (got != adata.X[rows]).nnz == 0 and got.dtype == np.float32


def test_a_bad_value_in_a_later_chunk_names_cell_gene_and_chunk(tmp_path, small_chunks):
    adata = cells_fixture()
    counts = adata.X.toarray()
    counts[50, 3] = 1.5
    adata.X = sparse.csr_matrix(counts)
    path = tmp_path / "cells.h5ad"
    adata.write_h5ad(path)
    with cell_source.open_cells(path) as source:
        prepared = prepare_cells(source, SHEET, SETTINGS)
        with pytest.raises(InputError) as err:
            pseudobulk_cells(source, prepared, SHEET, qc=QC, min_cells=3)
    text = str(err.value)
    assert "X (cells 50-56)" in text and "'AAAC0050-1'" in text and "'G3'" in text
    assert "non-integer" in text and str(path) in text


def write_10x_h5(path, adata: ad.AnnData) -> None:
    """Cell Ranger 3 layout: barcodes as columns of a CSC genes x cells matrix, int32 counts,
    plus one antibody-capture feature (dropped by the reader: gene expression only)."""
    counts = sparse.hstack(
        [adata.X, sparse.csr_matrix(np.arange(adata.n_obs, dtype=np.float32)[:, None] % 4)]
    ).tocsr()
    csc = sparse.csc_matrix(counts.T.astype(np.int32))
    names = [*adata.var_names, "CD3_TotalSeqB"]
    with h5py.File(path, "w") as handle:
        group = handle.create_group("matrix")
        group["data"] = csc.data
        group["indices"] = csc.indices.astype(np.int64)
        group["indptr"] = csc.indptr.astype(np.int64)
        group["shape"] = np.array(csc.shape, dtype=np.int32)
        group["barcodes"] = np.array(adata.obs_names, dtype="S")
        features = group.create_group("features")
        features["id"] = np.array([f"ENSG{i:05d}" for i in range(len(names))], dtype="S")
        features["name"] = np.array(names, dtype="S")
        types = ["Gene Expression"] * adata.n_vars + ["Antibody Capture"]
        features["feature_type"] = np.array(types, dtype="S")
        features["genome"] = np.array(["GRCh38"] * len(names), dtype="S")


def test_10x_h5_is_streamed_with_scanpys_names_and_the_same_sums(tmp_path, small_chunks):
    adata = cells_fixture()
    path = tmp_path / "filtered_feature_bc_matrix.h5"
    write_10x_h5(path, adata)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        whole = read_single_cell(path)
    with cell_source.open_cells(path) as source:
        assert source.streamed
        pd.testing.assert_frame_equal(source.meta.var, whole.var)
        assert list(source.obs_names) == list(whole.obs_names)
        assert "CD3_TotalSeqB" not in source.var_names
        blocks = sparse.vstack([block for _, _, block in source.chunks()])
    assert (blocks != whole.X).nnz == 0
    assert (blocks != adata.X).nnz == 0


def test_layouts_that_cannot_be_streamed_are_loaded_whole_with_the_same_result(
    tmp_path, small_chunks
):
    adata = cells_fixture()
    path = tmp_path / "cells.h5ad"
    ad.AnnData(X=adata.X.toarray(), obs=adata.obs, var=adata.var).write_h5ad(path)
    with cell_source.open_cells(path) as source:
        assert not source.streamed
        blocks = sparse.vstack([block for _, _, block in source.chunks()])
    assert (blocks != adata.X).nnz == 0


def test_a_10x_folder_written_by_scipy_is_streamed(tmp_path, small_chunks):
    """matrix.mtx as scipy.io.mmwrite writes it (10x folders: tests/test_tenx_folder.py)."""
    from scipy import io as scipy_io

    adata = cells_fixture()
    path = tmp_path / "filtered_feature_bc_matrix"
    path.mkdir()
    scipy_io.mmwrite(path / "matrix.mtx", sparse.coo_matrix(adata.X.T.astype(np.int64)))
    pd.DataFrame({"id": adata.var_names, "name": adata.var_names}).to_csv(
        path / "features.tsv", sep="\t", header=False, index=False
    )
    pd.Series(adata.obs_names).to_csv(path / "barcodes.tsv", sep="\t", header=False, index=False)
    with cell_source.open_cells(path) as source:
        assert source.streamed
        blocks = sparse.vstack([block for _, _, block in source.chunks()])
    assert (blocks != adata.X).nnz == 0


def test_layers_and_raw_are_streamed_and_normalised_x_is_refused(tmp_path, small_chunks):
    adata = cells_fixture()
    normalised = adata.copy()
    normalised.X = sparse.csr_matrix(np.log1p(adata.X.toarray()))
    normalised.layers["counts"] = adata.X.copy()
    normalised.raw = adata
    path = tmp_path / "cells.h5ad"
    normalised.write_h5ad(path, compression="gzip")
    for layer in ("counts", "raw.X"):
        with cell_source.open_cells(path, layer=layer) as source:
            assert source.streamed
            blocks = sparse.vstack([block for _, _, block in source.chunks()])
        assert (blocks != adata.X).nnz == 0
    with cell_source.open_cells(path) as source, pytest.raises(InputError) as err:
        list(source.chunks())
    assert "non-integer" in str(err.value) and "'counts'" in str(err.value)
    with pytest.raises(InputError, match="no layer 'spliced'"):
        cell_source.open_cells(path, layer="spliced")
