"""Rules gene_set_enrichment_{model}: GSEA prerank (and ORA) of each contrast of one model
against every library, one contrast after the other (one log per contrast)."""

from pathlib import Path

import pandas as pd

from msc_secretome.enrichment import ENRICHMENT_COLUMNS, gene_ranking, run_ora, run_prerank
from msc_secretome.gmt import read_gmt
from msc_secretome.rule_logging import also_log_to, log_to_file
from msc_secretome.tables import write_tsv

logger = log_to_file(snakemake)
params = snakemake.params
settings = params.enrichment
libraries = {}
for library, gmt in zip(params.libraries, snakemake.input.gmts, strict=True):
    assert Path(gmt).stem == library
    libraries[library] = read_gmt(gmt)
jobs = zip(
    params.contrasts,
    snakemake.input.tables,
    snakemake.output.tables,
    snakemake.output.ora,
    snakemake.log.contrasts,
    strict=True,
)
for contrast, de_path, table_path, ora_path, log in jobs:
    with also_log_to(log):
        de_table = pd.read_csv(
            de_path, sep="\t", keep_default_na=False, na_values=["", "NaN", "nan"]
        )
        ranking = gene_ranking(de_table, settings["statistic"])
        logger.info(
            "contrast %s: ranking of %d genes by %s", contrast, len(ranking), settings["statistic"]
        )
        prerank_tables, ora_tables = [], []
        for library, gene_sets in libraries.items():
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
                    null=settings["nes_null"],
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
        write_tsv(result.loc[:, ENRICHMENT_COLUMNS], table_path)
        ora = pd.concat(ora_tables, ignore_index=True) if ora_tables else pd.DataFrame()
        write_tsv(ora, ora_path)
