"""Rule prepare_gene_sets: freeze the programme catalogue and each GMT library for the run."""

from pathlib import Path

import pandas as pd

from msc_secretome.catalogue import catalogue_gene_sets, read_catalogue, read_gmt, write_gmt
from msc_secretome.errors import InputError
from msc_secretome.rule_logging import log_to_file
from msc_secretome.tables import sha256_of, write_tsv

logger = log_to_file(snakemake)
params, outputs = snakemake.params, snakemake.output
out_dir = Path(outputs.libraries).parent
sources = {"programs": params.catalogue, **params.libraries}
rows = []
for library, source in sources.items():
    if library == "programs":
        catalogue = read_catalogue(source)
        gene_sets = catalogue_gene_sets(catalogue)
        descriptions = dict(zip(catalogue["program"], catalogue["description"], strict=True))
    else:
        gene_sets = read_gmt(source)
        descriptions = None
    if not gene_sets:
        raise InputError("the library has no gene sets", path=source)
    write_gmt(gene_sets, out_dir / f"{library}.gmt", descriptions=descriptions)
    genes = {g for members in gene_sets.values() for g in members}
    rows.append(
        {
            "library": library,
            "path": str(source),
            "sha256": sha256_of(source),
            "n_sets": len(gene_sets),
            "n_genes": len(genes),
        }
    )
    logger.info(
        "library %s: %d sets, %d genes, from %s", library, len(gene_sets), len(genes), source
    )
write_tsv(pd.DataFrame(rows), outputs.libraries)
