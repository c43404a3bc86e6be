"""Secreted-factor chains planted into the simulated example (an add-on to :mod:`simulate`).

The example's conditioned medium "contains" three planted factors and one decoy:

* TRAIL (TNFSF10) -> TNFRSF10B (a catalogue gene, expressed) -> PROGENy Trail footprint up in
  cancer cells (the example already plants the TRAIL apoptosis programme there);
* IL-6 -> IL6R/IL6ST -> JAK-STAT footprint up in cancer cells (IL-6/STAT3 programme planted);
* HGF -> MET -> MAPK and PI3K footprints up in normal cells (growth-factor and anti-apoptotic
  programmes planted);
* decoy IFN-beta (IFNB1): its receptor IFNAR1/IFNAR2 is added *not expressed* (log2 expected
  count -4) in both cell types, while its pathway (JAK-STAT) is active in cancer cells; a
  correct method never ranks it.

Footprint genes of the planted pathways that are not yet in the gene universe are appended
after the existing genes (existing genes, their counts and truth are untouched); each moves in
the MSC-CM main effect of its receiver cell type with probability 0.9 by
``sign(weight) * Uniform(0.4, 1.2)`` (log2). Their counts follow the example's model (same size
factors; own batch effects and dispersions) from a separate random stream
``default_rng([seed, 15])``. The secretome itself is written as a plain proteomics table of the
medium (planted factors, the decoy, three bystander factors, one undetected protein).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .simulate import (
    CELL_TYPES,
    MAX_DISPERSION,
    THERAPIES,
    SimulatedExperiment,
    cell_label,
)
from .tables import write_tsv


@dataclass(frozen=True)
class SecretedFactor:
    """One planted chain: ligand -> receptor -> footprint pathway(s) in a receiver cell type."""

    ligand: str
    receiver: str
    receptor: str
    pathways: tuple[str, ...]
    sign: int = 1


SECRETOME_PLAN: tuple[SecretedFactor, ...] = (
    SecretedFactor("TNFSF10", "cancer", "TNFRSF10B", ("Trail",)),
    SecretedFactor("IL6", "cancer", "IL6R_IL6ST", ("JAK-STAT",)),
    SecretedFactor("HGF", "normal", "MET", ("MAPK", "PI3K")),
)
DECOY = SecretedFactor("IFNB1", "none", "IFNAR1_IFNAR2", ("JAK-STAT",))
BYSTANDERS = ("DKK1", "STC1", "CCL5")
UNDETECTED = ("FGF2",)
DECOY_LOG2_MEAN = -4.0
RESPONSE_RANGE = (0.4, 1.2)
MOVE_PROBABILITY = 0.9


def add_secretome_chains(
    experiment: SimulatedExperiment,
    footprints: pd.DataFrame,
    *,
    seed: int,
    plan: tuple[SecretedFactor, ...] = SECRETOME_PLAN,
    decoy: SecretedFactor = DECOY,
    batch_sd: float = 0.25,
    dispersion_sd: float = 0.3,
) -> tuple[SimulatedExperiment, pd.DataFrame, pd.DataFrame]:
    """Append footprint and decoy-receptor genes with the planted responses.

    Parameters
    ----------
    experiment : from :func:`msc_secretome.simulate.simulate_bulk_experiment` (with its
        generative parameters)
    footprints : long PROGENy table (pathway, gene, weight)

    Returns
    -------
    (experiment, truth_ligands, proteomics)
        the experiment with ``n_new`` genes appended (counts, truth_de, cell_log2_means,
        dispersions); ``truth_ligands``: contrast, ligand, kind (planted/decoy), receptor,
        pathways; ``proteomics``: gene, abundance, detected, log2_fold_change.
    """
    rng = np.random.default_rng([seed, 15])
    existing = set(experiment.counts.index)
    planted_pathways = sorted({p for f in plan for p in f.pathways})
    footprint = footprints[footprints["pathway"].isin(planted_pathways)]
    new_footprint = sorted(set(footprint["gene"]) - existing)
    decoy_genes = sorted(set(decoy.receptor.split("_")) - existing)
    genes = new_footprint + decoy_genes
    n = len(genes)
    base = np.empty(n)
    base[: len(new_footprint)] = rng.uniform(np.log2(30), np.log2(3000), len(new_footprint))
    base[len(new_footprint) :] = DECOY_LOG2_MEAN
    position = {g: i for i, g in enumerate(genes)}
    effect = {c: np.zeros(n) for c in CELL_TYPES}
    low, high = RESPONSE_RANGE
    for factor in plan:
        for pathway in factor.pathways:
            rows = footprint[footprint["pathway"] == pathway].sort_values("gene")
            rows = rows[rows["gene"].isin(position)]
            index = rows["gene"].map(position).to_numpy(dtype=np.int64)
            moved = rng.random(index.size) < MOVE_PROBABILITY
            size = rng.uniform(low, high, index.size)
            values = factor.sign * np.sign(rows["weight"].to_numpy()) * size
            delta = effect[factor.receiver]
            larger = moved & (np.abs(values) > np.abs(delta[index]))
            delta[index[larger]] = values[larger]

    old_mu = experiment.cell_log2_means
    mu = pd.DataFrame(
        {
            cell_label(c, m, t): base + (effect[c] if m == "msc_cm" else 0.0)
            for c, m, t in [
                (c, m, t) for c in CELL_TYPES for m in ("control", "msc_cm") for t in THERAPIES
            ]
        },  # fmt: skip
        index=pd.Index(genes, name="gene_id"),
    )[old_mu.columns]
    samples = experiment.samples
    batches = sorted(samples["batch"].unique(), key=lambda b: int(b[1:]))
    batch_eff = np.zeros((n, len(batches)))
    batch_eff[:, 1:] = rng.normal(0.0, batch_sd, (n, len(batches) - 1))
    cells = [
        cell_label(c, m, t) for c, m, t in samples[["cell_type", "medium", "therapy"]].to_numpy()
    ]
    sample_batch = [batches.index(b) for b in samples["batch"]]
    size_factors = experiment.size_factors.reindex(samples["sample"]).to_numpy()
    mean = size_factors[None, :] * np.exp2(mu[cells].to_numpy() + batch_eff[:, sample_batch])
    alpha = (0.02 + 1.0 / mean.mean(axis=1)) * rng.lognormal(0.0, dispersion_sd, n)
    alpha = np.minimum(alpha, MAX_DISPERSION)
    counts = rng.poisson(rng.gamma(1.0 / alpha[:, None], mean * alpha[:, None])).astype(np.int64)
    new_counts = pd.DataFrame(counts, index=mu.index, columns=experiment.counts.columns)

    truth_rows = []
    for c in CELL_TYPES:
        changed = np.abs(effect[c]) > 1e-9
        for t in THERAPIES:
            truth_rows += [
                (f"{c}_cm_vs_ctrl_{t}", g, v)
                for g, v in zip(np.array(genes)[changed], effect[c][changed], strict=True)
            ]
    truth_de = pd.concat(
        [experiment.truth_de, pd.DataFrame(truth_rows, columns=experiment.truth_de.columns)],
        ignore_index=True,
    ).sort_values(["contrast", "gene_id"], ignore_index=True)
    grown = SimulatedExperiment(
        counts=pd.concat([experiment.counts, new_counts]),
        samples=samples,
        truth_de=truth_de,
        truth_programmes=experiment.truth_programmes,
        cell_log2_means=pd.concat([old_mu, mu]),
        size_factors=experiment.size_factors,
        dispersions=pd.concat(
            [experiment.dispersions, pd.Series(alpha, index=mu.index, name="dispersion")]
        ),
    )
    return grown, _truth_ligands(plan, decoy), _proteomics(plan, decoy, rng)


def _truth_ligands(plan, decoy) -> pd.DataFrame:
    rows = []
    for c in CELL_TYPES:
        for t in THERAPIES:
            contrast = f"{c}_cm_vs_ctrl_{t}"
            rows += [
                (contrast, f.ligand, "planted", f.receptor, ";".join(f.pathways))
                for f in plan
                if f.receiver == c
            ]
            rows.append((contrast, decoy.ligand, "decoy", decoy.receptor, ";".join(decoy.pathways)))
    table = pd.DataFrame(rows, columns=["contrast", "ligand", "kind", "receptor", "pathways"])
    return table.sort_values(["contrast", "ligand"], ignore_index=True)


def _proteomics(plan, decoy, rng) -> pd.DataFrame:
    detected = [f.ligand for f in plan] + [decoy.ligand, *BYSTANDERS]
    abundance = np.round(10 ** rng.uniform(6.5, 9.0, len(detected)), -3)
    fold = np.round(rng.uniform(0.5, 4.0, len(detected)), 3)
    table = pd.DataFrame(
        {"gene": detected, "abundance": abundance, "detected": True, "log2_fold_change": fold}
    )
    missing = pd.DataFrame(
        {"gene": list(UNDETECTED), "abundance": 0.0, "detected": False, "log2_fold_change": 0.0}
    )
    return pd.concat([table, missing], ignore_index=True).sort_values("gene", ignore_index=True)


def write_secretome_example(
    truth_ligands: pd.DataFrame, proteomics: pd.DataFrame, outdir: str | Path
) -> dict[str, Path]:
    """Write truth_ligands.tsv and secretome_proteomics.tsv (byte-stable)."""
    outdir = Path(outdir)
    paths = {
        "truth_ligands": outdir / "truth_ligands.tsv",
        "proteomics": outdir / "secretome_proteomics.tsv",
    }
    write_tsv(truth_ligands, paths["truth_ligands"])
    table = proteomics.assign(detected=proteomics["detected"].map({True: "true", False: "false"}))
    write_tsv(table, paths["proteomics"])
    return paths
