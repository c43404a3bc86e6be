"""Every contrast of one fitted model, with the work they share done once.

A model's contrasts share its fit: the Wald test reads the fit's coefficients, and the QL
F-test refits the full model at the trended dispersion, whose deviance, residual df and
squeezed QL dispersions are the same for every contrast (:func:`qlf.ql_full_fit`), as the
LRT's full model at the final dispersions is (:func:`lrt.lrt_full_fit`). The rule
that fits a model (``differential_expression_{model}``) and the leave-one-out refits
(:mod:`stability`) test all of a model's contrasts here, so that full-model work runs once per
fit instead of once per contrast; each contrast's table is what :func:`wald.contrast_table`
gives for it alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd

from .contrast_tests import reduced_design_matrix
from .design import Contrast, Model, check_design, contrast_vector
from .wald import contrast_table

# (contrast name, contrast weights indexed by the design's columns, test, reduced design or None)
ContrastRequest = tuple[str, pd.Series, str, "np.ndarray | None"]


def contrast_requests(
    metadata: pd.DataFrame, model: Model, contrasts: Iterable[Contrast], tests: dict[str, str]
) -> list[ContrastRequest]:
    """The test of each contrast of ``model``: its vector, test and reduced design matrix.

    Parameters
    ----------
    metadata : the model's samples (index = sample) x design variables, as the fit saw them
        (:func:`model_store.model_metadata`).
    model : the model the contrasts belong to.
    contrasts : the model's contrasts.
    tests : contrast name -> test (``wald`` | ``lrt`` | ``qlf``).

    Returns
    -------
    list of ``(name, vector (p,), test, reduced design (samples, p0) or None)``.
    """
    helper = check_design(metadata, model)
    requests = []
    for contrast in contrasts:
        vector = contrast_vector(helper, contrast, model, metadata)
        reduced = reduced_design_matrix(metadata, model, contrast) if contrast.reduced else None
        requests.append((contrast.name, vector, tests[contrast.name], reduced))
    return requests


def contrast_tables(
    fitted: dict[str, np.ndarray],
    requests: Iterable[ContrastRequest],
    *,
    de: dict,
    statistic_only: bool = False,
) -> Iterator[tuple[str, pd.DataFrame]]:
    """``(name, table)`` of each request, in order, on one model's arrays.

    Parameters
    ----------
    fitted : a model's arrays (:func:`model_store.read_model` or
        :func:`differential_expression.model_arrays`); genes g, samples n.
    requests : :func:`contrast_requests` of the model.
    de : the run's ``de`` settings (``alpha``, ``independent_filter``, ``cooks_filter``,
        ``lfc_threshold``).
    statistic_only : yield ``gene_id``, ``symbol``, ``stat`` tables only
        (:func:`wald.contrast_table`'s ``statistic_only``).

    Yields
    ------
    ``(contrast name, g-row table with wald.RESULT_COLUMNS)``; the QL (LRT) full-model fit is
    made before the first ``qlf`` (``lrt``) contrast and reused for the others. A generator,
    so a caller can time and log each contrast.
    """
    symbols = pd.Series(fitted["symbol"], index=fitted["gene_id"])
    full_fits = {}
    for name, vector, test, reduced in requests:
        if test in ("qlf", "lrt") and test not in full_fits:
            if test == "qlf":
                from .qlf import ql_full_fit as full_fit
            else:
                from .lrt import lrt_full_fit as full_fit

            full_fits[test] = full_fit(fitted)
        table = contrast_table(
            fitted, vector, alpha=de["alpha"], independent_filter=de["independent_filter"],
            cooks_filter=de["cooks_filter"], lfc_threshold=de["lfc_threshold"],
            symbols=symbols, test=test, reduced_design=reduced,
            full_fit=full_fits.get(test),
            statistic_only=statistic_only,
        )  # fmt: skip
        yield name, table
