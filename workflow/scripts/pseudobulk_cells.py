"""Rule pseudobulk_cells: read cells (and their annotation), QC them, sum counts per sample x
cell type in one chunked pass; list every dropped cell and pseudo-sample; check the models
still fit."""

from msc_secretome.cell_annotation import dropped_cells_table
from msc_secretome.cell_pipeline import prepare_cells, pseudobulk_cells
from msc_secretome.cell_source import CHUNK_CELLS, open_cells
from msc_secretome.pseudobulk_checks import check_models_after_drops
from msc_secretome.rule_logging import log_to_file
from msc_secretome.tables import write_tsv, write_tsv_gz
from msc_secretome.validation import read_sample_sheet

logger = log_to_file(snakemake)
settings = snakemake.params.single_cell
inputs, outputs = snakemake.input, snakemake.output
samples = read_sample_sheet(inputs.samples)
with open_cells(inputs.cells, layer=settings["layer"]) as source:
    logger.info(
        "%s: %d cells x %d genes, %s in chunks of %d cells",
        inputs.cells, source.n_obs, source.n_vars,
        "read from disk" if source.streamed else "loaded whole", CHUNK_CELLS,
    )  # fmt: skip
    annotation = inputs.annotation[0] if inputs.annotation else None
    prepared = prepare_cells(source, samples, settings, annotation_path=annotation, log=logger.info)
    result = pseudobulk_cells(
        source, prepared, samples, qc=settings["qc"], min_cells=settings["min_cells"]
    )
dropped_cells = dropped_cells_table(result.dropped_cells)
write_tsv(result.cell_qc, outputs.cell_qc)
write_tsv_gz(dropped_cells, outputs.dropped_cells)
logger.info(
    "cells: %d in, %d kept after QC; %d dropped in all (%s)",
    prepared.cells.n_obs, result.n_kept, len(dropped_cells),
    dropped_cells["reason"].str.split(":").str[0].value_counts().to_dict(),
)  # fmt: skip
write_tsv(result.dropped, outputs.dropped)
if len(result.dropped):
    logger.warning("dropped pseudo-samples:\n%s", result.dropped.to_string())
check_models_after_drops(
    result.sheet, result.dropped, snakemake.params.models, snakemake.params.contrasts,
    min_cells=settings["min_cells"], path=prepared.where,
)  # fmt: skip
write_tsv(result.sheet, outputs.samples)
write_tsv_gz(result.counts, outputs.counts, index=True)
logger.info("pseudobulk: %d genes x %d pseudo-samples", *result.counts.shape)
