"""Gene-set enrichment with gseapy: GSEA prerank on the DE statistic."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

ENRICHMENT_COLUMNS = ["library", "term", "ES", "NES", "pvalue", "fdr", "size", "leading_edge"]


def gene_ranking(de_table: pd.DataFrame, statistic: str = "stat") -> pd.Series:
    """Ranking of gene symbols by a DE statistic, highest first.

    Genes without a symbol or a finite statistic are dropped; where several genes share a
    symbol, the one with the largest absolute statistic is kept. Ties are ordered by symbol so
    the ranking is deterministic.
    """
    table = de_table.loc[:, ["symbol", statistic]].copy()
    table = table[(table["symbol"].astype(str) != "") & np.isfinite(table[statistic])]
    table["_abs"] = table[statistic].abs()
    table = table.sort_values(["_abs", "symbol"], ascending=[False, True])
    table = table.drop_duplicates("symbol", keep="first")
    table = table.sort_values([statistic, "symbol"], ascending=[False, True])
    return pd.Series(table[statistic].to_numpy(), index=table["symbol"].astype(str).to_numpy())


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
    threads: int = 1,
) -> pd.DataFrame:
    """GSEA prerank of one library; the table of the output contract (one row per set tested)."""
    import gseapy

    ranked_genes = set(ranking.index)
    sizes = {name: len(ranked_genes.intersection(genes)) for name, genes in gene_sets.items()}
    testable = {n: g for n, g in gene_sets.items() if min_size <= sizes[n] <= max_size}
    if not testable or ranking.empty:
        return pd.DataFrame(columns=ENRICHMENT_COLUMNS)
    logging.getLogger("gseapy").setLevel(logging.WARNING)
    result = gseapy.prerank(
        rnk=ranking,
        gene_sets=testable,
        permutation_num=permutations,
        seed=seed,
        min_size=min_size,
        max_size=max_size,
        weight=weight,
        threads=threads,
        outdir=None,
        no_plot=True,
        verbose=False,
    )
    raw = result.res2d
    table = pd.DataFrame(
        {
            "library": library,
            "term": raw["Term"].astype(str),
            "ES": raw["ES"].astype(float),
            "NES": raw["NES"].astype(float),
            "pvalue": raw["NOM p-val"].astype(float),
            "fdr": raw["FDR q-val"].astype(float),
            "size": [sizes[t] for t in raw["Term"].astype(str)],
            "leading_edge": raw["Lead_genes"].astype(str),
        }
    )
    return table.sort_values("term").reset_index(drop=True)
