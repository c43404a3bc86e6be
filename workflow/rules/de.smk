# Differential expression: one PyDESeq2 fit per model, then one test per contrast
# (de.test or the contrast's own test: wald | lrt | qlf).


rule fit_model:
    input:
        experiment="results/validated/experiment.h5ad",
    output:
        # the fit as data (npz of arrays, read with allow_pickle=False), never a pickle
        model="results/models/{model}.npz",
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
            for key in (
                "prefilter",
                "size_factors",
                "refit_cooks",
                "engine",
                "dispersion_prior_seed",
            )
        },
    script:
        "../scripts/fit_model.py"


rule contrast_results:
    input:
        model=lambda wc: f"results/models/{model_of(wc.contrast)}.npz",
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
        test=lambda wc: contrast_test(wc.contrast),
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
        tests={name: contrast_test(name) for name in CONTRASTS},
        models={name: model_params(name) for name in MODELS},
        roles=config["roles"],
        alpha=config["de"]["alpha"],
        de=config["de"],
    script:
        "../scripts/summarise_contrasts.py"
