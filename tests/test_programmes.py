"""Programme calls and the dual-benefit verdict on hand-made enrichment tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_secretome.catalogue import check_catalogue
from msc_secretome.programmes import classify_contrast, programme_calls
from msc_secretome.roles import parse_roles
from msc_secretome.verdict import dual_benefit

ROLES = {
    "cell_type": {"column": "cell_type", "cancer": ["cancer"], "normal": ["normal"]},
    "exposure": {"column": "medium", "exposed": "msc_cm", "control": "control"},
    "therapy": {"column": "therapy", "none": "none"},
}

CATALOGUE = check_catalogue(
    pd.DataFrame(
        [
            ("CYT_A", "cytotoxic", "core", "1", "-1", "x", "G1,G2", ""),
            ("CYT_B", "cytotoxic", "core", "1", "-1", "x", "G3,G4", ""),
            ("STRESS_A", "stress_damage", "core", "0", "-1", "x", "G5,G6", ""),
            ("REG_A", "regenerative_protective", "core", "-1", "1", "x", "G7,G8", ""),
            ("RISK_A", "pro_tumour_risk", "core", "-1", "0", "x", "G9,G10", ""),
            ("RISK_X", "pro_tumour_risk", "extended", "-1", "0", "x", "G11,G12", ""),
        ],
        columns=[
            "programme",
            "category",
            "tier",
            "direction_cancer",
            "direction_normal",
            "source",
            "genes",
            "description",
        ],
    )
)


def enrichment(values: dict[str, tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [("programmes", t, 0.5, nes, 0.01, fdr, 10, "G1;G2") for t, (nes, fdr) in values.items()],
        columns=["library", "term", "ES", "NES", "pvalue", "fdr", "size", "leading_edge"],
    )


ROLE_TABLE = pd.DataFrame(
    [
        ("c_none", "cancer", "none", "secretome_effect"),
        ("c_chemo", "cancer", "chemo", "secretome_effect"),
        ("c_x_chemo", "cancer", "chemo", "potentiation"),
        ("n_none", "normal", "none", "secretome_effect"),
        ("n_chemo", "normal", "chemo", "secretome_effect"),
    ],
    columns=["contrast", "side", "therapy", "role"],
).assign(receiver_group=lambda t: t["side"], exposure="msc_cm")

#: every cell of cancer/normal x control/msc_cm x none/chemo/radiation, two replicates
SAMPLES = pd.DataFrame(
    [
        (f"{c}_{m}_{t}_{r}", c, m, t)
        for c in ("cancer", "normal")
        for m in ("control", "msc_cm")
        for t in ("none", "chemo", "radiation")
        for r in (1, 2)
    ],
    columns=["sample", "cell_type", "medium", "therapy"],
)


def test_calls_follow_fdr_and_sign_and_mark_untested():
    calls = programme_calls(
        {"k": enrichment({"CYT_A": (2.0, 0.01), "CYT_B": (-2.0, 0.01), "REG_A": (1.9, 0.2)})},
        CATALOGUE,
        fdr=0.05,
    )
    by = calls.set_index("programme")["call"].to_dict()
    assert by == {
        "CYT_A": "up",
        "CYT_B": "down",
        "REG_A": "ns",
        "STRESS_A": "not_tested",
        "RISK_A": "not_tested",
        "RISK_X": "not_tested",
    }


def run(tables: dict[str, dict]) -> pd.DataFrame:
    calls = programme_calls({k: enrichment(v) for k, v in tables.items()}, CATALOGUE, fdr=0.05)
    return dual_benefit(calls, ROLE_TABLE, CATALOGUE, parse_roles(ROLES), SAMPLES).set_index(
        "therapy"
    )


NEUTRAL = {p: (0.3, 0.8) for p in ("CYT_A", "CYT_B", "STRESS_A", "REG_A", "RISK_A", "RISK_X")}


def test_dual_benefit_with_risk_flag_and_potentiation():
    out = run(
        {
            "c_none": NEUTRAL | {"CYT_A": (2.0, 0.001), "RISK_A": (1.8, 0.01)},
            "c_chemo": NEUTRAL | {"CYT_A": (2.2, 0.001), "CYT_B": (1.7, 0.01)},
            "c_x_chemo": NEUTRAL | {"CYT_B": (1.6, 0.02)},
            "n_none": NEUTRAL | {"REG_A": (2.0, 0.001)},
            "n_chemo": NEUTRAL | {"REG_A": (2.0, 0.001), "STRESS_A": (-1.9, 0.001)},
        }
    )
    assert out.loc["none", "verdict"] == "dual_benefit"
    assert out.loc["none", "risk_flags"] == "RISK_A"
    assert out.loc["none", "potentiation"] == 0
    assert out.loc["chemo", "verdict"] == "dual_benefit"
    assert out.loc["chemo", "potentiation"] == pytest.approx(1.6 / 2)
    assert out.loc["chemo", "cytotoxic_up"] == 2
    assert out.loc["chemo", "damage_down"] == 1
    # cancer gain: CYT_A +2.2, CYT_B +1.7, REG_A 0, RISK_A 0 over 4 programmes with a sign
    assert out.loc["chemo", "cancer_gain"] == pytest.approx((2.2 + 1.7) / 4)
    assert out.loc["radiation", "verdict"] == "incomplete"


def test_harm_on_the_normal_side_means_no_dual_benefit():
    out = run(
        {
            "c_none": NEUTRAL | {"CYT_A": (2.0, 0.001)},
            "n_none": NEUTRAL | {"REG_A": (-2.0, 0.001)},
            "c_chemo": NEUTRAL,
            "c_x_chemo": NEUTRAL,
            "n_chemo": NEUTRAL,
        }
    )
    assert out.loc["none", "verdict"] == "no_dual_benefit"
    assert out.loc["none", "adverse_normal"] == 1
    assert out.loc["chemo", "verdict"] == "unclear"
    assert np.isfinite(out.loc["chemo", "normal_protection"])


@pytest.mark.parametrize(
    ("kind", "terms", "context", "expected"),
    [
        (
            "compare",
            [("medium", "msc_cm", "control")],
            {"cell_type": "cancer", "therapy": "chemo"},
            ("cancer", "chemo", "secretome_effect"),
        ),
        (
            "interaction",
            [("medium", "msc_cm", "control"), ("therapy", "radiation", "none")],
            {"cell_type": "normal"},
            ("normal", "radiation", "potentiation"),
        ),
        (
            "compare",
            [("therapy", "chemo", "none")],
            {"cell_type": "cancer", "medium": "control"},
            ("cancer", "chemo", "therapy_effect"),
        ),
        ("compare", [("medium", "control", "msc_cm")], {"cell_type": "cancer"}, (None, None, None)),
    ],
)
def test_classify_contrast(kind, terms, context, expected):
    role = classify_contrast(kind=kind, terms=terms, context=context, roles=ROLES)
    got = (role["side"], role["therapy"], role["role"])
    assert got[1:] == expected[1:]
    if expected[2] is not None:
        assert got[0] == expected[0]


def test_overlapping_programmes_share_a_group():
    from msc_secretome.programmes import add_overlap_groups

    calls = pd.DataFrame(
        [
            ("k", "CYT_A", "cytotoxic", "core", 2.0, 0.01, "up", "G1;G2;G3"),
            ("k", "CYT_B", "cytotoxic", "core", 1.9, 0.01, "up", "G1;G2"),
            ("k", "REG_A", "regenerative_protective", "core", 1.8, 0.01, "up", "G7;G8"),
            ("k", "RISK_A", "pro_tumour_risk", "core", 0.5, 0.6, "ns", "G1;G2"),
        ],
        columns=["contrast", "programme", "category", "tier", "NES", "fdr", "call", "leading_edge"],
    )
    groups = add_overlap_groups(calls, 0.5).set_index("programme")["overlap_group"].to_dict()
    assert groups == {"CYT_A": "CYT_A", "CYT_B": "CYT_A", "REG_A": "REG_A", "RISK_A": ""}


def test_run_catalogue_reads_the_libraries_only_when_they_define_the_programmes(tmp_path):
    """With the built-in catalogue the rules give no GMTs although the run has libraries."""
    from msc_secretome.programme_definitions import run_catalogue

    builtin = run_catalogue("builtin", None, ["hallmark", "go_bp"], [])
    assert len(builtin) > 20 and "library" not in builtin.columns
    gmt = tmp_path / "lib.gmt"
    gmt.write_text("APOPTOSIS_UP\tna\t" + "\t".join(f"G{i}" for i in range(12)) + "\n")
    user = run_catalogue("none", None, ["lib"], [str(gmt)])
    assert list(user["library"]) == ["lib"] and len(user.iloc[0]["genes"]) == 12
