"""FDR, recall and p-value calibration of the DE tests (``de.test``: wald, lrt, qlf).

Two measurements on the project's simulator (:func:`simulate.simulate_bulk_experiment`), with
the example's design (2 cell types x 2 media x 3 therapies x 3 replicates, 18 samples and 10
residual df per model), models and contrasts (``config/contrasts.yaml``) and the DE settings
of ``config/config.yaml``:

1. **FDP and recall** on ``--seeds`` seeds (the example's seed and the next ones): per test,
   the false-discovery proportion at padj < alpha against the simulator's truth (a call is
   false when the contrast's true log2 fold change is exactly 0), pooled over all contrasts
   and seeds, over the interaction contrasts only, the worst contrast, and recall (true calls
   over truly changed genes among those tested).
2. **Null calibration** on ``--null-seeds`` null experiments (``plan=()``: no effect at all):
   the fraction of p < 1e-3 and p < 1e-4 over all genes and contrasts, divided by the nominal.

Run (the numbers below came from exactly this command; 2 null seeds, not 4, for the time on
the shared machine):

    nice python benchmarks/de_calibration.py --genes 20000 --seeds 6 --null-seeds 2 \\
        --out benchmarks/results/de_calibration.tsv

Writes one TSV (one row per test) plus ``*_per_contrast.tsv`` and prints the table.
Measured at the example's 20,000 genes, 6 seeds (16,415 wald calls) and 2 null seeds
(393,190 null p-values); 656 s on the shared 2-core machine (load average ~10):

====  ==========  ===============  ================  ==============  =============
test  pooled FDP  interaction FDP  recall (vs wald)  null p<1e-3 /n  null p<1e-4 /n
====  ==========  ===============  ================  ==============  =============
wald  0.088       0.188            0.584 (1.00)      1.80            3.46
lrt   0.086       0.178            0.581 (0.99)      1.78            3.33
qlf   0.043       0.057            0.551 (0.94)      0.94            0.99
====  ==========  ===============  ================  ==============  =============

(At 3,000 genes, where the planted effects are a larger share of the genes: wald 0.057 /
0.100, qlf 0.041 / 0.057.) Whether qlf's small p-values are edgeR's: ``qlf_null_edger.py``.

Agreement with R on 1/2/3-residual-df and dispersion-floor designs is measured by the live
peer tests instead (``tests/test_small_designs_peer.py``, DESeq2; ``tests/test_qlf_peer.py``,
edgeR), which print their tables.
"""

from __future__ import annotations

import argparse
import sys
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
from msc_secretome.settings import parse_contrasts, parse_models, read_yaml  # noqa: E402
from msc_secretome.simulate import DEFAULT_SEED, simulate_bulk_experiment  # noqa: E402
from msc_secretome.tables import write_tsv  # noqa: E402
from msc_secretome.wald import TESTS, contrast_table  # noqa: E402


def experiment_tables(experiment, models, contrasts, de) -> dict[tuple[str, str], pd.DataFrame]:
    """(test, contrast) -> result table, every model fitted once with the config's settings."""
    tables = {}
    for model in models.values():
        metadata = model_samples(experiment.samples, model).loc[:, model.variables]
        helper = check_design(metadata, model)
        counts = experiment.counts.T.loc[metadata.index]
        counts = counts.loc[:, prefilter_mask(counts, **de["prefilter"])]
        dds = fit_model(
            counts,
            metadata,
            model.design,
            size_factors=de["size_factors"],
            refit_cooks=de["refit_cooks"],
            engine=de["engine"],
            prior_seed=de.get("dispersion_prior_seed", 2),
            fit_type=de.get("fit_type", "parametric"),
        )
        fitted = model_arrays(dds)
        print(
            f"  {model.name}: {dds.uns['dispersion_trend']} trend "
            f"({dds.uns['dispersion_trend_reason']})",
            file=sys.stderr,
            flush=True,
        )
        for contrast in (c for c in contrasts.values() if c.model == model.name):
            vector = contrast_vector(helper, contrast, model, metadata)
            for test in TESTS:
                tables[test, contrast.name] = contrast_table(
                    fitted,
                    vector,
                    alpha=de["alpha"],
                    independent_filter=de["independent_filter"],
                    cooks_filter=de["cooks_filter"],
                    test=test,
                )
    return tables


def fdp_recall(seeds, n_genes, models, contrasts, de, catalogue) -> pd.DataFrame:
    """One row per seed x test x contrast: calls, false calls, true DE genes tested, found."""
    rows = []
    for seed in seeds:
        experiment = simulate_bulk_experiment(catalogue, n_genes=n_genes, seed=seed)
        print(f"seed {seed} ({time.strftime('%H:%M:%S')})", file=sys.stderr, flush=True)
        truth = experiment.truth_de.groupby("contrast")["gene_id"].apply(set).to_dict()
        for (test, name), table in experiment_tables(experiment, models, contrasts, de).items():
            changed = truth.get(name, set())
            called = set(table.loc[table["padj"] < de["alpha"], "gene_id"])
            tested = set(table.loc[table["padj"].notna(), "gene_id"])
            rows.append(
                {
                    "seed": seed,
                    "test": test,
                    "contrast": name,
                    "calls": len(called),
                    "false": len(called - changed),
                    "changed_tested": len(changed & tested),
                    "found": len(called & changed),
                }
            )
    return pd.DataFrame(rows)


def summarise_fdp(per_contrast: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for test, part in per_contrast.groupby("test", sort=False):
        interaction = part[part["contrast"].str.contains("_x_")]
        by_contrast = part.groupby("contrast")[["false", "calls"]].sum()
        worst = (by_contrast["false"] / by_contrast["calls"].clip(lower=1)).max()
        rows.append(
            {
                "test": test,
                "pooled_fdp": part["false"].sum() / max(part["calls"].sum(), 1),
                "interaction_fdp": interaction["false"].sum() / max(interaction["calls"].sum(), 1),
                "worst_contrast_fdp": worst,
                "recall": part["found"].sum() / max(part["changed_tested"].sum(), 1),
                "calls": int(part["calls"].sum()),
            }
        )
    table = pd.DataFrame(rows)
    wald_recall = table.loc[table["test"] == "wald", "recall"].iloc[0]
    table["recall_vs_wald"] = table["recall"] / wald_recall
    return table


def null_calibration(seeds, n_genes, models, contrasts, de, catalogue) -> pd.DataFrame:
    """Per test: fraction of p below 1e-2, 1e-3, 1e-4 over nominal, on null experiments."""
    pvalues: dict[str, list[np.ndarray]] = {test: [] for test in TESTS}
    for seed in seeds:
        experiment = simulate_bulk_experiment(catalogue, n_genes=n_genes, seed=seed, plan=())
        print(f"null seed {seed} ({time.strftime('%H:%M:%S')})", file=sys.stderr, flush=True)
        for (test, _), table in experiment_tables(experiment, models, contrasts, de).items():
            p = table["pvalue"].to_numpy()
            pvalues[test].append(p[np.isfinite(p)])
        for test, parts in pvalues.items():  # running counts, in case the run is cut short
            p = np.concatenate(parts)
            print(
                f"  {test}: {p.size} p-values, "
                f"{np.sum(p < 1e-3)} < 1e-3, {np.sum(p < 1e-4)} < 1e-4",
                file=sys.stderr,
                flush=True,
            )
    rows = []
    for test, parts in pvalues.items():
        p = np.concatenate(parts)
        row = {"test": test, "n_pvalues": p.size}
        for level in (1e-2, 1e-3, 1e-4):
            row[f"ratio_p_below_{level:g}"] = float(np.mean(p < level) / level)
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--genes", type=int, default=3000)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--null-seeds", type=int, default=4)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    config = read_yaml(ROOT / "config" / "config.yaml")
    de = config["de"]
    contrasts_file = read_yaml(ROOT / "config" / "contrasts.yaml")
    models = parse_models(contrasts_file)
    contrasts = parse_contrasts(contrasts_file, models)
    catalogue = read_catalogue()
    start = time.perf_counter()
    seeds = [DEFAULT_SEED + i for i in range(args.seeds)]
    per_contrast = fdp_recall(seeds, args.genes, models, contrasts, de, catalogue)
    fdp = summarise_fdp(per_contrast)
    print(fdp.round(4).to_string(index=False), file=sys.stderr, flush=True)
    if args.out:  # the FDP part first: the null part may be cut short
        write_tsv(per_contrast, args.out.with_name(args.out.stem + "_per_contrast.tsv"))
    null_seeds = [DEFAULT_SEED + 1000 + i for i in range(args.null_seeds)]
    null = null_calibration(null_seeds, args.genes, models, contrasts, de, catalogue)
    table = fdp.merge(null, on="test")
    table.insert(0, "genes", args.genes)
    table.insert(1, "seeds", args.seeds)
    table.insert(2, "null_seeds", args.null_seeds)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(table.round(4).to_string(index=False))
        print(f"({time.perf_counter() - start:.0f} s)")
    if args.out:
        write_tsv(table, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
