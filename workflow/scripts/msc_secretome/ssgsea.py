"""Single-sample GSEA through gseapy's compiled core, without its Python package.

:func:`ssgsea_scores` gives the same scores, bit for bit, as ``gseapy.ssgsea`` with the
arguments :func:`enrichment.sample_scores` uses (ranks within each sample scaled to 10,000,
rank correlation, weight 0.25, no permutations): it prepares exactly the arguments gseapy's
``SingleSampleGSEA.run`` hands to its Rust core (``gseapy.gse.ssgsea_rs``) - the same
normalisation, the same upper-case decision, the same gene-set filter - and reads the core's
enrichment scores. What it leaves out is importing ``gseapy`` (about 1 s: matplotlib,
scipy.stats, requests), which the per-sample scores job otherwise spends on every run.

Inputs gseapy would treat specially are handed to ``gseapy.ssgsea`` itself, so the result is
always gseapy's: gene names that are all numbers (gseapy then does not take the index as the
gene names), missing or infinite values (filled or clipped by gseapy). Identical only while
gseapy is the pinned 1.3.1 (``tests/test_prerank_core.py`` checks both paths).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .prerank import gseapy_core, mostly_upper_case

#: gseapy.ssgsea's defaults that sample_scores keeps
WEIGHT = 0.25
RANK_SCALE = 10000
#: values handed to the compiled core per call (samples are scored in chunks of this size)
VALUES_PER_CALL = 2**22


def _needs_gseapy(expression: pd.DataFrame) -> bool:
    """Inputs whose handling gseapy changes (numeric gene names, missing or infinite values)."""
    try:
        pd.to_numeric(expression.index)
    except (TypeError, ValueError):
        names_are_genes = True
    else:
        names_are_genes = False
    values = expression.to_numpy(dtype=float)
    return not names_are_genes or not np.isfinite(values).all()


def ssgsea_scores(
    expression: pd.DataFrame,
    gene_sets: Mapping[str, Sequence[str]],
    *,
    min_size: int,
    max_size: int,
    seed: int,
) -> pd.DataFrame:
    """ssGSEA enrichment scores (gseapy's ``ES``): a samples x sets table.

    Parameters
    ----------
    expression : genes x samples values (index = unique gene names, columns = sample names as
        strings), as ``gseapy.ssgsea`` takes them.
    gene_sets : set name -> genes.
    min_size, max_size, seed : as ``gseapy.ssgsea``.

    Returns
    -------
    pd.DataFrame (samples, sets scored): rows in the order of ``expression``'s columns, columns
    in the order of ``gene_sets`` (sets gseapy's size filter drops are absent).
    """
    if _needs_gseapy(expression):
        return _ssgsea_by_gseapy(expression, gene_sets, min_size, max_size, seed)
    genes = expression.index.to_numpy()
    # norm_samples("rank"): ranks within each sample, scaled to RANK_SCALE
    ranks = expression.rank(axis=0, method="average", na_option="bottom")
    normalised = RANK_SCALE * ranks / ranks.shape[0]
    genes_upper = mostly_upper_case(genes)
    names = list(gene_sets)
    sets_upper = all(mostly_upper_case(gene_sets[s]) for s in names[: min(20, len(names))])
    to_upper = not genes_upper and sets_upper
    lookup = {str(g).upper() for g in genes} if to_upper else set(genes)
    filtered = {}
    for name in names:
        # gseapy's load_gmt iterates the set of a gene set's genes, in that order
        overlap = [g for g in set(gene_sets[name]) if g in lookup]
        if min_size <= len(overlap) <= max_size and len(overlap) < len(genes):
            filtered[name] = overlap
    gene_names = [str(g).upper() for g in genes] if to_upper else genes.tolist()
    core = gseapy_core()
    values = normalised.to_numpy()
    es: dict[str, dict[int, float]] = {}
    # a sample's score depends on its own ranks only: the core (which takes Python lists, ~40
    # bytes a value) gets the samples a chunk at a time, so memory stays bounded
    chunk = max(1, VALUES_PER_CALL // max(1, len(genes)))
    for start in range(0, values.shape[1], chunk):
        result = core.ssgsea_rs(
            gene_names,
            values[:, start : start + chunk].tolist(),
            filtered,
            WEIGHT,
            min_size,
            max_size,
            0,
            core.CorrelType.Rank,
            1,
            seed,
        )
        for summary in result.summaries:
            es.setdefault(summary.term, {})[start + int(summary.index)] = float(summary.es)
    samples = [str(c) for c in expression.columns]
    columns = {
        term: [values.get(i, np.nan) for i in range(len(samples))] for term, values in es.items()
    }
    return pd.DataFrame(columns, index=samples, columns=[t for t in gene_sets if t in es])


def _ssgsea_by_gseapy(expression, gene_sets, min_size, max_size, seed) -> pd.DataFrame:
    import logging

    import gseapy

    logging.getLogger("gseapy").setLevel(logging.WARNING)
    result = gseapy.ssgsea(
        data=expression,
        gene_sets={term: list(genes) for term, genes in gene_sets.items()},
        outdir=None,
        min_size=min_size,
        max_size=max_size,
        permutation_num=0,
        threads=1,
        seed=seed,
        no_plot=True,
        verbose=False,
    )
    wide = result.res2d.pivot(index="Name", columns="Term", values="ES").astype(float)
    wide.index = wide.index.astype(str)
    wide.columns = wide.columns.astype(str)
    samples = [str(c) for c in expression.columns]
    out = wide.reindex(index=samples, columns=[t for t in gene_sets if t in wide.columns])
    out.columns.name = None
    out.index.name = None
    return out
