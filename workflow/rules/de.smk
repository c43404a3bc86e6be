# Differential expression: one PyDESeq2 fit per model, then one test per contrast
# (de.test or the contrast's own test: wald | lrt | qlf).


rule fit_model:
    input:
        experiment=out("validated/experiment.h5ad"),
    output:
        # the fit as data (npz of arrays, read with allow_pickle=False), never a pickle
        model=out("models/{model}.npz"),
    log:
        log_path("fit_model/{model}.log"),
    benchmark:
        log_path("benchmarks/fit_model/{model}.tsv")
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
                "fit_type",
            )
        },
    script:
        "../scripts/fit_model.py"


rule contrast_results:
    input:
        model=lambda wc: out(f"models/{model_of(wc.contrast)}.npz"),
    output:
        table=out("de/{contrast}.tsv"),
    log:
        log_path("contrast_results/{contrast}.log"),
    benchmark:
        log_path("benchmarks/contrast_results/{contrast}.tsv")
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
        samples=out("validated/samples.tsv"),
    output:
        contrasts=out("design/contrasts.yaml"),
    log:
        log_path("write_contrasts.log"),
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
        tables=expand(out("de/{contrast}.tsv"), contrast=CONTRASTS),
        # the dispersion trend each fit used (parametric | local | mean)
        models=expand(out("models/{model}.npz"), model=MODELS),
        contrasts_file=out("design/contrasts.yaml"),
        samples=out("validated/samples.tsv"),
        # "why nothing is significant" looks at library sizes and QC outliers
        library_sizes=out("qc/library_sizes.tsv"),
        outliers=out("qc/outliers.tsv"),
    output:
        summary=out("de/contrasts.tsv"),
    log:
        log_path("summarise_contrasts.log"),
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
