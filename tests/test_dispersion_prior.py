"""DESeq2's simulation estimate of the dispersion prior variance at 1-3 residual df.

Against DESeq2 in R (``rpeer``, slow): on simulated 4- and 5-sample designs (2 and 3 residual
df) with a real dispersion spread, the workflow's prior variance is R's to the Monte-Carlo
noise of another random stream (measured: 0.5045 vs R 0.5045 at 2 df, 0.6647 vs 0.6486 at
3 df), where PyDESeq2's MAD formula gives 0.25 and 0.431.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy.special import polygamma

from msc_secretome.design import Model, model_samples
from msc_secretome.differential_expression import fit_model, prefilter_mask
from msc_secretome.dispersion_prior import local_quadratic, small_df_prior_variance


def test_local_quadratic_reproduces_a_quadratic():
    x = np.linspace(0, 8, 200)
    at = np.linspace(0, 8, 1000)
    np.testing.assert_allclose(
        local_quadratic(x, 2 - x + 0.5 * x**2, at, 0.2), 2 - at + 0.5 * at**2
    )


def test_small_df_prior_variance_recovers_the_simulated_variance_and_is_seeded():
    rng = np.random.default_rng(0)
    residuals = np.log(rng.chisquare(2, 5000)) + rng.normal(0, 1.0, 5000) - np.log(2)
    estimate = small_df_prior_variance(residuals, 2, seed=2)
    assert 0.8 <= estimate <= 1.25
    assert small_df_prior_variance(residuals, 2, seed=2) == estimate
    with pytest.raises(ValueError, match="1-3 residual df"):
        small_df_prior_variance(residuals, 4)


R_PRIOR = (
    'suppressMessages(library(DESeq2)); c <- as.matrix(read.delim("{counts}", row.names=1, '
    'check.names=FALSE)); s <- read.delim("{samples}", stringsAsFactors=TRUE); '
    "rownames(s) <- s$sample; dds <- DESeqDataSetFromMatrix(c, s, ~ condition); "
    "dds <- estimateSizeFactors(dds); dds <- estimateDispersions(dds, quiet=TRUE); "
    'cat(attr(dispersionFunction(dds), "dispPriorVar"))'
)


@pytest.mark.rpeer
@pytest.mark.slow
@pytest.mark.parametrize("levels", [["a", "a", "b", "b"], ["a", "a", "a", "b", "b"]])
def test_prior_variance_matches_deseq2_at_small_df(levels, tmp_path):
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("Rscript not found")
    rng = np.random.default_rng(len(levels))
    samples = pd.DataFrame({"sample": [f"s{i}" for i in range(len(levels))], "condition": levels})
    model = Model("m", "~ condition", {}, {})
    metadata = model_samples(samples, model).loc[:, model.variables]
    mu = rng.gamma(1.0, 300, size=3000)[None, :] * np.ones((len(levels), 1))
    dispersion = (0.05 + 1 / mu[0]) * rng.lognormal(0, 1.0, 3000)
    counts = rng.negative_binomial(1 / dispersion, 1 / (1 + mu * dispersion))
    frame = pd.DataFrame(counts, index=metadata.index, columns=[f"g{i}" for i in range(3000)])
    frame = frame.loc[:, prefilter_mask(frame, 10, 2)]
    dds = fit_model(frame, metadata, model.design)
    paths = {"counts": tmp_path / "counts.tsv", "samples": tmp_path / "samples.tsv"}
    frame.T.to_csv(paths["counts"], sep="\t", index_label="gene_id")
    samples.to_csv(paths["samples"], sep="\t", index=False)
    run = subprocess.run(
        [rscript, "-e", R_PRIOR.format(**paths)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr[-1000:]
    r = float(run.stdout)
    ours = float(dds.uns["prior_disp_var"])
    residual_df = len(levels) - 2
    mad = max(dds.uns["_squared_logres"] - polygamma(1, residual_df / 2), 0.25)
    print(f"\n{residual_df} df: ours {ours:.4f}, R {r:.4f}, PyDESeq2's MAD formula {mad:.4f}")
    assert abs(ours - r) <= 0.05
    assert abs(ours - r) < abs(mad - r)
