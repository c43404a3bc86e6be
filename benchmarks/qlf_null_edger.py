"""Small p-values of the QL F-test on null data: the workflow's ``qlf`` against edgeR in R.

On null experiments of the project's simulator (the example's design, models and contrasts,
``plan=()``: no effect at all; the same seeds as ``de_calibration.py``'s null part) every model
is fitted as the workflow fits it and each contrast is tested three ways:

- ``qlf``: the workflow's QL F-test (:func:`qlf.qlf_test`, no Cook's filtering);
- ``edger_on_ours``: edgeR ``glmQLFit`` + ``glmQLFTest`` given the workflow's NB dispersions
  (DESeq2's trend), offsets (log size factors) and abundance (what the peer test compares);
- ``edger``: edgeR's own pipeline (``calcNormFactors``, ``estimateDisp``, ``glmQLFit``
  defaults), on the same counts (the genes the model kept).

It prints, per method, the number of p-values and the frequency of p below 1e-2, 1e-3 and 1e-4
over the nominal, plus the prior df. Needs Rscript with edgeR (Debian r-bioc-edger). Run:

    nice python benchmarks/qlf_null_edger.py --genes 3000 --null-seeds 4 \\
        --out benchmarks/results/qlf_null_edger.tsv

Measured (observed / nominal frequency; counts in brackets):

=================  ========  =====================  =====================
null data          method    p < 1e-3               p < 1e-4
=================  ========  =====================  =====================
3000 genes x 4     qlf       0.885 (114 of 128.8)   0.466 (6 of 12.9)
seeds, 128,814 p   edgeR     0.900 (116)            0.466 (6)
3000 genes x 16    qlf       1.050 (541 of 515.2)   0.854 (44 of 51.5)
seeds, 515,179 p   edgeR     1.033 (532)            0.835 (43)
=================  ========  =====================  =====================

edgeR given the workflow's dispersions gives the workflow's counts to +-3 (Spearman 1 in the
peer test). edgeR's own pipeline (its dispersions, TMM, AveLogCPM trend) has the same small
p-values: the 0.47x of the first four seeds is not a difference from edgeR but mostly counting
noise (6 where 12.9 were expected; Poisson P(<= 6) = 0.03); on four times the data both are
0.83-0.85x nominal (a slightly conservative tail is the QL F-test's, in edgeR too), within
1.3x.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from msc_secretome.catalogue import read_catalogue  # noqa: E402
from msc_secretome.design import check_design, contrast_vector, model_samples  # noqa: E402
from msc_secretome.differential_expression import (  # noqa: E402
    fit_model,
    model_arrays,
    prefilter_mask,
)
from msc_secretome.qlf import qlf_test  # noqa: E402
from msc_secretome.settings import parse_contrasts, parse_models, read_yaml  # noqa: E402
from msc_secretome.simulate import DEFAULT_SEED, simulate_bulk_experiment  # noqa: E402
from msc_secretome.tables import write_tsv  # noqa: E402

PEER_SCRIPT = ROOT / "tests" / "r" / "edger_qlf_peer.R"
LEVELS = (1e-2, 1e-3, 1e-4)


def run_edger(rscript: str, workdir: Path, fitted: dict, vectors: dict) -> pd.DataFrame:
    """One model's arrays as TSV for ``tests/r/edger_qlf_peer.R``; its table back."""
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
    subprocess.run(
        [rscript, str(PEER_SCRIPT)]
        + [f"{key}={path}" for key, path in paths.items()]
        + [f"contrasts={vectors_path}", f"out={out}"],
        check=True,
        capture_output=True,
    )
    return pd.read_csv(out, sep="\t")


def null_pvalues(rscript, seeds, n_genes, models, contrasts, de) -> pd.DataFrame:
    """One row per seed x contrast x gene: the three methods' p-values and prior df."""
    catalogue = read_catalogue()
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            experiment = simulate_bulk_experiment(catalogue, n_genes=n_genes, seed=seed, plan=())
            for model in models.values():
                metadata = model_samples(experiment.samples, model).loc[:, model.variables]
                helper = check_design(metadata, model)
                counts = experiment.counts.T.loc[metadata.index]
                counts = counts.loc[:, prefilter_mask(counts, **de["prefilter"])]
                fitted = model_arrays(
                    fit_model(
                        counts,
                        metadata,
                        model.design,
                        size_factors=de["size_factors"],
                        refit_cooks=de["refit_cooks"],
                        engine=de["engine"],
                        fit_type=de.get("fit_type", "parametric"),
                    )
                )
                vectors = {
                    c.name: contrast_vector(helper, c, model, metadata)
                    for c in contrasts.values()
                    if c.model == model.name
                }
                workdir = Path(tmp) / f"{seed}_{model.name}"
                workdir.mkdir()
                edger = run_edger(rscript, workdir, fitted, vectors)
                for name, vector in vectors.items():
                    pvalue, _, _, df_prior = qlf_test(fitted, vector.to_numpy())
                    theirs = edger[edger["contrast"] == name]
                    parts.append(
                        pd.DataFrame(
                            {
                                "seed": seed,
                                "contrast": name,
                                "qlf": pvalue,
                                "edger_on_ours": theirs["PValue"].to_numpy(),
                                "edger": theirs["PValue_edger"].to_numpy(),
                                "df_prior_qlf": df_prior,
                                "df_prior_edger_on_ours": theirs["df_prior"].to_numpy(),
                                "df_prior_edger": theirs["df_prior_edger"].to_numpy(),
                            }
                        )
                    )
    return pd.concat(parts, ignore_index=True)


def summarise(pvalues: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for method in ("qlf", "edger_on_ours", "edger"):
        p = pvalues[method].to_numpy(dtype=float)
        p = p[np.isfinite(p)]
        row = {"method": method, "n_pvalues": p.size}
        for level in LEVELS:
            row[f"count_p_below_{level:g}"] = int(np.sum(p < level))
            row[f"ratio_p_below_{level:g}"] = float(np.mean(p < level) / level)
        row["median_df_prior"] = float(np.median(pvalues[f"df_prior_{method}"]))
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--genes", type=int, default=3000)
    parser.add_argument("--null-seeds", type=int, default=4)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    rscript = shutil.which("Rscript")
    if rscript is None:
        parser.error("Rscript not found (install r-base-core and r-bioc-edger)")
    de = read_yaml(ROOT / "config" / "config.yaml")["de"]
    contrasts_file = read_yaml(ROOT / "config" / "contrasts.yaml")
    models = parse_models(contrasts_file)
    contrasts = parse_contrasts(contrasts_file, models)
    start = time.perf_counter()
    seeds = [DEFAULT_SEED + 1000 + i for i in range(args.null_seeds)]
    table = summarise(null_pvalues(rscript, seeds, args.genes, models, contrasts, de))
    table.insert(0, "genes", args.genes)
    table.insert(1, "null_seeds", args.null_seeds)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(table.round(4).to_string(index=False))
        print(f"({time.perf_counter() - start:.0f} s)")
    if args.out:
        write_tsv(table, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
