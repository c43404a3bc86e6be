"""Rule summarise_contrasts: one row per contrast (question, fit, DE counts, dual-benefit role,
and why nothing is significant where that is so)."""

import pandas as pd

from msc_secretome.contrast_summary import contrast_summary
from msc_secretome.de_diagnostics import diagnostics_table
from msc_secretome.model_store import read_dispersion_trend
from msc_secretome.rule_logging import log_to_file
from msc_secretome.settings import contrast_from_dict, model_from_dict
from msc_secretome.tables import read_table, write_tsv

log_to_file(snakemake)
params = snakemake.params
contrasts = [contrast_from_dict(c) for c in params.contrasts.values()]
models = {name: model_from_dict(m) for name, m in params.models.items()}
tables = {
    c.name: pd.read_csv(path, sep="\t")
    for c, path in zip(contrasts, snakemake.input.tables, strict=True)
}
samples = read_table(snakemake.input.samples)
summary = contrast_summary(
    contrasts, models, samples, tables, params.roles, params.alpha, params.tests
)
# Every DE option, recorded beside the numbers it produced.
de = params.de
summary["prefilter"] = (
    f">= {de['prefilter']['min_count']} reads in >= {de['prefilter']['min_samples']} samples"
)
for option in ("size_factors", "independent_filter", "cooks_filter", "refit_cooks",
               "lfc_threshold", "lfc_shrink", "engine", "fit_type"):  # fmt: skip
    summary[option] = de[option]
# the trend the model's fit used: fit_type, or local where a parametric fit failed (as in R)
trends = {
    name: read_dispersion_trend(path)
    for name, path in zip(params.models, snakemake.input.models, strict=True)
}
summary["dispersion_trend"] = summary["model"].map(trends)
diagnostics = diagnostics_table(
    contrasts,
    models,
    samples,
    tables,
    pd.read_csv(snakemake.input.library_sizes, sep="\t", dtype={"sample": str}),
    pd.read_csv(snakemake.input.outliers, sep="\t", dtype={"sample": str}),
    params.alpha,
)
summary = summary.merge(diagnostics, on="contrast", how="left", validate="one_to_one")
write_tsv(summary, snakemake.output.summary)
