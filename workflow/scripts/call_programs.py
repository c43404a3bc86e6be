"""Rule call_programs: programme calls per contrast and the dual-benefit summary per therapy."""

import pandas as pd

from msc_secretome.catalogue import read_catalogue, read_gmt
from msc_secretome.programme_definitions import catalogue_from_libraries, definitions_note
from msc_secretome.programs import (
    add_overlap_groups,
    dual_benefit,
    program_calls,
    with_definitions,
)
from msc_secretome.rule_logging import log_to_file
from msc_secretome.tables import read_table, write_tsv

logger = log_to_file(snakemake)
params, inputs = snakemake.params, snakemake.input
if params.programs == "none":  # the user's GMT libraries define the programmes
    catalogue = catalogue_from_libraries(
        {name: read_gmt(path) for name, path in zip(params.libraries, inputs.gmts, strict=True)}
    )
else:
    catalogue = read_catalogue(params.catalogue)
note = definitions_note(params.programs, params.organism, params.libraries, params.orthologs)
logger.info(note)
enrichment = {
    name: pd.read_csv(path, sep="\t", keep_default_na=False, na_values=["", "NaN", "nan"])
    for name, path in zip(params.contrasts, inputs.enrichment, strict=True)
}
calls = add_overlap_groups(
    program_calls(enrichment, catalogue, fdr=params.fdr), params.group_min_jaccard
)
write_tsv(with_definitions(calls, note), snakemake.output.calls)

contrast_roles = read_table(inputs.contrasts)
samples = read_table(inputs.samples)
therapy = params.roles["therapy"]
levels = list(dict.fromkeys(samples[therapy["column"]]))
therapies = [therapy["none"]] + [lv for lv in levels if lv != therapy["none"]]
summary = dual_benefit(
    calls, contrast_roles, catalogue, therapies=therapies, none_level=therapy["none"]
)
# the verdict's prose names the programmes it used when they are not the catalogue as shipped
shipped = params.programs == "builtin" and params.organism == "human"
summary = with_definitions(summary, note, explain=not shipped)
write_tsv(summary, snakemake.output.dual_benefit)
for row in summary.itertuples(index=False):
    logger.info("%s: %s (%s)", row.therapy, row.verdict, row.explanation)
