"""Wald tests of contrasts from a fitted model: numpy only, no PyDESeq2 import.

A contrast job needs only what the Wald test reads: the design matrix, coefficients, size
factors, dispersions, base means, and the gene masks that do not depend on the contrast
(Cook's outliers, genes that became all-zero when outliers were replaced). The fit job stores
them as data (:func:`differential_expression.model_arrays`, :mod:`model_store`), so one job
per contrast starts fast (no PyDESeq2, AnnData or matplotlib import) and computes PyDESeq2's
``DeseqStats`` numbers:

* ``wald_test``: PyDESeq2's ``utils.wald_test`` for all genes at once (same covariance
  ``(X^T W X + ridge)^-1``, same alternative hypotheses);
* ``contrast_table``: Wald test, Cook's filtering (p = NaN), then DESeq2's independent
  filtering (:func:`independent_filter_padj`) or plain Benjamini-Hochberg.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from scipy.special import ndtr

from .errors import InputError

RESULT_COLUMNS = [
    "gene_id",
    "symbol",
    "baseMean",
    "log2FoldChange",
    "lfcSE",
    "stat",
    "pvalue",
    "padj",
]
RIDGE = 1e-6  # PyDESeq2's ridge on the coefficients (no LFC prior)
TESTS = ("wald", "lrt", "qlf")


def normal_sf(x):
    """Standard normal upper tail, as ``scipy.stats.norm.sf`` computes it (``ndtr(-x)``);
    spares a contrast job the 0.4 s import of ``scipy.stats``."""
    return ndtr(-np.asarray(x, dtype=float))


def benjamini_hochberg(pvalues: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values, the steps of ``scipy.stats.false_discovery_control(method="bh")``."""
    pvalues = np.asarray(pvalues, dtype=float)
    order = np.argsort(pvalues)
    adjusted = np.empty(pvalues.size)
    adjusted[order] = _bh_of_sorted(pvalues[order])
    return adjusted


def _bh_of_sorted(sorted_pvalues: np.ndarray) -> np.ndarray:
    """BH-adjusted values of p-values already in ascending order (same order out)."""
    ranked = sorted_pvalues * (sorted_pvalues.size / np.arange(1, sorted_pvalues.size + 1))
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    return np.clip(ranked, 0, 1)


def outer_rows(design_matrix: np.ndarray) -> np.ndarray:
    """Row-wise outer products ``x_i x_i^T``, flattened: (samples, p*p)."""
    return np.einsum("ip,iq->ipq", design_matrix, design_matrix).reshape(design_matrix.shape[0], -1)


def weighted_gram(weights: np.ndarray, outer: np.ndarray, p: int) -> np.ndarray:
    """``X^T diag(w_g) X`` for every gene g: (genes, p, p) from weights (samples, genes).

    ``outer``: :func:`outer_rows` of X. The Gram matrices are symmetric, so only the
    p(p+1)/2 entries on and above the diagonal are computed (one matrix product) and mirrored:
    the same dot products as the full product ``weights.T @ outer``, which this was measured
    to equal bit for bit (one-thread and threaded OpenBLAS) when each sample's weights are
    contiguous in memory (row-major ``weights``) and there are at least two genes; otherwise
    (BLAS's matrix-vector path, or column-major weights, which it sums in another order) the
    full product is taken, so the result never depends on the shortcut.
    """
    if weights.shape[1] < 2 or weights.strides[1] != weights.itemsize:
        return (weights.T @ outer).reshape(-1, p, p)
    upper, mirror = _symmetric_columns(p)
    return (weights.T @ np.ascontiguousarray(outer[:, upper]))[:, mirror].reshape(-1, p, p)


@functools.cache
def _symmetric_columns(p: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns of :func:`outer_rows` on and above the diagonal, and for each of the p*p
    entries the position of its value among them."""
    rows, cols = np.triu_indices(p)
    position = np.empty((p, p), dtype=np.intp)
    position[rows, cols] = np.arange(rows.size)
    position[cols, rows] = np.arange(rows.size)
    return rows * p + cols, position.ravel()


def gene_blocks(n_genes: int, block_size: int):
    """Slices of at most ``block_size`` genes (bounded memory whatever the gene count)."""
    for start in range(0, n_genes, block_size):
        yield slice(start, min(start + block_size, n_genes))


def wald_test(
    design_matrix: np.ndarray,
    disp: np.ndarray,
    lfc: np.ndarray,
    mu: np.ndarray,
    ridge_factor: np.ndarray,
    contrast: np.ndarray,
    lfc_null: float,
    alt_hypothesis: str | None = None,
    block_size: int = 4096,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(pvalue, stat, se)`` per gene; ``lfc`` genes x coefficients (natural log), ``mu``
    samples x genes. Genes with a non-finite input get NaN."""
    p = design_matrix.shape[1]
    outer = outer_rows(design_matrix)
    n_genes = mu.shape[1]
    pvalues, statistics, errors = (np.full(n_genes, np.nan) for _ in range(3))
    lfc = np.asarray(lfc, dtype=float)
    fitted = np.isfinite(lfc).all(axis=1) & np.isfinite(mu).all(axis=0) & np.isfinite(disp)
    for block in gene_blocks(n_genes, block_size):
        genes = np.flatnonzero(fitted[block]) + block.start
        if genes.size == 0:
            continue
        m = mu[:, genes]
        gram = weighted_gram(m / (1.0 + m * disp[genes]), outer, p)
        hc = np.linalg.inv(gram + ridge_factor) @ contrast
        se = np.sqrt(np.einsum("gp,gpq,gq->g", hc, gram, hc))
        stat, pvalue = wald_statistic(lfc[genes], se, contrast, lfc_null, alt_hypothesis)
        pvalues[genes], statistics[genes], errors[genes] = pvalue, stat, se
    return pvalues, statistics, errors


def wald_statistic(lfc, se, contrast, lfc_null, alt_hypothesis):
    """Statistic and p-value per gene, as PyDESeq2's ``utils.wald_test`` computes them."""

    def scaled(values):
        return values / se[:, None]

    def greater(null):
        stat = np.fmax(scaled(lfc - null), 0) @ contrast
        return stat, normal_sf(stat)

    def less(null):
        stat = np.fmin(scaled(lfc - null), 0) @ contrast
        return stat, normal_sf(np.abs(stat))

    if alt_hypothesis is None:
        stat = ((lfc - lfc_null) @ contrast) / se
        return stat, 2 * normal_sf(np.abs(stat))
    if alt_hypothesis == "greaterAbs":
        stat = (np.sign(lfc) * np.fmax(scaled(np.abs(lfc) - lfc_null), 0)) @ contrast
        return stat, 2 * normal_sf(np.abs(stat))
    if alt_hypothesis == "greater":
        return greater(lfc_null)
    if alt_hypothesis == "less":
        return less(lfc_null)
    if alt_hypothesis == "lessAbs":
        stat_above, p_above = greater(-abs(lfc_null))
        stat_below, p_below = less(abs(lfc_null))
        stat = np.where(np.abs(stat_below) < np.abs(stat_above), stat_below, stat_above)
        return stat, np.maximum(p_above, p_below)
    raise ValueError(f"unknown alternative hypothesis {alt_hypothesis!r}")


def contrast_table(
    fitted: dict,
    vector: pd.Series,
    *,
    alpha: float = 0.05,
    independent_filter: bool = True,
    cooks_filter: bool = True,
    lfc_threshold: float = 0.0,
    symbols: pd.Series | None = None,
    test: str = "wald",
    reduced_design: np.ndarray | None = None,
    full_fit=None,
    statistic_only: bool = False,
) -> pd.DataFrame:
    """The output-contract table of one contrast vector from a model's arrays.

    ``fitted``: a model's arrays (:func:`model_store.read_model`); ``vector``:
    contrast weights indexed by the design's columns; ``test`` (``de.test``): ``wald``
    (DESeq2's Wald test), ``lrt`` (DESeq2's likelihood-ratio test, :func:`lrt.lrt_test`) or
    ``qlf`` (quasi-likelihood F-test, :func:`qlf.qlf_test`); ``reduced_design`` (samples,
    p0): the LRT/QLF null model (default: the contrast's null space). ``log2FoldChange`` and
    ``lfcSE`` are the contrast's in every case; ``stat`` is the Wald statistic, or for
    ``lrt``/``qlf`` on one df the signed square root of LR or F (a z- or t-like value that
    ranks like the Wald statistic), on more df the LR or F itself. ``lfc_threshold`` > 0 is
    a Wald test only. ``full_fit``: the model's full-model fit for ``test``
    (:func:`qlf.ql_full_fit` or :func:`lrt.lrt_full_fit`), shared by its contrasts (fitted
    here when not given). ``statistic_only``: just ``gene_id``, ``symbol``
    and ``stat`` (the same values), without the Wald standard errors an ``lrt``/``qlf`` stat
    does not use, p-values or their adjustment (the leave-one-out refits rank genes by it).
    """
    if test not in TESTS:
        raise ValueError(f"de.test must be one of {TESTS}, not {test!r}")
    if test != "wald" and lfc_threshold > 0:
        raise InputError(
            f"de.lfc_threshold > 0 (a Wald test of |log2FC| > threshold) with test {test!r}",
            path="config",
            fix="set de.lfc_threshold: 0, or use test: wald",
        )
    if test == "wald" and reduced_design is not None:
        raise InputError(
            "a reduced design is tested by lrt or qlf, not by the Wald test",
            path="contrasts",
            fix="add 'test: lrt' (or qlf) to the contrast, or remove 'reduced'",
        )
    columns = list(fitted["columns"])
    if list(vector.index) != columns:
        raise ValueError(f"contrast vector columns {list(vector.index)} != design {columns}")
    contrast = vector.to_numpy(dtype=float)
    design = fitted["design_matrix"]
    lfc = fitted["lfc"]
    if statistic_only and test != "wald":
        pvalue = stat = se = None
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            mu = np.exp(design @ lfc.T) * fitted["size_factors"][:, None]
        pvalue, stat, se = wald_test(
            design,
            fitted["dispersions"],
            lfc,
            mu,
            np.diag(np.repeat(RIDGE, design.shape[1])),
            contrast,
            np.log(2) * lfc_threshold,
            "greaterAbs" if lfc_threshold > 0 else None,
        )
    if test != "wald":
        with np.errstate(invalid="ignore"):
            sign = np.sign(lfc @ contrast)
        if test == "lrt":
            from .lrt import lrt_test

            pvalue, statistic, df = lrt_test(fitted, contrast, reduced_design, full=full_fit)
        else:
            from .qlf import qlf_test

            pvalue, statistic, df, _ = qlf_test(fitted, contrast, reduced_design, full=full_fit)
        stat = sign * np.sqrt(statistic) if df == 1 else statistic
        if se is not None:
            pvalue = np.where(np.isfinite(se), pvalue, np.nan)
    emptied = fitted["all_zero_after_refit"]  # as PyDESeq2: no test, stat 0, p 1
    stat[emptied] = 0.0
    gene_ids = pd.Index(fitted["gene_id"]).astype(str)
    if symbols is None:
        symbol = gene_ids.to_numpy()
    else:
        symbol = symbols.reindex(gene_ids).fillna("").to_numpy()
    if statistic_only:
        return pd.DataFrame({"gene_id": gene_ids.to_numpy(), "symbol": symbol, "stat": stat})
    se[emptied], pvalue[emptied] = 0.0, 1.0
    if cooks_filter:
        pvalue[fitted["cooks_outlier"]] = np.nan
    base_mean = fitted["base_mean"]
    if independent_filter:
        padj, _ = independent_filter_padj(base_mean, pvalue, alpha)
    else:
        padj = np.full(len(pvalue), np.nan)
        tested = ~np.isnan(pvalue)
        padj[tested] = benjamini_hochberg(pvalue[tested])
    with np.errstate(invalid="ignore"):
        log2_fold_change = (lfc @ contrast) / np.log(2)
    table = pd.DataFrame(
        {
            "gene_id": gene_ids.to_numpy(),
            "symbol": symbol,
            "baseMean": base_mean,
            "log2FoldChange": log2_fold_change,
            "lfcSE": se / np.log(2),
            "stat": stat,
            "pvalue": pvalue,
            "padj": padj,
        }
    )
    return table.loc[:, RESULT_COLUMNS]


def independent_filter_padj(
    base_mean: np.ndarray, pvalue: np.ndarray, alpha: float
) -> tuple[np.ndarray, float]:
    """Adjusted p-values with DESeq2's independent filtering, as R computes them.

    DESeq2 ``results()``'s ``pvalueAdjustment``: BH adjustment after dropping genes below each
    of 50 baseMean quantiles, the rejections per quantile smoothed with ``lowess(f=1/5)``, and
    the first quantile whose rejections exceed the smooth's maximum minus its residual RMS
    kept. PyDESeq2 0.5.4 runs the same steps with its own lowess, which differs from R's
    (neighbourhood size, number of robustness passes) and can pick another quantile: on the
    example's ``cancer_cm_vs_ctrl_none`` it filters 549 genes that DESeq2 keeps. This uses a
    port of R's ``lowess`` (``clowess``). Returns (padj, baseMean threshold).
    """
    base_mean = np.asarray(base_mean, dtype=float)
    pvalue = np.asarray(pvalue, dtype=float)
    lower = float(np.mean(base_mean == 0))
    theta = np.linspace(lower, 0.95 if lower < 0.95 else 1.0, 50)
    cutoffs = np.quantile(base_mean, theta)  # R's type 7 quantiles
    adjusted = np.full((pvalue.size, theta.size), np.nan)
    tested = ~np.isnan(pvalue)
    # one sort for all 50 cutoffs: each cutoff's genes, taken in this order, are its p-values
    # sorted (ties get equal adjusted values, so their order does not matter)
    order = np.argsort(pvalue)
    for i, cutoff in enumerate(cutoffs):
        use = tested & (base_mean >= cutoff)
        if use.any():
            genes = order[use[order]]
            adjusted[genes, i] = _bh_of_sorted(pvalue[genes])
    rejections = np.sum(adjusted < alpha, axis=0).astype(float)
    if rejections.max() <= 10:
        chosen = 0
    else:
        smooth = _r_lowess(theta, rejections, span=1 / 5)
        positive = rejections > 0
        residual = rejections[positive] - smooth[positive]
        threshold = smooth.max() - np.sqrt(np.mean(residual**2))
        above = np.flatnonzero(rejections > threshold)
        chosen = int(above[0]) if above.size else 0
    return adjusted[:, chosen], float(cutoffs[chosen])


def _r_lowess(x: np.ndarray, y: np.ndarray, span: float = 2 / 3, iterations: int = 3):
    """R's ``stats::lowess(x, y, f=span, iter=iterations)`` (a port of ``clowess``); fitted y.

    ``x`` sorted ascending (as ``theta`` is); ``delta`` is R's default, 1% of the x range.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = x.size
    if n < 2:
        return y.copy()
    delta = 0.01 * (x[-1] - x[0])
    neighbours = max(2, min(n, int(span * n + 1e-7)))
    fitted = np.zeros(n)
    robustness = np.ones(n)
    for iteration in range(iterations + 1):
        left, right, last, i = 0, neighbours - 1, -1, 0
        while True:
            if right < n - 1 and x[i] - x[left] > x[right + 1] - x[i]:
                left, right = left + 1, right + 1
                continue
            value = _r_lowest(x, y, x[i], left, right, robustness if iteration else None)
            fitted[i] = y[i] if value is None else value
            if last < i - 1:  # interpolate skipped points
                share = (x[last + 1 : i] - x[last]) / (x[i] - x[last])
                fitted[last + 1 : i] = share * fitted[i] + (1 - share) * fitted[last]
            last = i
            cut = x[last] + delta
            i = last + 1
            while i < n:
                if x[i] > cut:
                    break
                if x[i] == x[last]:
                    fitted[i] = fitted[last]
                    last = i
                i += 1
            i = max(last + 1, i - 1)
            if last >= n - 1:
                break
        residual = y - fitted
        if iteration == iterations:
            break
        scale = np.mean(np.abs(residual))
        ordered = np.sort(np.abs(residual))
        half = n // 2
        cmad = 3 * (ordered[half] + ordered[n - half - 1]) if n % 2 == 0 else 6 * ordered[half]
        if cmad < 1e-7 * scale:
            break
        r = np.abs(residual)
        robustness = np.where(
            r <= 0.001 * cmad, 1.0, np.where(r <= 0.999 * cmad, (1 - (r / cmad) ** 2) ** 2, 0.0)
        )
    return fitted


def _r_lowest(x, y, at, left, right, robustness):
    """One local linear fit of R's ``lowest``: tricube weights over ``left..right`` (+ ties)."""
    n = x.size
    h = max(at - x[left], x[right] - at)
    weights = np.zeros(n)
    total = 0.0
    j = left
    while j < n:
        r = abs(x[j] - at)
        if r <= 0.999 * h:
            weights[j] = 1.0 if r <= 0.001 * h else (1 - (r / h) ** 3) ** 3
            if robustness is not None:
                weights[j] *= robustness[j]
            total += weights[j]
        elif x[j] > at:
            break
        j += 1
    if total <= 0:
        return None
    span = slice(left, j)
    w = weights[span] / total
    xs = x[span]
    if h > 0:
        centre = np.sum(w * xs)
        spread = np.sum(w * (xs - centre) ** 2)
        if np.sqrt(spread) > 0.001 * (x[-1] - x[0]):
            w = w * ((at - centre) / spread * (xs - centre) + 1)
    return float(np.sum(w * y[span]))


def count_significant(table: pd.DataFrame, alpha: float) -> tuple[int, int]:
    """(up, down) genes at padj < alpha."""
    significant = table["padj"] < alpha
    return (
        int((significant & (table["log2FoldChange"] > 0)).sum()),
        int((significant & (table["log2FoldChange"] < 0)).sum()),
    )
