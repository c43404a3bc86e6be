"""The workflow's DE (the functions the per-model DE job runs) against DESeq2 (R) references.

Everything goes through the package: ``design.model_samples`` (ordered categoricals, reference
first), ``design.contrast_vector`` (contrast from the cells it names), ``fit_model`` and
``contrast_results``. ``alpha`` is 0.1, R's ``results()`` default, which the references used.
Data: ``../shared/reference/deseq2-synthetic`` (PyDESeq2's test data, DESeq2 1.34; see its
SOURCE.md) and ``../shared/reference/airway`` (real counts, two DESeq2 result tables).

Errors are relative, ``|ours - R| / |R|`` (absolute where R is exactly 0), maximum over genes
(samples for size factors) unless the table says otherwise; NaN patterns must match exactly.
Tolerance = the smallest 1/2/5 x 10^k at least 1.5 x the error measured with pydeseq2 0.5.4
(for correlations and Jaccard indices: applied to 1 - value; size factors and baseMean: 1e-12,
i.e. exact to rounding).

================  ===================  ==========  =========  ==============================
dataset           quantity             measured    tolerance  note
================  ===================  ==========  =========  ==============================
single_factor     size factors         4.6e-15     1e-12      ``~condition``, B vs A
                  dispersions          6.5e-4      1e-3
                  baseMean             3.8e-15     1e-12
                  log2FoldChange       1.6e-5      5e-5
                  lfcSE                2.8e-4      5e-4
                  stat                 3.0e-4      5e-4
                  pvalue               2.4e-3      5e-3
                  padj                 3.9e-4      1e-3
multi_factor      size factors         4.6e-15     1e-12      ``~group + condition``
                  dispersions          3.1e-4      5e-4
                  baseMean             3.8e-15     1e-12
                  log2FoldChange       7.1e-6      2e-5
                  lfcSE                1.4e-4      5e-4
                  stat                 1.4e-4      5e-4
                  pvalue               1.0e-3      2e-3
                  padj                 1.0e-3      2e-3
wide              size factors         4.3e-15     1e-12      50 genes, 30 samples; (a)
                  dispersions          9.7e-3      2e-2
                  baseMean             3.5e-15     1e-12
                  log2FoldChange       9.3e-4      2e-3
                  lfcSE                1.2e-2      2e-2
                  stat                 1.3e-2      2e-2
                  pvalue               4.3e-3      1e-2
                  padj                 1.4e-3      5e-3
large_counts      size factors         3.3e-15     1e-12      counts up to 5.6e5; (a)
                  dispersions          5.4e-2      1e-1
                  baseMean             3.1e-15     1e-12
                  log2FoldChange       3.9e-5      1e-4
                  lfcSE                2.7e-2      5e-2
                  stat                 2.6e-2      5e-2
                  pvalue (ln p)        4.1e-2      1e-1       rel. error of ln p; (b)
                  padj (ln p)          5.2e-2      1e-1
greaterAbs        log2FoldChange       1.6e-5      5e-5       single_factor, lfc_threshold
                  lfcSE                2.8e-4      5e-4       0.5 (altHypothesis greaterAbs)
                  stat                 1.5e-4      5e-4
                  pvalue               9.2e-5      2e-4
                  padj                 0           1e-12      all 1 in R
no indep. filter  as single_factor     (same)      (same)     independent_filter=False
airway ~cell+dex  baseMean             5.0e-15     1e-12      vs the apeglm file's unshrunk
                  pvalue NaN pattern   identical   identical  pvalue/padj; (c)
                  Pearson |stat|       0.99479     >= 0.99    |stat| from R's p (two-sided)
                  pvalue, median       0.035       0.1
                  calls padj<0.1       J=0.931     >= 0.8     Jaccard of the called sets
                  LFC, 6 spot genes    4.5e-4      1e-3       SOURCE.md's unshrunk values
                  lfcSE, spot genes    0.103       0.2
                  stat, spot genes     0.115       0.2
airway ~dex       baseMean             5.0e-15     1e-12      all columns unshrunk; (c)
                  pvalue NaN pattern   identical   identical  51 Cook's outliers in both
                  log2FoldChange       0.0121      0.02       max |diff| / R's lfcSE
                  lfcSE, median        7.7e-3      2e-2
                  lfcSE, 99th pct      2.5e-2      5e-2
                  Pearson stat         0.99977     >= 0.9995
                  pvalue, median       9.1e-3      2e-2
                  calls padj<0.1       J=0.983     >= 0.95
================  ===================  ==========  =========  ==============================

(a) Gene-wise dispersions: DESeq2 stops its line search at a tolerance relative to the log
    posterior, which is large in magnitude for large counts, so its estimates stop short of the
    maximum (large_counts g5: R 0.0297, PyDESeq2 0.0313, the exact Cox-Reid maximum 0.0313;
    wide gene14: R 4.160, PyDESeq2 4.263, profile maximum 4.265). The Wald errors follow.
(b) g3 has p ~ 1e-25: a 2.6% difference in the statistic is a factor 3.7 in p, so p-values
    are compared on the log scale here.
(c) PyDESeq2 0.5.4 and DESeq2 differ on airway, for three reasons found while writing this
    test (DESeq2 1.38 reproduces both tables; the LFCs agree, the standard errors do not):
    1. dispersion trend: PyDESeq2 drops genes from the parametric fit for good once they are
       far from an intermediate curve and keeps gene-wise estimates below 100 x minDisp; DESeq2
       re-selects from all genes each iteration and excludes those (R's procedure applied to
       R's gene-wise estimates gives R's coefficients; PyDESeq2's gives a1 = 2.58 vs 3.47 on
       ``~cell + dex``);
    2. with <= 3 residual degrees of freedom (``~cell + dex``: 8 samples, 5 coefficients)
       DESeq2 fits the dispersion prior variance by simulation (0.53); PyDESeq2 uses the MAD
       formula floored at 0.25;
    3. when L-BFGS-B fails on a MAP dispersion, PyDESeq2 falls back to a grid search without
       the prior, i.e. to the gene-wise estimate (ENSG00000159840: 0.0071 vs DESeq2's 0.0109).
    The project's models have 10 residual df; tests/test_deseq2_peer.py checks them live.

Independent filtering: ``independent_filter_padj`` (DESeq2's procedure with a port of R's
lowess) turns the airway tables' own pvalue and baseMean columns into their padj columns:
relative error 9.2e-13 (``~cell + dex``) and 8.5e-13 (``~dex``), tolerance 2e-12, identical NaN
patterns, thresholds 4.5005 and 3.8616 (DESeq2 1.38's ``filterThreshold``).

``continuous`` (``~group + condition + measurement``, the model's ``continuous:
[measurement]``): the per-unit slope of measurement (a ``slope`` contrast), DESeq2's default
``results()``, to the tolerances of the other synthetic sets.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from msc_secretome.design import (
    Contrast,
    Model,
    check_design,
    contrast_vector,
    model_samples,
    parse_contrasts,
    parse_models,
)
from msc_secretome.differential_expression import contrast_results, fit_model
from msc_secretome.wald import independent_filter_padj

pytestmark = pytest.mark.shared

ALPHA = 0.1  # R results() default; the reference tables were made with it
N_CPUS = min(4, os.cpu_count() or 1)

SYNTHETIC_DESIGNS = {
    "single_factor": ("~condition", {"condition": "A"}),
    "multi_factor": ("~group + condition", {"group": "X", "condition": "A"}),
    "wide": ("~group + condition", {"group": "X", "condition": "A"}),
    "large_counts": ("~condition", {"condition": "A"}),
}
TOLERANCE = {
    "single_factor": {
        "size_factors": 1e-12,
        "dispersions": 1e-3,
        "baseMean": 1e-12,
        "log2FoldChange": 5e-5,
        "lfcSE": 5e-4,
        "stat": 5e-4,
        "pvalue": 5e-3,
        "padj": 1e-3,
    },
    "multi_factor": {
        "size_factors": 1e-12,
        "dispersions": 5e-4,
        "baseMean": 1e-12,
        "log2FoldChange": 2e-5,
        "lfcSE": 5e-4,
        "stat": 5e-4,
        "pvalue": 2e-3,
        "padj": 2e-3,
    },
    "wide": {
        "size_factors": 1e-12,
        "dispersions": 2e-2,
        "baseMean": 1e-12,
        "log2FoldChange": 2e-3,
        "lfcSE": 2e-2,
        "stat": 2e-2,
        "pvalue": 1e-2,
        "padj": 5e-3,
    },
    "large_counts": {
        "size_factors": 1e-12,
        "dispersions": 1e-1,
        "baseMean": 1e-12,
        "log2FoldChange": 1e-4,
        "lfcSE": 5e-2,
        "stat": 5e-2,
        "pvalue": 1e-1,  # relative error of ln p, see note (b)
        "padj": 1e-1,
    },
}
LOG_SCALE_P = {"large_counts"}
WALD_COLUMNS = ["baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]

# Unshrunk `~ cell + dex` values from ../shared/reference/airway/SOURCE.md (spot checks):
# log2FoldChange, lfcSE, stat.
AIRWAY_SPOT_GENES = {
    "ENSG00000152583": (4.57496679448078, 0.184241415527361, 24.8313701964657),
    "ENSG00000165995": (3.29109887177958, 0.133052739472446, 24.7352958295244),
    "ENSG00000120129": (2.94784977790587, 0.121876435977819, 24.1872003743396),
    "ENSG00000101347": (3.76702165770115, 0.155991949351366, 24.1488209703444),
    "ENSG00000189221": (3.35365484627212, 0.142180986010796, 23.5872245675485),
    "ENSG00000109906": (7.35265852969059, 0.536392626289791, 13.7076055287126),
}


def max_relative_error(ours, reference) -> float:
    """max |ours - ref| / |ref| over entries where ref is finite (|ours - ref| where ref == 0)."""
    ours = np.asarray(ours, dtype=float)
    reference = np.asarray(reference, dtype=float)
    keep = np.isfinite(reference)
    diff = np.abs(ours[keep] - reference[keep])
    scale = np.abs(reference[keep])
    error = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), diff)
    return float(np.max(error)) if error.size else 0.0


def _read_r(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, index_col=0)


def _synthetic_inputs(reference_dir: Path, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(counts samples x genes, sample sheet with a `sample` column, all text)."""
    root = reference_dir / "deseq2-synthetic"
    if name in ("single_factor", "multi_factor"):
        counts = pd.read_csv(root / "datasets/synthetic/test_counts.csv", index_col=0).T
        metadata = pd.read_csv(root / "datasets/synthetic/test_metadata.csv", index_col=0)
    elif name == "large_counts":
        folder = root / "tests/data/large_counts"
        counts = pd.read_csv(folder / "test_counts_TRANSCRIBED_from_test_code.csv", index_col=0)
        metadata = pd.read_csv(folder / "test_metadata_TRANSCRIBED_from_test_code.csv", index_col=0)
    else:
        folder = root / "tests/data" / name
        counts = pd.read_csv(folder / "test_counts.csv", index_col=0).T
        metadata = pd.read_csv(folder / "test_metadata.csv", index_col=0)
    return counts, metadata.reset_index(names="sample").astype(str)


def _fit(counts, sheet, design, reference, contrast_terms, name="reference"):
    """Fit through the package; returns (dds, contrast vector)."""
    model = Model(name, design, {}, reference)
    metadata = model_samples(sheet, model).loc[:, model.variables]
    helper = check_design(metadata, model)
    contrast = Contrast("contrast", name, "compare", contrast_terms)
    vector = contrast_vector(helper, contrast, model, metadata)
    dds = fit_model(counts.loc[metadata.index], metadata, design, n_cpus=N_CPUS)
    return dds, vector


@cache
def synthetic_fit(reference_dir: Path, name: str):
    counts, sheet = _synthetic_inputs(reference_dir, name)
    design, reference = SYNTHETIC_DESIGNS[name]
    return _fit(counts, sheet, design, reference, (("condition", "B", "A"),), name)


def _wald_errors(ours: pd.DataFrame, r: pd.DataFrame, log_p: bool = False) -> dict[str, float]:
    ours = ours.set_index("gene_id").loc[r.index]
    for column in ("pvalue", "padj"):
        mismatch = ours[column].isna() != r[column].isna()
        assert not mismatch.any(), f"{column} NaN pattern differs: {list(r.index[mismatch])}"
    errors = {}
    for column in WALD_COLUMNS:
        if column in ("pvalue", "padj") and log_p:
            errors[column] = max_relative_error(np.log(ours[column]), np.log(r[column]))
        else:
            errors[column] = max_relative_error(ours[column], r[column])
    return errors


def _check(errors: dict[str, float], tolerance: dict[str, float], label: str) -> None:
    print(
        f"\n{label}: " + ", ".join(f"{k} {v:.2g} (tol {tolerance[k]:g})" for k, v in errors.items())
    )
    over = {k: (v, tolerance[k]) for k, v in errors.items() if not v <= tolerance[k]}
    assert not over, f"{label}: error above tolerance (measured, tolerance): {over}"


@pytest.mark.parametrize("name", list(SYNTHETIC_DESIGNS))
def test_fit_and_wald_test_match_deseq2(reference_dir, name):
    dds, vector = synthetic_fit(reference_dir, name)
    folder = reference_dir / "deseq2-synthetic/tests/data" / name
    r_size_factors = _read_r(folder / "r_test_size_factors.csv")["x"]
    r_dispersions = _read_r(folder / "r_test_dispersions.csv")["x"]
    errors = {
        "size_factors": max_relative_error(
            dds.obs["size_factors"].loc[r_size_factors.index], r_size_factors
        ),
        "dispersions": max_relative_error(
            dds.var["dispersions"].loc[r_dispersions.index], r_dispersions
        ),
    }
    table = contrast_results(dds, vector, alpha=ALPHA)
    errors |= _wald_errors(table, _read_r(folder / "r_test_res.csv"), name in LOG_SCALE_P)
    _check(errors, TOLERANCE[name], name)


def test_greater_abs_threshold_matches_deseq2(reference_dir):
    dds, vector = synthetic_fit(reference_dir, "single_factor")
    table = contrast_results(dds, vector, alpha=ALPHA, lfc_threshold=0.5)
    r = _read_r(
        reference_dir / "deseq2-synthetic/tests/data/single_factor/r_test_res_greaterAbs.csv"
    )
    errors = _wald_errors(table, r)
    tolerance = {
        "baseMean": 1e-12,
        "log2FoldChange": 5e-5,
        "lfcSE": 5e-4,
        "stat": 5e-4,
        "pvalue": 2e-4,
        "padj": 1e-12,
    }
    _check(errors, tolerance, "single_factor greaterAbs 0.5")
    # below the threshold DESeq2 reports stat 0 and p 1: so must we
    below = r.index[r["log2FoldChange"].abs() <= 0.5]
    ours = table.set_index("gene_id").loc[below]
    assert (ours["stat"] == 0).all() and (ours["pvalue"] == 1).all()


def test_no_independent_filtering_matches_deseq2(reference_dir):
    dds, vector = synthetic_fit(reference_dir, "single_factor")
    table = contrast_results(dds, vector, alpha=ALPHA, independent_filter=False)
    folder = reference_dir / "deseq2-synthetic/tests/data/single_factor"
    errors = _wald_errors(table, _read_r(folder / "r_test_res_no_independent_filtering.csv"))
    _check(errors, {k: TOLERANCE["single_factor"][k] for k in WALD_COLUMNS}, "no indep. filter")


def test_continuous_covariate_matches_deseq2(reference_dir):
    """``~ group + condition + measurement`` with ``measurement`` continuous; DESeq2's default
    ``results()`` is the last coefficient, the per-unit slope of measurement (``slope``).
    Measured: size factors 4e-15, dispersions 1.1e-4, log2FoldChange 4.3e-6, lfcSE 4.8e-5,
    stat 4.4e-5, pvalue 1.2e-3, padj 1.2e-3 (maximum relative errors)."""
    counts, sheet = _synthetic_inputs(reference_dir, "continuous")
    spec = {
        "models": {
            "continuous": {
                "design": "~ group + condition + measurement",
                "continuous": ["measurement"],
                "reference": {"group": "X", "condition": "A"},
            }
        },
        "contrasts": {"per_unit": {"model": "continuous", "slope": "measurement"}},
    }
    models = parse_models(spec)
    model, contrast = models["continuous"], parse_contrasts(spec, models)["per_unit"]
    metadata = model_samples(sheet, model).loc[:, model.variables]
    assert metadata["measurement"].dtype == float
    vector = contrast_vector(check_design(metadata, model), contrast, model, metadata)
    assert vector.to_dict() == {
        "Intercept": 0.0,
        "group[T.Y]": 0.0,
        "condition[T.B]": 0.0,
        "measurement": 1.0,
    }
    dds = fit_model(counts.loc[metadata.index], metadata, model.design, n_cpus=N_CPUS)
    folder = reference_dir / "deseq2-synthetic/tests/data/continuous"
    r_size_factors = _read_r(folder / "r_test_size_factors.csv")["x"]
    r_dispersions = _read_r(folder / "r_test_dispersions.csv")["x"]
    errors = {
        "size_factors": max_relative_error(
            dds.obs["size_factors"].loc[r_size_factors.index], r_size_factors
        ),
        "dispersions": max_relative_error(
            dds.var["dispersions"].loc[r_dispersions.index], r_dispersions
        ),
    }
    table = contrast_results(dds, vector, alpha=ALPHA)
    errors |= _wald_errors(table, _read_r(folder / "r_test_res.csv"))
    tolerance = {
        "size_factors": 1e-12,
        "dispersions": 2e-4,
        "baseMean": 1e-12,
        "log2FoldChange": 1e-5,
        "lfcSE": 1e-4,
        "stat": 1e-4,
        "pvalue": 2e-3,
        "padj": 2e-3,
    }
    _check(errors, tolerance, "continuous")


# --- airway: real counts --------------------------------------------------------------------


@cache
def airway_results(reference_dir: Path, design: str) -> pd.DataFrame:
    folder = reference_dir / "airway/counts"
    raw = pd.read_csv(folder / "airway_rawcounts.csv", index_col=0)
    raw = raw.loc[raw.sum(axis=1) >= 10]  # the references' prefilter: rowSums(counts) >= 10
    table = pd.read_csv(folder / "airway_metadata.csv")
    sheet = pd.DataFrame({"sample": table["id"], "cell": table["celltype"], "dex": table["dex"]})
    reference = {"dex": "control", "cell": str(sheet["cell"].iloc[0])}
    if "cell" not in design:
        reference.pop("cell")
    dds, vector = _fit(raw.T, sheet, design, reference, (("dex", "treated", "control"),))
    return contrast_results(dds, vector, alpha=ALPHA).set_index("gene_id")


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def _calls(table: pd.DataFrame) -> set:
    return set(table.index[table["padj"] < ALPHA])


@pytest.mark.slow
def test_airway_cell_plus_dex_pvalues_match_deseq2(reference_dir):
    r = pd.read_csv(
        reference_dir / "airway/deseq2_results/airway_cell+dex_trt_vs_untrt_apeglm.csv"
    ).set_index("gene_id")
    ours = airway_results(reference_dir, "~ cell + dex")
    assert sorted(ours.index) == sorted(r.index)  # 22,369 genes after the prefilter
    ours = ours.loc[r.index]
    assert (ours["pvalue"].isna() == r["pvalue"].isna()).all()
    tested = r["pvalue"].notna()
    r_abs_stat = norm.isf(r.loc[tested, "pvalue"] / 2)  # the file's log2FoldChange is shrunk
    p_error = (ours.loc[tested, "pvalue"] / r.loc[tested, "pvalue"] - 1).abs()
    spots = pd.DataFrame(AIRWAY_SPOT_GENES, index=["log2FoldChange", "lfcSE", "stat"]).T
    measured = {
        "baseMean": max_relative_error(ours["baseMean"], r["baseMean"]),
        "pearson_abs_stat": float(np.corrcoef(ours.loc[tested, "stat"].abs(), r_abs_stat)[0, 1]),
        "pvalue_median": float(p_error.median()),
        "jaccard_calls": _jaccard(_calls(ours), _calls(r)),
        **{
            f"spot_{c}": max_relative_error(ours.loc[spots.index, c], spots[c])
            for c in spots.columns
        },
    }
    print("\nairway ~cell+dex:", {k: round(v, 6) for k, v in measured.items()})
    assert measured["baseMean"] <= 1e-12
    assert measured["pearson_abs_stat"] >= 0.99
    assert measured["pvalue_median"] <= 0.1
    assert measured["jaccard_calls"] >= 0.8
    assert measured["spot_log2FoldChange"] <= 1e-3
    assert measured["spot_lfcSE"] <= 0.2
    assert measured["spot_stat"] <= 0.2


@pytest.mark.slow
def test_airway_dex_matches_deseq2(reference_dir):
    r = pd.read_csv(
        reference_dir / "airway/deseq2_results/airway_dex_trt_vs_untrt_singlefactor.csv"
    ).set_index("gene_id")
    ours = airway_results(reference_dir, "~ dex").loc[r.index]
    assert (ours["pvalue"].isna() == r["pvalue"].isna()).all()  # Cook's outliers
    tested = r["pvalue"].notna()
    se_error = (ours["lfcSE"] / r["lfcSE"] - 1).abs()
    p_error = (ours.loc[tested, "pvalue"] / r.loc[tested, "pvalue"] - 1).abs()
    measured = {
        "baseMean": max_relative_error(ours["baseMean"], r["baseMean"]),
        "lfc_in_se": float(
            ((ours["log2FoldChange"] - r["log2FoldChange"]).abs() / r["lfcSE"]).max()
        ),
        "lfcSE_median": float(se_error.median()),
        "lfcSE_q99": float(se_error.quantile(0.99)),
        "pearson_stat": float(np.corrcoef(ours.loc[tested, "stat"], r.loc[tested, "stat"])[0, 1]),
        "pvalue_median": float(p_error.median()),
        "jaccard_calls": _jaccard(_calls(ours), _calls(r)),
    }
    print("\nairway ~dex:", {k: round(v, 6) for k, v in measured.items()})
    assert measured["baseMean"] <= 1e-12
    assert measured["lfc_in_se"] <= 0.02
    assert measured["lfcSE_median"] <= 2e-2
    assert measured["lfcSE_q99"] <= 5e-2
    assert measured["pearson_stat"] >= 0.9995
    assert measured["pvalue_median"] <= 2e-2
    assert measured["jaccard_calls"] >= 0.95


@pytest.mark.parametrize(
    ("table", "threshold"),
    [
        ("airway_cell+dex_trt_vs_untrt_apeglm.csv", 4.500513357373521),
        ("airway_dex_trt_vs_untrt_singlefactor.csv", 3.8616292736980373),
    ],
)
def test_independent_filter_reproduces_deseq2_padj(reference_dir, table, threshold):
    r = pd.read_csv(reference_dir / "airway/deseq2_results" / table)
    padj, cutoff = independent_filter_padj(r["baseMean"], r["pvalue"], ALPHA)
    assert (np.isnan(padj) == r["padj"].isna()).all()
    error = max_relative_error(padj, r["padj"])
    print(f"\n{table}: padj max relative error {error:.2g}, threshold {cutoff:.6g}")
    assert error <= 2e-12
    assert cutoff == pytest.approx(threshold, rel=1e-12)
