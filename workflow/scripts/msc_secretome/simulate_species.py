"""The example simulation for other species: mouse symbols, or fly-like gene ids.

:func:`msc_secretome.simulate.simulate_bulk_experiment` plants programme shifts on the genes of
a catalogue. Here the catalogue is first brought into the organism's ids, then simulated as is:

* ``mouse``: every programme's genes mapped through the shipped one-to-one orthologue table
  (:func:`msc_secretome.orthologs.map_gene_sets`), i.e. the same gene sets the workflow builds
  for ``organism: mouse`` with the built-in catalogue; unmapped genes leave the programme.
* ``fly``: FlyBase-like ids ``FBgn0000001`` ... (one per catalogue symbol, in sorted symbol
  order; the synthetic background genes get ``FBgn5000001`` ...), for a study with
  ``gene_sets.programmes: none``; the programmes come back as a GMT in those ids.

Design, plan, truth tables and seeding are those of :mod:`msc_secretome.simulate`; the same
arguments give identical output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .catalogue import catalogue_gene_sets, read_catalogue
from .errors import InputError
from .gmt import write_gmt
from .orthologs import map_gene_sets
from .simulate import (
    DEFAULT_SEED,
    SYNTHETIC_PREFIX,
    SimulatedExperiment,
    simulate_bulk_experiment,
    write_experiment,
)

SPECIES = ("human", "mouse", "fly")
FLY_PREFIX = "FBgn"
#: Number of the first fly-like id given to a synthetic (non-programme) gene.
FLY_SYNTHETIC_START = 5_000_001


@dataclass
class SpeciesExperiment:
    """A simulated experiment in one organism's gene ids.

    ``catalogue`` is the catalogue in those ids (programme names unchanged), ``gene_sets``
    its programmes as name -> genes (what a user GMT would hold).
    """

    organism: str
    experiment: SimulatedExperiment
    catalogue: pd.DataFrame
    gene_sets: dict[str, list[str]]


def fly_like_ids(symbols: list[str], start: int = 1) -> dict[str, str]:
    """Symbol -> ``FBgn`` + 7 digits, numbered from ``start`` in sorted symbol order."""
    return {s: f"{FLY_PREFIX}{start + i:07d}" for i, s in enumerate(sorted(set(symbols)))}


def species_catalogue(catalogue: pd.DataFrame, organism: str) -> pd.DataFrame:
    """``catalogue`` (human symbols) with each programme's genes in ``organism``'s ids.

    Parameters
    ----------
    catalogue : pandas.DataFrame
        n_programmes rows as :func:`msc_secretome.catalogue.read_catalogue` returns.
    organism : {"human", "mouse", "fly"}

    Returns
    -------
    pandas.DataFrame
        Same rows and columns; ``genes`` tuples in the organism's ids. A programme left
        without genes is an :class:`InputError`.
    """
    if organism not in SPECIES:
        raise InputError(f"organism {organism!r} is not one of {list(SPECIES)}")
    if organism == "human":
        return catalogue.copy()
    sets = catalogue_gene_sets(catalogue)
    if organism == "mouse":
        mapped, _ = map_gene_sets(sets, from_organism="human", to_organism="mouse")
    else:
        ids = fly_like_ids([g for genes in sets.values() for g in genes])
        mapped = {name: [ids[g] for g in genes] for name, genes in sets.items()}
    empty = [name for name, genes in mapped.items() if not genes]
    if empty:
        raise InputError(f"programme(s) {empty} have no gene in {organism} ids")
    out = catalogue.copy()
    out["genes"] = [tuple(mapped[name]) for name in out["programme"]]
    return out


def simulate_species_experiment(
    organism: str,
    *,
    n_genes: int = 20000,
    n_replicates: int = 3,
    seed: int = DEFAULT_SEED,
    catalogue: pd.DataFrame | None = None,
) -> SpeciesExperiment:
    """Simulate the example experiment with ``organism``'s gene ids.

    Parameters
    ----------
    organism : {"human", "mouse", "fly"}
    n_genes, n_replicates, seed
        As in :func:`msc_secretome.simulate.simulate_bulk_experiment`.
    catalogue : pandas.DataFrame, optional
        In human symbols; default the built-in one.

    Returns
    -------
    SpeciesExperiment
        Counts genes x samples (n_genes x 12 * n_replicates) in the organism's ids; the
        truth tables are keyed by programme and contrast as in the human example.
    """
    human = read_catalogue() if catalogue is None else catalogue
    translated = species_catalogue(human, organism)
    experiment = simulate_bulk_experiment(
        translated, n_genes=n_genes, n_replicates=n_replicates, seed=seed
    )
    if organism == "fly":  # synthetic background genes get fly-like ids too
        synthetic = [g for g in experiment.counts.index if g.startswith(SYNTHETIC_PREFIX)]
        rename = fly_like_ids(synthetic, start=FLY_SYNTHETIC_START)
        experiment.counts = experiment.counts.rename(index=rename)
        experiment.truth_de = experiment.truth_de.assign(
            gene_id=experiment.truth_de["gene_id"].replace(rename)
        )
        if experiment.cell_log2_means is not None:
            experiment.cell_log2_means = experiment.cell_log2_means.rename(index=rename)
        if experiment.dispersions is not None:
            experiment.dispersions = experiment.dispersions.rename(index=rename)
    return SpeciesExperiment(organism, experiment, translated, catalogue_gene_sets(translated))


def write_species_experiment(simulated: SpeciesExperiment, outdir: str | Path) -> dict[str, Path]:
    """:func:`msc_secretome.simulate.write_experiment` plus ``programmes.gmt`` (the programmes in
    the organism's ids); byte-stable."""
    paths = write_experiment(simulated.experiment, outdir)
    paths["gmt"] = write_gmt(simulated.gene_sets, Path(outdir) / "programmes.gmt")
    return paths
