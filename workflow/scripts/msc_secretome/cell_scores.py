"""Per-cell values for figures: log-normalised counts, programme scores and a UMAP embedding.

Computed on the cells the figures show (a seeded subsample of at most
``single_cell.embedding_cells`` kept cells,
:func:`msc_secretome.cell_pipeline.embedding_subsample`), never on a dense cells x genes
matrix: normalised values are made chunk by chunk
(:data:`msc_secretome.cell_source.CHUNK_CELLS` cells), or as a copy of the ``data`` array
that shares the index arrays of the counts (:func:`log_normalise`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

from .cell_source import row_chunks
from .errors import InputError
from .single_cell_reading import as_csr

#: Default target of library-size normalisation (counts per 10,000, then log1p).
TARGET_SUM = 1e4


def log_normalise(
    matrix: sparse.spmatrix, *, target_sum: float = TARGET_SUM, dtype=np.float32
) -> sparse.csr_matrix:
    """``log1p(counts / cell total * target_sum)`` as CSR sharing the index arrays of ``matrix``.

    Same values as :func:`scanpy.pp.normalize_total` (``target_sum``) then
    :func:`scanpy.pp.log1p`; only a new ``data`` array is allocated. Cells without counts stay 0.
    """
    matrix = as_csr(matrix)
    totals = np.asarray(matrix.sum(axis=1, dtype=np.float64)).ravel()
    scale = np.divide(target_sum, totals, out=np.zeros_like(totals), where=totals > 0)
    data = matrix.data.astype(np.float64) * np.repeat(scale, np.diff(matrix.indptr))
    np.log1p(data, out=data)
    return sparse.csr_matrix(
        (data.astype(dtype, copy=False), matrix.indices, matrix.indptr), shape=matrix.shape
    )


def _lognorm_chunks(
    matrix: sparse.csr_matrix, target_sum: float, chunk: int | None = None
) -> Iterator[tuple[int, int, sparse.csr_matrix]]:
    for start, stop in row_chunks(matrix.shape[0], chunk):
        yield start, stop, log_normalise(matrix[start:stop], target_sum=target_sum)


def cell_programme_scores(
    adata: ad.AnnData,
    gene_sets: Mapping[str, Sequence[str]],
    *,
    seed: int = 0,
    ctrl_size: int = 50,
    n_bins: int = 25,
    target_sum: float = TARGET_SUM,
) -> pd.DataFrame:
    """Per-cell score of each programme: cells x programmes (index ``obs_names``).

    The score is :func:`scanpy.tl.score_genes` (Seurat's module score) on
    ``log1p(normalize_total(counts, target_sum))``: the mean of the programme's genes minus the
    mean of ``ctrl_size`` control genes drawn from each of the ``n_bins`` expression bins the
    programme's genes fall in (seeded with ``seed`` per programme, as ``score_genes`` with
    ``random_state=seed``). It is computed here in one pass for all programmes -- the same
    algorithm and control genes, equal to ``score_genes`` up to float rounding (tested) -- because
    ``score_genes`` copies the whole matrix twice per programme. The normalised values are made
    chunk by chunk (:data:`CHUNK_CELLS` cells), so memory stays at the counts plus one chunk.
    Programmes with none of their genes in the data get NaN (with a warning). ``X`` must hold
    raw counts.
    """
    matrix = as_csr(adata.X)
    var_names = pd.Index(adata.var_names.astype(str))
    names = list(gene_sets)
    gene_sums = np.zeros(adata.n_vars, dtype=np.float64)
    for _, _, block in _lognorm_chunks(matrix, target_sum):
        gene_sums += np.asarray(block.sum(axis=0, dtype=np.float64)).ravel()
    gene_means = pd.Series(gene_sums / max(adata.n_obs, 1), index=var_names)
    n_items = int(np.round(len(gene_means) / (n_bins - 1)))
    if n_items < 1:
        raise InputError(
            f"{len(gene_means)} genes are too few for {n_bins} expression bins",
            fix="score programmes on data with more genes",
        )
    cut = (gene_means.rank(method="min") // n_items).to_numpy()
    weights = np.zeros((adata.n_vars, len(names)), dtype=np.float64)
    absent = []
    for j, name in enumerate(names):
        genes = pd.Index(list(dict.fromkeys(map(str, gene_sets[name]))))
        present = var_names.get_indexer(genes.intersection(var_names))
        if present.size == 0:
            absent.append(name)
            weights[:, j] = np.nan
            continue
        control = _control_genes(present, cut, ctrl_size, seed)
        if control.size == 0:
            raise ValueError(f"programme {name!r}: no control genes in any expression bin")
        weights[present, j] = 1.0 / present.size
        weights[control, j] = -1.0 / control.size
    if absent:
        warnings.warn(
            f"programme(s) {absent} have no gene in the data; their scores are NaN",
            UserWarning,
            stacklevel=2,
        )
    finite = np.nan_to_num(weights)
    scores = np.empty((adata.n_obs, len(names)), dtype=np.float64)
    for start, stop, block in _lognorm_chunks(matrix, target_sum):
        scores[start:stop] = block.astype(np.float64) @ finite
    scores[:, np.isnan(weights).all(axis=0)] = np.nan
    return pd.DataFrame(scores, index=pd.Index(adata.obs_names, name="cell"), columns=names)


def _control_genes(present: np.ndarray, cut: np.ndarray, ctrl_size: int, seed: int) -> np.ndarray:
    """Control genes as in scanpy's ``score_genes`` (``ctrl_as_ref=True``), same random draws.

    ``score_genes`` seeds NumPy's global generator with ``random_state`` and, for each bin the
    programme's genes fall in (sorted), draws ``ctrl_size`` genes of the bin with
    ``Series.sample`` (= ``RandomState.choice(n, ctrl_size, replace=False)``), then removes the
    programme's genes. A local ``RandomState(seed)`` gives the same draws without touching the
    global state.
    """
    random = np.random.RandomState(seed)
    chosen: list[np.ndarray] = []
    for value in np.unique(cut[present]):
        members = np.flatnonzero(cut == value)
        if ctrl_size < members.size:
            members = members[random.choice(members.size, ctrl_size, replace=False)]
        chosen.append(members)
    if not chosen:
        return np.array([], dtype=np.int64)
    return np.setdiff1d(np.unique(np.concatenate(chosen)), present)


def embed(
    adata: ad.AnnData,
    *,
    seed: int = 0,
    n_top_genes: int = 2000,
    n_pcs: int = 30,
    n_neighbors: int = 15,
    target_sum: float = TARGET_SUM,
) -> pd.DataFrame:
    """UMAP coordinates (cells x ``UMAP1``, ``UMAP2``) for figures; deterministic for ``seed``.

    Scanpy's standard recipe on a copy: ``log1p(normalize_total)`` (:func:`log_normalise`),
    ``highly_variable_genes`` (flavour ``seurat``, ``n_top_genes``), per-gene scaling to unit
    variance without centring (keeps the matrix sparse; PCA centres implicitly, so this equals
    z-scoring), ``pca`` (``n_pcs``), exact ``neighbors`` (``n_neighbors``, brute force) and
    ``umap``, all seeded.
    ``X`` must hold raw counts.
    """
    import scanpy as sc

    if adata.n_obs < 3:
        raise InputError(f"{adata.n_obs} cells are too few for an embedding")
    work = ad.AnnData(
        X=log_normalise(adata.X, target_sum=target_sum),
        obs=pd.DataFrame(index=adata.obs_names),
        var=pd.DataFrame(index=adata.var_names),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)
        sc.pp.highly_variable_genes(
            work, n_top_genes=min(n_top_genes, work.n_vars), flavor="seurat"
        )
        work = work[:, work.var["highly_variable"].to_numpy()].copy()
        sc.pp.scale(work, zero_center=False)
        n_comps = max(2, min(n_pcs, work.n_obs - 1, work.n_vars - 1))
        sc.pp.pca(work, n_comps=n_comps, random_state=seed)
        # Exact (brute-force) neighbours: deterministic, and the default approximate path
        # (pynndescent, > 4096 cells) breaks with scipy 1.17 (csr_array has no getnnz).
        sc.pp.neighbors(
            work,
            n_neighbors=min(n_neighbors, work.n_obs - 1),
            random_state=seed,
            transformer="sklearn",
        )
        sc.tl.umap(work, random_state=seed)
    return pd.DataFrame(
        np.asarray(work.obsm["X_umap"], dtype=np.float64),
        index=pd.Index(adata.obs_names, name="cell"),
        columns=["UMAP1", "UMAP2"],
    )
