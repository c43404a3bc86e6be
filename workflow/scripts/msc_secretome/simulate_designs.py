"""Seeded simulations of real-world-shaped secretome studies (not the bundled example's design).

Each study is a sample sheet, the ``roles`` a biologist would write first for it, and planted
programme shifts; :func:`simulate_counts` turns any sheet plus plantings into raw counts with
the same gene universe and noise model as :mod:`msc_secretome.simulate` (programme genes in a
detectable range, negative-binomial counts, per-level block effects, lognormal size factors).

Model (log2 scale), per gene g and sample s::

    mu[g, s]    = base[g] + group_shift[g, group(s)] + sum_b block[g, b, level_b(s)]
                  + sum over plantings p matching s of delta_p[g]
    count[g, s] ~ NegativeBinomial(size_factor[s] * 2 ** mu[g, s], alpha[g])

A planting (:class:`Planting`) names the sample-sheet cells it applies to (``where``: column ->
level) and its programmes with signs; ``samples`` restricts it to named samples (an effect
that rests on one replicate). All randomness comes from one ``numpy.random.Generator(seed)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .planted_effects import PlantedEffect, plant_effect
from .simulate import MAX_DISPERSION, gene_universe


@dataclass(frozen=True)
class Planting:
    """Programme shifts in the samples matching ``where`` (and, if given, only ``samples``)."""

    where: dict[str, str]
    programmes: tuple[tuple[str, int], ...]
    n_random: int = 50
    samples: tuple[str, ...] = ()


@dataclass(frozen=True)
class DesignStudy:
    """A simulated study: sheet, roles as a user would write them, plantings, truth."""

    name: str
    samples: pd.DataFrame
    roles: dict
    plantings: tuple[Planting, ...] = field(default_factory=tuple)
    group_column: str | None = None
    blocks: tuple[str, ...] = ()


def simulate_counts(
    catalogue: pd.DataFrame,
    study: DesignStudy,
    *,
    n_genes: int = 1500,
    seed: int = 1,
    block_sd: float = 0.25,
    group_sd: float = 0.5,
    size_factor_sd: float = 0.3,
) -> pd.DataFrame:
    """Raw counts (genes x samples, index ``gene_id``) for ``study``.

    Parameters
    ----------
    catalogue : programme catalogue (programme, genes as lists).
    study : the sheet (n_samples rows) and plantings.
    n_genes : number of genes (at least the catalogue's genes).
    seed : seed of the one random generator.

    Returns
    -------
    pd.DataFrame, shape (n_genes, n_samples), int64 counts; columns in sheet order.
    """
    rng = np.random.default_rng(seed)
    genes, n_programme = gene_universe(catalogue, n_genes)
    n = len(genes)
    position = {g: i for i, g in enumerate(genes)}
    gene_sets = {r.programme: [position[g] for g in r.genes] for r in catalogue.itertuples()}
    sheet = study.samples
    base = np.empty(n)
    base[:n_programme] = rng.uniform(np.log2(30), np.log2(3000), n_programme)
    n_syn = n - n_programme
    off = rng.random(n_syn) < 0.3
    base[n_programme:] = np.where(
        off, rng.normal(-2.0, 1.5, n_syn), np.minimum(rng.normal(7.5, 2.0, n_syn), 16.0)
    )
    mu = np.repeat(base[:, None], len(sheet), axis=1)
    if study.group_column is not None:
        for level in list(dict.fromkeys(sheet[study.group_column]))[1:]:
            shift = np.where(rng.random(n) < 0.3, rng.normal(0.0, group_sd, n), 0.0)
            mu[:, (sheet[study.group_column] == level).to_numpy()] += shift[:, None]
    for block in study.blocks:
        for level in list(dict.fromkeys(sheet[block]))[1:]:
            mu[:, (sheet[block] == level).to_numpy()] += rng.normal(0.0, block_sd, n)[:, None]
    for planting in study.plantings:
        effect = PlantedEffect("cancer", "cm", None, planting.programmes, planting.n_random)
        delta = plant_effect(effect, gene_sets, n, n_programme, rng)
        match = np.ones(len(sheet), dtype=bool)
        for column, level in planting.where.items():
            match &= (sheet[column] == level).to_numpy()
        if planting.samples:
            match &= sheet["sample"].isin(planting.samples).to_numpy()
        mu[:, match] += delta[:, None]
    size_factors = rng.lognormal(0.0, size_factor_sd, len(sheet))
    mean = size_factors[None, :] * np.exp2(mu)
    alpha = (0.02 + 1.0 / mean.mean(axis=1)) * rng.lognormal(0.0, 0.3, n)
    alpha = np.minimum(alpha, MAX_DISPERSION)
    rate = rng.gamma(shape=1.0 / alpha[:, None], scale=mean * alpha[:, None])
    counts = pd.DataFrame(
        rng.poisson(rate).astype(np.int64),
        index=pd.Index(genes, name="gene_id"),
        columns=sheet["sample"].to_list(),
    )
    return counts


def _sheet(rows: Sequence[dict]) -> pd.DataFrame:
    return pd.DataFrame(list(rows)).astype(str)


CYTOTOXIC = (("CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS", 1), ("CYT_TYPE_I_IFN_ISG", 1))
PROTECTIVE = (("REG_ANTI_APOPTOTIC_SURVIVAL", 1), ("STRESS_SENESCENCE_CORE", -1))
DRUG_DAMAGE = (("STRESS_P53_ARREST_IR_RESPONSE", 1), ("STRESS_SENESCENCE_CORE", 1))


def organoids_in_fibroblast_cm() -> DesignStudy:
    """Colorectal cancer organoids of 3 patients, control vs fibroblast CM; no therapy."""
    rows = [
        {"sample": f"{d}_{m}", "medium": m, "patient": d}
        for d in ("p1", "p2", "p3")
        for m in ("control", "caf_cm")
    ]
    roles = {
        "cell_type": {"cancer": ["organoids"]},
        "exposure": {"column": "medium", "exposed": "caf_cm", "control": "control"},
        "blocks": ["patient"],
    }
    plant = Planting({"medium": "caf_cm"}, (("RISK_EMT_INVASION", 1), ("CYT_TYPE_I_IFN_ISG", -1)))
    return DesignStudy("organoids", _sheet(rows), roles, (plant,), blocks=("patient",))


def two_lines_in_immune_supernatant() -> DesignStudy:
    """Two osteosarcoma lines, medium vs immune-cell supernatant, 3 replicates; no normal cells."""
    rows = [
        {"sample": f"{line}_{m}_r{r}", "cell_line": line, "medium": m}
        for line in ("U2OS", "SAOS2")
        for m in ("medium", "immune_sup")
        for r in (1, 2, 3)
    ]
    roles = {
        "cell_type": {"column": "cell_line", "cancer": ["U2OS", "SAOS2"]},
        "exposure": {"column": "medium", "exposed": "immune_sup", "control": "medium"},
    }
    plantings = (
        Planting({"cell_line": "U2OS", "medium": "immune_sup"}, CYTOTOXIC),
        Planting({"cell_line": "SAOS2", "medium": "immune_sup"}, (("RISK_IL6_JAK_STAT3", 1),)),
    )
    return DesignStudy("osteosarcoma", _sheet(rows), roles, plantings, group_column="cell_line")


def macrophages_two_drugs_two_doses() -> DesignStudy:
    """Macrophages (normal cells only): MSC CM vs medium x none / 2 anthracyclines x 2 doses."""
    arms = ("none", "doxorubicin_low", "doxorubicin_high", "epirubicin_low", "epirubicin_high")
    rows = [
        {"sample": f"{m}_{t}_r{r}", "medium": m, "treatment": t}
        for m in ("medium", "msc_cm")
        for t in arms
        for r in (1, 2)
    ]
    roles = {
        "cell_type": {"normal": ["macrophages"]},
        "exposure": {"column": "medium", "exposed": "msc_cm", "control": "medium"},
        "therapy": {"column": "treatment", "none": "none"},
    }
    plantings = (
        Planting({"medium": "msc_cm"}, PROTECTIVE),
        *(Planting({"treatment": t}, DRUG_DAMAGE, 30) for t in arms[1:]),
    )
    return DesignStudy("macrophages", _sheet(rows), roles, plantings)


def two_sources_and_vesicles() -> DesignStudy:
    """Colon cancer line and fibroblasts: bone-marrow CM, adipose CM, vesicles vs control."""
    media = ("control", "bm_cm", "ad_cm", "ev")
    rows = [
        {"sample": f"{c}_{m}_r{r}", "cells": c, "medium": m, "batch": f"b{r}"}
        for c in ("HT29", "fibroblast")
        for m in media
        for r in (1, 2, 3)
    ]
    roles = {
        "cell_type": {"column": "cells", "cancer": ["HT29"], "normal": ["fibroblast"]},
        "exposure": {"column": "medium", "exposed": ["bm_cm", "ad_cm", "ev"], "control": "control"},
        "blocks": ["batch"],
    }
    plantings = (
        Planting({"cells": "HT29", "medium": "bm_cm"}, CYTOTOXIC),
        Planting({"cells": "fibroblast", "medium": "bm_cm"}, PROTECTIVE),
        Planting({"cells": "fibroblast", "medium": "ev"}, PROTECTIVE),
        Planting({"cells": "HT29", "medium": "ad_cm"}, (("RISK_PROLIFERATION_CELL_CYCLE", 1),)),
    )
    return DesignStudy(
        "sources", _sheet(rows), roles, plantings, group_column="cells", blocks=("batch",)
    )


def effect_on_one_replicate() -> DesignStudy:
    """Cancer line, CM vs control, 4 replicates; the cytotoxic shift is in one CM replicate."""
    rows = [{"sample": f"{m}_r{r}", "medium": m} for m in ("control", "msc_cm") for r in range(4)]
    roles = {
        "cell_type": {"cancer": ["A549"]},
        "exposure": {"column": "medium", "exposed": "msc_cm", "control": "control"},
    }
    plant = Planting({"medium": "msc_cm"}, CYTOTOXIC, samples=("msc_cm_r0",))
    return DesignStudy("one_replicate", _sheet(rows), roles, (plant,))


def two_matrices_with_own_batches() -> DesignStudy:
    """HCT116 cancer cells and fibroblasts sequenced in two runs (own count matrix, own
    batches), MSC CM vs control x none / cisplatin, 3 replicates each."""
    rows = [
        {"sample": f"{e}_{m}_{t}_r{r}", "experiment": e, "medium": m, "therapy": t,
         "batch": f"{'b' if e == 'HCT116' else 'c'}{r}"}
        for e in ("HCT116", "fibroblasts")
        for m in ("control", "msc_cm")
        for t in ("none", "cisplatin")
        for r in (1, 2, 3)
    ]  # fmt: skip
    roles = {
        "cell_type": {"column": "experiment", "cancer": ["HCT116"], "normal": ["fibroblasts"]},
        "exposure": {"column": "medium", "exposed": "msc_cm", "control": "control"},
        "therapy": {"column": "therapy", "none": "none"},
        "blocks": ["batch"],
    }
    plantings = (
        Planting({"experiment": "HCT116", "medium": "msc_cm"}, CYTOTOXIC),
        Planting({"experiment": "fibroblasts", "medium": "msc_cm"}, PROTECTIVE),
        Planting({"therapy": "cisplatin"}, DRUG_DAMAGE, 30),
    )
    return DesignStudy(
        "two_matrices", _sheet(rows), roles, plantings, group_column="experiment",
        blocks=("batch",),
    )  # fmt: skip


def split_experiments(study: DesignStudy, counts: pd.DataFrame) -> dict[str, tuple]:
    """(sheet without the ``experiment`` column, its counts) per experiment of ``study``."""
    out = {}
    for name, sheet in study.samples.groupby("experiment", sort=False):
        out[str(name)] = (
            sheet.drop(columns="experiment").reset_index(drop=True),
            counts.loc[:, sheet["sample"].to_list()],
        )
    return out


STUDIES = {
    "organoids": organoids_in_fibroblast_cm,
    "osteosarcoma": two_lines_in_immune_supernatant,
    "macrophages": macrophages_two_drugs_two_doses,
    "sources": two_sources_and_vesicles,
    "one_replicate": effect_on_one_replicate,
    "two_matrices": two_matrices_with_own_batches,
}
