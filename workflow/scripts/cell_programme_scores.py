"""Rule cell_programme_scores: per-cell programme scores and a UMAP on a seeded subsample."""

import numpy as np

from msc_secretome.catalogue import read_gmt
from msc_secretome.cell_annotation import attach_cell_annotation, read_cell_annotation
from msc_secretome.rule_logging import log_to_file
from msc_secretome.single_cell import (
    cell_programme_scores,
    cell_qc,
    check_obs_columns,
    embed,
    read_single_cell,
)
from msc_secretome.tables import write_tsv_gz
from msc_secretome.validation import read_sample_sheet

logger = log_to_file(snakemake)
settings, seed = snakemake.params.single_cell, snakemake.params.seed
samples = read_sample_sheet(snakemake.input.samples)
cells = read_single_cell(snakemake.input.cells, layer=settings["layer"])
where = snakemake.input.cells
if snakemake.input.annotation:  # cells without a row are listed by pseudobulk_cells
    where = snakemake.input.annotation[0]
    annotation = read_cell_annotation(where, settings["barcode_column"])
    cells, _ = attach_cell_annotation(
        cells, annotation, samples, sample_column=settings["sample_column"], path=where
    )
cells = check_obs_columns(
    cells, settings["sample_column"], settings["cell_type_column"], samples, path=where
)
cells = cells[cells.obs["cell_type"].isin(settings["cell_types"]).to_numpy()]
kept, _ = cell_qc(cells, **settings["qc"])
if kept.n_obs > settings["embedding_cells"]:
    chosen = np.sort(
        np.random.default_rng(seed).choice(kept.n_obs, settings["embedding_cells"], replace=False)
    )
    kept = kept[chosen].copy()
scores = cell_programme_scores(kept, read_gmt(snakemake.input.gmt), seed=seed)
umap = embed(kept, seed=seed)
table = kept.obs.loc[:, ["sample", "cell_type"]].astype(str)
table = table.join(samples.set_index("sample"), on="sample").join(umap).join(scores)
table.index.name = "cell"
write_tsv_gz(table, snakemake.output.cells, index=True)
logger.info("scored %d cells x %d programmes", scores.shape[0], scores.shape[1])
