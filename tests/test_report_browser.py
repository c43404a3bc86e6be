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
    single_cell_screenshot_path: str | Path | None = None,
) -> dict[str, Any]:
    """Open a report from file:// in headless Chromium and collect what a person would see.

    Returns a dict: console_errors, page_errors, requests (all URLs), external_requests (URLs
    not file:// or data:), verdict_visible, programmes_rendered, volcano_rendered (first
    volcano), sample_scores_rendered (None when the report has no sample-score heatmap),
    running_id / running_rendered / running_panels (first running-score figure; None when
    there is none), plots_total / plots_rendered, search (table id, rows before/after, query),
    modebar_titles, load_seconds, screenshot (full page) and viewport_screenshot (the top of
    the page as first seen, when ``viewport_screenshot_path`` is given). Single-cell reports
    add (all None for bulk reports): umap_rendered (the WebGL scatter drawn), umap_points,
    umap_menu (its colour options), umap_recoloured (the colour bar title after choosing the
    menu's last option, with no error), umap_hover (the hover label of a point then),
    cell_scores_rendered, and single_cell_screenshot (a viewport at the UMAP, when
    ``single_cell_screenshot_path`` is given). Raises RuntimeError if Chromium or playwright
    is missing.
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
            result.update(_check_single_cells(page, single_cell_screenshot_path))
            result["modebar_titles"] = sorted(
                set(
                    page.eval_on_selector_all(
                        ".modebar-btn", "els => els.map(e => e.getAttribute('data-title'))"
                    )
                )
            )
            sankey = page.locator("#fig-secretome-1")
            result["sankey_rendered"] = (
                sankey.locator("g.sankey-node").count() > 0 if sankey.count() else None
            )
            result["plots_total"] = page.locator("div.plot[data-fig]").count()
            result["plots_rendered"] = page.locator("div.plot.js-plotly-plot").count()

            table_id = search_table or "table-programme-calls"
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


def _check_single_cells(page: Any, screenshot_path: str | Path | None) -> dict[str, Any]:
    """The single-cell section's UMAP and per-cell score plots (all None when absent)."""
    out: dict[str, Any] = dict.fromkeys(
        [
            "umap_rendered",
            "umap_points",
            "umap_menu",
            "umap_recoloured",
            "umap_hover",
            "cell_scores_rendered",
        ]
    )
    if page.locator("#fig-umap").count() == 0:
        return out
    umap = page.locator("#fig-umap")
    # scattergl draws on a WebGL canvas; plotly shows a .no-webgl notice where it cannot
    out["umap_rendered"] = (
        umap.locator(".main-svg").count() > 0
        and umap.locator("canvas.gl-canvas").count() > 0
        and umap.locator(".no-webgl").count() == 0
    )
    out["umap_points"] = page.evaluate("() => document.getElementById('fig-umap').data[0].x.length")
    page.evaluate("document.getElementById('umap').scrollIntoView()")
    umap.locator(".updatemenu-header").click()
    buttons = umap.locator(".updatemenu-dropdown-button")
    out["umap_menu"] = [buttons.nth(i).text_content() for i in range(buttons.count())]
    if buttons.count():
        buttons.nth(buttons.count() - 1).click()
        page.wait_for_timeout(300)
        out["umap_recoloured"] = umap.locator(".colorbar .cbtitle").first.text_content()
        # hover the first point: its pixel position from the axes
        x, y = page.evaluate(
            """() => {
              const d = document.getElementById('fig-umap'), fl = d._fullLayout;
              const r = d.getBoundingClientRect(), t = d.data[0];
              return [r.left + fl._size.l + fl.xaxis.l2p(t.x[0]),
                      r.top + fl._size.t + fl.yaxis.l2p(t.y[0])];
            }"""
        )
        page.mouse.move(x + 1, y)
        page.mouse.move(x, y)
        page.wait_for_timeout(200)
        out["umap_hover"] = umap.locator(".hoverlayer").text_content()
    if screenshot_path is not None:
        page.evaluate("document.getElementById('umap').scrollIntoView()")
        page.evaluate("window.scrollBy(0, -50)")
        page.screenshot(path=str(screenshot_path), full_page=False)
        out["single_cell_screenshot"] = str(screenshot_path)
    scores = page.locator("#fig-cell-scores")
    out["cell_scores_rendered"] = (
        scores.locator("g.boxlayer path").count() > 0 if scores.count() else None
    )
    return out


@pytest.mark.browser
def test_report_in_browser(tmp_path: Path) -> None:
    reason = _missing_requirement()
    if reason:
        pytest.skip(reason)
    from report_fixtures import make_report_inputs
    from stage_fixtures import with_stages

    from msc_secretome.report import render_report, write_report

    html_path = write_report(
        render_report(**with_stages(make_report_inputs())), tmp_path / "index.html"
    )
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
    assert res["umap_rendered"] is None  # bulk: no single-cell section
    assert res["sankey_rendered"] is True  # the secretome section's ligand chains
    assert not any("share" in (t or "").lower() for t in res["modebar_titles"]), res[
        "modebar_titles"
    ]
    search = res["search"]
    assert search["before"] > search["after"] > 0, search
    assert shot.is_file() and shot.stat().st_size > 10_000


@pytest.mark.browser
def test_single_cell_report_in_browser(tmp_path: Path) -> None:
    reason = _missing_requirement()
    if reason:
        pytest.skip(reason)
    from report_fixtures import SCORED_PROGRAMME, make_single_cell_report_inputs
    from stage_fixtures import with_stages

    from msc_secretome.report import render_report, write_report

    kw = with_stages(make_single_cell_report_inputs())
    html_path = write_report(render_report(**kw), tmp_path / "index.html")
    shot = Path(os.environ.get("REPORT_SCREENSHOT") or tmp_path / "report.png")
    res = check_report_in_browser(
        html_path, shot, single_cell_screenshot_path=tmp_path / "cells.png"
    )

    assert res["console_errors"] == []
    assert res["page_errors"] == []
    assert res["external_requests"] == [], res["external_requests"]
    assert res["umap_rendered"] is True
    assert res["umap_points"] == len(kw["single_cell"]["cells"])
    assert res["umap_menu"][:4] == [
        f"colour by {c}" for c in ("cell_type", "medium", "therapy", "batch")
    ]
    assert f"colour by {SCORED_PROGRAMME}" in res["umap_menu"]
    assert res["umap_recoloured"] == "score"  # a programme: continuous scale
    assert " · " in res["umap_hover"] and ": " in res["umap_hover"], res["umap_hover"]
    assert res["cell_scores_rendered"] is True
    assert res["plots_rendered"] == res["plots_total"] > 0
    assert (tmp_path / "cells.png").stat().st_size > 10_000
