"""page"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

import pandas as pd

from ..tables import write_text_atomic
from .cells import _single_cell_section
from .constants import DEFAULT_TITLE, PLOTLY_CONFIG
from .contrasts import _contrast_section
from .enrichment_tables import _enrichment_section
from .formatting import _is_missing, _json, _num, _plural, contrast_ids, esc
from .methods import _methods_section
from .programmes import _programmes_section
from .qc import _qc_section, find_outliers
from .running_score import _running_block
from .templating import render
from .verdict import verdict_view


def _therapy_none_level(config: Any) -> Any:
    """The sample-sheet level meaning 'no therapy' (``roles.therapy.none``, default 'none')."""
    try:
        level = config["roles"]["therapy"]["none"]
    except (KeyError, TypeError):
        return "none"
    return "none" if _is_missing(level) else level


def _static(name: str) -> str:
    """Text of a file under ``report/static/`` (shipped as package data), inlined at render."""
    return (files(__package__) / "static" / name).read_text(encoding="utf-8")


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    # a literal "</script" would end the element early; the bundle has none, but be safe
    return js.replace("</script", "<\\/script")


def render_report(
    *,
    samples: pd.DataFrame,
    library_sizes: pd.DataFrame,
    pca: pd.DataFrame,
    pca_variance: pd.DataFrame,
    distances: pd.DataFrame,
    contrasts: pd.DataFrame,
    de: Mapping[str, pd.DataFrame],
    enrichment: Mapping[str, pd.DataFrame],
    program_calls: pd.DataFrame,
    dual_benefit: pd.DataFrame,
    libraries: pd.DataFrame,
    methods: Mapping[str, Any],
    title: str = DEFAULT_TITLE,
    sample_scores: pd.DataFrame | None = None,
    ora: Mapping[str, pd.DataFrame] | None = None,
    gene_mapping: pd.DataFrame | None = None,
    programme_gene_sets: Mapping[str, Sequence[str]] | None = None,
    single_cell: Mapping[str, pd.DataFrame | None] | None = None,
) -> str:
    """The whole report as one self-contained HTML string (see the module docstring).

    Optional inputs (a section or figure is left out when its input is None):
    ``sample_scores`` (``sample`` + one column per programme; only ``sample`` when disabled),
    ``ora`` (contrast -> ORA table), ``gene_mapping`` (key/value rows of the gene-id mapping)
    and ``programme_gene_sets`` (programme -> genes, for the GSEA running-score plots; the
    ranking statistic and weight come from ``methods["config"]["enrichment"]``) and
    ``single_cell`` (single-cell runs only: ``cells`` -- one row per scored cell with ``cell``,
    ``sample``, ``cell_type``, the factors, ``UMAP1``/``UMAP2`` and one score column per
    programme --, ``cell_qc`` and ``dropped``; ``samples`` is then the pseudobulk sheet with
    ``original_sample``, ``cell_type`` and ``n_cells``), which adds the "Single cells"
    section."""
    de = dict(de or {})
    enrichment = dict(enrichment or {})
    methods = dict(methods or {})
    samples = samples.copy()
    samples["sample"] = samples["sample"].astype(str)
    order: list[str] = []
    if contrasts is not None and not contrasts.empty:
        order = [str(c) for c in contrasts["contrast"]]
    order += [str(c) for c in de if str(c) not in order]
    ids = contrast_ids(order)
    rows_by_name = (
        {str(r["contrast"]): r for r in contrasts.to_dict("records")}
        if contrasts is not None and not contrasts.empty
        else {}
    )
    outliers = find_outliers(samples, library_sizes, pca)
    config = methods.get("config") or {}
    settings = config.get("enrichment") or {} if isinstance(config, Mapping) else {}
    statistic = str(settings.get("statistic") or "stat")
    weight = _num(settings.get("weight"))
    weight = weight if weight is not None and math.isfinite(weight) else 1.0
    none_level = _therapy_none_level(config)
    calls_by_contrast = (
        {str(c): t for c, t in program_calls.groupby(program_calls["contrast"].astype(str))}
        if program_calls is not None and not program_calls.empty
        else {}
    )
    gene_sets = (
        {str(k): [str(g) for g in v] for k, v in programme_gene_sets.items()}
        if programme_gene_sets is not None
        else None
    )

    contrast_html = []
    for name in order:
        running = ""
        if gene_sets is not None and de.get(name) is not None and not de[name].empty:
            running = _running_block(
                de[name],
                calls_by_contrast.get(name, pd.DataFrame(columns=["program", "call", "NES"])),
                gene_sets,
                ids[name],
                statistic,
                weight,
            )
        contrast_html.append(
            _contrast_section(
                name,
                ids[name],
                rows_by_name.get(name, {"contrast": name}),
                de.get(name),
                samples,
                library_sizes,
                outliers,
                running,
            )
        )
    jump = "".join(f'<option value="{ids[n]}">{esc(n)}</option>' for n in order)
    cells_link = '<a href="#single-cells">Single cells</a>' if single_cell is not None else ""
    nav = (
        '<nav><a href="#verdict">Verdict</a><a href="#qc">Design &amp; QC</a>'
        f"{cells_link}"
        '<a href="#programmes">Programmes</a><a href="#contrasts">Contrasts</a>'
        '<a href="#enrichment">Gene-set tables</a><a href="#methods">Methods</a>'
        f'<select id="contrast-jump" aria-label="jump to contrast"><option value="">jump to '
        f"contrast…</option>{jump}</select></nav>"
    )
    toc = "".join(
        f'<li><a href="#{ids[n]}">{esc(n)}</a>'
        + (
            f" — {esc(rows_by_name[n].get('description'))}"
            if n in rows_by_name and not _is_missing(rows_by_name[n].get("description"))
            else ""
        )
        + "</li>"
        for n in order
    )
    body = [
        f"<header><h1>{esc(title)}</h1><div class='sub'>Generated "
        f'<span class="report-date">{esc(methods.get("date", ""))}</span> · workflow '
        f"{esc(methods.get('workflow_version', 'unknown'))} · {len(samples)} "
        f"{'pseudo-samples' if single_cell is not None else 'samples'} · "
        f"{_plural(len(order), 'contrast')}</div></header>",
        nav,
        "<main>",
        render("verdict.html.j2", view=verdict_view(dual_benefit, program_calls, none_level)),
        _qc_section(samples, library_sizes, pca, pca_variance, distances, outliers),
        *(
            [_single_cell_section(single_cell, samples, program_calls, config)]
            if single_cell is not None
            else []
        ),
        _programmes_section(program_calls, order, samples, sample_scores),
        '<section id="contrasts"><h2>4. Differential expression per contrast</h2>'
        f"<ul class='toc'>{toc}</ul></section>",
        *contrast_html,
        _enrichment_section(enrichment, order, ids, ora),
        _methods_section(methods, contrasts, libraries, gene_mapping),
        "</main>",
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_static('report.css')}</style></head><body>\n"
        + "\n".join(body)
        + f'\n<script type="application/json" id="plotly-config">{_json(PLOTLY_CONFIG)}</script>'
        + f'\n<script type="text/javascript">{_plotly_js()}</script>'
        + f"\n<script>{_static('report.js')}</script>\n</body></html>\n"
    )


def write_report(html_text: str, path: str | Path) -> Path:
    """Write the report atomically: a temporary file in the same folder, then a rename."""
    write_text_atomic(html_text, path)
    return Path(path)
