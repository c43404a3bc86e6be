"""The whole page: the section list, the page template, and the atomic writer.

A section is a :class:`Section`: its nav anchor and label, its template under
``templates/`` and its view model (a dict from the section's own view-model function). The
page template includes each section's template with ``view`` bound to its view model. Adding a
section is one view-model function, one template and one entry in :func:`sections_of` (with
its switch: the condition under which it is shown).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup

from ..outliers import find_outliers, outlier_reasons
from ..tables import write_text_atomic
from .cells import single_cell_view
from .constants import DEFAULT_TITLE, EXAMPLE_BANNER, PLOTLY_CONFIG, TSV_LINK_NOTE
from .contrasts import contrast_view
from .enrichment_tables import enrichment_view
from .formatting import _is_missing, _num, contrast_ids
from .input_checks import summary_rows_view, validation_view
from .methods import methods_view
from .programmes import programmes_view
from .qc import qc_view
from .running_score import running_view
from .secretome import secretome_methods_table, secretome_view
from .templating import render, static_text
from .verdict import verdict_view

#: A ligand table without rows (a stage that linked no ligand still shows its section).
_NO_LINKS = pd.DataFrame(columns=["contrast", "side", "therapy", "role", "rank", "status"])


@dataclass(frozen=True)
class Section:
    """One section of the page: nav anchor and label (None: not in the nav), its template
    under ``templates/`` and its view model (the template sees it as ``view``)."""

    id: str | None
    label: str | None
    template: str
    view: Mapping[str, Any]


def _therapy_none_level(config: Any) -> Any:
    """The sample-sheet level meaning 'no therapy' (``roles.therapy.none``, default 'none')."""
    try:
        level = config["roles"]["therapy"]["none"]
    except (KeyError, TypeError):
        return "none"
    return "none" if _is_missing(level) else level


@cache
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
    programme_calls: pd.DataFrame,
    dual_benefit: pd.DataFrame,
    libraries: pd.DataFrame,
    methods: Mapping[str, Any],
    title: str = DEFAULT_TITLE,
    sample_scores: pd.DataFrame | None = None,
    ora: Mapping[str, pd.DataFrame] | None = None,
    gene_mapping: pd.DataFrame | None = None,
    programme_gene_sets: Mapping[str, Sequence[str]] | None = None,
    single_cell: Mapping[str, pd.DataFrame | None] | None = None,
    outliers: pd.DataFrame | None = None,
    secretome: Mapping[str, pd.DataFrame | None] | None = None,
    validation_summary: pd.DataFrame | None = None,
    count_summary_rows: pd.DataFrame | None = None,
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
    section. ``outliers`` is ``results/qc/outliers.tsv`` (:mod:`msc_secretome.outliers`); when
    it is not given, the same module calls them from ``library_sizes`` and ``pca``.
    ``secretome`` (runs with ``secretome.enabled``): the stage's tables ``links``
    (``ligand_links.tsv``), ``activity``, ``sample_scores``, ``verdict_factors`` and
    ``methods``; it adds the "Secretome" section, the factor chains on the verdict cards and
    the stage's resources in Methods. ``validation_summary`` and ``count_summary_rows``
    (``results/validated/``): input warnings and summary-row reads in QC, the counts' methods
    sentence in Methods."""
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
    if outliers is None:  # callers without the QC table: the QC module's own call
        outliers = find_outliers(samples, library_sizes, pca)
    outliers = outlier_reasons(outliers)
    config = methods.get("config") or {}
    settings = config.get("enrichment") or {} if isinstance(config, Mapping) else {}
    statistic = str(settings.get("statistic") or "stat")
    weight = _num(settings.get("weight"))
    weight = weight if weight is not None and math.isfinite(weight) else 1.0
    none_level = _therapy_none_level(config)
    calls_by_contrast = (
        {str(c): t for c, t in programme_calls.groupby(programme_calls["contrast"].astype(str))}
        if programme_calls is not None and not programme_calls.empty
        else {}
    )
    gene_sets = (
        {str(k): [str(g) for g in v] for k, v in programme_gene_sets.items()}
        if programme_gene_sets is not None
        else None
    )

    secretome = dict(secretome) if secretome is not None else {}
    validation = validation_view(validation_summary)
    contrast_views = []
    for name in order:
        running = None
        if gene_sets is not None and de.get(name) is not None and not de[name].empty:
            running = running_view(
                de[name],
                calls_by_contrast.get(name, pd.DataFrame(columns=["programme", "call", "NES"])),
                gene_sets,
                ids[name],
                statistic,
                weight,
            )
        row = rows_by_name.get(name, {"contrast": name})
        contrast_views.append(
            contrast_view(
                name, ids[name], row, de.get(name), samples, library_sizes, outliers, running
            )
        )
    described = {
        n: str(rows_by_name[n].get("description"))
        for n in order
        if n in rows_by_name and not _is_missing(rows_by_name[n].get("description"))
    }
    contrast_links = [{"id": ids[n], "name": n, "description": described.get(n)} for n in order]
    sections = [
        Section(
            "verdict",
            "Verdict",
            "verdict.html.j2",
            verdict_view(
                dual_benefit, programme_calls, none_level, secretome.get("verdict_factors")
            ),
        ),
        Section(
            "qc",
            "Design & QC",
            "qc.html.j2",
            qc_view(
                samples,
                library_sizes,
                pca,
                pca_variance,
                distances,
                outliers,
                validation,
                summary_rows_view(count_summary_rows),
            ),
        ),
    ]
    if single_cell is not None:  # single-cell runs only
        sections.append(
            Section(
                "single-cells",
                "Single cells",
                "single_cell.html.j2",
                single_cell_view(single_cell, samples, programme_calls, config),
            )
        )
    sections.append(
        Section(
            "programmes",
            "Programmes",
            "programmes.html.j2",
            programmes_view(programme_calls, order, samples, sample_scores),
        )
    )
    if secretome:  # the secretome stage is enabled
        links = secretome.get("links")
        sections.append(
            Section(
                "secretome",
                "Secretome",
                "secretome.html.j2",
                secretome_view(
                    links if links is not None and not links.empty else _NO_LINKS,
                    secretome.get("methods"),
                    sample_scores=secretome.get("sample_scores"),
                    activity=secretome.get("activity"),
                ),
            )
        )
    sections += [
        Section(
            "contrasts",
            "Contrasts",
            "contrast_index.html.j2",
            {"contrasts": contrast_links, "tsv_note": TSV_LINK_NOTE},
        ),
        *(Section(None, None, "contrast.html.j2", view) for view in contrast_views),
        Section(
            "enrichment",
            "Gene-set tables",
            "enrichment.html.j2",
            enrichment_view(enrichment, order, ids, ora),
        ),
        Section(
            "methods",
            "Methods",
            "methods.html.j2",
            methods_view(
                methods,
                contrasts,
                libraries,
                gene_mapping,
                secretome_methods_table(secretome.get("methods")),
                validation["methods"] if validation else None,
            ),
        ),
    ]
    page = {
        "title": title,
        "date": methods.get("date", ""),
        "workflow_version": methods.get("workflow_version", "unknown"),
        "n_samples": len(samples),
        "sample_word": "pseudo-samples" if single_cell is not None else "samples",
        "n_contrasts": len(order),
        "example_banner": EXAMPLE_BANNER if methods.get("simulated_example") else "",
        "nav": [{"id": x.id, "label": x.label} for x in sections if x.id],
        "contrasts": contrast_links,
    }
    assets = {
        "css": Markup(static_text("report.css")),
        "js": Markup(static_text("report.js")),
        "plotly_js": Markup(_plotly_js()),
        "plotly_config": PLOTLY_CONFIG,
    }
    html_text = render("page.html.j2", page=page, assets=assets, sections=sections)
    return str(html_text) + "\n"


def write_report(html_text: str, path: str | Path) -> Path:
    """Write the report atomically: a temporary file in the same folder, then a rename."""
    write_text_atomic(html_text, path)
    return Path(path)
