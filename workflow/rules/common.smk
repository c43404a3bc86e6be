# Helpers that read the config, the sample sheet and the contrasts file.
# Everything here is cheap and side-effect free: it reads small text files and checks them,
# so a bad sheet or contrast stops the run before any job starts.
import re
import sys
from pathlib import Path

from snakemake.utils import validate

# The repository root, found from this file (not workflow.basedir) so that the workflow also
# works when it is used as a module of another workflow.
WORKFLOW_DIR = Path(workflow.current_basedir).parents[1]
sys.path.insert(0, str(WORKFLOW_DIR / "workflow" / "scripts"))

from msc_secretome import contrast_tests, settings  # noqa: E402

CONFIG_SCHEMA = WORKFLOW_DIR / "workflow" / "schemas" / "config.schema.yaml"
CONTRASTS_SCHEMA = WORKFLOW_DIR / "workflow" / "schemas" / "contrasts.schema.yaml"
ENVS = WORKFLOW_DIR / "envs"

settings.check_unknown_keys(config, CONFIG_SCHEMA, source="config")
validate(config, CONFIG_SCHEMA, set_default=True)
EXPERIMENT = settings.load_experiment(config, CONTRASTS_SCHEMA)
MODELS = EXPERIMENT.models
CONTRASTS = EXPERIMENT.contrasts
CONTRAST_TESTS = {
    name: contrast_tests.contrast_test(contrast, config["de"])
    for name, contrast in CONTRASTS.items()
}
GENE_SET_SOURCES = settings.gene_set_sources(config)
LIBRARIES = list(GENE_SET_SOURCES)


# Small bookkeeping jobs run on the submitting machine (which, on clusters, has internet).
localrules:
    prepare_gene_sets,
    summarise_contrasts,
    call_programs,


def one_of(names):
    """A wildcard regex matching exactly these names."""
    return "|".join(re.escape(name) for name in names)


wildcard_constraints:
    model=one_of(MODELS),
    contrast=one_of(CONTRASTS),
    library=one_of(LIBRARIES),


SINGLE_CELL = config["data_type"] == "single_cell"


def counts_input():
    """The count matrix validation reads: the user's, or the pseudobulk of their cells."""
    if SINGLE_CELL:
        return "results/single_cell/pseudobulk_counts.tsv.gz"
    return config["counts"]


def samples_input():
    if SINGLE_CELL:
        return "results/single_cell/pseudobulk_samples.tsv"
    return config["samples"]


def single_cell_outputs():
    return ["results/single_cell/cells.tsv.gz"] if SINGLE_CELL else []


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


def model_params(model):
    return settings.model_to_dict(MODELS[model], EXPERIMENT.references[model])


def contrast_params(contrast):
    return settings.contrast_to_dict(CONTRASTS[contrast])


def contrast_test(contrast):
    """The contrast's own test (contrasts file), else de.test (checked at parse time)."""
    return CONTRAST_TESTS[contrast]


def gene_set_files():
    """User files the gene sets come from (cached Enrichr files only once they exist)."""
    files = [s["path"] for s in GENE_SET_SOURCES.values() if s["kind"] == "gmt"]
    files += [
        s["path"]
        for s in GENE_SET_SOURCES.values()
        if s["kind"] == "enrichr" and Path(s["path"]).is_file()
    ]
    return catalogue_input() + files


def catalogue_input():
    programs = config["gene_sets"]["programs"]
    return [] if programs == "builtin" else [programs]
