"""Rule secretome_links: secreted ligands -> receptors -> pathway activity -> programmes."""

import anndata as ad
import pandas as pd

from msc_secretome import ligand_links, pathway_activity
from msc_secretome.ligand_receptor import receptor_expression
from msc_secretome.roles import study_from_dict
from msc_secretome.rule_logging import log_to_file
from msc_secretome.secretome_stage import (
    load_secretome,
    receiver_groups,
    secretome_methods,
    symbol_matrix,
)
from msc_secretome.tables import read_table, write_tsv

logger = log_to_file(snakemake)
inputs, outputs, params = snakemake.input, snakemake.output, snakemake.params
settings = params.secretome
proteomics = inputs.proteomics[0] if inputs.proteomics else None

# Everything small is read and checked first: bad input stops before any computation.
secretome = load_secretome(
    settings,
    proteomics=proteomics,
    producer=inputs.producer[0] if inputs.producer else None,
    alpha=params.alpha,
)
if proteomics:
    logger.info("proteomics %s: %s", proteomics, secretome.proteomics_report)
logger.info("%d ligands in the secretome (%s)", len(secretome.ligands), settings["source"])
min_targets = settings["min_footprint_genes"]

de_tables = {
    name: pd.read_csv(path, sep="\t", keep_default_na=False, na_values=["", "NA", "NaN"])
    for name, path in zip(params.contrasts, inputs.de, strict=True)
}
activity = pathway_activity.contrast_pathway_activity(
    de_tables, secretome.footprints, statistic=params.statistic, min_targets=min_targets
)
write_tsv(activity, outputs.activity)

vst = ad.read_h5ad(inputs.vst)
expression = symbol_matrix(vst.X, vst.obs_names, vst.var["symbol"], collapse="max")
scores = pathway_activity.sample_pathway_scores(
    expression, secretome.footprints, min_targets=min_targets
)
scores.index.name = "sample"
write_tsv(scores, outputs.sample_scores, index=True)

experiment = ad.read_h5ad(inputs.experiment)
counts = symbol_matrix(experiment.X, experiment.obs_names, experiment.var["symbol"])
size_factors = read_table(inputs.library_sizes).set_index("sample")["size_factor"].astype(float)
groups = receiver_groups(
    study_from_dict(params.study), experiment.obs.assign(sample=experiment.obs_names)
)
expression_table = receptor_expression(
    counts,
    size_factors,
    groups,
    secretome.receptor_genes,
    min_mean=settings["receptor_min_mean"],
    min_detected=settings["receptor_min_detected"],
)
write_tsv(expression_table, outputs.receptors)

links = ligand_links.link_ligands(
    secretome.ligands,
    secretome.pairs,
    expression_table,
    activity,
    read_table(inputs.calls),
    read_table(inputs.contrasts),
    fdr=settings["fdr"],
)
write_tsv(links, outputs.links)
write_tsv(ligand_links.verdict_factors(links, settings["top"]), outputs.verdict_factors)
methods = secretome_methods(
    secretome,
    settings,
    proteomics=proteomics,
    producer=list(inputs.producer),
    statistic=params.statistic,
)
write_tsv(methods, outputs.methods)
for row in links[links["rank"].notna() & (links["rank"] == 1)].itertuples():
    logger.info("%s: %s", row.contrast, row.chain)
