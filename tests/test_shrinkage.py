"""apeGLM shrinkage of any contrast: re-parametrise so the contrast is one coefficient, shrink it.

* The re-parametrisation names the right coefficient for every kind of contrast and leaves the
  model unchanged (the refit's unshrunk coefficient is the contrast of the original fit).
* A contrast that already is a coefficient is shrunk on the given fit, exactly as PyDESeq2's
  ``DeseqStats.lfc_shrink`` of that coefficient.
* Against DESeq2 (R, apeglm; ``../shared``): ``r_test_lfc_shrink_res.csv``, the whole pipeline
  (fit, then shrinkage) through the package:

  ==============  ==============  ========  =========
  dataset         quantity        measured  tolerance
  ==============  ==============  ========  =========
  single_factor   log2FoldChange  1.2e-3    2e-3
                  lfcSE           3.1e-2    5e-2
  multi_factor    log2FoldChange  6.1e-3    1e-2
                  lfcSE           2.9e-2    5e-2
  large_counts    log2FoldChange  1.3e-2    2e-2
                  lfcSE           2.8e-2    5e-2
  ==============  ==============  ========  =========

  Maximum relative error over genes; tolerance = smallest 1/2/5 x 10^k >= 1.5 x measured. The
  multi_factor LFC maximum is gene6 (-0.0086, 5e-5 apart); large_counts inherits DESeq2's
  early-stopped dispersions (see test_deseq2_reference.py). ``lfcSE`` is the posterior SD,
  recomputed by ``shrink_coefficient`` (PyDESeq2 0.5.4's own is up to 19% off).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydeseq2.ds import DeseqStats

import msc_secretome.differential_expression as de
from msc_secretome import shrinkage
from msc_secretome.catalogue import read_catalogue
from msc_secretome.design import Contrast, Model, check_design, contrast_vector, model_samples
from msc_secretome.differential_expression import (
    contrast_results,
    fit_model,
    model_arrays,
    prefilter_mask,
)
from msc_secretome.shrinkage import contrast_as_coefficient
from msc_secretome.simulate import simulate_bulk_experiment


def shrink_contrast(dds, contrast):
    """Shrinkage as the contrast job runs it: from the model's arrays (no DeseqDataSet)."""
    return shrinkage.shrink_contrast(model_arrays(dds), contrast)


def shrink_coefficient(dds, coefficient):
    return shrinkage.shrink_coefficient(model_arrays(dds), coefficient)


CANCER = Model(
    "cancer",
    "~ batch + medium * therapy",
    {"cell_type": ("cancer",)},
    {"medium": "control", "therapy": "none", "batch": "b1"},
)
CM = ("medium", "msc_cm", "control")
PYDESEQ2_OPTIMIZER_GAP = 0.05  # log2 units; set after measuring, see the test
CONTRASTS = {
    "cm_vs_ctrl_none": Contrast("cm_vs_ctrl_none", "cancer", "compare", (CM,), {"therapy": "none"}),
    "cm_vs_ctrl_chemo": Contrast(
        "cm_vs_ctrl_chemo", "cancer", "compare", (CM,), {"therapy": "chemo"}
    ),
    "cm_vs_ctrl_radiation": Contrast(
        "cm_vs_ctrl_radiation", "cancer", "compare", (CM,), {"therapy": "radiation"}
    ),
    "cm_x_chemo": Contrast(
        "cm_x_chemo", "cancer", "interaction", (CM, ("therapy", "chemo", "none"))
    ),
    "chemo_vs_none": Contrast(
        "chemo_vs_none", "cancer", "compare", (("therapy", "chemo", "none"),), {"medium": "control"}
    ),
    "ctrl_vs_cm_radiation": Contrast(
        "ctrl_vs_cm_radiation",
        "cancer",
        "compare",
        (("medium", "control", "msc_cm"),),
        {"therapy": "radiation"},
    ),
}
EXPECTED = {
    "cm_vs_ctrl_none": ("medium[T.msc_cm]", {"medium": "control", "therapy": "none"}),
    "cm_vs_ctrl_chemo": ("medium[T.msc_cm]", {"medium": "control", "therapy": "chemo"}),
    "cm_vs_ctrl_radiation": ("medium[T.msc_cm]", {"medium": "control", "therapy": "radiation"}),
    "cm_x_chemo": ("medium[T.msc_cm]:therapy[T.chemo]", {"medium": "control", "therapy": "none"}),
    "chemo_vs_none": ("therapy[T.chemo]", {"medium": "control", "therapy": "none"}),
    "ctrl_vs_cm_radiation": ("medium[T.control]", {"medium": "msc_cm", "therapy": "radiation"}),
}


def _sheet() -> pd.DataFrame:
    rows = [
        (f"cancer_{m}_{t}_r{r}", "cancer", m, t, f"b{r}")
        for m in ("control", "msc_cm")
        for t in ("none", "chemo", "radiation")
        for r in (1, 2, 3)
    ]
    return pd.DataFrame(rows, columns=["sample", "cell_type", "medium", "therapy", "batch"])


def test_reparametrisation_names_one_coefficient():
    metadata = model_samples(_sheet(), CANCER).loc[:, CANCER.variables]
    for name, contrast in CONTRASTS.items():
        relevelled, matrix, coefficient = contrast_as_coefficient(metadata, CANCER.design, contrast)
        expected_coefficient, references = EXPECTED[name]
        assert coefficient == expected_coefficient, name
        for variable, reference in references.items():
            assert relevelled[variable].cat.categories[0] == reference, (name, variable)
        assert relevelled["batch"].cat.categories[0] == "b1"
        assert relevelled.index.equals(metadata.index)
        assert matrix.index.equals(metadata.index) and coefficient in matrix.columns


def test_reparametrisation_refuses_what_is_not_a_coefficient():
    # Without main effects formulaic codes medium:therapy with every therapy level, so the
    # interaction stays a difference of two columns whatever the references are.
    model = Model("m", "~ medium:therapy", {"cell_type": ("cancer",)}, {})
    metadata = model_samples(_sheet(), model).loc[:, model.variables]
    at_chemo = Contrast("c", "m", "compare", (CM,), {"therapy": "chemo"})
    *_, coefficient = contrast_as_coefficient(metadata, model.design, at_chemo)
    assert coefficient == "medium[T.msc_cm]:therapy[chemo]"
    interaction = Contrast("i", "m", "interaction", (CM, ("therapy", "chemo", "none")))
    with pytest.raises(ValueError, match="not a single coefficient"):
        contrast_as_coefficient(metadata, model.design, interaction)
    unknown = Contrast("u", "m", "compare", (("medium", "msc_cm", "serum"),))
    with pytest.raises(ValueError, match="not a level"):
        contrast_as_coefficient(metadata, model.design, unknown)


@pytest.fixture(scope="module")
def example_fit():
    experiment = simulate_bulk_experiment(read_catalogue(), n_genes=1500)
    metadata = model_samples(experiment.samples, CANCER).loc[:, CANCER.variables]
    counts = experiment.counts.T.loc[metadata.index]
    counts = counts.loc[:, prefilter_mask(counts, 10, 3)]
    dds = fit_model(counts, metadata, CANCER.design)
    return counts, metadata, dds


@pytest.mark.slow  # ~35-55 s on 2 cores (issue #17)
def test_a_coefficient_is_shrunk_on_the_given_fit_like_pydeseq2(example_fit, monkeypatch):
    _, _, dds = example_fit

    def no_refit(*args, **kwargs):
        raise AssertionError("shrink_contrast refitted a model that already had the coefficient")

    monkeypatch.setattr(de, "fit_model", no_refit)
    fitted = dds.varm["LFC"].copy()
    ours = shrink_contrast(dds, CONTRASTS["cm_x_chemo"])
    pd.testing.assert_frame_equal(dds.varm["LFC"], fitted)  # the fit is left as it was
    coefficient = "medium[T.msc_cm]:therapy[T.chemo]"
    pd.testing.assert_frame_equal(ours, shrink_coefficient(dds, coefficient))
    assert list(ours.index) == list(dds.var_names)

    # PyDESeq2's own shrinkage of that coefficient, which ours starts from and polishes
    columns = list(dds.obsm["design_matrix"].columns)
    index = columns.index(coefficient)
    unit = np.eye(len(columns))[index]
    stats = DeseqStats(dds, contrast=unit, quiet=True)
    stats.summary()
    prior_scale = min(np.sqrt(stats._fit_prior_var(coeff_idx=index)), 1.0)
    stats.lfc_shrink(coeff=coefficient)
    direct = stats.LFC[coefficient] / np.log(2)
    gap = float((ours["log2FoldChange"] - direct).abs().max())
    print(f"\nmax |ours - PyDESeq2 lfc_shrink| = {gap:.2g} log2 units")
    assert gap <= PYDESEQ2_OPTIMIZER_GAP
    # ... and ours is the better optimum of the same posterior, for every gene
    posterior = shrinkage.ApeglmPosterior(
        model_arrays(dds), dds.obsm["design_matrix"].to_numpy(float), index, prior_scale
    )
    genes = np.arange(dds.n_vars)
    theirs = posterior.value(stats.LFC.to_numpy(float), genes)
    mode, _ = posterior.mode_and_sd(stats.LFC.to_numpy(float))
    # Ours starts from the same L-BFGS-B run on arrays, with a prior scale equal to 1 ulp (sums
    # in another order), so the Newton steps end at the same mode to rounding: an objective of
    # ~1e2 known to ~1e-14 fixes its minimiser to ~1e-6 (measured 9e-7 log2 units).
    gap_to_mode = np.abs(mode[:, index] / np.log(2) - ours["log2FoldChange"]).max()
    print(f"max |ours - mode from PyDESeq2's start| = {gap_to_mode:.2g}")
    assert gap_to_mode <= 2e-6
    assert (posterior.value(mode, genes) <= theirs + 1e-9).all()

    # shrinkage pulls towards 0
    mle = contrast_results(dds, pd.Series(unit, index=columns)).set_index("gene_id")
    assert (ours["log2FoldChange"].abs() <= mle["log2FoldChange"].abs() + 1e-6).mean() > 0.99
    assert (ours["lfcSE"] > 0).all()


@pytest.mark.slow  # ~35-55 s on 2 cores (issue #17)
def test_other_contrasts_are_shrunk_without_refitting(example_fit, monkeypatch):
    counts, metadata, dds = example_fit
    monkeypatch.setattr(de, "fit_model", None)  # any refit would fail
    cm_radiation = shrink_contrast(dds, CONTRASTS["cm_vs_ctrl_radiation"])
    ctrl_radiation = shrink_contrast(dds, CONTRASTS["ctrl_vs_cm_radiation"])
    # The Cauchy prior is symmetric, so the reversed contrast is nearly the mirror image; not
    # exactly, as apeglm's N(0, 15^2) prior on the other coefficients (intercept included)
    # depends on the parametrisation: measured 3.4e-3 log2 (LFC), 4.4e-3 relative (SE).
    np.testing.assert_allclose(
        ctrl_radiation["log2FoldChange"], -cm_radiation["log2FoldChange"], rtol=0, atol=5e-3
    )
    np.testing.assert_allclose(ctrl_radiation["lfcSE"], cm_radiation["lfcSE"], rtol=1e-2)
    # it is the contrast's MLE that gets shrunk, towards 0
    vector = contrast_vector(
        check_design(metadata, CANCER), CONTRASTS["cm_vs_ctrl_radiation"], CANCER, metadata
    )
    mle = contrast_results(dds, vector).set_index("gene_id")["log2FoldChange"]
    shrunk = cm_radiation["log2FoldChange"]
    assert (shrunk.abs() <= mle.abs() + 1e-6).mean() > 0.99
    assert np.corrcoef(shrunk, mle)[0, 1] > 0.95


def test_without_interaction_the_at_level_does_not_matter(example_fit):
    counts, metadata, _ = example_fit
    additive = Model("additive", "~ batch + medium + therapy", CANCER.subset, CANCER.reference)
    dds = fit_model(counts, metadata, additive.design)
    at_none = shrink_contrast(dds, CONTRASTS["cm_vs_ctrl_none"])  # a coefficient already
    at_chemo = shrink_contrast(dds, CONTRASTS["cm_vs_ctrl_chemo"])  # relevelled therapy
    # same coefficient, two parametrisations; measured 7.6e-4 log2 and 5.2e-4 relative (SE)
    np.testing.assert_allclose(
        at_chemo["log2FoldChange"], at_none["log2FoldChange"], rtol=0, atol=2e-3
    )
    np.testing.assert_allclose(at_chemo["lfcSE"], at_none["lfcSE"], rtol=1e-3)


# --- against DESeq2 (R, apeglm) ---------------------------------------------------------------

R_SHRINK = {
    "single_factor": ("~condition", {"condition": "A"}, {"log2FoldChange": 2e-3, "lfcSE": 5e-4}),
    "multi_factor": (
        "~group + condition",
        {"group": "X", "condition": "A"},
        {"log2FoldChange": 1e-2, "lfcSE": 2e-4},
    ),
    "large_counts": ("~condition", {"condition": "A"}, {"log2FoldChange": 5e-2, "lfcSE": 5e-2}),
}


def _synthetic(reference_dir, name):
    root = reference_dir / "deseq2-synthetic"
    if name == "large_counts":
        folder = root / "tests/data/large_counts"
        counts = pd.read_csv(folder / "test_counts_TRANSCRIBED_from_test_code.csv", index_col=0)
        sheet = pd.read_csv(folder / "test_metadata_TRANSCRIBED_from_test_code.csv", index_col=0)
    else:
        counts = pd.read_csv(root / "datasets/synthetic/test_counts.csv", index_col=0).T
        sheet = pd.read_csv(root / "datasets/synthetic/test_metadata.csv", index_col=0)
    return counts, sheet.reset_index(names="sample").astype(str)


@pytest.mark.shared
@pytest.mark.parametrize("name", list(R_SHRINK))
def test_shrinkage_matches_deseq2_apeglm(reference_dir, name):
    design, reference, tolerance = R_SHRINK[name]
    counts, sheet = _synthetic(reference_dir, name)
    model = Model(name, design, {}, reference)
    metadata = model_samples(sheet, model).loc[:, model.variables]
    dds = fit_model(counts.loc[metadata.index], metadata, design)
    contrast = Contrast("B_vs_A", name, "compare", (("condition", "B", "A"),))
    ours = shrink_contrast(dds, contrast)
    r = pd.read_csv(
        reference_dir / "deseq2-synthetic/tests/data" / name / "r_test_lfc_shrink_res.csv",
        index_col=0,
    )
    ours = ours.loc[r.index]
    errors = {
        column: float(((ours[column] - r[column]).abs() / r[column].abs()).max())
        for column in tolerance
    }
    print(
        f"\n{name}: " + ", ".join(f"{k} {v:.2g} (tol {tolerance[k]:g})" for k, v in errors.items())
    )
    assert all(errors[k] <= tolerance[k] for k in tolerance), errors
