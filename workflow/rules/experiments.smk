# Several experiments: their sheets stacked and their count matrices joined on shared genes
# (config `experiments`); every model stays within one experiment.


rule combine_experiments:
    input:
        counts=[spec["counts"] for spec in EXPERIMENTS.values()],
        samples=[spec["samples"] for spec in EXPERIMENTS.values()],
    output:
        counts=out("experiments/counts.tsv.gz"),
        samples=out("experiments/samples.tsv"),
        report=out("experiments/experiments.tsv"),
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
        round_estimated=config["round_estimated_counts"],
    script:
        "../scripts/combine_experiments.py"
