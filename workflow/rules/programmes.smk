# Programme calls per contrast, then the dual-benefit verdict per therapy arm with its
# stability. Two jobs, so the secretome stage (which needs the calls, not the verdict) runs
# while the leave-one-out refits still do.


rule call_programmes:
    input:
        enrichment=expand(out("enrichment/{contrast}.tsv"), contrast=CONTRASTS),
        catalogue=catalogue_input(),
        gmts=user_programme_gmts(),
    output:
        calls=report(
            out("programmes/programme_calls.tsv"),
            caption="../report/programme_calls.rst",
            category="3. Programmes",
            labels={"table": "programme calls"},
        ),
    log:
        log_path("call_programmes.log"),
    priority: 5  # on the chain to the verdict and the report, before QC
    conda:
        conda_env("analysis")
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        contrasts=list(CONTRASTS),
        catalogue=settings.catalogue_path(config),
        programmes=config["gene_sets"]["programmes"],
        organism=config["organism"],
        orthologs=config["gene_sets"]["orthologs"],
        libraries=[name for name in LIBRARIES if name != "programmes"],
        fdr=config["programmes"]["fdr"],
        group_min_jaccard=config["enrichment"]["group_min_jaccard"],
    script:
        "../scripts/call_programmes.py"


rule dual_benefit_verdict:
    input:
        calls=out("programmes/programme_calls.tsv"),
        contrasts=out("de/contrasts.tsv"),
        catalogue=catalogue_input(),
        gmts=user_programme_gmts(),
        samples=out("validated/samples.tsv"),
        stability=stability_refits(),
    output:
        dual_benefit=report(
            out("programmes/dual_benefit.tsv"),
            caption="../report/dual_benefit.rst",
            category="1. Verdict",
            labels={"table": "dual benefit per therapy"},
        ),
    log:
        log_path("dual_benefit_verdict.log"),
    priority: 5  # on the chain to the verdict and the report, before QC
    conda:
        conda_env("analysis")
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        catalogue=settings.catalogue_path(config),
        programmes=config["gene_sets"]["programmes"],
        organism=config["organism"],
        orthologs=config["gene_sets"]["orthologs"],
        libraries=[name for name in LIBRARIES if name != "programmes"],
        study=STUDY,
    script:
        "../scripts/dual_benefit_verdict.py"
