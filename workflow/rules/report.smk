# The report: one self-contained HTML file a lab can share.


rule html_report:
    input:
        samples=out("validated/samples.tsv"),
        experiment=out("validated/experiment.h5ad"),
        library_sizes=out("qc/library_sizes.tsv"),
        pca=out("qc/pca.tsv"),
        pca_variance=out("qc/pca_variance.tsv"),
        distances=out("qc/sample_distances.tsv"),
        outliers=out("qc/outliers.tsv"),
        contrasts=out("de/contrasts.tsv"),
        de=expand(out("de/{contrast}.tsv"), contrast=CONTRASTS),
        enrichment=expand(out("enrichment/{contrast}.tsv"), contrast=CONTRASTS),
        calls=out("programmes/programme_calls.tsv"),
        dual_benefit=out("programmes/dual_benefit.tsv"),
        libraries=out("gene_sets/libraries.tsv"),
        validation_summary=out("validated/validation_summary.tsv"),
        count_summary_rows=out("validated/count_summary_rows.tsv"),
        sample_scores=out("programmes/sample_scores.tsv"),
        ora=expand(out("enrichment/{contrast}.ora.tsv"), contrast=CONTRASTS),
        gene_mapping=out("validated/gene_mapping.tsv"),
        programmes_gmt=out("gene_sets/programmes.gmt"),
        # single-cell runs: cells (UMAP, per-cell scores), cell QC, dropped pseudo-samples
        # and dropped cells
        single_cell=(
            [
                out("single_cell/cells.tsv.gz"),
                out("single_cell/cell_qc.tsv"),
                out("single_cell/pseudobulk_dropped.tsv"),
                out("single_cell/dropped_cells.tsv.gz"),
            ]
            if SINGLE_CELL
            else []
        ),
        # secretome.enabled: ligand links, pathway activity, verdict factors, resources
        secretome=secretome_report_inputs(),
    output:
        html=report(
            out("report/index.html"),
            caption="../report/html_report.rst",
            category="1. Verdict",
            labels={"document": "full interactive report"},
        ),
    log:
        log_path("html_report.log"),
    benchmark:
        log_path("benchmarks/html_report.tsv")
    conda:
        conda_env("report")
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 2),
        runtime=runtime_min(10, 0.1),
    params:
        contrasts=list(CONTRASTS),
        config=config,
        models={name: model_params(name) for name in MODELS},
        inputs=lambda wc: [
            *counts_input(),
            *([config["samples"]] if config["samples"] else []),
            config["contrasts"] or out("design/contrasts.yaml"),
        ],
        workflow_dir=str(WORKFLOW_DIR),
        absolute_paths=config["report"]["absolute_paths"],
    script:
        "../scripts/html_report.py"


onsuccess:
    if Path(out("report/index.html")).exists():
        print(f"\nReport: {Path(out('report/index.html')).resolve()}\n")
