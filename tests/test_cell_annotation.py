"""Cell annotation tables beside 10x data, the dropped-cell list, and the check that the models
still have their replicates after pseudo-samples are dropped (before any fit)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from msc_secretome import pseudobulk as pb
from msc_secretome import single_cell as scm
from msc_secretome.cell_annotation import (
    DROPPED_CELL_COLUMNS,
    NO_ANNOTATION,
    attach_cell_annotation,
    cells_dropped,
    dropped_cells_table,
    qc_failures,
    read_cell_annotation,
)
from msc_secretome.errors import InputError
from msc_secretome.pseudobulk_checks import check_models_after_drops
from msc_secretome.settings import contrast_to_dict, model_to_dict

SHEET = pd.DataFrame(
    {
        "sample": ["s1", "s2", "s3", "s4"],
        "medium": ["control", "control", "msc_cm", "msc_cm"],
    }
)


def cells(n_cells=8, seed=0):
    rng = np.random.default_rng(seed)
    counts = sparse.csr_matrix(rng.poisson(3.0, (n_cells, 5)).astype(np.float32))
    barcodes = [f"AAACCTGAGAAAC{i:03d}-1" for i in range(n_cells)]
    var = pd.DataFrame(index=["Actb", "mt-Co1", "Gapdh", "Cd3e", "Trp53"])
    return ad.AnnData(X=counts, obs=pd.DataFrame(index=barcodes), var=var)


def write_annotation(tmp_path, rows, sep="\t", name="cells.tsv"):
    table = pd.DataFrame(rows, columns=["barcode", "sample", "cell_type", "medium"])
    path = tmp_path / name
    table.to_csv(path, sep=sep, index=False)
    return str(path)


def test_annotation_joins_by_barcode_and_lists_cells_without_a_row(tmp_path):
    adata = cells()
    rows = [
        (b, SHEET["sample"][i % 4], "cancer", SHEET["medium"][i % 4])
        for i, b in enumerate(adata.obs_names[:6])
    ]
    rows.append(("TTTTTTTTTTTTTTTT-1", "s1", "cancer", "control"))  # a barcode not in the data
    path = write_annotation(tmp_path, rows, sep=",", name="cells.csv")
    annotation = read_cell_annotation(path)
    annotated, dropped = attach_cell_annotation(
        adata, annotation, SHEET, sample_column="sample", path=path
    )
    assert annotated.n_obs == 6 and list(annotated.obs["sample"]) == [
        "s1",
        "s2",
        "s3",
        "s4",
    ] * 1 + [
        "s1",
        "s2",
    ]
    assert list(dropped.columns) == list(DROPPED_CELL_COLUMNS)
    assert list(dropped["barcode"]) == list(adata.obs_names[6:])
    assert (dropped["reason"] == NO_ANNOTATION).all()
    # the standard obs columns follow from the annotation
    checked = scm.check_obs_columns(annotated, "sample", "cell_type", SHEET, path=path)
    assert list(checked.obs["cell_type"].cat.categories) == ["cancer"]


def test_annotation_errors_name_the_file_row_and_fix(tmp_path):
    adata = cells()
    rows = [(b, "s1", "cancer", "control") for b in adata.obs_names]
    path = write_annotation(tmp_path, rows)
    with pytest.raises(InputError, match=r"(?s)no column 'cell_barcode'.*barcode_column"):
        read_cell_annotation(path, "cell_barcode")
    repeated = write_annotation(tmp_path, [*rows, rows[2]], name="rep.tsv")
    with pytest.raises(InputError, match=r"row 10: barcode .* more than once"):
        read_cell_annotation(repeated)
    stripped = write_annotation(
        tmp_path, [(b[:-2], *r[1:]) for b, *_ in rows for r in [rows[0]]], name="nosuffix.tsv"
    )
    with pytest.raises(InputError, match=r"(?s)none of the 8 cell barcodes.*'-1' suffix"):
        attach_cell_annotation(
            adata, read_cell_annotation(stripped), SHEET, sample_column="sample", path=stripped
        )


def test_condition_columns_must_agree_with_the_sample_sheet(tmp_path):
    adata = cells()
    rows = [(b, "s1", "cancer", "control") for b in adata.obs_names]
    rows[3] = (rows[3][0], "s1", "cancer", "msc_cm")
    path = write_annotation(tmp_path, rows)
    with pytest.raises(
        InputError,
        match=r"column 'medium': cell 'AAACCTGAGAAAC003-1' of sample 's1' says 'msc_cm' but "
        r"the sample sheet says 'control' \(1 cell\(s\) disagree\)",
    ):
        attach_cell_annotation(
            adata, read_cell_annotation(path), SHEET, sample_column="sample", path=path
        )


def test_qc_failures_agree_with_cell_qc_and_name_the_setting():
    adata = cells(40, seed=1)
    dense = adata.X.toarray()
    dense[0, :] = 0
    dense[0, 0] = 1  # one gene, one count
    dense[1, 1] = 500  # mostly mitochondrial
    adata.X = sparse.csr_matrix(dense)
    adata.obs["sample"] = pd.Categorical(["s1", "s2", "s3", "s4"] * 10)
    settings = {"min_genes": 3, "min_counts": 5, "max_mito_fraction": 0.5, "mito_prefix": "MT-"}
    kept, _ = scm.cell_qc(adata, **settings)
    reasons = qc_failures(adata, **settings)
    assert set(reasons.index[reasons == ""]) == set(kept.obs_names)
    assert reasons.iloc[0] == (
        "failed QC: 1 genes < single_cell.qc.min_genes 3; 1 counts < single_cell.qc.min_counts 5"
    )
    assert reasons.iloc[1].startswith("failed QC: mito fraction 0.9")
    table = dropped_cells_table(
        [cells_dropped(adata, (reasons != "").to_numpy(), reasons.to_numpy())]
    )
    assert list(table["barcode"]) == list(adata.obs_names[:2]) and list(table["sample"]) == [
        "s1",
        "s2",
    ]


def _model_and_contrast():
    from msc_secretome.design import Contrast, Model

    model = Model("cancer", "~ batch + medium", {"cell_type": ("cancer",)}, {})
    contrast = Contrast("cancer_cm", "cancer", "compare", (("medium", "msc_cm", "control"),), {})
    references = {"batch": "b1", "medium": "control"}
    return {"cancer": model_to_dict(model, references)}, {"cancer_cm": contrast_to_dict(contrast)}


def _pseudobulk_sheet(n_cells):
    """Pseudobulk of 6 samples (2 media x batches b1-b3) with the given cells per sample."""
    samples = pd.DataFrame(
        {
            "sample": [f"{m}_r{r}" for m in ("ctrl", "cm") for r in (1, 2, 3)],
            "medium": ["control"] * 3 + ["msc_cm"] * 3,
            "batch": ["b1", "b2", "b3"] * 2,
        }
    )
    obs_samples = np.repeat(samples["sample"].to_numpy(), n_cells)
    adata = ad.AnnData(
        X=sparse.csr_matrix(np.ones((len(obs_samples), 3), dtype=np.float32)),
        obs=pd.DataFrame(
            {"sample": pd.Categorical(obs_samples, categories=list(samples["sample"]))},
            index=[f"c{i}" for i in range(len(obs_samples))],
        ).assign(cell_type=pd.Categorical(["cancer"] * len(obs_samples))),
        var=pd.DataFrame(index=["a", "b", "c"]),
    )
    return pb.pseudobulk(adata, samples, min_cells=10)


def test_models_pass_when_no_replicate_is_lost():
    models, contrasts = _model_and_contrast()
    _, sheet, dropped = _pseudobulk_sheet([12, 30, 15, 12, 30, 20])
    assert dropped.empty
    check_models_after_drops(sheet, dropped, models, contrasts, min_cells=10)


def test_dropped_pseudo_samples_are_named_with_the_setting_before_the_fit():
    models, contrasts = _model_and_contrast()
    # ctrl_r3 and cm_r3 have too few cells: batch b3 is lost and b2 ... still has two
    _, sheet, dropped = _pseudobulk_sheet([12, 30, 4, 12, 30, 20])
    assert list(dropped["sample"]) == ["ctrl_r3__cancer"]
    with pytest.raises(InputError) as caught:
        check_models_after_drops(sheet, dropped, models, contrasts, min_cells=10)
    message = str(caught.value)
    assert "model 'cancer' cannot be fitted after single-cell QC" in message
    assert "ctrl_r3__cancer (4 cells)" in message
    assert "level(s) ['b3'] of 'batch' have a single sample" in message
    assert "lower single_cell.min_cells (now 10) to at most 4" in message
    assert "logs/pseudobulk_cells.log" in message
