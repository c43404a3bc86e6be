"""Rule dual_benefit_verdict: the verdict per receiver group x exposure x therapy arm, with
its stability over the leave-one-out refits."""

import pandas as pd

from msc_secretome.programme_definitions import definitions_note, run_catalogue
from msc_secretome.programmes import with_definitions
from msc_secretome.roles import study_from_dict
from msc_secretome.rule_logging import log_to_file
from msc_secretome.stability import STABILITY_COLUMNS, verdict_stability
from msc_secretome.tables import read_table, write_tsv
from msc_secretome.verdict import dual_benefit, stability_sentence

logger = log_to_file(snakemake)
params, inputs = snakemake.params, snakemake.input
catalogue = run_catalogue(params.programmes, params.catalogue, params.libraries, inputs.gmts)
note = definitions_note(params.programmes, params.organism, params.libraries, params.orthologs)
read = {"sep": "\t", "keep_default_na": False, "na_values": ["", "NaN", "nan"]}
# the calls as call_programmes found them (its definitions column is not part of the verdict)
calls = pd.read_csv(inputs.calls, **read)
contrast_roles = read_table(inputs.contrasts)
samples = read_table(inputs.samples)
study = study_from_dict(params.study)
summary = dual_benefit(calls, contrast_roles, catalogue, study, samples)
if inputs.stability:
    refits = pd.concat([pd.read_csv(path, **read) for path in inputs.stability])
    stable = verdict_stability(calls, refits, contrast_roles, catalogue, study, samples)
    summary[STABILITY_COLUMNS] = stable[STABILITY_COLUMNS].to_numpy()
    summary["summary"] = summary["summary"] + [
        stability_sentence(row) for _, row in summary.iterrows()
    ]
# the verdict's prose names the programmes it used when they are not the catalogue as shipped
shipped = params.programmes == "builtin" and params.organism == "human"
summary = with_definitions(summary, note, explain=not shipped)
write_tsv(summary, snakemake.output.dual_benefit)
for row in summary.itertuples(index=False):
    logger.info("%s: %s (%s)", row.receiver_group, row.verdict, row.explanation)
