"""Rule cell_programme_scores: per-cell programme scores and a UMAP on a seeded subsample of at
most single_cell.embedding_cells kept cells (only those cells' counts are held in memory)."""

from msc_secretome.cell_pipeline import embedding_subsample, prepare_cells
from msc_secretome.cell_scores import cell_programme_scores, embed
from msc_secretome.cell_source import open_cells
from msc_secretome.gmt import read_gmt
from msc_secretome.rule_logging import log_to_file
from msc_secretome.tables import write_tsv_gz
from msc_secretome.validation import read_sample_sheet

logger = log_to_file(snakemake)
settings, seed = snakemake.params.single_cell, snakemake.params.seed
samples = read_sample_sheet(snakemake.input.samples)
with open_cells(snakemake.input.cells, layer=settings["layer"]) as source:
    # cells without an annotation row are listed by pseudobulk_cells
    annotation = snakemake.input.annotation[0] if snakemake.input.annotation else None
    prepared = prepare_cells(source, samples, settings, annotation_path=annotation)
    kept = embedding_subsample(
        source, prepared, qc=settings["qc"], max_cells=settings["embedding_cells"], seed=seed
    )
logger.info(
    "%d of %d analysed cells (seeded subsample of the kept cells, single_cell.embedding_cells "
    "%d)", kept.n_obs, prepared.cells.n_obs, settings["embedding_cells"],
)  # fmt: skip
scores = cell_programme_scores(kept, read_gmt(snakemake.input.gmt), seed=seed)
umap = embed(kept, seed=seed)
table = kept.obs.loc[:, ["sample", "cell_type"]].astype(str)
table = table.join(samples.set_index("sample"), on="sample").join(umap).join(scores)
table.index.name = "cell"
write_tsv_gz(table, snakemake.output.cells, index=True)
logger.info("scored %d cells x %d programmes", scores.shape[0], scores.shape[1])
