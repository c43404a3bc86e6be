# Enrichment: gene-set libraries are checked and frozen, then GSEA prerank (and ORA) of each
# contrast.


rule prepare_gene_sets:
    input:
        # After validation, so a run with bad inputs writes nothing under results/;
        # the data's symbols give each library's coverage.
        experiment=out("validated/experiment.h5ad"),
        sources=gene_set_files(),
        aliases=[config["gene_aliases"]] if config["gene_aliases"] else [],
    output:
        gmts=expand(out("gene_sets/{library}.gmt"), library=LIBRARIES),
        # gene_sets.programmes none: the user libraries' sets, for per-sample/per-cell scores
        programmes_gmt=(
            [out("gene_sets/programmes.gmt")] if "programmes" not in LIBRARIES else []
        ),
        libraries=out("gene_sets/libraries.tsv"),
        ortholog_mapping=out("gene_sets/ortholog_mapping.tsv"),
    log:
        log_path("prepare_gene_sets.log"),
    # the stability refits wait for programmes.gmt: made beside the first DE fit (20)
    priority: 30
    conda:
        conda_env("analysis")
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        sources=GENE_SET_SOURCES,
        min_coverage=config["gene_sets"]["min_coverage"],
        enrichr_organism=config["gene_sets"]["enrichr"]["organism"],
        organism=config["organism"],
        orthologs=config["gene_sets"]["orthologs"],
        programmes=config["gene_sets"]["programmes"],
        download=config["gene_sets"]["enrichr"]["download"],
        cache_dir=config["gene_sets"]["enrichr"]["cache_dir"],
    script:
        "../scripts/prepare_gene_sets.py"


# GSEA prerank (and ORA) of every contrast of a model in one job (gene_set_enrichment_{model}):
# one Python start-up per model, not per contrast; one log per contrast.
for model_name in MODELS:
    model_contrasts = contrasts_of(model_name)

    rule:
        name:
            f"gene_set_enrichment_{model_name}"
        input:
            tables=[out(f"de/{name}.tsv") for name in model_contrasts],
            gmts=expand(out("gene_sets/{library}.gmt"), library=LIBRARIES),
        output:
            tables=[out(f"enrichment/{name}.tsv") for name in model_contrasts],
            ora=[out(f"enrichment/{name}.ora.tsv") for name in model_contrasts],
        log:
            job=log_path(f"gene_set_enrichment/models/{model_name}.log"),
            contrasts=[
                log_path(f"gene_set_enrichment/{name}.log") for name in model_contrasts
            ],
        benchmark:
            log_path(f"benchmarks/gene_set_enrichment/models/{model_name}.tsv")
        priority: 5  # as the DE jobs it follows (the chain to the calls)
        conda:
            conda_env("analysis")
        threads: config["enrichment"]["threads"]
        resources:
            # permutation prerank holds genes x permutations in memory (see run_prerank)
            mem_mb=mem_mb(
                600 if config["enrichment"]["method"] == "multilevel" else 1500, 10
            ),
            runtime=runtime_min(10 * len(model_contrasts), 0.5),
        params:
            contrasts=model_contrasts,
            libraries=LIBRARIES,
            enrichment=enrichment_settings(),
            min_size_by_library=config["gene_sets"]["min_size"],
            alpha=config["de"]["alpha"],
        script:
            "../scripts/gene_set_enrichment.py"
