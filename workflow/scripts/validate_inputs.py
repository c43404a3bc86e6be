"""Rule validate_inputs: check counts against the sheet; write the experiment as AnnData."""

import anndata as ad
import pandas as pd

from msc_secretome.rule_logging import log_to_file
from msc_secretome.tables import write_tsv
from msc_secretome.validation import (
    match_counts_to_samples,
    read_counts,
    read_gene_annotation,
    read_sample_sheet,
)

logger = log_to_file(snakemake)
inputs, outputs = snakemake.input, snakemake.output
samples = read_sample_sheet(inputs.samples)
counts = read_counts(inputs.counts, round_estimated=snakemake.params.round_estimated)
counts = match_counts_to_samples(
    counts, samples, counts_path=inputs.counts, samples_path=inputs.samples
)
if inputs.annotation:
    symbols = read_gene_annotation(inputs.annotation[0], counts.index)
else:
    symbols = pd.Series(counts.index, index=counts.index)
adata = ad.AnnData(
    X=counts.T.to_numpy(),
    obs=samples.set_index("sample"),
    var=pd.DataFrame(
        {"symbol": symbols.reindex(counts.index).fillna("").to_numpy()}, index=counts.index
    ),
)
adata.uns["source"] = {"counts": str(inputs.counts), "samples": str(inputs.samples)}
adata.write_h5ad(outputs.experiment)
write_tsv(samples, outputs.samples)
logger.info("validated %d genes x %d samples", counts.shape[0], counts.shape[1])
