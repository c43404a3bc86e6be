"""ssgsea_scores through gseapy's compiled core equals gseapy.ssgsea, bit for bit.

Live comparisons on the same inputs: upper-case symbols, mouse-case symbols with upper-case
sets (gseapy's upper-casing path), sets its size filter drops, and the inputs handed to
gseapy itself (numeric gene names, missing values); loading the core imports no gseapy.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from msc_secretome.enrichment import sample_scores
from msc_secretome.ssgsea import ssgsea_scores

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"


def _by_gseapy(expression: pd.DataFrame, gene_sets, min_size, max_size, seed) -> pd.DataFrame:
    import gseapy

    logging.getLogger("gseapy").setLevel(logging.WARNING)
    result = gseapy.ssgsea(
        data=expression, gene_sets={k: list(v) for k, v in gene_sets.items()}, outdir=None,
        min_size=min_size, max_size=max_size, permutation_num=0, threads=1, seed=seed,
        no_plot=True, verbose=False,
    )  # fmt: skip
    wide = result.res2d.pivot(index="Name", columns="Term", values="ES").astype(float)
    return wide.reindex(index=[str(c) for c in expression.columns])


def _expression(genes: list[str], samples: int = 7, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.normal(8, 2, size=(len(genes), samples))
    values[:40] += np.linspace(-3, 3, samples)  # a programme moving across samples
    values = np.round(values, 1)  # ties within samples (average ranks)
    return pd.DataFrame(values, index=genes, columns=[f"s{i}" for i in range(samples)])


def _gene_sets(genes: list[str], seed: int = 1) -> dict[str, list[str]]:
    rng = np.random.default_rng(seed)
    sets = {f"SET_{i}": list(rng.choice(genes, size=size, replace=False))
            for i, size in enumerate([5, 12, 30, 60, 3, 200])}  # fmt: skip
    sets["MOVING"] = genes[:40] + ["NOT_MEASURED"]
    return sets


def _assert_same(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    assert list(ours.index) == list(theirs.index)
    assert sorted(ours.columns) == sorted(theirs.columns)
    for term in theirs.columns:
        assert np.array_equal(ours[term].to_numpy(), theirs[term].to_numpy()), term


@pytest.mark.parametrize(
    "genes",
    [
        [f"GENE{i}" for i in range(600)],  # human-style symbols
        [f"Gene{i}a" for i in range(600)],  # mouse-style symbols, sets as given
    ],
    ids=["upper", "mouse_case"],
)
def test_ssgsea_scores_equal_gseapy(genes):
    expression = _expression(genes)
    sets = _gene_sets(genes)
    ours = ssgsea_scores(expression, sets, min_size=5, max_size=150, seed=0)
    theirs = _by_gseapy(expression, sets, 5, 150, 0)
    _assert_same(ours, theirs)
    assert "SET_4" not in ours.columns and "SET_5" not in ours.columns  # size filter
    assert list(ours.columns) == [t for t in sets if t in ours.columns]  # the sets' order


def test_upper_case_sets_on_mixed_case_genes_follow_gseapy():
    # < 90 % of the genes upper case, every set upper case: gseapy upper-cases the genes
    genes = [f"Gene{i}" for i in range(500)] + [f"GENE{i}" for i in range(500, 560)]
    expression = _expression(genes, seed=2)
    sets = {"UP_A": genes[500:540], "UP_B": genes[510:560], "MIXED": genes[:30]}
    ours = ssgsea_scores(expression, sets, min_size=5, max_size=500, seed=0)
    _assert_same(ours, _by_gseapy(expression, sets, 5, 500, 0))


def test_missing_values_are_handed_to_gseapy():
    genes = [f"G{i}" for i in range(300)]
    expression = _expression(genes, seed=4)
    expression.iloc[3, 2] = np.nan  # gseapy fills it with 0
    sets = _gene_sets(genes, seed=5)
    ours = ssgsea_scores(expression, sets, min_size=5, max_size=100, seed=0)
    theirs = _by_gseapy(expression, sets, 5, 100, 0)
    _assert_same(ours, theirs.loc[:, ours.columns])


def test_numeric_gene_names_are_handed_to_gseapy():
    # gseapy then reads the first sample as the gene names and finds no set: its error
    genes = [str(1000 + i) for i in range(300)]
    expression = _expression(genes, seed=4)
    sets = _gene_sets(genes, seed=5)
    with pytest.raises(LookupError):
        _by_gseapy(expression, sets, 5, 100, 0)
    with pytest.raises(LookupError):
        ssgsea_scores(expression, sets, min_size=5, max_size=100, seed=0)


def test_sample_scores_ssgsea_matches_gseapy_on_samples_x_genes():
    genes = [f"GENE{i}" for i in range(400)]
    expression = _expression(genes, samples=9, seed=6)
    sets = _gene_sets(genes, seed=7)
    scores = sample_scores(expression.T, sets, method="ssgsea", min_size=5, max_size=150)
    theirs = _by_gseapy(expression, sets, 5, 150, 0)
    assert scores.index.name == "sample"
    _assert_same(scores, theirs.loc[:, scores.columns])


def test_ssgsea_scores_import_no_gseapy_package():
    code = "\n".join(
        [
            f"import sys; sys.path.insert(0, {str(SCRIPTS)!r})",
            "import pandas as pd, numpy as np",
            "from msc_secretome.ssgsea import ssgsea_scores",
            "e = pd.DataFrame(np.arange(60.0).reshape(20, 3) % 7, columns=['a', 'b', 'c'],",
            "                 index=[f'G{i}' for i in range(20)])",
            "ssgsea_scores(e, {'S': [f'G{i}' for i in range(6)]}, min_size=3, max_size=10, seed=0)",
            "print('gseapy' in sys.modules, 'gseapy.gse' in sys.modules)",
        ]
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_samples_scored_in_chunks_give_the_same_scores(monkeypatch):
    from msc_secretome import ssgsea

    genes = [f"GENE{i}" for i in range(500)]
    expression = _expression(genes, samples=11, seed=8)
    sets = _gene_sets(genes, seed=9)
    whole = ssgsea_scores(expression, sets, min_size=5, max_size=150, seed=0)
    monkeypatch.setattr(ssgsea, "VALUES_PER_CALL", 3 * len(genes))  # 3 samples per call
    chunked = ssgsea_scores(expression, sets, min_size=5, max_size=150, seed=0)
    pd.testing.assert_frame_equal(chunked, whole, check_exact=True)
    _assert_same(chunked, _by_gseapy(expression, sets, 5, 150, 0))
