"""run_prerank through gseapy's compiled core gives the tables of the gseapy wrapper, bit for bit.

* against tables stored from the code before the speed work (``tests/enrichment_cases.py``);
* against ``gseapy.prerank`` itself, live, on the same inputs (ES, NES, p-values, FDR and the
  leading edges), and the recomputed running score equals the core's ``run_es`` float for float;
* loading the core does not import gseapy's Python package.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from enrichment_cases import CASES, FIXTURE, case_input

from msc_secretome.prerank import (
    SETS_PER_CALL,
    gseapy_core,
    gseapy_ordered,
    run_prerank,
    running_score,
    weighted_statistic,
)

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"


def _fixture_table(name: str) -> pd.DataFrame:
    stored = pd.read_csv(
        FIXTURE,
        sep="\t",
        keep_default_na=False,
        na_values=["", "NaN", "nan"],
        float_precision="round_trip",
    )
    stored = stored[stored["case"] == name].drop(columns="case").reset_index(drop=True)
    stored["leading_edge"] = stored["leading_edge"].astype(str)
    return stored


@pytest.mark.parametrize("name, kind, kwargs", CASES, ids=[c[0] for c in CASES])
def test_tables_equal_the_stored_tables_of_the_gseapy_wrapper(name, kind, kwargs):
    ranking, sets = case_input(kind)
    table = run_prerank(ranking, sets, library="fixture", **kwargs)
    expected = _fixture_table(name)
    assert len(table) == len(expected) > SETS_PER_CALL  # several blocks
    # exact: the fixture holds 17 significant digits, which round-trip a double
    pd.testing.assert_frame_equal(table, expected, check_exact=True, check_dtype=False)


def _wrapper(ranking, sets, method, permutations, seed, weight, min_size=10, max_size=500):
    """The pre-#19 path: gseapy.prerank per block, as run_prerank called it."""
    import gseapy

    logging.getLogger("gseapy").setLevel(logging.WARNING)
    terms = sorted(sets)
    block = SETS_PER_CALL if method == "multilevel" else len(terms)
    frames = []
    for start in range(0, len(terms), block):
        result = gseapy.prerank(
            rnk=ranking,
            gene_sets={t: sets[t] for t in terms[start : start + block]},
            permutation_num=permutations,
            seed=seed,
            min_size=min_size,
            max_size=max_size,
            weight=weight,
            method=method,
            threads=1,
            outdir=None,
            no_plot=True,
            verbose=False,
        )
        frames.append(result.res2d)
    return pd.concat(frames).set_index("Term").sort_index()


@pytest.mark.parametrize(
    "method, weight, seed",
    [("multilevel", 1.0, 42), ("multilevel", 0.0, 3), ("permutation", 0.5, 1)],
)
def test_equals_gseapy_prerank_live(method, weight, seed):
    rng = np.random.default_rng(seed)
    genes = np.array([f"G{i:05d}" for i in range(4000)])
    stat = np.round(rng.standard_t(4, size=genes.size), 2)  # many ties
    ranking = pd.Series(stat, index=genes).sort_values(ascending=False)
    sets = {
        f"S{k:02d}": list(rng.choice(genes, int(rng.integers(10, 400)), replace=False))
        for k in range(30)
    }
    sets["TOP"] = list(ranking.index[:40])
    args = {"permutations": 300, "seed": seed, "weight": weight}
    ours = run_prerank(ranking, sets, library="x", method=method, **args).set_index("term")
    theirs = _wrapper(ranking, sets, method, **args)
    assert list(ours.index) == list(theirs.index)
    for mine, gseapys in [("ES", "ES"), ("NES", "NES"), ("pvalue", "NOM p-val")]:
        np.testing.assert_array_equal(ours[mine].to_numpy(), theirs[gseapys].astype(float))
    if method == "permutation":
        np.testing.assert_array_equal(ours["fdr"].to_numpy(), theirs["FDR q-val"].astype(float))
    assert ours["leading_edge"].tolist() == theirs["Lead_genes"].astype(str).tolist()


@pytest.mark.parametrize("weight", [1.0, 0.5, 0.0])
def test_running_score_is_the_cores_float_for_float(weight):
    rng = np.random.default_rng(11)
    genes = [f"G{i:04d}" for i in range(3000)]
    ranking = gseapy_ordered(pd.Series(rng.normal(size=3000), index=genes))
    sets = {f"S{k}": list(rng.choice(genes, int(rng.integers(10, 300)), False)) for k in range(8)}
    values = ranking.to_numpy()
    result = gseapy_core().fgsea_rs(
        ranking.index.tolist(), values.tolist(), sets, weight, 5, 500, 101, 50, 1e-50, 1, 1
    )
    weighted = weighted_statistic(values, weight)
    for summary in result.summaries:
        hits = np.asarray(summary.hits, dtype=np.intp)
        np.testing.assert_array_equal(running_score(weighted, hits), np.array(summary.run_es))


def test_bad_rankings_are_refused():
    sets = {"A": ["a", "b"]}
    with pytest.raises(ValueError, match="twice"):
        run_prerank(
            pd.Series([1.0, 2.0, 3.0], index=["a", "b", "a"]), sets, library="x", min_size=1
        )
    with pytest.raises(ValueError, match="infinite"):
        run_prerank(pd.Series([1.0, np.inf, 3.0], index=list("abc")), sets, library="x", min_size=1)
    with pytest.raises(ValueError, match="method"):
        run_prerank(pd.Series([1.0, 2.0, 3.0], index=list("abc")), sets, library="x", method="x")


def test_loading_the_core_does_not_import_gseapy():
    code = (
        f"import sys; sys.path.insert(0, {str(SCRIPTS)!r});"
        "from msc_secretome.prerank import gseapy_core; core = gseapy_core();"
        "assert 'gseapy' not in sys.modules and hasattr(core, 'fgsea_rs');"
        "import gseapy; from gseapy.gse import fgsea_rs;"  # a later import reuses the core
        "assert fgsea_rs is core.fgsea_rs; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


def test_library_null_equals_one_call_on_the_library_and_not_its_blocks(monkeypatch):
    """null="library": every call carries the largest set, so blocks of any size give the values
    of one core call on the whole library (the block null gives other Monte-Carlo draws)."""
    import msc_secretome.prerank as prerank

    ranking, sets = case_input("plain")
    args = {"library": "x", "permutations": 300, "seed": 5}
    one_call = run_prerank(ranking, sets, **args, null="library")  # 60 sets: one call
    monkeypatch.setattr(prerank, "LIBRARY_NULL_BLOCK_BYTES", 16 * len(ranking) * 7)
    blocked = run_prerank(ranking, sets, **args, null="library")  # blocks of 7 sets
    pd.testing.assert_frame_equal(blocked, one_call, check_exact=True)
    ordered = gseapy_ordered(ranking)
    core = gseapy_core().fgsea_rs(
        ordered.index.tolist(),
        ordered.tolist(),
        {t: [g for g in genes if g in ordered.index] for t, genes in sets.items()},
        1.0, 10, 500, 101, 300, 1e-50, 1, 5,
    )  # fmt: skip
    nes = {s.term: s.nes for s in core.summaries}
    np.testing.assert_array_equal(one_call["NES"], [nes[t] for t in one_call["term"]])
    per_block = run_prerank(ranking, sets, **args)
    pd.testing.assert_series_equal(per_block["ES"], one_call["ES"])
    assert (per_block["NES"] != one_call["NES"]).mean() > 0.5
    np.testing.assert_allclose(per_block["NES"], one_call["NES"], rtol=0.15)


@pytest.mark.parametrize(
    "options", [{"null": "library"}, {"method": "permutation"}], ids=["library_null", "permutation"]
)
def test_one_call_on_two_core_threads_gives_the_same_table(options, monkeypatch):
    """A library that is one core call (library null, permutation) hands the job's threads to
    the core itself; its table must not depend on them."""
    import msc_secretome.prerank as prerank

    core = prerank.gseapy_core()
    core_threads = []

    class RecordingCore:  # the core's thread count is its last argument but the seed
        def __getattr__(self, name):
            def call(*args):
                core_threads.append(args[-2])
                return getattr(core, name)(*args)

            return call

    monkeypatch.setattr(prerank, "gseapy_core", RecordingCore)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # gseapy's own cap would give the core 1
    ranking, sets = case_input("plain")
    args = {"library": "x", "permutations": 200, "seed": 2, **options}
    one = run_prerank(ranking, sets, **args, threads=1)
    two = run_prerank(ranking, sets, **args, threads=2)
    assert core_threads == [1, 2]
    pd.testing.assert_frame_equal(one, two, check_exact=True)


def test_blocks_in_parallel_threads_give_the_same_table(monkeypatch):
    import msc_secretome.prerank as prerank

    pools = []

    class RecordingPool(prerank.ThreadPoolExecutor):
        def __init__(self, max_workers):
            pools.append(max_workers)
            super().__init__(max_workers=max_workers)

    monkeypatch.setattr(prerank, "ThreadPoolExecutor", RecordingPool)
    # a 2-CPU machine: gseapy's own cap (CPUs - 1) would make this single-threaded
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    ranking, sets = case_input("plain")
    args = {"library": "x", "permutations": 200, "seed": 2}
    one = run_prerank(ranking, sets, **args, threads=1)
    assert pools == []
    two = run_prerank(ranking, sets, **args, threads=2)
    assert pools == [2]  # the job's two threads run two blocks at once
    pd.testing.assert_frame_equal(one, two, check_exact=True)
