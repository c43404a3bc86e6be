"""Rule contrast_results: the test of one contrast on its model's fit (wald | lrt | qlf).

Reads the model's arrays (``results/models/{model}.npz``, loaded without pickle and checked by
:func:`msc_secretome.model_store.read_model`); no PyDESeq2 import for the Wald test.
"""

import time

import pandas as pd

from msc_secretome.contrast_tests import reduced_design_matrix
from msc_secretome.design import check_design, contrast_vector
from msc_secretome.model_store import model_metadata, read_model
from msc_secretome.rule_logging import log_to_file
from msc_secretome.settings import contrast_from_dict, model_from_dict
from msc_secretome.tables import write_tsv
from msc_secretome.wald import contrast_table, count_significant

logger = log_to_file(snakemake)
params = snakemake.params
fitted = read_model(snakemake.input.model)
model = model_from_dict(params.model)
contrast = contrast_from_dict(params.contrast)
metadata = model_metadata(fitted).loc[:, model.variables]
vector = contrast_vector(check_design(metadata, model), contrast, model, metadata)
reduced = None
if contrast.reduced:
    reduced = reduced_design_matrix(metadata, model, contrast)
logger.info(
    "contrast %s: %s; vector %s; test %s%s",
    contrast.name,
    contrast.describe(),
    vector.to_dict(),
    params.test,
    f" against reduced design {contrast.reduced}" if reduced is not None else "",
)
de = params.de
start = time.perf_counter()
table = contrast_table(
    fitted,
    vector,
    alpha=de["alpha"],
    independent_filter=de["independent_filter"],
    cooks_filter=de["cooks_filter"],
    lfc_threshold=de["lfc_threshold"],
    symbols=pd.Series(fitted["symbol"], index=fitted["gene_id"]),
    test=params.test,
    reduced_design=reduced,
)
logger.info("compute: %s test in %.3f s", params.test, time.perf_counter() - start)
if de["lfc_shrink"]:
    from msc_secretome.shrinkage import shrink_contrast

    # apeGLM-shrunk log2FoldChange and lfcSE (posterior SD); stat, pvalue, padj stay the
    # test's, as with DESeq2's lfcShrink.
    shrunk = shrink_contrast(fitted, contrast, n_cpus=snakemake.threads).loc[table["gene_id"]]
    table["log2FoldChange"] = shrunk["log2FoldChange"].to_numpy()
    table["lfcSE"] = shrunk["lfcSE"].to_numpy()
    logger.info("log2 fold changes shrunk (apeGLM)")
write_tsv(table, snakemake.output.table)
logger.info("up/down at padj < %s: %s", de["alpha"], count_significant(table, de["alpha"]))
