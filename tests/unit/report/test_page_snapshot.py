"""One HTML snapshot of a small report (plotly.js left out): any change to the markup shows here.

Regenerate after an intended change with ``UPDATE_SNAPSHOTS=1 pytest tests/unit/report`` and
review the diff of ``snapshots/small_report.html`` like code.
"""

from __future__ import annotations

import os
from pathlib import Path

from report_fixtures import make_report_inputs
from stage_fixtures import with_stages

from msc_secretome.report import render_report
from msc_secretome.report.page import _plotly_js

SNAPSHOT = Path(__file__).parent / "snapshots" / "small_report.html"


def _small_page(**methods_extra) -> str:
    kw = with_stages(make_report_inputs(n_genes=80, n_contrasts=2))
    kw["methods"] = dict(kw["methods"], date="2026-01-01 00:00 UTC", **methods_extra)
    return render_report(**kw).replace(_plotly_js(), "/* plotly.js inlined here */")


def test_small_report_matches_its_snapshot() -> None:
    page = _small_page()
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(page, encoding="utf-8")
    assert page == SNAPSHOT.read_text(encoding="utf-8")


def test_example_banner_only_for_the_simulated_example() -> None:
    assert 'id="example-banner"' not in _small_page()
    banner = _small_page(simulated_example=True)
    assert 'id="example-banner"' in banner and "Simulated example data." in banner


def test_no_markup_of_the_report_is_escaped_twice() -> None:
    """Rendered pieces stay markup wherever they are joined (Markup + str would escape)."""
    page = _small_page()
    for tag in ("div", "table", "section", "script", "span", "p"):
        assert f"&lt;{tag}" not in page
