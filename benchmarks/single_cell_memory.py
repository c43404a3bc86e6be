"""Memory and time of the single-cell steps at atlas scale (default 100,000 cells x 20,000 genes).

Each stage runs in its own Python process (as a Snakemake job would), so its peak resident set
size (RSS) is measured on its own: the parent reads the child's ``ru_maxrss`` from
``os.wait4``. The child reports wall times and its peak RSS after imports and after reading.

Stages:

* ``simulate``: :func:`simulate_single_cell_experiment` (sparse, ~92% zeros at 20,000 genes),
  writes ``cells.h5ad``, a seeded ``--subsample``-cell ``cells_sub.h5ad`` and ``samples.tsv``;
* ``read``: :func:`read_single_cell` of ``cells.h5ad`` (counts check included);
* ``qc``: read + :func:`check_obs_columns` + :func:`cell_qc`;
* ``pseudobulk``: read + :func:`check_obs_columns` + :func:`pseudobulk`;
* ``scores_sub`` / ``scores_all``: read + :func:`cell_programme_scores` (the 34 built-in
  programmes) on the subsample / on all cells;
* ``embed_sub``: read + :func:`embed` (UMAP) on the subsample (``--no-embed`` skips it);
* ``embed_all``: the same on all cells, only with ``--embed-all``.

Usage (from the repository root)::

    python benchmarks/single_cell_memory.py [--n-cells 100000] [--n-genes 20000]
        [--subsample 20000] [--workdir DIR] [--keep] [--no-embed] [--embed-all]
        [--stages read,qc]  # reuse the data of an earlier run in --workdir

Prints a table and writes ``single_cell_memory.tsv`` into ``--workdir`` (default: a temporary
folder, removed at the end unless ``--keep``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

STAGES = (
    "simulate",
    "read",
    "qc",
    "pseudobulk",
    "scores_sub",
    "scores_all",
    "embed_sub",
    "embed_all",
)


def peak_rss_mb() -> float:
    """Peak RSS of this process so far, in MB (Linux reports ru_maxrss in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_stage(stage: str, workdir: Path, args: argparse.Namespace) -> dict:
    """Body of one stage (runs in the child process); returns its measurements."""
    import numpy as np
    import pandas as pd

    from msc_secretome import cell_scores, pseudobulk, single_cell_reading
    from msc_secretome import single_cell as scm
    from msc_secretome.catalogue import catalogue_gene_sets, read_catalogue

    result: dict = {"stage": stage, "rss_after_imports_mb": peak_rss_mb()}
    catalogue = read_catalogue()
    full, sub = workdir / "cells.h5ad", workdir / "cells_sub.h5ad"
    if stage == "simulate":
        from msc_secretome.simulate_single_cell import simulate_single_cell_experiment

        start = time.perf_counter()
        sim = simulate_single_cell_experiment(
            catalogue,
            n_cells_per_sample=math.ceil(args.n_cells / 18),
            n_genes=args.n_genes,
            seed=args.seed,
        )
        adata = sim.adata
        result["simulate_s"] = time.perf_counter() - start
        result["n_cells"], result["n_genes"] = adata.n_obs, adata.n_vars
        result["nnz"] = int(adata.X.nnz)
        result["zero_fraction"] = 1 - adata.X.nnz / (adata.n_obs * adata.n_vars)
        result["median_genes_per_cell"] = float(np.median(adata.X.getnnz(axis=1)))
        start = time.perf_counter()
        adata.write_h5ad(full)
        rng = np.random.default_rng(args.seed)
        chosen = np.sort(rng.choice(adata.n_obs, min(args.subsample, adata.n_obs), replace=False))
        adata[chosen].copy().write_h5ad(sub)
        sim.samples.to_csv(workdir / "samples.tsv", sep="\t", index=False)
        result["write_s"] = time.perf_counter() - start
        result["h5ad_mb"] = full.stat().st_size / 2**20
        result["stage_s"] = result["simulate_s"] + result["write_s"]
        result["peak_rss_mb"] = peak_rss_mb()
        return result

    path = sub if stage.endswith("_sub") else full
    start = time.perf_counter()
    adata = single_cell_reading.read_single_cell(path)
    result["read_s"] = time.perf_counter() - start
    result["rss_after_read_mb"] = peak_rss_mb()
    result["n_cells"], result["n_genes"], result["nnz"] = adata.n_obs, adata.n_vars, adata.X.nnz
    samples = pd.read_csv(workdir / "samples.tsv", sep="\t", dtype=str)
    start = time.perf_counter()
    if stage == "qc":
        adata = scm.check_obs_columns(adata, "sample", "cell_type", samples, str(path))
        kept, table = scm.cell_qc(adata, min_genes=200, min_counts=500, max_mito_fraction=0.2)
        result["cells_kept"] = int(table["cells_kept"].sum())
    elif stage == "pseudobulk":
        adata = scm.check_obs_columns(adata, "sample", "cell_type", samples, str(path))
        counts, sheet, dropped = pseudobulk.pseudobulk(adata, samples, min_cells=10)
        result["pseudo_samples"] = counts.shape[1]
    elif stage in ("scores_sub", "scores_all"):
        scores = cell_scores.cell_programme_scores(adata, catalogue_gene_sets(catalogue), seed=0)
        result["programmes"] = scores.shape[1]
    elif stage in ("embed_sub", "embed_all"):
        coords = cell_scores.embed(adata, seed=0)
        result["embedded_cells"] = coords.shape[0]
    elif stage != "read":
        raise ValueError(f"unknown stage {stage!r}")
    result["stage_s"] = time.perf_counter() - start
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def launch(stage: str, workdir: Path, args: argparse.Namespace) -> dict:
    """Run one stage in a child process; add its wall time and kernel-reported peak RSS."""
    command = [
        sys.executable,
        __file__,
        "--stage",
        stage,
        "--workdir",
        str(workdir),
        "--n-cells",
        str(args.n_cells),
        "--n-genes",
        str(args.n_genes),
        "--subsample",
        str(args.subsample),
        "--seed",
        str(args.seed),
    ]
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        return {"stage": stage, "error": f"exit code {child.returncode}", "process_s": wall}
    result = json.loads(output.strip().splitlines()[-1])
    result["process_s"] = wall
    result["process_peak_rss_mb"] = usage.ru_maxrss / 1024
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-cells", type=int, default=100_000)
    parser.add_argument("--n-genes", type=int, default=20_000)
    parser.add_argument("--subsample", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--no-embed", action="store_true", help="skip the UMAP stages")
    parser.add_argument("--embed-all", action="store_true", help="also UMAP all cells")
    parser.add_argument("--stages", help="comma-separated stages to run (default: all)")
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.stage:  # child process
        print(json.dumps(run_stage(args.stage, args.workdir, args)))
        return 0

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sc_memory_"))
    workdir.mkdir(parents=True, exist_ok=True)
    stages = [
        s
        for s in STAGES
        if not (args.no_embed and s.startswith("embed")) and (args.embed_all or s != "embed_all")
    ]
    if args.stages:
        wanted = args.stages.split(",")
        unknown = [s for s in wanted if s not in STAGES]
        if unknown:
            parser.error(f"unknown stage(s) {unknown}; stages: {list(STAGES)}")
        stages = [s for s in STAGES if s in wanted]
    results = []
    try:
        for stage in stages:
            result = launch(stage, workdir, args)
            results.append(result)
            print(json.dumps(result), file=sys.stderr, flush=True)
            if "error" in result and stage == "simulate":
                break
    finally:
        import pandas as pd

        table = pd.DataFrame(results)
        columns = [
            "stage",
            "n_cells",
            "n_genes",
            "nnz",
            "read_s",
            "stage_s",
            "process_s",
            "rss_after_imports_mb",
            "rss_after_read_mb",
            "process_peak_rss_mb",
        ]
        shown = table.reindex(columns=columns)
        print(shown.to_string(index=False, float_format=lambda x: f"{x:,.1f}"))
        extra = [c for c in table.columns if c not in columns and c != "peak_rss_mb"]
        if extra:
            print(table.loc[:, ["stage", *extra]].to_string(index=False))
        table.to_csv(workdir / "single_cell_memory.tsv", sep="\t", index=False)
        if args.keep or args.workdir:
            print(f"results and data in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
