"""Rule simulate_example: write the seeded example experiment and its truth tables."""

from pathlib import Path

from msc_secretome.catalogue import read_catalogue
from msc_secretome.rule_logging import log_to_file
from msc_secretome.simulate import simulate_bulk_experiment, write_experiment

logger = log_to_file(snakemake)
params = snakemake.params
experiment = simulate_bulk_experiment(
    read_catalogue(),
    n_genes=params.n_genes,
    n_replicates=params.n_replicates,
    seed=params.seed,
)
write_experiment(experiment, Path(snakemake.output.counts).parent)
logger.info("wrote %d genes x %d samples", *experiment.counts.shape)
