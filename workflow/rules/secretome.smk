# Secretome: which secreted factors can explain the programmes, through which receptors and
# pathways (ligand-receptor resource, PROGENy footprints, receptor expression per receiver).


rule secretome_links:
    input:
        de=expand(out("de/{contrast}.tsv"), contrast=CONTRASTS),
        contrasts=out("de/contrasts.tsv"),
        calls=out("programmes/programme_calls.tsv"),
        experiment=out("validated/experiment.h5ad"),
        library_sizes=out("qc/library_sizes.tsv"),
        vst=out("qc/vst.h5ad"),
        proteomics=secretome_proteomics_input(),
        producer=secretome_producer_inputs(),
        user_tables=secretome_table_inputs(),
    output:
        links=report(
            out("secretome/ligand_links.tsv"),
            caption="../report/ligand_links.rst",
            category="4. Secretome",
            labels={"table": "ligand links"},
        ),
        activity=out("secretome/pathway_activity.tsv"),
        sample_scores=out("secretome/pathway_sample_scores.tsv"),
        receptors=out("secretome/receptor_expression.tsv"),
        verdict_factors=out("secretome/verdict_factors.tsv"),
        methods=out("secretome/methods.tsv"),
    log:
        log_path("secretome_links.log"),
    benchmark:
        log_path("benchmarks/secretome_links.tsv")
    priority: 5  # on the chain to the verdict and the report, before QC
    conda:
        conda_env("analysis")
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 10),
        runtime=runtime_min(10, 0.2),
    params:
        contrasts=list(CONTRASTS),
        # the species of the counts picks the resource, footprints and factor symbols
        secretome={**config["secretome"], "organism": config["organism"]},
        statistic=config["enrichment"]["statistic"],
        study=STUDY,
        alpha=config["de"]["alpha"],
    script:
        "../scripts/secretome_links.py"
