"""The project's DE computation in one process: every model's fit and all its contrast tests.

What the workflow's ``fit_model`` and ``contrast_results`` jobs compute, without job start-up
and file passing in between: read the counts, then per model the prefilter,
:func:`differential_expression.fit_model`, :func:`differential_expression.model_arrays` and
:func:`model_contrasts.contrast_tables` for its contrasts (the test ``de.test`` names; the QL
full-model fit made once per model and shared, as in the workflow's job). Prints one
JSON line: ``read_s``, ``fit_s``, ``test_s``, ``compute_s`` (fit + tests), per model. With
``--stats DIR`` it writes ``DIR/<model>.tsv`` (contrast, gene_id, stat) for the agreement check.

    python benchmarks/speedbench/de_one_process.py --counts counts.tsv.gz --samples samples.tsv \\
        --contrasts contrasts.yaml --config config/config.yaml [--overrides extra.yaml]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=Path, required=True)
    parser.add_argument("--samples", type=Path, required=True)
    parser.add_argument("--contrasts", type=Path, required=True)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--overrides", type=Path, help="config file whose `de` keys win")
    parser.add_argument("--stats", type=Path, help="folder for the stat tables")
    args = parser.parse_args(argv)

    import pandas as pd

    from msc_secretome.design import check_design, model_samples, parse_contrasts, parse_models
    from msc_secretome.differential_expression import fit_model, model_arrays, prefilter_mask
    from msc_secretome.model_contrasts import contrast_requests, contrast_tables
    from msc_secretome.settings import read_yaml

    de = read_yaml(args.config)["de"]
    if args.overrides:
        de |= read_yaml(args.overrides).get("de", {})
    spec = read_yaml(args.contrasts)
    models = parse_models(spec)
    contrasts = parse_contrasts(spec, models)
    start = time.perf_counter()
    samples = pd.read_csv(args.samples, sep="\t", dtype=str)
    counts = pd.read_csv(args.counts, sep="\t", index_col=0).T  # samples x genes
    timing = {"read_s": time.perf_counter() - start, "models": {}}
    for model in models.values():
        metadata = model_samples(samples, model).loc[:, model.variables]
        check_design(metadata, model)
        start = time.perf_counter()
        subset = counts.loc[metadata.index]
        kept = prefilter_mask(subset, **de["prefilter"])
        dds = fit_model(
            subset.loc[:, kept],
            metadata,
            model.design,
            size_factors=de["size_factors"],
            refit_cooks=de["refit_cooks"],
            engine=de["engine"],
            n_cpus=1,
            prior_seed=de["dispersion_prior_seed"],
        )
        fitted = model_arrays(dds)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        own = [contrast for contrast in contrasts.values() if contrast.model == model.name]
        tests = {contrast.name: contrast.test or de["test"] for contrast in own}
        requests = contrast_requests(metadata, model, own, tests)
        tables = [
            table.loc[:, ["gene_id", "stat"]].assign(contrast=name)
            for name, table in contrast_tables(fitted, requests, de=de)
        ]
        timing["models"][model.name] = {
            "fit_s": fit_s,
            "test_s": time.perf_counter() - start,
            "contrasts": len(tables),
        }
        if args.stats:
            args.stats.mkdir(parents=True, exist_ok=True)
            pd.concat(tables).to_csv(args.stats / f"{model.name}.tsv", sep="\t", index=False)
    per_model = timing["models"].values()
    timing["fit_s"] = sum(m["fit_s"] for m in per_model)
    timing["test_s"] = sum(m["test_s"] for m in per_model)
    timing["compute_s"] = timing["fit_s"] + timing["test_s"]
    print(json.dumps(timing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
