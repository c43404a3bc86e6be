"""Reading and checking the user's configuration: config keys, sample sheet, contrasts file.

Used by the Snakefile at parse time (cheap checks only: small text files) and by the rule
scripts, which rebuild models and contrasts from the plain dictionaries passed as params.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pandas as pd
import yaml

from .catalogue import builtin_catalogue_path
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
from .validation import read_sample_sheet


@dataclass
class Experiment:
    samples: pd.DataFrame
    models: dict[str, Model]
    contrasts: dict[str, Contrast]
    references: dict[str, dict[str, str]]  # model -> variable -> reference level used


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=str(path), fix="check the path in config")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as err:
        raise InputError(f"not valid YAML: {err}", path=str(path)) from err
    if not isinstance(data, dict):
        raise InputError("expected a mapping at the top level", path=str(path))
    return data


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


def default_references(config: dict) -> dict[str, str]:
    """Reference levels implied by the roles: control medium, no therapy."""
    roles = config["roles"]
    return {
        roles["exposure"]["column"]: str(roles["exposure"]["control"]),
        roles["therapy"]["column"]: str(roles["therapy"]["none"]),
    }


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
    path = config["contrasts"]
    data = read_yaml(path)
    validate_contrasts_file(data, contrasts_schema, path)
    models = parse_models(data, path)
    contrasts = parse_contrasts(data, models, path)
    check_roles(config, samples)
    references: dict[str, dict[str, str]] = {}
    for model in models.values():
        metadata = model_samples(samples, model, default_references(config), path)
        helper = check_design(metadata.loc[:, model.variables], model, path)
        references[model.name] = {
            v: str(metadata[v].cat.categories[0])
            for v in model.variables
            if v not in model.continuous
        }
        for contrast in contrasts.values():
            if contrast.model == model.name:
                contrast_vector(helper, contrast, model, metadata)
    return Experiment(samples, models, contrasts, references)


def check_roles(config: dict, samples: pd.DataFrame) -> None:
    """The roles name existing sheet columns and levels."""
    sheet = config["samples"]
    roles = config["roles"]
    wanted = {
        "cell_type": roles["cell_type"]["cancer"] + roles["cell_type"]["normal"],
        "exposure": [roles["exposure"]["exposed"], roles["exposure"]["control"]],
        "therapy": [roles["therapy"]["none"]],
    }
    for role, levels in wanted.items():
        column = roles[role]["column"]
        if column not in samples.columns:
            raise InputError(
                f"roles.{role}.column is {column!r}, which is not a column of the sample sheet "
                f"{sheet}; columns: {[c for c in samples.columns if c != 'sample']}",
                path="config",
            )
        present = set(samples[column])
        missing = [lv for lv in levels if str(lv) not in present]
        if missing:
            raise InputError(
                f"roles.{role} names level(s) {missing} of {column!r} that no sample has; "
                f"levels: {sorted(present)}",
                path="config",
            )


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

    ``programs`` (the catalogue) first, then GMT files, then named Enrichr/MSigDB libraries.
    Missing cached libraries are reported now (cheap, no network) unless download is allowed.
    """
    from .gene_set_cache import library_filename

    sets = config["gene_sets"]
    sources = {"programs": {"kind": "catalogue", "path": catalogue_path(config)}}
    for name, path in sets["libraries"].items():
        sources[name] = {"kind": "gmt", "path": path}
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
    return sources


def catalogue_path(config: dict) -> str:
    programs = config["gene_sets"]["programs"]
    return str(builtin_catalogue_path()) if programs == "builtin" else programs
