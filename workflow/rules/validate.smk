# Validation of the counts (any supported format) against the sample sheet; writes the
# experiment as AnnData, the summary rows each sample lost and a validation summary.
# (Config, sample sheet, contrasts and gene-set files were already checked when the workflow
# was parsed; the contrasts file is not an input: rules see contrasts through params, so
# editing one contrast reruns only the jobs that depend on it.)


rule validate_inputs:
    input:
        counts=counts_input(),
        samples=samples_input(),
        annotation=annotation_input(),
        # several experiments: the summary rows and methods of each experiment's files
        experiments=(
            [
                out("experiments/count_summary_rows.tsv"),
                out("experiments/experiments.tsv"),
            ]
            if EXPERIMENTS
            else []
        ),
        aliases=[config["gene_aliases"]] if config["gene_aliases"] else [],
    output:
        experiment=out("validated/experiment.h5ad"),
        samples=out("validated/samples.tsv"),
        gene_mapping=out("validated/gene_mapping.tsv"),
        count_summary_rows=out("validated/count_summary_rows.tsv"),
        summary=out("validated/validation_summary.tsv"),
    log:
        log_path("validate_inputs.log"),
    benchmark:
        log_path("benchmarks/validate_inputs.tsv")
    conda:
        conda_env("analysis")
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 20),
        runtime=runtime_min(5, 0.05),
    params:
        counts_spec=COUNTS_SPEC,
        min_mapping_rate=config["min_mapping_rate"],
    script:
        "../scripts/validate_inputs.py"
