"""Enrichment helpers: exact ES on hand examples, ORA, per-sample scores, redundant terms."""

from __future__ import annotations

import logging
from math import comb

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact

from msc_secretome.enrichment import (
    ENRICHMENT_COLUMNS,
    ORA_COLUMNS,
    SETS_PER_CALL,
    enrichment_score,
    gene_ranking,
    group_overlapping,
    run_ora,
    run_prerank,
    sample_scores,
)

# --------------------------------------------------------------------------------------------
# enrichment_score
# --------------------------------------------------------------------------------------------


def test_enrichment_score_by_hand():
    ranking = pd.Series([3.0, 2.0, 1.0, -1.0, -2.0], index=list("abcde"))
    es, running, hits = enrichment_score(ranking, ["c", "a", "a", "zz"])
    # N = 5, m = 2, NR = 3 + 1: steps +3/4, -1/3, +1/4, -1/3, -1/3
    np.testing.assert_allclose(running, [0.75, 0.75 - 1 / 3, 1 - 1 / 3, 1 - 2 / 3, 0.0], atol=1e-15)
    assert es == pytest.approx(0.75, abs=1e-15)
    assert hits.tolist() == [0, 2]


def test_enrichment_score_negative_and_classic():
    ranking = pd.Series([3.0, 2.0, 1.0, -1.0, -2.0], index=list("abcde"))
    es, _, hits = enrichment_score(ranking, ["e"])
    assert es == pytest.approx(-1.0) and hits.tolist() == [4]
    es, running, _ = enrichment_score(ranking, ["a", "e"], weight=0)  # unweighted KS
    np.testing.assert_allclose(running, [0.5, 1 / 6, -1 / 6, -0.5, 0.0], atol=1e-15)
    assert es == 0.0  # maximum and minimum of equal magnitude: 0, as fgsea
    es, _, _ = enrichment_score(ranking, ["a", "b"], weight=0)
    assert es == pytest.approx(1.0)


def test_enrichment_score_undefined_cases():
    ranking = pd.Series([2.0, 1.0], index=["a", "b"])
    with pytest.raises(ValueError, match="no gene of the set"):
        enrichment_score(ranking, ["x"])
    with pytest.raises(ValueError, match="every ranked gene"):
        enrichment_score(ranking, ["a", "b"])
    with pytest.raises(ValueError, match="twice"):
        enrichment_score(pd.Series([2.0, 1.0, 0.5], index=["a", "b", "a"]), ["a"])


def test_gene_ranking_keeps_largest_abs_stat_per_symbol():
    de = pd.DataFrame(
        {"symbol": ["TP53", "TP53", "MDM2", ""], "stat": [1.0, -4.0, 2.0, 9.0]},
        index=["ENSG1", "ENSG2", "ENSG3", "ENSG4"],
    )
    ranking = gene_ranking(de)
    assert ranking.to_dict() == {"MDM2": 2.0, "TP53": -4.0}


def _ranking_by_pandas_sort(de, statistic="stat"):
    """The ranking's definition written with pandas sorts (the implementation uses np.lexsort)."""
    table = de.loc[:, ["symbol", statistic]].copy()
    has_symbol = table["symbol"].notna() & (table["symbol"].astype(str) != "")
    table = table[has_symbol & np.isfinite(table[statistic])]
    table["_abs"] = table[statistic].abs()
    table = table.sort_values(["_abs", "symbol"], ascending=[False, True])
    table = table.drop_duplicates("symbol", keep="first")
    table = table.sort_values([statistic, "symbol"], ascending=[False, True])
    return pd.Series(table[statistic].to_numpy(), index=table["symbol"].astype(str).to_numpy())


def test_gene_ranking_order_of_ties_duplicates_and_missing_values():
    rng = np.random.default_rng(3)
    n = 3000
    symbols = rng.choice([f"G{i}" for i in range(1800)] + ["", "a", "B", "b"], size=n)
    stat = np.round(rng.normal(size=n), 1)  # many ties, +-0.0 among them
    stat[::97] = np.nan
    stat[5::101] = np.inf
    stat[7::89] = -0.0
    de = pd.DataFrame({"symbol": symbols, "stat": stat}).astype({"symbol": object})
    de.loc[11::131, "symbol"] = None
    ranking = gene_ranking(de)
    expected = _ranking_by_pandas_sort(de)
    assert ranking.index.tolist() == expected.index.tolist()
    assert np.array_equal(ranking.to_numpy(), expected.to_numpy())
    assert ranking.index.is_unique and np.isfinite(ranking.to_numpy()).all()


# --------------------------------------------------------------------------------------------
# ORA
# --------------------------------------------------------------------------------------------


def small_de_table():
    """20 tested genes; 6 up (4 in SET_A), 3 down; plus an untested and a symbol-less row."""
    genes = [f"G{i:02d}" for i in range(20)]
    padj = [0.001] * 9 + [0.5] * 11
    lfc = [2.0] * 6 + [-2.0] * 3 + [0.1] * 11
    table = pd.DataFrame({"symbol": genes, "log2FoldChange": lfc, "padj": padj})
    extra = pd.DataFrame(
        {
            "symbol": ["G_UNTESTED", "", "G00"],
            "log2FoldChange": [5.0, 5.0, -3.0],
            "padj": [np.nan, 0.001, 0.9],  # duplicated G00: the row with smaller padj decides
        }
    )
    return pd.concat([table, extra], ignore_index=True)


def test_ora_matches_hand_computed_fisher():
    gene_sets = {
        "SET_A": ["G00", "G01", "G02", "G03", "G10", "G_UNTESTED"],  # 4 up hits, size 5
        "SET_B": ["G06", "G07", "G11", "G12", "G13"],  # 2 down hits
        "TINY": ["G00"],
    }
    result = run_ora(small_de_table(), gene_sets, library="lib", min_size=2, max_size=100)
    assert list(result.columns) == ORA_COLUMNS
    assert set(result["term"]) == {"SET_A", "SET_B"}  # TINY is below min_size
    row = result[(result["term"] == "SET_A") & (result["direction"] == "up")].iloc[0]
    assert (row["overlap"], row["size"], row["background"]) == (4, 5, 20)
    assert row["genes"] == "G00;G01;G02;G03"
    # P(X >= 4), X ~ Hypergeometric(20 genes, 5 in the set, 6 drawn), by hand:
    by_hand = (comb(5, 4) * comb(15, 2) + comb(5, 5) * comb(15, 1)) / comb(20, 6)
    assert by_hand == pytest.approx(540 / 38760)
    assert row["pvalue"] == pytest.approx(by_hand, rel=1e-12)
    fisher = fisher_exact([[4, 2], [1, 13]], alternative="greater").pvalue
    assert row["pvalue"] == pytest.approx(fisher, rel=1e-12)
    down = result[(result["term"] == "SET_B") & (result["direction"] == "down")].iloc[0]
    assert (down["overlap"], down["size"]) == (2, 5)
    by_hand_down = sum(comb(5, k) * comb(15, 3 - k) for k in (2, 3)) / comb(20, 3)
    assert down["pvalue"] == pytest.approx(by_hand_down, rel=1e-12)
    none = result[(result["term"] == "SET_B") & (result["direction"] == "up")].iloc[0]
    assert none["overlap"] == 0 and none["pvalue"] == pytest.approx(1.0)
    # BH within direction: two tests per direction
    up = result[result["direction"] == "up"].set_index("term")
    assert up.loc["SET_A", "fdr"] == pytest.approx(min(1.0, by_hand * 2 / 1))
    assert result["direction"].tolist()[:2] == ["up", "up"]


def test_ora_lfc_threshold_and_empty_library():
    table = small_de_table()
    gene_sets = {"SET_A": ["G00", "G01", "G02", "G03", "G10"]}
    result = run_ora(table, gene_sets, library="lib", min_size=2, max_size=100, lfc_threshold=3)
    assert result["overlap"].sum() == 0
    empty = run_ora(table, {"X": ["nope"]}, library="lib", min_size=2, max_size=100)
    assert list(empty.columns) == ORA_COLUMNS and empty.empty


def test_ora_p_values_equal_gseapy_enrich_with_background():
    """gseapy.enrich runs offline for dict gene sets with a background list: same p-values."""
    import gseapy

    rng = np.random.default_rng(7)
    genes = [f"GENE{i:04d}" for i in range(600)]
    table = pd.DataFrame(
        {
            "symbol": genes,
            "log2FoldChange": rng.normal(size=600),
            "padj": rng.uniform(size=600) ** 3,
        }
    )
    gene_sets = {
        f"SET{k}": list(rng.choice(genes, size=int(rng.integers(15, 80)), replace=False))
        for k in range(12)
    }
    gene_sets["SET0"] = (
        list(table["symbol"][(table["padj"] < 0.05) & (table["log2FoldChange"] > 0)][:12])
        + genes[:20]
    )
    result = run_ora(table, gene_sets, library="lib", min_size=5, max_size=500)
    up = result[(result["direction"] == "up") & (result["overlap"] > 0)].set_index("term")
    query = table["symbol"][(table["padj"] < 0.05) & (table["log2FoldChange"] > 0)].tolist()
    logging.getLogger("gseapy").setLevel(logging.WARNING)
    enr = gseapy.enrich(
        gene_list=query,
        gene_sets=gene_sets,
        background=genes,
        outdir=None,
        no_plot=True,
        verbose=False,
    )
    theirs = enr.res2d.set_index("Term")
    assert set(theirs.index) == set(up.index)  # gseapy reports terms with an overlap only
    for term, row in up.iterrows():
        assert row["pvalue"] == pytest.approx(float(theirs.loc[term, "P-value"]), rel=1e-9)
        assert f"{row['overlap']}/{row['size']}" == theirs.loc[term, "Overlap"]


# --------------------------------------------------------------------------------------------
# sample_scores
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planted_expression():
    rng = np.random.default_rng(3)
    genes = [f"GENE{i:03d}" for i in range(200)]
    samples = [f"s{i:02d}" for i in range(12)]
    values = pd.DataFrame(rng.normal(8.0, 1.0, size=(12, 200)), index=samples, columns=genes)
    values.iloc[:6, :15] += 3.0  # PLANTED is up in the first six samples
    gene_sets = {
        "PLANTED": genes[:15],
        "RANDOM": genes[100:130],
        "TOO_SMALL": genes[150:152],
    }
    return values, gene_sets


@pytest.mark.parametrize("method", ["ssgsea", "mean_z"])
def test_planted_set_scores_higher_where_its_genes_are_up(planted_expression, method):
    values, gene_sets = planted_expression
    scores = sample_scores(values, gene_sets, method=method, min_size=5)
    assert list(scores.columns) == ["PLANTED", "RANDOM"]
    assert list(scores.index) == list(values.index)
    planted = scores["PLANTED"]
    assert planted.iloc[:6].min() > planted.iloc[6:].max()
    assert np.isfinite(scores.to_numpy()).all()


@pytest.mark.parametrize("method", ["ssgsea", "mean_z"])
def test_sample_scores_are_deterministic(planted_expression, method):
    values, gene_sets = planted_expression
    first = sample_scores(values, gene_sets, method=method, seed=0)
    second = sample_scores(values, gene_sets, method=method, seed=0)
    pd.testing.assert_frame_equal(first, second)


def test_mean_z_by_hand_and_bad_method():
    values = pd.DataFrame({"A": [1.0, 2.0, 3.0], "B": [5.0, 5.0, 5.0]}, index=["x", "y", "z"])
    scores = sample_scores(values, {"S": ["A", "B"]}, method="mean_z", min_size=1)
    np.testing.assert_allclose(scores["S"], [-0.5, 0.0, 0.5])  # z of A is -1, 0, 1; B constant
    with pytest.raises(ValueError, match="method"):
        sample_scores(values, {"S": ["A", "B"]}, method="gsva", min_size=1)


# --------------------------------------------------------------------------------------------
# group_overlapping
# --------------------------------------------------------------------------------------------


def test_group_overlapping_single_linkage_and_labels():
    edges = {
        "T_c": {"A", "B", "C", "D"},
        "T_a": {"A", "B", "C"},  # J(T_a, T_c) = 3/4
        "T_e": {"C", "D", "E", "F"},  # J(T_c, T_e) = 2/6: not linked directly ...
        "T_d": {"D", "E", "F"},  # ... but J(T_d, T_e) = 3/4
        "T_b": {"X", "Y"},
        "T_f": set(),
        "T_g": set(),  # two empty sets are not linked
    }
    groups = group_overlapping(edges, min_jaccard=0.5)
    assert groups == {
        "T_a": "T_a",
        "T_b": "T_b",
        "T_c": "T_a",
        "T_d": "T_d",
        "T_e": "T_d",
        "T_f": "T_f",
        "T_g": "T_g",
    }
    # a lower threshold chains T_c and T_e: single linkage joins the two groups
    groups = group_overlapping(edges, min_jaccard=0.3)
    assert {groups[t] for t in ("T_a", "T_c", "T_d", "T_e")} == {"T_a"}


def test_group_overlapping_does_not_depend_on_input_order():
    edges = {f"T{i}": {f"G{i}", f"G{i + 1}"} for i in range(6)}  # J(Ti, Ti+1) = 1/3
    forward = group_overlapping(edges, min_jaccard=1 / 3)
    backward = group_overlapping(dict(reversed(list(edges.items()))), min_jaccard=1 / 3)
    assert forward == backward
    assert set(forward.values()) == {"T0"}


def test_genes_without_a_symbol_are_not_ranked():
    import numpy as np
    import pandas as pd

    from msc_secretome.enrichment import gene_ranking

    table = pd.DataFrame({"symbol": ["A", np.nan, "", "B"], "stat": [1.0, 5.0, 4.0, -2.0]})
    assert list(gene_ranking(table).index) == ["A", "B"]


@pytest.fixture(scope="module")
def prerank_input():
    """5,000 genes ranked by a N(0,1) statistic; one set planted at the top, 40 random sets."""
    rng = np.random.default_rng(5)
    genes = np.array([f"G{i:05d}" for i in range(5000)])
    ranking = pd.Series(rng.normal(size=5000), index=genes).sort_values(ascending=False)
    top = list(ranking.index[:40]) + list(rng.choice(ranking.index[40:], 40, replace=False))
    gene_sets = {"PLANTED": top}
    for k in range(40):
        gene_sets[f"RANDOM{k:02d}"] = list(rng.choice(genes, int(rng.integers(20, 200)), False))
    return ranking, gene_sets


@pytest.mark.parametrize("method", ["multilevel", "permutation"])
def test_prerank_finds_the_planted_set_and_not_the_random_ones(prerank_input, method):
    ranking, gene_sets = prerank_input
    table = run_prerank(ranking, gene_sets, library="t", permutations=1000, method=method)
    table = table.set_index("term")
    assert list(table.columns) == [c for c in ENRICHMENT_COLUMNS if c != "term"]
    planted = table.loc["PLANTED"]
    assert planted["NES"] > 2 and planted["fdr"] < 1e-3
    if method == "multilevel":  # not floored at 1/permutations
        assert planted["pvalue"] < 1e-6
    random = table.drop(index="PLANTED")
    assert (random["fdr"] < 0.05).sum() <= 2
    assert 0.2 < random["pvalue"].median() < 0.8  # roughly uniform under the null
    for term in ["PLANTED", "RANDOM00", "RANDOM07"]:  # ES is the running-sum maximum
        es, _, _ = enrichment_score(ranking, gene_sets[term])
        assert table.loc[term, "ES"] == pytest.approx(es, rel=1e-10)
    if method == "multilevel":  # 41 sets run in two blocks; FDR is BH over the library
        from scipy.stats import false_discovery_control

        assert len(table) > SETS_PER_CALL
        expected = false_discovery_control(table["pvalue"].to_numpy(), method="bh")
        np.testing.assert_allclose(table["fdr"].to_numpy(), expected, rtol=1e-12)


def test_prerank_methods_agree_on_nes_and_are_seeded(prerank_input):
    ranking, gene_sets = prerank_input
    args = {"library": "t", "permutations": 1000, "seed": 3}
    multilevel = run_prerank(ranking, gene_sets, method="multilevel", **args)
    again = run_prerank(ranking, gene_sets, method="multilevel", **args)
    pd.testing.assert_frame_equal(multilevel, again)
    permutation = run_prerank(ranking, gene_sets, method="permutation", **args)
    pd.testing.assert_series_equal(multilevel["ES"], permutation["ES"])
    # both normalise ES by the mean null ES of the same sign; different random draws
    ratio = multilevel["NES"] / permutation["NES"]
    assert ratio.between(0.9, 1.1).all(), ratio.describe()
    # p-values: the same ordering up to Monte-Carlo noise (permutation p is floored at 0)
    floor = 1 / args["permutations"]
    rho = np.corrcoef(
        np.log(np.maximum(multilevel["pvalue"], floor)),
        np.log(np.maximum(permutation["pvalue"], floor)),
    )[0, 1]
    assert rho > 0.9


def test_hypergeom_tail_equals_scipy_stats_value_for_value():
    """ORA's tail without scipy.stats: the same floats, the support's ends included."""
    from scipy.stats import hypergeom

    from msc_secretome.enrichment import hypergeom_tail

    rng = np.random.default_rng(4)
    for background, drawn in [(20000, 900), (300, 250), (50, 0), (40, 40)]:
        sizes = rng.integers(1, min(background, 500) + 1, size=400)
        overlap = np.array([rng.integers(0, min(s, drawn) + 1) for s in sizes])
        overlap[:5] = 0  # P(X >= 0) = 1
        expected = hypergeom.sf(overlap - 1, background, sizes, drawn)
        np.testing.assert_array_equal(hypergeom_tail(overlap, background, sizes, drawn), expected)
