"""Roles that describe real study shapes, the contrasts derived from them, and their verdicts."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import yaml
from workflow_runs import PROJECT_ROOT

from msc_secretome import settings
from msc_secretome.contrast_derivation import contrasts_yaml, derive_contrasts
from msc_secretome.errors import InputError
from msc_secretome.roles import contrast_role, parse_roles, read_study
from msc_secretome.simulate_designs import STUDIES
from msc_secretome.verdict import dual_benefit

SCHEMA = PROJECT_ROOT / "workflow" / "schemas" / "config.schema.yaml"
CONTRASTS_SCHEMA = PROJECT_ROOT / "workflow" / "schemas" / "contrasts.schema.yaml"


def example_config() -> dict:
    config = yaml.safe_load((PROJECT_ROOT / "config" / "config.yaml").read_text())
    config["samples"] = str(PROJECT_ROOT / "config" / "samples.tsv")
    config["contrasts"] = str(PROJECT_ROOT / "config" / "contrasts.yaml")
    return config


def study_config(name: str, tmp_path) -> dict:
    study = STUDIES[name]()
    sheet = tmp_path / f"{name}.tsv"
    study.samples.to_csv(sheet, sep="\t", index=False)
    return {"samples": str(sheet), "contrasts": None, "roles": copy.deepcopy(study.roles)}


def derived(name: str, tmp_path) -> settings.Experiment:
    return settings.load_experiment(study_config(name, tmp_path), CONTRASTS_SCHEMA)


# --- roles ------------------------------------------------------------------------------


def test_derived_contrasts_of_the_example_are_its_contrasts_file():
    config = example_config()
    given = settings.load_experiment(config, CONTRASTS_SCHEMA)
    config["contrasts"] = None
    made = settings.load_experiment(config, CONTRASTS_SCHEMA)

    def key(experiment):
        return {
            (c.model, c.kind, c.terms, tuple(sorted(c.at.items())))
            for c in experiment.contrasts.values()
        }

    assert made.derived and not given.derived
    assert key(made) == key(given)
    assert {m.design for m in made.models.values()} == {"~ batch + medium * therapy"}


def test_organoids_without_normal_cells_or_therapy(tmp_path):
    experiment = derived("organoids", tmp_path)
    (model,) = experiment.models.values()
    assert model.design == "~ patient + medium" and model.subset == {}
    assert list(experiment.contrasts) == ["organoids_caf_cm_vs_control"]
    assert experiment.study.therapy_column is None
    assert experiment.study.groups == {"organoids": "cancer"}


def test_two_cancer_lines_get_one_model_each(tmp_path):
    experiment = derived("osteosarcoma", tmp_path)
    assert {n: m.subset for n, m in experiment.models.items()} == {
        "U2OS": {"cell_line": ("U2OS",)},
        "SAOS2": {"cell_line": ("SAOS2",)},
    }
    assert sorted(experiment.contrasts) == [
        "SAOS2_immune_sup_vs_medium",
        "U2OS_immune_sup_vs_medium",
    ]


def test_two_drugs_two_doses_are_crossed_with_the_exposure(tmp_path):
    experiment = derived("macrophages", tmp_path)
    (model,) = experiment.models.values()
    assert model.design == "~ medium * treatment"
    names = list(experiment.contrasts)
    arms = ["doxorubicin_low", "doxorubicin_high", "epirubicin_low", "epirubicin_high"]
    assert names[:5] == [f"macrophages_msc_cm_vs_medium_{a}" for a in ["none", *arms]]
    assert names[5:9] == [f"macrophages_msc_cm_x_{a}" for a in arms]
    assert names[9:] == [f"macrophages_{a}_vs_none" for a in arms]


def test_several_exposures_each_against_its_control_and_each_other(tmp_path):
    experiment = derived("sources", tmp_path)
    assert experiment.models["HT29"].design == "~ batch + medium"
    ht29 = [n for n, c in experiment.contrasts.items() if c.model == "HT29"]
    assert ht29 == [
        "HT29_bm_cm_vs_control",
        "HT29_ad_cm_vs_control",
        "HT29_ev_vs_control",
        "HT29_ad_cm_vs_bm_cm",
        "HT29_ev_vs_bm_cm",
        "HT29_ev_vs_ad_cm",
    ]
    role = contrast_role(
        experiment.study,
        kind="compare",
        terms=[("medium", "ev", "ad_cm")],
        context={"cells": "HT29"},
    )
    assert role["role"] == "exposure_comparison" and role["receiver_group"] == "HT29"


def test_missing_combinations_give_an_additive_design(tmp_path):
    sheet = pd.DataFrame(
        [(f"s{i}", m, t) for i, (m, t) in enumerate(
            [(m, t) for m in ("medium", "stim") for t in ("none", "drug") for _ in range(3)]
        ) if not (m == "stim" and t == "drug")],
        columns=["sample", "stimulus", "drug"],
    )  # fmt: skip
    study = parse_roles(
        {
            "cell_type": {"normal": ["macrophages"]},
            "exposure": {"column": "stimulus", "exposed": "stim", "control": "medium"},
            "therapy": {"column": "drug", "none": "none"},
        }
    )
    made = derive_contrasts(study, sheet)
    assert made["models"]["macrophages"]["design"] == "~ stimulus + drug"
    assert list(made["contrasts"]) == [
        "macrophages_stim_vs_medium_none",
        "macrophages_drug_vs_none",
    ]


def test_contrasts_file_text_is_deterministic_and_reloadable(tmp_path):
    experiment = derived("sources", tmp_path)
    text = contrasts_yaml(experiment.contrasts_file, derived=True, source=None)
    assert text == contrasts_yaml(
        derived("sources", tmp_path).contrasts_file, derived=True, source=None
    )
    path = tmp_path / "copied.yaml"
    path.write_text(text)
    config = study_config("sources", tmp_path) | {"contrasts": str(path)}
    again = settings.load_experiment(config, CONTRASTS_SCHEMA)
    assert list(again.contrasts) == list(experiment.contrasts) and not again.derived


# --- errors before any job ---------------------------------------------------------------


def test_misspelt_role_names_the_key():
    config = example_config()
    config["roles"]["therapie"] = config["roles"].pop("therapy")
    with pytest.raises(InputError, match=r"unknown key 'therapie' at roles.*'therapy'"):
        settings.check_unknown_keys(config, SCHEMA)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["cell_type"].update(column="celltype"),
         r"roles.cell_type.column is 'celltype', which is not a column"),
        (lambda r: r["therapy"].update(column="drug"), r"roles.therapy.column is 'drug'"),
        (lambda r: r.update(blocks=["donor"]), r"roles.blocks is 'donor'"),
        (lambda r: r["cell_type"].update(cancer=["Cancer"]),
         r"names level\(s\) \['Cancer'\] of 'cell_type' that no sample has"),
        (lambda r: r["exposure"].update(exposed="msc-cm"), r"\['msc-cm'\] of 'medium'"),
        (lambda r: r["exposure"].pop("control"), r"exposure\(s\) \['msc_cm'\] have no control"),
        (lambda r: r["exposure"].update(exposed={"msc_cm": None}, control=None),
         r"have no control"),
        (lambda r: r["cell_type"].update(normal=[]),
         r"level\(s\) \['normal'\] of 'cell_type' .* have no role in roles.cell_type"),
        (lambda r: r["cell_type"].update(normal=["cancer", "normal"]),
         r"'cancer' as both cancer and normal"),
        (lambda r: r["therapy"].update(none="untreated"), r"roles.therapy.none is 'untreated'"),
        (lambda r: r.pop("cell_type"), r"roles.cell_type is missing"),
        (lambda r: r["cell_type"].pop("column"), r"lists 2 groups .* but no column"),
    ],
)  # fmt: skip
def test_bad_roles_are_named_with_the_fix(change, message):
    config = example_config()
    change(config["roles"])
    with pytest.raises(InputError, match=message) as err:
        settings.load_experiment(config, CONTRASTS_SCHEMA)
    assert "Fix:" in str(err.value)


def test_a_role_left_out_is_not_taken_from_the_example():
    config = example_config()
    user = {"samples": "mine.tsv", "roles": {"cell_type": {"cancer": ["organoids"]},
            "exposure": {"column": "medium", "exposed": "cm", "control": "control"}}}  # fmt: skip
    settings.whole_roles(config, user)
    assert "therapy" not in config["roles"]
    assert config["contrasts"] is None  # the example's contrasts belong to its own sheet
    # without a user config file, nothing changes
    default = example_config()
    settings.whole_roles(default, {})
    assert default["roles"]["therapy"] == {"column": "therapy", "none": "none"}


# --- the verdict says what the design answers ----------------------------------------------

CATALOGUE = pd.DataFrame(
    [
        ("CYT_A", "cytotoxic", "core", 1, -1),
        ("REG_A", "regenerative_protective", "core", -1, 1),
        ("STRESS_A", "stress_damage", "core", 0, -1),
        ("RISK_A", "pro_tumour_risk", "core", -1, 0),
    ],
    columns=["programme", "category", "tier", "direction_cancer", "direction_normal"],
)


def calls_for(contrast: str, called: dict[str, tuple[float, str]]) -> pd.DataFrame:
    rows = []
    for programme in CATALOGUE["programme"]:
        nes, call = called.get(programme, (0.2, "ns"))
        rows.append((contrast, programme, nes, 0.01 if call != "ns" else 0.5, call))
    return pd.DataFrame(rows, columns=["contrast", "programme", "NES", "fdr", "call"])


def verdict_of(name: str, tmp_path, called: dict[str, dict]) -> pd.DataFrame:
    from msc_secretome.contrast_summary import contrast_summary

    experiment = derived(name, tmp_path)
    calls = pd.concat([calls_for(c, called.get(c, {})) for c in experiment.contrasts])
    tables = {
        c: pd.DataFrame({"padj": [0.01], "log2FoldChange": [1.0]}) for c in experiment.contrasts
    }
    roles_table = contrast_summary(
        list(experiment.contrasts.values()), experiment.models, experiment.samples, tables,
        study_config(name, tmp_path)["roles"], 0.05,
    )  # fmt: skip
    return dual_benefit(calls, roles_table, CATALOGUE, experiment.study, experiment.samples)


def test_cancer_only_study_answers_the_cytotoxic_side_and_names_the_group(tmp_path):
    out = verdict_of(
        "osteosarcoma",
        tmp_path,
        {
            "U2OS_immune_sup_vs_medium": {"CYT_A": (2.0, "up")},
            "SAOS2_immune_sup_vs_medium": {"RISK_A": (1.9, "up")},
        },
    ).set_index("receiver_group")
    assert list(out.index) == ["U2OS", "SAOS2"]
    assert set(out["design_answer"]) == {"cancer_only"}
    assert out.loc["U2OS", "verdict"] == "cancer_benefit"
    assert out.loc["SAOS2", "verdict"] == "cancer_risk"
    assert out.loc["SAOS2", "risk_flags"] == "RISK_A"
    for group, row in out.iterrows():
        assert group in row["explanation"] and group in row["summary"]
        assert "protective side was not measured" in row["explanation"]
        assert "add" not in row["explanation"].lower().split()  # never "add a contrast"
        assert "no therapy in this study" in row["not_measured"]
    assert "no normal cells" in out["design_summary"].iloc[0]


def test_normal_only_study_gives_the_protective_answer_per_arm(tmp_path):
    out = verdict_of(
        "macrophages",
        tmp_path,
        {
            "macrophages_msc_cm_vs_medium_doxorubicin_high": {
                "REG_A": (2.0, "up"), "STRESS_A": (-1.8, "down")
            },
            "macrophages_msc_cm_vs_medium_none": {"REG_A": (-2.0, "down")},
        },
    ).set_index("therapy")  # fmt: skip
    assert len(out) == 5 and set(out["design_answer"]) == {"normal_only"}
    assert out.loc["doxorubicin_high", "verdict"] == "normal_protection"
    assert out.loc["doxorubicin_high", "damage_down"] == 1
    assert out.loc["none", "verdict"] == "normal_harm"
    assert out.loc["epirubicin_low", "verdict"] == "unclear"
    assert all("macrophages (normal)" in text for text in out["explanation"])
    assert all("cancer side was not measured" in text for text in out["explanation"])


def test_both_sides_per_exposure_give_dual_benefit_rows(tmp_path):
    out = verdict_of(
        "sources",
        tmp_path,
        {
            "HT29_bm_cm_vs_control": {"CYT_A": (2.0, "up")},
            "fibroblast_bm_cm_vs_control": {"REG_A": (2.0, "up")},
        },
    ).set_index("exposure")
    assert list(out.index) == ["bm_cm", "ad_cm", "ev"]
    assert set(out["design_answer"]) == {"dual_benefit"}
    assert out.loc["bm_cm", "verdict"] == "dual_benefit"
    assert out.loc["ad_cm", "verdict"] == "unclear"
    assert out.loc["bm_cm", "receiver_group"] == "HT29 + fibroblast"
    assert "HT29 (cancer)" in out.loc["bm_cm", "explanation"]
    assert "fibroblast (normal)" in out.loc["bm_cm", "explanation"]


def test_incomplete_only_when_the_sheet_has_the_samples(tmp_path):
    config = example_config()
    experiment = settings.load_experiment(config, CONTRASTS_SCHEMA)
    keep = [c for c in experiment.contrasts if c != "normal_cm_vs_ctrl_chemo"]
    calls = pd.concat([calls_for(c, {}) for c in keep])
    roles = pd.DataFrame(
        [
            {"contrast": c.name, **contrast_role(experiment.study, kind=c.kind,
             terms=list(c.terms), context=_context(experiment, c))}
            for c in experiment.contrasts.values() if c.name in keep
        ]
    )  # fmt: skip
    out = dual_benefit(calls, roles, CATALOGUE, experiment.study, experiment.samples)
    out = out.set_index("therapy")
    assert out.loc["chemo", "verdict"] == "incomplete"
    assert "add one to the contrasts file" in out.loc["chemo", "explanation"]
    assert out.loc["none", "verdict"] == "unclear"
    # a study without samples for a side has no row for it, and no request to add one
    study = read_study(
        {
            "cell_type": {"column": "cell_type", "cancer": ["cancer"]},
            "exposure": {"column": "medium", "exposed": "msc_cm", "control": "control"},
        },
        experiment.samples[experiment.samples["cell_type"] == "cancer"],
    )
    out = dual_benefit(calls, roles, CATALOGUE, study, experiment.samples.iloc[:18])
    assert set(out["design_answer"]) == {"cancer_only"}


def _context(experiment, contrast):
    from msc_secretome.design import Model, contrast_context

    model = experiment.models[contrast.model]
    model = Model(model.name, model.design, model.subset, experiment.references[model.name])
    return contrast_context(contrast, model)


# --- several experiments ------------------------------------------------------------------


def test_experiments_stack_their_sheets_and_keep_each_model_inside_one(tmp_path):
    from msc_secretome.experiments import combined_sheet
    from msc_secretome.simulate_designs import split_experiments

    study = STUDIES["two_matrices"]()
    experiments = {}
    for name, (sheet, _) in split_experiments(
        study, pd.DataFrame(columns=study.samples["sample"])
    ).items():
        sheet.to_csv(tmp_path / f"{name}.tsv", sep="\t", index=False)
        experiments[name] = {"counts": f"{name}.tsv.gz", "samples": str(tmp_path / f"{name}.tsv")}
    stacked = combined_sheet(experiments)
    assert stacked.columns[:2].tolist() == ["sample", "experiment"]
    assert stacked["experiment"].value_counts().to_dict() == {"HCT116": 12, "fibroblasts": 12}
    config = {"experiments": experiments, "contrasts": None, "roles": study.roles, "samples": "x"}
    experiment = settings.load_experiment(config, CONTRASTS_SCHEMA)
    assert {m.name: m.subset for m in experiment.models.values()} == {
        "HCT116": {"experiment": ("HCT116",)},
        "fibroblasts": {"experiment": ("fibroblasts",)},
    }
    assert experiment.references["fibroblasts"]["batch"] == "c1"  # its own batches
    # a sample name used twice across experiments is refused, naming both
    (tmp_path / "clash.tsv").write_text((tmp_path / "HCT116.tsv").read_text())
    clash = experiments | {"again": {"counts": "x", "samples": str(tmp_path / "clash.tsv")}}
    with pytest.raises(InputError, match=r"more than one experiment.*'HCT116', 'again'"):
        combined_sheet(clash)
    with pytest.raises(InputError, match="both `contrasts` and `experiments`"):
        settings.load_experiment(config | {"contrasts": "c.yaml"}, CONTRASTS_SCHEMA)


def test_experiment_contrast_names_are_prefixed_only_on_a_clash():
    from msc_secretome.experiments import experiment_contrasts

    data = {"models": {"m": {"design": "~ medium"}},
            "contrasts": {"c": {"model": "m", "compare": {"medium": ["a", "b"]}}}}  # fmt: skip
    first = experiment_contrasts("run1", data, set())
    second = experiment_contrasts("run2", data, {"m", "c"})
    assert list(first["models"]) == ["m"] and list(second["models"]) == ["run2_m"]
    assert second["contrasts"]["run2_c"]["model"] == "run2_m"
    assert second["models"]["run2_m"]["subset"] == {"experiment": ["run2"]}


# --- stability ----------------------------------------------------------------------------


def test_verdict_stability_counts_refits_and_names_what_flips(tmp_path):
    from msc_secretome.stability import verdict_stability
    from msc_secretome.verdict import stability_sentence

    experiment = derived("one_replicate", tmp_path)
    (name,) = experiment.contrasts
    full = calls_for(name, {"CYT_A": (2.0, "up")})
    roles = pd.DataFrame([{"contrast": name, **contrast_role(
        experiment.study, kind="compare", terms=[("medium", "msc_cm", "control")], context={}
    )}])  # fmt: skip
    refits = pd.concat(
        [
            calls_for(name, {"CYT_A": (2.0, "up")}).assign(unit=f"sample=s{i}", status="ok")
            for i in range(3)
        ]
        + [
            calls_for(name, {}).assign(unit="sample=msc_cm_r0", status="ok"),
            pd.DataFrame([{"unit": "sample=x", "status": "not_refittable: rank"}]),
        ]
    ).assign(model="A549")
    out = verdict_stability(full, refits, roles, CATALOGUE, experiment.study, experiment.samples)
    assert out.loc[0, "stability_refits"] == 4  # the not-refittable unit is not counted
    assert out.loc[0, "stability"] == pytest.approx(0.75)
    assert out.loc[0, "flipped_programmes"] == "CYT_A"
    assert out.loc[0, "unstable_when"] == "sample=msc_cm_r0 (unclear)"
    row = dual_benefit(full, roles, CATALOGUE, experiment.study, experiment.samples).iloc[0]
    row[out.columns] = out.iloc[0]
    text = stability_sentence(row)
    assert "A549" in text and "3 of 4" in text and "not stable" in text and "msc_cm_r0" in text


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_refits_test_exactly_the_contrasts_a_verdict_reads(name, tmp_path):
    from msc_secretome.design import Model
    from msc_secretome.stability import verdict_contrasts

    experiment = derived(name, tmp_path)
    verdict = verdict_of(name, tmp_path, {})
    read = set()
    for column in ("cancer_contrast", "normal_contrast", "potentiation_contrast"):
        read |= set(verdict[column]) - {""}
    refitted = set()
    for model_name, model in experiment.models.items():
        model = Model(model.name, model.design, model.subset, experiment.references[model_name])
        chosen = verdict_contrasts(list(experiment.contrasts.values()), model, experiment.study)
        assert all(c.model == model_name for c in chosen)
        refitted |= {c.name for c in chosen}
    # exactly the contrasts the verdict reads: the others are not refitted
    assert refitted == read


def test_example_refits_skip_therapy_effects_and_normal_interactions():
    from msc_secretome.design import Model
    from msc_secretome.stability import verdict_contrasts

    experiment = settings.load_experiment(example_config(), CONTRASTS_SCHEMA)
    chosen = {}
    for name, model in experiment.models.items():
        model = Model(model.name, model.design, model.subset, experiment.references[name])
        chosen[name] = [
            c.name
            for c in verdict_contrasts(list(experiment.contrasts.values()), model, experiment.study)
        ]
    assert chosen == {
        "cancer": [
            "cancer_cm_vs_ctrl_none", "cancer_cm_vs_ctrl_chemo", "cancer_cm_vs_ctrl_radiation",
            "cancer_cm_x_chemo", "cancer_cm_x_radiation",
        ],
        "normal": [
            "normal_cm_vs_ctrl_none", "normal_cm_vs_ctrl_chemo", "normal_cm_vs_ctrl_radiation",
        ],
    }  # fmt: skip


def test_every_batch_of_the_example_can_be_left_out_including_the_reference():
    from msc_secretome.design import Model
    from msc_secretome.stability import refit_designs

    experiment = settings.load_experiment(example_config(), CONTRASTS_SCHEMA)
    for name, model in experiment.models.items():
        model = Model(model.name, model.design, model.subset, experiment.references[name])
        contrasts = [c for c in experiment.contrasts.values() if c.model == name]
        designs = dict(refit_designs(experiment.samples, model, contrasts, ["batch"]))
        assert list(designs) == ["batch=b1", "batch=b2", "batch=b3"]
        for label, design in designs.items():
            assert not isinstance(design, str), (label, design)
            metadata, vectors = design
            assert len(metadata) == 12 and set(vectors) == {c.name for c in contrasts}
    # without blocks, one sample at a time; a cell left with no sample is not refittable
    tiny = experiment.samples[experiment.samples["cell_type"] == "cancer"].iloc[[0, 1, 3, 4]]
    model = Model("m", "~ therapy", {}, {"therapy": "none"})
    reasons = dict(refit_designs(tiny, model, [], []))
    assert len(reasons) == 4
    assert all("have a single sample" in r for r in reasons.values()), reasons


def test_each_experiment_is_read_in_its_own_format_with_its_summary_rows(tmp_path):
    from test_count_formats import (
        clean_matrix,
        write_featurecounts,
        write_salmon_merged,
        write_star,
    )

    from msc_secretome.experiments import combined_counts, experiment_count_files

    counts = clean_matrix()
    first = counts.rename(columns=lambda s: f"A_{s}")
    second = counts.rename(columns=lambda s: f"B_{s}").iloc[:140]  # 10 genes fewer
    third = counts.rename(columns=lambda s: f"C_{s}")
    for name, matrix in (("A", first), ("B", second), ("C", third)):
        pd.DataFrame({"sample": matrix.columns, "medium": ["ctrl", "cm"] * 2}).to_csv(
            tmp_path / f"{name}.tsv", sep="\t", index=False
        )
    write_featurecounts(first, tmp_path / "featureCounts.txt")
    write_star(second, tmp_path / "star")  # reverse-stranded; the strand is inferred
    write_salmon_merged(third, tmp_path / "salmon.merged.gene_counts.tsv")
    experiments = {
        "A": {"counts": str(tmp_path / "featureCounts.txt"), "samples": str(tmp_path / "A.tsv")},
        "B": {
            "counts": str(tmp_path / "star" / "{sample}ReadsPerGene.out.tab"),
            "samples": str(tmp_path / "B.tsv"),
            "counts_format": "star",
        },
        "C": {"counts": str(tmp_path / "salmon.merged.gene_counts.tsv"),
              "samples": str(tmp_path / "C.tsv")},
    }  # fmt: skip
    defaults = {"counts_format": "auto", "counts_strand": "auto", "round_estimated_counts": True}
    files = experiment_count_files(experiments, defaults)
    assert len(files) == 1 + 4 + 1 and files[1].endswith("B_S1ReadsPerGene.out.tab")
    combined = combined_counts(experiments, defaults)
    assert combined.report["format"].tolist() == ["featurecounts", "star", "salmon"]
    assert combined.report["n_genes_not_shared"].tolist() == [10, 0, 10]
    # the counts are exactly the tools' counts (salmon's estimates rounded back)
    expected = pd.concat([first.iloc[:140], second, third.iloc[:140]], axis=1)
    assert (combined.counts.to_numpy() == expected.to_numpy()).all()
    # STAR's N_ rows are kept per sample, 0 for the samples of formats without them
    summary = combined.summary.set_index("sample")
    assert summary.loc["B_S1", "N_noFeature"] == 4342 and summary.loc["A_S1", "N_noFeature"] == 0
    assert summary["N_noFeature"].dtype == "int64"
    # salmon's gene_name column becomes the annotation
    assert combined.annotation.set_index("gene_id")["symbol"].iloc[0] == "GENE0"
    unlisted = experiments | {"B": {**experiments["B"], "counts": None}}
    with pytest.raises(InputError, match="no 'counts_file' column"):
        combined_counts(unlisted, defaults)
