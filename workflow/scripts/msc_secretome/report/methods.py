"""Section 6, Methods: config, versions, input checksums, models, gene-id mapping and libraries."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from .formatting import _is_missing, _num, esc, fmt_value, html_table


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


def _gene_mapping_block(gene_mapping: pd.DataFrame | None) -> str:
    if gene_mapping is None or gene_mapping.empty:
        return ""
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

    out = ["<h3>Gene identifiers</h3>"]
    n, mapped = _num(values.get("n")), _num(values.get("n_mapped"))
    if n and mapped is not None:
        out.append(
            f"<p>{esc(show('n_mapped', mapped))} of {esc(show('n', n))} count-matrix ids "
            f"({esc(show('rate', values.get('rate', mapped / n)))}) map to a gene symbol used "
            "for gene-set "
            f"enrichment (identifier type: <code>{esc(values.get('id_type', 'unknown'))}</code>)."
            "</p>"
        )
    out.append(
        html_table(
            "table-gene-mapping",
            ["item", "value"],
            [[GENE_MAPPING_LABELS.get(k, k), show(k, v)] for k, v in pairs],
            searchable=False,
            css_class="compact",
        )
    )
    return "\n".join(out)


def _libraries_table(libraries: pd.DataFrame) -> str:
    wanted = (
        "library",
        "kind",
        "path",
        "sha256",
        "n_sets",
        "n_genes",
        "genes_in_data",
        "coverage",
    )
    cols = [c for c in wanted if c in libraries.columns]
    rows = []
    for r in libraries.to_dict("records"):
        row = []
        for c in cols:
            v = r.get(c)
            if c == "coverage":
                x = _num(v)
                row.append(f"{100 * x:.1f}%" if x is not None and math.isfinite(x) else "NA")
            elif c in ("n_sets", "n_genes", "genes_in_data"):
                x = _num(v)
                row.append(float("nan") if x is None else x)
            else:
                row.append("" if _is_missing(v) else str(v))
        rows.append(row)
    note = ""
    if "coverage" in cols:
        note = (
            '<p class="small">coverage: the fraction of a library\'s genes found in the data '
            "(genes_in_data / n_genes); a low coverage usually means the count-matrix ids are "
            "not the symbols the library uses.</p>"
        )
    return (
        "<h3>Gene-set libraries</h3>"
        + note
        + html_table("table-libraries", cols, rows, searchable=False, css_class="compact")
    )


def _methods_section(
    methods: Mapping[str, Any],
    contrasts: pd.DataFrame,
    libraries: pd.DataFrame,
    gene_mapping: pd.DataFrame | None = None,
) -> str:
    methods = methods or {}
    out = ['<section id="methods"><h2>6. Methods &amp; reproducibility</h2>']
    out.append(
        '<table class="kv"><tr><th>workflow version</th><td><code>'
        f"{esc(methods.get('workflow_version', 'unknown'))}</code></td></tr>"
        f'<tr><th>date</th><td><span class="report-date">{esc(methods.get("date", ""))}'
        "</span></td></tr></table>"
    )
    out.append(
        "<p>Pipeline: counts → QC (library sizes, VST, PCA, sample distances) → differential "
        "expression per model with PyDESeq2 (Wald tests, Benjamini–Hochberg padj, independent "
        "filtering: padj is NA for filtered genes) → GSEA prerank of each contrast's ranked "
        "genes against the curated programme catalogue and other libraries → programme calls "
        "(up/down/ns at the configured FDR) → dual-benefit verdict per therapy.</p>"
    )
    models = methods.get("models") or []
    if models:
        out.append("<h3>Models (design formulas)</h3>")
        out.append(
            html_table(
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
        )
    if contrasts is not None and not contrasts.empty:
        cols = [
            c
            for c in (
                "contrast",
                "model",
                "kind",
                "description",
                "design",
                "subset",
                "n_samples",
                "n_up",
                "n_down",
                "alpha",
            )
            if c in contrasts.columns
        ]
        rows = [[r.get(c) for c in cols] for r in contrasts.to_dict("records")]
        rows = [
            [("" if _is_missing(v) and not isinstance(v, float) else v) for v in r] for r in rows
        ]
        out.append("<h3>Contrasts</h3>")
        out.append(html_table("table-contrasts", cols, rows))
    config = methods.get("config") or {}
    keys = [(k, v) for k, v in _flatten(config) if KEY_PARAMETER.search(k)]
    if keys:
        out.append("<h3>Filters, thresholds and seeds</h3>")
        out.append(
            html_table(
                "table-key-params",
                ["parameter", "value"],
                [[k, json.dumps(v, sort_keys=True, default=str)] for k, v in keys],
                searchable=False,
                css_class="compact",
            )
        )
    out.append("<h3>All configuration parameters</h3>")
    out.append(f'<pre class="config">{esc(_config_text(config))}</pre>')
    gene_ids = _gene_mapping_block(gene_mapping)
    if gene_ids:
        out.append(gene_ids)
    if libraries is not None and not libraries.empty:
        out.append(_libraries_table(libraries))
    versions = methods.get("versions") or {}
    if versions:
        out.append("<h3>Package versions</h3>")
        out.append(
            html_table(
                "table-versions",
                ["package", "version"],
                [[str(k), str(versions[k])] for k in sorted(versions, key=str)],
                searchable=False,
                css_class="compact",
            )
        )
    inputs = methods.get("inputs") or []
    if inputs:
        out.append("<h3>Input files</h3>")
        out.append(
            html_table(
                "table-inputs",
                ["path", "sha256"],
                [[str(i.get("path", "")), str(i.get("sha256", ""))] for i in inputs],
                searchable=False,
                css_class="compact",
            )
        )
    out.append("</section>")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
