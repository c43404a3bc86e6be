# Several experiments: their sheets stacked and their count matrices (each read in its own
# format) joined on shared genes (config `experiments`); every model stays within one experiment.


rule combine_experiments:
    input:
        counts=experiment_count_files(EXPERIMENTS, COUNT_DEFAULTS),
        samples=[spec["samples"] for spec in EXPERIMENTS.values()],
    output:
        counts=out("experiments/counts.tsv.gz"),
        samples=out("experiments/samples.tsv"),
        report=out("experiments/experiments.tsv"),
        # the files' summary rows and gene names, which the joined matrix does not carry
        count_summary_rows=out("experiments/count_summary_rows.tsv"),
        annotation=out("experiments/gene_annotation.tsv"),
    log:
        log_path("combine_experiments.log"),
    benchmark:
        log_path("benchmarks/combine_experiments.tsv")
    conda:
        conda_env("analysis")
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 20),
        runtime=runtime_min(5, 0.05),
    params:
        experiments=EXPERIMENTS,
        defaults=COUNT_DEFAULTS,
    script:
        "../scripts/combine_experiments.py"
