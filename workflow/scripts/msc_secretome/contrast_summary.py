"""One row per contrast: what it asks, of which fit, how many genes moved, how it was tested.

Kept apart from :mod:`differential_expression` so the summary job does not import PyDESeq2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .design import check_design, contrast_context, model_samples
from .programmes import classify_contrast
from .wald import count_significant


def contrast_summary(
    contrasts: list,
    models: dict,
    samples: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    roles: dict,
    alpha: float,
    tests: dict[str, str] | None = None,
) -> pd.DataFrame:
    """One row per contrast: what it asks, of which fit, how many genes moved, its role.

    ``tests``: contrast -> the test it used (default wald). The last columns say how it was
    tested: ``test``, ``reduced`` (lrt/qlf null design, empty for the contrast's own),
    ``residual_df`` (samples minus design columns) and ``test_note`` (:func:`methods_note`).
    """
    rows = []
    for contrast in contrasts:
        model = models[contrast.model]
        keep = np.ones(len(samples), dtype=bool)
        for column, levels in model.subset.items():
            keep &= samples[column].isin(levels).to_numpy()
        up, down = count_significant(tables[contrast.name], alpha)
        role = classify_contrast(
            kind=contrast.kind,
            terms=list(contrast.terms),
            context=contrast_context(contrast, model),
            roles=roles,
        )
        rows.append(
            {
                "contrast": contrast.name,
                "model": model.name,
                "kind": contrast.kind,
                "description": contrast.describe(),
                "design": model.design,
                "subset": model.subset_label(),
                "n_samples": int(keep.sum()),
                "n_tested": int(tables[contrast.name]["padj"].notna().sum()),
                "n_up": up,
                "n_down": down,
                "alpha": alpha,
                "side": role["side"] or "",
                "therapy": role["therapy"] or "",
                "role": role["role"] or "",
                "receiver_group": role["receiver_group"] or "",
                "exposure": role["exposure"] or "",
            }
        )
        # the number of design columns does not depend on the reference levels
        columns = check_design(model_samples(samples, model).loc[:, model.variables], model)
        residual_df = int(keep.sum()) - columns.design_matrix.shape[1]
        test = (tests or {}).get(contrast.name, "wald")
        rows[-1] |= {
            "test": test,
            "reduced": contrast.reduced or "",
            "residual_df": residual_df,
            "test_note": methods_note(test, residual_df),
        }
    return pd.DataFrame(rows)


#: Measured on null simulations of the example design (10 residual df; 20,000 genes x 2 seeds x
#: 14 contrasts = 393,190 p-values, benchmarks/de_calibration.py, results in
#: benchmarks/results/de_calibration.tsv): observed / nominal frequency of small p-values.
WALD_NULL_INFLATION = {"residual_df": 10, "p<1e-3": 1.8, "p<1e-4": 3.5}
LOW_RESIDUAL_DF = 30


def methods_note(test: str, residual_df: int) -> str:
    """Methods note on a contrast's test: what it is and, for Wald at few df, its inflation."""
    if test == "lrt":
        return "DESeq2 likelihood-ratio test (nbinomLRT) at the fit's dispersions"
    if test == "qlf":
        return (
            "quasi-likelihood F-test on the DESeq2 model (edgeR-style empirical-Bayes QL "
            "dispersions); on null simulations of the example design p < 1e-3 occurs 0.94x "
            "and p < 1e-4 0.99x nominal, and its FDR held at alpha"
        )
    note = "DESeq2 Wald test"
    if residual_df <= LOW_RESIDUAL_DF:
        note += (
            f"; at {residual_df} residual df it treats estimated dispersions as known, so "
            f"small p-values are too frequent (null simulations at "
            f"{WALD_NULL_INFLATION['residual_df']} df: p < 1e-3 {WALD_NULL_INFLATION['p<1e-3']}x "
            f"and p < 1e-4 {WALD_NULL_INFLATION['p<1e-4']}x nominal) and the FDR exceeds alpha; "
            "de.test: qlf controls it"
        )
    return note
