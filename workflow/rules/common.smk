# Helpers that read the config, the sample sheet and the contrasts file.
# Everything here is cheap and side-effect free but for one exit handler (below): it reads
# small text files and checks them, so a bad sheet or contrast stops the run before any job
# starts.
import re
import sys
from pathlib import Path

from snakemake.utils import validate

# The repository root, found from this file (not workflow.basedir) so that the workflow also
# works when it is used as a module of another workflow.
WORKFLOW_DIR = Path(workflow.current_basedir).parents[1]
sys.path.insert(0, str(WORKFLOW_DIR / "workflow" / "scripts"))

from msc_secretome import contrast_tests, settings, stability  # noqa: E402
from msc_secretome.errors import InputError  # noqa: E402
from msc_secretome.experiments import experiment_count_files  # noqa: E402
from msc_secretome.rule_logging import freeze_objects_at_exit  # noqa: E402
from msc_secretome.validation import check_gene_set_files, count_spec  # noqa: E402

# Snakemake's process, too, skips the final garbage collections over what it imported at exit
# (a dry run: 2.4-3.3 s -> 1.7-1.9 s measured); its own exit work (locks, logs, metadata) is
# explicit and still runs.
freeze_objects_at_exit()

CONFIG_SCHEMA = WORKFLOW_DIR / "workflow" / "schemas" / "config.schema.yaml"
CONTRASTS_SCHEMA = WORKFLOW_DIR / "workflow" / "schemas" / "contrasts.schema.yaml"
ENVS = WORKFLOW_DIR / "envs"

# Snakemake's YAML loader keeps the last of duplicated keys and reads `no` as False: read the
# config files it loaded again, strictly, so such a config stops here with the key and lines.
settings.check_config_files(config, workflow.configfiles, CONFIG_SCHEMA)
settings.whole_roles(config, workflow.config_settings.overwrite_config)
settings.check_unknown_keys(config, CONFIG_SCHEMA, source="config")
validate(config, CONFIG_SCHEMA, set_default=True)
# Every output goes under output_dir and every log under log_dir (both relative to the working
# directory), so two configs (the bulk and the single-cell example) can share one folder.
OUTPUT_DIR = config["output_dir"].rstrip("/")
LOG_DIR = config["log_dir"].rstrip("/")


def out(path):
    """``path`` (a pattern, may hold wildcards) inside the run's output folder."""
    return f"{OUTPUT_DIR}/{path}"


def log_path(path):
    """``path`` inside the run's log folder (logs and Snakemake benchmark files)."""
    return f"{LOG_DIR}/{path}"


EXPERIMENT = settings.load_experiment(config, CONTRASTS_SCHEMA)
MODELS = EXPERIMENT.models
CONTRASTS = EXPERIMENT.contrasts
STUDY = EXPERIMENT.study.to_dict()
CONTRAST_TESTS = {
    name: contrast_tests.contrast_test(contrast, config["de"])
    for name, contrast in CONTRASTS.items()
}
GENE_SET_SOURCES = settings.gene_set_sources(config)
LIBRARIES = list(GENE_SET_SOURCES)
# User gene-set files are small: read them now, so a bad one stops the run before any job.
check_gene_set_files(
    GENE_SET_SOURCES, config["gene_sets"]["min_size"], config.get("organism", "human")
)


# Small bookkeeping jobs run on the submitting machine (which, on clusters, has internet).
localrules:
    prepare_gene_sets,
    summarise_contrasts,
    write_contrasts,
    call_programmes,
    dual_benefit_verdict,


def one_of(names):
    """A wildcard regex matching exactly these names."""
    return "|".join(re.escape(name) for name in names)


wildcard_constraints:
    model=one_of(MODELS),
    contrast=one_of(CONTRASTS),
    library=one_of(LIBRARIES),


SINGLE_CELL = config["data_type"] == "single_cell"


EXPERIMENTS = config["experiments"]
# how count files are read, unless an experiment says otherwise
COUNT_DEFAULTS = {
    key: config[key]
    for key in ("counts_format", "counts_strand", "round_estimated_counts")
}


def counts_spec():
    """What validation reads (count_formats.read_counts): the user's counts, one file or one
    per sample, the experiments' joined matrix, or the pseudobulk of their cells."""
    if SINGLE_CELL or EXPERIMENTS:
        combined = (
            out("single_cell/pseudobulk_counts.tsv.gz")
            if SINGLE_CELL
            else out("experiments/counts.tsv.gz")
        )
        return count_spec(
            combined, EXPERIMENT.samples.loc[:, ["sample"]], counts_format="matrix"
        )
    return count_spec(
        config["counts"], EXPERIMENT.samples, counts_format=config["counts_format"],
        strand=config["counts_strand"], round_estimated=config["round_estimated_counts"],
        samples_path=config["samples"],
    )  # fmt: skip


COUNTS_SPEC = counts_spec()


def counts_input():
    """The count files validation reads."""
    if COUNTS_SPEC["files"]:
        return list(COUNTS_SPEC["files"].values())
    return [COUNTS_SPEC["counts"]]


def annotation_input():
    """gene_id -> symbol: the user's annotation, else (several experiments) the gene names the
    experiments' count files carry (a header-only table when none does)."""
    if config["gene_annotation"]:
        return [config["gene_annotation"]]
    return [out("experiments/gene_annotation.tsv")] if EXPERIMENTS else []


def samples_input():
    if SINGLE_CELL:
        return out("single_cell/pseudobulk_samples.tsv")
    if EXPERIMENTS:
        return out("experiments/samples.tsv")
    return config["samples"]


def cell_annotation_input():
    """The cell annotation table beside a 10x folder/.h5 (or an h5ad), when given."""
    annotation = config["single_cell"]["cell_annotation"]
    return [annotation] if annotation else []


def single_cell_mem_mb(base):
    """Memory of a single-cell job. h5ad, 10x .h5 and 10x matrix folder counts are read in
    chunks of cells (msc_secretome.cell_source, mtx_rows): memory hardly grows with the
    input."""
    return mem_mb(base, 0.1)


def single_cell_outputs():
    return [out("single_cell/cells.tsv.gz")] if SINGLE_CELL else []


def conda_env(name):
    return str(ENVS / f"{name}.yaml")


def mem_mb(base, per_input_mb=0):
    """Memory that scales with the size of the job's input and grows on each retry."""

    def resource(wildcards, input, attempt):
        return int((base + per_input_mb * input.size_mb) * attempt)

    return resource


def runtime_min(base, per_input_mb=0.0):
    """Runtime (minutes) that scales with input size and grows on each retry."""

    def resource(wildcards, input, attempt):
        return int((base + per_input_mb * input.size_mb) * attempt) + 1

    return resource


def model_of(contrast):
    return CONTRASTS[contrast].model


def contrasts_of(model):
    """The contrasts of a model, in the contrasts file's order."""
    return [name for name, contrast in CONTRASTS.items() if contrast.model == model]


def model_params(model):
    return settings.model_to_dict(MODELS[model], EXPERIMENT.references[model])


def contrast_params(contrast):
    return settings.contrast_to_dict(CONTRASTS[contrast])


def contrast_test(contrast):
    """The contrast's own test (contrasts file), else de.test (checked at parse time)."""
    return CONTRAST_TESTS[contrast]


def enrichment_settings():
    """config `enrichment` as the jobs' params: without `threads`, which changes how fast
    the tables come, not what they hold (so changing it re-runs nothing)."""
    return {k: v for k, v in config["enrichment"].items() if k != "threads"}


def gene_set_files():
    """User files the gene sets come from; decided by the config alone, never by the disk.

    Enrichr/MSigDB cache files are inputs only when downloading is off (then settings has
    checked that they exist). With downloading on, prepare_gene_sets fills the cache itself,
    so listing the file only once it exists would change the job's input set after the first
    run and make every later `snakemake -n` plan the run again.
    """
    files = [s["path"] for s in GENE_SET_SOURCES.values() if s["kind"] == "gmt"]
    if not config["gene_sets"]["enrichr"]["download"]:
        files += [
            s["path"] for s in GENE_SET_SOURCES.values() if s["kind"] == "enrichr"
        ]
    return catalogue_input() + files


def stability_contrasts(model):
    """The contrasts of a model its leave-one-out refits test: those a verdict can use."""
    model = settings.model_from_dict(model_params(model))
    return [
        contrast.name
        for contrast in stability.verdict_contrasts(
            list(CONTRASTS.values()), model, EXPERIMENT.study
        )
    ]


def stability_refits():
    """Leave-one-out refit tables of the models small enough to refit and with a contrast
    a verdict can use (none when off)."""
    if not config["stability"]["enabled"]:
        return []
    limit = config["stability"]["max_samples"]
    return [
        out(f"stability/{name}.tsv")
        for name, model in MODELS.items()
        if settings.model_sample_count(EXPERIMENT.samples, model) <= limit
        and stability_contrasts(name)
    ]


def catalogue_input():
    programmes = config["gene_sets"]["programmes"]
    return [] if programmes in ("builtin", "none") else [programmes]


SECRETOME = config["secretome"]


def secretome_outputs():
    """The secretome stage's tables when it is enabled."""
    if not SECRETOME["enabled"]:
        return []
    builtin = [
        key
        for key, value in (("ligand_receptor", "liana"), ("footprints", "builtin"))
        if SECRETOME[key] == value
    ]
    if config["organism"] == "other" and builtin:
        raise InputError(
            f"organism is other, but secretome.{builtin[0]} is the built-in human/mouse resource",
            path="config",
            fix="set secretome.enabled: false, or give secretome.ligand_receptor and "
            "secretome.footprints as tables in your organism's ids",
        )
    return [
        out("secretome/ligand_links.tsv"),
        out("secretome/verdict_factors.tsv"),
    ]


def secretome_report_inputs():
    """The secretome tables the report shows, in the order the report reads them."""
    if not secretome_outputs():
        return []
    return [
        out("secretome/ligand_links.tsv"),
        out("secretome/pathway_activity.tsv"),
        out("secretome/pathway_sample_scores.tsv"),
        out("secretome/verdict_factors.tsv"),
        out("secretome/methods.tsv"),
    ]


EXAMPLE_COUNTS = "resources/example/counts.tsv.gz"
EXAMPLE_PROTEOMICS = "resources/example/secretome_proteomics.tsv"


def secretome_proteomics_input():
    if not SECRETOME["enabled"] or SECRETOME["source"] != "proteomics":
        return []
    own_counts = config["counts"] != EXAMPLE_COUNTS or EXPERIMENTS or SINGLE_CELL
    if SECRETOME["proteomics"] == EXAMPLE_PROTEOMICS and own_counts:
        raise InputError(
            "secretome.proteomics is the simulated example's medium, but counts are your own",
            path="config",
            fix="set secretome.source: builtin, or secretome.proteomics: your medium's table",
        )
    if not SECRETOME["proteomics"]:
        raise InputError(
            "secretome.source is proteomics but secretome.proteomics is not set",
            path="config",
            fix="give secretome.proteomics: the path of the medium's proteomics table",
        )
    return [SECRETOME["proteomics"]]


def secretome_table_inputs():
    """User tables the secretome stage reads (built-in ones live in the package)."""
    keys = {"factors": "builtin", "ligand_receptor": "liana", "footprints": "builtin"}
    return [SECRETOME[k] for k, builtin in keys.items() if SECRETOME[k] != builtin]


def secretome_producer_inputs():
    """The producer cells' counts (and DE table) when the secretome comes from their RNA."""
    if not SECRETOME["enabled"] or SECRETOME["source"] != "producer_rna":
        return []
    producer = SECRETOME["producer_rna"]
    if not producer["counts"]:
        raise InputError(
            "secretome.source is producer_rna but secretome.producer_rna.counts is not set",
            path="config",
            fix="give secretome.producer_rna.counts: the MSCs' count matrix",
        )
    return [producer["counts"]] + ([producer["de"]] if producer["de"] else [])


def user_programme_gmts():
    """With gene_sets.programmes: none the GMT libraries define the programmes (call_programmes)."""
    if config["gene_sets"]["programmes"] != "none":
        return []
    return expand(out("gene_sets/{library}.gmt"), library=LIBRARIES)
