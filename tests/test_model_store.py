"""A fitted model crosses the job boundary as data (npz of arrays), never as a pickle.

* ``model_arrays`` -> ``write_model`` -> ``read_model`` gives the same arrays, the same bytes
  twice, and the contrast job's Wald table from the file equals the in-memory one.
* A crafted file in place of a model (a pickle bytestream that would run code, an npz with an
  object array, a missing or mis-shaped array) is refused with an ``InputError`` naming the
  file and the fix; the rule script stops before writing its table and no code runs.
* No ``pickle`` import anywhere in the workflow (grep-able, checked here).
"""

from __future__ import annotations

import io
import logging
import pickle
import runpy
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from msc_secretome.design import Contrast, Model, check_design, contrast_vector, model_samples
from msc_secretome.differential_expression import (
    contrast_results,
    fit_model,
    model_arrays,
    prefilter_mask,
)
from msc_secretome.errors import InputError
from msc_secretome.model_store import model_metadata, read_model, write_model
from msc_secretome.settings import contrast_to_dict, model_to_dict
from msc_secretome.wald import contrast_table

MODEL = Model("m", "~ batch + condition", {}, {"condition": "control", "batch": "b1"})
CONTRAST = Contrast("treated_vs_control", "m", "compare", (("condition", "treated", "control"),))


@pytest.fixture(scope="module")
def fitted_model():
    rng = np.random.default_rng(5)
    samples = pd.DataFrame(
        {
            "sample": [f"s{i}" for i in range(8)],
            "condition": ["control", "treated"] * 4,
            "batch": ["b1"] * 4 + ["b2"] * 4,
        }
    )
    metadata = model_samples(samples, MODEL).loc[:, MODEL.variables]
    means = rng.gamma(2.0, 100.0, size=300)
    effect = np.where(np.arange(300) < 30, 4.0, 1.0)
    treated = (samples["condition"] == "treated").to_numpy()[:, None]
    mu = means[None, :] * np.where(treated, effect[None, :], 1.0)
    counts = rng.negative_binomial(5, 5 / (5 + mu))
    frame = pd.DataFrame(
        counts, index=metadata.index, columns=[f"ENSG{i:011d}" for i in range(300)]
    )
    frame = frame.loc[:, prefilter_mask(frame, 10, 3)]
    dds = fit_model(frame, metadata, MODEL.design)
    symbols = pd.Series([f"G{i}" for i in range(frame.shape[1])], index=frame.columns)
    return dds, symbols, metadata


def test_model_file_round_trip_is_exact_and_byte_stable(fitted_model, tmp_path):
    dds, symbols, metadata = fitted_model
    arrays = model_arrays(dds, symbols)
    assert not any(np.asarray(v).dtype.hasobject for v in arrays.values())
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    write_model(arrays, first)
    write_model(model_arrays(dds, symbols), second)
    assert first.read_bytes() == second.read_bytes()
    loaded = read_model(first)
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded[key], value, err_msg=key)
    rebuilt = model_metadata(loaded)
    pd.testing.assert_frame_equal(rebuilt, metadata.rename_axis("sample"), check_names=False)
    assert list(rebuilt["condition"].cat.categories) == ["control", "treated"]

    vector = contrast_vector(check_design(rebuilt, MODEL), CONTRAST, MODEL, rebuilt)
    from_file = contrast_table(
        loaded, vector, symbols=pd.Series(loaded["symbol"], index=loaded["gene_id"])
    )
    in_memory = contrast_results(dds, vector, symbols=symbols)
    pd.testing.assert_frame_equal(from_file, in_memory)
    assert (from_file["padj"] < 0.05).sum() >= 10  # the built-in effect is found


class _Payload:
    """Unpickling this runs code: it creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _npz_bytes(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_crafted_model_files_are_refused(fitted_model, tmp_path):
    dds, symbols, _ = fitted_model
    good = model_arrays(dds, symbols)
    marker = tmp_path / "code-ran"
    path = tmp_path / "m.npz"

    path.write_bytes(pickle.dumps({"dds": _Payload(marker)}))
    with pytest.raises(InputError, match="not a model file.*a Python pickle, which is") as err:
        read_model(path)
    assert str(path) in str(err.value) and "delete it and rerun" in str(err.value)
    assert not marker.exists()

    # an npz whose member is a pickled object array: np.load refuses it without pickle
    path.write_bytes(_npz_bytes(good | {"lfc": np.array([_Payload(marker)], dtype=object)}))
    with pytest.raises(InputError, match="only pickle can load"):
        read_model(path)
    assert not marker.exists()

    path.write_bytes(_npz_bytes({k: v for k, v in good.items() if k != "dispersions"}))
    with pytest.raises(InputError, match="lacks the arrays \\['format', 'dispersions'\\]"):
        read_model(path)

    write_model(good | {"dispersions": good["dispersions"][:-1]}, path)
    with pytest.raises(InputError, match="array 'dispersions' is float64 of shape"):
        read_model(path)

    write_model(good | {"counts": good["counts"].astype(float)}, path)
    with pytest.raises(InputError, match="array 'counts'"):
        read_model(path)

    path.write_bytes(b"RDX3\n" + bytes(range(256)))  # e.g. an R save() file
    with pytest.raises(InputError, match="not a model file"):
        read_model(path)

    with zipfile.ZipFile(path, "w") as archive:  # a zip, but no arrays in it
        archive.writestr("readme.txt", "hello")
    with pytest.raises(InputError, match="lacks the arrays"):
        read_model(path)


def test_contrast_job_refuses_a_pickle_in_place_of_its_model(tmp_path):
    """The rule script itself, with a tampered model file: refused, nothing written, no code."""
    marker = tmp_path / "code-ran"
    model_file = tmp_path / "results/models/m.npz"
    model_file.parent.mkdir(parents=True)
    model_file.write_bytes(pickle.dumps(_Payload(marker)))
    table = tmp_path / "results/de/treated_vs_control.tsv"
    stub = types.SimpleNamespace(
        input=types.SimpleNamespace(model=str(model_file)),
        output=types.SimpleNamespace(table=str(table)),
        log=[str(tmp_path / "job.log")],
        params=types.SimpleNamespace(
            model=model_to_dict(MODEL, MODEL.reference),
            contrast=contrast_to_dict(CONTRAST),
            de={"alpha": 0.05, "lfc_shrink": False},
        ),
        threads=1,
        rule="contrast_results",
        wildcards={"contrast": CONTRAST.name},
    )
    script = Path(__file__).resolve().parents[1] / "workflow/scripts/contrast_results.py"
    stderr = sys.stderr
    try:
        with pytest.raises(InputError, match="not a model file") as err:
            runpy.run_path(str(script), init_globals={"snakemake": stub})
    finally:
        sys.stderr.close()
        sys.stderr = stderr
        logging.basicConfig(force=True)
    assert str(model_file) in str(err.value)
    assert not marker.exists()
    assert not table.exists() and not table.parent.exists()


def test_no_pickle_in_the_workflow():
    root = Path(__file__).resolve().parents[1]
    sources = [*root.glob("workflow/**/*.py"), *root.glob("workflow/**/*.smk"), root / "Snakefile"]
    offenders = [
        str(path.relative_to(root))
        for path in sources
        if "import pickle" in path.read_text() or "pickle.load" in path.read_text()
    ]
    assert sources and offenders == []
