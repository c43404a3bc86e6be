# MSC secretome x chemo/radiation: which cytotoxic and regenerative programmes does the
# secretome trigger, in which cells, under which therapy, and does the dual benefit hold?
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/example.smk"
include: "workflow/rules/single_cell.smk"
include: "workflow/rules/experiments.smk"
include: "workflow/rules/validate.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/de.smk"
include: "workflow/rules/enrichment.smk"
include: "workflow/rules/programs.smk"
include: "workflow/rules/stability.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        "results/report/index.html",
        single_cell_outputs(),
