# Enrichment: gene-set libraries are checked and frozen, then GSEA prerank per contrast.


rule prepare_gene_sets:
    input:
        # Runs after validation, so a run with bad inputs writes nothing under results/.
        validated="results/validated/samples.tsv",
        catalogue=catalogue_input(),
        libraries=list(config["gene_sets"]["libraries"].values()),
    output:
        gmts=expand("results/gene_sets/{library}.gmt", library=LIBRARIES),
        libraries="results/gene_sets/libraries.tsv",
    log:
        "logs/prepare_gene_sets.log",
    conda:
        conda_env("analysis")
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        catalogue=settings.catalogue_path(config),
        libraries=config["gene_sets"]["libraries"],
    script:
        "../scripts/prepare_gene_sets.py"


rule gene_set_enrichment:
    input:
        table="results/de/{contrast}.tsv",
        gmts=expand("results/gene_sets/{library}.gmt", library=LIBRARIES),
    output:
        table="results/enrichment/{contrast}.tsv",
    log:
        "logs/gene_set_enrichment/{contrast}.log",
    benchmark:
        "benchmarks/gene_set_enrichment/{contrast}.tsv"
    conda:
        conda_env("analysis")
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 10),
        runtime=runtime_min(10, 0.5),
    params:
        libraries=LIBRARIES,
        enrichment=config["enrichment"],
    script:
        "../scripts/gene_set_enrichment.py"
