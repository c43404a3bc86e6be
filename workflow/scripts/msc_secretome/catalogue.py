"""The curated programme catalogue: gene programmes the MSC secretome may switch on or off.

File format (TSV, one row per programme; ``data/program_catalogue.tsv`` is the built-in one):

=================  ===========================================================================
column             meaning
=================  ===========================================================================
program            unique name, prefixed by category: CYT_, STRESS_, REG_, RISK_
category           cytotoxic | stress_damage | regenerative_protective | pro_tumour_risk
tier               core (used by the dual-benefit summary) | extended (reported only)
direction_cancer   desired sign in cancer cells: 1 (want up), -1 (want down), 0 (ambiguous)
direction_normal   desired sign in normal cells, same coding
source             provenance: GO term(s), PROGENy pathway, Hallmark name, literature
genes              comma-separated current HGNC symbols
description        one line in plain words
=================  ===========================================================================
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .errors import InputError

CATEGORIES = ("cytotoxic", "stress_damage", "regenerative_protective", "pro_tumour_risk")
PREFIX_OF_CATEGORY = {
    "cytotoxic": "CYT_",
    "stress_damage": "STRESS_",
    "regenerative_protective": "REG_",
    "pro_tumour_risk": "RISK_",
}
COLUMNS = (
    "program",
    "category",
    "tier",
    "direction_cancer",
    "direction_normal",
    "source",
    "genes",
    "description",
)


def builtin_catalogue_path() -> Path:
    """Path of the catalogue shipped with the package."""
    return Path(__file__).parent / "data" / "program_catalogue.tsv"


def read_catalogue(path: str | Path | None = None) -> pd.DataFrame:
    """Read and check a programme catalogue; ``None`` or ``"builtin"`` reads the built-in one.

    Returns one row per programme with ``genes`` as a tuple of symbols.
    """
    if path is None or str(path) == "builtin":
        path = builtin_catalogue_path()
    path = Path(path)
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment="#")
    return check_catalogue(table, source=str(path))


def check_catalogue(table: pd.DataFrame, source: str = "catalogue") -> pd.DataFrame:
    """Validate a catalogue table; return a normalised copy (directions as int, genes as tuples)."""
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise InputError(
            f"missing column(s) {missing}; found {list(table.columns)}",
            path=source,
            fix=f"a catalogue needs the columns {list(COLUMNS)}",
        )
    out = table.loc[:, list(COLUMNS)].copy()
    dupes = out["program"][out["program"].duplicated()].tolist()
    if dupes:
        raise InputError(f"duplicated program name(s) {dupes}", path=source, fix="rename them")
    for row_number, row in enumerate(out.itertuples(index=False), start=2):
        where = f"row {row_number} (program {row.program!r})"
        if row.category not in CATEGORIES:
            raise InputError(
                f"{where}: category {row.category!r} is not one of {list(CATEGORIES)}",
                path=source,
                fix="use one of the four categories",
            )
        if row.tier not in ("core", "extended"):
            raise InputError(
                f"{where}: tier {row.tier!r} must be 'core' or 'extended'", path=source
            )
        for column in ("direction_cancer", "direction_normal"):
            value = getattr(row, column)
            if value not in ("-1", "0", "1", "+1"):
                raise InputError(
                    f"{where}: {column} is {value!r}; it must be -1, 0 or 1", path=source
                )
        genes = [g.strip() for g in row.genes.split(",") if g.strip()]
        if not genes:
            raise InputError(f"{where}: no genes", path=source)
        if len(set(genes)) != len(genes):
            raise InputError(f"{where}: a gene is listed twice", path=source)
    out["direction_cancer"] = out["direction_cancer"].astype(int)
    out["direction_normal"] = out["direction_normal"].astype(int)
    out["genes"] = [tuple(g.strip() for g in s.split(",") if g.strip()) for s in out["genes"]]
    return out.reset_index(drop=True)


def catalogue_gene_sets(catalogue: pd.DataFrame) -> dict[str, list[str]]:
    """Programme name -> gene symbols, in catalogue order."""
    return {row.program: list(row.genes) for row in catalogue.itertuples(index=False)}


def catalogue_long(catalogue: pd.DataFrame) -> pd.DataFrame:
    """One row per (program, gene) membership."""
    rows = [
        (row.program, row.category, gene)
        for row in catalogue.itertuples(index=False)
        for gene in row.genes
    ]
    return pd.DataFrame(rows, columns=["program", "category", "gene"])
