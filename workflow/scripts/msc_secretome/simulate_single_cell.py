"""Seeded simulator of a single-cell co-culture experiment with a planted secretome effect.

Design: ``medium`` {control, msc_cm} x ``therapy`` {none, chemo, radiation} x ``n_replicates``
(3); replicate ``r`` is processed in batch ``b{r}``: 18 samples named e.g. ``cm_chemo_r1``. Each
*sample* is a co-culture holding cells of every cell type (default cancer, normal, fibroblast;
each cell's type drawn with equal probability), so the sample sheet has no ``cell_type`` column:
the cell type is a property of each cell (``obs["cell_type"]``).

Genes: the catalogue genes (sorted), then 13 mitochondrial genes (``MT-ND1`` ...), then synthetic
``SYN00001`` ... up to ``n_genes``.

Model, per gene g and cell i of type k in sample s (log2 scale)::

    mu[g, k, s] = base[g] + type[g, k] + batch[g, batch(s)] + replicate[g, k, s]
                  + [k == planted_cell_type and medium(s) == msc_cm] * planted[g]
    mean[i, g]  = size_factor[i] * 2 ** mu[g, k, s]      (mitochondrial genes: see below)
    count[i, g] ~ NegativeBinomial(mean[i, g], alpha[g])   (gamma-Poisson mixture)

* ``base``: catalogue genes log2 ~ U(log2 0.3, log2 4) (detectable: tens to hundreds of counts
  per pseudo-sample); synthetic genes 35% "off" (N(-7, 1.5)) and 65% expressed (N(-2.5, 2),
  capped at log2 60). About 90% of the cell x gene entries are zero.
* ``type``: each cell type shifts a random 20% of genes by N(0, 0.7) and raises 2% of the
  synthetic genes (its markers) by U(2, 4), so types separate in an embedding.
* ``batch``: b1 = 0, other batches N(0, 0.15) per gene; ``replicate``: N(0, 0.15) per gene,
  cell type and sample -- the biological replicate variation pseudobulk DE has to beat.
* ``planted``: msc_cm raises :data:`PLANTED_PROGRAMMES` (TRAIL death-receptor and intrinsic
  mitochondrial apoptosis) in the planted cell type only, under every therapy: each programme
  gene moves with probability 0.8 by U(0.6, 1.5) (a gene in both programmes keeps the larger).
  Nothing else changes: no therapy effect, no effect in other cell types. ``var["planted_log2fc"]``
  holds the planted log2 fold change per gene.
* ``size_factor`` ~ lognormal(0, 0.4); 3% of cells are low-quality (size factor x 0.05) and 3%
  damaged (mitochondrial fraction U(0.3, 0.6) instead of U(0.02, 0.08)), for QC to remove.
  Mitochondrial genes share the cell's mitochondrial fraction of its expected total.
* ``alpha[g]`` ~ lognormal(log 0.3, 0.5): cell-to-cell overdispersion.

Truth (``truth_programmes``): contrast, programme, planted_direction (-1/0/1) for every cell type
and catalogue programme, for the pseudobulk contrasts named as in the bulk example:
``{cell_type}_cm_vs_ctrl_{t}`` (t in none, chemo, radiation), ``{cell_type}_cm_x_{t}`` and
``{cell_type}_{t}_vs_none`` (t in chemo, radiation). Only ``{planted}_cm_vs_ctrl_*`` is 1, for
the planted programmes; everything else is 0.

Counts are drawn in chunks of cells and stored as float32 CSR, so memory grows with the non-zero
entries only (100,000 cells x 20,000 genes fit in a few GB). All randomness comes from one
``numpy.random.Generator(seed)``: the same arguments give identical output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

from .errors import InputError
from .simulate import DEFAULT_SEED, MEDIA, MEDIUM_TAG, THERAPIES, TREATED, gene_universe

CELL_TYPES = ("cancer", "normal", "fibroblast")
PLANTED_PROGRAMMES = ("CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS", "CYT_INTRINSIC_MITOCHONDRIAL_APOPTOSIS")
MITO_GENES = (
    "MT-ND1",
    "MT-ND2",
    "MT-CO1",
    "MT-CO2",
    "MT-ATP8",
    "MT-ATP6",
    "MT-CO3",
    "MT-ND3",
    "MT-ND4L",
    "MT-ND4",
    "MT-ND5",
    "MT-ND6",
    "MT-CYB",
)
SAMPLE_COLUMNS = ("sample", "medium", "therapy", "batch")
MOVE_PROBABILITY = 0.8
EFFECT_RANGE = (0.6, 1.5)
#: Cell x gene entries drawn at once (bounds the temporary dense block).
CHUNK_ENTRIES = 4_000_000


class SimulatedSingleCell(NamedTuple):
    """Cells (AnnData, sparse counts, obs ``sample`` and ``cell_type``), sheet and truth."""

    adata: ad.AnnData
    samples: pd.DataFrame
    truth_programmes: pd.DataFrame


def single_cell_samples(n_replicates: int = 3) -> pd.DataFrame:
    """Sample sheet: ``sample, medium, therapy, batch``; replicate r is batch b{r}."""
    if n_replicates < 1:
        raise InputError(f"n_replicates is {n_replicates}; it must be at least 1")
    rows = [
        (f"{MEDIUM_TAG[m]}_{t}_r{r}", m, t, f"b{r}")
        for m in MEDIA
        for t in THERAPIES
        for r in range(1, n_replicates + 1)
    ]
    return pd.DataFrame(rows, columns=list(SAMPLE_COLUMNS))


def single_cell_contrasts(cell_types: Sequence[str] = CELL_TYPES) -> list[str]:
    """Names of the pseudobulk contrasts the truth table covers, per cell type."""
    names = []
    for c in cell_types:
        names += [f"{c}_cm_vs_ctrl_{t}" for t in THERAPIES]
        names += [f"{c}_cm_x_{t}" for t in TREATED]
        names += [f"{c}_{t}_vs_none" for t in TREATED]
    return names


def _truth_programmes(
    programmes: Sequence[str], cell_types: Sequence[str], planted_cell_type: str
) -> pd.DataFrame:
    rows = []
    for contrast in single_cell_contrasts(cell_types):
        planted = contrast.startswith(f"{planted_cell_type}_cm_vs_ctrl_")
        for programme in programmes:
            rows.append((contrast, programme, int(planted and programme in PLANTED_PROGRAMMES)))
    table = pd.DataFrame(rows, columns=["contrast", "programme", "planted_direction"])
    table["planted_direction"] = table["planted_direction"].astype(np.int64)
    return table.sort_values(["contrast", "programme"], ignore_index=True)


def simulate_single_cell_experiment(
    catalogue: pd.DataFrame,
    *,
    n_cells_per_sample: int = 300,
    n_genes: int = 4000,
    cell_types: Sequence[str] = CELL_TYPES,
    seed: int = DEFAULT_SEED,
    planted_cell_type: str = "cancer",
    n_replicates: int = 3,
    replicate_sd: float = 0.15,
    batch_sd: float = 0.15,
    low_quality_fraction: float = 0.03,
    damaged_fraction: float = 0.03,
) -> SimulatedSingleCell:
    """Simulate the co-culture experiment from ``catalogue`` (see the module docstring).

    Returns ``(adata, samples, truth_programmes)``: ``adata`` is cells x genes with float32 CSR
    integer counts in ``X``, obs ``sample`` and ``cell_type`` (categoricals, sheet and
    ``cell_types`` order), var ``planted_log2fc``; ``samples`` the sheet (no cell-type column);
    ``truth_programmes`` the planted direction per pseudobulk contrast and programme.
    """
    cell_types = tuple(cell_types)
    if planted_cell_type not in cell_types:
        raise InputError(
            f"planted_cell_type {planted_cell_type!r} is not one of the cell types {cell_types}"
        )
    if len(set(cell_types)) != len(cell_types) or not cell_types:
        raise InputError(f"cell_types {cell_types} must be distinct and not empty")
    if n_cells_per_sample < 1:
        raise InputError(f"n_cells_per_sample is {n_cells_per_sample}; it must be at least 1")
    missing = [p for p in PLANTED_PROGRAMMES if p not in set(catalogue["programme"])]
    if missing:
        raise InputError(f"the catalogue lacks the planted programme(s) {missing}")
    rng = np.random.default_rng(seed)
    genes, n_programme = gene_universe(catalogue, n_genes - len(MITO_GENES))
    clash = set(genes[:n_programme]) & set(MITO_GENES)
    if clash:
        raise InputError(f"catalogue genes {sorted(clash)} clash with the mitochondrial genes")
    genes = genes[:n_programme] + list(MITO_GENES) + genes[n_programme:]
    n = len(genes)
    is_mito = np.zeros(n, dtype=bool)
    is_mito[n_programme : n_programme + len(MITO_GENES)] = True
    synthetic = np.arange(n_programme + len(MITO_GENES), n)
    position = {g: i for i, g in enumerate(genes)}

    # Per-gene profile of each cell type (log2 expected count at size factor 1).
    base = np.full(n, -np.inf)
    base[:n_programme] = rng.uniform(np.log2(0.15), np.log2(2.0), n_programme)
    off = rng.random(synthetic.size) < 0.4
    base[synthetic] = np.where(
        off,
        rng.normal(-7.0, 1.5, synthetic.size),
        np.minimum(rng.normal(-4.5, 2.0, synthetic.size), np.log2(60.0)),
    )
    n_types = len(cell_types)
    profile = np.tile(base, (n_types, 1))
    for k in range(n_types):
        moved = rng.random(n) < 0.2
        profile[k] += np.where(moved & ~is_mito, rng.normal(0.0, 0.7, n), 0.0)
        markers = rng.choice(synthetic, max(1, synthetic.size // 50), replace=False)
        profile[k, markers] += rng.uniform(2.0, 4.0, markers.size)

    planted = np.zeros(n)
    low, high = EFFECT_RANGE
    for programme in PLANTED_PROGRAMMES:
        row = catalogue.loc[catalogue["programme"] == programme].iloc[0]
        index = np.array([position[g] for g in row["genes"]], dtype=np.int64)
        move = rng.random(index.size) < MOVE_PROBABILITY
        size = rng.uniform(low, high, index.size)
        index, size = index[move], size[move]
        planted[index] = np.maximum(planted[index], size)

    samples = single_cell_samples(n_replicates)
    n_samples = len(samples)
    batch_index = samples["batch"].str[1:].astype(int).to_numpy() - 1
    batch = np.zeros((n_replicates, n))
    batch[1:] = rng.normal(0.0, batch_sd, (n_replicates - 1, n))
    replicate = rng.normal(0.0, replicate_sd, (n_samples, n_types, n))
    exposed = (samples["medium"] == "msc_cm").to_numpy()
    planted_k = cell_types.index(planted_cell_type)
    # log2 mean per (sample, cell type) group, mitochondrial genes set per cell below.
    group_log2 = profile[None, :, :] + batch[batch_index][:, None, :] + replicate
    group_log2[exposed, planted_k, :] += planted
    group_mean = np.exp2(group_log2).reshape(n_samples * n_types, n)
    group_mean[:, is_mito] = 0.0
    nonmito_total = group_mean.sum(axis=1)
    mito_weights = rng.dirichlet(np.full(len(MITO_GENES), 5.0))
    alpha = np.exp(rng.normal(np.log(0.3), 0.5, n))

    # Cells: sample, type, size factor, mitochondrial fraction.
    n_cells = n_samples * n_cells_per_sample
    cell_sample = np.repeat(np.arange(n_samples), n_cells_per_sample)
    cell_type = rng.integers(0, n_types, n_cells)
    size_factor = rng.lognormal(0.0, 0.4, n_cells)
    quality = rng.random(n_cells)
    size_factor[quality < low_quality_fraction] *= 0.05
    damaged = (quality >= low_quality_fraction) & (
        quality < low_quality_fraction + damaged_fraction
    )
    mito_fraction = np.where(
        damaged, rng.uniform(0.3, 0.6, n_cells), rng.uniform(0.02, 0.08, n_cells)
    )
    cell_group = cell_sample * n_types + cell_type
    mito_total = nonmito_total[cell_group] * mito_fraction / (1.0 - mito_fraction)

    chunk = max(1, CHUNK_ENTRIES // n)
    data, indices, indptr = [], [], [np.zeros(1, dtype=np.int64)]
    offset = 0
    shape_inv = 1.0 / alpha
    for start in range(0, n_cells, chunk):
        stop = min(start + chunk, n_cells)
        mean = group_mean[cell_group[start:stop]] * size_factor[start:stop, None]
        mean[:, is_mito] = (mito_total[start:stop, None] * size_factor[start:stop, None]) * (
            mito_weights[None, :]
        )
        rate = rng.gamma(shape_inv[None, :], mean * alpha[None, :])
        block = sparse.csr_matrix(rng.poisson(rate).astype(np.float32))
        data.append(block.data)
        indices.append(block.indices.astype(np.int32))
        indptr.append(block.indptr[1:].astype(np.int64) + offset)
        offset += block.nnz
    indptr_all = np.concatenate(indptr)
    index_dtype = np.int32 if offset < np.iinfo(np.int32).max else np.int64
    counts = sparse.csr_matrix(
        (
            np.concatenate(data),
            np.concatenate(indices).astype(index_dtype, copy=False),
            indptr_all.astype(index_dtype, copy=False),
        ),
        shape=(n_cells, n),
    )

    sample_names = samples["sample"].to_numpy()
    within = np.arange(n_cells) - cell_sample * n_cells_per_sample
    obs = pd.DataFrame(
        {
            "sample": pd.Categorical(sample_names[cell_sample], categories=list(sample_names)),
            "cell_type": pd.Categorical(
                np.asarray(cell_types, dtype=object)[cell_type], categories=list(cell_types)
            ),
        },
        index=pd.Index(
            [f"{sample_names[s]}_cell{w:05d}" for s, w in zip(cell_sample, within, strict=True)],
            name="cell",
        ),
    )
    var = pd.DataFrame({"planted_log2fc": planted}, index=pd.Index(genes, name="gene_id"))
    adata = ad.AnnData(X=counts, obs=obs, var=var)
    adata.uns["simulation"] = {
        "seed": int(seed),
        "planted_cell_type": planted_cell_type,
        "planted_programmes": list(PLANTED_PROGRAMMES),
        "n_cells_per_sample": int(n_cells_per_sample),
    }
    truth = _truth_programmes(list(catalogue["programme"]), cell_types, planted_cell_type)
    return SimulatedSingleCell(adata, samples, truth)
