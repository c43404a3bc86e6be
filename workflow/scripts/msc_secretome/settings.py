"""Reading and checking the user's configuration: config keys, sample sheet, contrasts file.

Used by the Snakefile at parse time (cheap checks only: small text files) and by the rule
scripts, which rebuild models and contrasts from the plain dictionaries passed as params.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .catalogue import builtin_catalogue_path
from .contrast_derivation import derive_contrasts
from .design import (
    Contrast,
    Model,
    check_design,
    contrast_vector,
    model_samples,
    parse_contrasts,
    parse_models,
)
from .errors import InputError
from .experiments import EXPERIMENT_COLUMN, combined_sheet, experiment_contrasts
from .orthologs import MAPPED_ORGANISMS
from .roles import Study, read_study
from .strict_yaml import load_yaml_document, read_yaml_mapping, refuse_reinterpreted
from .validation import read_sample_sheet


def derived_contrasts_path(config: dict) -> str:
    """Where a run writes the contrasts it used (derived or the user's, as parsed)."""
    return f"{str(config.get('output_dir', 'results')).rstrip('/')}/design/contrasts.yaml"


@dataclass
class Experiment:
    samples: pd.DataFrame
    models: dict[str, Model]
    contrasts: dict[str, Contrast]
    references: dict[str, dict[str, str]]  # model -> variable -> reference level used
    study: Study
    contrasts_file: dict  # the contrasts-file mapping used (models:, contrasts:)
    derived: bool  # True when the contrasts were derived from the roles


def read_yaml(path: str | Path) -> dict:
    """A YAML file read strictly (duplicate keys refused, see :mod:`.strict_yaml`)."""
    return read_yaml_mapping(path)


def read_contrasts_file(path: str | Path) -> dict:
    """The contrasts file, strictly: every scalar is a name, a level or a design string, so a
    value YAML 1.1 turned into a boolean or number (``no``, ``010``) must be quoted."""
    document = load_yaml_document(path)
    if not isinstance(document.data, dict):
        raise InputError(
            "expected a mapping (models:, contrasts:) at the top level", path=str(path)
        )
    refuse_reinterpreted(document, what="a level or a name (text)")
    return document.data


def check_config_files(config: dict, files, schema_path: str | Path) -> None:
    """Re-read the config files Snakemake loaded, strictly, before the config is validated.

    Snakemake's own loader keeps the last of duplicated keys and reads ``no`` as ``False``.
    Each file is parsed again with :mod:`.strict_yaml`: a duplicate key stops the run naming
    the key and both lines; a value the schema wants as text (a level, a name, a path) that
    YAML 1.1 turned into a boolean, number or null is reported with what the user wrote and
    "write it in quotes".

    Parameters
    ----------
    config
        The merged config Snakemake built from ``files`` (and ``--config``).
    files
        ``workflow.configfiles``: the files in the order Snakemake merged them.
    schema_path
        The config JSON schema (``type: string`` marks text values).
    """
    import jsonschema  # here, not at module level: rule scripts import settings too

    documents = [load_yaml_document(path) for path in files]
    validator = jsonschema.Draft202012Validator(read_yaml(schema_path))
    for error in validator.iter_errors(config):
        wanted = error.validator_value if error.validator == "type" else None
        if wanted is None or "string" not in ([wanted] if isinstance(wanted, str) else wanted):
            continue
        position = tuple(error.absolute_path)
        for document in reversed(documents):  # the last file that sets a key wins
            if position in document.reinterpreted:
                refuse_reinterpreted(
                    document, lambda p, wanted=position: p == wanted, "text (a level, name or path)"
                )


def check_unknown_keys(config: dict, schema_path: str | Path, source: str = "config") -> None:
    """Misspelled keys get an error that lists the allowed keys (and the closest one)."""
    schema = read_yaml(schema_path)
    _walk_keys(config, schema, source, [])


def _walk_keys(value, schema: dict, source: str, trail: list[str]) -> None:
    if not isinstance(value, dict) or "properties" not in schema:
        return
    allowed = list(schema["properties"])
    if schema.get("additionalProperties") is False:
        for key in value:
            if key not in allowed:
                where = ".".join(trail) or "the top level"
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise InputError(
                    f"unknown key {key!r} at {where}.{hint} Allowed keys there: {allowed}",
                    path=source,
                    fix="correct the key (see workflow/schemas/config.schema.yaml)",
                )
    for key, sub in value.items():
        if key in schema["properties"]:
            _walk_keys(sub, schema["properties"][key], source, [*trail, str(key)])


def validate_contrasts_file(data: dict, schema_path: str | Path, path: str) -> None:
    """JSON-schema check of the contrasts file with a message naming the offending entry."""
    import jsonschema

    schema = read_yaml(schema_path)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = "/".join(str(p) for p in error.absolute_path) or "the top level"
        raise InputError(
            f"at {where}: {error.message}",
            path=path,
            fix="see the comments in config/contrasts.yaml and "
            "workflow/schemas/contrasts.schema.yaml",
        )


def default_references(study: Study) -> dict[str, str]:
    """Reference levels implied by the roles: the first control, no therapy."""
    references = {study.exposure_column: study.controls[0]}
    if study.therapy_column is not None:
        references[study.therapy_column] = str(study.none_level)
    return references


def whole_roles(config: dict, command_line_config: dict) -> None:
    """Take the study (``roles``, ``contrasts``) from the user's config, not the example's.

    Snakemake merges ``--configfile`` into ``config/config.yaml`` key by key, so a study
    without therapy would inherit the example's ``roles.therapy``. Omitting a role means
    "not in this study": when the command-line config names ``roles``, they replace the
    default's whole. When it names its own ``samples`` but no ``contrasts``, the example's
    contrasts file (written for the example's sheet) is not used: contrasts are derived.
    """
    if "roles" in command_line_config:
        config["roles"] = dict(command_line_config["roles"])
    own_sheets = "samples" in command_line_config or "experiments" in command_line_config
    if own_sheets and "contrasts" not in command_line_config:
        config["contrasts"] = None


def expected_pseudobulk_sheet(samples: pd.DataFrame, cell_types: list[str]) -> pd.DataFrame:
    """The pseudo-sample sheet a single-cell run will have if no pseudo-sample is dropped.

    One row per (sample, cell type): ``sample`` = ``{sample}__{cell_type}``,
    ``original_sample``, ``cell_type``, then the sheet's factors (as :func:`pseudobulk` makes).
    """
    if "cell_type" in samples.columns:
        raise InputError(
            "the single-cell sample sheet has a 'cell_type' column; cell types come from the "
            "cells (single_cell.cell_type_column)",
            path="config",
            fix="remove the column from the sample sheet",
        )
    rows = []
    for cell_type in cell_types:
        for record in samples.to_dict("records"):
            rows.append(
                {"sample": f"{record['sample']}__{cell_type}", "original_sample": record["sample"],
                 "cell_type": cell_type, **{k: v for k, v in record.items() if k != "sample"}}
            )  # fmt: skip
    return pd.DataFrame(rows)


def load_experiment(config: dict, contrasts_schema: str | Path) -> Experiment:
    """Sample sheet + contrasts, checked against each other (design rank, levels, roles).

    For single-cell data the checks run on the expected pseudo-sample sheet (every sample x
    every configured cell type); the fit re-checks the design on the pseudo-samples kept.
    """
    experiments = config.get("experiments") or {}
    if experiments:
        samples = combined_sheet(experiments)
    else:
        samples = read_sample_sheet(config["samples"])
    if config.get("data_type") == "single_cell":
        cell_types = config["single_cell"]["cell_types"]
        if not cell_types:
            raise InputError(
                "data_type is single_cell but single_cell.cell_types is empty",
                path="config",
                fix="list the cell types to analyse (values of single_cell.cell_type_column), "
                "or ['all'] with cell_type_column: null",
            )
        samples = expected_pseudobulk_sheet(samples, cell_types)
    sheet = "the experiments' sample sheets" if experiments else config["samples"]
    study = read_study(config["roles"], samples, sheet)
    path = config.get("contrasts")
    derived = path is None
    if experiments:
        data, derived, path = _experiments_contrasts(
            config, experiments, study, samples, contrasts_schema
        )
    elif derived:
        path = f"contrasts derived from roles ({derived_contrasts_path(config)})"
        data = derive_contrasts(study, samples)
    else:
        data = read_contrasts_file(path)
    validate_contrasts_file(data, contrasts_schema, path)
    models = parse_models(data, path)
    contrasts = parse_contrasts(data, models, path)
    references: dict[str, dict[str, str]] = {}
    for model in models.values():
        metadata = model_samples(samples, model, default_references(study), path)
        helper = check_design(metadata.loc[:, model.variables], model, path)
        references[model.name] = {
            v: str(metadata[v].cat.categories[0])
            for v in model.variables
            if v not in model.continuous
        }
        for contrast in contrasts.values():
            if contrast.model == model.name:
                contrast_vector(helper, contrast, model, metadata)
    return Experiment(samples, models, contrasts, references, study, data, derived)


def _experiments_contrasts(config, experiments: dict, study: Study, samples, schema):
    """Each experiment's contrasts (its own file, else derived), restricted to it."""
    if config.get("contrasts") is not None:
        raise InputError(
            "both `contrasts` and `experiments` are set",
            path="config",
            fix="give each experiment its own `contrasts:` file (or none, to derive them), "
            "and set the top-level `contrasts: null`",
        )
    data: dict = {"models": {}, "contrasts": {}}
    derived = False
    for name, spec in experiments.items():
        rows = samples[samples[EXPERIMENT_COLUMN] == name]
        if spec.get("contrasts"):
            own = read_contrasts_file(spec["contrasts"])
            validate_contrasts_file(own, schema, spec["contrasts"])
        else:
            own, derived = derive_contrasts(study, rows), True
        taken = set(data["models"]) | set(data["contrasts"])
        own = experiment_contrasts(name, own, taken)
        data["models"].update(own["models"])
        data["contrasts"].update(own["contrasts"])
    return data, derived, f"contrasts of the experiments ({derived_contrasts_path(config)})"


def model_sample_count(samples: pd.DataFrame, model: Model) -> int:
    """Number of sheet rows in the model's subset."""
    keep = pd.Series(True, index=samples.index)
    for column, levels in model.subset.items():
        keep &= samples[column].isin(levels)
    return int(keep.sum())


def model_to_dict(model: Model, references: dict[str, str]) -> dict:
    return {
        "name": model.name,
        "design": model.design,
        "subset": {k: list(v) for k, v in model.subset.items()},
        "reference": dict(references),
        "continuous": list(model.continuous),
    }


def model_from_dict(data: dict) -> Model:
    return Model(
        data["name"],
        data["design"],
        {k: tuple(v) for k, v in data["subset"].items()},
        dict(data["reference"]),
        tuple(data.get("continuous", ())),
    )


def contrast_to_dict(contrast: Contrast) -> dict:
    return {
        "name": contrast.name,
        "model": contrast.model,
        "kind": contrast.kind,
        "terms": [list(t) for t in contrast.terms],
        "at": dict(contrast.at),
        "test": contrast.test,
        "reduced": contrast.reduced,
    }


def contrast_from_dict(data: dict) -> Contrast:
    return Contrast(
        data["name"],
        data["model"],
        data["kind"],
        tuple(tuple(t) for t in data["terms"]),
        dict(data["at"]),
        data.get("test"),
        data.get("reduced"),
    )


def gene_set_sources(config: dict) -> dict[str, dict]:
    """Every gene-set library of the run, in order: name -> {kind, path or name}.

    ``programmes`` (the catalogue) first, then GMT files, then named Enrichr/MSigDB libraries.
    Missing cached libraries are reported now (cheap, no network) unless download is allowed.
    """
    from .gene_set_cache import library_filename

    sets = config["gene_sets"]
    check_organism(config)
    sources: dict[str, dict] = {}
    if sets["programmes"] != "none":
        sources["programmes"] = {"kind": "catalogue", "path": catalogue_path(config)}
        if sets["programmes"] == "builtin" and config.get("organism", "human") == "mouse":
            sources["programmes"]["map_from"] = "human"  # mapped to mouse by orthologues
    organism = config.get("organism", "human")
    for name, entry in sets["libraries"].items():
        sources[name] = gmt_source(name, entry, organism)
    enrichr = sets["enrichr"]
    for name in enrichr["libraries"]:
        if name in sources:
            raise InputError(f"gene-set library {name!r} is named twice", path="config")
        cached = Path(enrichr["cache_dir"]) / library_filename(name, enrichr["organism"])
        if not enrichr["download"] and not cached.is_file():
            raise InputError(
                f"gene_sets.enrichr: library {name!r} is not in the cache and download is off",
                path="config",
                fix=f"place {cached.name} in {cached.parent}/ (GMT), or set "
                "gene_sets.enrichr.download: true on a machine with internet",
            )
        sources[name] = {"kind": "enrichr", "path": str(cached), "name": name}
        library_organism = str(enrichr["organism"]).lower()
        if organism in MAPPED_ORGANISMS and library_organism in MAPPED_ORGANISMS:
            sources[name]["organism"] = library_organism
            if library_organism != organism:
                sources[name]["map_from"] = library_organism
    return sources


def gmt_source(name: str, entry: str | dict, organism: str) -> dict:
    """One ``gene_sets.libraries`` entry as a source: ``{kind: gmt, path[, organism, map_from]}``.

    ``entry`` is a path, or ``{path, organism}`` where ``organism`` is the species of the GMT's
    symbols; a library of the other mapped species than the data's is mapped through the
    shipped orthologue table (``map_from``), as the built-in catalogue is for mouse.
    """
    if isinstance(entry, str):
        return {"kind": "gmt", "path": entry}
    source = {"kind": "gmt", "path": entry["path"]}
    library_organism = entry.get("organism")
    if library_organism is None:
        return source
    if library_organism != organism and organism not in MAPPED_ORGANISMS:
        raise InputError(
            f"gene_sets.libraries.{name}: the library is {library_organism} but organism is "
            f"{organism!r}; the shipped orthologue table maps between {list(MAPPED_ORGANISMS)}",
            path="config",
            fix=f"give {name} in your organism's gene symbols, or set organism to human or mouse",
        )
    source["organism"] = library_organism
    if library_organism != organism:
        source["map_from"] = library_organism
    return source


def catalogue_path(config: dict) -> str | None:
    """Path of the programme catalogue; None for ``gene_sets.programmes: none``."""
    programmes = config["gene_sets"]["programmes"]
    if programmes == "none":
        return None
    return str(builtin_catalogue_path()) if programmes == "builtin" else programmes


def check_organism(config: dict) -> None:
    """``organism`` and ``gene_sets.programmes`` fit together; ``none`` needs GMT libraries."""
    organism = config.get("organism", "human")
    sets = config["gene_sets"]
    if organism == "other" and sets["programmes"] == "builtin":
        raise InputError(
            "organism is 'other' but gene_sets.programmes is 'builtin': the built-in programme "
            "catalogue is in human (HGNC) symbols and is mapped only to mouse",
            path="config",
            fix="set gene_sets.programmes: none and give your programmes as GMT files in your "
            "organism's gene ids (gene_sets.libraries), or a catalogue TSV in those ids",
        )
    if sets["programmes"] == "none" and not sets["libraries"] and not sets["enrichr"]["libraries"]:
        raise InputError(
            "gene_sets.programmes is 'none' but no gene-set library is given: nothing would be "
            "tested",
            path="config",
            fix="give GMT files in gene_sets.libraries ({name: path}); their sets become the "
            "programmes (name them CYT_, STRESS_, REG_ or RISK_ ... for the verdict)",
        )
