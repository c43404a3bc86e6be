"""The figure layer: plotly figure specs as plain dicts, and the primitives the sections share.

A figure travels from a section's view model to the ``figure`` macro as
``{"id", "css_class", "height", "spec": {"data": [...], "layout": {...}}}`` (:func:`figure_view`);
the page script draws every spec with ``Plotly.newPlot``. The traces themselves (scatter for
volcano/MA/PCA/UMAP, heatmaps, running scores, boxes and histograms) are built by the section
modules from these primitives; numbers are rounded with ``sig4`` so specs are deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .formatting import sig4


def figure_view(
    fig_id: str, spec: Mapping[str, Any], *, height: int, css_class: str = ""
) -> dict[str, Any]:
    """The view model of a plot: its placeholder's id, class and height and the plotly spec
    (``{"data": [...], "layout": {...}}``, house defaults filled in)."""
    layout = dict(spec.get("layout", {}))
    layout.setdefault("height", height)
    layout.setdefault("margin", {"l": 60, "r": 20, "t": 40, "b": 50})
    layout.setdefault("font", {"family": "system-ui, -apple-system, Segoe UI, Arial, sans-serif"})
    layout.setdefault("paper_bgcolor", "white")
    layout.setdefault("plot_bgcolor", "white")
    return {
        "id": fig_id,
        "css_class": f"plot {css_class}".strip(),
        "height": height,
        "spec": {"data": list(spec.get("data", [])), "layout": layout},
    }


def _axis(title: str, **extra: Any) -> dict[str, Any]:
    out = {"title": {"text": title}, "zeroline": False, "gridcolor": "#eeeeee", "automargin": True}
    out.update(extra)
    return out


def _annotated_heatmap(
    z: list, x: list, y: list, text: list, hover: list, *, text_size: int, **style: Any
) -> dict:
    """A plotly heatmap trace with a label in each cell and an HTML hover (``hover``, same
    shape as ``z``); ``style``: colour scale, range and colour bar."""
    return {
        "type": "heatmap",
        "z": z,
        "x": x,
        "y": y,
        "text": text,
        "texttemplate": "%{text}",
        "textfont": {"size": text_size},
        "customdata": hover,
        "hovertemplate": "%{customdata}<extra></extra>",
        "xgap": 1,
        "ygap": 1,
        **style,
    }


def _strip_colourscale(n_levels: int, colours: Sequence[str]) -> list[list[Any]]:
    """A stepped colour scale: level i (z = i) gets colours[i]."""
    n = max(n_levels, 1)
    scale: list[list[Any]] = []
    for i in range(n):
        colour = colours[i % len(colours)] if colours else "#999999"
        scale.append([sig4(i / n), colour])
        scale.append([sig4((i + 1) / n), colour])
    return scale


def panel_title(x_axis: str, y_axis: str, text: str, **extra: Any) -> dict[str, Any]:
    """A small-multiple panel's title: an annotation above the top-left corner of the panel
    whose axes are ``x_axis``/``y_axis`` (``x2``, ``y2``...); ``extra``: hovertext, font..."""
    return {
        "xref": f"{x_axis} domain",
        "yref": f"{y_axis} domain",
        "x": 0,
        "y": 1.02,
        "xanchor": "left",
        "yanchor": "bottom",
        "align": "left",
        "showarrow": False,
        "text": text,
        **extra,
    }


def dropdown(buttons: list[dict[str, Any]]) -> dict[str, Any]:
    """A plotly dropdown menu above the plot's top-left corner (e.g. 'colour by ...')."""
    return {
        "buttons": buttons,
        "direction": "down",
        "x": 0,
        "xanchor": "left",
        "y": 1.02,
        "yanchor": "bottom",
        "pad": {"t": 0, "b": 0},
        "showactive": True,
    }
