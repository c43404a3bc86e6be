"""End to end from cells: pseudobulk per sample x cell type through the shared bulk rules."""

from __future__ import annotations

import pandas as pd
import pytest
from workflow_runs import PROJECT_ROOT, prepare_workdir, run_snakemake

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def single_cell_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("single_cell")
    overrides = prepare_workdir(
        workdir,
        {
            "single_cell": {"example": {"n_cells_per_sample": 200, "n_genes": 3000}},
            "enrichment": {"permutations": 300, "sample_scores": "none"},
            "de": {"lfc_shrink": True},  # exercises apeGLM shrinkage of every contrast
        },
    )
    run_snakemake(
        workdir, "--cores", "2", "--configfile", "config/single_cell.yaml", str(overrides)
    )
    return workdir


def read(workdir, path):
    return pd.read_csv(workdir / path, sep="\t", keep_default_na=False, na_values=["", "NaN"])


def test_planted_cell_type_is_called_and_the_others_are_not(single_cell_run):
    calls = read(single_cell_run, "results_single_cell/programmes/programme_calls.tsv")
    truth = read(single_cell_run, "resources/example_single_cell/truth_programmes.tsv")
    merged = calls.merge(truth, on=["contrast", "programme"], validate="one_to_one")
    merged["called"] = merged["call"].map({"up": 1, "down": -1}).fillna(0).astype(int)
    planted = merged[merged["planted_direction"] != 0]
    assert len(planted) == 6 and planted["contrast"].str.startswith("cancer_").all()
    assert (planted["called"] == planted["planted_direction"]).all(), planted.to_string()
    others = merged[~merged["contrast"].str.startswith("cancer_")]
    false_calls = others[others["called"] != 0]
    print("calls in unplanted cell types:\n", false_calls[["contrast", "programme", "fdr"]])
    assert len(false_calls) <= 0.05 * len(others)  # the FDR level, over 340 tests
    per_programme = false_calls.groupby("programme").size()
    assert per_programme.empty or per_programme.max() <= 1, per_programme.to_dict()


def test_single_cell_outputs_and_shared_downstream(single_cell_run):
    workdir = single_cell_run
    sheet = read(workdir, "results_single_cell/validated/samples.tsv")
    assert sheet["sample"].str.contains("__").all()
    assert set(sheet["cell_type"]) == {"cancer", "normal", "fibroblast"}
    qc = read(workdir, "results_single_cell/single_cell/cell_qc.tsv")
    assert (qc["cells_kept"] < qc["cells_in"]).all()  # the simulated low-quality cells go
    cells = pd.read_csv(workdir / "results_single_cell/single_cell/cells.tsv.gz", sep="\t")
    assert {"UMAP1", "UMAP2", "CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS"} <= set(cells.columns)
    summary = read(workdir, "results_single_cell/de/contrasts.tsv")
    assert summary["lfc_shrink"].astype(str).eq("True").all()
    assert (summary["size_factors"] == "poscounts").all()
    report = (workdir / "results_single_cell/report/index.html").read_text()
    assert 'id="single-cells"' in report
    # the same rule files serve bulk and single-cell runs: only the input rules differ
    rules = (PROJECT_ROOT / "workflow/rules/validate.smk").read_text()
    assert "counts_input()" in rules
