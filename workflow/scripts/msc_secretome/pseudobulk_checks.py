"""After pseudobulk drops: do the models still have their replicates? Checked before any fit.

The workflow checks every model when it starts, on the pseudo-sample sheet it *expects*
(every sample x every cell type). Pseudo-samples with fewer than ``single_cell.min_cells``
cells are then dropped; this can leave a level with a single pseudo-sample, a model without
residual degrees of freedom, or a cell type with no pseudo-sample at all.
:func:`check_models_after_drops` re-runs the same design checks on the pseudo-samples kept and,
when one fails, says which pseudo-samples were dropped (with their cell counts) and which
setting to change, instead of letting the fit die later.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .design import check_design, contrast_vector, model_samples
from .errors import InputError
from .settings import contrast_from_dict, model_from_dict


def check_models_after_drops(
    sheet: pd.DataFrame,
    dropped: pd.DataFrame,
    models: Mapping[str, dict],
    contrasts: Mapping[str, dict],
    *,
    min_cells: int,
    path: str | None = None,
) -> None:
    """Raise an :class:`InputError` when a model cannot be fitted on the kept pseudo-samples.

    Parameters
    ----------
    sheet : pandas.DataFrame
        The kept pseudo-samples (n_kept rows; ``sample`` plus factor columns), as
        :func:`msc_secretome.single_cell.pseudobulk` returns it.
    dropped : pandas.DataFrame
        The dropped pseudo-samples (``sample``, ``n_cells``, ``reason``).
    models, contrasts : mapping
        Name -> :func:`~msc_secretome.settings.model_to_dict` /
        :func:`~msc_secretome.settings.contrast_to_dict` dictionaries.
    min_cells : int
        ``single_cell.min_cells``, named in the fix.
    path : str, optional
        The single-cell input the pseudo-samples come from, named in the error.
    """
    samples = sheet.astype({"sample": str})
    for name, data in models.items():
        model = model_from_dict(data)
        try:
            metadata = model_samples(samples, model, path="pseudo-samples")
            helper = check_design(metadata.loc[:, model.variables], model, "pseudo-samples")
            for contrast_data in contrasts.values():
                if contrast_data["model"] == name:
                    contrast_vector(helper, contrast_from_dict(contrast_data), model, metadata)
        except InputError as err:
            reason = str(err).split("\n  Fix: ")[0]
            if err.path and reason.startswith(f"{err.path}: "):
                reason = reason[len(err.path) + 2 :]
            raise InputError(
                f"model {name!r} cannot be fitted after single-cell QC: "
                f"{_dropped_text(dropped, model)}. On the pseudo-samples kept, {reason}",
                path=path,
                fix=f"lower single_cell.min_cells (now {min_cells}) to at most "
                f"{_largest(dropped, model)}, loosen single_cell.qc, or remove the affected "
                "samples or levels from the model (subset/design)",
            ) from err


def _relevant(dropped: pd.DataFrame, model) -> pd.DataFrame:
    """The dropped pseudo-samples of the model's subset (all of them if it has none)."""
    chosen = dropped
    for column, levels in model.subset.items():
        if column in chosen.columns:
            chosen = chosen[chosen[column].astype(str).isin(levels)]
    return chosen if len(chosen) else dropped


def _dropped_text(dropped: pd.DataFrame, model) -> str:
    if dropped.empty:
        return "no pseudo-sample was dropped"
    chosen = _relevant(dropped, model)
    listed = ", ".join(
        f"{row.sample} ({row.n_cells} cells)" for row in chosen.head(20).itertuples(index=False)
    )
    more = f" and {len(chosen) - 20} more" if len(chosen) > 20 else ""
    return (
        f"{len(chosen)} of its pseudo-samples were dropped for having too few cells: "
        f"{listed}{more} (all of them, with reasons, in logs/pseudobulk_cells.log)"
    )


def _largest(dropped: pd.DataFrame, model) -> int:
    chosen = _relevant(dropped, model)
    cells = pd.to_numeric(chosen["n_cells"], errors="coerce") if len(chosen) else pd.Series([1])
    return max(int(cells.max()), 1)
