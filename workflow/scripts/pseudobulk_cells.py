"""Rule pseudobulk_cells: read cells (and their annotation), QC them, sum counts per sample x
cell type; list every dropped cell and pseudo-sample; check the models still fit."""

from msc_secretome.cell_annotation import (
    attach_cell_annotation,
    cells_dropped,
    dropped_cells_table,
    qc_failures,
    read_cell_annotation,
)
from msc_secretome.errors import InputError
from msc_secretome.pseudobulk_checks import check_models_after_drops
from msc_secretome.rule_logging import log_to_file
from msc_secretome.single_cell import cell_qc, check_obs_columns, pseudobulk, read_single_cell
from msc_secretome.tables import write_tsv, write_tsv_gz
from msc_secretome.validation import read_sample_sheet

logger = log_to_file(snakemake)
settings = snakemake.params.single_cell
inputs, outputs = snakemake.input, snakemake.output
samples = read_sample_sheet(inputs.samples)
cells = read_single_cell(inputs.cells, layer=settings["layer"])
dropped_parts = []
where = inputs.cells
if inputs.annotation:
    where = inputs.annotation[0]
    annotation = read_cell_annotation(where, settings["barcode_column"])
    cells, no_row = attach_cell_annotation(
        cells, annotation, samples, sample_column=settings["sample_column"], path=where
    )
    dropped_parts.append(no_row)
    logger.info(
        "cell annotation %s: %d cells annotated, %d without a row (dropped); %d table rows "
        "match no cell",
        where, cells.n_obs, len(no_row), len(annotation) - cells.n_obs,
    )  # fmt: skip
cells = check_obs_columns(
    cells, settings["sample_column"], settings["cell_type_column"], samples, path=where
)
wanted = settings["cell_types"]
present = set(cells.obs["cell_type"].astype(str))
missing = [c for c in wanted if c not in present]
if missing:
    raise InputError(
        f"single_cell.cell_types {missing} are not among the cells' types {sorted(present)}",
        path=where,
        fix="correct single_cell.cell_types (or single_cell.cell_type_column)",
    )
analysed = cells.obs["cell_type"].isin(wanted).to_numpy()
dropped_parts.append(cells_dropped(cells, ~analysed, "cell type not in single_cell.cell_types"))
cells = cells[analysed]
kept, qc_table = cell_qc(cells, **settings["qc"])
failures = qc_failures(cells, **settings["qc"])
dropped_parts.append(cells_dropped(cells, (failures != "").to_numpy(), failures.to_numpy()))
dropped_cells = dropped_cells_table(dropped_parts)
write_tsv(qc_table, outputs.cell_qc)
write_tsv_gz(dropped_cells, outputs.dropped_cells)
logger.info(
    "cells: %d in, %d kept after QC; %d dropped in all (%s)",
    cells.n_obs, kept.n_obs, len(dropped_cells),
    dropped_cells["reason"].str.split(":").str[0].value_counts().to_dict(),
)  # fmt: skip
counts, sheet, dropped = pseudobulk(kept, samples, min_cells=settings["min_cells"])
write_tsv(dropped, outputs.dropped)
if len(dropped):
    logger.warning("dropped pseudo-samples:\n%s", dropped.to_string())
check_models_after_drops(
    sheet, dropped, snakemake.params.models, snakemake.params.contrasts,
    min_cells=settings["min_cells"], path=where,
)  # fmt: skip
write_tsv(sheet, outputs.samples)
write_tsv_gz(counts, outputs.counts, index=True)
logger.info("pseudobulk: %d genes x %d pseudo-samples", *counts.shape)
