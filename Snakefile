# Entry point for `snakemake` run from the repository root. The workflow itself is
# workflow/Snakefile (the Snakemake workflow catalogue's standardized layout; use that path
# with `module` or snakedeploy).


include: "workflow/Snakefile"


# An included file does not set the default target, so name the workflow's own here.
rule default:
    default_target: True
    input:
        rules.all.input,
