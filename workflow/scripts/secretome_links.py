"""Rule secretome_links: secreted ligands -> receptors -> pathway activity -> programmes."""

import anndata as ad
import pandas as pd

from msc_secretome import ligand_links as links_mod
from msc_secretome import pathway_activity as pa
from msc_secretome.ligand_receptor import ligand_genes, read_ligand_receptor, receptor_expression
from msc_secretome.producer_rna import producer_ligands
from msc_secretome.roles import study_from_dict
from msc_secretome.rule_logging import log_to_file
from msc_secretome.secretome_inputs import (
    builtin_factor_path,
    factors_for_organism,
    read_factor_table,
    read_proteomics,
    secretome_ligands,
)
from msc_secretome.tables import read_table, sha256_of, write_tsv

logger = log_to_file(snakemake)
inputs, outputs, params = snakemake.input, snakemake.output, snakemake.params
settings = params.secretome

# Everything small is read and checked first: bad input stops before any computation.
factor_path = builtin_factor_path() if settings["factors"] == "builtin" else settings["factors"]
factors = read_factor_table(factor_path)
n_without_orthologue = 0
if settings["factors"] == "builtin":  # the built-in table is human: map it for mouse
    factors, n_without_orthologue = factors_for_organism(factors, settings["organism"])
pairs, resource = read_ligand_receptor(settings["ligand_receptor"], settings["organism"])
footprint_path = (
    pa.builtin_footprint_path(settings["organism"])
    if settings["footprints"] == "builtin"
    else settings["footprints"]
)
footprints = pa.read_footprints(footprint_path)
proteomics, proteomics_report = None, {}
if settings["source"] == "proteomics":
    proteomics, proteomics_report = read_proteomics(inputs.proteomics[0])
    logger.info("proteomics %s: %s", inputs.proteomics[0], proteomics_report)
producer = None
if settings["source"] == "producer_rna":
    producer = producer_ligands(
        inputs.producer[0],
        ligand_genes(pairs),
        de_path=settings["producer_rna"]["de"],
        min_cpm=settings["producer_rna"]["min_cpm"],
        alpha=params.alpha,
    )
ligands = secretome_ligands(
    settings["source"],
    factors,
    ligand_genes(pairs),
    proteomics=proteomics,
    proteomics_path=inputs.proteomics[0] if inputs.proteomics else None,
    producer=producer,
)
logger.info("%d ligands in the secretome (%s)", len(ligands), settings["source"])

contrast_roles = read_table(inputs.contrasts)
de_tables = {
    name: pd.read_csv(path, sep="\t", keep_default_na=False, na_values=["", "NA", "NaN"])
    for name, path in zip(params.contrasts, inputs.de, strict=True)
}
activity = pa.contrast_pathway_activity(
    de_tables,
    footprints,
    statistic=params.statistic,
    min_targets=settings["min_footprint_genes"],
)
write_tsv(activity, outputs.activity)

vst = ad.read_h5ad(inputs.vst)
expression = pd.DataFrame(vst.X, index=vst.obs_names, columns=vst.var["symbol"].astype(str))
expression = expression.loc[:, expression.columns != ""].T.groupby(level=0).max().T
scores = pa.sample_pathway_scores(
    expression, footprints, min_targets=settings["min_footprint_genes"]
)
scores.index.name = "sample"
write_tsv(scores, outputs.sample_scores, index=True)

experiment = ad.read_h5ad(inputs.experiment)
counts = pd.DataFrame(
    experiment.X, index=experiment.obs_names, columns=experiment.var["symbol"].astype(str)
)
counts = counts.loc[:, counts.columns != ""]
size_factors = read_table(inputs.library_sizes).set_index("sample")["size_factor"].astype(float)
study = study_from_dict(params.study)
obs = experiment.obs.assign(sample=experiment.obs_names)
groups = {group: list(study.group_samples(obs, group)["sample"]) for group in study.groups}
groups = {group: samples for group, samples in groups.items() if samples}
receptor_genes = {g for receptor in pairs["receptor"] for g in receptor.split("_")}
expression_table = receptor_expression(
    counts,
    size_factors,
    groups,
    receptor_genes,
    min_mean=settings["receptor_min_mean"],
    min_detected=settings["receptor_min_detected"],
)
write_tsv(expression_table, outputs.receptors)

calls = read_table(inputs.calls)
links = links_mod.link_ligands(
    ligands, pairs, expression_table, activity, calls, contrast_roles, fdr=settings["fdr"]
)
write_tsv(links, outputs.links)
write_tsv(links_mod.verdict_factors(links, settings["top"]), outputs.verdict_factors)

footprint_name = (
    f"PROGENy top-100 ({settings['organism']}), progeny 1.20.0 (r-bioc-progeny)"
    if settings["footprints"] == "builtin"
    else "user footprints"
)
methods = {
    "secretome_source": settings["source"],
    "factor_table": (
        f"{'built-in secretome_factors.tsv' if settings['factors'] == 'builtin' else factor_path}"
        f" (sha256 {sha256_of(factor_path)})"
    ),
    "factors_without_orthologue": n_without_orthologue,
    "proteomics": (
        f"{inputs.proteomics[0]} (sha256 {sha256_of(inputs.proteomics[0])}); {proteomics_report}"
        if inputs.proteomics
        else ""
    ),
    "producer_rna": (
        f"{'; '.join(f'{p} (sha256 {sha256_of(p)})' for p in inputs.producer)}; "
        f"expressed at mean CPM >= {settings['producer_rna']['min_cpm']}"
        if inputs.producer
        else ""
    ),
    "ligand_receptor_resource": resource["resource"],
    "ligand_receptor_version": resource["version"],
    "ligand_receptor_sha256": resource["sha256"],
    "ligand_receptor_pairs": resource["n_pairs"],
    "footprints": footprint_name,
    "footprints_sha256": sha256_of(footprint_path),
    "pathway_activity_method": (
        f"univariate linear model of DE '{params.statistic}' on footprint weights (t-value, "
        "two-sided t p-value, BH FDR over pathways per contrast)"
    ),
    "pathway_fdr": settings["fdr"],
    "receptor_expressed_if": (
        f"mean normalised count >= {settings['receptor_min_mean']} and detected in >= "
        f"{settings['receptor_min_detected']:.0%} of the group's samples"
    ),
}
write_tsv(links_mod.methods_table(methods), outputs.methods)
for row in links[links["rank"].notna() & (links["rank"] == 1)].itertuples():
    logger.info("%s: %s", row.contrast, row.chain)
