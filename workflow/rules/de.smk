# Differential expression: one PyDESeq2 fit per model, then one Wald test per contrast.


rule fit_model:
    input:
        experiment="results/validated/experiment.h5ad",
    output:
        model="results/models/{model}.pkl",
        wald="results/models/{model}.wald.pkl",
    log:
        "logs/fit_model/{model}.log",
    benchmark:
        "logs/benchmarks/fit_model/{model}.tsv"
    conda:
        conda_env("analysis")
    # the batched engine is numpy on one core; PyDESeq2's own spreads genes over workers
    threads: 1 if config["de"]["engine"] == "batched" else 2
    resources:
        mem_mb=mem_mb(1500, 30),
        runtime=runtime_min(15, 1.0),
    params:
        model=lambda wc: model_params(wc.model),
        # only what the fit uses: changing alpha or shrinkage does not refit
        de={
            key: config["de"][key]
            for key in ("prefilter", "size_factors", "refit_cooks", "engine")
        },
    script:
        "../scripts/fit_model.py"


rule contrast_results:
    input:
        wald=lambda wc: f"results/models/{model_of(wc.contrast)}.wald.pkl",
        # the full PyDESeq2 fit, read only for apeGLM shrinkage
        model=lambda wc: f"results/models/{model_of(wc.contrast)}.pkl",
    output:
        table="results/de/{contrast}.tsv",
    log:
        "logs/contrast_results/{contrast}.log",
    benchmark:
        "logs/benchmarks/contrast_results/{contrast}.tsv"
    conda:
        conda_env("analysis")
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 3),
        runtime=runtime_min(5, 0.1),
    params:
        contrast=lambda wc: contrast_params(wc.contrast),
        model=lambda wc: model_params(model_of(wc.contrast)),
        de=config["de"],
    script:
        "../scripts/contrast_results.py"


rule write_contrasts:
    input:
        # after validation, so a run with bad inputs writes nothing under results/
        samples="results/validated/samples.tsv",
    output:
        contrasts=settings.DERIVED_CONTRASTS,
    log:
        "logs/write_contrasts.log",
    conda:
        conda_env("analysis")
    threads: 1
    resources:
        mem_mb=200,
        runtime=2,
    params:
        contrasts_file=EXPERIMENT.contrasts_file,
        derived=EXPERIMENT.derived,
        source=config["contrasts"],
    script:
        "../scripts/write_contrasts.py"


rule summarise_contrasts:
    input:
        tables=expand("results/de/{contrast}.tsv", contrast=CONTRASTS),
        contrasts_file=settings.DERIVED_CONTRASTS,
        samples="results/validated/samples.tsv",
        # "why nothing is significant" looks at library sizes and QC outliers
        library_sizes="results/qc/library_sizes.tsv",
        outliers="results/qc/outliers.tsv",
    output:
        summary="results/de/contrasts.tsv",
    log:
        "logs/summarise_contrasts.log",
    conda:
        conda_env("analysis")
    threads: 1
    resources:
        mem_mb=mem_mb(500, 3),
        runtime=5,
    params:
        contrasts={name: contrast_params(name) for name in CONTRASTS},
        models={name: model_params(name) for name in MODELS},
        roles=config["roles"],
        alpha=config["de"]["alpha"],
        de=config["de"],
    script:
        "../scripts/summarise_contrasts.py"
