"""A fitted model as data: the arrays the contrast tests read, in one ``.npz`` file.

The model job (rule ``differential_expression_{model}``) writes ``results/models/{model}.npz``
and its contrast tests (Wald, LRT, QL F-test, apeGLM shrinkage) read it back with
``allow_pickle=False``, as any later reader of the file does, so a file
from someone else's results folder can hold numbers and text only, never code. Reading checks
every array's presence, type and shape before any compute and raises :class:`InputError`
naming the file, the array and the fix.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic_io import write_npz_atomic
from .errors import InputError

FORMAT = "msc-secretome-model/1"
# name -> (dtype kinds accepted, shape in terms of n samples, g genes, p coefficients)
ARRAYS = {
    "format": ("U", ()),
    "design": ("U", ()),
    "gene_id": ("U", ("g",)),
    "symbol": ("U", ("g",)),
    "columns": ("U", ("p",)),
    "obs_names": ("U", ("n",)),
    "variables": ("U", (None,)),
    "design_matrix": ("f", ("n", "p")),
    "lfc": ("f", ("g", "p")),
    "counts": ("iu", ("n", "g")),
    "size_factors": ("f", ("n",)),
    "dispersions": ("f", ("g",)),
    "fitted_dispersions": ("f", ("g",)),
    "genewise_dispersions": ("f", ("g",)),
    "base_mean": ("f", ("g",)),
    "cooks_outlier": ("b", ("g",)),
    "all_zero_after_refit": ("b", ("g",)),
    "non_zero": ("b", ("g",)),
}
FIX = (
    "a model file is data written by the differential_expression_{model} rule; delete it "
    "and rerun the workflow so that it is fitted again from your counts"
)


def write_model(arrays: dict[str, np.ndarray], path: str | Path) -> None:
    """Write a model's arrays (:func:`differential_expression.model_arrays`) to ``path``."""
    write_npz_atomic(path, {"format": np.asarray(FORMAT)} | arrays)


def read_model(path: str | Path) -> dict[str, np.ndarray]:
    """Read and check a model file written by :func:`write_model`.

    Returns a dict of numpy arrays with the keys of ``ARRAYS`` plus ``obs__{variable}`` (the
    sample values of each design variable: text for a factor, numbers for a continuous
    covariate) and, for a factor, ``levels__{variable}`` (its levels, reference first).
    Raises :class:`InputError` for anything that is not such a file: a pickle or other
    non-zip bytes, object arrays (which would need pickle), a missing array, a wrong type or
    inconsistent shapes.
    """
    where = str(path)
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except FileNotFoundError:
        raise InputError("model file not found", path=where, fix=FIX) from None
    if magic != b"PK\x03\x04":  # not a zip archive, so not an .npz
        kind = "a Python pickle, which is refused" if magic[:1] == b"\x80" else "unknown bytes"
        raise InputError(f"not a model file (.npz of arrays): {kind}", path=where, fix=FIX)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise InputError(f"not a model file (.npz of arrays): {err}", path=where, fix=FIX) from None
    except ValueError as err:  # "Object arrays cannot be loaded when allow_pickle=False"
        raise InputError(
            f"refused: the file holds data that only pickle can load ({err})",
            path=where,
            fix=FIX,
        ) from None
    _check(arrays, where)
    return arrays


def read_dispersion_trend(path: str | Path) -> str:
    """The dispersion trend a model file's fit used (parametric | local | mean).

    Reads that one array only; a file written before it was recorded says ``parametric``.
    """
    with np.load(path, allow_pickle=False) as archive:
        if "dispersion_trend" not in archive.files:
            return "parametric"
        return str(archive["dispersion_trend"])


def _check(arrays: dict[str, np.ndarray], where: str) -> None:
    missing = [key for key in ARRAYS if key not in arrays]
    if missing:
        raise InputError(f"model file lacks the arrays {missing}", path=where, fix=FIX)
    if str(arrays["format"]) != FORMAT:
        raise InputError(
            f"model file format {str(arrays['format'])!r}, expected {FORMAT!r}",
            path=where,
            fix=FIX,
        )
    sizes = {
        "n": arrays["obs_names"].shape[0] if arrays["obs_names"].ndim == 1 else -1,
        "g": arrays["gene_id"].shape[0] if arrays["gene_id"].ndim == 1 else -1,
        "p": arrays["columns"].shape[0] if arrays["columns"].ndim == 1 else -1,
    }
    variables = [str(v) for v in np.atleast_1d(arrays["variables"])]
    expected = dict(ARRAYS)
    for variable in variables:
        if f"levels__{variable}" in arrays:  # a factor; without levels, a continuous covariate
            expected[f"obs__{variable}"] = ("U", ("n",))
            expected[f"levels__{variable}"] = ("U", (None,))
        else:
            expected[f"obs__{variable}"] = ("f", ("n",))
    for key, (kinds, shape) in expected.items():
        if key not in arrays:
            raise InputError(f"model file lacks the array {key!r}", path=where, fix=FIX)
        array = arrays[key]
        wanted = tuple(sizes.get(axis, None) if axis else None for axis in shape)
        fits = array.ndim == len(shape) and all(
            want is None or have == want for have, want in zip(array.shape, wanted, strict=True)
        )
        if array.dtype.kind not in kinds or not fits:
            raise InputError(
                f"array {key!r} is {array.dtype} of shape {array.shape}; expected kind "
                f"{kinds!r} of shape {tuple(w if w is not None else '*' for w in wanted)}",
                path=where,
                fix=FIX,
            )


def model_metadata(arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    """The model's samples x design variables: factors as categoricals with the fit's level
    order, continuous covariates as float.

    Same frame as :func:`design.model_samples` gave the fit (index ``sample``).
    """
    index = pd.Index(arrays["obs_names"].astype(str), name="sample")
    columns = {}
    for variable in (str(v) for v in np.atleast_1d(arrays["variables"])):
        if f"levels__{variable}" not in arrays:  # continuous covariate
            columns[variable] = arrays[f"obs__{variable}"].astype(float)
            continue
        values = arrays[f"obs__{variable}"].astype(str)
        levels = [str(level) for level in arrays[f"levels__{variable}"]]
        columns[variable] = pd.Categorical(values, categories=levels)
    return pd.DataFrame(columns, index=index)


def metadata_arrays(metadata: pd.DataFrame) -> dict[str, np.ndarray]:
    """The arrays :func:`model_metadata` rebuilds ``metadata`` (categorical columns) from."""
    arrays = {
        "obs_names": np.asarray(metadata.index, dtype=str),
        "variables": np.asarray(list(metadata.columns), dtype=str),
    }
    for variable in metadata.columns:
        column = metadata[variable]
        if pd.api.types.is_float_dtype(column.dtype):  # a continuous covariate
            arrays[f"obs__{variable}"] = column.to_numpy(dtype=float)
            continue
        if not isinstance(column.dtype, pd.CategoricalDtype):
            raise TypeError(f"design variable {variable!r} must be categorical or float")
        arrays[f"obs__{variable}"] = np.asarray(column.astype(str), dtype=str)
        arrays[f"levels__{variable}"] = np.asarray(list(column.cat.categories), dtype=str)
    return arrays
