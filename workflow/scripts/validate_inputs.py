"""Rule validate_inputs: read the counts in their format, check them against the sheet, map ids
to symbols, write AnnData, the summary-row QC table and the validation summary.

User files are all read and checked before anything is written, so a run with a bad input
leaves nothing under results/.
"""

import anndata as ad
import pandas as pd

from msc_secretome.atomic_io import write_h5ad_atomic
from msc_secretome.count_formats import read_counts
from msc_secretome.gene_aliases import read_alias_table
from msc_secretome.gene_annotation import read_annotation
from msc_secretome.gene_ids import check_mapping_rate, map_to_symbols
from msc_secretome.rule_logging import log_to_file
from msc_secretome.tables import write_tsv
from msc_secretome.validation import (
    check_counts_content,
    match_counts_to_samples,
    read_sample_sheet,
)

logger = log_to_file(snakemake)
inputs, outputs, params = snakemake.input, snakemake.output, snakemake.params
spec = params.counts_spec
counts_path = spec["counts"] or f"{inputs.samples} (counts_file)"
samples = read_sample_sheet(inputs.samples)
annotation = read_annotation(inputs.annotation[0]) if inputs.annotation else None
if annotation is not None and annotation.empty:  # experiments whose files carry no gene names
    annotation = None
aliases = read_alias_table(inputs.aliases[0]) if inputs.aliases else None
table = read_counts(spec)
for note in table.notes:
    logger.info("%s", note)
counts = match_counts_to_samples(
    table.counts, samples, counts_path=counts_path, samples_path=inputs.samples
)
checks = check_counts_content(counts, path=counts_path)
for check, status, detail in checks:
    (logger.warning if status == "warning" else logger.info)("%s: %s", check, detail)
if annotation is None and table.annotation is not None:
    annotation = table.annotation
    logger.info("gene symbols from the counts file's gene_name column")
symbols, report = map_to_symbols(counts.index, annotation, aliases)
check_mapping_rate(
    report,
    params.min_mapping_rate,
    path=inputs.annotation[0] if inputs.annotation else counts_path,
)
logger.info("gene id mapping: %s", report)
adata = ad.AnnData(
    X=counts.T.to_numpy(),
    obs=samples.set_index("sample").drop(columns=["counts_file"], errors="ignore"),
    var=pd.DataFrame({"symbol": symbols.to_numpy()}, index=counts.index),
)
write_h5ad_atomic(adata, outputs.experiment)
write_tsv(samples.drop(columns=["counts_file"], errors="ignore"), outputs.samples)
keys = ["id_type", "n", "n_mapped", "rate", "n_alias_resolved", "n_ambiguous_alias",
        "n_many_to_one"]  # fmt: skip
write_tsv(
    pd.DataFrame({"key": keys, "value": [str(report[k]) for k in keys]}), outputs.gene_mapping
)
summary = table.summary
rows = [("counts_format", "ok", table.format), ("methods", "ok", table.methods)]
if inputs.experiments:  # the joined matrix: each experiment's own files tell their format
    summary = pd.read_csv(inputs.experiments[0], sep="\t", dtype={"sample": str})
    experiments = pd.read_csv(inputs.experiments[1], sep="\t", keep_default_na=False)
    each = list(experiments.itertuples())
    rows = [
        ("counts_format", "ok", "; ".join(f"{e.experiment}: {e.format}" for e in each)),
        ("methods", "ok", " ".join(f"{e.experiment}: {e.methods}" for e in each)),
    ]
summary_rows = summary.set_index("sample").loc[list(counts.columns)].reset_index()
write_tsv(summary_rows, outputs.count_summary_rows)
rows += [("layout", "note", note) for note in table.notes]
write_tsv(pd.DataFrame(rows + checks, columns=["check", "status", "detail"]), outputs.summary)
logger.info("%s", table.methods)
logger.info("validated %d genes x %d samples", counts.shape[0], counts.shape[1])
