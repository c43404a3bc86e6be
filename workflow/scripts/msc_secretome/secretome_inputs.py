"""What is in the secretome: the built-in MSC factor table or a proteomics table of the medium.

Two readers for conditioned-medium proteomics:

* MaxQuant ``proteinGroups.txt``-like tables: a ``Gene names`` column (``;``-separated for
  protein groups), ``LFQ intensity <sample>`` columns (else ``Intensity <sample>``); rows marked
  ``+`` in ``Reverse``, ``Potential contaminant`` (or ``Contaminant``) or ``Only identified by
  site`` are dropped and counted. DIA-NN ``pg_matrix``-style tables (``Genes`` column, one
  intensity column per run) are read the same way when they have no MaxQuant marker columns.
* A plain TSV/CSV: a gene column (``gene``, ``symbol`` or ``gene_symbol``) and optionally
  ``abundance``, ``detected`` (true/false, 1/0, yes/no) and ``log2_fold_change`` (over control
  medium).

Both give one row per gene: gene, abundance (mean of the non-zero intensities; NaN when only
detection is known), detected, log2_fold_change.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .tables import read_table

FACTOR_COLUMNS = (
    "symbol", "factor", "class", "effect_cancer", "effect_normal", "pathways", "evidence",
    "references",
)  # fmt: skip
PROTEOMICS_COLUMNS = ["gene", "abundance", "detected", "log2_fold_change", "n_rows"]
MAXQUANT_FLAGS = ("Reverse", "Potential contaminant", "Contaminant", "Only identified by site")
GENE_COLUMNS = ("gene", "symbol", "gene_symbol", "Gene names", "Genes", "Gene")
TRUE_WORDS, FALSE_WORDS = {"true", "1", "yes", "+", "detected"}, {"false", "0", "no", "", "-"}


def builtin_factor_path() -> Path:
    """The curated MSC secretome factor table shipped with the package."""
    return Path(str(resources.files("msc_secretome") / "data" / "secretome_factors.tsv"))


def read_factor_table(path: str | Path = "builtin") -> pd.DataFrame:
    """Read a secretome factor table (the built-in one for ``"builtin"``).

    Returns
    -------
    pandas.DataFrame
        one row per factor, columns :data:`FACTOR_COLUMNS`, sorted by symbol.
    """
    path = builtin_factor_path() if str(path) == "builtin" else Path(path)
    table = read_table(path)
    missing = [c for c in FACTOR_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(
            f"factor table lacks column(s) {missing}",
            path=str(path),
            fix=f"give the columns {list(FACTOR_COLUMNS)} (see the built-in secretome_factors.tsv)",
        )
    table = table[list(FACTOR_COLUMNS)]
    duplicated = table["symbol"].duplicated()
    if duplicated.any():
        raise InputError(
            f"symbol {table.loc[duplicated, 'symbol'].iloc[0]!r} is listed twice",
            path=str(path),
            fix="one row per secreted factor",
        )
    for line, text in enumerate(table["pathways"], start=2):
        parse_pathways(text, where=f"{path}: line {line}")
    return table.sort_values("symbol", ignore_index=True)


def parse_pathways(text: str, *, where: str = "pathways") -> list[tuple[str, int]]:
    """``"MAPK:+1;PI3K:+1"`` -> ``[("MAPK", 1), ("PI3K", 1)]``; empty text -> ``[]``."""
    out = []
    for item in filter(None, (part.strip() for part in str(text).split(";"))):
        match = re.fullmatch(r"([^:]+):([+-]1)", item)
        if not match:
            raise InputError(
                f"{where}: cannot read pathway {item!r}",
                fix="write pathway:+1 (activates) or pathway:-1 (inhibits), ';'-separated",
            )
        out.append((match.group(1), int(match.group(2))))
    return out


def read_proteomics(path: str | Path) -> tuple[pd.DataFrame, dict[str, int]]:
    """Read a proteomics table of the conditioned medium (MaxQuant-like or plain).

    Returns
    -------
    (genes, report)
        ``genes``: one row per gene symbol, columns :data:`PROTEOMICS_COLUMNS`, sorted by gene;
        ``report``: counts of rows read, dropped per flag and without a gene name.
    """
    table = read_table(path)
    gene_column = next((c for c in GENE_COLUMNS if c in table.columns), None)
    if gene_column is None:
        raise InputError(
            f"no gene column: the table has {list(table.columns)[:12]}",
            path=str(path),
            fix=f"name the gene-symbol column one of {list(GENE_COLUMNS)} "
            "(MaxQuant: 'Gene names'; DIA-NN: 'Genes')",
        )
    report = {"n_rows": len(table)}
    keep = np.ones(len(table), dtype=bool)
    for flag in MAXQUANT_FLAGS:
        if flag in table.columns:
            marked = table[flag].str.strip() == "+"
            report[f"n_dropped_{flag.lower().replace(' ', '_')}"] = int((marked & keep).sum())
            keep &= ~marked.to_numpy()
    table = table.loc[keep]
    intensity = _intensity_columns(table, gene_column)
    values = None
    if intensity:
        values = table[intensity].apply(pd.to_numeric, errors="coerce")
        bad = values.isna() & (table[intensity].apply(lambda c: c.str.strip()) != "")
        if bad.to_numpy().any():
            row, col = np.argwhere(bad.to_numpy())[0]
            raise InputError(
                f"intensity {table[intensity].iat[row, col]!r} in column {intensity[col]!r} "
                f"(data row {row + 1}) is not a number",
                path=str(path),
                fix="intensities must be numbers (empty or 0 = not detected)",
            )
        values = values.fillna(0.0)
    genes = table[gene_column].str.strip()
    report["n_without_gene"] = int((genes == "").sum())
    rows = []
    for i, names in enumerate(genes):
        if not names:
            continue
        row = {"n_rows": 1}
        if values is not None:
            positive = values.iloc[i][values.iloc[i] > 0]
            row["abundance"] = float(positive.mean()) if len(positive) else np.nan
            row["detected"] = bool(len(positive))
        else:
            row.update(_plain_row(table, i, path))
        if "log2_fold_change" in table.columns and values is not None:
            row["log2_fold_change"] = _number(table["log2_fold_change"].iloc[i], path, i)
        for gene in filter(None, (g.strip() for g in names.split(";"))):
            rows.append({"gene": gene, **row})
    if not rows:
        raise InputError("no row with a gene name", path=str(path), fix="fill the gene column")
    long = pd.DataFrame(rows).reindex(columns=PROTEOMICS_COLUMNS)
    merged = long.groupby("gene", sort=True).agg(
        abundance=("abundance", "max"),
        detected=("detected", "max"),
        log2_fold_change=("log2_fold_change", "max"),
        n_rows=("n_rows", "sum"),
    )
    merged["detected"] = merged["detected"].astype(bool)
    report["n_genes"] = len(merged)
    report["n_detected"] = int(merged["detected"].sum())
    return merged.reset_index()[PROTEOMICS_COLUMNS], report


def _intensity_columns(table: pd.DataFrame, gene_column: str) -> list[str]:
    for prefix in ("LFQ intensity ", "Intensity "):
        columns = [c for c in table.columns if c.startswith(prefix)]
        if columns:
            return columns
    if gene_column == "Genes":  # DIA-NN pg_matrix: every column after the annotation ones
        annotation = {"Protein.Group", "Protein.Ids", "Protein.Names", "Genes",
                      "First.Protein.Description"}  # fmt: skip
        return [c for c in table.columns if c not in annotation]
    return []


def _plain_row(table: pd.DataFrame, i: int, path) -> dict:
    row = {"abundance": np.nan, "log2_fold_change": np.nan}
    if "abundance" in table.columns:
        row["abundance"] = _number(table["abundance"].iloc[i], path, i)
    if "log2_fold_change" in table.columns:
        row["log2_fold_change"] = _number(table["log2_fold_change"].iloc[i], path, i)
    if "detected" in table.columns:
        word = str(table["detected"].iloc[i]).strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise InputError(
                f"detected value {word!r} on data row {i + 1} is not true/false",
                path=str(path),
                fix="write detected as true/false, yes/no or 1/0",
            )
        row["detected"] = word in TRUE_WORDS
    else:
        row["detected"] = not np.isfinite(row["abundance"]) or row["abundance"] > 0
    return row


def _number(text: str, path, i: int) -> float:
    if str(text).strip() in ("", "NA", "NaN", "nan"):
        return np.nan
    try:
        return float(text)
    except ValueError as err:
        raise InputError(
            f"{text!r} on data row {i + 1} is not a number", path=str(path), fix="use numbers"
        ) from err


def secretome_ligands(
    source: str,
    factors: pd.DataFrame,
    resource_ligands: set[str],
    *,
    proteomics: pd.DataFrame | None = None,
    proteomics_path: str | None = None,
    producer: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The secreted ligands to link, with how each is known to be in the secretome.

    Parameters
    ----------
    source : ``builtin`` (every factor of the table), ``proteomics`` (detected genes) or
        ``producer_rna`` (``producer``: :func:`msc_secretome.producer_rna.producer_ligands`)
    factors : the factor table (:func:`read_factor_table`); annotates proteomics hits too
    resource_ligands : ligand genes of the ligand-receptor resource (complex subunits split)
    proteomics : :func:`read_proteomics` genes (``source="proteomics"``)

    Returns
    -------
    pandas.DataFrame
        one row per ligand: ligand, factor, in_secretome (how it is known), abundance,
        log2_fold_change, curated_pathways, effect_cancer, effect_normal, references;
        sorted by ligand.
    """
    annotation = factors.set_index("symbol")
    if source == "builtin":
        ligands = pd.DataFrame({"ligand": factors["symbol"]})
        ligands["in_secretome"] = "factor table"
        ligands["abundance"] = np.nan
        ligands["log2_fold_change"] = np.nan
    elif source == "proteomics":
        if proteomics is None:
            raise InputError("secretome.source is proteomics but no table was read")
        detected = proteomics[proteomics["detected"]]
        overlap = detected[detected["gene"].isin(resource_ligands)]
        if overlap.empty:
            raise InputError(
                f"none of the {len(detected)} detected genes is a ligand of the ligand-receptor "
                f"resource (first genes: {list(detected['gene'][:5])})",
                path=proteomics_path,
                fix="the gene column must hold gene symbols of the configured organism "
                "(e.g. TNFSF10, IL6), not protein accessions",
            )
        ligands = overlap.rename(columns={"gene": "ligand"})[
            ["ligand", "abundance", "log2_fold_change"]
        ].copy()
        ligands["in_secretome"] = [
            "proteomics" + (f" (abundance {a:.3g})" if np.isfinite(a) else " (detected)")
            for a in ligands["abundance"]
        ]
    elif source == "producer_rna":
        if producer is None:
            raise InputError("secretome.source is producer_rna but no producer table was read")
        ligands = producer[["ligand", "in_secretome", "abundance", "log2_fold_change"]].copy()
    else:
        raise InputError(
            f"secretome.source {source!r} is not available",
            fix="use builtin, proteomics or producer_rna",
        )
    for column, out in (("factor", "factor"), ("pathways", "curated_pathways"),
                        ("effect_cancer", "effect_cancer"), ("effect_normal", "effect_normal"),
                        ("references", "references")):  # fmt: skip
        ligands[out] = ligands["ligand"].map(annotation[column]).fillna("")
    ligands.loc[ligands["factor"] == "", "factor"] = ligands["ligand"]
    columns = ["ligand", "factor", "in_secretome", "abundance", "log2_fold_change",
               "curated_pathways", "effect_cancer", "effect_normal", "references"]  # fmt: skip
    return ligands[columns].sort_values("ligand", ignore_index=True)


def factors_for_organism(factors: pd.DataFrame, organism: str) -> tuple[pd.DataFrame, int]:
    """The factor table in the organism's symbols; returns (table, n_without_orthologue).

    Human symbols are kept as they are. For mouse the hook is
    ``msc_secretome.orthologs.map_genes(symbols, from_organism="human", to_organism="mouse")``
    (one-to-one orthologues; its ``mapped`` dict gives the targets); factors without an
    orthologue are left out and counted.
    """
    if organism == "human":
        return factors, 0
    try:
        from .orthologs import map_genes
    except ImportError as err:
        raise InputError(
            f"organism {organism}: the built-in factor table has human symbols and no "
            "orthologue mapping (msc_secretome.orthologs) is installed",
            fix="give secretome.factors: a factor table with mouse symbols",
        ) from err
    mapping = map_genes(list(factors["symbol"]), from_organism="human", to_organism=organism)
    targets = {s: t[0] for s, t in mapping.mapped.items() if len(t) == 1}
    mapped = factors[factors["symbol"].isin(targets)].copy()
    mapped["symbol"] = mapped["symbol"].map(targets)
    return mapped.sort_values("symbol", ignore_index=True), len(factors) - len(mapped)
