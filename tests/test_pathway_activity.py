"""Pathway activity (univariate linear model on PROGENy footprints), checked against decoupler."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from msc_secretome.errors import InputError
from msc_secretome.pathway_activity import (
    builtin_footprint_path,
    contrast_pathway_activity,
    read_footprints,
    sample_pathway_scores,
    ulm,
)


@pytest.fixture(scope="module")
def progeny():
    return read_footprints(builtin_footprint_path("human"))


def _de_tables(progeny, n_contrasts=4, seed=3):
    """DE-like tables over footprint genes plus background genes, some pathways shifted."""
    rng = np.random.default_rng(seed)
    genes = sorted(set(progeny["gene"])) + [f"BG{i:04d}" for i in range(3000)]
    wide = progeny.pivot(index="gene", columns="pathway", values="weight").reindex(genes)
    wide = wide.fillna(0.0)
    tables = {}
    for k in range(n_contrasts):
        effect = rng.normal(0, 0.6, wide.shape[1]) * (rng.random(wide.shape[1]) < 0.4)
        stat = rng.normal(0, 1, len(genes)) + wide.to_numpy() @ effect / 5
        tables[f"c{k}"] = pd.DataFrame({"symbol": genes, "stat": stat})
    return tables


def test_ulm_equals_ordinary_least_squares_slope_t():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2)) * (rng.random((200, 2)) < 0.3)
    y = 0.8 * x[:, 0] + rng.normal(size=200)
    scores, pvalues = ulm(y, x)
    for j in range(2):
        fit = stats.linregress(x[:, j], y)
        assert scores[j] == pytest.approx(fit.slope / fit.stderr, rel=1e-10)
        assert pvalues[j] == pytest.approx(fit.pvalue, rel=1e-8)
    assert scores[0] > 5 and abs(scores[1]) < 3


def test_contrast_activity_recovers_a_shifted_pathway(progeny):
    genes = sorted(set(progeny["gene"])) + [f"BG{i:04d}" for i in range(2000)]
    rng = np.random.default_rng(1)
    trail = progeny[progeny["pathway"] == "Trail"].set_index("gene")["weight"]
    stat = rng.normal(0, 1, len(genes)) + pd.Series(genes).map(trail).fillna(0).to_numpy()
    table = pd.DataFrame({"symbol": genes, "stat": stat})
    activity = contrast_pathway_activity({"k": table}, progeny).set_index("pathway")
    assert list(activity.columns[:1]) == ["contrast"]
    assert activity["fdr"].idxmin() == "Trail"
    assert activity.loc["Trail", "score"] > 8 and activity.loc["Trail", "fdr"] < 1e-6
    assert (activity["n_footprint"] == 100).all()
    assert (activity.drop(index="Trail")["fdr"] > 1e-3).all()


def test_duplicate_symbols_keep_the_strongest_statistic(progeny):
    base = pd.DataFrame({"symbol": ["A", "B", "C", "D"], "stat": [1.0, -2.0, 0.5, 3.0]})
    dup = pd.concat([base, pd.DataFrame({"symbol": ["A"], "stat": [0.1]})], ignore_index=True)
    net = pd.DataFrame({"pathway": ["P"] * 3, "gene": ["A", "B", "D"], "weight": [1.0, -1, 2]})
    one = contrast_pathway_activity({"k": base}, net, min_targets=1)
    two = contrast_pathway_activity({"k": dup}, net, min_targets=1)
    pd.testing.assert_frame_equal(one, two)


def test_sample_scores_follow_a_planted_sample(progeny):
    genes = sorted(set(progeny["gene"]))
    rng = np.random.default_rng(2)
    expression = pd.DataFrame(rng.normal(8, 1, (6, len(genes))), columns=genes)
    jak = progeny[progeny["pathway"] == "JAK-STAT"].set_index("gene")["weight"]
    expression.iloc[0] += pd.Series(genes, index=genes).map(jak).fillna(0).to_numpy() * 0.5
    scores = sample_pathway_scores(expression, progeny)
    assert scores.shape == (6, 14)
    assert scores["JAK-STAT"].idxmax() == 0 and scores.loc[0, "JAK-STAT"] > 5


def test_bad_footprints_are_refused(tmp_path):
    path = tmp_path / "net.tsv"
    path.write_text("source\tgene\tweight\nP\tA\t1\n")
    with pytest.raises(InputError, match=r"net.tsv.*lacks column.*pathway"):
        read_footprints(path)
    path.write_text("pathway\tgene\tweight\nP\tA\tabc\n")
    with pytest.raises(InputError, match="line 2 is not a finite number"):
        read_footprints(path)


def test_shipped_footprints_are_progeny_top100(progeny):
    assert progeny["pathway"].nunique() == 14
    assert set(progeny.groupby("pathway").size()) == {100}
    assert {"Trail", "JAK-STAT", "TGFb", "MAPK", "PI3K", "WNT", "p53"} <= set(progeny["pathway"])
    digest = hashlib.sha256(builtin_footprint_path("human").read_bytes()).hexdigest()
    source = (builtin_footprint_path("human").parent / "SOURCE_secretome.md").read_text()
    assert digest in source  # the provenance file records the shipped bytes


@pytest.mark.shared
def test_shipped_footprints_agree_with_the_shared_reference(reference_dir, progeny):
    reference = pd.read_csv(reference_dir / "genesets" / "progeny_human_top100.tsv", sep="\t")
    merged = progeny.merge(reference, on=["pathway", "gene"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all()
    assert np.allclose(merged["weight_x"], merged["weight_y"], rtol=0, atol=1e-9)


@pytest.mark.slow  # importing decoupler takes seconds
def test_agrees_with_decoupler_ulm(progeny):
    decoupler = pytest.importorskip("decoupler", reason="decoupler is not installed")
    tables = _de_tables(progeny, n_contrasts=6)
    ours = contrast_pathway_activity(tables, progeny)
    matrix = pd.DataFrame({k: t.set_index("symbol")["stat"] for k, t in tables.items()}).T
    net = progeny.rename(columns={"pathway": "source", "gene": "target"})
    scores, padj = decoupler.mt.ulm(matrix, net, tmin=5)
    theirs = scores.stack().rename("decoupler").reset_index()
    theirs.columns = ["contrast", "pathway", "decoupler"]
    merged = ours.merge(theirs, on=["contrast", "pathway"], validate="one_to_one")
    assert len(merged) == 6 * 14
    r = np.corrcoef(merged["score"], merged["decoupler"])[0, 1]
    assert r >= 0.99
    assert np.allclose(merged["score"], merged["decoupler"], rtol=1e-6)
    fdr = padj.stack().rename("padj").reset_index()
    fdr.columns = ["contrast", "pathway", "padj"]
    both = ours.merge(fdr, on=["contrast", "pathway"])
    assert np.allclose(both["fdr"], both["padj"], rtol=1e-6, atol=1e-12)
