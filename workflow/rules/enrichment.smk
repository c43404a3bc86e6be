# Enrichment: gene-set libraries are checked and frozen, then GSEA prerank per contrast.


rule prepare_gene_sets:
    input:
        catalogue=catalogue_input(),
        libraries=list(config["gene_sets"]["libraries"].values()),
    output:
        gmts=expand("results/gene_sets/{library}.gmt", library=LIBRARIES),
        libraries="results/gene_sets/libraries.tsv",
    params:
        catalogue=settings.catalogue_path(config),
        libraries=config["gene_sets"]["libraries"],
    log:
        "logs/prepare_gene_sets.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        conda_env("analysis")
    script:
        "../scripts/prepare_gene_sets.py"


rule gene_set_enrichment:
    input:
        table="results/de/{contrast}.tsv",
        gmts=expand("results/gene_sets/{library}.gmt", library=LIBRARIES),
    output:
        table="results/enrichment/{contrast}.tsv",
    params:
        libraries=LIBRARIES,
        enrichment=config["enrichment"],
    log:
        "logs/gene_set_enrichment/{contrast}.log",
    benchmark:
        "benchmarks/gene_set_enrichment/{contrast}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 10),
        runtime=runtime_min(10, 0.5),
    conda:
        conda_env("analysis")
    script:
        "../scripts/gene_set_enrichment.py"
