"""Rule stability_refits: programme calls of one model after leaving out each unit in turn."""

import time

import anndata as ad
import pandas as pd

from msc_secretome.catalogue import read_catalogue
from msc_secretome.gmt import read_gmt
from msc_secretome.programme_definitions import catalogue_from_libraries
from msc_secretome.rule_logging import log_to_file
from msc_secretome.settings import contrast_from_dict, model_from_dict
from msc_secretome.stability import refit_calls
from msc_secretome.tables import write_tsv

logger = log_to_file(snakemake)
params = snakemake.params
model = model_from_dict(params.model)
adata = ad.read_h5ad(snakemake.input.experiment)
samples = adata.obs.reset_index(names="sample").astype(str)
counts = pd.DataFrame(adata.X, index=adata.obs_names, columns=adata.var_names)
gene_sets = read_gmt(snakemake.input.gmt)
# with gene_sets.programmes: none, programmes.gmt holds the user's sets (as call_programmes)
catalogue = (
    catalogue_from_libraries({"programmes": gene_sets})
    if params.catalogue is None
    else read_catalogue(params.catalogue)
)
start = time.perf_counter()
refits = refit_calls(
    counts,
    samples,
    model,
    [contrast_from_dict(c) for c in params.contrasts],
    blocks=params.blocks,
    de=params.de,
    enrichment=params.enrichment,
    gene_sets=gene_sets,
    catalogue=catalogue,
    fdr=params.fdr,
    symbols=adata.var["symbol"].astype(str),
)
write_tsv(refits.assign(model=model.name), snakemake.output.refits)
units = refits.drop_duplicates("unit")
logger.info(
    "model %s: %d units left out (%d refitted) in %.1f s",
    model.name, len(units), int((units["status"] == "ok").sum()), time.perf_counter() - start,
)  # fmt: skip
