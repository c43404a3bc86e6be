"""Gene-set enrichment: GSEA prerank (gseapy), exact enrichment scores, ORA and sample scores.

* :func:`gene_ranking`: the DE statistic as a ranking of gene symbols; :func:`run_prerank`
  (from :mod:`.prerank`): GSEA prerank of it with gseapy's compiled core.
* :func:`enrichment_score`: the weighted Kolmogorov-Smirnov running sum of GSEA
  (Subramanian 2005) computed exactly as fgsea's ``calcGseaStat`` and the Broad GSEA desktop
  define it; used to check gseapy and to draw running-score plots.
* :func:`run_ora`: over-representation (one-sided hypergeometric = Fisher's exact test) of up-
  and down-regulated genes against the tested genes as background.
* :func:`sample_scores`: per-sample gene-set scores (ssGSEA via gseapy, or mean z-score).
* :func:`group_overlapping`: groups of terms whose leading edges overlap (Jaccard, single
  linkage), to report redundant terms together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from .prerank import ENRICHMENT_COLUMNS, SETS_PER_CALL, run_prerank
from .wald import benjamini_hochberg

__all__ = [
    "ENRICHMENT_COLUMNS",
    "ORA_COLUMNS",
    "SETS_PER_CALL",
    "enrichment_score",
    "gene_ranking",
    "group_overlapping",
    "hypergeom_tail",
    "run_ora",
    "run_prerank",
    "sample_scores",
]


def gene_ranking(de_table: pd.DataFrame, statistic: str = "stat") -> pd.Series:
    """Ranking of gene symbols by a DE statistic, highest first.

    Genes without a symbol or a finite statistic are dropped; where several genes share a
    symbol, the one with the largest absolute statistic is kept. Ties are ordered by symbol so
    the ranking is deterministic.
    """
    symbol = de_table["symbol"]
    values = de_table[statistic].to_numpy(dtype=float)
    keep = (symbol.notna() & (symbol.astype(str) != "")).to_numpy() & np.isfinite(values)
    names = symbol.astype(str).to_numpy()[keep]
    values = values[keep]
    by_strength = _descending_then_by_name(np.abs(values), names)
    kept = by_strength[~pd.Index(names[by_strength]).duplicated()]
    order = kept[_descending_then_by_name(values[kept], names[kept])]
    return pd.Series(values[order], index=names[order])


def _descending_then_by_name(values: np.ndarray, names: np.ndarray) -> np.ndarray:
    """Order of (n,) ``values`` highest first, equal values by ``names`` (as pandas sorts
    strings), equal both in input order: a numeric stable sort, then names sorted only
    within runs of equal values (few genes tie, so few strings are compared)."""
    order = np.argsort(-values, kind="stable")
    sorted_values = values[order]
    same_as_next = sorted_values[1:] == sorted_values[:-1]
    if not same_as_next.any():
        return order
    tied = np.zeros(len(order), dtype=bool)
    tied[1:] |= same_as_next
    tied[:-1] |= same_as_next
    run = np.cumsum(np.concatenate([[True], ~same_as_next]))
    positions = np.flatnonzero(tied)
    name_rank = np.unique(names[order[positions]], return_inverse=True)[1]
    order[positions] = order[positions[np.lexsort((name_rank, run[positions]))]]
    return order


# --------------------------------------------------------------------------------------------
# Exact enrichment score (weighted Kolmogorov-Smirnov running sum)
# --------------------------------------------------------------------------------------------


def enrichment_score(
    ranking: pd.Series, gene_set: Iterable[str], weight: float = 1.0
) -> tuple[float, np.ndarray, np.ndarray]:
    """GSEA enrichment score of one gene set on a ranked list: ``(es, running_sum, hit_indices)``.

    ``ranking``: statistic per gene (index = gene), in ranked order, highest first (as
    :func:`gene_ranking` returns it). The order given is used as is; it is not re-sorted, so ties
    keep the caller's order. Genes of ``gene_set`` missing from the ranking are ignored and
    duplicates count once.

    With N genes, the m hits H (0-based positions, ``hit_indices``), ``w_i = |r_i| ** weight``
    and ``NR = sum(w_i for i in H)``, the running sum after position ``i`` is::

        running_sum[i] = sum(w_j for j in H, j <= i) / NR - #{j not in H, j <= i} / (N - m)

    (when ``NR == 0`` every hit weighs ``1 / m``, as in fgsea). ``es`` is the deviation from zero
    of largest magnitude: the maximum, the minimum, or 0 when both have the same magnitude
    (fgsea's rule). It is computed as fgsea's ``calcGseaStat`` computes it (the peaks are the
    running sum at the hits, the troughs the running sum just before them), so the result agrees
    with fgsea to rounding. ``weight = 0`` is the classic unweighted KS statistic.

    Raises ``ValueError`` when a gene is ranked twice, or when no gene of the set is in the
    ranking or all genes are in it (the statistic is undefined).
    """
    genes = pd.Index(ranking.index)
    if genes.has_duplicates:
        raise ValueError(f"the ranking lists a gene twice, e.g. {genes[genes.duplicated()][0]!r}")
    stats = np.asarray(ranking.to_numpy(), dtype=float)
    n = len(stats)
    members = pd.Index(pd.unique(pd.Index(list(gene_set), dtype=object)))
    is_hit = genes.isin(members)
    hit_indices = np.flatnonzero(is_hit)
    m = len(hit_indices)
    if m == 0:
        raise ValueError("no gene of the set is in the ranking: the enrichment score is undefined")
    if m == n:
        raise ValueError("every ranked gene is in the set: the enrichment score is undefined")
    hit_weights = np.abs(stats[hit_indices]) ** weight
    total = hit_weights.sum()
    if total == 0:
        hit_weights = np.ones(m)
        total = float(m)
    # fgsea: tops = cumsum(rAdj) / NR - (S - seq_along(S)) / (N - m); bottoms = tops - rAdj / NR
    misses_before = hit_indices - np.arange(m)
    tops = np.cumsum(hit_weights) / total - misses_before / (n - m)
    bottoms = tops - hit_weights / total
    max_p, min_p = tops.max(), bottoms.min()
    if max_p == -min_p:
        es = 0.0
    else:
        es = float(max_p if max_p > -min_p else min_p)
    increments = np.zeros(n)
    increments[hit_indices] = hit_weights
    running_sum = np.cumsum(increments) / total - np.cumsum(~is_hit) / (n - m)
    return es, running_sum, hit_indices


# --------------------------------------------------------------------------------------------
# Over-representation analysis
# --------------------------------------------------------------------------------------------

ORA_COLUMNS = [
    "library",
    "term",
    "direction",
    "overlap",
    "size",
    "background",
    "pvalue",
    "fdr",
    "genes",
]


def hypergeom_tail(
    overlap: np.ndarray, background: int, sizes: np.ndarray, drawn: int
) -> np.ndarray:
    """One-sided hypergeometric tail ``P(X >= overlap)``, shape (sets,): ``scipy.stats.hypergeom
    .sf(overlap - 1, background, sizes, drawn)`` value for value, without importing
    ``scipy.stats`` (about 1 s, most of an ORA job): the same special function
    (``scipy.special._ufuncs._hypergeom_sf``) with ``sf``'s rules at the support's ends
    (1 below it, 0 from its top on).
    """
    try:
        from scipy.special._ufuncs import _hypergeom_sf
    except ImportError:  # another scipy: the public route
        from scipy.stats import hypergeom

        return hypergeom.sf(np.asarray(overlap) - 1, background, sizes, drawn).astype(float)
    k = np.asarray(overlap, dtype=np.int64) - 1
    sizes = np.asarray(sizes, dtype=np.int64)
    low = np.maximum(drawn - (background - sizes), 0)
    high = np.minimum(sizes, drawn)
    inside = (k >= low) & (k < high)
    out = np.where(k < low, 1.0, 0.0)
    tail = _hypergeom_sf(k[inside], sizes[inside], drawn, background)
    out[inside] = np.clip(tail, 0, 1)
    return out


def run_ora(
    de_table: pd.DataFrame,
    gene_sets: Mapping[str, Iterable[str]],
    *,
    library: str,
    alpha: float = 0.05,
    min_size: int = 10,
    max_size: int = 500,
    lfc_threshold: float = 0.0,
) -> pd.DataFrame:
    """Over-representation of up- and of down-regulated genes in each gene set of one library.

    ``de_table`` needs the columns ``symbol``, ``log2FoldChange`` and ``padj``. The background
    is the tested genes: rows with a finite ``padj`` and a non-empty symbol (a symbol carried by
    several rows counts once; its row with the smallest ``padj`` decides its direction). A gene is
    *up* when ``padj < alpha`` and ``log2FoldChange > lfc_threshold``, *down* when
    ``padj < alpha`` and ``log2FoldChange < -lfc_threshold``. Sets are restricted to the
    background; those with ``min_size <= size <= max_size`` are tested, each in both directions.

    p-value: one-sided hypergeometric tail ``P(X >= overlap)`` for drawing the ``n_de`` genes of a
    direction from ``background`` genes of which ``size`` are in the set (identical to Fisher's
    exact test, alternative "greater"). ``fdr``: Benjamini-Hochberg within the library and
    direction. ``genes``: the overlapping genes, sorted, ``;``-separated.

    Returns one row per (set, direction) with the columns ``ORA_COLUMNS``, sorted by direction
    (up first), p-value and term.
    """
    missing = [c for c in ("symbol", "log2FoldChange", "padj") if c not in de_table.columns]
    if missing:
        raise ValueError(f"the DE table lacks column(s) {missing}")
    table = de_table.loc[:, ["symbol", "log2FoldChange", "padj"]].copy()
    table["symbol"] = table["symbol"].fillna("").astype(str).str.strip()
    table["padj"] = pd.to_numeric(table["padj"], errors="coerce")
    table["log2FoldChange"] = pd.to_numeric(table["log2FoldChange"], errors="coerce")
    table = table[(table["symbol"] != "") & np.isfinite(table["padj"])]
    table = table.sort_values(["padj", "symbol"], kind="stable").drop_duplicates("symbol")
    background = set(table["symbol"])
    significant = table["padj"] < alpha
    lfc = table["log2FoldChange"]
    queries = {
        "up": set(table["symbol"][significant & (lfc > lfc_threshold)]),
        "down": set(table["symbol"][significant & (lfc < -lfc_threshold)]),
    }
    tested = {}
    for term, genes in gene_sets.items():
        members = background.intersection(genes)
        if min_size <= len(members) <= max_size:
            tested[str(term)] = members
    frames = []
    n_background = len(background)
    terms = list(tested)
    sizes = np.array([len(tested[t]) for t in terms], dtype=np.int64)
    for direction, query in queries.items():
        if not terms:
            continue
        hits = [sorted(query & tested[t]) for t in terms]
        overlap = np.array([len(h) for h in hits], dtype=np.int64)
        # one vectorised call: the same elementwise tail as one call per set
        pvalue = hypergeom_tail(overlap, n_background, sizes, len(query))
        frame = pd.DataFrame(
            {
                "library": library,
                "term": terms,
                "direction": direction,
                "overlap": overlap,
                "size": sizes,
                "background": n_background,
                "pvalue": np.clip(pvalue, 0.0, 1.0),
                "genes": [";".join(h) for h in hits],
            }
        )
        frame["fdr"] = benjamini_hochberg(frame["pvalue"].to_numpy())
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=ORA_COLUMNS)
    result = pd.concat(frames, ignore_index=True).loc[:, ORA_COLUMNS]
    result["_order"] = result["direction"].map({"up": 0, "down": 1})
    result = result.sort_values(["_order", "pvalue", "term"], kind="stable")
    return result.drop(columns="_order").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Per-sample gene-set scores
# --------------------------------------------------------------------------------------------


def sample_scores(
    expression: pd.DataFrame,
    gene_sets: Mapping[str, Iterable[str]],
    *,
    method: str = "ssgsea",
    seed: int = 0,
    min_size: int = 5,
    max_size: int = 500,
) -> pd.DataFrame:
    """Per-sample scores of gene sets: a samples x sets table.

    ``expression``: samples x genes (e.g. VST values), gene symbols as columns. Only sets with
    ``min_size <= |set & genes| <= max_size`` are scored; columns follow the order of
    ``gene_sets``, rows the order of ``expression``.

    * ``method="ssgsea"``: single-sample GSEA (Barbie 2009) as ``gseapy.ssgsea`` computes it
      with its defaults (genes ranked within each sample, weight 0.25, no permutations; run on
      gseapy's compiled core by :func:`ssgsea.ssgsea_scores`, bit-identical); the score is
      ssGSEA's raw enrichment score (gseapy's ``ES``), which does not depend on the other sets
      or samples scored. Deterministic (``seed`` is passed on).
    * ``method="mean_z"``: each gene is z-scored across samples (mean 0, SD 1 with ``ddof=1``;
      constant genes score 0) and a set's score is the mean z of its genes. Fast; needs at least
      two samples.
    """
    if expression.columns.duplicated().any():
        dup = list(expression.columns[expression.columns.duplicated()][:3])
        raise ValueError(f"duplicated gene columns in the expression table, e.g. {dup}")
    genes = pd.Index(expression.columns.astype(str))
    members = {}
    for term, set_genes in gene_sets.items():
        present = list(genes.intersection(pd.Index(list(dict.fromkeys(set_genes)))))
        if min_size <= len(present) <= max_size:
            members[str(term)] = present
    samples = pd.Index(expression.index.astype(str), name=expression.index.name or "sample")
    if not members:
        return pd.DataFrame(index=samples, columns=pd.Index([], dtype=object), dtype=float)
    values = expression.copy()
    values.columns = genes
    values.index = samples
    if method == "mean_z":
        if len(values) < 2:
            raise ValueError("mean_z needs at least two samples")
        sd = values.std(axis=0, ddof=1)
        z = (values - values.mean(axis=0)) / sd.where(sd > 0)
        z = z.fillna(0.0)
        scores = {term: z[present].mean(axis=1) for term, present in members.items()}
        return pd.DataFrame(scores, index=samples).astype(float)
    if method != "ssgsea":
        raise ValueError(f"method must be 'ssgsea' or 'mean_z', not {method!r}")
    from .ssgsea import ssgsea_scores

    wide = ssgsea_scores(
        values.T,
        {term: list(present) for term, present in members.items()},
        min_size=min_size,
        max_size=max_size,
        seed=seed,
    )
    order = [t for t in members if t in wide.columns]
    out = wide.reindex(index=samples, columns=order)
    out.columns.name = None
    return out


# --------------------------------------------------------------------------------------------
# Redundant terms
# --------------------------------------------------------------------------------------------


def group_overlapping(
    leading_edges: Mapping[str, Iterable[str]], min_jaccard: float = 0.5
) -> dict[str, str]:
    """Group terms whose leading-edge genes overlap: term -> group label.

    Two terms are linked when the Jaccard index of their leading-edge gene sets is at least
    ``min_jaccard`` (two empty sets are not linked); groups are the connected components
    (single linkage). A group's label is its first term in sorted order, so labels do not depend
    on the input order. Every term gets a label (a term alone labels itself).
    """
    terms = sorted(leading_edges)
    sets = {t: frozenset(leading_edges[t]) for t in terms}
    parent = {t: t for t in terms}

    def find(t: str) -> str:
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    for i, a in enumerate(terms):
        for b in terms[i + 1 :]:
            union = len(sets[a] | sets[b])
            if union and len(sets[a] & sets[b]) / union >= min_jaccard:
                root_a, root_b = find(a), find(b)
                if root_a != root_b:
                    # the sorted-first term stays the root, so it is the group's label
                    parent[max(root_a, root_b)] = min(root_a, root_b)
    return {t: find(t) for t in terms}
