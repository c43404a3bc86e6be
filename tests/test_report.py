"""The HTML report renderer: content, order, offline-ness, determinism, escaping and size."""

from __future__ import annotations

import html
import json
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_fixtures import (
    NULL_CONTRAST,
    SCORED_PROGRAMME,
    make_report_inputs,
    make_single_cell_report_inputs,
)

from msc_secretome import report
from msc_secretome.report import (
    contrast_ids,
    fmt_value,
    no_hits_reasons,
    render_report,
    select_plot_genes,
    select_umap_cells,
    sig3,
    sig4,
    slugify,
    therapy_label,
    write_report,
)

SIZE_LIMIT_BYTES = 15 * 1024 * 1024


@pytest.fixture(scope="module")
def inputs() -> dict:
    return make_report_inputs()


@pytest.fixture(scope="module")
def page(inputs: dict) -> str:
    return render_report(**inputs)


class _Tags(HTMLParser):
    """Collects (tag, attrs) and the text of <script type=application/json> elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.json_blocks: dict[str, str] = {}
        self._json_id: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "script" and a.get("type") == "application/json":
            self._json_id = a.get("id") or ""
            self.json_blocks[self._json_id] = ""

    def handle_data(self, data: str) -> None:
        if self._json_id is not None:
            self.json_blocks[self._json_id] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._json_id = None


def _parse(text: str) -> _Tags:
    parser = _Tags()
    parser.feed(text)
    parser.close()
    return parser


def _section(page: str, section_id: str) -> str:
    start = page.index(f'id="{section_id}"')
    end = page.find("<section", start)
    return page[start : end if end > 0 else len(page)]


# --- content and order --------------------------------------------------------------------------


def test_sections_in_order_and_verdict_first(page: str) -> None:
    positions = [
        page.index(f'<section id="{s}"')
        for s in ("verdict", "qc", "programmes", "contrasts", "enrichment", "methods")
    ]
    assert positions == sorted(positions)
    assert page.startswith("<!DOCTYPE html>")
    # the first section after the header and nav is the answer
    assert page.index("<main>") < positions[0] < page.index('<section id="qc"')


def _text(markup: str) -> str:
    """Visible text of a piece of markup (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def test_verdict_prose_comes_from_the_table_once(page: str, inputs: dict) -> None:
    """Issue #17 defect 2: the report states the verdict owner's explanation, once, verbatim."""
    verdict = _section(page, "verdict")
    text = _text(verdict)
    assert "Dual benefit: yes" in verdict
    assert "Incomplete: contrasts missing" in verdict
    for explanation in inputs["dual_benefit"]["explanation"]:
        assert text.count(explanation) == 1
    assert verdict.count('class="summary"') == len(inputs["dual_benefit"])
    assert '<span class="pname">CYT_FERROPTOSIS</span>' in verdict  # from cancer_evidence
    assert '<span class="flag">⚠ RISK_IL6_JAK_STAT3</span>' in verdict
    assert "with risk flags" in verdict  # a flagged 'yes' says so on the badge
    for label in ("cancer gain", "potentiation", "normal protection", "cytotoxic ↑ (cancer)"):
        assert label in verdict
    # the report has no verdict prose of its own any more
    assert not hasattr(report, "verdict_summary") and not hasattr(report, "verdict_explanation")


def test_no_therapy_reads_no_therapy_in_headings() -> None:
    kw = make_report_inputs(n_genes=120, n_contrasts=3)
    db = kw["dual_benefit"].copy()
    db.loc[0, "therapy"] = "untreated"
    kw["dual_benefit"] = db
    # the no-therapy level comes from roles.therapy.none
    kw["methods"] = dict(kw["methods"])
    kw["methods"]["config"] = dict(
        kw["methods"]["config"], roles={"therapy": {"column": "therapy", "none": "untreated"}}
    )
    verdict = _section(render_report(**kw), "verdict")
    assert '<span class="therapy">cancer + normal · CM vs ctrl · no therapy</span>' in verdict
    assert "cancer + normal · CM vs ctrl · no therapy: dual benefit" in verdict
    assert therapy_label("none") == "no therapy"
    assert therapy_label("chemo") == "chemo"
    assert therapy_label("none", none_level="untreated") == "none"


def test_verdict_cards_show_design_summary_once_and_stability_beside_the_badge(
    page: str, inputs: dict
) -> None:
    verdict = _section(page, "verdict")
    text = _text(verdict)
    (design,) = set(inputs["dual_benefit"]["design_summary"])
    assert text.count(design) == 1
    for summary in inputs["dual_benefit"]["summary"]:
        assert text.count(summary) == 1
    chemo, radiation = verdict.split('<div class="card ')[1:]
    assert '<span class="stability">stable in 6/6 leave-one-out refits (1.00)</span>' in chemo
    assert "stability-detail" not in chemo
    assert (
        '<span class="stability unstable">not stable: holds in 3/6 leave-one-out refits '
        "(0.50)</span>"
    ) in radiation
    detail = _text(radiation.split('class="stability-detail unstable">')[1].split("</p>")[0])
    assert detail.startswith("The verdict changes when any of sample=CA_CM_radiation_r1")
    assert "Calls that move: CYT_FERROPTOSIS." in detail
    assert 'href="#verdict-2">cancer + normal · CM vs ctrl · radiation: incomplete' in verdict
    assert "(not stable)</a>" in verdict


def test_each_contrast_has_a_section_a_link_and_a_volcano(page: str, inputs: dict) -> None:
    names = inputs["contrasts"]["contrast"].tolist()
    ids = contrast_ids(names)
    for name in names:
        sid = ids[name]
        assert f'<section class="contrast" id="{sid}">' in page
        assert f'id="{sid}-volcano"' in page and f'id="{sid}-ma"' in page
        assert f'href="../de/{name}.tsv"' in page
        assert f'<table id="{sid}-top"' in page
        top = _section(page, sid)
        assert top.count("<tr><td>") == 50  # top-50 gene table


def test_why_nothing_significant_only_for_the_empty_contrast(page: str, inputs: dict) -> None:
    ids = contrast_ids(inputs["contrasts"]["contrast"])
    for name, sid in ids.items():
        has_hint = "Why nothing is significant here" in _section(page, sid)
        assert has_hint == (name == NULL_CONTRAST), name
    hint = _section(page, ids[NULL_CONTRAST])
    assert "p-value histogram is flat" in hint
    assert "Few replicates" in hint


def test_no_hits_reasons_mentions_small_libraries() -> None:
    rng = np.random.default_rng(1)
    de = pd.DataFrame({"pvalue": rng.random(400), "padj": np.r_[np.full(300, 0.9), [np.nan] * 100]})
    samples = pd.DataFrame({"sample": list("abcdef"), "g": list("xxxyyy")})
    libs = pd.DataFrame({"sample": list("abcdef"), "total_counts": [1e6] * 6})
    reasons = no_hits_reasons(de, {"n_samples": 6, "subset": ""}, samples, libs, {"a": ["x"]})
    text = " ".join(reasons)
    assert "flat" in text
    assert "Small libraries" in text
    assert "outlier" in text and "a" in text


def test_outliers_come_from_the_qc_table(inputs: dict) -> None:
    """The report shows results/qc/outliers.tsv; it makes no outlier call of its own."""
    kw = dict(inputs)
    kw["outliers"] = pd.DataFrame(
        [["CA_CM_chemo_r2", "library_size", 1.0, 2.0, "flagged by QC <b>"]],
        columns=["sample", "rule", "value", "threshold", "reason"],
    )
    qc = _section(render_report(**kw), "qc")
    assert "CA_CM_chemo_r2" in qc and "flagged by QC &lt;b&gt;" in qc
    assert "CA_CM_radiation_r1</b>" not in qc  # the fixture's small library: not in this table
    assert not hasattr(report, "find_outliers")


def test_programme_heatmap_symmetric_with_stars_and_leading_edge(page: str) -> None:
    spec = json.loads(_parse(page).json_blocks["fig-programmes-spec"])
    trace = spec["data"][0]
    assert trace["zmin"] == -trace["zmax"] and trace["zmid"] == 0
    stars = sum(t == "*" for row in trace["text"] for t in row)
    assert stars >= 5
    hover = " ".join(h for row in trace["customdata"] for h in row)
    assert "leading edge: BAX, BAK1" in hover
    assert "sortable" in _section(page, "programmes")
    assert 'data-table="table-programme-calls"' in page


def test_enrichment_tables_exclude_programmes(page: str, inputs: dict) -> None:
    section = _section(page, "enrichment")
    sid = contrast_ids(inputs["contrasts"]["contrast"])["cancer_chemo_CM_vs_ctrl"]
    start = section.index(f'<table id="{sid}-enrichment"')
    prerank = section[start : section.index("</table>", start)]
    assert "HALLMARK_" in prerank or "GOBP_TERM_" in prerank
    assert "CYT_APOPTOSIS_INTRINSIC" not in prerank
    assert "top 10 of 45 terms by FDR" in prerank


def test_methods_has_config_versions_checksums(page: str) -> None:
    section = page[page.index('<section id="methods"') :]
    for needle in ("seed: 20240611", "pydeseq2", "0.5.4", "1" * 64, "a" * 64, "c31a7cb"):
        assert needle in section, needle
    assert "~ batch + medium * therapy" in section
    assert "2025-01-01T12:00:00+00:00" in section


def _spec(page: str, fig_id: str) -> dict:
    return json.loads(_parse(page).json_blocks[f"{fig_id}-spec"])


def _table(page: str, table_id: str) -> str:
    start = page.index(f'<table id="{table_id}"')
    return page[start : page.index("</table>", start)]


def _rows(table: str) -> list[list[str]]:
    body = table[table.index("<tbody>") :]
    return [
        [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body)
    ]


# --- new sections: overlap groups, sample scores, running scores, ORA, gene ids ---------------


def test_programme_calls_table_has_overlap_group_and_hover_names_it(page: str) -> None:
    table = _table(page, "table-programme-calls")
    assert '<th title="sort">overlap_group</th>' in table
    header = re.findall(r'<th title="sort">(.*?)</th>', table)
    rows = _rows(table)
    group = header.index("overlap_group")
    grouped = {r[1]: r[group] for r in rows if r[0] == "cancer_chemo_CM_vs_ctrl"}
    assert grouped["CYT_APOPTOSIS_INTRINSIC"] == grouped["CYT_FERROPTOSIS"]
    assert grouped["CYT_FERROPTOSIS"] == "CYT_APOPTOSIS_INTRINSIC"
    assert all(r[group] == "" for r in rows if r[header.index("call")] == "ns")
    hover = " ".join(
        h for row in _spec(page, "fig-programmes")["data"][0]["customdata"] for h in row
    )
    assert (
        "overlap group CYT_APOPTOSIS_INTRINSIC: leading edge shared with CYT_FERROPTOSIS" in hover
    )
    assert "leading edge shared with RISK_IL6_JAK_STAT3" not in hover  # a group of one


def test_sample_score_heatmap_zscored_in_sheet_order_grouped(page: str, inputs: dict) -> None:
    section = _section(page, "programmes")
    assert 'id="fig-sample-scores"' in section
    assert section.index('id="fig-programmes"') < section.index('id="fig-sample-scores"')
    spec = _spec(page, "fig-sample-scores")
    main, strips = spec["data"]
    sheet = inputs["samples"]
    # samples in sample-sheet order, the tick labels their names, the hover their factors
    assert spec["layout"]["yaxis"]["ticktext"] == sheet["sample"].tolist()
    first = main["y"][0]
    assert first.startswith(f"<b>{sheet['sample'][0]}</b>")
    for factor in ("cell_type", "medium", "therapy", "batch"):
        assert f"{factor}: {sheet[factor][0]}" in first
    # programmes grouped by category, in the NES heatmap's order
    ticks = spec["layout"]["xaxis"]["ticktext"]
    prefixes = [t.split("_")[0] for t in ticks]
    assert prefixes == sorted(prefixes, key=["CYT", "STRESS", "REG", "RISK"].index)
    assert ticks == _spec(page, "fig-programmes")["data"][0]["x"]
    labels = [a["text"] for a in spec["layout"]["annotations"]]
    assert labels == [f"<b>{c}</b>" for c in report.CATEGORY_LABEL.values()]
    # each programme z-scored across samples
    z = np.array([[np.nan if v is None else v for v in row] for row in main["z"]])
    assert np.allclose(np.nanmean(z, axis=0), 0, atol=1e-3)
    assert np.allclose(np.nanstd(z, axis=0, ddof=1), 1, atol=1e-3)
    assert main["zmin"] == -main["zmax"] and main["zmid"] == 0
    # the designed programme is highest in cancer cells in CM
    col = ticks.index("CYT_APOPTOSIS_INTRINSIC")
    boosted = ((sheet["cell_type"] == "cancer") & (sheet["medium"] == "CM")).to_numpy()
    assert z[boosted, col].min() > z[~boosted, col].max()
    # raw scores in the hover, one strip column per factor
    assert main["customdata"][0][col] == sig4(
        inputs["sample_scores"]
        .set_index("sample")
        .at[sheet["sample"][0], "CYT_APOPTOSIS_INTRINSIC"]
    )
    assert strips["x"] == ["cell_type", "medium", "therapy", "batch"]
    assert len(strips["z"]) == len(sheet) and len(strips["z"][0]) == 4
    assert "Strips:" in section and 'class="swatch"' in section


def test_sample_scores_disabled_empty_or_absent() -> None:
    kw = make_report_inputs(n_genes=100, n_contrasts=1)
    kw["sample_scores"] = pd.DataFrame({"sample": []})
    text = render_report(**kw)
    assert 'id="fig-sample-scores"' not in text
    assert "Per-sample programme scores were not computed" in text
    kw.pop("sample_scores")
    text = render_report(**kw)
    assert 'id="sample-scores"' not in text and "Per-sample programme scores" not in text


def test_sample_scores_constant_programme_unknown_samples_and_escaping() -> None:
    kw = make_report_inputs(n_genes=100, n_contrasts=1)
    scores = kw["sample_scores"].copy()
    scores["<b>X_EVIL</b>"] = np.arange(len(scores), dtype=float)
    scores.loc[len(scores)] = ["<i>stranger</i>", *[1.0] * (scores.shape[1] - 1)]
    scores["RISK_EMT"] = 5.0  # constant: no z-score
    kw["sample_scores"] = scores
    text = render_report(**kw)
    spec = _spec(text, "fig-sample-scores")
    main = spec["data"][0]
    ticks = spec["layout"]["xaxis"]["ticktext"]
    assert all(row[ticks.index("RISK_EMT")] is None for row in main["z"])
    assert "&lt;b&gt;X_EVIL&lt;/b&gt;" in ticks and ticks[-1] == "&lt;b&gt;X_EVIL&lt;/b&gt;"
    # a sample missing from the sheet comes last, escaped, without factors
    assert spec["layout"]["yaxis"]["ticktext"][-1] == "&lt;i&gt;stranger&lt;/i&gt;"
    assert "<i>stranger</i>" not in text and "<b>X_EVIL</b>" not in text


def test_running_score_figures_for_called_programmes(page: str, inputs: dict) -> None:
    ids = contrast_ids(inputs["contrasts"]["contrast"])
    calls = inputs["programme_calls"]
    for name, sid in ids.items():
        called = calls[(calls["contrast"] == name) & calls["call"].isin(["up", "down"])]
        section = _section(page, sid)
        if called.empty:
            assert f'id="{sid}-running"' not in section
            assert "No programme is called up or down in this contrast" in section
            continue
        spec = _spec(page, f"{sid}-running")
        titles = [a["text"].split("<br>")[0] for a in spec["layout"]["annotations"]]
        expected = called.assign(_a=-called["NES"].abs()).sort_values(["_a", "programme"])
        assert titles == [f"<b>{p}</b>" for p in expected["programme"]]
        # section order: volcano/MA, then running scores, then the p-value histogram
        assert section.index(f'id="{sid}-ma"') < section.index(f'id="{sid}-running"')
        assert section.index(f'id="{sid}-running"') < section.index(f'id="{sid}-pvalues"')
        # one line and one tick trace per panel; the line is small, the ES is exact
        assert len(spec["data"]) == 2 * len(titles)
        ranking = report.gene_ranking(
            inputs["de"][name].dropna(subset=["symbol"]).reset_index(drop=True), "stat"
        )
        programme = expected["programme"].iloc[0]
        es, running, hits = report.enrichment_score(
            ranking, inputs["programme_gene_sets"][programme]
        )
        line, ticks = spec["data"][0], spec["data"][1]
        assert line["y"][1:] == [sig4(running[x - 1]) for x in line["x"][1:]]
        assert ticks["x"] == [int(h) + 1 for h in hits]
        assert f"ES {sig4(es)}" in spec["layout"]["annotations"][0]["text"]
        assert len(line["x"]) <= 2 * len(hits) + 5
        colour = report.UP_COLOUR if expected["call"].iloc[0] == "up" else report.DOWN_COLOUR
        assert line["line"]["color"] == colour


def test_running_sum_points_are_exact_and_capped() -> None:
    rng = np.random.default_rng(3)
    stats = np.sort(rng.normal(size=3000))[::-1]
    genes = [f"G{i}" for i in range(3000)]
    ranking = pd.Series(stats, index=genes)
    members = [genes[i] for i in sorted(rng.choice(3000, 40, replace=False))]
    es, running, hits = report.enrichment_score(ranking, members)
    idx = report.running_sum_points(running, hits)
    # the line through the kept points reproduces every position of the running sum
    assert np.allclose(np.interp(np.arange(3000), idx, running[idx]), running)
    assert min(abs(es - running.max()), abs(es - running.min())) < 1e-12
    big = [genes[i] for i in range(0, 3000, 2)]  # 1500 hits: too many corners
    _, running, hits = report.enrichment_score(ranking, big)
    idx = report.running_sum_points(running, hits, max_points=400)
    assert len(idx) <= 700 and idx[0] == 0 and idx[-1] == 2999
    assert int(np.argmax(running)) in idx and int(np.argmin(running)) in idx


def test_running_scores_capped_at_twelve_panels_by_abs_nes() -> None:
    kw = make_report_inputs(n_genes=300, n_contrasts=1)
    name = kw["contrasts"]["contrast"][0]
    rows = []
    for i, (programme, genes) in enumerate(kw["programme_gene_sets"].items()):
        rows.append(
            {
                "contrast": name,
                "programme": programme,
                "category": "cytotoxic",
                "tier": "core",
                "NES": (1 + i / 10) * (-1) ** i,
                "fdr": 0.001,
                "call": "up" if i % 2 == 0 else "down",
                "leading_edge": ";".join(genes),
            }
        )
    calls = pd.DataFrame(rows)
    fig, counts = report.running_score_figure(kw["de"][name], calls, kw["programme_gene_sets"])
    assert counts == {"n_called": 16, "n_shown": 12, "n_genes": 299}
    titles = [a["text"].split("<br>")[0][3:-4] for a in fig["layout"]["annotations"]]
    assert titles == calls.sort_values("NES", key=abs, ascending=False)["programme"][:12].tolist()
    assert "yaxis12" in fig["layout"] and "yaxis13" not in fig["layout"]
    assert fig["layout"]["xaxis12"]["title"]["text"] == "gene rank"
    kw["programme_calls"] = calls
    text = render_report(**kw)
    assert "12 of 16 called programmes" in text
    # without gene sets: no running-score plots, no note
    kw.pop("programme_gene_sets")
    text = render_report(**kw)
    assert "-running" not in text and "running score" not in text.lower()


def test_ora_tables_top_per_direction_next_to_prerank(page: str, inputs: dict) -> None:
    section = _section(page, "enrichment")
    ids = contrast_ids(inputs["contrasts"]["contrast"])
    for name, sid in ids.items():
        ora = inputs["ora"][name]
        table = _table(section, f"{sid}-ora")
        rows = _rows(table)
        # top 10 per direction by FDR, sets without any DE gene left out
        informative = ora[ora["overlap"] > 0]
        for direction in ("up", "down"):
            got = [r for r in rows if r[0] == direction]
            expect = informative[informative["direction"] == direction].sort_values(
                ["fdr", "pvalue", "library", "term"], kind="stable"
            )
            assert [r[2] for r in got] == expect["term"].head(report.TOP_ORA).tolist()
        assert [r[0] for r in rows] == sorted((r[0] for r in rows), key=["up", "down"].index)
        assert all(not r[3].startswith("0 /") for r in rows)
        assert f"{(ora['overlap'] == 0).sum()} tests without any DE gene" in table
        # the prerank table sits beside it
        block = section[section.index(f'id="{sid}-genesets"') :]
        grid = block[: block.index(f'<table id="{sid}-ora"')]
        assert f'<table id="{sid}-enrichment"' in grid and 'class="grid2"' in grid


def test_ora_escaped_empty_and_absent() -> None:
    kw = make_report_inputs(n_genes=100, n_contrasts=2)
    names = kw["contrasts"]["contrast"].tolist()
    ora = kw["ora"][names[0]].copy()
    ora.loc[0, ["term", "overlap", "pvalue", "fdr", "genes"]] = [
        "<script>T</script>",
        2,
        0,
        0,
        "A;<B>",
    ]
    kw["ora"] = {names[0]: ora, names[1]: pd.DataFrame()}
    text = render_report(**kw)
    assert "<script>T</script>" not in text and "&lt;script&gt;T&lt;/script&gt;" in text
    assert "A, &lt;B&gt;" in text
    ids = contrast_ids(names)
    assert f'<table id="{ids[names[1]]}-ora"' not in text
    kw["ora"] = {}
    text = render_report(**kw)
    assert "No over-representation analysis was run" in text
    kw.pop("ora")
    text = render_report(**kw)
    assert "over-representation analysis was run" not in text and "-ora" not in text


def test_methods_gene_mapping_and_library_coverage(page: str) -> None:
    section = page[page.index('<section id="methods"') :]
    assert "499 of 500 count-matrix ids (99.8%) map to a gene symbol" in _text(section)
    assert "<code>ensembl</code>" in section
    mapping = _rows(_table(section, "table-gene-mapping"))
    assert ["mapping rate", "99.8%"] in mapping
    assert ["outdated symbols renamed (aliases)", "3"] in mapping
    libraries = _table(section, "table-libraries")
    header = re.findall(r'<th title="sort">(.*?)</th>', libraries)
    assert header == [
        "library",
        "kind",
        "path",
        "sha256",
        "n_sets",
        "n_genes",
        "genes_in_data",
        "coverage",
    ]
    assert ["hallmark", "gmt"] == _rows(libraries)[1][:2]
    assert _rows(libraries)[1][-2:] == ["3942", "90.0%"]


def test_existing_callers_without_the_new_inputs() -> None:
    kw = make_report_inputs(n_genes=150, n_contrasts=2)
    for key in ("sample_scores", "ora", "gene_mapping", "programme_gene_sets"):
        kw.pop(key)
    kw["programme_calls"] = kw["programme_calls"].drop(columns="overlap_group")
    kw["libraries"] = kw["libraries"][["library", "path", "sha256", "n_sets", "n_genes"]]
    text = render_report(**kw)
    for absent in (
        'id="fig-sample-scores"',
        "-running",
        "-ora",
        "Gene identifiers",
        "overlap_group",
    ):
        assert absent not in text, absent
    assert "Dual benefit: yes" in text and '<table id="table-libraries"' in text


# --- offline, single file -------------------------------------------------------------------------


def test_no_external_resources(page: str) -> None:
    parsed = _parse(page)
    for tag, attrs in parsed.tags:
        for key in ("src", "href", "data", "poster", "action"):
            value = (attrs.get(key) or "").strip().lower()
            assert not value.startswith(("http://", "https://", "//", "ftp:")), (tag, value)
        if tag == "script":
            assert "src" not in attrs, "scripts must be inline"
        if tag == "link":
            raise AssertionError(f"no <link> expected: {attrs}")
    style = page[page.index("<style>") : page.index("</style>")]
    assert "url(" not in style and "@import" not in style and "@font-face" not in style


def test_plotly_inlined_exactly_once(page: str) -> None:
    from plotly.offline import get_plotlyjs

    head = get_plotlyjs()[:300]
    assert page.count(head) == 1
    assert page.count("Plotly.newPlot(") == 1  # one drawing loop over all JSON specs


def test_plotly_config_never_offers_cloud_upload(page: str) -> None:
    config = json.loads(_parse(page).json_blocks["plotly-config"])
    assert config["showSendToCloud"] is False
    assert "sendDataToCloud" in config["modeBarButtonsToRemove"]
    assert config["displaylogo"] is False


def test_figure_specs_are_valid_json_rounded(page: str) -> None:
    blocks = _parse(page).json_blocks
    figs = {k: json.loads(v) for k, v in blocks.items() if k.endswith("-spec")}
    assert {"fig-libsizes-spec", "fig-pca-spec", "fig-distances-spec"} <= set(figs)
    volcano = next(v for k, v in figs.items() if k.endswith("-volcano-spec"))
    xs = [x for tr in volcano["data"] for x in tr["x"]]
    assert xs and all(x == sig4(x) for x in xs)
    pca = figs["fig-pca-spec"]
    labels = [b["label"] for b in pca["layout"]["updatemenus"][0]["buttons"]]
    assert labels == [f"colour by {f}" for f in ("cell_type", "medium", "therapy", "batch")]


# --- determinism and escaping --------------------------------------------------------------------


def test_deterministic_apart_from_the_date(page: str) -> None:
    again = make_report_inputs()
    again["methods"] = dict(again["methods"], date="2031-07-07T00:00:00+00:00")
    other = render_report(**again)
    assert other != page
    assert other.replace("2031-07-07T00:00:00+00:00", "2025-01-01T12:00:00+00:00") == page


def test_user_text_is_escaped() -> None:
    kw = make_report_inputs(n_genes=200, n_contrasts=2)
    evil = '<img src=x onerror="alert(1)">'
    kw["contrasts"].loc[0, "description"] = evil
    kw["dual_benefit"].loc[0, "explanation"] = "</script><script>alert('x')</script>"
    kw["methods"]["config"]["note"] = "<b>& co</b>"
    name = kw["contrasts"].loc[1, "contrast"]
    weird = 'odd <name> & "quote"/x'
    kw["contrasts"].loc[1, "contrast"] = weird
    kw["de"][weird] = kw["de"].pop(name)
    kw["samples"].loc[0, "cell_type"] = "<i>cancer</i>"
    text = render_report(**kw, title="A & B <title>")
    assert evil not in text
    # html.escape writes &quot;, the template engine &#34;: both are the escaped quote
    assert re.search(r"&lt;img src=x onerror=(&quot;|&#34;)alert\(1\)(&quot;|&#34;)&gt;", text)
    assert "<script>alert" not in text
    assert "<b>& co</b>" not in text and "&lt;b&gt;&amp; co&lt;/b&gt;" in text
    assert "<title>A &amp; B &lt;title&gt;</title>" in text
    assert "<i>cancer</i>" not in text
    sid = contrast_ids([weird])[weird]
    assert re.fullmatch(r"contrast-[A-Za-z0-9_-]+", sid)
    assert f'id="{sid}"' in text
    assert 'href="../de/odd%20%3Cname%3E%20%26%20%22quote%22%2Fx.tsv"' in text
    # embedded JSON never carries a raw '<'
    for block in _parse(text).json_blocks.values():
        assert "<" not in block


def test_slugs_are_unique_and_stable() -> None:
    ids = contrast_ids(["a b", "a/b", "a-b", "", "ok_1"])
    assert ids == {
        "a b": "contrast-a-b",
        "a/b": "contrast-a-b-2",
        "a-b": "contrast-a-b-3",
        "": "contrast-x",
        "ok_1": "contrast-ok_1",
    }
    assert slugify("x<y>") == "x-y"


def test_formatting_helpers() -> None:
    assert sig4(0.000123456) == 0.0001235
    assert sig4(float("nan")) is None
    assert fmt_value(True) == "yes"
    assert fmt_value(float("nan")) == "NA"
    assert fmt_value(24003075) == "24,003,075"
    assert fmt_value(14380.5) == "14,380"
    assert fmt_value(1.23456e-8) == "1.23e-08"


def test_plot_subsample_is_deterministic_and_capped() -> None:
    rng = np.random.default_rng(0)
    n = 30_000
    padj = rng.random(n)
    padj[:9000] = 1e-5  # many significant genes
    de = pd.DataFrame(
        {"gene_id": [f"g{i}" for i in range(n)], "baseMean": rng.lognormal(3, 2, n), "padj": padj}
    )
    a, counts = select_plot_genes(de)
    b, _ = select_plot_genes(de.sample(frac=1.0, random_state=3))
    assert sorted(a["gene_id"]) == sorted(b["gene_id"])
    assert counts["n_sig"] == 9000 + int((padj[9000:] < 0.1).sum())
    assert counts["n_sig_shown"] == report.MAX_SIGNIFICANT_POINTS
    assert counts["n_rest_shown"] <= report.MAX_BACKGROUND_POINTS


def test_write_report_is_atomic(tmp_path: Path, page: str) -> None:
    target = tmp_path / "report" / "index.html"
    write_report("old", target)
    write_report(page, target)
    assert target.read_text(encoding="utf-8") == page
    assert [p.name for p in target.parent.iterdir()] == ["index.html"]


# --- size ----------------------------------------------------------------------------------------


def test_big_report_size() -> None:
    """36 samples x 20,000 genes x 14 contrasts stays under ~15 MB (fast: ~1-2 s)."""
    start = time.monotonic()
    kw = make_report_inputs(n_genes=20_000, n_contrasts=14, n_reps=3)
    text = render_report(**kw)
    seconds = time.monotonic() - start
    size = len(text.encode("utf-8"))
    print(f"\nbig report: {size / 1e6:.2f} MB ({size} bytes) in {seconds:.1f} s")
    assert size < SIZE_LIMIT_BYTES
    assert len(contrast_ids(kw["contrasts"]["contrast"])) == 14


def test_renders_tables_read_back_from_tsv(tmp_path: Path, inputs: dict) -> None:
    """What the adapter passes: empty strings come back as NaN, bools/ints as pandas reads them."""

    def roundtrip(df: pd.DataFrame, name: str, index: bool = False) -> pd.DataFrame:
        path = tmp_path / f"{name}.tsv"
        df.to_csv(path, sep="\t", index=index)
        return pd.read_csv(path, sep="\t", index_col=0 if index else None)

    kw = dict(inputs)
    for key in ("samples", "library_sizes", "pca", "pca_variance", "contrasts", "libraries"):
        kw[key] = roundtrip(inputs[key], key)
    kw["programme_calls"] = roundtrip(inputs["programme_calls"], "calls")
    kw["dual_benefit"] = roundtrip(inputs["dual_benefit"], "dual")
    kw["sample_scores"] = roundtrip(inputs["sample_scores"], "scores")
    kw["ora"] = {k: roundtrip(v, f"ora_{i}") for i, (k, v) in enumerate(inputs["ora"].items())}
    path = tmp_path / "mapping.tsv"
    inputs["gene_mapping"].to_csv(path, sep="\t", index=False)
    kw["gene_mapping"] = pd.read_csv(path, sep="\t", dtype=str)
    kw["distances"] = roundtrip(inputs["distances"], "distances", index=True)
    kw["de"] = {k: roundtrip(v, f"de_{i}") for i, (k, v) in enumerate(inputs["de"].items())}
    kw["enrichment"] = {
        k: roundtrip(v, f"enr_{i}") for i, (k, v) in enumerate(inputs["enrichment"].items())
    }
    assert kw["dual_benefit"]["risk_flags"].isna().any()  # '' came back as NaN
    text = render_report(**kw)
    assert "Dual benefit: yes" in text and "no risk flags" in text
    assert "Why nothing is significant here" in text
    assert 'id="fig-sample-scores"' in text and "-running-spec" in text and "-ora" in text
    # the overlap group column read back as NaN for ungrouped programmes: shown empty
    assert "overlap_group" in text and ">nan<" not in text


# --- single-cell runs ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sc_inputs() -> dict:
    return make_single_cell_report_inputs()


@pytest.fixture(scope="module")
def sc_page(sc_inputs: dict) -> str:
    return render_report(**sc_inputs)


def _called(programme_calls: pd.DataFrame) -> list[str]:
    called = set(programme_calls.loc[programme_calls["call"].isin(["up", "down"]), "programme"])
    return [p for p in report._programme_order(programme_calls) if p in called]


def test_single_cell_section_only_in_single_cell_runs(page: str, sc_page: str) -> None:
    assert 'id="single-cells"' not in page and 'href="#single-cells"' not in page
    assert "fig-umap" not in page and "Single cells" not in page
    assert 'href="#single-cells"' in sc_page
    positions = [sc_page.index(f'<section id="{s}"') for s in ("qc", "single-cells", "programmes")]
    assert positions == sorted(positions)
    section = _section(sc_page, "single-cells")
    for fig in ("fig-cells-kept", "fig-pseudo-samples", "fig-umap", "fig-cell-scores"):
        assert f'id="{fig}"' in section, fig
    assert "12 pseudo-samples" in sc_page  # header and lead count pseudo-samples
    assert "12 pseudo-samples from 6 samples, 6 dropped" in _text(section)


def test_single_cell_qc_table_bars_and_pseudo_samples(sc_page: str, sc_inputs: dict) -> None:
    qc = sc_inputs["single_cell"]["cell_qc"]
    table = _table(sc_page, "table-cell-qc")
    rows = _rows(table)
    assert len(rows) == len(qc)
    header = re.findall(r"<th[^>]*>([^<]*)</th>", table)
    assert header[:4] == ["sample", "cells_in", "cells_kept", "kept_%"]
    first = qc.iloc[0]
    assert rows[0][:4] == [
        first["sample"],
        str(first["cells_in"]),
        str(first["cells_kept"]),
        f"{100 * first['cells_kept'] / first['cells_in']:.1f}".rstrip("0").rstrip("."),
    ]
    text = _text(_section(sc_page, "single-cells"))
    assert f"{qc['cells_kept'].sum()} of {qc['cells_in'].sum()} cells kept" in text
    assert "at least 200 genes detected, at least 300 counts" in text
    bars = _spec(sc_page, "fig-cells-kept")
    assert bars["layout"]["barmode"] == "stack"
    assert [t["name"] for t in bars["data"]] == ["kept", "removed by QC"]
    assert bars["data"][0]["y"] == [float(v) for v in qc["cells_kept"]]
    assert bars["data"][0]["x"] == list(qc["sample"])
    heat = _spec(sc_page, "fig-pseudo-samples")["data"][0]
    assert heat["x"] == ["cancer", "normal", "fibroblast"]
    assert heat["y"] == list(qc["sample"])
    assert [row[2] for row in heat["text"]] == ["10 ✕"] * len(qc)  # dropped: marked
    assert all(row[0] == "45" for row in heat["text"])
    assert "dropped: fewer than 20 cells" in heat["customdata"][0][2]


def test_single_cell_dropped_table_or_none_dropped(sc_page: str, sc_inputs: dict) -> None:
    dropped = _rows(_table(sc_page, "table-pseudobulk-dropped"))
    assert len(dropped) == 6
    assert dropped[0] == [
        "control_none_r1__fibroblast",
        "control_none_r1",
        "fibroblast",
        "10",
        "fewer than 20 cells",
    ]
    assert "6 pseudo-samples dropped (fewer than 20 cells)" in _text(sc_page)
    kw = dict(sc_inputs)
    kw["single_cell"] = dict(
        sc_inputs["single_cell"], dropped=sc_inputs["single_cell"]["dropped"].head(0)
    )
    text = render_report(**kw)
    assert "table-pseudobulk-dropped" not in text
    assert "No pseudo-sample dropped: every sample × cell type had at least 20 cells." in _text(
        _section(text, "single-cells")
    )


def test_umap_webgl_with_colour_menu(sc_page: str, sc_inputs: dict) -> None:
    spec = _spec(sc_page, "fig-umap")
    cells = sc_inputs["single_cell"]["cells"]
    assert len(spec["data"]) == 1
    trace = spec["data"][0]
    assert trace["type"] == "scattergl"
    assert len(trace["x"]) == len(trace["y"]) == len(trace["text"]) == len(cells)
    assert all(v == sig3(v) for v in trace["x"] + trace["y"])
    assert sorted(trace["x"]) == sorted(sig3(v) for v in cells["UMAP1"])
    called = _called(sc_inputs["programme_calls"])
    assert SCORED_PROGRAMME in called and len(called) == 5
    buttons = spec["layout"]["updatemenus"][0]["buttons"]
    labels = [b["label"] for b in buttons]
    assert labels == [
        f"colour by {c}" for c in ("cell_type", "medium", "therapy", "batch", *called)
    ]
    # categorical: one code per level, the colour bar names the levels (first level on top)
    by_type = buttons[0]["args"][0]
    assert by_type["marker.colorbar.ticktext"] == [["cancer", "normal", "fibroblast"]]
    assert by_type["marker.colorbar.tickvals"] == [[2, 1, 0]]
    codes = by_type["marker.color"][0]
    assert trace["marker"]["color"] == codes and len(codes) == len(cells)
    code_of = {"cancer": 2, "normal": 1, "fibroblast": 0}
    kinds = [t.split(" · ")[1] for t in trace["text"]]
    assert codes == [code_of[k] for k in kinds]
    by_medium = buttons[1]["args"][0]
    assert by_medium["marker.colorbar.ticktext"] == [["control", "CM"]]  # control level first
    # continuous: the programme's per-cell score, a sequential scale and a 1st-99th range
    scored = buttons[labels.index(f"colour by {SCORED_PROGRAMME}")]["args"][0]
    assert scored["marker.colorscale"] == ["Viridis"]
    values = scored["marker.color"][0]
    assert sorted(values) == sorted(sig3(v) for v in cells[SCORED_PROGRAMME])
    lo, hi = np.percentile(cells[SCORED_PROGRAMME], [1, 99])
    assert scored["marker.cmin"] == [sig3(lo)] and scored["marker.cmax"] == [sig3(hi)]
    assert SCORED_PROGRAMME in scored["hovertemplate"][0]


def test_umap_downsampling_is_capped_deterministic_and_proportional() -> None:
    rng = np.random.default_rng(1)
    n = 25_000
    samples = rng.choice(["s1", "s2", "s3", "s4"], n, p=[0.4, 0.3, 0.2, 0.1])
    cells = pd.DataFrame(
        {
            "cell": [f"c{i:06d}" for i in range(n)],
            "sample": samples,
            "cell_type": rng.choice(["a", "b"], n),
            "UMAP1": rng.normal(size=n),
            "UMAP2": rng.normal(size=n),
        }
    )
    cells.loc[7, "UMAP1"] = np.nan  # cells without coordinates are not drawn
    chosen = select_umap_cells(cells)
    assert len(chosen) == report.MAX_UMAP_CELLS
    assert "c000007" not in set(chosen["cell"])
    again = select_umap_cells(cells.sample(frac=1.0, random_state=5))
    assert chosen["cell"].tolist() == again["cell"].tolist()  # same cells, same draw order
    share = chosen["sample"].value_counts(normalize=True)
    expected = cells["sample"].value_counts(normalize=True)
    assert (share - expected).abs().max() < 0.001
    assert chosen["cell"].tolist() != sorted(chosen["cell"])  # shuffled draw order
    small = select_umap_cells(cells.iloc[10:310], max_cells=1000)
    assert len(small) == 300
    fig, info = report.umap_figure(cells, None, None)
    assert info == {
        "n_cells": n,
        "n_shown": report.MAX_UMAP_CELLS,
        "options": ["colour by cell_type"],
        "n_programmes": 0,
    }
    assert len(fig["data"][0]["x"]) == report.MAX_UMAP_CELLS
    assert fig["layout"]["title"]["text"] == "UMAP of 10,000 of 25,000 cells"


def test_cell_score_boxes_per_called_programme(sc_page: str, sc_inputs: dict) -> None:
    spec = _spec(sc_page, "fig-cell-scores")
    called = _called(sc_inputs["programme_calls"])
    titles = [a["text"] for a in spec["layout"]["annotations"]]
    assert [re.sub(r"<br>.*", "", t) for t in titles] == [f"<b>{p}</b>" for p in called]
    assert all("called up in" in t or "called down in" in t for t in titles)
    assert spec["layout"]["boxmode"] == "group"
    traces = spec["data"]
    assert len(traces) == 2 * len(called)  # medium levels per panel
    assert [t["name"] for t in traces[:2]] == ["control", "CM"]
    assert [t["showlegend"] for t in traces] == [True, True] + [False] * (len(traces) - 2)
    k = called.index(SCORED_PROGRAMME)
    control, cm = traces[2 * k], traces[2 * k + 1]
    assert cm["x"] == ["cancer", "normal", "fibroblast"]
    cells = sc_inputs["single_cell"]["cells"]
    sel = cells[(cells["cell_type"] == "cancer") & (cells["medium"] == "CM")][SCORED_PROGRAMME]
    q1, med, q3 = np.percentile(sel, [25, 50, 75])
    assert (cm["q1"][0], cm["median"][0], cm["q3"][0]) == (sig4(q1), sig4(med), sig4(q3))
    assert cm["mean"][0] == sig4(sel.mean())
    assert cm["median"][0] > control["q3"][0]  # the designed shift shows
    stats = report.box_stats([1, 2, 3, 4, 100, np.nan])
    assert stats["n"] == 5 and stats["upperfence"] == 4 and stats["lowerfence"] == 1
    assert report.box_stats([np.nan]) is None


def test_cell_scores_capped_by_abs_nes() -> None:
    kw = make_single_cell_report_inputs()
    calls = kw["programme_calls"].copy()
    calls["call"] = "up"
    fig, info = report.cell_score_figure(
        kw["single_cell"]["cells"], kw["samples"], calls, kw["methods"]["config"], max_panels=3
    )
    assert info["n_called"] == 16 and info["n_shown"] == 3
    strongest = calls.assign(a=calls["NES"].abs()).groupby("programme")["a"].max()
    top = set(strongest.sort_values(ascending=False).index[:3])
    shown = {re.sub(r"<b>(.*?)</b>.*", r"\1", a["text"]) for a in fig["layout"]["annotations"]}
    assert shown == top


def test_single_cell_without_called_programmes() -> None:
    kw = make_single_cell_report_inputs()
    kw["programme_calls"] = kw["programme_calls"].assign(call="ns")
    text = render_report(**kw)
    labels = [b["label"] for b in _spec(text, "fig-umap")["layout"]["updatemenus"][0]["buttons"]]
    assert labels == [f"colour by {c}" for c in ("cell_type", "medium", "therapy", "batch")]
    assert 'id="fig-cell-scores"' not in text
    assert "No programme is called up or down in any contrast" in text


def test_single_cell_deterministic_whatever_the_cell_order(sc_page: str) -> None:
    kw = make_single_cell_report_inputs()
    cells = kw["single_cell"]["cells"]
    kw["single_cell"] = dict(kw["single_cell"], cells=cells.sample(frac=1.0, random_state=11))
    assert render_report(**kw) == sc_page


def test_single_cell_text_is_escaped() -> None:
    kw = make_single_cell_report_inputs()
    evil = "<b>x</b>&"
    cells = kw["single_cell"]["cells"].copy()
    cells.loc[cells["cell_type"] == "fibroblast", "cell_type"] = evil
    cells.loc[cells["sample"] == "CM_none_r1", "batch"] = "<script>alert(1)</script>"
    dropped = kw["single_cell"]["dropped"].assign(reason="<i>too few</i>")
    kw["single_cell"] = dict(kw["single_cell"], cells=cells, dropped=dropped)
    text = render_report(**kw)
    assert evil not in text and "<script>alert" not in text and "<i>too few</i>" not in text
    assert "&lt;i&gt;too few&lt;/i&gt;" in text
    for block in _parse(text).json_blocks.values():
        assert "<" not in block
    ticks = _spec(text, "fig-umap")["layout"]["updatemenus"][0]["buttons"][0]["args"][0]
    assert ticks["marker.colorbar.ticktext"][0][-1] == html.escape(evil)


def test_single_cell_tables_read_back_from_tsv(
    tmp_path: Path, sc_inputs: dict, sc_page: str
) -> None:
    """As the adapter reads them: cells gzipped, identifiers and factors as text."""
    sc = sc_inputs["single_cell"]
    sc["cells"].to_csv(tmp_path / "cells.tsv.gz", sep="\t", index=False)
    sc["cell_qc"].to_csv(tmp_path / "cell_qc.tsv", sep="\t", index=False)
    sc["dropped"].head(0).to_csv(tmp_path / "dropped.tsv", sep="\t", index=False)
    text_cols = dict.fromkeys(["cell", "sample", "cell_type", "medium", "therapy", "batch"], str)
    read = {
        "cells": pd.read_csv(tmp_path / "cells.tsv.gz", sep="\t", dtype=text_cols),
        "cell_qc": pd.read_csv(tmp_path / "cell_qc.tsv", sep="\t", dtype={"sample": str}),
        "dropped": pd.read_csv(tmp_path / "dropped.tsv", sep="\t"),
    }
    text = render_report(**dict(sc_inputs, single_cell=read))
    assert _spec(text, "fig-umap") == _spec(sc_page, "fig-umap")
    assert _spec(text, "fig-cell-scores") == _spec(sc_page, "fig-cell-scores")
    assert "No pseudo-sample dropped" in text


def test_single_cell_report_size() -> None:
    """20,000 scored cells: the UMAP draws 10,000; the section adds well under 2 MB."""
    bulk = len(render_report(**make_report_inputs()).encode("utf-8"))
    start = time.monotonic()
    kw = make_single_cell_report_inputs(n_cells_per_sample=3_400)
    assert len(kw["single_cell"]["cells"]) >= 20_000
    text = render_report(**kw)
    seconds = time.monotonic() - start
    size = len(text.encode("utf-8"))
    umap = len(_parse(text).json_blocks["fig-umap-spec"].encode("utf-8"))
    print(
        f"\nsingle-cell report: {size / 1e6:.2f} MB (bulk fixture {bulk / 1e6:.2f} MB; "
        f"UMAP spec {umap / 1e6:.2f} MB) in {seconds:.1f} s"
    )
    assert len(_spec(text, "fig-umap")["data"][0]["x"]) == report.MAX_UMAP_CELLS
    assert size - bulk < 2_000_000


def test_cell_scores_by_cell_type_only_without_the_exposure_column() -> None:
    kw = make_single_cell_report_inputs()
    config = dict(kw["methods"]["config"])
    config["roles"] = {"exposure": {"column": "treatment", "control": "x"}}
    fig, info = report.cell_score_figure(
        kw["single_cell"]["cells"], kw["samples"], kw["programme_calls"], config
    )
    assert info["group"] is None and info["n_shown"] == 5
    assert len(fig["data"]) == 5 and fig["layout"]["showlegend"] is False
    assert all(t["x"] == ["cancer", "normal", "fibroblast"] for t in fig["data"])
