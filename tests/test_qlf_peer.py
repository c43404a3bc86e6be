"""Live peer check: the workflow's QL F-test (``de.test: qlf``) against edgeR in R.

The bundled example (``simulate_bulk_experiment``, 36 samples) is fitted with both models of
``config/contrasts.yaml`` and every contrast is tested with :func:`qlf.qlf_test`. edgeR gets
the same counts, design matrix, offsets (log size factors), NB dispersions (DESeq2's trend)
and abundance covariate, and runs ``glmQLFit`` + ``glmQLFTest(contrast=)``
(``tests/r/edger_qlf_peer.R``): so the test compares the QL machinery itself (deviances,
``.residDF``, ``squeezeVar``/``fitFDist`` with the spline trend, F on the posterior df, the
Poisson bound). Per contrast it asserts Spearman of p-values >= 0.99 and Jaccard of BH calls
(padj < 0.05 over all tested genes) >= 0.95, and that the prior df agree to 1e-4 relative.
It also prints the agreement with edgeR's own pipeline (TMM, ``estimateDisp``) for context.
Needs ``Rscript`` with edgeR (Debian ``r-bioc-edger``); skips otherwise.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import false_discovery_control, spearmanr

from msc_secretome.catalogue import read_catalogue
from msc_secretome.design import check_design, contrast_vector, model_samples
from msc_secretome.differential_expression import fit_model, model_arrays, prefilter_mask
from msc_secretome.qlf import qlf_test
from msc_secretome.settings import parse_contrasts, parse_models, read_yaml
from msc_secretome.simulate import simulate_bulk_experiment

pytestmark = [pytest.mark.rpeer, pytest.mark.slow]

PEER_SCRIPT = Path(__file__).resolve().parent / "r" / "edger_qlf_peer.R"
MIN_SPEARMAN = 0.99
MIN_JACCARD = 0.95
ALPHA = 0.05


def _require_edger() -> str:
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("Rscript not found (install r-base-core and r-bioc-edger)")
    probe = subprocess.run(
        [rscript, "-e", "suppressPackageStartupMessages(library(edgeR))"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"library(edgeR) failed in R: {probe.stderr.strip()[-300:]}")
    return rscript


def _calls(pvalue: np.ndarray, index: pd.Index) -> set:
    tested = np.isfinite(pvalue)
    padj = np.full(pvalue.size, np.nan)
    padj[tested] = false_discovery_control(pvalue[tested], method="bh")
    return set(index[padj < ALPHA])


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def run_edger_peer(rscript, workdir: Path, fitted: dict, vectors: dict) -> pd.DataFrame:
    """Write one model's arrays as TSV, run the R peer, return its table."""
    genes = fitted["gene_id"].astype(str)
    samples = fitted["obs_names"].astype(str)
    paths = {key: workdir / f"{key}.tsv" for key in ("counts", "design", "genes", "offsets")}
    pd.DataFrame(fitted["counts"].T, index=genes, columns=samples).to_csv(
        paths["counts"], sep="\t", index_label="gene_id"
    )
    pd.DataFrame(fitted["design_matrix"], index=samples, columns=fitted["columns"]).to_csv(
        paths["design"], sep="\t", index_label="sample"
    )
    pd.DataFrame(
        {
            "gene_id": genes,
            "dispersion": fitted["fitted_dispersions"],
            "abundance": np.log2(fitted["base_mean"]),
        }
    ).to_csv(paths["genes"], sep="\t", index=False)
    pd.DataFrame({"sample": samples, "offset": np.log(fitted["size_factors"])}).to_csv(
        paths["offsets"], sep="\t", index=False
    )
    vectors_path = workdir / "contrasts.tsv"
    pd.DataFrame(vectors).rename_axis("coefficient").to_csv(vectors_path, sep="\t")
    out = workdir / "edger.tsv"
    run = subprocess.run(
        [rscript, str(PEER_SCRIPT)]
        + [f"{key}={path}" for key, path in paths.items()]
        + [f"contrasts={vectors_path}", f"out={out}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return pd.read_csv(out, sep="\t")


@pytest.fixture(scope="module")
def peer_results(project_root, tmp_path_factory):
    rscript = _require_edger()
    config = read_yaml(project_root / "config" / "config.yaml")
    de = config["de"]
    contrasts_file = read_yaml(project_root / "config" / "contrasts.yaml")
    models = parse_models(contrasts_file)
    contrasts = parse_contrasts(contrasts_file, models)
    experiment = simulate_bulk_experiment(read_catalogue(), n_genes=config["example"]["n_genes"])
    rows = []
    for model in models.values():
        workdir = tmp_path_factory.mktemp(f"edger_{model.name}")
        metadata = model_samples(experiment.samples, model).loc[:, model.variables]
        helper = check_design(metadata, model)
        vectors = {
            c.name: contrast_vector(helper, c, model, metadata)
            for c in contrasts.values()
            if c.model == model.name
        }
        counts = experiment.counts.T.loc[metadata.index]
        counts = counts.loc[:, prefilter_mask(counts, **de["prefilter"])]
        fitted = model_arrays(fit_model(counts, metadata, model.design))
        r = run_edger_peer(rscript, workdir, fitted, vectors)
        index = pd.Index(fitted["gene_id"].astype(str))
        for name, vector in vectors.items():
            pvalue, _, _, df_prior = qlf_test(fitted, vector.to_numpy())
            theirs = r[r["contrast"] == name].set_index("gene_id").loc[index]
            ours_calls = _calls(pvalue, index)
            rows.append(
                {
                    "contrast": name,
                    "spearman_p": spearmanr(pvalue, theirs["PValue"]).statistic,
                    "jaccard_calls": _jaccard(
                        ours_calls, _calls(theirs["PValue"].to_numpy(), index)
                    ),
                    "called": len(ours_calls),
                    "df_prior": df_prior,
                    "df_prior_r": float(theirs["df_prior"].iloc[0]),
                    "max_log10_p_gap": float(
                        np.max(np.abs(np.log10(pvalue) - np.log10(theirs["PValue"])))
                    ),
                    "jaccard_edger_own": _jaccard(
                        ours_calls, _calls(theirs["PValue_edger"].to_numpy(), index)
                    ),
                }
            )
    table = pd.DataFrame(rows).set_index("contrast")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print("\n", table.round(5))
    return table


def test_qlf_p_values_agree_with_edger(peer_results):
    assert (peer_results["spearman_p"] >= MIN_SPEARMAN).all(), peer_results["spearman_p"]


def test_qlf_calls_agree_with_edger(peer_results):
    assert (peer_results["jaccard_calls"] >= MIN_JACCARD).all(), peer_results["jaccard_calls"]
    assert peer_results["called"].sum() > 100  # the example has effects to find


def test_qlf_prior_df_equals_edgers(peer_results):
    gap = (peer_results["df_prior"] - peer_results["df_prior_r"]).abs() / peer_results["df_prior_r"]
    assert (gap <= 1e-4).all(), peer_results[["df_prior", "df_prior_r"]]
