"""The batched engine computes PyDESeq2's estimators: same objective, same answers.

Each batched step is checked against PyDESeq2's own per-gene function on the same inputs, and
a whole fit (multi-factor design with an interaction) against a fit with PyDESeq2's
``DefaultInference``. Agreement with DESeq2 in R is checked for the default (batched) engine
by ``test_deseq2_reference.py`` and ``test_deseq2_peer.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from pydeseq2 import utils

from msc_secretome.batched_inference import BatchedInference, nb_nll_genes
from msc_secretome.design import Contrast, Model, check_design, contrast_vector, model_samples
from msc_secretome.differential_expression import contrast_results, fit_model
from msc_secretome.dispersion_newton import dispersion_objective
from msc_secretome.wald import outer_rows


def design_frame(n_replicates: int = 3) -> pd.DataFrame:
    rows = [
        {"medium": medium, "therapy": therapy, "batch": f"b{r}"}
        for medium in ("control", "msc_cm")
        for therapy in ("none", "chemo")
        for r in range(n_replicates)
    ]
    frame = pd.DataFrame(rows)
    frame.insert(0, "sample", [f"s{i:02d}" for i in range(len(frame))])
    return frame


def simulated_counts(samples: pd.DataFrame, n_genes: int = 1500, seed: int = 11):
    """NB counts with DESeq2's mean-dispersion shape; genes 0-99 respond to CM (more under
    chemo), genes 100-119 have no reads at all in the control/none cell, genes 200-209 an
    outlier count in the first sample."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(1, 11, n_genes)
    log2 = np.tile(base, (len(samples), 1))
    cm = (samples["medium"] == "msc_cm").to_numpy()
    chemo = (samples["therapy"] == "chemo").to_numpy()
    log2[np.ix_(cm, np.arange(100))] += rng.uniform(0.5, 2, 100)
    log2[np.ix_(cm & chemo, np.arange(50))] += 1.0
    mean = np.exp2(log2)
    dispersion = (0.03 + 1 / mean) * rng.lognormal(0, 0.3, n_genes)
    counts = rng.negative_binomial(1 / dispersion, 1 / (1 + dispersion * mean))
    counts[np.ix_(~cm & ~chemo, np.arange(100, 120))] = 0
    counts[0, 200:210] = counts[0, 200:210] * 30 + 500  # Cook's outliers
    return pd.DataFrame(
        counts, index=samples["sample"], columns=[f"g{i:04d}" for i in range(n_genes)]
    )


@pytest.fixture(scope="module")
def experiment():
    samples = design_frame()
    counts = simulated_counts(samples)
    model = Model("m", "~ medium * therapy", {}, {"medium": "control", "therapy": "none"})
    metadata = model_samples(samples.astype(str), model).loc[:, model.variables]
    counts = counts.loc[metadata.index]
    counts = counts.loc[:, (counts >= 10).sum() >= 3]
    helper = check_design(metadata, model)
    vectors = {
        "cm_none": contrast_vector(
            helper,
            Contrast(
                "cm_none", "m", "compare", (("medium", "msc_cm", "control"),), {"therapy": "none"}
            ),
            model,
            metadata,
        ),
        "cm_x_chemo": contrast_vector(
            helper,
            Contrast(
                "cm_x_chemo",
                "m",
                "interaction",
                (("medium", "msc_cm", "control"), ("therapy", "chemo", "none")),
            ),
            model,
            metadata,
        ),
    }
    fits = {
        engine: fit_model(counts, metadata, model.design, engine=engine, n_cpus=1)
        for engine in ("batched", "pydeseq2")
    }
    return counts, metadata, vectors, fits


def test_nb_negative_log_likelihood_equals_pydeseq2s():
    rng = np.random.default_rng(0)
    counts = rng.poisson(20, size=(8, 5)).astype(float)
    mu = rng.uniform(5, 40, size=(8, 5))
    alpha = rng.uniform(0.01, 1, 5)
    ours = nb_nll_genes(counts, mu, alpha)
    theirs = [utils.nb_nll(counts[:, g], mu[:, g], alpha[g]) for g in range(5)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("prior_var", [None, 0.25])
def test_dispersion_objective_derivatives_match_finite_differences(prior_var):
    rng = np.random.default_rng(1)
    X = np.column_stack([np.ones(12), np.repeat([0.0, 1.0], 6), np.tile([0.0, 1.0], 6)])
    mu = rng.uniform(2, 500, size=(12, 6))
    counts = rng.negative_binomial(5, 5 / (5 + mu)).astype(float)
    log_alpha = np.log(rng.uniform(0.02, 0.5, 6))
    centre = log_alpha + 0.3
    outer = outer_rows(X)

    def f(values):
        return dispersion_objective(counts, X, outer, mu, values, centre, prior_var, True)

    value, gradient, hessian = f(log_alpha)
    h = 1e-5
    up, down = f(log_alpha + h), f(log_alpha - h)
    np.testing.assert_allclose(gradient, (up[0] - down[0]) / (2 * h), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(hessian, (up[1] - down[1]) / (2 * h), rtol=1e-5, atol=1e-7)
    # the value is the objective PyDESeq2's fit_alpha_mle minimises
    loss = [
        utils.nb_nll(counts[:, g], mu[:, g], np.exp(log_alpha[g]))
        + 0.5 * np.linalg.slogdet((X.T * (mu[:, g] / (1 + mu[:, g] * np.exp(log_alpha[g])))) @ X)[1]
        + (0 if prior_var is None else (log_alpha[g] - centre[g]) ** 2 / (2 * prior_var))
        for g in range(6)
    ]
    np.testing.assert_allclose(value, loss, rtol=1e-12)


@pytest.mark.parametrize("maxiter", [250, 2])
def test_irls_equals_pydeseq2s_solver_gene_by_gene(experiment, maxiter):
    """``maxiter=2`` stops every gene's IRLS early: each goes to PyDESeq2's fallback."""
    _, _, _, fits = experiment
    dds = fits["batched"]
    X = dds.obsm["design_matrix"].to_numpy()
    y = dds.X.astype(float)
    sf = dds.obs["size_factors"].to_numpy()
    disp = dds.var["dispersions"].to_numpy()
    genes = np.arange(0, y.shape[1], 7)
    beta, mu, hat, converged = BatchedInference(block_size=64).irls(
        y[:, genes], sf, X, disp[genes], min_mu=0.5, beta_tol=1e-8, maxiter=maxiter
    )
    for i, g in enumerate(genes):
        b, m, h, c = utils.irls_solver(
            y[:, g], sf, X, disp[g], min_mu=0.5, beta_tol=1e-8, maxiter=maxiter
        )
        np.testing.assert_allclose(beta[i], b, rtol=1e-9, atol=1e-9, err_msg=f"gene {g}")
        np.testing.assert_allclose(mu[:, i], m, rtol=1e-9, err_msg=f"gene {g}")
        np.testing.assert_allclose(hat[:, i], h, rtol=1e-8, atol=1e-12, err_msg=f"gene {g}")
        assert converged[i] == c


@pytest.mark.parametrize("alt", [None, "greaterAbs", "lessAbs", "greater", "less"])
def test_wald_test_equals_pydeseq2s_gene_by_gene(experiment, alt):
    _, _, vectors, fits = experiment
    dds = fits["batched"]
    X = dds.obsm["design_matrix"].to_numpy()
    lfc = dds.varm["LFC"].to_numpy()
    mu = np.exp(X @ lfc.T) * dds.obs["size_factors"].to_numpy()[:, None]
    disp = dds.var["dispersions"].to_numpy()
    ridge = np.diag(np.repeat(1e-6, X.shape[1]))
    contrast = vectors["cm_x_chemo"].to_numpy(dtype=float)
    null = 0.0 if alt is None else np.log(2) * 0.5
    p, stat, se = BatchedInference().wald_test(X, disp, lfc, mu, ridge, contrast, null, alt)
    for g in range(0, len(disp), 23):
        pg, sg, eg = utils.wald_test(X, disp[g], lfc[g], mu[:, g], ridge, contrast, null, alt)
        np.testing.assert_allclose([p[g], stat[g], se[g]], [pg, sg, eg], rtol=1e-9, atol=1e-300)


def test_whole_fit_agrees_with_pydeseq2s_default_inference(experiment):
    """Dispersions to the per-gene optimiser's tolerance; tests and calls the same."""
    _, _, vectors, fits = experiment
    batched, default = fits["batched"], fits["pydeseq2"]
    for column in ("genewise_dispersions", "fitted_dispersions", "dispersions"):
        ours, theirs = batched.var[column].to_numpy(), default.var[column].to_numpy()
        relative = np.abs(ours - theirs) / theirs
        assert np.median(relative) < 1e-4, (column, np.median(relative))
        # genes whose likelihood is flat (near-Poisson) may stop elsewhere: a handful
        assert (relative > 1e-2).mean() < 0.01, (column, np.sort(relative)[-10:])
    for name, vector in vectors.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = contrast_results(batched, vector).set_index("gene_id")
            theirs = contrast_results(default, vector).set_index("gene_id")
        close = np.isclose(ours["stat"], theirs["stat"], rtol=1e-3, atol=1e-3)
        assert close.mean() > 0.99, (name, (~close).sum())
        assert np.corrcoef(ours["stat"], theirs["stat"])[0, 1] > 0.9999
        called = ours["padj"] < 0.05
        assert called.sum() > 20, f"{name}: the planted effect should be found"
        assert (called != (theirs["padj"] < 0.05)).sum() <= 1, name


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"lfc_threshold": 0.5},
        {"independent_filter": False},
        {"cooks_filter": False},
    ],
)
def test_contrast_table_equals_pydeseq2_deseqstats(experiment, options):
    """The light Wald path (no PyDESeq2 in the contrast job) gives DeseqStats's numbers."""
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    from msc_secretome.wald import independent_filter_padj

    _, _, vectors, fits = experiment
    dds = fits["batched"]
    assert dds.cooks_outlier().sum() >= 5, "the planted outliers should be flagged"
    vector = vectors["cm_none"]
    threshold = options.get("lfc_threshold", 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = DeseqStats(
            dds,
            contrast=vector.to_numpy(dtype=float),
            alpha=0.05,
            cooks_filter=options.get("cooks_filter", True),
            independent_filter=False,
            lfc_null=threshold,
            alt_hypothesis="greaterAbs" if threshold > 0 else None,
            inference=DefaultInference(n_cpus=1),
            quiet=True,
        )
        stats.summary()
    theirs = stats.results_df
    if options.get("independent_filter", True):
        theirs["padj"], _ = independent_filter_padj(
            theirs["baseMean"].to_numpy(), theirs["pvalue"].to_numpy(), 0.05
        )
    ours = contrast_results(dds, vector, alpha=0.05, **options).set_index("gene_id")
    assert list(ours.index) == list(theirs.index)
    for column in ["baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]:
        np.testing.assert_allclose(
            ours[column], theirs[column], rtol=1e-9, atol=1e-300, err_msg=column
        )


def test_normal_tail_and_bh_equal_scipy_stats():
    from scipy.stats import false_discovery_control, norm

    from msc_secretome.wald import benjamini_hochberg, normal_sf

    rng = np.random.default_rng(2)
    x = np.concatenate([rng.normal(0, 4, 1000), [0.0, 40.0, -40.0]])
    np.testing.assert_array_equal(normal_sf(x), norm.sf(x))
    p = np.concatenate([rng.uniform(size=500), rng.uniform(0, 1e-6, 50), [0.5, 0.5, 1.0]])
    np.testing.assert_array_equal(benjamini_hochberg(p), false_discovery_control(p, method="bh"))


@pytest.fixture(scope="module")
def floor_experiment():
    """6 samples (2 groups x 3), 600 genes, half of them Poisson-like (dispersion 1e-6), so
    hundreds of gene-wise dispersions sit at the 1e-8 floor, as with few samples per group."""
    rng = np.random.default_rng(1)
    samples = pd.DataFrame({"sample": [f"s{i}" for i in range(6)], "group": ["a"] * 3 + ["b"] * 3})
    model = Model("m", "~ group", {}, {"group": "a"})
    metadata = model_samples(samples, model).loc[:, model.variables]
    mu = rng.gamma(1.5, 200, size=600)[None, :] * rng.lognormal(0, 0.1, size=(6, 1))
    dispersion = np.where(rng.random(600) < 0.5, 1e-6, 0.05)
    counts = rng.negative_binomial(1 / dispersion, 1 / (1 + mu * dispersion))
    frame = pd.DataFrame(counts, index=metadata.index, columns=[f"g{i}" for i in range(600)])
    frame = frame.loc[:, (frame >= 10).sum() >= 3]
    dds = fit_model(frame, metadata, model.design)
    return dds


def test_gene_wise_dispersions_at_the_floor_end_where_pydeseq2s_do(floor_experiment):
    """Same inputs as the fit's gene-wise step; PyDESeq2's per-gene L-BFGS-B as reference.

    Where the likelihood is flat near the floor, L-BFGS-B stops after its first (gradient)
    step; the batched engine stops by the same rule instead of walking on to an interior
    optimum (before the fix: 2.2e-4 for a gene PyDESeq2 and R leave at 1e-8, which moved the
    prior variance by 1.7% and final dispersions by up to 1.3%).
    """
    dds = floor_experiment
    design = dds.obsm["design_matrix"].to_numpy(float)
    counts = np.asarray(dds.X, dtype=float)
    mu = dds.layers["_mu_hat"]
    start = dds.var["_MoM_dispersions"].to_numpy()
    options = {"min_disp": 1e-8, "max_disp": 10.0, "cr_reg": True, "prior_reg": False}
    ours, ours_converged = BatchedInference().alpha_mle(
        counts=counts, design_matrix=design, mu=mu, alpha_hat=start, **options
    )
    theirs = np.empty_like(ours)
    for gene in range(counts.shape[1]):
        theirs[gene], _ = utils.fit_alpha_mle(
            counts=counts[:, gene], design_matrix=design, mu=mu[:, gene], alpha_hat=start[gene],
            **options,
        )  # fmt: skip
    floor = theirs <= 1.0001e-8
    assert floor.sum() >= 100, "the fixture should put many genes at the floor"
    np.testing.assert_array_less(ours[floor], 1.0001e-8)
    off_floor = ~floor & (theirs > 1e-6)
    relative = np.abs(ours[off_floor] - theirs[off_floor]) / theirs[off_floor]
    assert np.median(relative) < 1e-4 and relative.max() < 1e-2
    # converged flags are honest: at a bound with the gradient pointing out, a projected
    # gradient within L-BFGS-B's tolerance, or L-BFGS-B's first-step stop (moved by -g)
    outer = outer_rows(design)
    log_ours = np.log(ours)
    _, gradient, _ = dispersion_objective(
        counts, design, outer, mu, log_ours, np.log(np.maximum(start, 1e-8)), None, True
    )
    lower, upper = np.log(1e-8), np.log(10.0)
    at_bound = ((log_ours <= lower + 1e-12) & (gradient >= 0)) | (log_ours >= upper - 1e-12)
    stationary = np.abs(np.clip(log_ours - gradient, lower, upper) - log_ours) <= 1e-5
    _, start_gradient, _ = dispersion_objective(
        counts, design, outer, mu, np.log(np.maximum(start, 1e-8)),
        np.log(np.maximum(start, 1e-8)), None, True,
    )  # fmt: skip
    first_step = np.isclose(log_ours, np.log(np.maximum(start, 1e-8)) - start_gradient)
    assert ours_converged.all()
    assert (at_bound | stationary | first_step).all()


def test_whole_fit_at_the_floor_equals_pydeseq2s_default_inference(floor_experiment):
    """Trend, prior variance and final dispersions: the batched engine's equal PyDESeq2's own
    per-gene engine's on the floor design (before the fix: 0.383 vs 0.377 prior variance)."""
    batched = floor_experiment
    default = fit_model(
        pd.DataFrame(batched.X, index=batched.obs_names, columns=batched.var_names),
        batched.obs.loc[:, ["group"]],
        "~ group",
        engine="pydeseq2",
        n_cpus=1,
    )
    np.testing.assert_allclose(
        batched.uns["prior_disp_var"], default.uns["prior_disp_var"], rtol=1e-4
    )
    for column in ("fitted_dispersions", "dispersions"):
        ours, theirs = batched.var[column].to_numpy(), default.var[column].to_numpy()
        assert (np.abs(ours - theirs) / theirs).max() < 1e-3, column
