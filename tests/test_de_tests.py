"""The three tests of a contrast (``de.test``: wald, lrt, qlf) on real PyDESeq2 fits.

* ``lrt`` on one df is DESeq2's LRT: p-values close to the Wald test's on a well-powered
  contrast (same model; asymptotically equivalent), and a reduced design with two df (any
  effect of a three-level factor) is referred to chi-square on 2 df.
* ``qlf``: signed statistic, the empirical-Bayes pieces (``trigamma_inverse``,
  ``fit_f_dist``, ``squeeze_var``) against limma in R (``rpeer``; skips without R), and the
  contract: refused with an LFC threshold, a reduced design refused for the Wald test.
* ``contrasts.tsv`` says which test each contrast used and, for the Wald test at few residual
  df, what inflation to expect.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy.special import polygamma

from msc_secretome.contrast_summary import contrast_summary, methods_note
from msc_secretome.contrast_tests import reduced_design_matrix
from msc_secretome.design import (
    Contrast,
    Model,
    check_design,
    contrast_vector,
    model_samples,
    parse_contrasts,
)
from msc_secretome.differential_expression import fit_model, model_arrays, prefilter_mask
from msc_secretome.errors import InputError
from msc_secretome.lrt import lrt_test
from msc_secretome.qlf import fit_f_dist, squeeze_var, trigamma_inverse
from msc_secretome.wald import contrast_table

MODEL = Model("m", "~ batch + dose", {}, {"dose": "none", "batch": "b1"})
HIGH = Contrast("high_vs_none", "m", "compare", (("dose", "high", "none"),))


@pytest.fixture(scope="module")
def dose_fit():
    """12 samples: 2 batches x 3 doses x 2 replicates; 60 of 400 genes respond to high dose."""
    rng = np.random.default_rng(11)
    samples = pd.DataFrame(
        {
            "sample": [f"s{i}" for i in range(12)],
            "batch": ["b1"] * 6 + ["b2"] * 6,
            "dose": ["none", "low", "high"] * 4,
        }
    )
    metadata = model_samples(samples, MODEL).loc[:, MODEL.variables]
    means = rng.gamma(2.0, 150.0, size=400)
    fold = np.ones((12, 400))
    fold[(samples["dose"] == "high").to_numpy()[:, None] & (np.arange(400) < 60)] = 3.0
    mu = means[None, :] * fold
    counts = rng.negative_binomial(10, 10 / (10 + mu))
    frame = pd.DataFrame(counts, index=metadata.index, columns=[f"g{i:03d}" for i in range(400)])
    frame = frame.loc[:, prefilter_mask(frame, 10, 3)]
    dds = fit_model(frame, metadata, MODEL.design)
    vector = contrast_vector(check_design(metadata, MODEL), HIGH, MODEL, metadata)
    return model_arrays(dds), metadata, vector


def test_lrt_on_one_df_is_close_to_wald(dose_fit):
    fitted, _, vector = dose_fit
    wald = contrast_table(fitted, vector, test="wald")
    lrt = contrast_table(fitted, vector, test="lrt")
    both = wald["pvalue"].notna() & lrt["pvalue"].notna()
    log_wald = np.log10(wald.loc[both, "pvalue"])
    log_lrt = np.log10(lrt.loc[both, "pvalue"])
    assert np.corrcoef(log_wald, log_lrt)[0, 1] > 0.99
    np.testing.assert_array_equal(np.sign(lrt["stat"]), np.sign(wald["stat"]))
    assert (lrt["log2FoldChange"] == wald["log2FoldChange"]).all()
    found = set(lrt.loc[lrt["padj"] < 0.05, "gene_id"])
    assert len(found & {f"g{i:03d}" for i in range(60)}) >= 50


def test_lrt_with_a_reduced_design_tests_every_level(dose_fit):
    fitted, metadata, vector = dose_fit
    contrast = Contrast("any_dose", "m", "compare", HIGH.terms, test="lrt", reduced="~ batch")
    reduced = reduced_design_matrix(metadata, MODEL, contrast)
    assert reduced.shape == (12, 2)
    pvalue, statistic, df = lrt_test(fitted, vector.to_numpy(), reduced)
    assert df == 2
    table = contrast_table(fitted, vector, test="lrt", reduced_design=reduced)
    np.testing.assert_allclose(table["pvalue"], pvalue)
    np.testing.assert_allclose(table["stat"], statistic)  # 2 df: the LR itself, unsigned
    assert (table["stat"] >= 0).all()
    not_nested = Contrast("bad", "m", "compare", HIGH.terms, test="lrt", reduced="~ batch:dose")
    with pytest.raises(InputError, match="not nested"):
        lrt_test(fitted, vector.to_numpy(), reduced_design_matrix(metadata, MODEL, not_nested))
    foreign = Contrast("bad", "m", "compare", HIGH.terms, test="lrt", reduced="~ medium")
    with pytest.raises(InputError, match="names \\['medium'\\]"):
        reduced_design_matrix(metadata, MODEL, foreign)


def test_qlf_table_and_contract(dose_fit):
    fitted, _, vector = dose_fit
    qlf = contrast_table(fitted, vector, test="qlf")
    wald = contrast_table(fitted, vector, test="wald")
    np.testing.assert_array_equal(np.sign(qlf["stat"]), np.sign(wald["stat"]))
    assert (qlf["pvalue"].dropna() > 0).all() and qlf["padj"].notna().sum() > 100
    found = set(qlf.loc[qlf["padj"] < 0.05, "gene_id"])
    assert len(found & {f"g{i:03d}" for i in range(60)}) >= 45
    with pytest.raises(InputError, match="lfc_threshold"):
        contrast_table(fitted, vector, test="qlf", lfc_threshold=1.0)
    with pytest.raises(InputError, match="reduced design is tested by lrt or qlf"):
        contrast_table(fitted, vector, test="wald", reduced_design=np.ones((12, 1)))


def test_a_models_contrasts_share_its_full_fit_and_give_each_contrasts_own_table(dose_fit):
    """model_contrasts: the QL full-model fit is made once for all contrasts of a fit, and
    every table equals, bit for bit, the one its contrast gets alone (a fresh full fit)."""
    from msc_secretome import qlf
    from msc_secretome.model_contrasts import contrast_requests, contrast_tables

    fitted, metadata, _ = dose_fit
    low = Contrast("low_vs_none", "m", "compare", (("dose", "low", "none"),))
    any_dose = Contrast("any_dose", "m", "compare", HIGH.terms, test="qlf", reduced="~ batch")
    contrasts = [HIGH, low, any_dose]
    tests = {"high_vs_none": "qlf", "low_vs_none": "wald", "any_dose": "qlf"}
    requests = contrast_requests(metadata, MODEL, contrasts, tests)
    de = {"alpha": 0.05, "independent_filter": True, "cooks_filter": True, "lfc_threshold": 0}
    full_fits = []
    original = qlf.ql_full_fit

    def counting(arrays):
        full_fits.append(1)
        return original(arrays)

    qlf.ql_full_fit = counting
    try:
        tables = dict(contrast_tables(fitted, requests, de=de))
    finally:
        qlf.ql_full_fit = original
    assert list(tables) == ["high_vs_none", "low_vs_none", "any_dose"]
    assert len(full_fits) == 1  # two qlf contrasts, one full-model fit
    symbols = pd.Series(fitted["symbol"], index=fitted["gene_id"])
    for name, vector, test, reduced in requests:
        alone = contrast_table(fitted, vector, test=test, reduced_design=reduced, symbols=symbols)
        pd.testing.assert_frame_equal(tables[name], alone, check_exact=True)
    assert tables["any_dose"]["stat"].min() >= 0  # 2 df: the F itself
    assert (tables["high_vs_none"]["padj"] < 0.05).sum() >= 45


@pytest.mark.parametrize("test", ["wald", "lrt", "qlf"])
def test_statistic_only_tables_hold_the_full_tables_stat(dose_fit, test):
    """The leave-one-out refits rank by stat without p-values: the same values, bit for bit,
    including genes emptied by the Cook's refit (stat 0)."""
    from msc_secretome.model_contrasts import contrast_requests, contrast_tables

    fitted, metadata, _ = dose_fit
    fitted = dict(fitted)
    emptied = np.zeros(len(fitted["gene_id"]), dtype=bool)
    emptied[[3, 50]] = True
    fitted["all_zero_after_refit"] = emptied
    any_dose = Contrast("any_dose", "m", "compare", HIGH.terms, test="qlf", reduced="~ batch")
    contrasts = [HIGH] + ([any_dose] if test != "wald" else [])
    tests = {c.name: test for c in contrasts}
    requests = contrast_requests(metadata, MODEL, contrasts, tests)
    de = {"alpha": 0.05, "independent_filter": True, "cooks_filter": True, "lfc_threshold": 0}
    full = dict(contrast_tables(fitted, requests, de=de))
    only = dict(contrast_tables(fitted, requests, de=de, statistic_only=True))
    for name in full:
        assert list(only[name].columns) == ["gene_id", "symbol", "stat"]
        pd.testing.assert_frame_equal(
            only[name], full[name].loc[:, ["gene_id", "symbol", "stat"]], check_exact=True
        )
        assert (only[name]["stat"].to_numpy()[[3, 50]] == 0).all()


def test_reduced_with_wald_is_refused_when_the_contrasts_are_read():
    spec = {
        "contrasts": {
            "any": {
                "model": "m",
                "compare": {"dose": ["high", "none"]},
                "test": "wald",
                "reduced": "~ batch",
            },  # fmt: skip
        }
    }
    with pytest.raises(InputError, match="'reduced' needs test lrt or qlf") as err:
        parse_contrasts(spec, {"m": MODEL}, path="config/contrasts.yaml")
    assert "config/contrasts.yaml" in str(err.value)
    spec["contrasts"]["any"]["test"] = "lrt"
    parsed = parse_contrasts(spec, {"m": MODEL})["any"]
    assert (parsed.test, parsed.reduced) == ("lrt", "~ batch")


def test_trigamma_inverse_inverts_trigamma():
    x = np.array([1e-8, 1e-3, 0.1, 1.0, 10.0, 1e3, 1e8])
    y = trigamma_inverse(x)
    middle = (x > 1e-6) & (x < 1e7)
    np.testing.assert_allclose(polygamma(1, y[middle]), x[middle], rtol=1e-8)


def test_summary_says_which_test_and_warns_about_wald_at_few_df(dose_fit):
    fitted, _, _ = dose_fit
    samples = pd.DataFrame(
        {
            "sample": fitted["obs_names"],
            "batch": fitted["obs__batch"],
            "dose": fitted["obs__dose"],
        }
    )
    table = contrast_table(fitted, pd.Series([0, 0, 0, 1.0], index=fitted["columns"]))
    other = Contrast("low_vs_none", "m", "compare", (("dose", "low", "none"),))
    summary = contrast_summary(
        [HIGH, other],
        {"m": MODEL},
        samples,
        {HIGH.name: table, other.name: table},
        {
            "cell_type": {"column": "cell_type", "cancer": ["cancer"], "normal": ["normal"]},
            "exposure": {"column": "medium", "exposed": "msc_cm", "control": "control"},
            "therapy": {"column": "therapy", "none": "none"},
        },
        0.05,
        {HIGH.name: "wald", other.name: "qlf"},
    ).set_index("contrast")
    assert summary.loc[HIGH.name, "test"] == "wald"
    assert summary.loc[other.name, "test"] == "qlf"
    assert summary.loc[HIGH.name, "residual_df"] == 12 - 4
    assert "at 8 residual df" in summary.loc[HIGH.name, "test_note"]
    assert "de.test: qlf" in summary.loc[HIGH.name, "test_note"]
    assert summary.loc[other.name, "test_note"].startswith("quasi-likelihood F-test")
    assert "residual df" not in methods_note("wald", 100)


LIMMA = """
suppressPackageStartupMessages(library(limma))
x <- scan("{x}", quiet = TRUE); df <- scan("{df}", quiet = TRUE); cov <- scan("{cov}", quiet = TRUE)
fit <- squeezeVar(x, df = df, covariate = cov)
plain <- fitFDist(x, df1 = df)
write.table(data.frame(var_post = fit$var.post, var_prior = fit$var.prior,
                       df_prior = fit$df.prior, plain_scale = plain$scale,
                       plain_df2 = plain$df2), "{out}", sep = "\\t", row.names = FALSE)
"""


@pytest.mark.rpeer
def test_squeeze_var_equals_limma(tmp_path):
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("Rscript not found")
    rng = np.random.default_rng(3)
    covariate = rng.uniform(0, 14, size=2000)
    df = np.where(rng.random(2000) < 0.05, 6.0, 10.0)
    prior = np.exp(-0.15 * covariate) + 0.05
    x = prior * rng.chisquare(df) / df * rng.lognormal(0, 0.3, size=2000)
    paths = {name: tmp_path / f"{name}.txt" for name in ("x", "df", "cov")}
    for name, values in zip(paths, (x, df, covariate), strict=True):
        np.savetxt(paths[name], values, fmt="%.17g")
    out = tmp_path / "out.tsv"
    script = tmp_path / "limma.R"
    script.write_text(LIMMA.format(**{k: v for k, v in paths.items()}, out=out))
    run = subprocess.run([rscript, str(script)], capture_output=True, text=True, check=False)
    if run.returncode != 0 and "limma" in run.stderr:
        pytest.skip(f"limma not available: {run.stderr[-200:]}")
    assert run.returncode == 0, run.stderr
    r = pd.read_csv(out, sep="\t")
    var_post, var_prior, df_prior = squeeze_var(x, df, covariate)
    np.testing.assert_allclose(df_prior, r["df_prior"].iloc[0], rtol=1e-8)
    np.testing.assert_allclose(var_prior, r["var_prior"], rtol=1e-8)
    np.testing.assert_allclose(var_post, r["var_post"], rtol=1e-8)
    scale, df2 = fit_f_dist(x, df)
    np.testing.assert_allclose(scale, r["plain_scale"].iloc[0], rtol=1e-8)
    np.testing.assert_allclose(df2, r["plain_df2"].iloc[0], rtol=1e-8)


def test_test_options_are_checked_before_any_job():
    from msc_secretome.contrast_tests import contrast_test

    with_reduced = Contrast("any", "m", "compare", HIGH.terms, reduced="~ batch")
    with pytest.raises(InputError, match="'reduced' needs test lrt or qlf"):
        contrast_test(with_reduced, {"test": "wald"})
    assert contrast_test(with_reduced, {"test": "qlf"}) == "qlf"
    with pytest.raises(InputError, match="lfc_threshold > 0") as err:
        contrast_test(HIGH, {"test": "qlf", "lfc_threshold": 1.0})
    assert "de.test: wald" in str(err.value)
    own = Contrast("own", "m", "compare", HIGH.terms, test="wald")
    assert contrast_test(own, {"test": "qlf", "lfc_threshold": 1.0}) == "wald"
