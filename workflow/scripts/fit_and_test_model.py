"""Rules differential_expression_{model}: one model's PyDESeq2 fit, then the test of each of
its contrasts (wald | lrt | qlf), in one job.

The fit leaves the job as data (``results/models/{model}.npz``, :mod:`msc_secretome.model_store`),
never as a pickle; each contrast's table is ``results/de/{contrast}.tsv`` with its own log
(``logs/contrast_results/{contrast}.log``). The full-model work the contrasts share is done
once (:mod:`msc_secretome.model_contrasts`).
"""

import time

import anndata as ad
import pandas as pd

from msc_secretome.design import check_design, model_samples
from msc_secretome.differential_expression import fit_model, model_arrays, prefilter_mask
from msc_secretome.model_contrasts import contrast_requests, contrast_tables
from msc_secretome.model_store import model_metadata, read_model, write_model
from msc_secretome.rule_logging import also_log_to, log_to_file
from msc_secretome.settings import contrast_from_dict, model_from_dict
from msc_secretome.tables import write_tsv
from msc_secretome.wald import count_significant

logger = log_to_file(snakemake)
params = snakemake.params
model = model_from_dict(params.model)
contrasts = [contrast_from_dict(c) for c in params.contrasts]
de = params.de
adata = ad.read_h5ad(snakemake.input.experiment)
samples = adata.obs.reset_index(names="sample").astype(str)
metadata = model_samples(samples, model).loc[:, model.variables]
check_design(metadata, model)
counts = pd.DataFrame(adata.X, index=adata.obs_names, columns=adata.var_names).loc[metadata.index]
kept = prefilter_mask(counts, **de["prefilter"])
logger.info(
    "model %s: design %s, %d samples, %d of %d genes pass the prefilter",
    model.name,
    model.design,
    len(metadata),
    int(kept.sum()),
    counts.shape[1],
)
start = time.perf_counter()
dds = fit_model(
    counts.loc[:, kept],
    metadata,
    model.design,
    size_factors=de["size_factors"],
    refit_cooks=de["refit_cooks"],
    engine=de["engine"],
    n_cpus=snakemake.threads,
    prior_seed=de["dispersion_prior_seed"],
    fit_type=de["fit_type"],
)
logger.info("compute: fit in %.3f s (engine %s)", time.perf_counter() - start, de["engine"])
logger.info(
    "dispersion trend: %s (%s)", dds.uns["dispersion_trend"], dds.uns["dispersion_trend_reason"]
)
write_model(model_arrays(dds, adata.var["symbol"].astype(str)), snakemake.output.model)
# the contrasts read the model back from its file (checked), as a job of their own would
fitted = read_model(snakemake.output.model)
fitted_metadata = model_metadata(fitted).loc[:, model.variables]
requests = contrast_requests(fitted_metadata, model, contrasts, params.tests)
tables = contrast_tables(fitted, requests, de=de)
outputs = zip(contrasts, requests, snakemake.output.tables, snakemake.log.contrasts, strict=True)
for contrast, (name, vector, test, reduced), path, log in outputs:
    with also_log_to(log):
        logger.info(
            "contrast %s: %s; vector %s; test %s%s",
            name,
            contrast.describe(),
            vector.to_dict(),
            test,
            f" against reduced design {contrast.reduced}" if reduced is not None else "",
        )
        start = time.perf_counter()
        _, table = next(tables)
        logger.info("compute: %s test in %.3f s", test, time.perf_counter() - start)
        if de["lfc_shrink"]:
            from msc_secretome.shrinkage import shrink_contrast

            # apeGLM-shrunk log2FoldChange and lfcSE (posterior SD); stat, pvalue, padj stay
            # the test's, as with DESeq2's lfcShrink.
            shrunk = shrink_contrast(fitted, contrast, n_cpus=snakemake.threads)
            shrunk = shrunk.loc[table["gene_id"]]
            table["log2FoldChange"] = shrunk["log2FoldChange"].to_numpy()
            table["lfcSE"] = shrunk["lfcSE"].to_numpy()
            logger.info("log2 fold changes shrunk (apeGLM)")
        write_tsv(table, path)
        logger.info("up/down at padj < %s: %s", de["alpha"], count_significant(table, de["alpha"]))
