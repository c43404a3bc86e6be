# How sure: leave-one-out refits of each model's programme calls (config `stability`), for
# the contrasts a verdict can use.


rule stability_refits:
    input:
        experiment=out("validated/experiment.h5ad"),
        gmt=out("gene_sets/programmes.gmt"),
        catalogue=catalogue_input(),
    output:
        refits=out("stability/{model}.tsv"),
    log:
        log_path("stability_refits/{model}.log"),
    benchmark:
        log_path("benchmarks/stability_refits/{model}.tsv")
    # the longest jobs, and only the verdict waits for them: started as soon as a DE fit
    # (priority 20) frees a core; enrichment and the bookkeeping jobs (5), then QC, follow
    priority: 10
    conda:
        conda_env("analysis")
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 30),
        runtime=runtime_min(30, 5.0),
    params:
        model=lambda wc: model_params(wc.model),
        contrasts=lambda wc: [
            contrast_params(name) for name in stability_contrasts(wc.model)
        ],
        blocks=STUDY["blocks"],
        de=config["de"],
        enrichment=enrichment_settings(),
        fdr=config["programmes"]["fdr"],
        catalogue=settings.catalogue_path(config),
    script:
        "../scripts/stability_refits.py"
