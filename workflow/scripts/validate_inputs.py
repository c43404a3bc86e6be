"""Rule validate_inputs: check counts against the sheet, map ids to symbols, write AnnData."""

import anndata as ad
import pandas as pd

from msc_secretome.atomic_io import write_h5ad_atomic
from msc_secretome.gene_ids import (
    check_mapping_rate,
    map_to_symbols,
    read_alias_table,
    read_annotation,
)
from msc_secretome.rule_logging import log_to_file
from msc_secretome.tables import write_tsv
from msc_secretome.validation import match_counts_to_samples, read_counts, read_sample_sheet

logger = log_to_file(snakemake)
inputs, outputs, params = snakemake.input, snakemake.output, snakemake.params
samples = read_sample_sheet(inputs.samples)
counts = read_counts(inputs.counts, round_estimated=params.round_estimated)
counts = match_counts_to_samples(
    counts, samples, counts_path=inputs.counts, samples_path=inputs.samples
)
annotation = read_annotation(inputs.annotation[0]) if inputs.annotation else None
aliases = read_alias_table(inputs.aliases[0]) if inputs.aliases else None
symbols, report = map_to_symbols(counts.index, annotation, aliases)
check_mapping_rate(
    report,
    params.min_mapping_rate,
    path=inputs.annotation[0] if inputs.annotation else inputs.counts,
)
logger.info("gene id mapping: %s", report)
adata = ad.AnnData(
    X=counts.T.to_numpy(),
    obs=samples.set_index("sample"),
    var=pd.DataFrame({"symbol": symbols.to_numpy()}, index=counts.index),
)
write_h5ad_atomic(adata, outputs.experiment)
write_tsv(samples, outputs.samples)
keys = ["id_type", "n", "n_mapped", "rate", "n_alias_resolved", "n_ambiguous_alias",
        "n_many_to_one"]  # fmt: skip
write_tsv(
    pd.DataFrame({"key": keys, "value": [str(report[k]) for k in keys]}), outputs.gene_mapping
)
logger.info("validated %d genes x %d samples", counts.shape[0], counts.shape[1])
