"""Planted effects of the simulators: which programmes a term of the model moves, and the
draw of its log2 fold changes (shared by :mod:`.simulate` and :mod:`.simulate_designs`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MOVE_PROBABILITY = 0.7
EFFECT_RANGE = (0.3, 1.5)


@dataclass(frozen=True)
class PlantedEffect:
    """One term of the model: which programmes it moves (with sign) and how many random genes.

    ``kind`` is ``therapy`` (T[c, t], needs a treated ``therapy``), ``cm`` (M[c], no therapy) or
    ``cm_x`` (I[c, t], needs a treated ``therapy``).
    """

    cell_type: str
    kind: str
    therapy: str | None
    programmes: tuple[tuple[str, int], ...]
    n_random: int = 0


def plant_effect(
    effect: PlantedEffect,
    gene_sets: dict[str, list[int]],
    n_genes: int,
    n_programme: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw one effect vector (log2FC per gene); overlaps inside the effect keep the larger.

    Each gene of a named programme moves with probability ``MOVE_PROBABILITY`` by a size drawn
    from ``EFFECT_RANGE`` (log2) with the programme's sign; ``n_random`` genes outside the
    programmes (indices ``n_programme`` and up) move with a random sign.

    Parameters
    ----------
    gene_sets : programme -> indices of its genes.
    n_genes, n_programme : genes in all, and how many of them belong to programmes.

    Returns
    -------
    np.ndarray, (n_genes,) log2 fold changes.
    """
    delta = np.zeros(n_genes)
    low, high = EFFECT_RANGE

    def merge(index: np.ndarray, values: np.ndarray) -> None:
        larger = np.abs(values) > np.abs(delta[index])
        delta[index[larger]] = values[larger]

    for programme, sign in effect.programmes:
        index = np.asarray(gene_sets[programme], dtype=np.int64)
        moved = rng.random(index.size) < MOVE_PROBABILITY
        size = rng.uniform(low, high, index.size)
        merge(index[moved], sign * size[moved])
    if effect.n_random:
        index = n_programme + rng.choice(n_genes - n_programme, effect.n_random, replace=False)
        signs = rng.choice(np.array([-1.0, 1.0]), effect.n_random)
        merge(index, signs * rng.uniform(low, high, effect.n_random))
    return delta
