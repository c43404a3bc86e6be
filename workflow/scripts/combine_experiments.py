"""Rule combine_experiments: stacked sample sheets and count matrices of several experiments."""

from msc_secretome.experiments import combined_counts, combined_sheet
from msc_secretome.rule_logging import log_to_file
from msc_secretome.tables import write_tsv, write_tsv_gz

logger = log_to_file(snakemake)
params = snakemake.params
sheet = combined_sheet(params.experiments)
counts, report = combined_counts(params.experiments, round_estimated=params.round_estimated)
write_tsv_gz(counts.loc[:, sheet["sample"]], snakemake.output.counts, index=True)
write_tsv(sheet, snakemake.output.samples)
write_tsv(report, snakemake.output.report)
for row in report.itertuples(index=False):
    logger.info(
        "%s: %d samples, %d genes (%d not in every matrix)",
        row.experiment, row.n_samples, row.n_genes, row.n_genes_not_shared,
    )  # fmt: skip
