"""Rule gene_set_enrichment: GSEA prerank of one contrast against every library."""

from pathlib import Path

import pandas as pd

from msc_secretome.catalogue import read_gmt
from msc_secretome.enrichment import ENRICHMENT_COLUMNS, gene_ranking, run_prerank
from msc_secretome.rule_logging import log_to_file
from msc_secretome.tables import write_tsv

logger = log_to_file(snakemake)
params = snakemake.params
settings = params.enrichment
de_table = pd.read_csv(
    snakemake.input.table,
    sep="\t",
    keep_default_na=False,
    na_values=["", "NaN", "nan"],
)
ranking = gene_ranking(de_table, settings["statistic"])
logger.info("ranking of %d genes by %s", len(ranking), settings["statistic"])
tables = []
for library, gmt in zip(params.libraries, snakemake.input.gmts, strict=True):
    assert Path(gmt).stem == library
    tables.append(
        run_prerank(
            ranking,
            read_gmt(gmt),
            library=library,
            permutations=settings["permutations"],
            seed=settings["seed"],
            min_size=settings["min_size"],
            max_size=settings["max_size"],
            weight=settings["weight"],
            threads=snakemake.threads,
        )
    )
    logger.info("library %s: %d sets tested", library, len(tables[-1]))
result = (
    pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=ENRICHMENT_COLUMNS)
)
write_tsv(result.loc[:, ENRICHMENT_COLUMNS], snakemake.output.table)
