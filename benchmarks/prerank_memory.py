"""Peak memory and time of one GSEA prerank job, per method, gene count and permutations.

Each case runs :func:`msc_secretome.enrichment.run_prerank` in a fresh Python process (so the
peak RSS, ``ru_maxrss``, is that job's alone, imports included) on a seeded N(0, 1) ranking
with ``--sets`` random gene sets of 15-500 genes::

    python benchmarks/prerank_memory.py                       # 20,000 and 60,000 genes
    python benchmarks/prerank_memory.py --genes 20000 --permutations 1000,10000

Writes ``benchmarks/results/prerank_memory.tsv`` (method, genes, sets, permutations, seconds,
peak_rss_mb, import_rss_mb: the same process after imports only).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "prerank_memory.tsv"

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {scripts!r})
import numpy as np, pandas as pd
from msc_secretome.enrichment import run_prerank
imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
rng = np.random.default_rng(7)
genes = np.array([f"G{{i:06d}}" for i in range({genes})])
ranking = pd.Series(rng.normal(size=genes.size), index=genes).sort_values(ascending=False)
sets = {{f"S{{k:03d}}": list(rng.choice(genes, int(rng.integers(15, 500)), replace=False))
        for k in range({sets})}}
start = time.perf_counter()
table = run_prerank(ranking, sets, library="bench", permutations={permutations},
                    method={method!r}, seed=1)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "peak_rss_mb": peak, "import_rss_mb": imported,
                  "tested": len(table)}}))
"""


def run_case(method: str, genes: int, sets: int, permutations: int) -> dict:
    code = CHILD.format(
        scripts=str(ROOT / "workflow" / "scripts"),
        genes=genes,
        sets=sets,
        permutations=permutations,
        method=method,
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"method": method, "genes": genes, "sets": sets, "permutations": permutations} | result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", default="20000,60000")
    parser.add_argument("--sets", type=int, default=50)
    parser.add_argument("--permutations", default="1000")
    parser.add_argument("--methods", default="multilevel,permutation")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    rows = []
    for genes in map(int, args.genes.split(",")):
        for permutations in map(int, args.permutations.split(",")):
            for method in args.methods.split(","):
                row = run_case(method, genes, args.sets, permutations)
                print(
                    f"{method:<12} {genes:>6} genes {permutations:>6} permutations: "
                    f"{row['seconds']:.2f} s, peak {row['peak_rss_mb']:.0f} MB "
                    f"(imports {row['import_rss_mb']:.0f} MB)",
                    file=sys.stderr,
                )
                rows.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(args.out, sep="\t", index=False, float_format="%.4g")
    print(f"written {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
