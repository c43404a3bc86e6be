"""Live peer check against DESeq2 in R of the QC's blind VST on ``qc.vst_genes`` trend genes.

A simulated experiment (12 samples x 3,000 genes, DESeq2-like trend ``0.04 + 1 / mean``,
prefiltered as the workflow does) is transformed by :func:`qc.variance_stabilised` with
``trend_genes=1000`` and by ``tests/r/vst_peer.R``: ``DESeq2::vst(dds, blind = TRUE,
nsub = 1000)`` itself, and vst()'s steps on the workflow's trend genes (fit on
``dds[subset, ]``, ``dispersionFunction<-``, ``varianceStabilizingTransformation(blind =
FALSE)``). Asserted: R picks the same trend genes; R's vst() is its steps on them exactly; the
size factors agree; the trend is parametric in both with coefficients within 2 %; the VST
matrices differ by < 0.02 at most (measured: max abs difference 0.0038, on a VST scale of
~3-15; the residual is PyDESeq2's gene-wise dispersions, the trend's input, which differ from
R's by a few per cent on some genes).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_qc_vst import simulate

from msc_secretome import qc

pytestmark = [pytest.mark.rpeer, pytest.mark.slow]  # ~10 s (R starts, DESeq2 loads)

PEER_SCRIPT = Path(__file__).resolve().parent / "r" / "vst_peer.R"
NSUB = 1000


@pytest.fixture(scope="module")
def peer(tmp_path_factory):
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("Rscript not found (install r-base-core and r-bioc-deseq2)")
    workdir = tmp_path_factory.mktemp("vst_peer")
    counts, metadata = simulate(n_samples=12, n_genes=3000, seed=1)
    vst, factors, trend = qc.variance_stabilised(counts, metadata, trend_genes=NSUB)
    means = counts.div(factors, axis=0).mean(axis=0).to_numpy()
    subset = qc.vst_trend_genes(means, NSUB)
    counts.T.to_csv(workdir / "counts.tsv", sep="\t", index_label="gene_id")
    pd.DataFrame({"position": subset}).to_csv(workdir / "subset.tsv", sep="\t", index=False)
    run = subprocess.run(
        [rscript, str(PEER_SCRIPT), f"counts={workdir / 'counts.tsv'}"]
        + [f"subset={workdir / 'subset.tsv'}", f"nsub={NSUB}", f"out={workdir}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]

    def matrix(name):  # genes x samples -> samples x genes, in the workflow's order
        table = pd.read_csv(workdir / name, sep="\t", index_col="gene_id").T
        return table.loc[vst.index, vst.columns]

    return {
        "vst": vst,
        "factors": factors,
        "trend": trend,
        "subset": subset,
        "r_subset": pd.read_csv(workdir / "subset_r.tsv", sep="\t")["position"].to_numpy(),
        "r_vst": matrix("vst_r.tsv"),
        "r_steps": matrix("vst_steps.tsv"),
        "r_trend": pd.read_csv(workdir / "trend.tsv", sep="\t").iloc[0],
        "r_factors": pd.read_csv(workdir / "size_factors.tsv", sep="\t", index_col="sample"),
    }


def test_r_picks_the_same_trend_genes_and_vst_is_its_steps_on_them(peer):
    np.testing.assert_array_equal(peer["subset"], peer["r_subset"])
    np.testing.assert_array_equal(peer["r_vst"].to_numpy(), peer["r_steps"].to_numpy())
    r_factors = peer["r_factors"]["size_factor"].loc[peer["factors"].index]
    np.testing.assert_allclose(peer["factors"].to_numpy(), r_factors.to_numpy(), rtol=1e-10)


def test_vst_matches_r_vst(peer):
    r_trend, trend = peer["r_trend"], peer["trend"]
    assert r_trend["fit_type"] == trend.fit_type == "parametric"
    r_coefficients = r_trend[["asymptDisp", "extraPois"]].to_numpy(dtype=float)
    np.testing.assert_allclose(trend.coefficients, r_coefficients, rtol=0.02)
    gap = np.abs(peer["vst"].to_numpy() - peer["r_vst"].to_numpy())
    print(f"\nVST vs DESeq2 vst(nsub = {NSUB}): max abs difference {gap.max():.2e}")
    assert gap.max() < 0.02
