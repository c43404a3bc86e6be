"""Rule simulate_example: write the seeded example experiment and its truth tables."""

from pathlib import Path

from msc_secretome.catalogue import read_catalogue
from msc_secretome.pathway_activity import builtin_footprint_path, read_footprints
from msc_secretome.rule_logging import log_to_file
from msc_secretome.simulate import simulate_bulk_experiment, write_experiment
from msc_secretome.simulate_secretome import add_secretome_chains, write_secretome_example

logger = log_to_file(snakemake)
params = snakemake.params
experiment = simulate_bulk_experiment(
    read_catalogue(),
    n_genes=params.n_genes,
    n_replicates=params.n_replicates,
    seed=params.seed,
)
# Secreted factors -> receptors -> pathway footprints (genes appended; existing ones unchanged).
experiment, truth_ligands, proteomics = add_secretome_chains(
    experiment, read_footprints(builtin_footprint_path("human")), seed=params.seed
)
outdir = Path(snakemake.output.counts).parent
write_experiment(experiment, outdir)
write_secretome_example(truth_ligands, proteomics, outdir)
logger.info("wrote %d genes x %d samples", *experiment.counts.shape)
