"""End to end from a Cell Ranger v3 matrix folder plus a cell annotation table (cells.tsv):
the annotation gives each barcode its sample, cell type and condition; every dropped cell is
listed with its reason. Small sizes (18 samples x 120 cells, 3,000 genes)."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from workflow_runs import prepare_workdir, run_snakemake

from msc_secretome.catalogue import read_catalogue
from msc_secretome.cell_annotation import NO_ANNOTATION
from msc_secretome.simulate_single_cell import simulate_single_cell_experiment

pytestmark = pytest.mark.slow

N_UNANNOTATED = 7


def barcodes(n: int, seed: int = 5) -> list[str]:
    """Distinct 16-base barcodes with Cell Ranger's GEM-well suffix ``-1``."""
    rng = np.random.default_rng(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        out["".join(rng.choice(list("ACGT"), 16)) + "-1"] = None
    return list(out)


def write_cellranger_v3(folder, counts: sparse.csr_matrix, genes, cell_barcodes) -> None:
    """``filtered_feature_bc_matrix/`` as Cell Ranger 3 writes it: gzipped Matrix Market
    (features x barcodes, integer, with its metadata comment), features.tsv.gz (id, name,
    type) and barcodes.tsv.gz."""
    folder.mkdir(parents=True)
    by_barcode = sparse.csc_matrix(counts.T.astype(np.int64))  # features x barcodes
    by_barcode.sort_indices()
    coo = by_barcode.tocoo()
    order = np.lexsort((coo.row, coo.col))  # column-major, as Cell Ranger writes
    lines = [
        "%%MatrixMarket matrix coordinate integer general",
        '%metadata_json: {"software_version": "cellranger-3.1.0", "format_version": 2}',
        f"{by_barcode.shape[0]} {by_barcode.shape[1]} {by_barcode.nnz}",
    ]
    rows, cols, values = coo.row[order], coo.col[order], coo.data[order]
    lines += [f"{r + 1} {c + 1} {v}" for r, c, v in zip(rows, cols, values, strict=True)]
    (folder / "matrix.mtx.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    features = [f"ENSG{i + 1:011d}\t{g}\tGene Expression" for i, g in enumerate(genes)]
    (folder / "features.tsv.gz").write_bytes(gzip.compress(("\n".join(features) + "\n").encode()))
    (folder / "barcodes.tsv.gz").write_bytes(
        gzip.compress(("\n".join(cell_barcodes) + "\n").encode())
    )


@pytest.fixture(scope="module")
def tenx_data(tmp_path_factory):
    """The simulated cells as a Cell Ranger v3 folder, the sample sheet and the annotation."""
    data = tmp_path_factory.mktemp("tenx_data")
    simulated = simulate_single_cell_experiment(
        read_catalogue(), n_cells_per_sample=120, n_genes=3000, seed=29
    )
    adata = simulated.adata
    cell_barcodes = barcodes(adata.n_obs)
    write_cellranger_v3(
        data / "filtered_feature_bc_matrix", adata.X, list(adata.var_names), cell_barcodes
    )
    sheet = simulated.samples
    sheet.to_csv(data / "samples.tsv", sep="\t", index=False)
    annotation = pd.DataFrame(
        {
            "barcode": cell_barcodes,
            "donor_sample": adata.obs["sample"].astype(str).to_numpy(),
            "celltype": adata.obs["cell_type"].astype(str).to_numpy(),
        }
    )
    annotation["medium"] = annotation["donor_sample"].map(sheet.set_index("sample")["medium"])
    return data, simulated, cell_barcodes, annotation


def run_on(tmp_path_factory, tenx_data, annotation: pd.DataFrame, name: str, check=True):
    data = tenx_data[0]
    workdir = tmp_path_factory.mktemp(name)
    annotation.to_csv(workdir / "cells.tsv", sep="\t", index=False)
    overrides = prepare_workdir(
        workdir,
        {
            "samples": str(data / "samples.tsv"),
            "single_cell": {
                "counts": str(data / "filtered_feature_bc_matrix"),
                "cell_annotation": str(workdir / "cells.tsv"),
                "sample_column": "donor_sample",
                "cell_type_column": "celltype",
                "min_cells": 10,
            },
            "enrichment": {"permutations": 300, "sample_scores": "none"},
        },
    )
    result = run_snakemake(
        workdir, "--cores", "2", "--configfile", "config/single_cell.yaml", str(overrides),
        check=check,
    )  # fmt: skip
    return workdir, result


@pytest.fixture(scope="module")
def tenx_run(tmp_path_factory, tenx_data):
    _, simulated, cell_barcodes, annotation = tenx_data
    # a few barcodes without annotation
    workdir, _ = run_on(tmp_path_factory, tenx_data, annotation.iloc[N_UNANNOTATED:], "tenx")
    return workdir, simulated, cell_barcodes


def read(workdir, path):
    return pd.read_csv(workdir / path, sep="\t", keep_default_na=False, na_values=["", "NaN"])


def test_every_dropped_cell_is_listed_with_its_reason(tenx_run):
    workdir, simulated, cell_barcodes = tenx_run
    dropped = read(workdir, "results_single_cell/single_cell/dropped_cells.tsv.gz")
    assert list(dropped.columns) == ["barcode", "sample", "cell_type", "reason"]
    unannotated = dropped[dropped["reason"] == NO_ANNOTATION]
    assert list(unannotated["barcode"]) == cell_barcodes[:N_UNANNOTATED]
    failed = dropped[dropped["reason"].str.startswith("failed QC: ")]
    assert len(failed) > 0 and (failed["sample"] != "").all()
    qc = read(workdir, "results_single_cell/single_cell/cell_qc.tsv")
    # cells in = annotated cells; every cell not kept is in the dropped list
    assert qc["cells_in"].sum() == len(cell_barcodes) - N_UNANNOTATED
    assert (qc["cells_in"] - qc["cells_kept"]).sum() == len(failed)
    sheet = read(workdir, "results_single_cell/validated/samples.tsv")
    assert set(sheet["cell_type"]) == {"cancer", "normal", "fibroblast"}


def test_planted_programmes_are_found_from_the_10x_folder(tenx_run):
    workdir, simulated, _ = tenx_run
    calls = read(workdir, "results_single_cell/programmes/programme_calls.tsv")
    merged = calls.merge(simulated.truth_programmes, on=["contrast", "programme"])
    planted = merged[merged["planted_direction"] != 0]
    called = planted["call"].map({"up": 1, "down": -1}).fillna(0)
    assert len(planted) == 6 and (called == planted["planted_direction"]).all()
    cells = pd.read_csv(workdir / "results_single_cell/single_cell/cells.tsv.gz", sep="\t")
    assert len(cells) > 0 and cells["cell"].str.endswith("-1").all()


def test_dropped_pseudo_samples_stop_the_run_before_the_fit(tmp_path_factory, tenx_data):
    annotation = tenx_data[3]
    # keep only 4 annotated cancer cells in each control/no-therapy sample: those three
    # pseudo-samples fall below min_cells and the cancer model loses its reference cell
    reference = annotation["donor_sample"].str.startswith("ctrl_none_") & (
        annotation["celltype"] == "cancer"
    )
    kept_reference = annotation[reference].groupby("donor_sample").head(4).index
    thinned = annotation[~reference | annotation.index.isin(kept_reference)]
    workdir, result = run_on(tmp_path_factory, tenx_data, thinned, "tenx_drop", check=False)
    assert result.returncode != 0
    log = (workdir / "logs_single_cell/pseudobulk_cells.log").read_text()
    assert "model 'cancer' cannot be fitted after single-cell QC" in log
    for replicate in (1, 2, 3):  # QC may remove one of the 4 cells
        assert re.search(rf"ctrl_none_r{replicate}__cancer \([0-4] cells\)", log), log
    assert re.search(r"lower single_cell.min_cells \(now 10\) to at most [1-4],", log)
    assert "dropped pseudo-samples:" in log  # the full table, as the job's log keeps it
    # stopped before any fit (Snakemake removes the failed job's outputs): no model, no
    # pseudo-sample sheet for validation
    assert not (workdir / "results_single_cell/models").exists()
    assert not (workdir / "results_single_cell/single_cell/pseudobulk_samples.tsv").exists()
