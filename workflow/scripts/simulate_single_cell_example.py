"""Rule simulate_single_cell_example: a seeded co-culture experiment with planted shifts."""

from msc_secretome.atomic_io import write_h5ad_atomic
from msc_secretome.catalogue import read_catalogue
from msc_secretome.rule_logging import log_to_file
from msc_secretome.simulate_single_cell import simulate_single_cell_experiment
from msc_secretome.tables import write_tsv

logger = log_to_file(snakemake)
example = snakemake.params.example
simulated = simulate_single_cell_experiment(
    read_catalogue(),
    n_cells_per_sample=example["n_cells_per_sample"],
    n_genes=example["n_genes"],
    seed=example["seed"],
    **({"cell_types": snakemake.params.cell_types} if snakemake.params.cell_types else {}),
)
write_h5ad_atomic(simulated.adata, snakemake.output.cells, compression="gzip")
write_tsv(simulated.samples, snakemake.output.samples)
write_tsv(simulated.truth_programmes, snakemake.output.truth_programmes)
logger.info("simulated %d cells x %d genes", *simulated.adata.shape)
