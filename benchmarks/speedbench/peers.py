"""DE on the same counts, models and contrasts: the project in one process, and R's tools.

Tools (each a fresh process per measurement, so start-up and reading the counts count):

* ``python_de``: :mod:`speedbench.de_one_process`, every model and contrast in one process;
* ``deseq2_r``: ``tests/r/deseq2_peer.R`` (``DESeq()`` + ``results()`` per contrast), one R
  process per model;
* ``edger_ql``, ``limma_voom``: ``tests/r/edger_limma_timing.R``, one R process per model.

The R tools get the model's design matrix and contrast vectors exactly as the workflow builds
them (:func:`msc_secretome.design.check_design`, :func:`~msc_secretome.design.contrast_vector`).
A measurement's ``wall_s`` is the sum over its processes; ``compute_s`` the seconds the tool
itself reports for fitting and testing (no start-up, no reading).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from .measure import run_measured

ROOT = Path(__file__).resolve().parents[2]
R_DIR = ROOT / "tests" / "r"
ONE_PROCESS = Path(__file__).with_name("de_one_process.py")
R_TOOLS = ("deseq2_r", "edger_ql", "limma_voom")
PACKAGES = {"deseq2_r": "DESeq2", "edger_ql": "edgeR", "limma_voom": "edgeR"}


def r_tools_available() -> dict[str, str | None]:
    """Tool -> Rscript path where R and the tool's package load, else None."""
    rscript = shutil.which("Rscript")
    found = {}
    for tool, package in PACKAGES.items():
        if rscript is None:
            found[tool] = None
            continue
        probe = subprocess.run(
            [rscript, "-e", f"suppressPackageStartupMessages(library({package}))"],
            capture_output=True,
            check=False,
        )
        found[tool] = rscript if probe.returncode == 0 else None
    return found


def prepare_inputs(counts: Path, samples: Path, contrasts: Path, folder: Path) -> list[dict]:
    """Per model: its sample sheet, design matrix and contrast vectors as TSVs in ``folder``.

    Returns one dict per model: ``name``, ``design``, ``reference`` (R's factor references,
    ``var=level,...``), ``samples``, ``design_matrix``, ``vectors`` (paths), ``contrasts``.
    """
    from msc_secretome.design import (
        check_design,
        contrast_vector,
        model_samples,
        parse_contrasts,
        parse_models,
    )
    from msc_secretome.settings import read_yaml

    spec = read_yaml(contrasts)
    models = parse_models(spec)
    parsed = parse_contrasts(spec, models)
    sheet = pd.read_csv(samples, sep="\t", dtype=str)
    folder.mkdir(parents=True, exist_ok=True)
    prepared = []
    for model in models.values():
        metadata = model_samples(sheet, model).loc[:, model.variables]
        helper = check_design(metadata, model)
        vectors = {
            c.name: contrast_vector(helper, c, model, metadata)
            for c in parsed.values()
            if c.model == model.name
        }
        paths = {key: folder / f"{model.name}_{key}.tsv" for key in ("samples", "design", "vec")}
        sheet.set_index("sample").loc[metadata.index].to_csv(paths["samples"], sep="\t")
        matrix = helper.design_matrix.copy()
        matrix.index = metadata.index
        matrix.rename_axis("sample").to_csv(paths["design"], sep="\t")
        pd.DataFrame(vectors).rename_axis("coefficient").to_csv(paths["vec"], sep="\t")
        reference = ",".join(f"{v}={metadata[v].cat.categories[0]}" for v in model.variables)
        prepared.append(
            {
                "name": model.name,
                "design": model.design,
                "reference": reference,
                "samples": paths["samples"],
                "design_matrix": paths["design"],
                "vectors": paths["vec"],
                "contrasts": list(vectors),
                "counts": counts,
            }
        )
    return prepared


def r_command(tool: str, rscript: str, model: dict, de: dict, out: Path, timing: Path) -> list:
    """The Rscript command line of one model for ``tool``."""
    prefilter = [
        f"min_count={de['prefilter']['min_count']}",
        f"min_samples={de['prefilter']['min_samples']}",
    ]
    if tool == "deseq2_r":
        return [
            rscript, str(R_DIR / "deseq2_peer.R"),
            f"counts={model['counts']}", f"samples={model['samples']}",
            f"design={model['design']}", f"reference={model['reference']}",
            f"contrasts={model['vectors']}", f"out={out}", f"timing={timing}",
            f"alpha={de['alpha']}", f"independent_filter={de['independent_filter']}",
            f"cooks_filter={de['cooks_filter']}", f"refit_cooks={de['refit_cooks']}",
            *prefilter,
        ]  # fmt: skip
    return [
        rscript, str(R_DIR / "edger_limma_timing.R"), f"method={tool}",
        f"counts={model['counts']}", f"design={model['design_matrix']}",
        f"contrasts={model['vectors']}", f"out={out}", f"timing={timing}", *prefilter,
    ]  # fmt: skip


def run_python_de(inputs: dict, folder: Path, nice: int, stats: bool) -> dict:
    """One measurement of the project's DE in one process (all models, all contrasts)."""
    command = [
        sys.executable, str(ONE_PROCESS),
        "--counts", str(inputs["counts"]), "--samples", str(inputs["samples"]),
        "--contrasts", str(inputs["contrasts"]), "--config", str(inputs["config"]),
        "--overrides", str(inputs["overrides"]),
    ]  # fmt: skip
    if stats:
        command += ["--stats", str(folder / "python_stats")]
    log = folder / "python_de.log"
    result = run_measured(command, cwd=folder, log=log, env=inputs["env"], nice=nice)
    timing = json.loads(log.read_text().strip().splitlines()[-1])
    result.pop("jobs")
    return result | {"compute_s": timing["compute_s"], "processes": 1}


def run_r_tool(tool: str, rscript: str, models: list[dict], de: dict, folder: Path, nice: int):
    """One measurement of an R tool: one process per model, one after the other."""
    total = {"wall_s": 0.0, "cpu_s": 0.0, "compute_s": 0.0, "processes": len(models)}
    peaks, loads = [], []
    for model in models:
        out, timing = (
            folder / f"{tool}_{model['name']}.tsv",
            folder / f"{tool}_{model['name']}_t.tsv",
        )
        command = r_command(tool, rscript, model, de, out, timing)
        log = folder / f"{tool}_{model['name']}.log"
        result = run_measured(command, cwd=folder, log=log, nice=nice)
        steps = pd.read_csv(timing, sep="\t").set_index("step")["seconds"]
        total["wall_s"] += result["wall_s"]
        total["cpu_s"] += result["cpu_s"]
        total["compute_s"] += float(steps.drop("read", errors="ignore").sum())
        peaks.append(result["peak_tree_rss_mb"])
        loads.append((result["load_before"], result["load_after"], result["load_mean"]))
    return total | {
        "peak_tree_rss_mb": max(peaks),
        "load_before": loads[0][0],
        "load_after": loads[-1][1],
        "load_mean": sum(x[2] for x in loads) / len(loads),
    }


def deseq2_agreement(folder: Path, models: list[dict]) -> float:
    """Lowest Pearson r of the Wald/test statistic, Python vs DESeq2 in R, over contrasts
    (meaningful when de.test is wald; NaN when either side's tables are missing)."""
    import numpy as np

    lowest = float("nan")
    for model in models:
        ours_path = folder / "python_stats" / f"{model['name']}.tsv"
        theirs_path = folder / f"deseq2_r_{model['name']}.tsv"
        if not (ours_path.is_file() and theirs_path.is_file()):
            continue
        ours = pd.read_csv(ours_path, sep="\t")
        theirs = pd.read_csv(theirs_path, sep="\t", keep_default_na=False, na_values=["NA"])
        for name, part in ours.groupby("contrast"):
            other = theirs[theirs["contrast"] == name].set_index("gene_id")["stat"]
            both = pd.concat([part.set_index("gene_id")["stat"], other], axis=1, join="inner")
            both = both.astype(float).dropna()
            if len(both) > 2:
                r = float(np.corrcoef(both.iloc[:, 0], both.iloc[:, 1])[0, 1])
                lowest = r if math.isnan(lowest) else min(lowest, r)
    return lowest
