"""Ligand-receptor pairs (liana's packaged consensus resource) and receptor expression.

The resource is read from the file inside the installed liana wheel
(``liana/resource/omni_resource.csv``), located through ``importlib.metadata`` so that liana
itself is never imported (it pulls in plotting libraries) and nothing is downloaded. Receptors
that are complexes are written ``A_B`` (all subunits are needed).

Receptor expression per receiver group: the mean normalised count (counts / size factor) and
the fraction of samples with a count > 0; a gene is *expressed* when the mean reaches
``min_mean`` and the detected fraction reaches ``min_detected``; a complex when all its
subunits are.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .tables import read_table, sha256_of

LIANA_RESOURCE = "liana/resource/omni_resource.csv"
LIANA_NAMES = {"human": "consensus", "mouse": "mouseconsensus"}
PAIR_COLUMNS = ["ligand", "receptor"]


def liana_resource_file() -> tuple[Path, str]:
    """(path, version) of the consensus resource inside the installed liana distribution."""
    try:
        distribution = metadata.distribution("liana")
    except metadata.PackageNotFoundError as err:
        raise InputError(
            "the ligand-receptor resource needs the Python package liana (its wheel ships it)",
            fix="pip install liana==1.10.0, or give secretome.ligand_receptor: a TSV with "
            "columns ligand, receptor",
        ) from err
    path = Path(str(distribution.locate_file(LIANA_RESOURCE)))
    if not path.is_file():
        raise InputError(f"liana {distribution.version} has no {LIANA_RESOURCE}", path=str(path))
    return path, distribution.version


def read_ligand_receptor(source: str = "liana", organism: str = "human"):
    """Ligand-receptor pairs and a description of where they came from.

    Parameters
    ----------
    source : ``liana`` (the consensus resource packaged in liana) or a TSV/CSV path with
        columns ligand, receptor
    organism : ``human`` or ``mouse`` (liana resource ``consensus`` / ``mouseconsensus``)

    Returns
    -------
    (pairs, info)
        ``pairs``: ``n_pairs x 2`` (ligand, receptor), unique, sorted; ``info``: resource,
        version, path, sha256, n_pairs.
    """
    if source == "liana":
        path, version = liana_resource_file()
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        name = LIANA_NAMES.get(organism)
        if name is None:
            raise InputError(f"organism {organism!r}", fix=f"use one of {sorted(LIANA_NAMES)}")
        table = table[table["resource"] == name]
        pairs = table.rename(
            columns={"source_genesymbol": "ligand", "target_genesymbol": "receptor"}
        )[PAIR_COLUMNS]
        resource = f"liana {name}"
    else:
        path, version = Path(source), ""
        pairs = read_table(path)
        missing = [c for c in PAIR_COLUMNS if c not in pairs.columns]
        if missing:
            raise InputError(
                f"ligand-receptor table lacks column(s) {missing}",
                path=str(path),
                fix="give columns ligand and receptor (complex subunits joined by '_')",
            )
        pairs = pairs[PAIR_COLUMNS]
        resource = "user table"
    pairs = pairs[(pairs["ligand"] != "") & (pairs["receptor"] != "")]
    pairs = pairs.drop_duplicates().sort_values(PAIR_COLUMNS, ignore_index=True)
    info = {
        "resource": resource,
        "version": version,
        "path": str(path),
        "sha256": sha256_of(path),
        "n_pairs": len(pairs),
    }
    return pairs, info


def ligand_genes(pairs: pd.DataFrame) -> set[str]:
    """Every gene that is a ligand (or a subunit of a ligand complex) in ``pairs``."""
    return {g for ligand in pairs["ligand"] for g in ligand.split("_")}


def receptor_expression(
    counts: pd.DataFrame,
    size_factors: pd.Series,
    groups: dict[str, list[str]],
    genes: set[str],
    *,
    min_mean: float = 10.0,
    min_detected: float = 0.5,
) -> pd.DataFrame:
    """Expression of ``genes`` in each receiver group.

    Parameters
    ----------
    counts : ``n_samples x n_genes`` raw counts, columns gene symbols (duplicates summed)
    size_factors : per sample (index the samples)
    groups : receiver group name -> its samples
    genes : symbols to report (receptor subunits); absent genes count as not expressed

    Returns
    -------
    pandas.DataFrame
        one row per group x gene: group, gene, mean_normalised, detected_fraction, expressed.
    """
    counts = counts.T.groupby(level=0).sum().T
    normalised = counts.div(size_factors.reindex(counts.index).to_numpy(), axis=0)
    rows = []
    for group, samples in groups.items():
        block_norm = normalised.loc[samples]
        block = counts.loc[samples]
        for gene in sorted(genes):
            if gene in block.columns:
                mean = float(block_norm[gene].mean())
                detected = float((block[gene] > 0).mean())
            else:
                mean, detected = 0.0, 0.0
            rows.append(
                (group, gene, mean, detected, mean >= min_mean and detected >= min_detected)
            )
    return pd.DataFrame(
        rows, columns=["group", "gene", "mean_normalised", "detected_fraction", "expressed"]
    )


def complex_expressed(receptor: str, expression: dict[str, tuple[float, bool]]):
    """(mean of the least expressed subunit, all subunits expressed) of ``A_B``-style receptors."""
    subunits = receptor.split("_")
    values = [expression.get(s, (0.0, False)) for s in subunits]
    return float(np.min([v[0] for v in values])), all(v[1] for v in values)
