"""Rule call_programmes: the programme calls of every contrast (the verdict is
dual_benefit_verdict's)."""

import pandas as pd

from msc_secretome.programme_definitions import definitions_note, run_catalogue
from msc_secretome.programmes import add_overlap_groups, programme_calls, with_definitions
from msc_secretome.rule_logging import log_to_file
from msc_secretome.tables import write_tsv

logger = log_to_file(snakemake)
params, inputs = snakemake.params, snakemake.input
catalogue = run_catalogue(params.programmes, params.catalogue, params.libraries, inputs.gmts)
note = definitions_note(params.programmes, params.organism, params.libraries, params.orthologs)
logger.info(note)
enrichment = {
    name: pd.read_csv(path, sep="\t", keep_default_na=False, na_values=["", "NaN", "nan"])
    for name, path in zip(params.contrasts, inputs.enrichment, strict=True)
}
calls = add_overlap_groups(
    programme_calls(enrichment, catalogue, fdr=params.fdr), params.group_min_jaccard
)
write_tsv(with_definitions(calls, note), snakemake.output.calls)
logger.info("%d programme calls of %d contrasts", len(calls), len(enrichment))
