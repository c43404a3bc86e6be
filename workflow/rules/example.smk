# The bundled example: a seeded simulation with planted programme shifts and truth tables.


rule simulate_example:
    output:
        counts="resources/example/counts.tsv.gz",
        samples="resources/example/samples.tsv",
        truth_de="resources/example/truth_de.tsv",
        truth_programmes="resources/example/truth_programmes.tsv",
        truth_ligands="resources/example/truth_ligands.tsv",
        secretome_proteomics="resources/example/secretome_proteomics.tsv",
    log:
        log_path("simulate_example.log"),
    benchmark:
        log_path("benchmarks/simulate_example.tsv")
    conda:
        conda_env("analysis")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        seed=config["example"]["seed"],
        n_genes=config["example"]["n_genes"],
        n_replicates=config["example"]["n_replicates"],
    script:
        "../scripts/simulate_example.py"
