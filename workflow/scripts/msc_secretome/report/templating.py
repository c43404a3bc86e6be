"""The Jinja2 environment of the report: package templates, autoescape, strict variables.

Every template under ``templates/`` is rendered with autoescaping on, so user text (sample
names, contrast names, explanations) is escaped by the template engine and never by hand.
Figures travel as plotly dicts and are serialised once, by the ``json_script`` filter, into
``<script type="application/json">`` elements that are safe inside HTML.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup


def json_for_script(obj: Any) -> str:
    """Deterministic JSON, safe inside a ``<script>`` element (``<``, ``>``, ``&`` escaped)."""
    text = json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def static_text(name: str) -> str:
    """Text of a file under ``report/static/`` (package data), for inlining into the page."""
    return (files(__package__) / "static" / name).read_text(encoding="utf-8")


@cache
def environment() -> Environment:
    """The one template environment (autoescape on, undefined variables are errors)."""
    env = Environment(
        loader=PackageLoader(__package__, "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["json_script"] = lambda obj: Markup(json_for_script(obj))
    return env


def render(template: str, **context: Any) -> Markup:
    """Render ``templates/<template>`` with ``context``; the result is markup (not re-escaped)."""
    return Markup(environment().get_template(template).render(**context))
