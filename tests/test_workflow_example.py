"""End to end: the whole workflow on a reduced example, checked against the planted truth."""

from __future__ import annotations

import pandas as pd
import pytest
from workflow_runs import SMALL_EXAMPLE, prepare_workdir, run_snakemake

from msc_secretome.de_diagnostics import DIAGNOSTIC_COLUMNS
from msc_secretome.outliers import OUTLIER_COLUMNS

pytestmark = pytest.mark.slow

DE_COLUMNS = ["gene_id", "symbol", "baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]
ENRICHMENT_COLUMNS = ["library", "term", "NES", "pvalue", "fdr", "size", "leading_edge"]
CALL_COLUMNS = ["contrast", "programme", "category", "NES", "fdr", "call"]


@pytest.fixture(scope="session")
def example_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("example")
    overrides = prepare_workdir(workdir, SMALL_EXAMPLE)
    run_snakemake(workdir, "--cores", "2", "--configfile", str(overrides))
    return workdir, overrides


def read(workdir, path):
    return pd.read_csv(workdir / path, sep="\t", keep_default_na=False, na_values=["", "NaN"])


def test_outputs_follow_the_contract(example_run):
    workdir, _ = example_run
    contrasts = read(workdir, "results/de/contrasts.tsv")["contrast"].tolist()
    assert len(contrasts) == 14
    for contrast in contrasts:
        de = read(workdir, f"results/de/{contrast}.tsv")
        assert list(de.columns) == DE_COLUMNS
        enrichment = read(workdir, f"results/enrichment/{contrast}.tsv")
        assert set(ENRICHMENT_COLUMNS) <= set(enrichment.columns)
    calls = read(workdir, "results/programmes/programme_calls.tsv")
    assert set(CALL_COLUMNS) <= set(calls.columns)
    assert set(calls["call"]) <= {"up", "down", "ns", "not_tested"}
    dual = read(workdir, "results/programmes/dual_benefit.tsv")
    assert dual["therapy"].tolist() == ["none", "chemo", "radiation"]
    assert (workdir / "results/report/index.html").stat().st_size > 100_000
    # science the report shows is in tables: QC outliers, why a contrast has no hits
    assert list(read(workdir, "results/qc/outliers.tsv").columns) == OUTLIER_COLUMNS
    summary = read(workdir, "results/de/contrasts.tsv")
    assert set(DIAGNOSTIC_COLUMNS) <= set(summary.columns)
    # the example's trend is DESeq2's a0 + a1 / mean: no fallback, and it says so
    assert (summary["dispersion_trend"] == "parametric").all()
    assert (summary["fit_type"] == "parametric").all()
    no_reasons = summary["no_hits_reasons"].isna()  # read() reads '' as missing
    assert no_reasons.eq(summary["n_up"] + summary["n_down"] > 0).all()


def test_de_recovers_planted_genes(example_run):
    workdir, _ = example_run
    truth = read(workdir, "resources/example/truth_de.tsv")
    contrasts = read(workdir, "results/de/contrasts.tsv")["contrast"]
    discoveries = false = 0
    for contrast in contrasts:
        de = read(workdir, f"results/de/{contrast}.tsv")
        planted = set(truth.loc[truth["contrast"] == contrast, "gene_id"])
        called = set(de.loc[de["padj"] < 0.05, "gene_id"])
        discoveries += len(called)
        false += len(called - planted)
        recall = len(called & planted) / len(planted) if planted else float("nan")
        contrast_fdp = len(called - planted) / max(1, len(called))
        print(f"{contrast}: {len(called)} called, FDP {contrast_fdp:.3f}, recall {recall:.3f}")
    fdp = false / discoveries
    print(f"pooled: {discoveries} discoveries, FDP {fdp:.3f}")
    assert discoveries > 500
    assert fdp <= 0.10


def test_programme_calls_match_the_planted_biology(example_run):
    workdir, _ = example_run
    calls = read(workdir, "results/programmes/programme_calls.tsv")
    truth = read(workdir, "resources/example/truth_programmes.tsv")
    merged = calls.merge(truth, on=["contrast", "programme"], validate="one_to_one")
    merged["called"] = merged["call"].map({"up": 1, "down": -1}).fillna(0).astype(int)
    planted = merged[merged["planted_direction"] != 0]
    wrong = planted[planted["called"] != planted["planted_direction"]]
    assert wrong.empty, wrong[["contrast", "programme", "NES", "fdr", "call"]].to_string()
    unplanted = merged[(merged["planted_direction"] == 0) & (merged["called"] != 0)]
    per_programme = unplanted.groupby("programme").size()
    print("unplanted calls per programme:", per_programme.to_dict())
    assert (per_programme <= 3).all(), per_programme.to_dict()


def test_dual_benefit_verdict_and_risk_flag(example_run):
    workdir, _ = example_run
    dual = read(workdir, "results/programmes/dual_benefit.tsv").set_index("therapy")
    assert (dual["verdict"] == "dual_benefit").all(), dual["verdict"].to_dict()
    assert all("RISK_IL6_JAK_STAT3" in flags for flags in dual["risk_flags"])
    assert dual.loc["chemo", "potentiation"] > 0
    assert dual.loc["radiation", "potentiation"] == 0  # no CM x radiation interaction planted
    assert dual.loc["chemo", "damage_down"] >= 1
    # what the design answers, and how sure: one batch of three left out at a time, per model
    assert (dual["design_answer"] == "dual_benefit").all()
    assert (dual["receiver_group"] == "cancer + normal").all()
    assert (dual["stability_refits"] == 6).all()
    assert (dual["stability"] >= 0.8).all(), dual[["stability", "unstable_when"]].to_dict()


def test_rerun_with_nothing_changed_does_nothing(example_run):
    workdir, overrides = example_run
    result = run_snakemake(workdir, "--cores", "2", "--configfile", str(overrides), "--dry-run")
    assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.browser
def test_example_report_in_a_real_browser(example_run):
    """The example's report as a person sees it; screenshot saved under results/report/."""
    from test_report_browser import _missing_requirement, check_report_in_browser

    reason = _missing_requirement()
    if reason:
        pytest.skip(reason)
    workdir, _ = example_run
    screenshot = workdir / "results/report/screenshot.png"
    seen = check_report_in_browser(workdir / "results/report/index.html", screenshot)
    assert seen["console_errors"] == [] and seen["page_errors"] == []
    assert seen["external_requests"] == []
    assert seen["verdict_visible"] and "dual benefit" in seen["verdict_text"].lower()
    assert seen["programmes_rendered"] and seen["volcano_rendered"]
    assert seen["plots_rendered"] == seen["plots_total"]
    assert seen["search"]["after"] < seen["search"]["before"]
    assert screenshot.stat().st_size > 10_000


def test_snakemake_report_builds_with_captions(example_run):
    workdir, overrides = example_run
    target = workdir / "snakemake-report.html"
    run_snakemake(workdir, "--configfile", str(overrides), "--report", str(target))
    html = target.read_text(errors="replace")
    assert "dual_benefit.tsv" in html and "Programme calls" in html


def test_planted_secreted_factors_rank_first_and_the_decoy_never(example_run):
    workdir, _ = example_run
    links = read(workdir, "results/secretome/ligand_links.tsv")
    truth = read(workdir, "resources/example/truth_ligands.tsv")
    for contrast, block in truth.groupby("contrast"):
        planted = set(block.loc[block["kind"] == "planted", "ligand"])
        mine = links[links["contrast"] == contrast]
        top = mine.loc[mine["rank"] <= len(planted)].sort_values("rank")
        print(contrast, top[["ligand", "rank", "pathway", "pathway_fdr"]].to_dict("records"))
        assert set(top["ligand"]) == planted, mine[["ligand", "status", "rank"]].to_string()
    decoys = set(truth.loc[truth["kind"] == "decoy", "ligand"])
    decoy_rows = links[links["ligand"].isin(decoys)]
    assert len(decoy_rows) > 0 and decoy_rows["rank"].isna().all()
    assert (decoy_rows["status"] == "receptor_not_expressed").all()
    # The decoy's pathway (JAK-STAT) is active in cancer cells: only its receptor stops it.
    activity = read(workdir, "results/secretome/pathway_activity.tsv")
    jak = activity[
        (activity["pathway"] == "JAK-STAT") & (activity["contrast"] == "cancer_cm_vs_ctrl_none")
    ]
    assert (jak["fdr"] < 0.05).all() and (jak["score"] > 0).all()
    factors = read(workdir, "results/secretome/verdict_factors.tsv")
    trail = factors[
        (factors["contrast"] == "cancer_cm_vs_ctrl_chemo") & (factors["ligand"] == "TNFSF10")
    ]
    assert len(trail) == 1
    chain = trail["chain"].iloc[0]
    assert chain.startswith("TRAIL -> ") and "TNFRSF10B" in chain and "Trail pathway up" in chain
    assert chain.endswith("in cancer cells") and "CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS up" in chain
    methods = read(workdir, "results/secretome/methods.tsv").set_index("key")["value"]
    assert methods["ligand_receptor_version"] == "1.10.0"
    assert len(methods["ligand_receptor_sha256"]) == 64
