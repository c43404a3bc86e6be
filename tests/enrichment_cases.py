"""Inputs of the prerank regression fixture ``tests/data/enrichment/prerank_before.tsv``.

The fixture holds :func:`msc_secretome.enrichment.run_prerank`'s tables as computed by the code
before the speed work of issue #19 (commit 433201e, every call through ``gseapy.prerank``),
floats written with 17 significant digits, so a test can require the same ES, NES, p-values,
FDR, sizes and leading edges exactly. It was written by::

    python tests/enrichment_cases.py tests/data/enrichment/prerank_before.tsv

(identical under other ``PYTHONHASHSEED`` values). The cases cover both methods, two weights
and seeds, ties in the statistic, sets with unranked genes, sets outside the size limits,
several blocks of ``SETS_PER_CALL`` sets, and mostly title-case symbols against upper-case sets
(gseapy then matches in upper case).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

FIXTURE = Path(__file__).parent / "data" / "enrichment" / "prerank_before.tsv"

CASES = [
    ("multilevel_w1", "plain", {"method": "multilevel", "permutations": 1000, "seed": 42}),
    (
        "multilevel_w05_seed7",
        "plain",
        {
            "method": "multilevel",
            "permutations": 500,
            "seed": 7,
            "weight": 0.5,
            "min_size": 15,
            "max_size": 300,
        },
    ),
    ("permutation_w1", "plain", {"method": "permutation", "permutations": 200, "seed": 42}),
    (
        "multilevel_mixed_case",
        "mixed_case",
        {"method": "multilevel", "permutations": 1000, "seed": 42},
    ),
]


def case_input(kind: str) -> tuple[pd.Series, dict[str, list[str]]]:
    """Seeded ranking of 3,000 genes (10 % of it tied) and 60 gene sets of 8-320 genes."""
    rng = np.random.default_rng(19)
    n = 3000
    if kind == "mixed_case":  # mouse-like symbols, 80 % not upper case
        genes = np.array([f"Gm{i:04d}" if i % 5 else f"GM{i:04d}" for i in range(n)])
    else:
        genes = np.array([f"G{i:05d}" for i in range(n)])
    stat = rng.normal(size=n)
    stat[: n // 10] = np.round(stat[: n // 10], 1)  # ties in the statistic
    ranking = pd.Series(stat, index=genes).sort_values(ascending=False)
    sets = {}
    top = list(ranking.index[:30]) + list(rng.choice(ranking.index[30:], 30, replace=False))
    sets["PLANTED_UP"] = top
    bottom = list(ranking.index[-25:]) + list(rng.choice(ranking.index[:-25], 25, replace=False))
    sets["PLANTED_DOWN"] = bottom
    for k in range(58):
        size = int(rng.integers(8, 320))
        members = list(rng.choice(genes, size, replace=False)) + ["NOT_RANKED1", "NOT_RANKED2"]
        sets[f"SET{k:02d}"] = members
    if kind == "mixed_case":
        sets = {t: [g.upper() for g in m] for t, m in sets.items()}
    return ranking, sets


def compute_tables() -> pd.DataFrame:
    """Every case's ``run_prerank`` table, with a leading ``case`` column."""
    from msc_secretome.enrichment import run_prerank

    frames = []
    for name, kind, kwargs in CASES:
        ranking, sets = case_input(kind)
        table = run_prerank(ranking, sets, library="fixture", **kwargs)
        table.insert(0, "case", name)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
    compute_tables().to_csv(sys.argv[1], sep="\t", index=False, float_format="%.17g")
