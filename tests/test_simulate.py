"""Tests of the seeded simulator of the bundled example experiment (msc_secretome.simulate)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_secretome.catalogue import builtin_catalogue_path, check_catalogue, read_catalogue
from msc_secretome.errors import InputError
from msc_secretome.simulate import (
    EXAMPLE_CONTRASTS,
    EXAMPLE_PLAN,
    SAMPLE_COLUMNS,
    PlantedEffect,
    cell_label,
    main,
    simulate_bulk_experiment,
    write_experiment,
)

N_GENES = 2000

# Every programme the example plants, plus two it does not; overlaps on purpose:
# P53 and ISG share genes (both planted in the radiation effect), P53 and SASP share genes
# (both planted in the normal-cell interactions), SASP shares IL6 with the IL6 programme.
SMALL_PROGRAMMES = {
    "CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS": ("cytotoxic", [f"TRAIL{i}" for i in range(14)]),
    "CYT_INTRINSIC_MITOCHONDRIAL_APOPTOSIS": ("cytotoxic", [f"MITO{i}" for i in range(16)]),
    "CYT_TYPE_I_IFN_ISG": ("cytotoxic", [f"ISG{i}" for i in range(14)] + ["P53A0", "P53A1"]),
    "STRESS_P53_ARREST_IR_RESPONSE": ("stress_damage", [f"P53A{i}" for i in range(18)]),
    "STRESS_SASP": ("stress_damage", [f"SASP{i}" for i in range(12)] + ["IL6", "P53A2"]),
    "REG_ANTI_APOPTOTIC_SURVIVAL": ("regenerative_protective", [f"SURV{i}" for i in range(15)]),
    "REG_NRF2_ANTIOXIDANT_FERROPTOSIS_DEFENSE": (
        "regenerative_protective",
        [f"NRF{i}" for i in range(15)],
    ),
    "REG_GROWTH_FACTOR_REGENERATION": ("regenerative_protective", [f"GF{i}" for i in range(15)]),
    "RISK_IL6_JAK_STAT3": ("pro_tumour_risk", ["IL6"] + [f"JAK{i}" for i in range(13)]),
    "RISK_EMT_INVASION": ("pro_tumour_risk", [f"EMT{i}" for i in range(15)]),
    "CYT_NECROPTOSIS": ("cytotoxic", [f"NEC{i}" for i in range(12)] + ["MITO0"]),
}


def small_catalogue_table() -> pd.DataFrame:
    rows = [
        {
            "programme": name,
            "category": category,
            "tier": "core",
            "direction_cancer": "1",
            "direction_normal": "-1",
            "source": "test",
            "genes": ",".join(genes),
            "description": "test programme",
        }
        for name, (category, genes) in SMALL_PROGRAMMES.items()
    ]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def catalogue() -> pd.DataFrame:
    return check_catalogue(small_catalogue_table())


@pytest.fixture(scope="module")
def experiment(catalogue):
    return simulate_bulk_experiment(catalogue, n_genes=N_GENES, seed=7)


def truth_vector(experiment, contrast: str) -> pd.Series:
    """Full per-gene truth of one contrast (genes absent from truth_de are 0)."""
    rows = experiment.truth_de[experiment.truth_de["contrast"] == contrast]
    out = pd.Series(0.0, index=experiment.counts.index)
    out[rows["gene_id"].to_numpy()] = rows["true_log2fc"].to_numpy()
    return out


def read_bytes(paths: dict) -> dict:
    return {key: path.read_bytes() for key, path in paths.items()}


def test_contrast_names():
    assert len(EXAMPLE_CONTRASTS) == 14
    assert len(set(EXAMPLE_CONTRASTS)) == 14
    for c in ("cancer", "normal"):
        for name in (
            "cm_vs_ctrl_none",
            "cm_vs_ctrl_chemo",
            "cm_vs_ctrl_radiation",
            "cm_x_chemo",
            "cm_x_radiation",
            "chemo_vs_none",
            "radiation_vs_none",
        ):
            assert f"{c}_{name}" in EXAMPLE_CONTRASTS


def test_determinism_identical_bytes(catalogue, tmp_path):
    first = simulate_bulk_experiment(catalogue, n_genes=N_GENES, seed=11)
    second = simulate_bulk_experiment(catalogue, n_genes=N_GENES, seed=11)
    a = read_bytes(write_experiment(first, tmp_path / "a"))
    b = read_bytes(write_experiment(second, tmp_path / "b"))
    assert sorted(a) == ["counts", "samples", "truth_de", "truth_programmes"]
    assert a == b
    other = simulate_bulk_experiment(catalogue, n_genes=N_GENES, seed=12)
    assert not other.counts.equals(first.counts)


def test_written_files_read_back(experiment, tmp_path):
    paths = write_experiment(experiment, tmp_path)
    counts = pd.read_csv(paths["counts"], sep="\t", index_col=0)
    assert counts.index.name == "gene_id"
    pd.testing.assert_frame_equal(counts, experiment.counts, check_names=False)
    samples = pd.read_csv(paths["samples"], sep="\t", dtype=str)
    pd.testing.assert_frame_equal(samples, experiment.samples)
    truth_de = pd.read_csv(paths["truth_de"], sep="\t")
    assert list(truth_de.columns) == ["contrast", "gene_id", "true_log2fc"]
    np.testing.assert_allclose(
        truth_de["true_log2fc"], experiment.truth_de["true_log2fc"], rtol=1e-5
    )
    programmes = pd.read_csv(paths["truth_programmes"], sep="\t")
    pd.testing.assert_frame_equal(programmes, experiment.truth_programmes)


def test_shapes_and_sample_sheet(experiment, catalogue):
    samples = experiment.samples
    assert list(samples.columns) == list(SAMPLE_COLUMNS)
    assert len(samples) == 36
    assert samples["sample"].is_unique
    assert samples["sample"].iloc[0] == "cancer_ctrl_none_r1"
    assert samples["sample"].iloc[-1] == "normal_cm_radiation_r3"
    assert "cancer_cm_chemo_r1" in set(samples["sample"])
    assert samples.groupby(["cell_type", "medium", "therapy"]).size().eq(3).all()
    for row in samples.itertuples(index=False):
        rep = row.sample.rsplit("_r", 1)[1]
        assert row.batch == f"b{rep}"
        tag = "cm" if row.medium == "msc_cm" else "ctrl"
        assert row.sample == f"{row.cell_type}_{tag}_{row.therapy}_r{rep}"
    # order: cell_type, medium (control first), therapy (none, chemo, radiation), replicate
    first_cells = samples["sample"].str.rsplit("_r", n=1).str[0].drop_duplicates().tolist()
    assert first_cells[:6] == [
        "cancer_ctrl_none",
        "cancer_ctrl_chemo",
        "cancer_ctrl_radiation",
        "cancer_cm_none",
        "cancer_cm_chemo",
        "cancer_cm_radiation",
    ]

    counts = experiment.counts
    assert counts.shape == (N_GENES, 36)
    assert counts.index.name == "gene_id"
    assert list(counts.columns) == samples["sample"].tolist()
    programme_genes = sorted({g for genes in catalogue["genes"] for g in genes})
    n_prog = len(programme_genes)
    assert counts.index[:n_prog].tolist() == programme_genes
    assert counts.index[n_prog] == "SYN00001"
    assert counts.index[-1] == f"SYN{N_GENES - n_prog:05d}"
    assert counts.index.is_unique

    fewer = simulate_bulk_experiment(catalogue, n_genes=N_GENES, n_replicates=2, seed=7)
    assert fewer.counts.shape == (N_GENES, 24)
    assert set(fewer.samples["batch"]) == {"b1", "b2"}


def test_counts_are_nonnegative_int64(experiment):
    counts = experiment.counts
    assert (counts.dtypes == np.int64).all()
    assert (counts.to_numpy() >= 0).all()
    assert counts.to_numpy().sum() > 0


def test_library_sizes_differ(experiment):
    libraries = experiment.counts.sum(axis=0)
    assert libraries.std() / libraries.mean() > 0.1


def test_realistic_expression_range(experiment, catalogue):
    counts = experiment.counts
    synthetic = counts.index.str.startswith("SYN")
    low = (counts[synthetic].mean(axis=1) < 10).mean()
    assert 0.2 < low < 0.4
    programme_means = counts[~synthetic].mean(axis=1)
    assert programme_means.median() > 50


def test_default_median_library_scale(catalogue):
    """Median library is ~5-10 M counts at the default 20,000 genes (scales with n_genes)."""
    full = simulate_bulk_experiment(catalogue, seed=3)
    assert full.counts.shape == (20000, 36)
    assert 4e6 < full.counts.sum(axis=0).median() < 11e6


def test_overdispersion_decreases_with_mean(catalogue):
    experiment = simulate_bulk_experiment(catalogue, n_genes=N_GENES, n_replicates=6, seed=5)
    normalised = experiment.counts / experiment.size_factors
    cells = experiment.samples["sample"].str.rsplit("_r", n=1).str[0].to_numpy()
    means, excess = [], []
    for cell in np.unique(cells):
        block = normalised.loc[:, cells == cell]
        m = block.mean(axis=1).to_numpy()
        v = block.var(axis=1, ddof=1).to_numpy()
        keep = m > 5
        means.append(m[keep])
        excess.append((v[keep] - m[keep]) / m[keep] ** 2)
        ratio = v[m > 500] / m[m > 500]
        assert np.median(ratio) > 5  # far more variable than Poisson
    means = np.concatenate(means)
    excess = np.concatenate(excess)
    # method-of-moments excess dispersion (var - mean) / mean^2: alpha ~ 0.02 + 1/mean (+ batch)
    low = np.median(excess[(means > 5) & (means < 15)])
    high = np.median(excess[means > 2000])
    assert high > 0.02
    assert low > 1.5 * high
    # the generative dispersions follow the same trend
    disp = experiment.dispersions
    gene_mean = experiment.counts.mean(axis=1)
    expressed = gene_mean > 1
    rho = np.corrcoef(np.log(gene_mean[expressed]), np.log(disp[expressed]))[0, 1]
    assert rho < -0.5


def test_truth_de_is_the_difference_of_cell_means(experiment):
    mu = experiment.cell_log2_means
    assert mu.shape == (N_GENES, 12)
    for c in ("cancer", "normal"):
        for t in ("none", "chemo", "radiation"):
            expected = mu[cell_label(c, "msc_cm", t)] - mu[cell_label(c, "control", t)]
            np.testing.assert_allclose(
                truth_vector(experiment, f"{c}_cm_vs_ctrl_{t}"), expected, atol=1e-9
            )
        for t in ("chemo", "radiation"):
            expected = mu[cell_label(c, "control", t)] - mu[cell_label(c, "control", "none")]
            np.testing.assert_allclose(
                truth_vector(experiment, f"{c}_{t}_vs_none"), expected, atol=1e-9
            )


def test_interaction_truth_is_difference_of_cm_effects(experiment):
    mu = experiment.cell_log2_means
    for c in ("cancer", "normal"):
        cm_none = truth_vector(experiment, f"{c}_cm_vs_ctrl_none")
        for t in ("chemo", "radiation"):
            cm_t = truth_vector(experiment, f"{c}_cm_vs_ctrl_{t}")
            interaction = truth_vector(experiment, f"{c}_cm_x_{t}")
            np.testing.assert_allclose(interaction, cm_t - cm_none, atol=1e-9)
            from_mu = (mu[cell_label(c, "msc_cm", t)] - mu[cell_label(c, "control", t)]) - (
                mu[cell_label(c, "msc_cm", "none")] - mu[cell_label(c, "control", "none")]
            )
            np.testing.assert_allclose(interaction, from_mu, atol=1e-9)
    # CM x radiation is not planted in cancer cells
    assert truth_vector(experiment, "cancer_cm_x_radiation").eq(0).all()
    pd.testing.assert_series_equal(
        truth_vector(experiment, "cancer_cm_vs_ctrl_radiation"),
        truth_vector(experiment, "cancer_cm_vs_ctrl_none"),
    )


def test_truth_de_format(experiment):
    truth = experiment.truth_de
    assert list(truth.columns) == ["contrast", "gene_id", "true_log2fc"]
    assert set(truth["contrast"]) == set(EXAMPLE_CONTRASTS) - {"cancer_cm_x_radiation"}
    assert (truth["true_log2fc"].abs() > 1e-9).all()
    assert truth.equals(truth.sort_values(["contrast", "gene_id"], ignore_index=True))
    assert not truth.duplicated(["contrast", "gene_id"]).any()


def test_single_effect_sizes_never_sum(experiment):
    """Within one planted effect an overlapping gene keeps the larger effect, not the sum."""
    for contrast in (
        "cancer_radiation_vs_none",  # P53 and ISG overlap
        "normal_cm_x_chemo",  # P53 and SASP overlap
        "normal_cm_x_radiation",
        "cancer_cm_x_chemo",
        "normal_cm_vs_ctrl_none",
    ):
        sizes = truth_vector(experiment, contrast).abs()
        moved = sizes[sizes > 0]
        assert moved.min() >= 0.3 - 1e-9, contrast
        assert moved.max() <= 1.5 + 1e-9, contrast
    shared = truth_vector(experiment, "cancer_radiation_vs_none")[["P53A0", "P53A1"]]
    assert (shared.abs() <= 1.5 + 1e-9).all()


def test_planted_genes_follow_the_programme(experiment, catalogue):
    sets = dict(zip(catalogue["programme"], catalogue["genes"], strict=True))
    truth = truth_vector(experiment, "cancer_cm_vs_ctrl_none")
    for programme in (
        "CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS",
        "CYT_INTRINSIC_MITOCHONDRIAL_APOPTOSIS",
        "RISK_IL6_JAK_STAT3",
    ):
        values = truth[list(sets[programme])]
        assert (values >= 0).all()
        assert 0.3 <= (values > 0).mean() <= 1.0
    emt = truth[list(sets["RISK_EMT_INVASION"])]
    assert emt.eq(0).all()
    normal_cm_chemo = truth_vector(experiment, "normal_cm_x_chemo")
    p53 = normal_cm_chemo[list(sets["STRESS_P53_ARREST_IR_RESPONSE"])]
    assert (p53 <= 0).all() and (p53 < 0).any()
    # random extras: non-programme genes in the CM effect
    synthetic = truth.index.str.startswith("SYN")
    assert (truth[synthetic] != 0).sum() == 400
    assert (truth_vector(experiment, "cancer_chemo_vs_none")[synthetic] != 0).sum() == 600
    assert (truth_vector(experiment, "cancer_cm_x_chemo")[synthetic] != 0).sum() == 150


EXPECTED_PLANTED = {
    "cancer_cm_vs_ctrl_none": {
        "CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS": 1,
        "CYT_INTRINSIC_MITOCHONDRIAL_APOPTOSIS": 1,
        "RISK_IL6_JAK_STAT3": 1,
    },
    "cancer_cm_vs_ctrl_chemo": {
        "CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS": 1,
        "CYT_INTRINSIC_MITOCHONDRIAL_APOPTOSIS": 1,
        "RISK_IL6_JAK_STAT3": 1,
    },
    "cancer_cm_vs_ctrl_radiation": {
        "CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS": 1,
        "CYT_INTRINSIC_MITOCHONDRIAL_APOPTOSIS": 1,
        "RISK_IL6_JAK_STAT3": 1,
    },
    "cancer_cm_x_chemo": {
        "CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS": 1,
        "CYT_INTRINSIC_MITOCHONDRIAL_APOPTOSIS": 1,
    },
    "cancer_cm_x_radiation": {},
    "cancer_chemo_vs_none": {"STRESS_P53_ARREST_IR_RESPONSE": 1},
    "cancer_radiation_vs_none": {"STRESS_P53_ARREST_IR_RESPONSE": 1, "CYT_TYPE_I_IFN_ISG": 1},
    "normal_cm_vs_ctrl_none": {
        "REG_ANTI_APOPTOTIC_SURVIVAL": 1,
        "REG_NRF2_ANTIOXIDANT_FERROPTOSIS_DEFENSE": 1,
        "REG_GROWTH_FACTOR_REGENERATION": 1,
    },
    "normal_cm_x_chemo": {"STRESS_P53_ARREST_IR_RESPONSE": -1, "STRESS_SASP": -1},
    "normal_cm_x_radiation": {"STRESS_P53_ARREST_IR_RESPONSE": -1, "STRESS_SASP": -1},
    "normal_chemo_vs_none": {"STRESS_P53_ARREST_IR_RESPONSE": 1},
    "normal_radiation_vs_none": {"STRESS_P53_ARREST_IR_RESPONSE": 1, "CYT_TYPE_I_IFN_ISG": 1},
}
for _tx in ("chemo", "radiation"):
    EXPECTED_PLANTED[f"normal_cm_vs_ctrl_{_tx}"] = {
        **EXPECTED_PLANTED["normal_cm_vs_ctrl_none"],
        "STRESS_P53_ARREST_IR_RESPONSE": -1,
        "STRESS_SASP": -1,
    }


def check_truth_programmes(table: pd.DataFrame, programmes: list[str]) -> None:
    assert list(table.columns) == ["contrast", "programme", "planted_direction"]
    assert table["planted_direction"].dtype == np.int64
    assert len(table) == len(EXAMPLE_CONTRASTS) * len(programmes)
    assert set(table["contrast"]) == set(EXAMPLE_CONTRASTS)
    assert set(table["programme"]) == set(programmes)
    assert set(table["planted_direction"]) <= {-1, 0, 1}
    got = {
        contrast: dict(zip(group["programme"], group["planted_direction"], strict=True))
        for contrast, group in table.groupby("contrast")
    }
    for contrast in EXAMPLE_CONTRASTS:
        planted = {p: d for p, d in got[contrast].items() if d != 0}
        assert planted == EXPECTED_PLANTED[contrast], contrast


def test_truth_programmes_planted_directions(experiment, catalogue):
    check_truth_programmes(experiment.truth_programmes, list(catalogue["programme"]))


def test_builtin_catalogue():
    if not builtin_catalogue_path().exists():
        pytest.skip("built-in catalogue data/programme_catalogue.tsv not present yet")
    catalogue = read_catalogue()
    experiment = simulate_bulk_experiment(catalogue, n_genes=N_GENES)
    check_truth_programmes(experiment.truth_programmes, list(catalogue["programme"]))
    programme_genes = sorted({g for genes in catalogue["genes"] for g in genes})
    assert experiment.counts.index[: len(programme_genes)].tolist() == programme_genes
    assert experiment.counts.shape == (N_GENES, 36)


def test_null_plan_has_no_truth(catalogue):
    null = simulate_bulk_experiment(catalogue, n_genes=N_GENES, plan=())
    assert null.truth_de.empty
    assert (null.truth_programmes["planted_direction"] == 0).all()


def test_bad_inputs(catalogue):
    with pytest.raises(InputError, match="smaller than"):
        simulate_bulk_experiment(catalogue, n_genes=50)
    with pytest.raises(InputError, match="non-catalogue genes"):
        simulate_bulk_experiment(catalogue, n_genes=400)
    with pytest.raises(InputError, match="not in the catalogue"):
        simulate_bulk_experiment(catalogue.iloc[1:], n_genes=N_GENES)
    with pytest.raises(InputError, match="planted twice"):
        simulate_bulk_experiment(catalogue, n_genes=N_GENES, plan=EXAMPLE_PLAN + EXAMPLE_PLAN[:1])
    bad = PlantedEffect("cancer", "cm", "chemo", ())
    with pytest.raises(InputError, match="therapy=None"):
        simulate_bulk_experiment(catalogue, n_genes=N_GENES, plan=(bad,))
    with pytest.raises(InputError, match="at least 1"):
        simulate_bulk_experiment(catalogue, n_genes=N_GENES, n_replicates=0)


def test_cli_writes_the_files(tmp_path):
    catalogue_path = tmp_path / "catalogue.tsv"
    small_catalogue_table().to_csv(catalogue_path, sep="\t", index=False)
    args = ["--seed", "3", "--n-genes", "1000", "--catalogue", str(catalogue_path)]
    assert main(["--outdir", str(tmp_path / "one"), *args]) == 0
    assert main(["--outdir", str(tmp_path / "two"), *args]) == 0
    for name in ("counts.tsv.gz", "samples.tsv", "truth_de.tsv", "truth_programmes.tsv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert main(["--outdir", str(tmp_path / "bad"), *args[:-1], str(tmp_path / "nope.tsv")]) == 2


def test_committed_sample_sheet_matches_simulator(experiment, project_root, tmp_path):
    paths = write_experiment(experiment, tmp_path)
    committed = project_root / "config" / "samples.tsv"
    assert committed.read_bytes() == paths["samples"].read_bytes()
