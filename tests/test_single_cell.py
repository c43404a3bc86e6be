"""Single-cell input: readers, obs checks, cell QC, pseudobulk, per-cell scores, simulator, DE."""

from __future__ import annotations

import gzip
import warnings

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
from scipy import io as scipy_io
from scipy import sparse

from msc_secretome import cell_scores, cell_source
from msc_secretome import pseudobulk as pb
from msc_secretome import single_cell as scm
from msc_secretome import single_cell_reading as reading
from msc_secretome.catalogue import catalogue_gene_sets, read_catalogue
from msc_secretome.design import (
    Contrast,
    Model,
    check_design,
    contrast_vector,
    model_samples,
)
from msc_secretome.differential_expression import contrast_results, fit_model, prefilter_mask
from msc_secretome.errors import InputError
from msc_secretome.simulate_single_cell import (
    PLANTED_PROGRAMMES,
    SimulatedSingleCell,
    simulate_single_cell_experiment,
    single_cell_contrasts,
)

# --------------------------------------------------------------------------------------------
# Small hand-made data
# --------------------------------------------------------------------------------------------


def small_counts(n_cells: int = 40, n_genes: int = 12, seed: int = 1) -> sparse.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = rng.poisson(0.8, (n_cells, n_genes)) * (rng.random((n_cells, n_genes)) < 0.5)
    return sparse.csr_matrix(dense.astype(np.float32))


def small_adata(n_cells: int = 40, n_genes: int = 12) -> ad.AnnData:
    counts = small_counts(n_cells, n_genes)
    genes = [f"G{i}" for i in range(n_genes - 2)] + ["MT-CO1", "MT-ND1"]
    obs = pd.DataFrame(
        {
            "donor": np.where(np.arange(n_cells) % 2 == 0, "S1", "S2"),
            "annotation": np.where(np.arange(n_cells) < n_cells // 2, "tumour", "stroma"),
        },
        index=[f"cell{i}" for i in range(n_cells)],
    )
    return ad.AnnData(X=counts, obs=obs, var=pd.DataFrame(index=genes))


SHEET = pd.DataFrame({"sample": ["S1", "S2"], "medium": ["control", "msc_cm"]})


# --------------------------------------------------------------------------------------------
# Readers
# --------------------------------------------------------------------------------------------


def test_read_h5ad_counts_in_a_layer(tmp_path):
    adata = small_adata()
    counts = adata.X.copy()
    lognorm = counts.copy()
    lognorm.data = np.log1p(lognorm.data / 3.0)
    adata.layers["counts"] = counts
    adata.X = lognorm
    path = tmp_path / "cells.h5ad"
    adata.write_h5ad(path)

    read = reading.read_single_cell(path, layer="counts")
    assert isinstance(read.X, sparse.csr_matrix)
    assert read.X.dtype == np.float32
    assert (read.X != counts).nnz == 0
    assert list(read.obs.columns) == ["donor", "annotation"]
    assert not read.layers  # only the chosen matrix is loaded

    with pytest.raises(InputError) as error:
        reading.read_single_cell(path)
    message = str(error.value)
    assert str(path) in message and "X holds" in message and "non-integer" in message
    assert "log-normalised" in message and "single_cell.layer" in message and "counts" in message

    with pytest.raises(InputError, match=r"no layer 'raw_counts'; layers in this file: \['counts'"):
        reading.read_single_cell(path, layer="raw_counts")


def test_read_h5ad_counts_in_x_and_raw(tmp_path):
    adata = small_adata()
    adata.X = adata.X.astype(np.int64)  # integer dtype is accepted and stored as float32
    adata.raw = adata.copy()
    path = tmp_path / "cells.h5ad"
    adata.write_h5ad(path)
    read = reading.read_single_cell(path)
    assert read.X.dtype == np.float32
    np.testing.assert_array_equal(read.X.toarray(), adata.X.toarray())
    from_raw = reading.read_single_cell(path, layer="raw.X")
    np.testing.assert_array_equal(from_raw.X.toarray(), adata.X.toarray())


def test_negative_values_are_refused(tmp_path):
    adata = small_adata()
    adata.X = adata.X.copy()
    adata.X.data[3] = -1.5
    path = tmp_path / "scaled.h5ad"
    adata.write_h5ad(path)
    with pytest.raises(InputError, match=r"negative value\(s\).*looks scaled"):
        reading.read_single_cell(path)


def test_non_integer_error_names_cell_and_gene():
    matrix = sparse.csr_matrix(np.array([[0, 2.0, 0], [0, 0, 0.5]]))
    adata = ad.AnnData(
        X=matrix, obs=pd.DataFrame(index=["a", "b"]), var=pd.DataFrame(index=["x", "y", "z"])
    )
    with pytest.raises(
        InputError, match=r"1 non-integer value\(s\), e.g. 0.5 for cell 'b', gene 'z'"
    ):
        reading.as_count_matrix(matrix, adata=adata)


def write_10x_folder(folder, counts: sparse.csr_matrix, genes, barcodes, *, gz: bool, v3: bool):
    """A Cell Ranger matrix folder written by hand (matrix.mtx is features x barcodes)."""
    folder.mkdir()
    suffix = ".gz" if gz else ""
    opener = gzip.open if gz else open
    with opener(folder / f"matrix.mtx{suffix}", "wb") as handle:
        scipy_io.mmwrite(handle, sparse.coo_matrix(counts.T.astype(np.int64)))
    features = folder / (f"features.tsv{suffix}" if v3 else f"genes.tsv{suffix}")
    rows = [
        f"ENSG{i:05d}\t{g}\t{kind}" if v3 else f"ENSG{i:05d}\t{g}"
        for i, (g, kind) in enumerate(genes)
    ]
    with opener(features, "wt") as handle:
        handle.write("\n".join(rows) + "\n")
    with opener(folder / f"barcodes.tsv{suffix}", "wt") as handle:
        handle.write("\n".join(barcodes) + "\n")


@pytest.mark.parametrize(("gz", "v3"), [(True, True), (False, True), (False, False)])
def test_read_10x_matrix_folder(tmp_path, gz, v3):
    counts = small_counts(6, 5)
    genes = [("ACTB", "Gene Expression"), ("MT-CO1", "Gene Expression")]
    genes += [("GAPDH", "Gene Expression"), ("ACTB", "Gene Expression")]
    genes += [("CD3_TotalSeqB", "Antibody Capture")]
    barcodes = [f"AAAC{i}-1" for i in range(6)]
    write_10x_folder(tmp_path / "mtx", counts, genes, barcodes, gz=gz, v3=v3)
    read = reading.read_single_cell(tmp_path / "mtx")
    expected = counts if not v3 else counts[:, :4]
    assert isinstance(read.X, sparse.csr_matrix)
    np.testing.assert_array_equal(read.X.toarray(), expected.toarray())
    assert list(read.obs_names) == barcodes
    names = ["ACTB", "MT-CO1", "GAPDH", "ACTB-1"] + ([] if v3 else ["CD3_TotalSeqB"])
    assert list(read.var_names) == names
    assert read.var["gene_ids"].iloc[0] == "ENSG00000"


def test_10x_folder_missing_file_is_named(tmp_path):
    folder = tmp_path / "mtx"
    folder.mkdir()
    (folder / "matrix.mtx.gz").write_bytes(b"")
    with pytest.raises(InputError, match=r"barcodes.tsv\[.gz\]"):
        reading.read_single_cell(folder)


def test_read_10x_h5(tmp_path):
    counts = small_counts(5, 4)
    path = tmp_path / "filtered_feature_bc_matrix.h5"
    by_gene = counts.T.tocsc().T.tocsr()  # 10x stores barcodes as columns of a CSC matrix
    csc = sparse.csc_matrix(by_gene.T.astype(np.int32))
    with h5py.File(path, "w") as handle:
        group = handle.create_group("matrix")
        group["data"] = csc.data
        group["indices"] = csc.indices.astype(np.int64)
        group["indptr"] = csc.indptr.astype(np.int64)
        group["shape"] = np.array(csc.shape, dtype=np.int32)
        group["barcodes"] = np.array([f"BC{i}-1" for i in range(5)], dtype="S")
        features = group.create_group("features")
        features["id"] = np.array([f"ENSG{i}" for i in range(4)], dtype="S")
        features["name"] = np.array(["A", "B", "MT-CO1", "D"], dtype="S")
        features["feature_type"] = np.array(["Gene Expression"] * 4, dtype="S")
        features["genome"] = np.array(["GRCh38"] * 4, dtype="S")
    read = reading.read_single_cell(path)
    np.testing.assert_array_equal(read.X.toarray(), counts.toarray())
    assert list(read.var_names) == ["A", "B", "MT-CO1", "D"]
    with pytest.raises(InputError, match="has no layers"):
        reading.read_single_cell(path, layer="counts")


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        reading.read_single_cell(tmp_path / "absent.h5ad")
    other = tmp_path / "cells.csv"
    other.write_text("a,b\n")
    with pytest.raises(InputError, match="unknown single-cell format"):
        reading.read_single_cell(other)


# --------------------------------------------------------------------------------------------
# obs columns
# --------------------------------------------------------------------------------------------


def test_check_obs_columns_standardises_and_shares_x():
    adata = small_adata()
    out = scm.check_obs_columns(adata, "donor", "annotation", SHEET, "cells.h5ad")
    assert out.X is adata.X
    assert list(out.obs["sample"].cat.categories) == ["S1", "S2"]
    assert list(out.obs["cell_type"].cat.categories) == ["stroma", "tumour"]
    assert "sample" not in adata.obs.columns  # the input is not modified


def test_missing_columns_list_the_available_ones():
    adata = small_adata()
    with pytest.raises(InputError) as error:
        scm.check_obs_columns(adata, "sample_id", "annotation", SHEET, "cells.h5ad")
    assert "'sample_id'" in str(error.value) and "['donor', 'annotation']" in str(error.value)
    with pytest.raises(InputError) as error:
        scm.check_obs_columns(adata, "donor", "celltype", SHEET, "cells.h5ad")
    message = str(error.value)
    assert "['donor', 'annotation']" in message
    assert "does not cluster or annotate" in message and "null" in message


def test_no_cell_type_column_means_one_type_all():
    out = scm.check_obs_columns(small_adata(), "donor", None, SHEET, "cells.h5ad")
    assert set(out.obs["cell_type"]) == {"all"}


def test_samples_must_match_the_sheet_both_ways():
    adata = small_adata()
    extra = pd.DataFrame({"sample": ["S1", "S2", "S3"], "medium": ["control", "msc_cm", "x"]})
    with pytest.raises(InputError, match=r"have no cells .*\['S3'\]"):
        scm.check_obs_columns(adata, "donor", "annotation", extra, "cells.h5ad")
    with pytest.raises(InputError, match=r"not in the sample sheet: \['S2'\]"):
        scm.check_obs_columns(adata, "donor", "annotation", SHEET.iloc[:1], "cells.h5ad")


def test_cell_type_labels_must_be_words_and_sheet_must_not_have_cell_type():
    adata = small_adata()
    adata.obs["annotation"] = np.where(adata.obs["annotation"] == "tumour", "CD4+ T", "B")
    with pytest.raises(InputError, match="CD4_T_cell"):
        scm.check_obs_columns(adata, "donor", "annotation", SHEET, "cells.h5ad")
    with pytest.raises(InputError, match="cell_type"):
        scm.check_obs_columns(
            small_adata(), "donor", None, SHEET.assign(cell_type="x"), "cells.h5ad"
        )


# --------------------------------------------------------------------------------------------
# Cell QC
# --------------------------------------------------------------------------------------------


def test_cell_qc_numbers_on_a_hand_made_matrix():
    # genes: A B C MT-1 ; cells 0-2 in S1, 3-4 in S2
    dense = np.array(
        [
            [5, 3, 0, 2],  # 3 genes, 10 counts, mito 0.2  -> kept
            [1, 0, 0, 0],  # 1 gene, 1 count              -> fails genes and counts
            [4, 4, 4, 8],  # 4 genes, 20 counts, mito 0.4 -> fails mito
            [2, 2, 2, 0],  # 3 genes, 6 counts, mito 0    -> kept
            [0, 9, 1, 0],  # 2 genes, 10 counts           -> fails genes
        ],
        dtype=np.float32,
    )
    adata = ad.AnnData(
        X=sparse.csr_matrix(dense),
        obs=pd.DataFrame(
            {"sample": pd.Categorical(["S1", "S1", "S1", "S2", "S2"], ["S1", "S2"])},
            index=[f"c{i}" for i in range(5)],
        ),
        var=pd.DataFrame(index=["A", "B", "C", "MT-1"]),
    )
    kept, table = scm.cell_qc(adata, min_genes=3, min_counts=5, max_mito_fraction=0.25)
    assert list(kept.obs_names) == ["c0", "c3"]
    np.testing.assert_array_equal(kept.obs["mito_fraction"], [0.2, 0.0])
    expected = pd.DataFrame(
        {
            "sample": ["S1", "S2"],
            "cells_in": [3, 2],
            "cells_kept": [1, 1],
            "median_genes": [3.0, 2.5],
            "median_counts": [10.0, 8.0],
            "median_mito_fraction": [0.2, 0.0],
            "failed_min_genes": [1, 1],
            "failed_min_counts": [1, 0],
            "failed_max_mito": [1, 0],
        }
    )
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)
    assert table["cells_in"].dtype == np.int64
    with pytest.raises(InputError, match="no cell passes QC"):
        scm.cell_qc(adata, min_genes=10, min_counts=5, max_mito_fraction=0.25)
    with pytest.warns(UserWarning, match="no gene name starts with 'mt-x'"):
        scm.cell_qc(adata, min_genes=1, min_counts=1, max_mito_fraction=1.0, mito_prefix="mt-x")


# --------------------------------------------------------------------------------------------
# Pseudobulk
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [7, 10_000])
def test_pseudobulk_sums_equal_dense_sums(monkeypatch, chunk):
    monkeypatch.setattr(cell_source, "CHUNK_CELLS", chunk)
    adata = scm.check_obs_columns(small_adata(60, 12), "donor", "annotation", SHEET, "x")
    counts, sheet, dropped = pb.pseudobulk(adata, SHEET, min_cells=1)
    dense = adata.X.toarray()
    assert list(counts.columns) == ["S1__stroma", "S2__stroma", "S1__tumour", "S2__tumour"]
    for name, row in sheet.set_index("sample").iterrows():
        mask = (adata.obs["sample"] == row["original_sample"]) & (
            adata.obs["cell_type"] == row["cell_type"]
        )
        np.testing.assert_array_equal(counts[name].to_numpy(), dense[mask.to_numpy()].sum(0))
        assert row["n_cells"] == mask.sum()
    assert counts.dtypes.unique().tolist() == [np.dtype("int64")]
    assert counts.index.name == "gene_id" and list(counts.index) == list(adata.var_names)
    assert list(sheet.columns) == ["sample", "original_sample", "cell_type", "n_cells", "medium"]
    assert sheet.set_index("sample").loc["S2__tumour", "medium"] == "msc_cm"
    assert dropped.empty


def test_pseudobulk_drops_small_groups_with_reason():
    adata = small_adata(40, 12)
    adata.obs["annotation"] = ["rare" if i == 0 else "common" for i in range(40)]
    adata = scm.check_obs_columns(adata, "donor", "annotation", SHEET, "x")
    counts, sheet, dropped = pb.pseudobulk(adata, SHEET, min_cells=5)
    assert list(counts.columns) == ["S1__common", "S2__common"]
    assert list(sheet["n_cells"]) == [19, 20]
    assert dropped.to_dict("records") == [
        {
            "sample": "S1__rare",
            "original_sample": "S1",
            "cell_type": "rare",
            "n_cells": 1,
            "reason": "fewer than 5 cells",
        },
        {
            "sample": "S2__rare",
            "original_sample": "S2",
            "cell_type": "rare",
            "n_cells": 0,
            "reason": "fewer than 5 cells",
        },
    ]


# --------------------------------------------------------------------------------------------
# Simulated experiment (shared by the tests below)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalogue() -> pd.DataFrame:
    return read_catalogue()


@pytest.fixture(scope="module")
def small_sim(catalogue) -> SimulatedSingleCell:
    return simulate_single_cell_experiment(catalogue, n_cells_per_sample=40, n_genes=1500, seed=3)


def test_log_normalise_matches_scanpy(small_sim):
    import scanpy as sc

    work = small_sim.adata.copy()
    sc.pp.normalize_total(work, target_sum=1e4)
    sc.pp.log1p(work)
    ours = cell_scores.log_normalise(small_sim.adata.X)
    assert np.shares_memory(ours.indices, small_sim.adata.X.indices)  # only data is new
    np.testing.assert_allclose(ours.toarray(), work.X.toarray(), rtol=1e-5, atol=1e-6)


def test_programme_scores_equal_scanpy_score_genes_and_are_deterministic(
    small_sim, catalogue, monkeypatch
):
    import scanpy as sc

    monkeypatch.setattr(cell_source, "CHUNK_CELLS", 100)  # several chunks
    gene_sets = catalogue_gene_sets(catalogue)
    gene_sets["ABSENT"] = ["NOT_A_GENE"]
    with pytest.warns(UserWarning, match="ABSENT"):
        scores = cell_scores.cell_programme_scores(small_sim.adata, gene_sets, seed=7)
    assert scores.shape == (small_sim.adata.n_obs, len(gene_sets))
    assert scores["ABSENT"].isna().all()
    work = small_sim.adata.copy()
    sc.pp.normalize_total(work, target_sum=1e4)
    sc.pp.log1p(work)
    for programme in (*PLANTED_PROGRAMMES, "RISK_IL6_JAK_STAT3", "REG_ANGIOGENESIS"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc.tl.score_genes(
                work, gene_sets[programme], random_state=7, score_name=programme, use_raw=False
            )
        np.testing.assert_allclose(scores[programme], work.obs[programme], atol=1e-5)
    with pytest.warns(UserWarning):
        again = cell_scores.cell_programme_scores(small_sim.adata, gene_sets, seed=7)
    pd.testing.assert_frame_equal(scores, again)


def test_planted_programme_scores_higher_in_exposed_planted_cells(small_sim, catalogue):
    gene_sets = {p: catalogue_gene_sets(catalogue)[p] for p in PLANTED_PROGRAMMES}
    scores = cell_scores.cell_programme_scores(small_sim.adata, gene_sets, seed=0)
    obs = small_sim.adata.obs
    exposed = obs["sample"].str.startswith("cm_").to_numpy()
    for cell_type, expect_shift in (("cancer", True), ("normal", False)):
        mask = (obs["cell_type"] == cell_type).to_numpy()
        shift = scores[mask & exposed].mean() - scores[mask & ~exposed].mean()
        assert (shift > 0.2).all() if expect_shift else (shift.abs() < 0.1).all(), shift


@pytest.mark.slow  # ~35-55 s on 2 cores (issue #17)
def test_embedding_is_deterministic(small_sim):
    adata = small_sim.adata[:300].copy()
    first = cell_scores.embed(adata, seed=0, n_top_genes=300)
    second = cell_scores.embed(adata, seed=0, n_top_genes=300)
    assert list(first.columns) == ["UMAP1", "UMAP2"] and first.shape == (300, 2)
    assert np.isfinite(first.to_numpy()).all()
    pd.testing.assert_frame_equal(first, second)


# --------------------------------------------------------------------------------------------
# Simulator
# --------------------------------------------------------------------------------------------


def test_simulator_is_deterministic_and_sparse(catalogue, small_sim):
    again = simulate_single_cell_experiment(catalogue, n_cells_per_sample=40, n_genes=1500, seed=3)
    assert (again.adata.X != small_sim.adata.X).nnz == 0
    pd.testing.assert_frame_equal(again.adata.obs, small_sim.adata.obs)
    pd.testing.assert_frame_equal(again.samples, small_sim.samples)
    other = simulate_single_cell_experiment(catalogue, n_cells_per_sample=40, n_genes=1500, seed=4)
    assert (other.adata.X != small_sim.adata.X).nnz > 0

    adata = small_sim.adata
    assert isinstance(adata.X, sparse.csr_matrix) and adata.shape == (18 * 40, 1500)
    assert np.all(adata.X.data == np.round(adata.X.data))
    assert list(small_sim.samples.columns) == ["sample", "medium", "therapy", "batch"]
    assert len(small_sim.samples) == 18 and small_sim.samples["sample"].is_unique
    assert set(adata.obs["cell_type"]) == {"cancer", "normal", "fibroblast"}
    assert scm.mito_genes(adata.var_names).sum() == 13


def test_simulator_defaults_are_sparse_like_droplet_data(catalogue):
    adata = simulate_single_cell_experiment(catalogue).adata  # 18 samples x 300 cells
    assert adata.shape == (5400, 4000)
    zeros = 1 - adata.X.nnz / np.prod(adata.shape)
    assert 0.85 < zeros < 0.95
    genes_per_cell = np.median(adata.X.getnnz(axis=1))
    assert 300 < genes_per_cell < 800


def test_simulator_truth_table(small_sim, catalogue):
    truth = small_sim.truth_programmes
    assert set(truth["contrast"]) == set(single_cell_contrasts())
    assert len(truth) == len(single_cell_contrasts()) * len(catalogue)
    up = truth[truth["planted_direction"] != 0]
    assert set(up["programme"]) == set(PLANTED_PROGRAMMES)
    assert set(up["contrast"]) == {
        "cancer_cm_vs_ctrl_none",
        "cancer_cm_vs_ctrl_chemo",
        "cancer_cm_vs_ctrl_radiation",
    }
    assert (up["planted_direction"] == 1).all()
    planted = small_sim.adata.var["planted_log2fc"]
    genes = set().union(*(catalogue_gene_sets(catalogue)[p] for p in PLANTED_PROGRAMMES))
    assert set(planted.index[planted > 0]) <= genes and (planted > 0).sum() > 15


def test_simulator_rejects_unknown_planted_cell_type(catalogue):
    with pytest.raises(InputError, match="planted_cell_type"):
        simulate_single_cell_experiment(catalogue, planted_cell_type="tcell")


# --------------------------------------------------------------------------------------------
# End to end: QC -> pseudobulk -> PyDESeq2 finds the planted genes in the planted cell type only
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pseudobulk_sim(catalogue):
    sim = simulate_single_cell_experiment(catalogue, n_cells_per_sample=150, n_genes=1500)
    adata = scm.check_obs_columns(sim.adata, "sample", "cell_type", sim.samples, "simulated")
    kept, qc = scm.cell_qc(adata, min_genes=50, min_counts=100, max_mito_fraction=0.2)
    counts, sheet, dropped = pb.pseudobulk(kept, sim.samples, min_cells=10)
    return sim, qc, counts, sheet, dropped


def test_qc_removes_the_simulated_bad_cells(pseudobulk_sim):
    _, qc, _, sheet, dropped = pseudobulk_sim
    removed = 1 - qc["cells_kept"].sum() / qc["cells_in"].sum()
    assert 0.03 < removed < 0.10  # 3% low-quality + 3% damaged cells are simulated
    assert dropped.empty and len(sheet) == 54
    assert (qc["median_mito_fraction"] < 0.08).all()


def _cm_vs_control(counts, sheet, cell_type: str) -> pd.DataFrame:
    model = Model(
        cell_type,
        "~ batch + medium * therapy",
        {"cell_type": (cell_type,)},
        {"medium": "control", "therapy": "none", "batch": "b1"},
    )
    metadata = model_samples(sheet, model)
    helper = check_design(metadata, model)
    samples_x_genes = counts.loc[:, metadata.index].T
    samples_x_genes = samples_x_genes.loc[:, prefilter_mask(samples_x_genes, 10, 3)]
    dds = fit_model(samples_x_genes, metadata.loc[:, model.variables], model.design)
    contrast = Contrast(
        f"{cell_type}_cm_vs_ctrl_none",
        cell_type,
        "compare",
        (("medium", "msc_cm", "control"),),
        {"therapy": "none"},
    )
    vector = contrast_vector(helper, contrast, model, metadata)
    return contrast_results(dds, vector).set_index("gene_id")


@pytest.mark.slow
def test_pseudobulk_deseq2_finds_planted_genes_in_planted_cell_type_only(pseudobulk_sim):
    sim, _, counts, sheet, _ = pseudobulk_sim
    planted = sim.adata.var["planted_log2fc"]
    planted_genes = planted.index[planted > 0]

    cancer = _cm_vs_control(counts, sheet, "cancer")
    tested = cancer.loc[cancer.index.intersection(planted_genes)]
    assert len(tested) >= 0.9 * len(planted_genes)
    assert tested["log2FoldChange"].median() > 0.3
    assert (tested["padj"] < 0.05).mean() > 0.5
    others = cancer.drop(tested.index)
    assert (others["padj"] < 0.05).sum() <= 0.1 * (tested["padj"] < 0.05).sum() + 2

    normal = _cm_vs_control(counts, sheet, "normal")
    untouched = normal.loc[normal.index.intersection(planted_genes)]
    assert abs(untouched["log2FoldChange"].median()) < 0.15
    assert (untouched["padj"] < 0.05).sum() <= 1
