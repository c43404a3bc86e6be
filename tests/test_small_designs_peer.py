"""Live peer check against DESeq2 in R on small designs: 1, 2 and 3 residual df, and a design
where hundreds of gene-wise dispersions sit at the 1e-8 floor.

Each design is simulated (NB counts, DESeq2-like mean-dispersion trend with a log-normal spread;
the floor design has half its genes Poisson-like), fitted by the workflow with both engines and
by ``tests/r/deseq2_peer.R`` (``DESeq()`` + ``results(contrast=)``). Per design it asserts,
for the default (batched) engine, Jaccard of padj < 0.05 calls >= 0.95 and Pearson of the Wald
statistic >= 0.995, and that the batched engine is never less in agreement with R than
``engine: pydeseq2`` (to 0.005 in Jaccard). It prints the table, with the prior variances.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from msc_secretome.design import Contrast, Model, check_design, contrast_vector, model_samples
from msc_secretome.differential_expression import contrast_results, fit_model, prefilter_mask

pytestmark = [pytest.mark.rpeer, pytest.mark.slow]

PEER_SCRIPT = Path(__file__).resolve().parent / "r" / "deseq2_peer.R"
CONDITION = (("condition", "b", "a"),)
DESIGNS = {
    # name: (design, sheet columns, min_samples of the prefilter, Poisson-like share)
    "1_df_donor_pairs": ("~ donor + condition", {"donor": ["d1", "d1", "d2", "d2"]}, 2, 0.0),
    "2_df": ("~ condition", {}, 2, 0.0),
    "3_df": ("~ condition", {}, 2, 0.0),
    "floor_3_vs_3": ("~ condition", {}, 3, 0.5),
}
CONDITIONS = {
    "1_df_donor_pairs": ["a", "b", "a", "b"],
    "2_df": ["a", "a", "b", "b"],
    "3_df": ["a", "a", "a", "b", "b"],
    "floor_3_vs_3": ["a", "a", "a", "b", "b", "b"],
}


def simulate(name: str, n_genes: int = 2000, seed: int = 3):
    design, columns, _, poisson_share = DESIGNS[name]
    rng = np.random.default_rng(seed)
    levels = CONDITIONS[name]
    samples = pd.DataFrame({"sample": [f"s{i}" for i in range(len(levels))], "condition": levels})
    for column, values in columns.items():
        samples[column] = values
    base = rng.gamma(1.2, 250, size=n_genes)
    fold = np.ones(n_genes)
    fold[:200] = np.exp2(rng.choice([-2.0, 2.0], size=200))
    treated = (samples["condition"] == "b").to_numpy()[:, None]
    mu = base[None, :] * np.where(treated, fold[None, :], 1.0)
    mu = mu * rng.lognormal(0, 0.2, size=(len(levels), 1))
    dispersion = (0.04 + 1 / base) * rng.lognormal(0, 0.6, n_genes)
    dispersion[rng.random(n_genes) < poisson_share] = 1e-6
    counts = rng.negative_binomial(1 / dispersion, 1 / (1 + mu * dispersion))
    frame = pd.DataFrame(
        counts, index=samples["sample"], columns=[f"g{i:04d}" for i in range(n_genes)]
    )
    return samples, frame


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


@pytest.fixture(scope="module")
def agreement(tmp_path_factory):
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("Rscript not found (install r-base-core and r-bioc-deseq2)")
    rows = []
    for name, (design, _, min_samples, _) in DESIGNS.items():
        workdir = tmp_path_factory.mktemp(name)
        samples, counts = simulate(name)
        model = Model(name, design, {}, {"condition": "a"})
        metadata = model_samples(samples, model).loc[:, model.variables]
        vector = contrast_vector(
            check_design(metadata, model),
            Contrast("b_vs_a", name, "compare", CONDITION),
            model,
            metadata,
        )
        kept = counts.loc[:, prefilter_mask(counts, 10, min_samples)]
        paths = {
            "counts": workdir / "counts.tsv",
            "samples": workdir / "samples.tsv",
            "contrasts": workdir / "vectors.tsv",
        }
        counts.T.to_csv(paths["counts"], sep="\t", index_label="gene_id")
        samples.to_csv(paths["samples"], sep="\t", index=False)
        pd.DataFrame({"b_vs_a": vector}).rename_axis("coefficient").to_csv(
            paths["contrasts"], sep="\t"
        )
        reference = ",".join(f"{v}={metadata[v].cat.categories[0]}" for v in model.variables)
        run = subprocess.run(
            [rscript, str(PEER_SCRIPT)]
            + [f"{key}={path}" for key, path in paths.items()]
            + [f"design={design}", f"reference={reference}", f"out={workdir / 'r.tsv'}"]
            + [f"min_samples={min_samples}"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        r = pd.read_csv(workdir / "r.tsv", sep="\t", keep_default_na=False, na_values=["NA"])
        r = r.set_index("gene_id")
        called_r = set(r.index[r["padj"] < 0.05])
        row = {"design": name, "residual_df": len(samples) - vector.size, "called_r": len(called_r)}
        for engine in ("batched", "pydeseq2"):
            dds = fit_model(kept, metadata, design, engine=engine, n_cpus=1)
            ours = contrast_results(dds, vector).set_index("gene_id")
            theirs = r.loc[ours.index]
            finite = np.isfinite(ours["stat"]) & np.isfinite(theirs["stat"])
            row[f"pearson_{engine}"] = float(
                np.corrcoef(ours.loc[finite, "stat"], theirs.loc[finite, "stat"])[0, 1]
            )
            row[f"jaccard_{engine}"] = _jaccard(set(ours.index[ours["padj"] < 0.05]), called_r)
            row[f"prior_var_{engine}"] = float(dds.uns["prior_disp_var"])
            row[f"at_floor_{engine}"] = int((dds.var["genewise_dispersions"] <= 1.0001e-8).sum())
        rows.append(row)
    table = pd.DataFrame(rows).set_index("design")
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print("\n", table.round(4))
    return table


def test_default_engine_agrees_with_deseq2_on_small_designs(agreement):
    assert (agreement["jaccard_batched"] >= 0.95).all(), agreement["jaccard_batched"]
    assert (agreement["pearson_batched"] >= 0.995).all(), agreement["pearson_batched"]


def test_batched_engine_is_never_worse_than_pydeseq2s(agreement):
    gap = agreement["jaccard_pydeseq2"] - agreement["jaccard_batched"]
    assert (gap <= 0.005).all(), agreement[["jaccard_batched", "jaccard_pydeseq2"]]
