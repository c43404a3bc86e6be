"""Rule pseudobulk_cells: read cells, QC them, sum counts per sample x cell type."""

from msc_secretome.errors import InputError
from msc_secretome.rule_logging import log_to_file
from msc_secretome.single_cell import cell_qc, check_obs_columns, pseudobulk, read_single_cell
from msc_secretome.tables import write_tsv, write_tsv_gz
from msc_secretome.validation import read_sample_sheet

logger = log_to_file(snakemake)
settings = snakemake.params.single_cell
inputs, outputs = snakemake.input, snakemake.output
samples = read_sample_sheet(inputs.samples)
cells = read_single_cell(inputs.cells, layer=settings["layer"])
cells = check_obs_columns(
    cells, settings["sample_column"], settings["cell_type_column"], samples, path=inputs.cells
)
wanted = settings["cell_types"]
present = set(cells.obs["cell_type"].astype(str))
missing = [c for c in wanted if c not in present]
if missing:
    raise InputError(
        f"single_cell.cell_types {missing} are not among the cells' types {sorted(present)}",
        path=inputs.cells,
        fix="correct single_cell.cell_types (or single_cell.cell_type_column)",
    )
cells = cells[cells.obs["cell_type"].isin(wanted).to_numpy()]
kept, qc_table = cell_qc(cells, **settings["qc"])
write_tsv(qc_table, outputs.cell_qc)
logger.info("cells: %d in, %d kept after QC", cells.n_obs, kept.n_obs)
counts, sheet, dropped = pseudobulk(kept, samples, min_cells=settings["min_cells"])
write_tsv(dropped, outputs.dropped)
if len(dropped):
    logger.warning("dropped pseudo-samples:\n%s", dropped.to_string())
write_tsv(sheet, outputs.samples)
write_tsv_gz(counts, outputs.counts, index=True)
logger.info("pseudobulk: %d genes x %d pseudo-samples", *counts.shape)
