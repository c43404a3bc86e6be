"""The secretome stage's steps, as the rule ``secretome_links`` runs them.

1. :func:`load_secretome` reads and checks everything small (factor table, ligand-receptor
   resource, footprints, proteomics or producer RNA) and returns the secretome's ligands, so bad
   input stops before any computation;
2. :func:`symbol_matrix` turns an AnnData (samples x gene ids) into samples x symbols (the
   resources are keyed by symbol);
3. :func:`receiver_groups` gives the samples of each receiver group of the study;
4. :func:`secretome_methods` writes what was used (sources, versions, checksums, thresholds)
   for the report's methods.

The statistics are in :mod:`.pathway_activity`, :mod:`.ligand_receptor` and
:mod:`.ligand_links`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import pathway_activity
from .ligand_links import methods_table
from .ligand_receptor import ligand_genes, read_ligand_receptor
from .producer_rna import producer_ligands
from .roles import Study
from .secretome_inputs import (
    builtin_factor_path,
    factors_for_organism,
    read_factor_table,
    read_proteomics,
    secretome_ligands,
)
from .tables import sha256_of


@dataclass
class SecretomeInputs:
    """What the secretome stage reads, checked.

    ``ligands``: the secretome's ligands (:func:`.secretome_inputs.secretome_ligands`);
    ``pairs``: ligand-receptor pairs; ``resource``: the resource's name, version, sha256 and
    number of pairs; ``footprints``: pathway x target weights (long table).
    """

    factor_path: Path
    factors: pd.DataFrame
    n_without_orthologue: int
    pairs: pd.DataFrame
    resource: dict
    footprint_path: Path
    footprints: pd.DataFrame
    ligands: pd.DataFrame
    proteomics_report: dict = field(default_factory=dict)

    @property
    def receptor_genes(self) -> set[str]:
        """Every gene of every receptor (complexes split at ``_``)."""
        return {gene for receptor in self.pairs["receptor"] for gene in receptor.split("_")}


def load_secretome(
    settings: dict,
    *,
    proteomics: str | None = None,
    producer: str | None = None,
    alpha: float = 0.05,
) -> SecretomeInputs:
    """Read and check the secretome's inputs (config ``secretome`` plus ``organism``).

    Parameters
    ----------
    settings : config ``secretome`` with the run's ``organism`` added.
    proteomics : the medium's proteomics table (``source: proteomics``).
    producer : the producer cells' counts (``source: producer_rna``).
    alpha : the DE threshold, for a producer DE table.
    """
    builtin = settings["factors"] == "builtin"
    factor_path = Path(builtin_factor_path() if builtin else settings["factors"])
    factors = read_factor_table(factor_path)
    n_without_orthologue = 0
    if builtin:  # the built-in table is human: map it for mouse
        factors, n_without_orthologue = factors_for_organism(factors, settings["organism"])
    pairs, resource = read_ligand_receptor(settings["ligand_receptor"], settings["organism"])
    footprint_path = Path(
        pathway_activity.builtin_footprint_path(settings["organism"])
        if settings["footprints"] == "builtin"
        else settings["footprints"]
    )
    footprints = pathway_activity.read_footprints(footprint_path)
    proteomics_table, proteomics_report = None, {}
    if settings["source"] == "proteomics":
        proteomics_table, proteomics_report = read_proteomics(proteomics)
    producer_table = None
    if settings["source"] == "producer_rna":
        producer_table = producer_ligands(
            producer,
            ligand_genes(pairs),
            de_path=settings["producer_rna"]["de"],
            min_cpm=settings["producer_rna"]["min_cpm"],
            alpha=alpha,
        )
    ligands = secretome_ligands(
        settings["source"],
        factors,
        ligand_genes(pairs),
        proteomics=proteomics_table,
        proteomics_path=proteomics,
        producer=producer_table,
    )
    return SecretomeInputs(
        factor_path=factor_path,
        factors=factors,
        n_without_orthologue=n_without_orthologue,
        pairs=pairs,
        resource=resource,
        footprint_path=footprint_path,
        footprints=footprints,
        ligands=ligands,
        proteomics_report=proteomics_report,
    )


def symbol_matrix(values: np.ndarray, obs_names, symbols, *, collapse: str | None = None):
    """Samples x symbols from samples x gene ids; ids without a symbol (``""``) are dropped.

    Parameters
    ----------
    values : (samples, genes) array.
    obs_names : (samples,) sample names; symbols : (genes,) the genes' symbols.
    collapse : ``"max"`` keeps one column per symbol (the largest value per sample, for
        several ids of one symbol); ``None`` keeps duplicated symbols as they are.

    Returns
    -------
    pd.DataFrame, (samples, symbols).
    """
    table = pd.DataFrame(values, index=obs_names, columns=pd.Index(symbols).astype(str))
    table = table.loc[:, table.columns != ""]
    if collapse == "max":
        table = table.T.groupby(level=0).max().T
    return table


def receiver_groups(study: Study, obs: pd.DataFrame) -> dict[str, list[str]]:
    """Samples of each receiver group of ``study`` that has any (``obs`` has a ``sample``
    column and the study's role columns)."""
    groups = {group: list(study.group_samples(obs, group)["sample"]) for group in study.groups}
    return {group: samples for group, samples in groups.items() if samples}


def secretome_methods(
    inputs: SecretomeInputs,
    settings: dict,
    *,
    proteomics: str | None,
    producer: list[str],
    statistic: str,
) -> pd.DataFrame:
    """The methods table of the secretome stage (``item``, ``value`` rows)."""
    builtin_factors = settings["factors"] == "builtin"
    factor_name = "built-in secretome_factors.tsv" if builtin_factors else str(inputs.factor_path)
    footprint_name = (
        f"PROGENy top-100 ({settings['organism']}), progeny 1.20.0 (r-bioc-progeny)"
        if settings["footprints"] == "builtin"
        else "user footprints"
    )
    producer_text = ""
    if producer:
        producer_text = (
            f"{'; '.join(f'{p} (sha256 {sha256_of(p)})' for p in producer)}; "
            f"expressed at mean CPM >= {settings['producer_rna']['min_cpm']}"
        )
    entries = {
        "secretome_source": settings["source"],
        "factor_table": f"{factor_name} (sha256 {sha256_of(inputs.factor_path)})",
        "factors_without_orthologue": inputs.n_without_orthologue,
        "proteomics": (
            f"{proteomics} (sha256 {sha256_of(proteomics)}); {inputs.proteomics_report}"
            if proteomics
            else ""
        ),
        "producer_rna": producer_text,
        "ligand_receptor_resource": inputs.resource["resource"],
        "ligand_receptor_version": inputs.resource["version"],
        "ligand_receptor_sha256": inputs.resource["sha256"],
        "ligand_receptor_pairs": inputs.resource["n_pairs"],
        "footprints": footprint_name,
        "footprints_sha256": sha256_of(inputs.footprint_path),
        "pathway_activity_method": (
            f"univariate linear model of DE '{statistic}' on footprint weights (t-value, "
            "two-sided t p-value, BH FDR over pathways per contrast)"
        ),
        "pathway_fdr": settings["fdr"],
        "receptor_expressed_if": (
            f"mean normalised count >= {settings['receptor_min_mean']} and detected in >= "
            f"{settings['receptor_min_detected']:.0%} of the group's samples"
        ),
    }
    return methods_table(entries)
