"""Which test a contrast gets, and the null design of a likelihood-ratio or F test.

Pure Python on the parsed contrasts (no heavy imports), so the workflow checks the test
options of every contrast when it parses them, before any job runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from formulaic_contrasts import FormulaicContrasts

from .design import Contrast, Model, design_variables
from .errors import InputError


def contrast_test(contrast: Contrast, de: dict, path: str = "contrasts") -> str:
    """The test a contrast uses (its own ``test``, else ``de.test``), checked against the
    options that need another test: ``reduced`` (lrt/qlf only), ``de.lfc_threshold`` > 0
    (Wald only). Raises :class:`InputError` before any job runs."""
    test = contrast.test or de.get("test", "wald")
    where = f"contrast {contrast.name!r}"
    if contrast.reduced and test == "wald":
        raise InputError(
            f"{where}: 'reduced' needs test lrt or qlf, and it is tested by wald",
            path=path,
            fix="add 'test: lrt' (or qlf) to the contrast, or remove 'reduced'",
        )
    if test != "wald" and de.get("lfc_threshold", 0) > 0:
        raise InputError(
            f"{where}: de.lfc_threshold > 0 (a Wald test of |log2FC| > threshold) with test "
            f"{test!r}",
            path="config",
            fix="set de.lfc_threshold: 0, or de.test: wald (or test: wald on the contrast)",
        )
    return test


def reduced_design_matrix(metadata: pd.DataFrame, model: Model, contrast: Contrast) -> np.ndarray:
    """(samples, p0) design matrix of a contrast's ``reduced`` formula on the model's samples.

    Same encoding (formulaic, the model's level order) as the full design; every variable
    must be one of the model's. Nesting is checked by the test (:func:`lrt.check_nested`).
    """
    where = f"contrast {contrast.name!r} (model {model.name!r})"
    unknown = [v for v in design_variables(contrast.reduced) if v not in model.variables]
    if unknown:
        raise InputError(
            f"{where}: reduced design {contrast.reduced!r} names {unknown}, which are not in "
            f"the model's design {model.design!r}",
            path="contrasts",
            fix=f"use only {model.variables}",
        )
    return FormulaicContrasts(metadata, contrast.reduced).design_matrix.to_numpy(dtype=float)
