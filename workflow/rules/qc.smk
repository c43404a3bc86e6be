# Quality control and exploration on all samples: library sizes, VST, PCA, distances.


rule quality_control:
    input:
        experiment="results/validated/experiment.h5ad",
    output:
        library_sizes="results/qc/library_sizes.tsv",
        pca="results/qc/pca.tsv",
        pca_variance="results/qc/pca_variance.tsv",
        distances="results/qc/sample_distances.tsv",
        outliers="results/qc/outliers.tsv",
        vst="results/qc/vst.h5ad",
    log:
        "logs/quality_control.log",
    benchmark:
        "logs/benchmarks/quality_control.tsv"
    conda:
        conda_env("analysis")
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 20),
        runtime=runtime_min(10, 0.5),
    params:
        prefilter=config["de"]["prefilter"],
        size_factors=config["de"]["size_factors"],
        qc=config["qc"],
    script:
        "../scripts/quality_control.py"


rule programme_sample_scores:
    input:
        vst="results/qc/vst.h5ad",
        gmt="results/gene_sets/programs.gmt",
    output:
        scores="results/programs/sample_scores.tsv",
    log:
        "logs/programme_sample_scores.log",
    benchmark:
        "logs/benchmarks/programme_sample_scores.tsv"
    conda:
        conda_env("analysis")
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 20),
        runtime=runtime_min(10, 0.5),
    params:
        method=config["enrichment"]["sample_scores"],
        seed=config["enrichment"]["seed"],
    script:
        "../scripts/programme_sample_scores.py"
