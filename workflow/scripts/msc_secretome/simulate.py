"""Seeded simulator of the bundled example experiment: bulk RNA-seq counts with planted programmes.

Design: ``cell_type`` {cancer, normal} x ``medium`` {control, msc_cm} x ``therapy``
{none, chemo, radiation} x ``n_replicates`` (3); replicate ``r`` is processed in batch ``b{r}``,
so the default is 36 samples named e.g. ``cancer_cm_chemo_r1`` / ``normal_ctrl_none_r3``.

Genes: the union of all catalogue genes (real HGNC symbols, sorted) first, then synthetic IDs
``SYN00001``, ``SYN00002``, ... up to ``n_genes``. Programme genes are drawn from a *detectable*
range on purpose (expected count 30-3000 at median depth, log-uniform) so that a planted programme
is testable and a missed one is a method failure, not a detection-limit artefact. Synthetic genes
follow a two-component log-normal mixture: 30% "not expressed" (log2 expected count ~ N(-2, 1.5))
and 70% expressed (log2 ~ N(7.5, 2), capped at 2**16), so about 30% of them have an expected
count below 10 and many are all-zero, as in real data.

Model (log2 scale), per gene g and cell (cell_type c, medium m, therapy t)::

    mu[g, c, m, t] = base[g] + shift[g] * [c == normal] + T[c, t][g]
                     + [m == msc_cm] * (M[c][g] + I[c, t][g])
    mean[g, s]     = size_factor[s] * 2 ** (mu[g, cell(s)] + batch[g, batch(s)])
    count[g, s]    ~ NegativeBinomial(mean[g, s], alpha[g])      (gamma-Poisson mixture)

* ``shift``: normal vs cancer, N(0, 0.5) on a random 30% of genes.
* ``T[c, t]``: therapy main effect (T[c, none] = 0), ``M[c]``: MSC-CM main effect,
  ``I[c, t]``: CM x therapy interaction (I[c, none] = 0). Each is one *planted effect*
  (:class:`PlantedEffect`); effects are drawn independently per cell type, so cancer and normal
  cells answer a therapy with the same programmes but different genes and sizes. The two normal-cell
  interactions (CM x chemo, CM x radiation) are drawn separately too.
* Planting a programme with sign s: each of its genes moves with probability 0.7 by
  s * Uniform(0.3, 1.5). If two programmes of the *same* effect move a gene, the larger |log2FC|
  is kept (ties: the first), never the sum. Effects of different terms (T, M, I) add up in ``mu``.
  Random extra genes are drawn without replacement among the non-catalogue genes, each with a
  random sign and |log2FC| ~ Uniform(0.3, 1.5): 600 per therapy, 400 for the CM main effect,
  150 (cancer) and 100 (normal) per CM x therapy interaction -- a few percent of the
  transcriptome, in line with the hundreds of genes CM exposure moves in published data.
* ``batch[g, b1] = 0``; every other batch ~ N(0, 0.25) per gene (a real batch effect).
* ``size_factor`` ~ lognormal(0, 0.35): the median library is about 7 M counts at 20,000 genes
  (it scales with ``n_genes``).
* ``alpha[g] = (0.02 + 1 / mean_g) * lognormal(0, 0.3)`` with ``mean_g`` the gene's average
  expected count over samples; capped at 10 (DESeq2's maximum dispersion for this size), which
  only touches genes expected below ~0.1 counts.

Truth (right by construction, computed from the ``mu`` array, not from the planting bookkeeping):

* ``truth_de``: contrast, gene_id, true_log2fc for every gene with |true_log2fc| > 1e-9; a gene
  absent from a contrast has a true log2 fold change of exactly 0. Batch and size factors cancel
  in every contrast. Sorted by contrast, then gene_id.
* ``truth_programmes``: contrast, programme, planted_direction (-1/0/1) for every contrast x
  catalogue programme: for ``{c}_{t}_vs_none`` the therapy planting, for ``{c}_cm_x_{t}`` the
  interaction planting, for ``{c}_cm_vs_ctrl_{t}`` the sign of the sum of the CM and CM x t
  plantings.

All randomness comes from one ``numpy.random.Generator(seed)``: the same arguments give identical
output, and :func:`write_experiment` writes identical bytes.

CLI: ``python -m msc_secretome.simulate --outdir DIR [--seed N] [--n-genes N]
[--n-replicates N] [--catalogue PATH|builtin]``.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic_io import write_bytes_atomic, write_text_atomic
from .catalogue import read_catalogue
from .errors import InputError
from .planted_effects import PlantedEffect, plant_effect

CELL_TYPES = ("cancer", "normal")
MEDIA = ("control", "msc_cm")
THERAPIES = ("none", "chemo", "radiation")
TREATED = ("chemo", "radiation")
MEDIUM_TAG = {"control": "ctrl", "msc_cm": "cm"}
SAMPLE_COLUMNS = ("sample", "cell_type", "medium", "therapy", "batch")

EXAMPLE_CONTRASTS: tuple[str, ...] = tuple(
    name
    for c in CELL_TYPES
    for name in (
        f"{c}_cm_vs_ctrl_none",
        f"{c}_cm_vs_ctrl_chemo",
        f"{c}_cm_vs_ctrl_radiation",
        f"{c}_cm_x_chemo",
        f"{c}_cm_x_radiation",
        f"{c}_chemo_vs_none",
        f"{c}_radiation_vs_none",
    )
)

DEFAULT_SEED = 20151
MAX_DISPERSION = 10.0
SYNTHETIC_PREFIX = "SYN"


_P53 = "STRESS_P53_ARREST_IR_RESPONSE"
_ISG = "CYT_TYPE_I_IFN_ISG"
_TRAIL = "CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS"
_MITO = "CYT_INTRINSIC_MITOCHONDRIAL_APOPTOSIS"
_IL6 = "RISK_IL6_JAK_STAT3"
_REG = (
    "REG_ANTI_APOPTOTIC_SURVIVAL",
    "REG_NRF2_ANTIOXIDANT_FERROPTOSIS_DEFENSE",
    "REG_GROWTH_FACTOR_REGENERATION",
)
_SASP = "STRESS_SASP"

#: The biology planted in the bundled example, in the order the random draws are made.
EXAMPLE_PLAN: tuple[PlantedEffect, ...] = (
    *(
        effect
        for c in CELL_TYPES
        for effect in (
            PlantedEffect(c, "therapy", "chemo", ((_P53, 1),), n_random=600),
            PlantedEffect(c, "therapy", "radiation", ((_P53, 1), (_ISG, 1)), n_random=600),
        )
    ),
    PlantedEffect("cancer", "cm", None, ((_TRAIL, 1), (_MITO, 1), (_IL6, 1)), n_random=400),
    PlantedEffect("cancer", "cm_x", "chemo", ((_TRAIL, 1), (_MITO, 1)), n_random=150),
    PlantedEffect("normal", "cm", None, tuple((p, 1) for p in _REG), n_random=400),
    PlantedEffect("normal", "cm_x", "chemo", ((_P53, -1), (_SASP, -1)), n_random=100),
    PlantedEffect("normal", "cm_x", "radiation", ((_P53, -1), (_SASP, -1)), n_random=100),
)


@dataclass
class SimulatedExperiment:
    """Counts, sample sheet and truth of one simulated experiment.

    The last three fields expose the generative parameters (for tests and method checks):
    ``cell_log2_means`` genes x cells (``{cell_type}_{ctrl|cm}_{therapy}``, log2 expected count at
    size factor 1 and batch b1), ``size_factors`` per sample, ``dispersions`` per gene.
    """

    counts: pd.DataFrame
    samples: pd.DataFrame
    truth_de: pd.DataFrame
    truth_programmes: pd.DataFrame
    cell_log2_means: pd.DataFrame | None = None
    size_factors: pd.Series | None = None
    dispersions: pd.Series | None = None


def cell_label(cell_type: str, medium: str, therapy: str) -> str:
    """Name of a design cell, e.g. ``cancer_cm_chemo``; sample names add ``_r{replicate}``."""
    return f"{cell_type}_{MEDIUM_TAG[medium]}_{therapy}"


def design_cells() -> list[tuple[str, str, str]]:
    """(cell_type, medium, therapy) in sample-sheet order."""
    return [(c, m, t) for c in CELL_TYPES for m in MEDIA for t in THERAPIES]


def example_samples(n_replicates: int = 3) -> pd.DataFrame:
    """The sample sheet of the example design; replicate r is batch b{r}."""
    if n_replicates < 1:
        raise InputError(f"n_replicates is {n_replicates}; it must be at least 1")
    rows = [
        (f"{cell_label(c, m, t)}_r{r}", c, m, t, f"b{r}")
        for c, m, t in design_cells()
        for r in range(1, n_replicates + 1)
    ]
    return pd.DataFrame(rows, columns=list(SAMPLE_COLUMNS))


def gene_universe(catalogue: pd.DataFrame, n_genes: int) -> tuple[list[str], int]:
    """Sorted catalogue genes then synthetic IDs up to ``n_genes``; returns (ids, n_programme)."""
    programme_genes = sorted({g for genes in catalogue["genes"] for g in genes})
    n_synthetic = n_genes - len(programme_genes)
    if n_synthetic < 0:
        raise InputError(
            f"n_genes={n_genes} is smaller than the {len(programme_genes)} catalogue genes",
            fix=f"use n_genes >= {len(programme_genes)}",
        )
    if n_synthetic > 99999:
        raise InputError(f"n_genes={n_genes} needs more than 99,999 synthetic IDs")
    synthetic = [f"{SYNTHETIC_PREFIX}{i:05d}" for i in range(1, n_synthetic + 1)]
    return programme_genes + synthetic, len(programme_genes)


def _check_plan(plan: Sequence[PlantedEffect], catalogue: pd.DataFrame, n_free: int) -> None:
    known = set(catalogue["programme"])
    seen = set()
    for effect in plan:
        where = f"planted effect {effect}"
        if effect.cell_type not in CELL_TYPES:
            raise InputError(f"{where}: cell_type must be one of {list(CELL_TYPES)}")
        if effect.kind == "cm":
            if effect.therapy is not None:
                raise InputError(f"{where}: a 'cm' main effect takes therapy=None")
        elif effect.kind in ("therapy", "cm_x"):
            if effect.therapy not in TREATED:
                raise InputError(f"{where}: therapy must be one of {list(TREATED)}")
        else:
            raise InputError(f"{where}: kind must be 'therapy', 'cm' or 'cm_x'")
        key = (effect.cell_type, effect.kind, effect.therapy)
        if key in seen:
            raise InputError(f"{where}: this term is planted twice", fix="merge the two entries")
        seen.add(key)
        missing = [p for p, _ in effect.programmes if p not in known]
        if missing:
            raise InputError(
                f"{where}: programme(s) {missing} are not in the catalogue",
                fix="use a catalogue with these programmes (the built-in one has them)",
            )
        bad = [s for _, s in effect.programmes if s not in (-1, 1)]
        if bad:
            raise InputError(f"{where}: programme signs must be -1 or 1, got {bad}")
        if not 0 <= effect.n_random <= n_free:
            raise InputError(
                f"{where}: n_random={effect.n_random} but only {n_free} non-catalogue genes",
                fix="increase n_genes",
            )


def _truth_programmes(plan: Sequence[PlantedEffect], programmes: Sequence[str]) -> pd.DataFrame:
    def signs(cell_type: str, kind: str, therapy: str | None) -> dict[str, int]:
        out: dict[str, int] = {}
        for effect in plan:
            if (effect.cell_type, effect.kind, effect.therapy) == (cell_type, kind, therapy):
                out.update(dict(effect.programmes))
        return out

    rows = []
    for c in CELL_TYPES:
        main = signs(c, "cm", None)
        for t in THERAPIES:
            inter = signs(c, "cm_x", t) if t != "none" else {}
            for p in programmes:
                rows.append(
                    (f"{c}_cm_vs_ctrl_{t}", p, int(np.sign(main.get(p, 0) + inter.get(p, 0))))
                )
        for t in TREATED:
            inter = signs(c, "cm_x", t)
            therapy = signs(c, "therapy", t)
            for p in programmes:
                rows.append((f"{c}_cm_x_{t}", p, inter.get(p, 0)))
                rows.append((f"{c}_{t}_vs_none", p, therapy.get(p, 0)))
    table = pd.DataFrame(rows, columns=["contrast", "programme", "planted_direction"])
    table["planted_direction"] = table["planted_direction"].astype(np.int64)
    return table.sort_values(["contrast", "programme"], ignore_index=True)


def _truth_de(mu: pd.DataFrame) -> pd.DataFrame:
    def lfc(c: str, m1: str, t1: str, m0: str, t0: str) -> pd.Series:
        return mu[cell_label(c, m1, t1)] - mu[cell_label(c, m0, t0)]

    contrasts: dict[str, pd.Series] = {}
    for c in CELL_TYPES:
        for t in THERAPIES:
            contrasts[f"{c}_cm_vs_ctrl_{t}"] = lfc(c, "msc_cm", t, "control", t)
        for t in TREATED:
            cm_effect_t = lfc(c, "msc_cm", t, "control", t)
            cm_effect_none = lfc(c, "msc_cm", "none", "control", "none")
            contrasts[f"{c}_cm_x_{t}"] = cm_effect_t - cm_effect_none
            contrasts[f"{c}_{t}_vs_none"] = lfc(c, "control", t, "control", "none")
    assert set(contrasts) == set(EXAMPLE_CONTRASTS)
    parts = []
    for name, values in contrasts.items():
        kept = values[np.abs(values) > 1e-9]
        parts.append(
            pd.DataFrame(
                {"contrast": name, "gene_id": kept.index.to_numpy(), "true_log2fc": kept.to_numpy()}
            )
        )
    table = pd.concat(parts, ignore_index=True)
    return table.sort_values(["contrast", "gene_id"], ignore_index=True)


def simulate_bulk_experiment(
    catalogue: pd.DataFrame,
    *,
    n_genes: int = 20000,
    n_replicates: int = 3,
    seed: int = DEFAULT_SEED,
    plan: Sequence[PlantedEffect] = EXAMPLE_PLAN,
    size_factor_sd: float = 0.35,
    batch_sd: float = 0.25,
    celltype_sd: float = 0.5,
    celltype_fraction: float = 0.3,
    dispersion_sd: float = 0.3,
) -> SimulatedExperiment:
    """Simulate the example experiment from ``catalogue`` (see the module docstring).

    ``plan=()`` gives a null experiment (no CM or therapy effect at all), handy for checking
    false-positive rates.
    """
    rng = np.random.default_rng(seed)
    genes, n_programme = gene_universe(catalogue, n_genes)
    n = len(genes)
    _check_plan(plan, catalogue, n - n_programme)
    position = {g: i for i, g in enumerate(genes)}
    gene_sets = {
        row.programme: [position[g] for g in row.genes] for row in catalogue.itertuples(index=False)
    }
    samples = example_samples(n_replicates)

    # Base expression (log2 expected count at size factor 1), cancer / control / no therapy.
    base = np.empty(n)
    base[:n_programme] = rng.uniform(np.log2(30), np.log2(3000), n_programme)
    n_syn = n - n_programme
    off = rng.random(n_syn) < 0.3
    base[n_programme:] = np.where(
        off, rng.normal(-2.0, 1.5, n_syn), np.minimum(rng.normal(7.5, 2.0, n_syn), 16.0)
    )
    shift = np.where(rng.random(n) < celltype_fraction, rng.normal(0.0, celltype_sd, n), 0.0)

    zero = np.zeros(n)
    therapy_eff = {(c, t): zero for c in CELL_TYPES for t in THERAPIES}
    cm_eff = {c: zero for c in CELL_TYPES}
    inter_eff = {(c, t): zero for c in CELL_TYPES for t in THERAPIES}
    for effect in plan:
        delta = plant_effect(effect, gene_sets, n, n_programme, rng)
        if effect.kind == "therapy":
            therapy_eff[effect.cell_type, effect.therapy] = delta
        elif effect.kind == "cm":
            cm_eff[effect.cell_type] = delta
        else:
            inter_eff[effect.cell_type, effect.therapy] = delta

    columns = {}
    for c, m, t in design_cells():
        mu = base + (shift if c == "normal" else zero) + therapy_eff[c, t]
        if m == "msc_cm":
            mu = mu + (cm_eff[c] + inter_eff[c, t])
        columns[cell_label(c, m, t)] = mu
    cell_mu = pd.DataFrame(columns, index=pd.Index(genes, name="gene_id"))

    batches = [f"b{r}" for r in range(1, n_replicates + 1)]
    batch_eff = np.zeros((n, n_replicates))
    batch_eff[:, 1:] = rng.normal(0.0, batch_sd, (n, n_replicates - 1))
    size_factors = rng.lognormal(0.0, size_factor_sd, len(samples))

    sample_cells = [
        cell_label(c, m, t) for c, m, t in samples[["cell_type", "medium", "therapy"]].to_numpy()
    ]
    sample_batch = [batches.index(b) for b in samples["batch"]]
    log2_mean = cell_mu[sample_cells].to_numpy() + batch_eff[:, sample_batch]
    mean = size_factors[None, :] * np.exp2(log2_mean)
    gene_mean = mean.mean(axis=1)
    alpha = (0.02 + 1.0 / gene_mean) * rng.lognormal(0.0, dispersion_sd, n)
    alpha = np.minimum(alpha, MAX_DISPERSION)
    rate = rng.gamma(shape=1.0 / alpha[:, None], scale=mean * alpha[:, None])
    counts = rng.poisson(rate).astype(np.int64)

    counts_df = pd.DataFrame(
        counts, index=pd.Index(genes, name="gene_id"), columns=samples["sample"]
    )
    counts_df.columns.name = None
    programme_names = list(catalogue["programme"])
    return SimulatedExperiment(
        counts=counts_df,
        samples=samples,
        truth_de=_truth_de(cell_mu),
        truth_programmes=_truth_programmes(plan, programme_names),
        cell_log2_means=cell_mu,
        size_factors=pd.Series(
            size_factors, index=samples["sample"].to_numpy(), name="size_factor"
        ),
        dispersions=pd.Series(alpha, index=cell_mu.index, name="dispersion"),
    )


def write_experiment(experiment: SimulatedExperiment, outdir: str | Path) -> dict[str, Path]:
    """Write counts.tsv.gz, samples.tsv, truth_de.tsv, truth_programmes.tsv; byte-stable."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {
        "counts": outdir / "counts.tsv.gz",
        "samples": outdir / "samples.tsv",
        "truth_de": outdir / "truth_de.tsv",
        "truth_programmes": outdir / "truth_programmes.tsv",
    }
    text = experiment.counts.to_csv(
        sep="\t", index=True, index_label="gene_id", lineterminator="\n"
    )
    write_bytes_atomic(
        gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0), paths["counts"]
    )
    tables = {
        "samples": experiment.samples,
        "truth_de": experiment.truth_de,
        "truth_programmes": experiment.truth_programmes,
    }
    for key, table in tables.items():
        write_text_atomic(
            table.to_csv(sep="\t", index=False, float_format="%.6g", lineterminator="\n"),
            paths[key],
        )
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m msc_secretome.simulate",
        description="Simulate the bundled MSC-secretome example experiment (counts + truth).",
    )
    parser.add_argument("--outdir", required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--n-genes", type=int, default=20000)
    parser.add_argument("--n-replicates", type=int, default=3)
    parser.add_argument("--catalogue", default="builtin", help="catalogue TSV or 'builtin'")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        catalogue = read_catalogue(args.catalogue)
        experiment = simulate_bulk_experiment(
            catalogue, n_genes=args.n_genes, n_replicates=args.n_replicates, seed=args.seed
        )
        paths = write_experiment(experiment, args.outdir)
    except (InputError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    libraries = experiment.counts.sum(axis=0)
    print(
        f"wrote {experiment.counts.shape[0]} genes x {experiment.counts.shape[1]} samples to "
        f"{paths['counts'].parent} (median library {int(libraries.median()):,}; "
        f"{time.perf_counter() - start:.1f} s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
