# Single-cell input: cells -> QC -> pseudobulk per sample x cell type, read in chunks of cells
# (h5ad, 10x .h5, 10x matrix folder). The pseudobulk counts and sheet then go through the same validation, DE,
# enrichment, programme and report rules as bulk.


rule simulate_single_cell_example:
    output:
        cells="resources/example_single_cell/cells.h5ad",
        samples="resources/example_single_cell/samples.tsv",
        truth_programmes="resources/example_single_cell/truth_programmes.tsv",
    log:
        log_path("simulate_single_cell_example.log"),
    benchmark:
        log_path("benchmarks/simulate_single_cell_example.tsv")
    conda:
        conda_env("analysis")
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        example=config["single_cell"]["example"],
        cell_types=config["single_cell"]["cell_types"],
    script:
        "../scripts/simulate_single_cell_example.py"


rule pseudobulk_cells:
    input:
        cells=config["single_cell"]["counts"],
        samples=config["samples"],
        annotation=cell_annotation_input(),
    output:
        counts=out("single_cell/pseudobulk_counts.tsv.gz"),
        samples=out("single_cell/pseudobulk_samples.tsv"),
        cell_qc=out("single_cell/cell_qc.tsv"),
        dropped=out("single_cell/pseudobulk_dropped.tsv"),
        dropped_cells=out("single_cell/dropped_cells.tsv.gz"),
    log:
        log_path("pseudobulk_cells.log"),
    benchmark:
        log_path("benchmarks/pseudobulk_cells.tsv")
    conda:
        conda_env("analysis")
    threads: 1
    resources:
        mem_mb=single_cell_mem_mb(2000),
        runtime=runtime_min(15, 0.05),
    params:
        single_cell=config["single_cell"],
        # the models are re-checked on the kept pseudo-samples before any fit
        models={name: model_params(name) for name in MODELS},
        contrasts={name: contrast_params(name) for name in CONTRASTS},
    script:
        "../scripts/pseudobulk_cells.py"


rule cell_programme_scores:
    input:
        cells=config["single_cell"]["counts"],
        samples=config["samples"],
        annotation=cell_annotation_input(),
        gmt=out("gene_sets/programmes.gmt"),
    output:
        cells=out("single_cell/cells.tsv.gz"),
    log:
        log_path("cell_programme_scores.log"),
    benchmark:
        log_path("benchmarks/cell_programme_scores.tsv")
    conda:
        conda_env("analysis")
    threads: 2
    resources:
        mem_mb=single_cell_mem_mb(3000),
        runtime=runtime_min(30, 0.1),
    params:
        single_cell=config["single_cell"],
        seed=config["qc"]["seed"],
    script:
        "../scripts/cell_programme_scores.py"
