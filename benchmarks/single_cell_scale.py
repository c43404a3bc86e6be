"""Time and peak memory of the single-cell rules from 10^4 to 10^6 cells (issue #19).

One command::

    python benchmarks/single_cell_scale.py [--sizes 20000,100000] [--n-genes 30000]
        [--genes-per-cell 1500] [--repeats 3] [--stages pseudobulk,scores,before]
        [--cache-dir DIR] [--format h5ad|mtx|mtx-shuffled]

For each size, a simulated h5ad (cells x genes float32 CSR, uncompressed, as ``write_h5ad``
writes it) is written once, chunk by chunk, into ``--cache-dir`` (default
``$TMPDIR/msc_secretome_single_cell_scale``; ~8 bytes per stored count: ~12 GB at 10^6 cells
x 1,500 detected genes) and reused by later runs. ``--format mtx`` writes the same cells as a
Cell Ranger 3 ``filtered_feature_bc_matrix`` folder instead (gzipped Matrix Market, entries
sorted by cell; ``mtx-shuffled``: permuted within blocks of 2**21 lines, as tools that do not
sort may write them; ~4.5 bytes per stored count), with the cell annotation table beside it.
Cells have ~``--genes-per-cell`` detected genes (10x UMI data: 1,000-3,000; default 1,500),
counts 1 + geometric, 13 ``MT-`` genes, 18 samples sorted as concatenated libraries, three cell
types, ~4% low-quality cells.

Stages, each in its own Python process (as a Snakemake job), interleaved over ``--repeats``:

* ``pseudobulk``: the rule ``pseudobulk_cells`` (``open_cells``, ``prepare_cells``,
  ``pseudobulk_cells``, the tables written): one chunked pass over the file;
* ``scores``: the rule ``cell_programme_scores`` (a chunked QC pass, the seeded subsample of
  ``--embedding-cells`` kept cells read by rows, the catalogue's per-cell programme scores and
  UMAP, the table written);
* ``before``: the previous whole-matrix path of ``pseudobulk_cells`` (``read_single_cell``,
  ``cell_qc``, ``qc_failures``, ``pseudobulk``), only up to ``--before-max-cells`` cells
  (needs ~8 bytes x stored counts of memory).

Each row of ``benchmarks/results/single_cell_scale.tsv`` (rows of the same size and stage from
an earlier run are replaced, others kept) has the wall time of the process, its peak RSS (the
kernel's ``ru_maxrss``) and the peak RSS of the process tree (sampled every 0.1 s), and the
1-minute load average before and after. ``single_cell_scale_summary.tsv`` has min/median/max.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

RESULTS = ROOT / "benchmarks" / "results"
STAGES = ("pseudobulk", "scores", "before")
CHILDREN = (*STAGES, "simulate")
N_SAMPLES = 18
CELL_TYPES = ("cancer", "normal", "fibroblast")
N_MITO = 13
QC = {"min_genes": 200, "min_counts": 300, "max_mito_fraction": 0.2, "mito_prefix": "MT-"}
SETTINGS = {
    "layer": None,
    "barcode_column": "barcode",
    "sample_column": "sample",
    "cell_type_column": "cell_type",
    "cell_types": list(CELL_TYPES),
    "min_cells": 20,
    "qc": QC,
}


# --------------------------------------------------------------------------------------------
# Simulated input, written once
# --------------------------------------------------------------------------------------------


def cache_path(
    cache_dir: Path, n_cells: int, n_genes: int, genes_per_cell: int, seed: int, fmt: str = "h5ad"
) -> Path:
    stem = f"cells_{n_cells}x{n_genes}_g{genes_per_cell}_s{seed}"
    return cache_dir / (f"{stem}.h5ad" if fmt == "h5ad" else f"{stem}_{fmt.replace('-', '_')}")


def simulated_cells(n_cells: int, n_genes: int, genes_per_cell: int, seed: int):
    """``(genes, samples, obs, chunks)``: the simulated cells, ``chunks`` yielding ``(start,
    row, gene, values)`` per 20,000 cells (rows within the chunk, sorted by row then gene)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    # gene detection probabilities: log-normal popularity, mitochondrial genes common; genes
    # are drawn from a lookup table (each gene repeated in proportion to its weight)
    weight = rng.lognormal(0.0, 1.5, n_genes)
    weight[:N_MITO] = np.quantile(weight, 0.99)
    repeats = np.maximum(1, np.round(weight / weight.sum() * (1 << 22)).astype(np.int64))
    lookup = np.repeat(np.arange(n_genes, dtype=np.int64), repeats)
    genes = [f"MT-G{i}" for i in range(N_MITO)] + [f"GENE{i}" for i in range(N_MITO, n_genes)]
    per_sample = np.diff(np.linspace(0, n_cells, N_SAMPLES + 1).round().astype(np.int64))
    samples = [f"S{i + 1:02d}" for i in range(N_SAMPLES)]
    obs = pd.DataFrame(
        {
            "sample": pd.Categorical(np.repeat(samples, per_sample), categories=samples),
            "cell_type": pd.Categorical(
                rng.choice(CELL_TYPES, n_cells, p=[0.5, 0.3, 0.2]), categories=list(CELL_TYPES)
            ),
        },
        index=pd.Index([f"C{i:07d}-1" for i in range(n_cells)], name="barcode"),
    )

    def chunks():
        for start in range(0, n_cells, 20_000):
            size = min(start + 20_000, n_cells) - start
            low = rng.random(size) < 0.04  # low-quality cells: few genes
            wanted = rng.poisson(genes_per_cell * 1.2, size)  # ~1/6 of draws repeat a gene
            wanted[low] = rng.integers(20, 250, int(low.sum()))
            row = np.repeat(np.arange(size, dtype=np.int64), wanted)
            key = row * n_genes + lookup[rng.integers(0, lookup.size, row.size)]
            key.sort()  # (np.unique is far slower here)
            first = np.empty(key.size, dtype=bool)
            first[:1] = True
            np.not_equal(key[1:], key[:-1], out=first[1:])
            key = key[first]
            row, gene = key // n_genes, key % n_genes
            values = rng.geometric(0.55, key.size).astype(np.float32)
            broken = rng.random(size) < 0.01  # dying cells: mitochondrial counts x 30
            values[(gene < N_MITO) & broken[row]] *= 30
            yield start, row, gene, values

    return genes, samples, obs, chunks()


def write_samples(path: Path, samples: list[str]) -> None:
    import pandas as pd

    pd.DataFrame({"sample": samples, "medium": ["control", "msc_cm"] * (N_SAMPLES // 2)}).to_csv(
        path.with_suffix(".samples.tsv"), sep="\t", index=False
    )


def write_simulated_h5ad(
    path: Path, n_cells: int, n_genes: int, genes_per_cell: int, seed: int
) -> dict:
    """Write a cells x genes count h5ad chunk by chunk (memory: one chunk); returns its stats."""
    import h5py
    import numpy as np
    import pandas as pd
    from anndata.io import write_elem

    genes, samples, obs, chunks = simulated_cells(n_cells, n_genes, genes_per_cell, seed)
    index_dtype = "int32" if n_cells * genes_per_cell * 1.3 < 2**31 else "int64"
    tmp = path.with_suffix(".partial")
    stored = 0
    with h5py.File(tmp, "w") as handle:
        handle.attrs["encoding-type"] = "anndata"
        handle.attrs["encoding-version"] = "0.1.0"
        write_elem(handle, "obs", obs)
        write_elem(handle, "var", pd.DataFrame(index=pd.Index(genes, name="gene")))
        group = handle.create_group("X")
        group.attrs["encoding-type"] = "csr_matrix"
        group.attrs["encoding-version"] = "0.1.0"
        group.attrs["shape"] = np.array([n_cells, n_genes])
        data = group.create_dataset("data", (0,), "float32", maxshape=(None,), chunks=(1 << 20,))
        indices = group.create_dataset(
            "indices", (0,), index_dtype, maxshape=(None,), chunks=(1 << 20,)
        )
        indptr = np.zeros(n_cells + 1, dtype=index_dtype)
        for start, row, gene, values in chunks:
            size = min(start + 20_000, n_cells) - start
            counts = np.bincount(row, minlength=size)
            indptr[start + 1 : start + size + 1] = stored + np.cumsum(counts)
            data.resize((stored + gene.size,))
            indices.resize((stored + gene.size,))
            data[stored:] = values
            indices[stored:] = gene.astype(index_dtype)
            stored += gene.size
        group.create_dataset("indptr", data=indptr)
        for name in ("layers", "obsm", "obsp", "uns", "varm", "varp"):
            write_elem(handle, name, {})
    os.replace(tmp, path)
    write_samples(path, samples)
    return {"stored_counts": stored, "genes_per_cell": stored / n_cells}


def _text_lines(columns) -> bytes:
    """``"a b c\\n"`` lines of the columns' non-negative integers (vectorised, no Python loop
    over lines)."""
    import numpy as np

    parts, keep = [], []
    for j, column in enumerate(columns):
        column = np.asarray(column, dtype=np.int64)
        width = len(str(int(column.max()))) if column.size else 1
        digits = np.empty((column.size, width), dtype=np.uint8)
        rest = column.copy()
        for k in range(width - 1, -1, -1):
            digits[:, k] = 48 + rest % 10
            rest //= 10
        n_digits = 1 + sum((column >= 10**k).astype(np.int64) for k in range(1, width))
        parts.append(digits)
        keep.append(np.arange(width)[None, :] >= (width - n_digits)[:, None])
        end = b"\n" if j == len(columns) - 1 else b" "
        parts.append(np.full((column.size, 1), end[0], dtype=np.uint8))
        keep.append(np.ones((column.size, 1), dtype=bool))
    return np.concatenate(parts, axis=1)[np.concatenate(keep, axis=1)].tobytes()


def write_simulated_mtx(
    folder: Path, n_cells: int, n_genes: int, genes_per_cell: int, seed: int, order: str
) -> dict:
    """The same cells as :func:`write_simulated_h5ad` as a Cell Ranger 3 folder, streamed.

    ``matrix.mtx.gz`` (genes x cells, entries by cell then gene as Cell Ranger writes them, or
    with ``order="shuffled"`` permuted within each block of 2**21 lines, so that cells
    straddle blocks), ``features.tsv.gz``, ``barcodes.tsv.gz``; beside the folder the sample
    sheet and the cell annotation table (``.cells.tsv``: barcode, sample, cell_type). The
    size line needs the number of entries, known at the end: the header is its own gzip member
    before the entries' (a multi-member gzip file, read as one stream).
    """
    import gzip

    import numpy as np

    genes, samples, obs, chunks = simulated_cells(n_cells, n_genes, genes_per_cell, seed)
    rng = np.random.default_rng(seed + 1)
    tmp = folder.with_suffix(".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    stored = 0
    block = 1 << 21
    with gzip.open(tmp / "entries.gz", "wb", compresslevel=1) as out:
        for start, row, gene, values in chunks:
            for a in range(0, gene.size, block):
                part = slice(a, a + block)
                cell, g, v = row[part] + start + 1, gene[part] + 1, values[part]
                if order == "shuffled":
                    shuffle = rng.permutation(g.size)
                    cell, g, v = cell[shuffle], g[shuffle], v[shuffle]
                out.write(_text_lines([g, cell, v]))
            stored += gene.size
    header = (
        "%%MatrixMarket matrix coordinate integer general\n"
        '%metadata_json: {"software_version": "cellranger-3.1.0", "format_version": 2}\n'
        f"{n_genes} {n_cells} {stored}\n"
    )
    with open(tmp / "matrix.mtx.gz", "wb") as final:
        final.write(gzip.compress(header.encode(), mtime=0))
        with open(tmp / "entries.gz", "rb") as body:
            shutil.copyfileobj(body, final, 1 << 24)
    (tmp / "entries.gz").unlink()
    features = "".join(f"ENSG{i + 1:011d}\t{g}\tGene Expression\n" for i, g in enumerate(genes))
    (tmp / "features.tsv.gz").write_bytes(gzip.compress(features.encode(), mtime=0))
    barcodes = "".join(f"{b}\n" for b in obs.index)
    (tmp / "barcodes.tsv.gz").write_bytes(gzip.compress(barcodes.encode(), mtime=0))
    os.replace(tmp, folder)
    write_samples(folder, samples)
    obs.astype(str).reset_index().to_csv(folder.with_suffix(".cells.tsv"), sep="\t", index=False)
    return {"stored_counts": stored, "genes_per_cell": stored / n_cells}


# --------------------------------------------------------------------------------------------
# Stages (child processes)
# --------------------------------------------------------------------------------------------


def run_stage(stage: str, path: Path, out: Path, args) -> dict:
    """One stage in this (child) process: the rule's code path on ``path``; writes into ``out``."""
    import pandas as pd

    from msc_secretome.tables import write_tsv, write_tsv_gz

    samples = pd.read_csv(path.with_suffix(".samples.tsv"), sep="\t", dtype=str)
    # a 10x folder has no obs: its cells' samples and types are in the table beside it
    annotation = str(path.with_suffix(".cells.tsv")) if path.is_dir() else None
    out.mkdir(parents=True, exist_ok=True)
    result: dict = {}
    if stage == "pseudobulk":
        from msc_secretome.cell_annotation import dropped_cells_table
        from msc_secretome.cell_pipeline import prepare_cells, pseudobulk_cells
        from msc_secretome.cell_source import open_cells

        with open_cells(path) as source:
            prepared = prepare_cells(source, samples, SETTINGS, annotation_path=annotation)
            res = pseudobulk_cells(source, prepared, samples, qc=QC, min_cells=20)
        write_tsv(res.cell_qc, out / "cell_qc.tsv")
        write_tsv_gz(dropped_cells_table(res.dropped_cells), out / "dropped_cells.tsv.gz")
        write_tsv(res.sheet, out / "pseudobulk_samples.tsv")
        write_tsv_gz(res.counts, out / "pseudobulk_counts.tsv.gz", index=True)
        result.update(cells_kept=res.n_kept, pseudo_samples=res.counts.shape[1])
    elif stage == "scores":
        from msc_secretome.catalogue import catalogue_gene_sets, read_catalogue
        from msc_secretome.cell_pipeline import embedding_subsample, prepare_cells
        from msc_secretome.cell_scores import cell_programme_scores, embed
        from msc_secretome.cell_source import open_cells

        with open_cells(path) as source:
            prepared = prepare_cells(source, samples, SETTINGS, annotation_path=annotation)
            kept = embedding_subsample(
                source, prepared, qc=QC, max_cells=args.embedding_cells, seed=args.seed
            )
        scores = cell_programme_scores(kept, catalogue_gene_sets(read_catalogue()), seed=args.seed)
        umap = embed(kept, seed=args.seed)
        table = kept.obs.loc[:, ["sample", "cell_type"]].astype(str).join(umap).join(scores)
        write_tsv_gz(table, out / "cells.tsv.gz", index=True)
        result.update(cells_scored=kept.n_obs, programmes=scores.shape[1])
    elif stage == "before":
        from msc_secretome.cell_annotation import qc_failures
        from msc_secretome.pseudobulk import pseudobulk
        from msc_secretome.single_cell import cell_qc, check_obs_columns
        from msc_secretome.single_cell_reading import read_single_cell

        cells = read_single_cell(path)
        if annotation:
            from msc_secretome.cell_annotation import attach_cell_annotation, read_cell_annotation

            table = read_cell_annotation(annotation)
            cells, _ = attach_cell_annotation(
                cells, table, samples, sample_column="sample", path=annotation
            )
        cells = check_obs_columns(cells, "sample", "cell_type", samples)
        kept, table = cell_qc(cells, **QC)
        qc_failures(cells, **QC)
        counts, sheet, _ = pseudobulk(kept, samples, min_cells=20)
        write_tsv_gz(counts, out / "pseudobulk_counts_before.tsv.gz", index=True)
        result.update(cells_kept=kept.n_obs, pseudo_samples=counts.shape[1])
    else:
        raise ValueError(stage)
    return result


def _tree_rss(pid: int) -> float:
    import psutil

    try:
        parent = psutil.Process(pid)
        procs = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def stats_of(path: Path) -> dict:
    """Stored counts and mean detected genes per cell of a cached file (from its indptr)."""
    import h5py

    if path.is_dir():
        from msc_secretome.tenx_folder import read_mtx_header

        header = read_mtx_header(path / "matrix.mtx.gz")
        return {
            "stored_counts": header.n_entries,
            "genes_per_cell": header.n_entries / header.n_cells,
        }
    with h5py.File(path, "r") as handle:
        n_cells = int(handle["X"].attrs["shape"][0])
        stored = int(handle["X"]["indptr"][-1])
    return {"stored_counts": stored, "genes_per_cell": stored / n_cells}


def size_gib(path: Path) -> float:
    """GiB of a file, or of the files of a folder."""
    files = path.iterdir() if path.is_dir() else [path]
    return sum(f.stat().st_size for f in files) / 2**30


def launch(stage: str, path: Path, out: Path, args) -> dict:
    """Run a stage in a child process (niced); wall time, peak RSS (kernel, sampled tree)."""
    command = [sys.executable, __file__, "--child", stage, "--child-path", str(path)]
    command += ["--child-out", str(out), "--embedding-cells", str(args.embedding_cells)]
    command += ["--seed", str(args.seed)]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(child.pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    row = {
        "stage": stage,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "tree_peak_rss_mb": round(max(peak[0], usage.ru_maxrss / 1024), 1),
        "load1_before": round(load_before, 2),
        "load1_after": round(os.getloadavg()[0], 2),
    }
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        row["error"] = f"exit code {code}"
    else:
        row.update(json.loads(output.strip().splitlines()[-1]))
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000,100000", help="cells, comma-separated")
    parser.add_argument("--n-genes", type=int, default=30_000)
    parser.add_argument("--genes-per-cell", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stages", default="pseudobulk,scores,before")
    parser.add_argument("--before-max-cells", type=int, default=200_000)
    parser.add_argument("--embedding-cells", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--format",
        choices=["h5ad", "mtx", "mtx-shuffled"],
        default="h5ad",
        help="simulated input: h5ad, a Cell Ranger 3 folder (mtx, entries sorted by cell) or "
        "one with entries shuffled within blocks of 2**21 lines (mtx-shuffled)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "msc_secretome_single_cell_scale",
    )
    parser.add_argument("--results", type=Path, default=RESULTS / "single_cell_scale.tsv")
    parser.add_argument("--child", choices=CHILDREN, help=argparse.SUPPRESS)
    parser.add_argument("--child-path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-cells", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "simulate" and args.format == "h5ad":
        stats = write_simulated_h5ad(
            args.child_path, args.child_cells, args.n_genes, args.genes_per_cell, args.seed
        )
        print(json.dumps(stats))
        return 0
    if args.child == "simulate":
        order = args.format.removeprefix("mtx").strip("-") or "sorted"
        stats = write_simulated_mtx(
            args.child_path, args.child_cells, args.n_genes, args.genes_per_cell, args.seed, order
        )
        print(json.dumps(stats))
        return 0
    if args.child:
        print(json.dumps(run_stage(args.child, args.child_path, args.child_out, args)))
        return 0

    import pandas as pd

    stages = args.stages.split(",")
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        parser.error(f"unknown stage(s) {unknown}; stages: {list(STAGES)}")
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for n_cells in (int(s) for s in args.sizes.split(",")):
        path = cache_path(
            args.cache_dir, n_cells, args.n_genes, args.genes_per_cell, args.seed, args.format
        )
        if not path.exists():
            start = time.perf_counter()
            command = [sys.executable, __file__, "--child", "simulate", "--child-path", str(path)]
            command += ["--child-cells", str(n_cells), "--n-genes", str(args.n_genes)]
            command += ["--genes-per-cell", str(args.genes_per_cell), "--seed", str(args.seed)]
            command += ["--format", args.format]
            done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
            stats = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"wrote {path} ({size_gib(path):.2f} GiB, "
                f"{stats['genes_per_cell']:.0f} genes per cell) in "
                f"{time.perf_counter() - start:.0f} s",
                file=sys.stderr,
            )
        size_stages = [s for s in stages if s != "before" or n_cells <= args.before_max_cells]
        for repeat in range(args.repeats):
            for stage in size_stages:
                with tempfile.TemporaryDirectory(dir=args.cache_dir) as out:
                    row = launch(stage, path, Path(out), args)
                row.update(
                    n_cells=n_cells,
                    stored_counts=int(stats_of(path)["stored_counts"]),
                    n_genes=args.n_genes,
                    genes_per_cell=round(stats_of(path)["genes_per_cell"], 1),
                    file_gib=round(size_gib(path), 2),
                    format=args.format,
                    repeat=repeat + 1,
                    embedding_cells=args.embedding_cells,
                )
                print(json.dumps(row), file=sys.stderr, flush=True)
                rows.append(row)
    table = pd.DataFrame(rows)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    if args.results.exists():  # keep other sizes' rows from earlier runs
        old = pd.read_csv(args.results, sep="\t")
        if "format" not in old.columns:
            old["format"] = "h5ad"
        keys = ["n_cells", "stage", "format"]
        done = set(table[keys].itertuples(index=False, name=None))
        mine = [key not in done for key in old[keys].itertuples(index=False, name=None)]
        table = pd.concat([old[mine], table], ignore_index=True)
    table = table.sort_values(["format", "n_cells", "stage", "repeat"], kind="stable")
    table.to_csv(args.results, sep="\t", index=False)
    measured = ["wall_s", "tree_peak_rss_mb", "load1_before"]
    summary = (
        table.groupby(["format", "n_cells", "stage"])[measured]
        .agg(["min", "median", "max", "count"])
        .round(2)
    )
    summary.columns = ["_".join(c) for c in summary.columns]
    summary = summary.drop(columns=["tree_peak_rss_mb_count", "load1_before_count"])
    summary.to_csv(args.results.with_name("single_cell_scale_summary.tsv"), sep="\t")
    print(summary.to_string())
    return 0 if "error" not in table.columns or table["error"].isna().all() else 1


if __name__ == "__main__":
    sys.exit(main())
