"""Rule prepare_gene_sets: freeze every gene-set library for the run, in the data's symbols.

Genes of each library are brought to current symbols through the alias table (when given);
each library's coverage (fraction of its genes among the data's symbols) is recorded and a
library sharing less than ``min_coverage`` of the smaller of its genes and the data's stops the
run (another id type); a targeted panel passes with a warning (``coverage_verdict``).
"""

from pathlib import Path

import anndata as ad
import pandas as pd

from msc_secretome.catalogue import (
    catalogue_gene_sets,
    library_coverage,
    read_catalogue,
    read_gmt,
    write_gmt,
)
from msc_secretome.gene_ids import read_alias_table
from msc_secretome.gene_set_cache import cached_library
from msc_secretome.rule_logging import log_to_file
from msc_secretome.tables import sha256_of, write_tsv

logger = log_to_file(snakemake)
inputs, params, outputs = snakemake.input, snakemake.params, snakemake.output
out_dir = Path(outputs.libraries).parent
data_symbols = set(ad.read_h5ad(inputs.experiment, backed="r").var["symbol"].astype(str)) - {""}
aliases = read_alias_table(inputs.aliases[0]) if inputs.aliases else None
rows = []
for library, source in params.sources.items():
    descriptions = None
    if source["kind"] == "catalogue":
        catalogue = read_catalogue(source["path"])
        gene_sets = catalogue_gene_sets(catalogue)
        descriptions = dict(zip(catalogue["program"], catalogue["description"], strict=True))
        path = source["path"]
    else:
        if source["kind"] == "enrichr":
            path = cached_library(
                source["name"], params.cache_dir, organism=params.organism,
                fetch=bool(params.download),
            )  # fmt: skip
        else:
            path = source["path"]
        gene_sets = read_gmt(path)
    if aliases is not None:
        gene_sets = {
            name: list(dict.fromkeys(aliases.resolve(g)[0] for g in genes))
            for name, genes in gene_sets.items()
        }
    coverage = library_coverage(
        library, gene_sets, data_symbols, min_coverage=params.min_coverage, path=str(path)
    )
    write_gmt(gene_sets, out_dir / f"{library}.gmt", descriptions=descriptions)
    rows.append(
        {
            "library": library,
            "kind": source["kind"],
            "path": str(path),
            "sha256": sha256_of(path),
            "n_sets": len(gene_sets),
            "n_genes": coverage["n_genes"],
            "genes_in_data": coverage["genes_in_data"],
            "coverage": round(coverage["coverage"], 4),
            "data_coverage": round(coverage["data_coverage"], 4),
            "coverage_verdict": coverage["verdict"],
        }
    )
    logger.info("library %s: %d sets, %s", library, len(gene_sets), coverage)
    if coverage["verdict"] == "targeted_panel":
        logger.warning(
            "library %s: only %.1f%% of its genes are in the data, but the data has fewer genes "
            "(%d) than the library (%d) and %.1f%% of them are in it: read as a targeted or "
            "pre-filtered matrix, not a wrong id type",
            library, 100 * coverage["coverage"], coverage["n_data_genes"], coverage["n_genes"],
            100 * coverage["data_coverage"],
        )  # fmt: skip
write_tsv(pd.DataFrame(rows), outputs.libraries)
