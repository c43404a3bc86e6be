"""The report in a real headless Chromium: offline, no errors, plots drawn, tables searchable.

Needs Debian's ``chromium`` (``apt-get install -y chromium``) and the ``playwright`` Python
package (``pip install playwright``); never ``playwright install`` (it downloads browsers).
Skips with the reason when either is missing.

``check_report_in_browser(html_path, screenshot_path)`` is reusable on any report (e.g. the
example run's ``results/report/index.html``)::

    python -c "import sys; sys.path.insert(0, 'tests'); from test_report_browser import \
check_report_in_browser as c; print(c('results/report/index.html', '/tmp/report.png'))"
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PLOTS_TIMEOUT_MS = 120_000


def _missing_requirement() -> str | None:
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the python package `playwright` is missing (pip install playwright)"
    return None


def check_report_in_browser(
    html_path: str | Path,
    screenshot_path: str | Path,
    *,
    search_table: str | None = None,
    viewport_screenshot_path: str | Path | None = None,
) -> dict[str, Any]:
    """Open a report from file:// in headless Chromium and collect what a person would see.

    Returns a dict: console_errors, page_errors, requests (all URLs), external_requests (URLs
    not file:// or data:), verdict_visible, programmes_rendered, volcano_rendered (first
    volcano), sample_scores_rendered (None when the report has no sample-score heatmap),
    running_id / running_rendered / running_panels (first running-score figure; None when
    there is none), plots_total / plots_rendered, search (table id, rows before/after, query),
    modebar_titles, load_seconds, screenshot (full page) and viewport_screenshot (the top of
    the page as first seen, when ``viewport_screenshot_path`` is given). Raises RuntimeError if
    Chromium or playwright is missing.
    """
    reason = _missing_requirement()
    if reason:
        raise RuntimeError(reason)
    from playwright.sync_api import sync_playwright

    html_path = Path(html_path).resolve()
    screenshot_path = Path(screenshot_path)
    screenshot_path.parent.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "console_errors": [],
        "page_errors": [],
        "requests": [],
        "external_requests": [],
    }
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})

            def on_console(msg: Any) -> None:
                if msg.type == "error":
                    result["console_errors"].append(msg.text)

            def on_request(req: Any) -> None:
                result["requests"].append(req.url)
                if not req.url.startswith(("file://", "data:")):
                    result["external_requests"].append(req.url)

            page.on("console", on_console)
            page.on("pageerror", lambda err: result["page_errors"].append(str(err)))
            page.on("request", on_request)
            start = time.monotonic()
            page.goto(html_path.as_uri(), wait_until="load")
            page.wait_for_selector("html[data-plots='done']", timeout=PLOTS_TIMEOUT_MS)
            result["load_seconds"] = round(time.monotonic() - start, 2)

            result["verdict_visible"] = page.locator("#verdict").is_visible()
            result["verdict_text"] = page.locator("#verdict").inner_text()[:2000]
            result["programmes_rendered"] = (
                page.locator("#fig-programmes .main-svg").count() > 0
                or page.locator("#fig-programmes.js-plotly-plot").count() > 0
            )
            volcano = page.locator("div.plot.volcano").first
            result["volcano_id"] = volcano.get_attribute("id") if volcano.count() else None
            result["volcano_rendered"] = bool(
                result["volcano_id"]
                and page.locator(f"#{result['volcano_id']} .main-svg").count() > 0
            )
            scores = page.locator("#fig-sample-scores")
            result["sample_scores_rendered"] = (
                scores.locator(".main-svg").count() > 0 if scores.count() else None
            )
            running = page.locator("div.plot.running").first
            result["running_id"] = running.get_attribute("id") if running.count() else None
            result["running_rendered"] = None
            result["running_panels"] = 0
            if result["running_id"]:
                fig = page.locator(f"#{result['running_id']}")
                result["running_rendered"] = fig.locator(".main-svg").count() > 0
                # one subplot per programme: plotly draws each as a .subplot group
                result["running_panels"] = fig.locator("g.subplot").count()
            result["modebar_titles"] = sorted(
                set(
                    page.eval_on_selector_all(
                        ".modebar-btn", "els => els.map(e => e.getAttribute('data-title'))"
                    )
                )
            )
            result["plots_total"] = page.locator("div.plot[data-fig]").count()
            result["plots_rendered"] = page.locator("div.plot.js-plotly-plot").count()

            table_id = search_table or "table-program-calls"
            rows = page.locator(f"#{table_id} tbody tr")
            before = page.locator(f"#{table_id} tbody tr:visible").count()
            query = ""
            if rows.count():
                # search for the first row's second cell (a programme or a sample name)
                cells = rows.first.locator("td")
                query = cells.nth(min(1, cells.count() - 1)).inner_text().strip()
                page.fill(f'input.table-search[data-table="{table_id}"]', query)
            after = page.locator(f"#{table_id} tbody tr:visible").count()
            result["search"] = {"table": table_id, "query": query, "before": before, "after": after}
            page.fill(f'input.table-search[data-table="{table_id}"]', "")

            if viewport_screenshot_path is not None:
                page.evaluate("window.scrollTo(0, 0)")
                page.screenshot(path=str(viewport_screenshot_path), full_page=False)
                result["viewport_screenshot"] = str(viewport_screenshot_path)
            page.screenshot(path=str(screenshot_path), full_page=True)
            result["screenshot"] = str(screenshot_path)
        finally:
            browser.close()
    return result


@pytest.mark.browser
def test_report_in_browser(tmp_path: Path) -> None:
    reason = _missing_requirement()
    if reason:
        pytest.skip(reason)
    from report_fixtures import make_report_inputs

    from msc_secretome.report import render_report, write_report

    html_path = write_report(render_report(**make_report_inputs()), tmp_path / "index.html")
    shot = Path(os.environ.get("REPORT_SCREENSHOT") or tmp_path / "report.png")
    res = check_report_in_browser(html_path, shot)

    assert res["console_errors"] == []
    assert res["page_errors"] == []
    assert res["requests"], "the page load itself should be recorded"
    assert res["external_requests"] == [], res["external_requests"]
    assert res["verdict_visible"]
    assert "Dual benefit: yes" in res["verdict_text"]
    assert res["programmes_rendered"]
    assert res["volcano_rendered"], res["volcano_id"]
    assert res["sample_scores_rendered"] is True
    assert res["running_id"] and res["running_rendered"], res["running_id"]
    assert res["running_panels"] >= 2, res["running_panels"]  # small multiples drawn
    assert res["plots_rendered"] == res["plots_total"] > 0
    assert not any("share" in (t or "").lower() for t in res["modebar_titles"]), res[
        "modebar_titles"
    ]
    search = res["search"]
    assert search["before"] > search["after"] > 0, search
    assert shot.is_file() and shot.stat().st_size > 10_000
