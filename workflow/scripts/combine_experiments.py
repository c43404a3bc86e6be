"""Rule combine_experiments: stacked sample sheets and count matrices of several experiments."""

from msc_secretome.experiments import combined_counts, combined_sheet
from msc_secretome.rule_logging import log_to_file
from msc_secretome.tables import write_tsv, write_tsv_gz

logger = log_to_file(snakemake)
params, output = snakemake.params, snakemake.output
sheet = combined_sheet(params.experiments)
combined = combined_counts(params.experiments, params.defaults)
write_tsv_gz(combined.counts.loc[:, sheet["sample"]], output.counts, index=True)
write_tsv(sheet, output.samples)
write_tsv(combined.report, output.report)
write_tsv(combined.summary, output.count_summary_rows)
write_tsv(combined.annotation, output.annotation)
for row in combined.report.itertuples(index=False):
    logger.info(
        "%s: %s, %d samples, %d genes (%d not in every matrix)",
        row.experiment, row.format, row.n_samples, row.n_genes, row.n_genes_not_shared,
    )  # fmt: skip
