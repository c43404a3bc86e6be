"""Rule gene_set_enrichment: GSEA prerank (and ORA) of one contrast against every library."""

from pathlib import Path

import pandas as pd

from msc_secretome.catalogue import read_gmt
from msc_secretome.enrichment import ENRICHMENT_COLUMNS, gene_ranking, run_ora, run_prerank
from msc_secretome.rule_logging import log_to_file
from msc_secretome.tables import write_tsv

logger = log_to_file(snakemake)
params = snakemake.params
settings = params.enrichment
de_table = pd.read_csv(
    snakemake.input.table, sep="\t", keep_default_na=False, na_values=["", "NaN", "nan"]
)
ranking = gene_ranking(de_table, settings["statistic"])
logger.info("ranking of %d genes by %s", len(ranking), settings["statistic"])
prerank_tables, ora_tables = [], []
for library, gmt in zip(params.libraries, snakemake.input.gmts, strict=True):
    assert Path(gmt).stem == library
    gene_sets = read_gmt(gmt)
    min_size = params.min_size_by_library.get(library, settings["min_size"])
    sizes = {"min_size": min_size, "max_size": settings["max_size"]}
    prerank_tables.append(
        run_prerank(
            ranking,
            gene_sets,
            library=library,
            permutations=settings["permutations"],
            seed=settings["seed"],
            weight=settings["weight"],
            method=settings["method"],
            threads=snakemake.threads,
            **sizes,
        )
    )
    if settings["ora"]:
        ora_tables.append(
            run_ora(de_table, gene_sets, library=library, alpha=params.alpha, **sizes)
        )
    logger.info("library %s: %d sets tested", library, len(prerank_tables[-1]))
result = pd.concat(prerank_tables, ignore_index=True)
write_tsv(result.loc[:, ENRICHMENT_COLUMNS], snakemake.output.table)
ora = pd.concat(ora_tables, ignore_index=True) if ora_tables else pd.DataFrame()
write_tsv(ora, snakemake.output.ora)
