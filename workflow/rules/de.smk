# Differential expression: one job per model fits it (PyDESeq2) and tests each of its
# contrasts (de.test or the contrast's own test: wald | lrt | qlf). One rule per model
# (differential_expression_{model}), because a rule's outputs cannot depend on a wildcard:
# each lists the model's file and its contrasts' tables, with one log per contrast.
# One job per model instead of a fit job plus a job per contrast: the contrasts share the
# fit's full-model work (QL) and one Python start-up; models still run in parallel.


for model_name in MODELS:
    model_contrasts = contrasts_of(model_name)

    rule:
        name:
            f"differential_expression_{model_name}"
        input:
            experiment=out("validated/experiment.h5ad"),
        output:
            # the fit as data (npz of arrays, read with allow_pickle=False), never a pickle
            model=out(f"models/{model_name}.npz"),
            tables=[out(f"de/{name}.tsv") for name in model_contrasts],
        log:
            fit=log_path(f"fit_model/{model_name}.log"),
            contrasts=[
                log_path(f"contrast_results/{name}.log") for name in model_contrasts
            ],
        benchmark:
            log_path(f"benchmarks/differential_expression/{model_name}.tsv")
        # first when cores are short (measured on the example, 2 cores): every later stage
        # waits for the fits (DE -> enrichment -> calls -> secretome -> report), the
        # refits (priority 10) then run while the rest of the chain (5) fills in, QC last
        priority: 20
        conda:
            conda_env("analysis")
        # the batched engine is numpy on one core; PyDESeq2's own spreads genes over workers
        threads: 1 if config["de"]["engine"] == "batched" else 2
        resources:
            mem_mb=mem_mb(1500, 30),
            runtime=runtime_min(15 + 2 * len(model_contrasts), 1.0),
        params:
            model=model_params(model_name),
            contrasts=[contrast_params(name) for name in model_contrasts],
            tests={name: contrast_test(name) for name in model_contrasts},
            de=config["de"],
        script:
            "../scripts/fit_and_test_model.py"


rule write_contrasts:
    input:
        # after validation, so a run with bad inputs writes nothing under results/
        samples=out("validated/samples.tsv"),
    output:
        contrasts=out("design/contrasts.yaml"),
    log:
        log_path("write_contrasts.log"),
    priority: 5  # on the chain to the verdict and the report, before QC
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
    priority: 5  # on the chain to the verdict and the report, before QC
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
