"""End to end for other species: a mouse study with the built-in catalogue (mapped through the
shipped orthologue table), and a fly-like-id study with ``gene_sets.programmes: none`` and a
user GMT carrying the analysis. Small sizes (3,000 genes, 3 replicates)."""

from __future__ import annotations

import pandas as pd
import pytest
from workflow_runs import prepare_workdir, run_snakemake

from msc_secretome.catalogue import catalogue_gene_sets, read_catalogue
from msc_secretome.gmt import write_gmt
from msc_secretome.simulate_species import simulate_species_experiment, write_species_experiment

pytestmark = pytest.mark.slow

SMALL = {"enrichment": {"permutations": 300, "sample_scores": "none"}}


def _run(tmp_path_factory, organism: str, overrides: dict) -> tuple:
    workdir = tmp_path_factory.mktemp(organism)
    simulated = simulate_species_experiment(organism, n_genes=3000, n_replicates=3, seed=11)
    paths = write_species_experiment(simulated, workdir / "resources" / organism)
    config = {
        **SMALL,
        "secretome": {"source": "builtin"},  # own counts: not the example's medium
        # the example's contrasts (named as the truth tables); without it they are derived
        "contrasts": "config/contrasts.yaml",
        "counts": str(paths["counts"]),
        "samples": str(paths["samples"]),
        **overrides,
    }
    if organism == "fly":
        config["gene_sets"] = {
            **config.get("gene_sets", {}),
            "libraries": {"fly": str(paths["gmt"])},
        }
    if organism == "mouse":  # a human GMT (as MSigDB's), declared human: mapped to mouse
        human_gmt = write_gmt(
            catalogue_gene_sets(read_catalogue()), workdir / "resources" / "human_sets.gmt"
        )
        config["gene_sets"] = {
            "libraries": {"human_sets": {"path": str(human_gmt), "organism": "human"}}
        }
    extra = prepare_workdir(workdir, config)
    run_snakemake(workdir, "--cores", "2", "--configfile", str(extra))
    return workdir, simulated


@pytest.fixture(scope="module")
def mouse_run(tmp_path_factory):
    return _run(tmp_path_factory, "mouse", {"organism": "mouse"})


@pytest.fixture(scope="module")
def fly_run(tmp_path_factory):
    overrides = {
        "organism": "other",
        "gene_sets": {"programmes": "none"},
        # no ligand-receptor resource or footprints for fly ids
        "secretome": {"enabled": False},
    }
    return _run(tmp_path_factory, "fly", overrides)


def read(workdir, path):
    return pd.read_csv(workdir / path, sep="\t", keep_default_na=False, na_values=["", "NaN"])


def recovered(workdir, truth: pd.DataFrame) -> pd.DataFrame:
    calls = read(workdir, "results/programmes/programme_calls.tsv")
    merged = calls.merge(truth, on=["contrast", "programme"], validate="one_to_one")
    merged["called"] = merged["call"].map({"up": 1, "down": -1}).fillna(0).astype(int)
    return merged


def test_mouse_study_recovers_planted_programmes(mouse_run):
    workdir, simulated = mouse_run
    merged = recovered(workdir, simulated.experiment.truth_programmes)
    planted = merged[merged["planted_direction"] != 0]
    hit = (planted["called"] == planted["planted_direction"]).mean()
    print(planted[["contrast", "programme", "NES", "fdr", "call"]].to_string())
    assert len(planted) >= 30 and hit >= 0.8, hit
    wrong_sign = planted[planted["called"] == -planted["planted_direction"]]
    assert wrong_sign.empty, wrong_sign.to_string()
    # the gene sets really are in mouse symbols
    gmt = (workdir / "results/gene_sets/programmes.gmt").read_text()
    assert "\tTrp53\t" in gmt or "\tCdkn1a\t" in gmt
    assert "\tCDKN1A\t" not in gmt


def test_mouse_mapping_rates_are_reported(mouse_run):
    workdir, _ = mouse_run
    rates = read(workdir, "results/gene_sets/ortholog_mapping.tsv")
    assert rates["library"].value_counts().to_dict() == {"programmes": 34, "human_sets": 34}
    assert rates["mapping_rate"].between(0.4, 1.0).all()
    libraries = read(workdir, "results/gene_sets/libraries.tsv")
    row = libraries.set_index("library").loc["programmes"]
    assert row["organism"] == "mouse" and row["mapped_from"] == "human"
    assert 0.85 < float(row["ortholog_mapping_rate"]) < 0.95
    verdict = read(workdir, "results/programmes/dual_benefit.tsv")
    assert verdict["explanation"].str.contains("mapped to mouse").all()
    report = (workdir / "results/report/index.html").read_text()
    assert "ortholog_mapping_rate" in report


def test_a_human_gmt_declared_human_is_mapped_for_mouse_counts(mouse_run):
    workdir, _ = mouse_run
    libraries = read(workdir, "results/gene_sets/libraries.tsv").set_index("library")
    row = libraries.loc["human_sets"]
    assert row["mapped_from"] == "human" and row["coverage_verdict"] == "ok"
    # the same sets as the mapped catalogue: the same mapping rate
    assert row["ortholog_mapping_rate"] == libraries.loc["programmes", "ortholog_mapping_rate"]
    gmt = (workdir / "results/gene_sets/human_sets.gmt").read_text()
    assert "\tCdkn1a" in gmt and "\tCDKN1A" not in gmt
    enrichment = read(workdir, "results/enrichment/cancer_cm_vs_ctrl_none.tsv")
    mine = enrichment[enrichment["library"] == "human_sets"]
    assert len(mine) > 20 and (mine["fdr"] < 0.05).any()


def test_fly_study_runs_on_the_user_gmt(fly_run):
    workdir, simulated = fly_run
    libraries = read(workdir, "results/gene_sets/libraries.tsv")
    assert list(libraries["library"]) == ["fly"]  # no built-in catalogue
    merged = recovered(workdir, simulated.experiment.truth_programmes)
    planted = merged[merged["planted_direction"] != 0]
    assert (planted["called"] == planted["planted_direction"]).mean() >= 0.8
    calls = read(workdir, "results/programmes/programme_calls.tsv")
    assert calls["programme_definitions"].str.contains("user's gene-set libraries").all()
    verdict = read(workdir, "results/programmes/dual_benefit.tsv")
    assert verdict["explanation"].str.contains("user's gene-set libraries (fly)", regex=False).all()
    assert set(verdict["verdict"]) <= {"dual_benefit", "no_dual_benefit", "unclear"}
    assert (verdict["verdict"] == "dual_benefit").any()  # the planted benefit is found
    assert (workdir / "results/report/index.html").is_file()
