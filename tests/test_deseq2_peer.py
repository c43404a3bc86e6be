"""Live peer check: the workflow's DE (PyDESeq2) against DESeq2 in R on the bundled example.

The simulated example (``simulate_bulk_experiment``, 20,000 genes, 36 samples) is fitted with
the two models of ``config/contrasts.yaml`` (``~ batch + medium * therapy`` per cell type,
references medium=control, therapy=none, batch=b1) and every one of its 14 contrasts is tested
in both tools with the settings of ``config/config.yaml`` (prefilter, alpha, Cook's filter,
outlier replacement, independent filtering). R gets one ``DESeq()`` per model and
``results(dds, contrast=<numeric vector>, alpha=alpha)`` per contrast, the vector being the one
the workflow builds from the cells the contrast names (``design.contrast_vector``).

Per contrast it asserts:

* Pearson correlation of the Wald statistic (genes where both are finite) >= 0.999;
* the statistics give the same calls: BH over the genes R's independent filter kept, our
  p-values called at padj < alpha against R's calls, Jaccard >= 0.98 (measured: 1.0);
* end to end, the genes called at padj < alpha by each tool: Jaccard >= 0.98, or at most one
  gene apart. DESeq2's independent filter picks the first baseMean quantile whose rejection
  count exceeds (lowess maximum - residual RMS), a discontinuous choice: on
  ``cancer_cm_x_chemo`` (31 calls) R's curve and ours differ by one rejection at two of 50
  quantiles, the threshold moves from 30.87 to 31.00 and the chosen quantile from 19 to 22,
  which moves one gene (p = 1.926e-4 here, 1.922e-4 in R) across padj = 0.05. PyDESeq2's own
  per-gene engine lands on R's side there by the same kind of chance (its curve differs from
  R's at three quantiles), with p-values farther from R's (median |log p difference| 1.2e-4
  against 6.5e-5 for the batched engine).

It prints the per-contrast table and the wall time of each tool per model; the table also
shows the Jaccard index after recomputing PyDESeq2's padj with ``independent_filter_padj``
(DESeq2's filter with R's lowess), which PyDESeq2's own lowess does not reproduce. Needs
``Rscript`` with DESeq2 (Debian: ``apt-get install --no-install-recommends r-bioc-deseq2``);
skips otherwise.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import false_discovery_control

from msc_secretome.catalogue import read_catalogue
from msc_secretome.design import check_design, contrast_vector, model_samples
from msc_secretome.differential_expression import (
    contrast_results,
    fit_model,
    prefilter_mask,
)
from msc_secretome.settings import parse_contrasts, parse_models, read_yaml
from msc_secretome.simulate import EXAMPLE_CONTRASTS, simulate_bulk_experiment
from msc_secretome.wald import _r_lowess, independent_filter_padj

pytestmark = pytest.mark.rpeer

PEER_SCRIPT = Path(__file__).resolve().parent / "r" / "deseq2_peer.R"
MIN_PEARSON_STAT = 0.999
MIN_JACCARD_CALLS = 0.98
MAX_CALLS_APART = 1  # one call may flip with the independent filter's quantile (docstring)


def _require_deseq2() -> str:
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("Rscript not found (install r-base-core and r-bioc-deseq2)")
    probe = subprocess.run(
        [rscript, "-e", "suppressPackageStartupMessages(library(DESeq2))"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"library(DESeq2) failed in R: {probe.stderr.strip()[-300:]}")
    return rscript


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


@pytest.fixture(scope="module")
def peer_results(project_root, tmp_path_factory):
    rscript = _require_deseq2()
    workdir = tmp_path_factory.mktemp("deseq2_peer")
    config = read_yaml(project_root / "config" / "config.yaml")
    de = config["de"]
    contrasts_file = read_yaml(project_root / "config" / "contrasts.yaml")
    models = parse_models(contrasts_file)
    contrasts = parse_contrasts(contrasts_file, models)
    assert sorted(contrasts) == sorted(EXAMPLE_CONTRASTS)

    experiment = simulate_bulk_experiment(read_catalogue(), n_genes=20000)
    counts_path = workdir / "counts.tsv"
    experiment.counts.to_csv(counts_path, sep="\t", index_label="gene_id")
    samples = experiment.samples

    python_tables, r_tables, timings = {}, {}, []
    for model in models.values():
        metadata = model_samples(samples, model).loc[:, model.variables]
        helper = check_design(metadata, model)
        mine = [c for c in contrasts.values() if c.model == model.name]
        vectors = {c.name: contrast_vector(helper, c, model, metadata) for c in mine}

        counts = experiment.counts.T.loc[metadata.index]
        kept = prefilter_mask(counts, **de["prefilter"])
        start = time.perf_counter()
        dds = fit_model(
            counts.loc[:, kept],
            metadata,
            model.design,
            size_factors=de["size_factors"],
            refit_cooks=de["refit_cooks"],
            n_cpus=2,
        )
        fitted = time.perf_counter()
        for name, vector in vectors.items():
            python_tables[name] = contrast_results(
                dds,
                vector,
                alpha=de["alpha"],
                independent_filter=de["independent_filter"],
                cooks_filter=de["cooks_filter"],
            ).set_index("gene_id")
        python_seconds = (fitted - start, time.perf_counter() - fitted)

        sheet_path = workdir / f"{model.name}_samples.tsv"
        samples.set_index("sample").loc[metadata.index].to_csv(sheet_path, sep="\t")
        vectors_path = workdir / f"{model.name}_contrasts.tsv"
        pd.DataFrame(vectors).rename_axis("coefficient").to_csv(vectors_path, sep="\t")
        out_path = workdir / f"{model.name}_r_results.tsv"
        timing_path = workdir / f"{model.name}_r_timing.tsv"
        reference = ",".join(f"{v}={metadata[v].cat.categories[0]}" for v in model.variables)
        start = time.perf_counter()
        run = subprocess.run(
            [
                rscript,
                str(PEER_SCRIPT),
                f"counts={counts_path}",
                f"samples={sheet_path}",
                f"design={model.design}",
                f"reference={reference}",
                f"contrasts={vectors_path}",
                f"out={out_path}",
                f"timing={timing_path}",
                f"alpha={de['alpha']}",
                f"min_count={de['prefilter']['min_count']}",
                f"min_samples={de['prefilter']['min_samples']}",
                f"independent_filter={de['independent_filter']}",
                f"cooks_filter={de['cooks_filter']}",
                f"refit_cooks={de['refit_cooks']}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        r_wall = time.perf_counter() - start
        assert run.returncode == 0, run.stderr[-2000:]
        r_steps = pd.read_csv(timing_path, sep="\t").set_index("step")["seconds"]
        table = pd.read_csv(out_path, sep="\t", keep_default_na=False, na_values=["NA"])
        for name, part in table.groupby("contrast"):
            r_tables[name] = part.drop(columns="contrast").set_index("gene_id")
        timings.append(
            {
                "model": model.name,
                "genes": int(kept.sum()),
                "pydeseq2_fit_s": python_seconds[0],
                "pydeseq2_contrasts_s": python_seconds[1],
                "r_DESeq_s": float(r_steps["DESeq"]),
                "r_results_s": float(r_steps["results"]),
                "r_wall_s": r_wall,
            }
        )
    return python_tables, r_tables, pd.DataFrame(timings), de["alpha"]


def _agreement(python: pd.DataFrame, r: pd.DataFrame, alpha: float) -> dict:
    assert python.index.sort_values().equals(r.index.sort_values()), "different genes tested"
    r = r.loc[python.index]
    finite = np.isfinite(python["stat"]) & np.isfinite(r["stat"])
    called_py = set(python.index[python["padj"] < alpha])
    called_r = set(r.index[r["padj"] < alpha])
    r_filter, _ = independent_filter_padj(python["baseMean"], python["pvalue"], alpha)
    called_r_filter = set(python.index[r_filter < alpha])
    kept_by_r = r["padj"].notna() & python["pvalue"].notna()
    at_r_filter = pd.Series(np.nan, index=python.index)
    at_r_filter[kept_by_r] = false_discovery_control(python.loc[kept_by_r, "pvalue"], method="bh")
    called_at_r_filter = set(python.index[at_r_filter < alpha])
    lfc = (python["log2FoldChange"] - r["log2FoldChange"]).abs()
    return {
        "pearson_stat": float(np.corrcoef(python.loc[finite, "stat"], r.loc[finite, "stat"])[0, 1]),
        "jaccard_calls": _jaccard(called_py, called_r),
        "calls_apart": len(called_py ^ called_r),
        "jaccard_at_r_filter": _jaccard(called_at_r_filter, called_r),
        "called_py": len(called_py),
        "called_r": len(called_r),
        "both": len(called_py & called_r),
        "padj_na_py": int(python["padj"].isna().sum()),
        "padj_na_r": int(r["padj"].isna().sum()),
        "jaccard_r_filter": _jaccard(called_r_filter, called_r),
        "max_dlfc": float(lfc.max()),
    }


@pytest.mark.slow
def test_pydeseq2_agrees_with_deseq2_on_every_example_contrast(peer_results):
    python_tables, r_tables, timings, alpha = peer_results
    assert sorted(python_tables) == sorted(r_tables) == sorted(EXAMPLE_CONTRASTS)
    rows = [
        {"contrast": name, **_agreement(python_tables[name], r_tables[name], alpha)}
        for name in EXAMPLE_CONTRASTS
    ]
    table = pd.DataFrame(rows).set_index("contrast")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(f"\nPyDESeq2 vs DESeq2, padj < {alpha}:")
        print(table.to_string(float_format=lambda x: f"{x:.5f}"))
        print("\nwall time (s) per model:")
        print(timings.to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    weak = table[
        (table["pearson_stat"] < MIN_PEARSON_STAT)
        | (table["jaccard_at_r_filter"] < MIN_JACCARD_CALLS)
        | ((table["jaccard_calls"] < MIN_JACCARD_CALLS) & (table["calls_apart"] > MAX_CALLS_APART))
    ]
    assert weak.empty, weak.to_string()


def test_lowess_port_is_r_lowess(tmp_path):
    """``independent_filter_padj`` smooths with a port of R's lowess: same numbers as R."""
    rscript = _require_deseq2()
    rng = np.random.default_rng(7)
    x = np.linspace(0.1, 0.95, 50)
    y = np.r_[np.linspace(100, 300, 25), np.full(25, 290.0)] + rng.normal(0, 10, 50)
    data = tmp_path / "xy.csv"
    pd.DataFrame({"x": x, "y": y}).to_csv(data, index=False)
    fitted = tmp_path / "fitted.csv"
    code = (
        f'd <- read.csv("{data}"); '
        f"write.csv(data.frame(a = lowess(d$x, d$y, f = 1/5)$y, b = lowess(d$x, d$y)$y), "
        f'"{fitted}", row.names = FALSE)'
    )
    subprocess.run([rscript, "-e", code], check=True, capture_output=True)
    r = pd.read_csv(fitted)
    np.testing.assert_allclose(_r_lowess(x, y, span=1 / 5), r["a"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(_r_lowess(x, y), r["b"], rtol=0, atol=1e-9)
