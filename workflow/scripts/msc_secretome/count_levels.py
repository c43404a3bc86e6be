"""Functions of ``counts + r`` evaluated once per distinct count of a gene.

The dispersion objective (:func:`dispersion_newton.dispersion_objective`) evaluates trigamma
(``zeta(2, .)``, about 130 ns a value) at ``y + 1/alpha`` for every sample and gene at every
Newton step. Counts repeat within a gene (many samples share a count, most of all at low
expression and with many samples: half the pairs are repeats at 480 samples of the
benchmark's data), and ``1/alpha`` is one number per gene, so the function needs to be
evaluated only once per distinct (gene, count). The values are then gathered back into the
samples x genes array: the same floating-point inputs give the same outputs, so the result is
bit-identical to evaluating the function on every entry. (``gammaln`` and ``psi``, about 6 ns
a value, cost no more than the gathering and stay per entry.)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# Above this fraction of distinct (gene, count) pairs, gathering costs more than it saves:
# the function is evaluated on every entry instead (same numbers either way).
MAX_DISTINCT_FRACTION = 0.7


class CountLevels:
    """The distinct counts of each gene (column) of a samples x genes count block.

    Parameters
    ----------
    counts : (samples, genes) counts (whole numbers, as floats or integers).

    Attributes
    ----------
    values : (k,) the distinct counts of gene 0, then of gene 1, ..., each sorted.
    offsets : (genes + 1,) where each gene's distinct counts start in ``values``.
    local : (samples, genes) the position of each entry's count among its gene's
        distinct counts.
    fraction : k / (samples x genes).
    """

    def __init__(self, counts: np.ndarray):
        counts = np.asarray(counts, dtype=float)
        n_samples, n_genes = counts.shape
        order = np.argsort(counts, axis=0)  # equal counts share a rank whatever their order
        ordered = np.take_along_axis(counts, order, axis=0)
        new = np.ones_like(ordered, dtype=bool)
        new[1:] = ordered[1:] != ordered[:-1]
        rank = np.cumsum(new, axis=0) - 1
        self.local = np.empty((n_samples, n_genes), dtype=np.intp)
        np.put_along_axis(self.local, order, rank, axis=0)
        per_gene = new.sum(axis=0)
        self.offsets = np.concatenate([[0], np.cumsum(per_gene)])
        # column-major walk, so each gene's distinct counts are contiguous and sorted
        self.values = ordered.T[new.T]
        self.fraction = self.values.size / max(counts.size, 1)

    def apply(
        self,
        function: Callable[[np.ndarray], np.ndarray],
        counts: np.ndarray,
        genes: np.ndarray,
        shift: np.ndarray,
    ) -> np.ndarray:
        """``function(counts[:, genes] + shift)``, (samples, len(genes)).

        Parameters
        ----------
        function : an elementwise function (a numpy ufunc or scipy special function).
        counts : (samples, genes) the block these levels were built from.
        genes : (m,) column indices into the block.
        shift : (m,) added to each gene's counts (``1/alpha``).
        """
        genes = np.asarray(genes, dtype=np.intp)
        if self.fraction > MAX_DISTINCT_FRACTION:
            return function(counts[:, genes] + shift)
        starts = self.offsets[genes]
        lengths = self.offsets[genes + 1] - starts
        first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        where = np.arange(int(lengths.sum())) + np.repeat(starts - first, lengths)
        evaluated = function(self.values[where] + np.repeat(shift, lengths))
        return evaluated[self.local[:, genes] + first]
