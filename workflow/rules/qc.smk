# Quality control and exploration on all samples: library sizes, VST, PCA, distances.


rule quality_control:
    input:
        experiment=out("validated/experiment.h5ad"),
    output:
        library_sizes=out("qc/library_sizes.tsv"),
        pca=out("qc/pca.tsv"),
        pca_variance=out("qc/pca_variance.tsv"),
        distances=out("qc/sample_distances.tsv"),
        outliers=out("qc/outliers.tsv"),
        vst=out("qc/vst.h5ad"),
    log:
        log_path("quality_control.log"),
    benchmark:
        log_path("benchmarks/quality_control.tsv")
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
        vst_genes=config["qc"]["vst_genes"],
    script:
        "../scripts/quality_control.py"


rule programme_sample_scores:
    input:
        vst=out("qc/vst.h5ad"),
        gmt=out("gene_sets/programmes.gmt"),
    output:
        scores=out("programmes/sample_scores.tsv"),
    log:
        log_path("programme_sample_scores.log"),
    benchmark:
        log_path("benchmarks/programme_sample_scores.tsv")
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
