"""Real-world-shaped studies run end to end from the config a biologist would write first.

Each study is simulated (msc_secretome.simulate_designs: 1,500 genes, 200 permutations) into a
fresh working directory with its own sample sheet and counts; the config names only the
sheet, the counts and the roles (no contrasts file: they are derived).
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from workflow_runs import prepare_workdir, run_snakemake

from msc_secretome.catalogue import builtin_catalogue_path, read_catalogue
from msc_secretome.simulate_designs import STUDIES, simulate_counts, split_experiments

pytestmark = pytest.mark.slow


def run_study(workdir, name: str, extra: dict | None = None, *, check: bool = True):
    study = STUDIES[name]()
    prepare_workdir(workdir)
    study.samples.to_csv(workdir / "samples.tsv", sep="\t", index=False)
    counts = simulate_counts(read_catalogue(builtin_catalogue_path()), study, seed=3)
    counts.to_csv(workdir / "counts.tsv.gz", sep="\t")
    config = {
        "samples": "samples.tsv",
        "counts": "counts.tsv.gz",
        "roles": study.roles,
        "enrichment": {"permutations": 200},
        "secretome": {"source": "builtin"},  # no proteomics of the medium
        **(extra or {}),
    }
    (workdir / "study.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return run_snakemake(workdir, "--cores", "2", "--configfile", "study.yaml", check=check)


def verdicts(workdir) -> pd.DataFrame:
    return pd.read_csv(
        workdir / "results/programmes/dual_benefit.tsv", sep="\t", keep_default_na=False
    )


def report_text(workdir) -> str:
    return (workdir / "results/report/index.html").read_text(encoding="utf-8")


def test_cancer_organoids_without_therapy(tmp_path):
    run_study(tmp_path, "organoids")
    out = verdicts(tmp_path)
    assert len(out) == 1
    row = out.iloc[0]
    assert (row["design_answer"], row["receiver_group"], row["therapy"]) == (
        "cancer_only", "organoids", ""
    )  # fmt: skip
    # planted: EMT up (risk) and type-I IFN down (cytotoxic against the aim)
    assert row["verdict"] == "cancer_harm"
    assert "RISK_EMT_INVASION" in row["risk_flags"].split(";")
    assert "protective side was not measured" in row["explanation"]
    assert "no therapy in this study" in row["not_measured"]
    # one patient left out at a time (3 levels of the block)
    assert row["stability_refits"] == 3
    derived = yaml.safe_load((tmp_path / "results/design/contrasts.yaml").read_text())
    assert derived["models"]["organoids"]["design"] == "~ patient + medium"
    assert "organoids (cancer)" in report_text(tmp_path)


def test_two_cancer_lines_and_no_normal_cells(tmp_path):
    run_study(tmp_path, "osteosarcoma")
    out = verdicts(tmp_path).set_index("receiver_group")
    assert list(out.index) == ["U2OS", "SAOS2"]
    assert out.loc["U2OS", "verdict"] == "cancer_benefit"  # planted TRAIL + IFN up
    assert "RISK_IL6_JAK_STAT3" in out.loc["SAOS2", "risk_flags"].split(";")
    assert out.loc["SAOS2", "verdict"] in {"cancer_risk", "cancer_harm"}
    assert (out["stability_refits"] == 6).all()
    assert out.loc["U2OS", "stability"] >= 0.8
    assert (
        "U2OS" in out.loc["U2OS", "summary"] and "Stability for U2OS" in out.loc["U2OS", "summary"]
    )


def test_normal_cells_two_drugs_two_doses(tmp_path):
    run_study(tmp_path, "macrophages", {"stability": {"enabled": False}})
    out = verdicts(tmp_path).set_index("therapy")
    assert list(out.index) == [
        "none", "doxorubicin_low", "doxorubicin_high", "epirubicin_low", "epirubicin_high"
    ]  # fmt: skip
    assert set(out["design_answer"]) == {"normal_only"}
    # planted: the CM raises anti-apoptotic survival and lowers senescence in every arm
    assert (out["verdict"] == "normal_protection").all(), out["verdict"].to_dict()
    assert all("macrophages (normal)" in text for text in out["explanation"])
    assert (out["stability_refits"].astype(str) == "").all()  # switched off
    assert not list((tmp_path / "results").glob("stability/*.tsv"))


def test_two_sources_and_vesicles_against_control(tmp_path):
    run_study(tmp_path, "sources", {"stability": {"enabled": False}})
    out = verdicts(tmp_path).set_index("exposure")
    assert list(out.index) == ["bm_cm", "ad_cm", "ev"]
    assert set(out["design_answer"]) == {"dual_benefit"}
    assert (
        out.loc["bm_cm", "verdict"] == "dual_benefit"
    )  # cytotoxic in HT29, protective in fibroblasts
    assert out.loc["ev", "verdict"] == "unclear"  # protective only: no cancer-side benefit
    assert "RISK_PROLIFERATION_CELL_CYCLE" in out.loc["ad_cm", "risk_flags"]
    contrasts = pd.read_csv(tmp_path / "results/de/contrasts.tsv", sep="\t", keep_default_na=False)
    comparisons = contrasts[contrasts["role"] == "exposure_comparison"]
    assert len(comparisons) == 6  # 3 pairs of exposures x 2 receiver groups


def test_an_effect_resting_on_one_replicate_is_not_stable(tmp_path):
    run_study(tmp_path, "one_replicate")
    row = verdicts(tmp_path).iloc[0]
    assert row["stability_refits"] == 8
    assert row["stability"] < 1.0
    assert "sample=msc_cm_r0" in row["unstable_when"]
    assert "rests on that unit" in row["summary"]


def test_cancer_and_normal_cells_in_two_runs_with_their_own_count_formats(tmp_path):
    """HCT116 counted by featureCounts, the fibroblasts by STAR (one file per sample)."""
    from test_count_formats import write_featurecounts, write_star

    study = STUDIES["two_matrices"]()
    prepare_workdir(tmp_path)
    counts = simulate_counts(read_catalogue(builtin_catalogue_path()), study, seed=3)
    experiments = {}
    for name, (sheet, matrix) in split_experiments(study, counts).items():
        sheet.to_csv(tmp_path / f"{name}_samples.tsv", sep="\t", index=False)
        experiments[name] = {"samples": f"{name}_samples.tsv"}
        if name == "HCT116":
            write_featurecounts(matrix, tmp_path / "featureCounts.txt")
            experiments[name]["counts"] = "featureCounts.txt"
        else:
            write_star(matrix, tmp_path / "star")
            experiments[name]["counts"] = "star/{sample}ReadsPerGene.out.tab"
    config = {
        "experiments": experiments,
        "roles": study.roles,
        "enrichment": {"permutations": 200},
        "secretome": {"source": "builtin"},  # no proteomics of the medium
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    run_snakemake(tmp_path, "--cores", "2", "--configfile", "study.yaml")
    out = verdicts(tmp_path).set_index("therapy")
    assert list(out.index) == ["none", "cisplatin"]
    assert (out["verdict"] == "dual_benefit").all(), out["verdict"].to_dict()
    assert (out["receiver_group"] == "HCT116 + fibroblasts").all()
    # each experiment fitted on its own: one model per experiment, its own batches
    contrasts = pd.read_csv(tmp_path / "results/de/contrasts.tsv", sep="\t")
    assert set(contrasts["subset"]) == {"experiment=HCT116", "experiment=fibroblasts"}
    assert set(contrasts.groupby("model")["n_samples"].first()) == {12}
    report = pd.read_csv(tmp_path / "results/experiments/experiments.tsv", sep="\t")
    assert report["n_genes_not_shared"].tolist() == [0, 0]
    assert report["format"].tolist() == ["featurecounts", "star"]
    validated = pd.read_csv(tmp_path / "results/validated/count_summary_rows.tsv", sep="\t")
    assert (validated.set_index("sample")["N_noFeature"] > 0).sum() == 12  # the STAR samples
    summary = (tmp_path / "results/validated/validation_summary.tsv").read_text()
    assert "HCT116: featurecounts; fibroblasts: star" in summary
    assert (out["stability_refits"] == 6).all() and (out["stability"] >= 0.8).all()


def test_a_misspelt_role_stops_before_any_job(tmp_path):
    study = STUDIES["organoids"]()
    prepare_workdir(tmp_path)
    study.samples.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    roles = study.roles | {
        "exposure": {"column": "Medium", "exposed": "caf_cm", "control": "control"}
    }
    config = {"samples": "samples.tsv", "counts": "counts.tsv.gz", "roles": roles}
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(config))
    result = run_snakemake(tmp_path, "-n", "--configfile", "study.yaml", check=False)
    assert result.returncode != 0
    assert "roles.exposure.column is 'Medium'" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
