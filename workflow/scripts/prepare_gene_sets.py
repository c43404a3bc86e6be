"""Rule prepare_gene_sets: freeze every gene-set library for the run, in the data's symbols.

Genes of each library are brought to current symbols through the alias table (when given);
each library's coverage (fraction of its genes among the data's symbols) is recorded and a
library sharing less than ``min_coverage`` of the smaller of its genes and the data's stops the
run (another id type); a targeted panel passes with a warning (``coverage_verdict``).
For ``organism: mouse`` the built-in catalogue is first mapped to mouse symbols through the
shipped orthologue table (per-programme rates in ``ortholog_mapping.tsv``). With
``gene_sets.programmes: none`` ``programmes.gmt`` holds the sets of the user's libraries (the
programmes of this run) for the per-sample and per-cell scores.
"""

from pathlib import Path

import anndata as ad
import pandas as pd

from msc_secretome.catalogue import catalogue_gene_sets, library_coverage, read_catalogue
from msc_secretome.gene_aliases import read_alias_table
from msc_secretome.gene_set_cache import cached_library
from msc_secretome.gmt import read_gmt, write_gmt
from msc_secretome.orthologs import SET_MAPPING_COLUMNS, check_data_organism, map_gene_sets
from msc_secretome.rule_logging import log_to_file
from msc_secretome.tables import sha256_of, write_tsv

logger = log_to_file(snakemake)
inputs, params, outputs = snakemake.input, snakemake.params, snakemake.output
out_dir = Path(outputs.libraries).parent
data_symbols = set(ad.read_h5ad(inputs.experiment, backed="r").var["symbol"].astype(str)) - {""}
aliases = read_alias_table(inputs.aliases[0]) if inputs.aliases else None
if params.programmes == "builtin":  # human or mapped catalogue: the species must fit
    check_data_organism(sorted(data_symbols), params.organism, path=inputs.experiment)
rows = []
mapping_tables = []
user_sets: dict[str, list[str]] = {}
for library, source in params.sources.items():
    descriptions = None
    if source["kind"] == "catalogue":
        catalogue = read_catalogue(source["path"])
        gene_sets = catalogue_gene_sets(catalogue)
        descriptions = dict(zip(catalogue["programme"], catalogue["description"], strict=True))
        path = source["path"]
    else:
        if source["kind"] == "enrichr":
            path = cached_library(
                source["name"], params.cache_dir, organism=params.enrichr_organism,
                fetch=bool(params.download),
            )  # fmt: skip
        else:
            path = source["path"]
        gene_sets = read_gmt(path)
    mapped_from = source.get("map_from", "")
    if mapped_from:
        gene_sets, rates = map_gene_sets(
            gene_sets,
            from_organism=mapped_from,
            to_organism=params.organism,
            one_to_one=params.orthologs == "one_to_one",
        )
        mapping_tables.append(rates.assign(library=library))
        # programmes without any mapped gene stay listed in ortholog_mapping.tsv (n_mapped 0)
        # and are reported not_tested in the calls
        gene_sets = {name: genes for name, genes in gene_sets.items() if genes}
        logger.info(
            "library %s: mapped %s -> %s (%s): %d of %d programme genes",
            library, mapped_from, params.organism, params.orthologs,
            rates["n_mapped"].sum(), rates["n_genes"].sum(),
        )  # fmt: skip
    if aliases is not None:
        gene_sets = {
            name: list(dict.fromkeys(aliases.resolve(g)[0] for g in genes))
            for name, genes in gene_sets.items()
        }
    coverage = library_coverage(
        library, gene_sets, data_symbols, min_coverage=params.min_coverage, path=str(path)
    )
    write_gmt(gene_sets, out_dir / f"{library}.gmt", descriptions=descriptions)
    if params.programmes == "none":
        user_sets.update(gene_sets)  # catalogue_from_libraries refuses duplicate names
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
            "organism": params.organism,
            "mapped_from": mapped_from,
            "ortholog_mapping_rate": (
                round(rates["n_mapped"].sum() / rates["n_genes"].sum(), 4) if mapped_from else ""
            ),
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
if params.programmes == "none":
    write_gmt(user_sets, out_dir / "programmes.gmt")
columns = ["library", *SET_MAPPING_COLUMNS]
mapping = pd.concat(mapping_tables) if mapping_tables else pd.DataFrame(columns=columns)
write_tsv(mapping.loc[:, columns], outputs.ortholog_mapping)
write_tsv(pd.DataFrame(rows), outputs.libraries)
