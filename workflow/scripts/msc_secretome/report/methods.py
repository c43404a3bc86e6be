"""Section 6, Methods: config, versions, input checksums, models, gene-id mapping and libraries."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from .formatting import _is_missing, _num, fmt_value, table_view


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(obj, Mapping):
        items = []
        for k in sorted(obj, key=str):
            items.extend(_flatten(obj[k], f"{prefix}.{k}" if prefix else str(k)))
        return items
    return [(prefix, obj)]


def _config_text(config: Any) -> str:
    normal = json.loads(json.dumps(config, sort_keys=True, default=str))
    try:
        import yaml

        return yaml.safe_dump(normal, sort_keys=True, default_flow_style=False, allow_unicode=True)
    except ImportError:  # pragma: no cover - pyyaml is a dependency
        return json.dumps(normal, sort_keys=True, indent=2)


KEY_PARAMETER = re.compile(
    r"seed|filter|min|max|alpha|fdr|lfc|threshold|cutoff|permutation|perm|shrink|design|ref",
    re.IGNORECASE,
)


GENE_MAPPING_LABELS = {
    "id_type": "identifier type of the counts",
    "n": "genes in the counts",
    "n_mapped": "mapped to a symbol",
    "rate": "mapping rate",
    "n_alias_resolved": "outdated symbols renamed (aliases)",
    "n_ambiguous_alias": "ambiguous aliases (left as they were)",
    "n_many_to_one": "ids sharing a symbol with another id",
}


def _gene_mapping_view(gene_mapping: pd.DataFrame | None) -> dict[str, Any] | None:
    """The gene-identifier block: a one-line summary and the mapping table (None if absent)."""
    if gene_mapping is None or gene_mapping.empty:
        return None
    if {"key", "value"} <= set(gene_mapping.columns):
        pairs = [
            (str(k), v) for k, v in zip(gene_mapping["key"], gene_mapping["value"], strict=True)
        ]
    else:  # one row, one column per key
        first = gene_mapping.iloc[0].to_dict()
        pairs = [(str(k), v) for k, v in first.items()]
    values = dict(pairs)

    def show(key: str, value: Any) -> str:
        x = _num(value)
        if key == "rate" and x is not None and math.isfinite(x):
            return f"{100 * x:.1f}%"
        if x is not None and math.isfinite(x) and not isinstance(value, bool):
            return fmt_value(int(x) if x == int(x) else x)
        return "" if _is_missing(value) else str(value)

    summary = None
    n, mapped = _num(values.get("n")), _num(values.get("n_mapped"))
    if n and mapped is not None:
        summary = {
            "mapped": show("n_mapped", mapped),
            "n": show("n", n),
            "rate": show("rate", values.get("rate", mapped / n)),
            "id_type": str(values.get("id_type", "unknown")),
        }
    table = table_view(
        "table-gene-mapping",
        ["item", "value"],
        [[GENE_MAPPING_LABELS.get(k, k), show(k, v)] for k, v in pairs],
        searchable=False,
        css_class="compact",
    )
    return {"summary": summary, "table": table}


#: Columns of ``results/gene_sets/libraries.tsv`` in the order the table shows them; the
#: orthologue columns only when a library was mapped from another species.
LIBRARY_COLUMNS = (
    "library",
    "kind",
    "organism",
    "path",
    "sha256",
    "n_sets",
    "n_genes",
    "genes_in_data",
    "coverage",
    "data_coverage",
    "coverage_verdict",
)
ORTHOLOGUE_COLUMNS = ("mapped_from", "ortholog_mapping_rate")
PERCENT_COLUMNS = ("coverage", "data_coverage", "ortholog_mapping_rate")
COUNT_COLUMNS = ("n_sets", "n_genes", "genes_in_data")


def _percent(value: Any) -> str:
    x = _num(value)
    return f"{100 * x:.1f}%" if x is not None and math.isfinite(x) else "NA"


def _targeted_panel_notes(libraries: pd.DataFrame) -> list[str]:
    """One sentence per library whose coverage verdict is ``targeted_panel``."""
    if "coverage_verdict" not in libraries.columns:
        return []
    notes = []
    for r in libraries.to_dict("records"):
        if str(r.get("coverage_verdict")) != "targeted_panel":
            continue
        notes.append(
            f"{r.get('library')}: only {_percent(r.get('coverage'))} of the library's genes are "
            f"in the data, but {_percent(r.get('data_coverage'))} of the data's genes are in the "
            "library and the data has fewer genes than the library: read as a targeted or "
            "pre-filtered count matrix, not a wrong identifier type."
        )
    return notes


def libraries_view(libraries: pd.DataFrame | None) -> dict[str, Any] | None:
    """The gene-set libraries block of Methods (None without a table).

    Parameters
    ----------
    libraries : ``results/gene_sets/libraries.tsv`` (one row per library; paths as the run
        shows them)

    Returns
    -------
    dict
        ``{"table": table view, "coverage_note": bool, "mapped": bool, "panel_notes": [str]}``:
        the orthologue columns (``mapped_from``, ``ortholog_mapping_rate``) are shown only when
        a library was mapped from another species (``mapped`` true); ``panel_notes`` explain each
        ``targeted_panel`` coverage verdict.
    """
    if libraries is None or libraries.empty:
        return None
    mapped = "mapped_from" in libraries.columns and any(
        not _is_missing(v) for v in libraries["mapped_from"]
    )
    wanted = LIBRARY_COLUMNS + (ORTHOLOGUE_COLUMNS if mapped else ())
    cols = [c for c in wanted if c in libraries.columns]
    rows = []
    for r in libraries.to_dict("records"):
        row = []
        for c in cols:
            v = r.get(c)
            if c in PERCENT_COLUMNS:
                row.append("" if c == "ortholog_mapping_rate" and _is_missing(v) else _percent(v))
            elif c in COUNT_COLUMNS:
                x = _num(v)
                row.append(float("nan") if x is None else x)
            else:
                row.append("" if _is_missing(v) else str(v))
        rows.append(row)
    table = table_view("table-libraries", cols, rows, searchable=False, css_class="compact")
    return {
        "coverage_note": "coverage" in cols,
        "mapped": mapped,
        "panel_notes": _targeted_panel_notes(libraries),
        "table": table,
    }


CONTRAST_COLUMNS = (  # shown when present (``test``: the DE test, once the summary has it)
    "contrast",
    "model",
    "kind",
    "test",
    "description",
    "design",
    "subset",
    "n_samples",
    "n_up",
    "n_down",
    "alpha",
)


def methods_view(
    methods: Mapping[str, Any] | None,
    contrasts: pd.DataFrame | None,
    libraries: pd.DataFrame | None,
    gene_mapping: pd.DataFrame | None = None,
    secretome: Mapping[str, Any] | None = None,
    counts_methods: str | None = None,
) -> dict[str, Any]:
    """The Methods section's view model (``templates/methods.html.j2``).

    ``methods``: the run facts (``msc_secretome.report.inputs.run_facts``: config, versions,
    inputs, models, workflow_version, date); the tables as the workflow wrote them.
    ``secretome``: the table view of the secretome stage's resources, versions and SHA-256
    (:func:`msc_secretome.report.secretome.secretome_methods_table`) or None;
    ``counts_methods``: the validation's methods sentence on how the counts were read.
    Every table entry is a table view or None when there is nothing to show.
    """
    methods = methods or {}
    models = methods.get("models") or []
    view: dict[str, Any] = {
        "workflow_version": methods.get("workflow_version", "unknown"),
        "date": methods.get("date", ""),
        "models": None,
        "contrasts": None,
        "key_parameters": None,
        "versions": None,
        "inputs": None,
    }
    if models:
        view["models"] = table_view(
            "table-models",
            ["model", "design", "subset", "n_samples"],
            [
                [
                    str(m.get("model", "")),
                    str(m.get("design", "")),
                    str(m.get("subset", "") or "all samples"),
                    _num(m.get("n_samples")) if _num(m.get("n_samples")) is not None else "",
                ]
                for m in models
            ],
            searchable=False,
        )
    if contrasts is not None and not contrasts.empty:
        cols = [c for c in CONTRAST_COLUMNS if c in contrasts.columns]
        rows = [[r.get(c) for c in cols] for r in contrasts.to_dict("records")]
        rows = [
            [("" if _is_missing(v) and not isinstance(v, float) else v) for v in r] for r in rows
        ]
        view["contrasts"] = table_view("table-contrasts", cols, rows)
    config = methods.get("config") or {}
    keys = [(k, v) for k, v in _flatten(config) if KEY_PARAMETER.search(k)]
    if keys:
        view["key_parameters"] = table_view(
            "table-key-params",
            ["parameter", "value"],
            [[k, json.dumps(v, sort_keys=True, default=str)] for k, v in keys],
            searchable=False,
            css_class="compact",
        )
    view["config_text"] = _config_text(config)
    view["gene_ids"] = _gene_mapping_view(gene_mapping)
    view["libraries"] = libraries_view(libraries)
    view["secretome"] = secretome
    view["counts_methods"] = counts_methods
    versions = methods.get("versions") or {}
    if versions:
        view["versions"] = table_view(
            "table-versions",
            ["package", "version"],
            [[str(k), str(versions[k])] for k in sorted(versions, key=str)],
            searchable=False,
            css_class="compact",
        )
    inputs = methods.get("inputs") or []
    if inputs:
        view["inputs"] = table_view(
            "table-inputs",
            ["path", "sha256"],
            [[str(i.get("path", "")), str(i.get("sha256", ""))] for i in inputs],
            searchable=False,
            css_class="compact",
        )
    return view
