"""Rule quality_control: library sizes, blind VST, PCA (scanpy), sample distances, outliers."""

import anndata as ad
import pandas as pd

from msc_secretome import qc
from msc_secretome.atomic_io import write_h5ad_atomic
from msc_secretome.differential_expression import prefilter_mask
from msc_secretome.outliers import find_outliers
from msc_secretome.rule_logging import log_to_file
from msc_secretome.tables import write_tsv

logger = log_to_file(snakemake)
params, outputs = snakemake.params, snakemake.output
adata = ad.read_h5ad(snakemake.input.experiment)
counts = pd.DataFrame(adata.X, index=adata.obs_names, columns=adata.var_names)
kept = counts.loc[:, prefilter_mask(counts, **params.prefilter)]
logger.info("QC on %d of %d genes after the prefilter", kept.shape[1], counts.shape[1])
vst, size_factors, trend = qc.variance_stabilised(
    kept, adata.obs, size_factors=params.size_factors, trend_genes=params.vst_genes
)
logger.info("%s", trend.describe())
sizes = qc.library_sizes(counts, size_factors)
write_tsv(sizes, outputs.library_sizes)
scores, variance, _ = qc.principal_components(
    vst,
    adata.obs,
    n_top_genes=params.qc["n_top_genes"],
    n_components=params.qc["n_components"],
    seed=params.qc["seed"],
)
write_tsv(scores, outputs.pca)
write_tsv(variance, outputs.pca_variance)
sheet = adata.obs.astype(str).rename_axis("sample").reset_index()
outliers = find_outliers(sheet, sizes, scores)
logger.info("outliers: %d rule hit(s) in %d sample(s)", len(outliers), outliers["sample"].nunique())
write_tsv(outliers, outputs.outliers)
write_tsv(qc.sample_distances(vst), outputs.distances, index=True)
write_h5ad_atomic(
    ad.AnnData(X=vst.to_numpy(), obs=adata.obs, var=adata.var.loc[vst.columns]), outputs.vst
)
