"""A fitted model crosses the job boundary as data (npz of arrays), never as a pickle.

* ``model_arrays`` -> ``write_model`` -> ``read_model`` gives the same arrays, the same bytes
  twice, and the contrast job's Wald table from the file equals the in-memory one.
* A crafted file in place of a model (a pickle bytestream that would run code, an npz with an
  object array, a missing or mis-shaped array) is refused with an ``InputError`` naming the
  file and the fix, and no code runs.
* The model job (fit + every contrast of the model) writes the file and reads it back before
  testing, so each contrast's table is the one of the file.
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


class _Logs(list):
    """``snakemake.log`` of the model job: ``[0]`` is the job's log, ``.contrasts`` one each."""

    def __init__(self, job, contrasts):
        super().__init__([job, *contrasts])
        self.contrasts = contrasts


def test_model_job_writes_the_fit_and_each_contrast_with_its_own_log(tmp_path):
    """The rule script: the model file, then each contrast's table (as the Wald/QL tables of
    the file) and a log per contrast naming that contrast only."""
    import anndata as ad

    rng = np.random.default_rng(5)
    obs = pd.DataFrame(
        {"condition": ["control", "treated"] * 4, "batch": ["b1"] * 4 + ["b2"] * 4},
        index=pd.Index([f"s{i}" for i in range(8)]),
    )
    mu = rng.gamma(2.0, 100.0, size=200)[None, :] * np.where(
        (obs["condition"] == "treated").to_numpy()[:, None] & (np.arange(200) < 20), 4.0, 1.0
    )
    counts = rng.negative_binomial(5, 5 / (5 + mu)).astype(np.int64)
    genes = pd.Index([f"G{i}" for i in range(200)])
    adata = ad.AnnData(counts, obs=obs, var=pd.DataFrame({"symbol": genes}, index=genes))
    adata.write_h5ad(tmp_path / "experiment.h5ad")
    batch = Contrast("batch_b2_vs_b1", "m", "compare", (("batch", "b2", "b1"),))
    contrasts = [CONTRAST, batch]
    tests = {CONTRAST.name: "qlf", batch.name: "wald"}
    tables = [tmp_path / f"de/{c.name}.tsv" for c in contrasts]
    logs = [tmp_path / f"logs/{c.name}.log" for c in contrasts]
    (tmp_path / "logs").mkdir()
    de = {
        "alpha": 0.05, "prefilter": {"min_count": 10, "min_samples": 3},
        "size_factors": "ratio", "refit_cooks": True, "engine": "batched",
        "dispersion_prior_seed": 2, "fit_type": "parametric", "independent_filter": True,
        "cooks_filter": True, "lfc_threshold": 0.0, "lfc_shrink": False,
    }  # fmt: skip
    stub = types.SimpleNamespace(
        input=types.SimpleNamespace(experiment=str(tmp_path / "experiment.h5ad")),
        output=types.SimpleNamespace(
            model=str(tmp_path / "models/m.npz"), tables=[str(t) for t in tables]
        ),
        log=_Logs(str(tmp_path / "logs/fit.log"), [str(log) for log in logs]),
        params=types.SimpleNamespace(
            model=model_to_dict(MODEL, MODEL.reference),
            contrasts=[contrast_to_dict(c) for c in contrasts],
            tests=tests,
            de=de,
        ),
        threads=1,
        rule="differential_expression_m",
        wildcards={},
    )
    script = Path(__file__).resolve().parents[1] / "workflow/scripts/fit_and_test_model.py"
    stderr = sys.stderr
    try:
        runpy.run_path(str(script), init_globals={"snakemake": stub})
    finally:
        sys.stderr.close()
        sys.stderr = stderr
        logging.basicConfig(force=True)
    fitted = read_model(tmp_path / "models/m.npz")
    metadata = model_metadata(fitted)
    helper = check_design(metadata, MODEL)
    for contrast, table, log in zip(contrasts, tables, logs, strict=True):
        expected = contrast_table(
            fitted, contrast_vector(helper, contrast, MODEL, metadata), test=tests[contrast.name],
            symbols=pd.Series(fitted["symbol"], index=fitted["gene_id"]),
        )  # fmt: skip
        written = pd.read_csv(table, sep="\t", keep_default_na=False, na_values=[""])
        np.testing.assert_allclose(
            written["pvalue"].to_numpy(float), expected["pvalue"].to_numpy(), rtol=1e-7
        )
        assert list(written["gene_id"]) == list(expected["gene_id"])
        text = log.read_text()
        other = next(c.name for c in contrasts if c is not contrast)
        assert f"contrast {contrast.name}:" in text and other not in text
        assert f"compute: {tests[contrast.name]} test" in text
    fit_log = (tmp_path / "logs/fit.log").read_text()
    assert "compute: fit" in fit_log and all(c.name in fit_log for c in contrasts)
    qlf_table = pd.read_csv(tables[0], sep="\t")
    assert (qlf_table["padj"] < 0.05).sum() >= 5  # the planted effect is found


def test_no_pickle_in_the_workflow():
    root = Path(__file__).resolve().parents[1]
    sources = [*root.glob("workflow/**/*.py"), *root.glob("workflow/**/*.smk"), root / "Snakefile"]
    offenders = [
        str(path.relative_to(root))
        for path in sources
        if "import pickle" in path.read_text() or "pickle.load" in path.read_text()
    ]
    assert sources and offenders == []
