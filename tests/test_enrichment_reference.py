"""Enrichment scores against fgsea's C++ and the Broad GSEA desktop (../shared references).

* fgsea-exact (SPEC.md): ``ref_calcGseaStatBatchCpp.tsv`` holds the plain ES of 20 Reactome
  pathways on 3000 ranked genes (``inputs/stats.tsv``, ``inputs/pathways.tsv`` as 1-based
  positions), ``ref_calcGseaStatCumulative.tsv`` the ES (std), maximum (pos) and minimum (neg)
  deviation of every prefix of one pathway, and ``inputs/cumbatch_pathwayScores.tsv`` the ES
  fgsea fed to its permutation test. The other refs (permutation counts, multilevel p-values,
  GESECA) depend on fgsea's RNG and are not plain ES computations. All are 17-digit doubles:
  :func:`enrichment_score` must agree to 1e-10 relative (measured: about 1e-14).
* GSEA desktop (``results.edb``): ES, hit indices (0-based), the running score at each hit
  (ES_PROFILE) and the rank of the ES peak, stored with 4 decimals: agreement to half a unit of
  the last stored digit (5e-5; the test allows 5.1e-5 for the rounding of the stored value).
* gseapy's prerank on the same inputs must give the same ES (to 1e-10; measured about 1e-15) and
  the same hits and running scores.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from msc_secretome.enrichment import enrichment_score

pytestmark = pytest.mark.shared

REL_TOL = 1e-10
EDB_TOL = 5.1e-5  # the .edb stores 4 decimals: half a unit (measured max 4.998e-5) + slack


@pytest.fixture(scope="module")
def fgsea_dir(reference_dir):
    return reference_dir / "gsea" / "fgsea-exact"


@pytest.fixture(scope="module")
def fgsea_ranking(fgsea_dir):
    """The 3000 statistics in their given (decreasing) order; gene i (1-based) is ``g{i}``."""
    stats = pd.read_csv(fgsea_dir / "inputs" / "stats.tsv", sep="\t")["stats"].to_numpy(float)
    assert np.all(np.diff(stats) < 0), "the reference ranking is strictly decreasing"
    return pd.Series(stats, index=[f"g{i}" for i in range(1, len(stats) + 1)])


@pytest.fixture(scope="module")
def fgsea_pathways(fgsea_dir):
    lines = (fgsea_dir / "inputs" / "pathways.tsv").read_text().splitlines()
    names = pd.read_csv(fgsea_dir / "refs" / "ref_calcGseaStatBatchCpp.tsv", sep="\t")[
        "pathway_name"
    ]
    return {
        name: [f"g{int(i)}" for i in line.split("\t")]
        for name, line in zip(names, lines, strict=True)
    }


def relative_error(value, reference):
    return abs(value - reference) / max(abs(reference), 1e-300)


def test_es_equals_fgsea_calc_gsea_stat(fgsea_dir, fgsea_ranking, fgsea_pathways):
    ref = pd.read_csv(fgsea_dir / "refs" / "ref_calcGseaStatBatchCpp.tsv", sep="\t")
    assert len(ref) == 20
    for row in ref.itertuples(index=False):
        es, running, hits = enrichment_score(fgsea_ranking, fgsea_pathways[row.pathway_name])
        assert len(hits) == row.size
        assert relative_error(es, row.ES) < REL_TOL, (row.pathway_name, es, row.ES)
        assert es == pytest.approx(running[np.argmax(np.abs(running))], abs=1e-12)
    scores = pd.read_csv(fgsea_dir / "inputs" / "cumbatch_pathwayScores.tsv", sep="\t")
    for name, reference in zip(fgsea_pathways, scores["pathwayScores"], strict=True):
        es, _, _ = enrichment_score(fgsea_ranking, fgsea_pathways[name])
        assert relative_error(es, reference) < REL_TOL


def test_prefix_scores_equal_fgsea_cumulative(fgsea_dir, fgsea_ranking):
    """ES (std), max (pos) and min (neg) deviation of every prefix of one pathway."""
    selected = [
        int(x) for x in (fgsea_dir / "inputs" / "cumulative_selectedStats.tsv").read_text().split()
    ]
    ref = pd.read_csv(fgsea_dir / "refs" / "ref_calcGseaStatCumulative.tsv", sep="\t")
    assert set(ref["scoreType"]) == {"std", "pos", "neg"}
    for row in ref.itertuples(index=False):
        genes = [f"g{i}" for i in selected[: row.prefix_index0 + 1]]
        es, running, _ = enrichment_score(fgsea_ranking, genes)
        value = {"std": es, "pos": max(running.max(), 0.0), "neg": min(running.min(), 0.0)}[
            row.scoreType
        ]
        assert relative_error(value, row.value) < REL_TOL, (row.scoreType, row.prefix_index0)


@pytest.fixture(scope="module")
def edb(reference_dir):
    folder = reference_dir / "gsea" / "gsea-desktop-edb"
    ranks = pd.read_csv(
        folder / "gsea_data.gsea_data.rnk", sep="\t", header=None, names=["gene", "score"]
    )
    ranking = pd.Series(ranks["score"].to_numpy(float), index=ranks["gene"].astype(str))
    gene_sets = {}
    for line in (folder / "gene_sets.gmt").read_text().splitlines():
        fields = line.split("\t")
        gene_sets[fields[0]] = [g for g in fields[2:] if g]
    records = []
    for dtg in ET.parse(folder / "results.edb").getroot().iter("DTG"):
        attributes = dtg.attrib
        records.append(
            {
                "name": attributes["GENESET"].split("#", 1)[1],
                "ES": float(attributes["ES"]),
                "hits": np.array(attributes["HIT_INDICES"].split(), dtype=int),
                "profile": np.array(attributes["ES_PROFILE"].split(), dtype=float),
                "rank_at_es": int(float(attributes["RANK_AT_ES"])),
                "score_at_es": float(attributes["RANK_SCORE_AT_ES"]),
            }
        )
    assert len(records) == 7
    return ranking, gene_sets, records


def test_es_hits_and_running_score_equal_gsea_desktop(edb):
    ranking, gene_sets, records = edb
    for record in records:
        es, running, hits = enrichment_score(ranking, gene_sets[record["name"]])
        assert abs(es - record["ES"]) <= EDB_TOL, record["name"]
        np.testing.assert_array_equal(hits, record["hits"])
        np.testing.assert_allclose(running[hits], record["profile"], rtol=0, atol=EDB_TOL)
        peak = int(np.argmax(np.abs(running)))
        assert peak == record["rank_at_es"]
        assert abs(ranking.iloc[peak] - record["score_at_es"]) <= EDB_TOL


def _gseapy_prerank(ranking, gene_sets):
    import gseapy

    logging.getLogger("gseapy").setLevel(logging.WARNING)
    return gseapy.prerank(
        rnk=ranking,
        gene_sets=gene_sets,
        permutation_num=0,
        min_size=1,
        max_size=10000,
        seed=1,
        threads=1,
        outdir=None,
        no_plot=True,
        verbose=False,
    )


def test_gseapy_prerank_es_equals_fgsea(fgsea_dir, fgsea_ranking, fgsea_pathways):
    ref = pd.read_csv(fgsea_dir / "refs" / "ref_calcGseaStatBatchCpp.tsv", sep="\t")
    result = _gseapy_prerank(fgsea_ranking, fgsea_pathways).res2d.set_index("Term")
    for row in ref.itertuples(index=False):
        assert relative_error(float(result.loc[row.pathway_name, "ES"]), row.ES) < REL_TOL


def test_gseapy_prerank_equals_gsea_desktop(edb):
    ranking, gene_sets, records = edb
    result = _gseapy_prerank(ranking, gene_sets)
    for record in records:
        raw = result.results[record["name"]]
        assert abs(float(raw["es"]) - record["ES"]) <= EDB_TOL
        np.testing.assert_array_equal(np.asarray(raw["hits"]), record["hits"])
        running = np.asarray(raw["RES"], dtype=float)
        np.testing.assert_allclose(running[record["hits"]], record["profile"], atol=EDB_TOL)
        ours, our_running, _ = enrichment_score(ranking, gene_sets[record["name"]])
        assert relative_error(float(raw["es"]), ours) < REL_TOL
        np.testing.assert_allclose(running, our_running, rtol=0, atol=1e-12)
