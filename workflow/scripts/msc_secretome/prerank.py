"""GSEA prerank of one gene-set library through gseapy's compiled core, without its wrapper.

:func:`run_prerank` gives the same table, bit for bit, as calling ``gseapy.prerank`` (the
project's code up to issue #19) on the same input (a ranking of unique genes with finite
values, as :func:`~msc_secretome.enrichment.gene_ranking` gives; others are refused rather than
dropped or renamed as gseapy did): it prepares exactly the arguments
``gseapy.prerank`` hands to its Rust core (``gseapy.gse.fgsea_rs`` for the multilevel method,
``prerank_rs`` for the permutation method) and reads the core's results the way gseapy's
``to_df`` does. What it leaves out is gseapy's Python layer, which cost more than the
statistics on small libraries:

* importing ``gseapy`` (1.3 s: matplotlib, scipy.stats, requests) -- only the compiled
  extension ``gseapy/gse*.so`` is loaded (:func:`gseapy_core`), in ~30 ms;
* checking 20,000 gene names one by one for Entrez ids and upper case, and converting every
  set's running score (one float per gene) to Python lists to find its leading edge -- the
  running score is recomputed here from the hits with the core's own arithmetic
  (:func:`running_score`, same operations in the same order, so the same floats).

Results are identical only while gseapy is the pinned 1.3.1 (``tests/test_prerank_core.py``
checks this against ``gseapy.prerank`` and against stored tables of the old code).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import math
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from .wald import benjamini_hochberg

ENRICHMENT_COLUMNS = ["library", "term", "ES", "NES", "pvalue", "fdr", "size", "leading_edge"]

# Gene sets per call of the multilevel core. The core keeps every set's running score (one
# float per gene) until the call returns, and its NES null is drawn per call (random sets of
# the call's largest size), so the block composition is part of the result: sets go in
# name-sorted blocks of this many, as they always have.
SETS_PER_CALL = 25

# null="library": bytes of running scores a core call may hold (8 bytes per gene and set in
# the core, as many again in the summaries handed back): 500 sets per call at 20,000 genes
# (one null for a 500-set library: 1.0 s CPU, 300 MB peak; 96 MB would take two calls, 1.3 s
# and 237 MB), 166 at 60,000.
LIBRARY_NULL_BLOCK_BYTES = 160_000_000

# gseapy's fixed arguments of the multilevel core (fgsea's defaults)
MULTILEVEL_SAMPLE_SIZE = 101
MULTILEVEL_EPS = 1e-50


def gseapy_core():
    """The compiled core of gseapy (``gseapy.gse``), loaded without running ``gseapy/__init__``.

    Once ``gseapy`` itself is imported (e.g. for ssGSEA) that import's module is used; the
    extension loaded here is registered as ``gseapy.gse``, so a later ``import gseapy`` reuses
    it (a PyO3 extension initialises once per process).
    """
    if "gseapy.gse" in sys.modules:
        return sys.modules["gseapy.gse"]
    if "gseapy" in sys.modules:
        import gseapy.gse

        return gseapy.gse
    package = importlib.util.find_spec("gseapy")
    if package is None or not package.submodule_search_locations:
        raise ImportError("gseapy is not installed (pip install gseapy==1.3.1)")
    for folder in package.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "gse" + suffix)
            if os.path.exists(path):
                loader = importlib.machinery.ExtensionFileLoader("gseapy.gse", path)
                spec = importlib.util.spec_from_file_location("gseapy.gse", path, loader=loader)
                module = importlib.util.module_from_spec(spec)
                sys.modules["gseapy.gse"] = module
                loader.exec_module(module)
                return module
    raise ImportError(f"gseapy's compiled core gse*.so is missing under {package.origin}")


def _is_int_like(name) -> bool:
    try:
        int(name)
    except (TypeError, ValueError):
        return False
    return True


def mostly_upper_case(genes: Sequence) -> bool:
    """gseapy's ``check_uppercase``: at least 90 % of names upper case, and not all Entrez ids."""
    if all(_is_int_like(g) for g in genes):
        return False
    return sum(str(g).isupper() for g in genes) / len(genes) >= 0.9


def gseapy_ordered(ranking: pd.Series) -> pd.Series:
    """The ranking in the order gseapy's prerank uses: ``sort_values(ascending=False)``.

    That sort is pandas' default quicksort on the values alone, so tied genes are ordered as
    it leaves them (not by name); used as is to give gseapy's order. ``ranking``: length N,
    gene names as index, finite values, each gene once.
    """
    names = pd.Index(ranking.index)
    if names.hasnans:
        raise ValueError("the ranking has a gene without a name")
    if names.has_duplicates:
        raise ValueError(f"the ranking lists a gene twice, e.g. {names[names.duplicated()][0]!r}")
    values = pd.to_numeric(pd.Series(ranking.to_numpy()), errors="coerce").astype(float)
    if not np.isfinite(values.to_numpy()).all():
        bad = names[~np.isfinite(values.to_numpy())][0]
        raise ValueError(f"the ranking has a missing or infinite value, e.g. for {bad!r}")
    order = values.sort_values(ascending=False).index.to_numpy()
    return pd.Series(values.to_numpy()[order], index=names[order])


def _block_sets(
    block: dict[str, list[str]],
    ordered_names: np.ndarray,
    names_upper: bool,
    min_size: int,
    max_size: int,
) -> tuple[dict[str, list[str]], bool]:
    """gseapy's ``load_gmt`` for one call: sets restricted to ranked genes, and the case rule.

    When fewer than 90 % of the ranked names are upper case but the call's first 20 sets are
    mostly upper case, gseapy matches set genes against upper-cased gene names (and hands the
    core upper-cased names): ``to_upper`` is then true.
    """
    terms = list(block)
    to_upper = (not names_upper) and all(
        mostly_upper_case(block[t]) for t in terms[: min(20, len(terms))]
    )
    if to_upper:
        known = {str(g).upper() for g in ordered_names}
    else:
        known = set(ordered_names)
    kept = {}
    for term in terms:
        overlap = [g for g in set(block[term]) if g in known]
        if min_size <= len(overlap) <= max_size and len(overlap) < len(ordered_names):
            kept[term] = overlap
    if not kept:
        raise LookupError(
            f"none of the gene sets {terms[:3]}... has {min_size}-{max_size} ranked genes"
        )
    return kept, to_upper


def weighted_statistic(values: np.ndarray, weight: float) -> np.ndarray:
    """``|values| ** weight`` as the core computes it (C ``pow``), shape (N,).

    numpy's vectorised power can differ from C ``pow`` in the last bit, so for weights other
    than 1 and 0 (exact either way) each value goes through :func:`math.pow`.
    """
    magnitude = np.abs(np.asarray(values, dtype=float))
    if weight == 1:
        return magnitude
    if weight == 0:
        return np.ones_like(magnitude)
    return np.fromiter((math.pow(x, weight) for x in magnitude), float, magnitude.size)


def running_score(weighted: np.ndarray, hits: np.ndarray) -> np.ndarray:
    """The running enrichment score exactly as gseapy's core computes it (``run_es``).

    ``weighted``: ``|statistic| ** weight`` per ranked gene, shape (N,); ``hits``: 0-based
    positions of the set's genes, ascending, shape (m,). Returns shape (N,): the cumulative sum
    of ``w_i / NR`` at hits and ``-1 / (N - m)`` elsewhere, summed left to right like the core
    (``NR`` too), so the floats are the core's own.
    """
    n = weighted.size
    norm_miss = 1.0 / (float(n) - float(hits.size))
    steps = np.full(n, -norm_miss)
    hit_weights = weighted[hits]
    norm_hit = 1.0 / np.cumsum(hit_weights)[-1] if hits.size else np.inf
    steps[hits] = hit_weights * norm_hit
    return np.cumsum(steps)


def leading_edge(es: float, running: np.ndarray, hits: np.ndarray, names: np.ndarray) -> str:
    """gseapy's leading edge: hits up to the running-score maximum (ES >= 0; rank order) or
    from its minimum on (ES < 0; from the bottom up), names joined by ``;``."""
    if running.size <= 1:
        return ""
    if float(es) >= 0:
        edge = hits[hits <= running.argmax()]
    else:
        edge = hits[hits >= running.argmin()][::-1]
    return ";".join(map(str, names[edge]))


def _core_calls(
    testable: dict[str, list[str]],
    names: np.ndarray,
    names_upper: bool,
    min_size: int,
    max_size: int,
    *,
    method: str,
    null: str,
) -> list[tuple[dict[str, list[str]], bool, set[str]]]:
    """The core calls of one library: (sets of the call, upper-case matching, terms to report)."""
    terms = sorted(testable)
    if method == "permutation" or null == "block":
        block = SETS_PER_CALL if method == "multilevel" else len(terms)
        calls = []
        for start in range(0, len(terms), block):
            chunk = {t: testable[t] for t in terms[start : start + block]}
            sets, to_upper = _block_sets(chunk, names, names_upper, min_size, max_size)
            calls.append((sets, to_upper, set(sets)))
        return calls
    every, to_upper = _block_sets(
        {t: testable[t] for t in terms}, names, names_upper, min_size, max_size
    )
    largest = max(len(genes) for genes in every.values())
    pacer = next(t for t in every if len(every[t]) == largest)  # first by name
    block = max(1, LIBRARY_NULL_BLOCK_BYTES // (16 * len(names)))
    kept = list(every)
    calls = []
    for start in range(0, len(kept), block):
        sets = {t: every[t] for t in kept[start : start + block]}
        report = set(sets)
        sets[pacer] = every[pacer]  # the null's random sets have the library's largest size
        calls.append((sets, to_upper, report))
    return calls


def run_prerank(
    ranking: pd.Series,
    gene_sets: dict[str, list[str]],
    *,
    library: str,
    permutations: int = 1000,
    seed: int = 42,
    min_size: int = 10,
    max_size: int = 500,
    weight: float = 1.0,
    method: str = "multilevel",
    threads: int = 1,
    null: str = "block",
) -> pd.DataFrame:
    """GSEA prerank of one library; the table of the output contract (one row per set tested).

    ``ranking``: statistic per gene (index = gene symbol, each once, finite values), e.g. from
    :func:`msc_secretome.enrichment.gene_ranking`. ``gene_sets``: name -> genes. A set is
    tested when ``min_size <= size <= max_size``, ``size`` being its genes in the ranking.
    Returns the columns ``ENRICHMENT_COLUMNS``, sorted by term.

    ``method`` (both gseapy's core, both seeded):

    * ``multilevel`` (default): fgsea's algorithm as ported by gseapy: NES from ``permutations``
      random gene sets, p-values by adaptive multilevel splitting (not floored at
      1/permutations; fgsea's ``eps`` = 1e-50), FDR = Benjamini-Hochberg over the library's
      tested sets. Sets are run in name-sorted blocks of ``SETS_PER_CALL``, each with
      ``seed``; the random sets of a block's NES null have the block's largest size, so, as in
      fgsea, a set's NES and p-value can move slightly with the sets drawn beside it. Time is
      about the null's: ``permutations`` x (largest size) ** 1.5 per block
      (``benchmarks/enrichment_speed.py``). ``null="library"`` draws the null once at the
      library's largest size instead (every call carries that largest set), so NES and p no
      longer depend on the neighbours in a block and a library costs about one null: the
      values equal one gseapy call on the whole library, and differ from ``"block"``'s
      within Monte-Carlo error. Its calls hold ``LIBRARY_NULL_BLOCK_BYTES`` of running scores
      at most.
    * ``permutation``: the Broad GSEA procedure (gene-label permutations of the whole ranked
      list; FDR from the NES null of all sets, so the library is one call). The core holds
      every permutation of the ranking, about 50 bytes x genes x permutations (1.07 GB at
      20,000 genes and 1,000 permutations).

    ES and the leading edge are the same with either method (they do not depend on the null).
    ``threads`` > 1 runs that many core calls (blocks) at once, or one call on that many
    threads; the table is the same for any value.
    Raises ``ValueError`` for an unknown method or null, or a ranking with missing/infinite
    values or a gene listed twice.
    """
    if method not in ("multilevel", "permutation"):
        raise ValueError(f"method must be 'multilevel' or 'permutation', not {method!r}")
    if null not in ("block", "library"):
        raise ValueError(f"null must be 'block' or 'library', not {null!r}")
    ranked_genes = set(ranking.index)
    sizes = {name: len(ranked_genes.intersection(genes)) for name, genes in gene_sets.items()}
    testable = {n: g for n, g in gene_sets.items() if min_size <= sizes[n] <= max_size}
    if not testable or ranking.empty:
        return pd.DataFrame(columns=ENRICHMENT_COLUMNS)
    core = gseapy_core()
    ordered = gseapy_ordered(ranking)
    if len(ordered) < 2:
        raise ValueError("the ranking needs at least two genes")
    names = ordered.index.to_numpy()
    values = ordered.to_numpy()
    value_list = values.tolist()
    names_upper = mostly_upper_case(names)
    weighted = weighted_statistic(values, weight)
    # the job's threads as given (Snakemake caps them at --cores); gseapy's own cap at the
    # machine's CPUs - 1 is not kept: on 2 cores it made every call single-threaded
    cores = max(1, int(threads))
    permutation_num = max(int(permutations), 0)
    calls = _core_calls(testable, names, names_upper, min_size, max_size, method=method, null=null)
    # Several calls: up to `threads` at once (the core releases the GIL), one core thread each;
    # the core's results do not depend on its thread count (tested).
    workers = min(len(calls), cores)
    call_cores = 1 if workers > 1 else cores

    def run_call(call: tuple[dict[str, list[str]], bool, set[str]]) -> list[tuple]:
        sets, to_upper, keep = call
        core_names = [str(g).upper() for g in names] if to_upper else names.tolist()
        if method == "multilevel":
            result = core.fgsea_rs(
                core_names, value_list, sets, weight, min_size, max_size,
                MULTILEVEL_SAMPLE_SIZE, permutation_num, MULTILEVEL_EPS, call_cores, seed,
            )  # fmt: skip
        else:
            result = core.prerank_rs(
                core_names, value_list, sets, weight, min_size, max_size,
                permutation_num, call_cores, seed,
            )  # fmt: skip
        found = []
        for summary in result.summaries:
            if summary.term not in keep:
                continue
            hits = np.asarray(summary.hits, dtype=np.intp)
            edge = leading_edge(summary.es, running_score(weighted, hits), hits, names)
            found.append((summary.term, summary.es, summary.nes, summary.pval, summary.fdr, edge))
        return found

    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            rows = [row for found in pool.map(run_call, calls) for row in found]
    else:
        rows = [row for call in calls for row in run_call(call)]
    raw = pd.DataFrame(rows, columns=["term", "ES", "NES", "pvalue", "core_fdr", "leading_edge"])
    pvalue = raw["pvalue"].astype(float).to_numpy()
    if method == "multilevel":  # BH over the whole library, not per block
        fdr = np.full(pvalue.size, np.nan)
        tested = ~np.isnan(pvalue)
        fdr[tested] = benjamini_hochberg(pvalue[tested])
    else:
        fdr = raw["core_fdr"].astype(float).to_numpy()
    table = pd.DataFrame(
        {
            "library": library,
            "term": raw["term"].astype(str),
            "ES": raw["ES"].astype(float),
            "NES": raw["NES"].astype(float),
            "pvalue": pvalue,
            "fdr": fdr,
            "size": [sizes[t] for t in raw["term"].astype(str)],
            "leading_edge": raw["leading_edge"].astype(str),
        }
    )
    return table.sort_values("term").reset_index(drop=True)
