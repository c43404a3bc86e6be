"""Rule programme_sample_scores: per-sample programme scores on the VST matrix."""

import anndata as ad
import pandas as pd

from msc_secretome.enrichment import sample_scores
from msc_secretome.gmt import read_gmt
from msc_secretome.rule_logging import log_to_file
from msc_secretome.tables import write_tsv

logger = log_to_file(snakemake)
params = snakemake.params
if params.method == "none":
    write_tsv(pd.DataFrame({"sample": []}), snakemake.output.scores)
else:
    vst = ad.read_h5ad(snakemake.input.vst)
    expression = pd.DataFrame(vst.X, index=vst.obs_names, columns=vst.var["symbol"].astype(str))
    expression = expression.loc[:, expression.columns != ""]
    expression = expression.T.groupby(level=0).max().T  # one column per symbol
    scores = sample_scores(
        expression, read_gmt(snakemake.input.gmt), method=params.method, seed=params.seed
    )
    scores.index.name = "sample"
    write_tsv(scores, snakemake.output.scores, index=True)
    logger.info("%s scores: %d samples x %d programmes", params.method, *scores.shape)
