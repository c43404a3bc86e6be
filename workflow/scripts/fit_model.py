"""Rule fit_model: one PyDESeq2 fit (size factors, dispersions, coefficients) per model.

The fit leaves the job as data (``results/models/{model}.npz``, :mod:`msc_secretome.model_store`),
never as a pickle.
"""

import time

import anndata as ad
import pandas as pd

from msc_secretome.design import check_design, model_samples
from msc_secretome.differential_expression import fit_model, model_arrays, prefilter_mask
from msc_secretome.model_store import write_model
from msc_secretome.rule_logging import log_to_file
from msc_secretome.settings import model_from_dict

logger = log_to_file(snakemake)
params = snakemake.params
model = model_from_dict(params.model)
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
