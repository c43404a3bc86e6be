"""Time and peak memory of one contrast's enrichment, per method, side by side with PyPI GSEAs.

One contrast's enrichment = GSEA prerank of a seeded N(0, 1) ranking of ``--genes`` genes
(20,000; the catalogue's genes among them) against the programme catalogue (34 sets) and a
GO-like library of ``--sets`` random sets (500; sizes log-uniform 15-500), with ``--permutations``
(1,000) and seed 42. Each method runs in a fresh Python process, ``--repeats`` times (3),
interleaved with the others, so its peak RSS (``ru_maxrss``: imports included) is its own::

    python benchmarks/enrichment_speed.py                   # multilevel methods + comparators
    python benchmarks/enrichment_speed.py --methods project_permutation,before_permutation \
        --sets 50 --out benchmarks/results/enrichment_speed_permutation.tsv

(the permutation method computes every set's ES for every permutation of the ranking: about
3 minutes per run for 500 sets on a loaded 2-core machine, hence not in the default list).

Methods (``role``: after = this project now, before = the code before issue #19):

* ``project``: ``run_prerank`` (multilevel; NES null per block of 25 sets, as before);
* ``project_library_null``: ``run_prerank(null="library")`` (one null per library);
* ``project_2_threads``: ``run_prerank(threads=2)`` (``enrichment.threads: 2``: two blocks at
  once; the same table as ``project``);
* ``project_block_nulls`` (diagnostic): each block's largest set alone, one call per block:
  the cost of the per-block NES nulls (those sets' NES equal ``project``'s);
* ``project_permutation``: ``run_prerank(method="permutation")``;
* ``before``, ``before_permutation``: the same through ``gseapy.prerank`` (what run_prerank
  called up to issue #19: blocks of 25 sets for multilevel, one call for permutation);
* comparators: ``gseapy_one_call`` (``gseapy.prerank`` multilevel, the library in one call),
  ``blitzgsea`` (gamma-approximated null; ``pip install blitzgsea``), ``pyfgsea`` (a Rust fgsea
  multilevel port; ``pip install pyfgsea``). A comparator that is not installed is skipped
  (its row says so); ``rsfgseapy`` has no wheel and needs a Rust toolchain with crates.io.

Writes ``benchmarks/results/enrichment_speed.tsv``: per method the compute seconds (catalogue
+ library prerank, after imports) min/median/max, the CPU seconds of the same (less sensitive
to a loaded machine than wall time), import seconds, catalogue and library seconds,
for ``project*`` also the ORA of the same libraries (``ora_s``, a seeded DE table),
peak RSS, the largest NES and log10 p differences from ``project`` and the number of sets both
tested, the load average before and after the run and the CPU count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"
OUT = ROOT / "benchmarks" / "results" / "enrichment_speed.tsv"

METHODS = {
    # name: (role, package needed)
    "project": ("after", "gseapy"),
    "project_library_null": ("after", "gseapy"),
    "project_2_threads": ("after", "gseapy"),
    "project_block_nulls": ("diagnostic", "gseapy"),
    "project_permutation": ("after", "gseapy"),
    "before": ("before", "gseapy"),
    "before_permutation": ("before", "gseapy"),
    "gseapy_one_call": ("comparator", "gseapy"),
    "blitzgsea": ("comparator", "blitzgsea"),
    "pyfgsea": ("comparator", "pyfgsea"),
}
DEFAULT_METHODS = [m for m in METHODS if not m.endswith("permutation")]
SEED = 42


def make_inputs(genes: int, sets: int):
    """Seeded ranking (highest first) and the two libraries: catalogue, GO-like."""
    import numpy as np
    import pandas as pd

    from msc_secretome.catalogue import catalogue_gene_sets, read_catalogue

    catalogue = catalogue_gene_sets(read_catalogue())
    symbols = sorted({g for members in catalogue.values() for g in members})
    names = symbols + [f"GENE{i:06d}" for i in range(genes - len(symbols))]
    rng = np.random.default_rng(7)
    ranking = pd.Series(rng.normal(size=genes), index=names).sort_values(ascending=False)
    sizes = np.exp(rng.uniform(np.log(15), np.log(500), size=sets)).astype(int)
    library = {
        f"GO_LIKE_{k:04d}": list(rng.choice(names, size, replace=False))
        for k, size in enumerate(sizes)
    }
    return ranking, {"programmes": catalogue, "go_like": library}


def _gseapy_prerank(ranking, gene_sets, method, permutations, per_block):
    import gseapy
    import pandas as pd

    terms = sorted(gene_sets)
    block = 25 if per_block else len(terms)
    frames = []
    for start in range(0, len(terms), block):
        result = gseapy.prerank(
            rnk=ranking,
            gene_sets={t: gene_sets[t] for t in terms[start : start + block]},
            permutation_num=permutations,
            seed=SEED,
            min_size=10,
            max_size=500,
            method=method,
            threads=1,
            outdir=None,
            no_plot=True,
            verbose=False,
        )
        frames.append(result.res2d.drop(columns=["RES"], errors="ignore"))
        del result
    raw = pd.concat(frames)
    return pd.DataFrame(
        {"term": raw["Term"], "NES": raw["NES"], "pvalue": raw["NOM p-val"]}
    ).astype({"NES": float, "pvalue": float})


def _name_sorted_blocks(ranking, gene_sets) -> list[dict]:
    """The testable sets (10-500 ranked genes) in run_prerank's core calls (blocks)."""
    from msc_secretome import prerank

    names = prerank.gseapy_ordered(ranking).index.to_numpy()
    ranked = set(names)
    testable = {t: g for t, g in gene_sets.items() if 10 <= len(ranked.intersection(g)) <= 500}
    calls = prerank._core_calls(
        testable, names, prerank.mostly_upper_case(names), 10, 500,
        method="multilevel", null="block",
    )  # fmt: skip
    return [sets for sets, _to_upper, _reported in calls]


def _run_library(method, ranking, gene_sets, permutations):
    """One library's table with columns term, NES, pvalue."""
    import pandas as pd

    if method.startswith("project"):
        from msc_secretome.enrichment import run_prerank

        if method == "project_block_nulls":
            # each block's largest set alone: one core call per block of `project`, whose
            # random sets (of the block's largest size, same seed) are the block's NES null
            blocks = _name_sorted_blocks(ranking, gene_sets)
            gene_sets = {}
            for block in blocks:
                largest = max(block, key=lambda term: len(block[term]))  # first by name
                gene_sets[largest] = block[largest]
            tables = [
                run_prerank(
                    ranking, {term: genes}, library="x", permutations=permutations, seed=SEED
                )
                for term, genes in gene_sets.items()
            ]
            return pd.concat(tables).loc[:, ["term", "NES", "pvalue"]]
        options = {
            "project": {},
            "project_library_null": {"null": "library"},
            "project_2_threads": {"threads": 2},
            "project_permutation": {"method": "permutation"},
        }[method]
        table = run_prerank(
            ranking, gene_sets, library="x", permutations=permutations, seed=SEED, **options
        )
        return table.loc[:, ["term", "NES", "pvalue"]]
    if method in ("before", "before_permutation", "gseapy_one_call"):
        kind = "permutation" if method == "before_permutation" else "multilevel"
        return _gseapy_prerank(ranking, gene_sets, kind, permutations, method == "before")
    if method == "blitzgsea":
        import blitzgsea

        # blitzgsea 1.3.54 calls estimate_anchor without ks_disable when processes=1
        anchor = blitzgsea.estimate_anchor
        if "ks_disable" in anchor.__code__.co_varnames[: anchor.__code__.co_argcount]:
            blitzgsea.estimate_anchor = lambda *a, ks_disable=False: anchor(*a, ks_disable)
        signature = pd.DataFrame({"gene": ranking.index, "value": ranking.to_numpy()})
        result = blitzgsea.gsea(
            signature, gene_sets, permutations=permutations, min_size=10, max_size=500,
            processes=1, seed=SEED, center=False, signature_cache=False,
        )  # fmt: skip
        return pd.DataFrame({"term": result.index, "NES": result["nes"], "pvalue": result["pval"]})
    if method == "pyfgsea":
        import pyfgsea

        data = pd.DataFrame({"gene": ranking.index, "score": ranking.to_numpy()})
        result = pyfgsea.run_gsea(
            data, gene_sets, min_size=10, max_size=500, seed=SEED, nperm_nes=permutations
        )
        return pd.DataFrame(
            {"term": result["Pathway"], "NES": result["NES"], "pvalue": result["P-value"]}
        )
    raise ValueError(method)


def _time_ora(ranking, libraries) -> float:
    """Seconds of run_ora on both libraries for a seeded DE table of the ranking's genes."""
    import numpy as np
    import pandas as pd

    from msc_secretome.enrichment import run_ora

    rng = np.random.default_rng(3)
    de = pd.DataFrame(
        {
            "symbol": ranking.index,
            "log2FoldChange": ranking.to_numpy(),
            "padj": rng.uniform(size=ranking.size) ** 3,
        }
    )
    start = time.perf_counter()
    for name, gene_sets in libraries.items():
        run_ora(de, gene_sets, library=name)
    return time.perf_counter() - start


def child(args) -> int:
    """Run one method once; print a JSON line of timings and write its table."""
    import resource

    started = time.perf_counter()
    sys.path.insert(0, str(SCRIPTS))
    import numpy  # noqa: F401
    import pandas as pd

    ranking, libraries = make_inputs(args.genes, args.sets)
    package = METHODS[args.child][1]
    before_import = time.perf_counter()
    if args.child.startswith("project"):
        from msc_secretome.prerank import gseapy_core

        gseapy_core()
    else:
        __import__(package)
    imported = time.perf_counter()
    tables, seconds = [], {}
    cpu_start = time.process_time()
    for name, gene_sets in libraries.items():
        start = time.perf_counter()
        table = _run_library(args.child, ranking, gene_sets, args.permutations)
        seconds[name] = time.perf_counter() - start
        tables.append(table.assign(library=name))
    cpu = time.process_time() - cpu_start
    if args.child.startswith("project"):
        seconds["ora"] = _time_ora(ranking, libraries)
    pd.concat(tables).to_csv(args.table, sep="\t", index=False, float_format="%.17g")
    print(
        json.dumps(
            {
                "import_s": imported - before_import,
                "setup_s": before_import - started,
                "catalogue_s": seconds["programmes"],
                "library_s": seconds["go_like"],
                "compute_s": seconds["programmes"] + seconds["go_like"],
                "compute_cpu_s": cpu,
                "ora_s": seconds.get("ora"),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )
    return 0


def _installed(package: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(package) is not None


def _agreement(table, reference):
    """Largest |NES| and |log10 p| differences to the reference on the sets both tested."""
    import numpy as np

    both = table.merge(reference, on=["library", "term"], suffixes=("", "_ref"))
    if both.empty:
        return {"sets_compared": 0, "max_abs_nes_diff": None, "max_abs_log10p_diff": None}
    floor = 1e-300
    log_p = np.log10(np.maximum(both["pvalue"].astype(float), floor))
    log_ref = np.log10(np.maximum(both["pvalue_ref"].astype(float), floor))
    return {
        "sets_compared": len(both),
        "max_abs_nes_diff": float(np.nanmax(np.abs(both["NES"] - both["NES_ref"]))),
        "max_abs_log10p_diff": float(np.nanmax(np.abs(log_p - log_ref))),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--sets", type=int, default=500)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--table", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    import pandas as pd

    methods = args.methods.split(",")
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {list(METHODS)}")
    skipped = {m for m in methods if not _installed(METHODS[m][1])}
    for m in sorted(skipped):
        print(f"{m}: skipped, pip install {METHODS[m][1]}", file=sys.stderr)
    load_before = os.getloadavg()
    runs = {m: [] for m in methods}
    tables = {}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for method in methods:
                if method in skipped:
                    continue
                table_path = Path(tmp) / f"{method}.tsv"
                command = [sys.executable, __file__, "--child", method, "--table", str(table_path)]
                command += [f"--genes={args.genes}", f"--sets={args.sets}"]
                command += [f"--permutations={args.permutations}"]
                done = subprocess.run(command, capture_output=True, text=True)
                if done.returncode:
                    raise RuntimeError(f"{method} failed:\n{done.stderr[-3000:]}")
                run = json.loads(done.stdout.strip().splitlines()[-1])
                runs[method].append(run)
                if repeat == 0:
                    tables[method] = pd.read_csv(table_path, sep="\t", float_precision="round_trip")
                print(
                    f"repeat {repeat + 1} {method:<22} compute {run['compute_s']:6.2f} s "
                    f"(catalogue {run['catalogue_s']:.2f}, library {run['library_s']:.2f}; "
                    f"CPU {run['compute_cpu_s']:.2f} s), "
                    f"import {run['import_s']:.2f} s, peak {run['peak_rss_mb']:.0f} MB",
                    file=sys.stderr,
                )
    load_after = os.getloadavg()
    rows = []
    reference = tables.get("project")
    for method in methods:
        row = {"method": method, "role": METHODS[method][0], "genes": args.genes}
        row |= {"library_sets": args.sets, "permutations": args.permutations}
        if method in skipped:
            rows.append(row | {"note": f"skipped: pip install {METHODS[method][1]}"})
            continue
        compute = [r["compute_s"] for r in runs[method]]
        row |= {
            "repeats": len(compute),
            "compute_s_min": min(compute),
            "compute_s_median": statistics.median(compute),
            "compute_s_max": max(compute),
            "compute_cpu_s_median": statistics.median(r["compute_cpu_s"] for r in runs[method]),
            "catalogue_s_median": statistics.median(r["catalogue_s"] for r in runs[method]),
            "library_s_median": statistics.median(r["library_s"] for r in runs[method]),
            "import_s_median": statistics.median(r["import_s"] for r in runs[method]),
            "ora_s_median": (
                statistics.median(r["ora_s"] for r in runs[method])
                if runs[method][0]["ora_s"] is not None
                else None
            ),
            "peak_rss_mb_max": max(r["peak_rss_mb"] for r in runs[method]),
        }
        if reference is not None:
            row |= _agreement(tables[method], reference)
        rows.append(row)
    table = pd.DataFrame(rows)
    table["load_before"] = "/".join(f"{x:.2f}" for x in load_before)
    table["load_after"] = "/".join(f"{x:.2f}" for x in load_after)
    table["cpus"] = os.cpu_count()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, sep="\t", index=False, float_format="%.4g")
    print(f"written {args.out} (load average {load_before} -> {load_after})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
