"""Human-mouse orthologues: map gene symbols and gene sets between the two species.

The table shipped in ``data/human_mouse_orthologs.tsv.gz`` (Ensembl Compara orthologues via
Ensembl BioMart; origin, date and licence in ``data/human_mouse_orthologs.SOURCE.md``) is read
offline: nothing is downloaded at run time.

By default only **one-to-one** orthologues map (Ensembl homology type ``one2one``, and each of
the two symbols in exactly one such pair): a human gene with several mouse orthologues (or the
reverse) is left out rather than guessed, and counted in the mapping rate. ``one_to_one=False``
keeps every orthologue pair (one symbol may then map to several).

Used for the programme catalogue (``organism: mouse``) and by the ligand-receptor stage.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from .errors import InputError

#: Values of the ``organism`` config key.
ORGANISMS = ("human", "mouse", "other")
#: Organisms the shipped table maps between.
MAPPED_ORGANISMS = ("human", "mouse")
TABLE_COLUMNS = (
    "human_symbol",
    "mouse_symbol",
    "homology_type",
    "confidence",
    "human_gene_id",
    "mouse_gene_id",
)
#: Per-symbol outcome in :attr:`GeneMapping.table`: a one-to-one orthologue; orthologues that
#: are not one-to-one (mapped only with ``one_to_one=False``); none; the same organism.
STATUSES = ("one2one", "not_one_to_one", "no_ortholog", "same_organism")
MAPPING_COLUMNS = ("symbol", "mapped_symbols", "status")
SET_MAPPING_COLUMNS = ("gene_set", "n_genes", "n_mapped", "mapping_rate", "unmapped")
_ID_LIKE = re.compile(r"^[A-Za-z]+\d{4,}$")


def builtin_ortholog_path() -> Path:
    """Path of the human-mouse orthologue table shipped with the package."""
    return Path(__file__).parent / "data" / "human_mouse_orthologs.tsv.gz"


@lru_cache(maxsize=4)
def read_ortholog_table(path: str | None = None) -> pd.DataFrame:
    """The orthologue table: one row per (human gene, mouse gene) pair, columns
    :data:`TABLE_COLUMNS` (all text). ``None`` reads the shipped table.

    Returns
    -------
    pandas.DataFrame
        n_pairs x 6; do not modify it (it is cached).
    """
    path = Path(path) if path else builtin_ortholog_path()
    if not path.is_file():
        raise InputError("orthologue table not found", path=str(path), fix="reinstall the package")
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(
            f"header: missing column(s) {missing}; found {list(table.columns)}",
            path=str(path),
            fix=f"an orthologue table needs the columns {list(TABLE_COLUMNS)}",
        )
    return table.loc[:, list(TABLE_COLUMNS)]


@dataclass(frozen=True)
class GeneMapping:
    """Result of :func:`map_genes`.

    Attributes
    ----------
    mapped : dict
        Input symbol -> list of target symbols, in input order; empty list when unmapped.
    table : pandas.DataFrame
        n_symbols x 3: ``symbol``, ``mapped_symbols`` (``;``-joined), ``status`` (one of
        :data:`STATUSES`).
    from_organism, to_organism : str
    one_to_one : bool
    """

    mapped: dict[str, list[str]]
    table: pd.DataFrame
    from_organism: str
    to_organism: str
    one_to_one: bool

    @property
    def n_genes(self) -> int:
        return len(self.mapped)

    @property
    def n_mapped(self) -> int:
        return sum(1 for targets in self.mapped.values() if targets)

    @property
    def mapping_rate(self) -> float:
        """Fraction of the (distinct) input symbols that map; 0.0 for no input."""
        return self.n_mapped / self.n_genes if self.n_genes else 0.0


def _check_organisms(from_organism: str, to_organism: str) -> None:
    for key, value in (("from_organism", from_organism), ("to_organism", to_organism)):
        if value not in MAPPED_ORGANISMS:
            raise InputError(
                f"{key} is {value!r}; the shipped orthologue table maps between "
                f"{list(MAPPED_ORGANISMS)} only",
                fix="for other organisms set gene_sets.programmes: none and give GMT libraries "
                "in your organism's gene ids",
            )


@lru_cache(maxsize=8)
def _pairs(from_organism: str, to_organism: str, one_to_one: bool, path: str | None):
    """(source -> targets dict of kept pairs, source -> targets dict of all pairs)."""
    table = read_ortholog_table(path)
    source, target = f"{from_organism}_symbol", f"{to_organism}_symbol"
    every = table.groupby(source, sort=False)[target].agg(lambda s: list(dict.fromkeys(s)))
    if one_to_one:
        one = table[table["homology_type"] == "one2one"]
        unique = ~one[source].duplicated(keep=False) & ~one[target].duplicated(keep=False)
        one = one[unique]
        kept = dict(zip(one[source], ([t] for t in one[target]), strict=True))
    else:
        kept = every.to_dict()
    return kept, every.to_dict()


def map_genes(
    symbols: Iterable[str],
    *,
    from_organism: str = "human",
    to_organism: str = "mouse",
    one_to_one: bool = True,
    table_path: str | None = None,
) -> GeneMapping:
    """Map gene symbols from one organism to the other through the orthologue table.

    Parameters
    ----------
    symbols : iterable of str
        n symbols (case-sensitive: human ``TP53``, mouse ``Trp53``); duplicates count once.
    from_organism, to_organism : {"human", "mouse"}
        Equal organisms map every symbol to itself (status ``same_organism``).
    one_to_one : bool
        True (default): only one-to-one orthologues; False: every orthologue pair.
    table_path : str, optional
        Another table with the columns :data:`TABLE_COLUMNS`; default the shipped one.

    Returns
    -------
    GeneMapping
        ``mapped`` (symbol -> targets), the per-symbol ``table`` and the ``mapping_rate``.
    """
    _check_organisms(from_organism, to_organism)
    unique = list(dict.fromkeys(str(s) for s in symbols))
    if from_organism == to_organism:
        mapped = {s: [s] for s in unique}
        statuses = ["same_organism"] * len(unique)
    else:
        kept, every = _pairs(from_organism, to_organism, one_to_one, table_path)
        one, _ = _pairs(from_organism, to_organism, True, table_path)
        mapped, statuses = {}, []
        for symbol in unique:
            mapped[symbol] = list(kept.get(symbol, []))
            if symbol in one:
                statuses.append("one2one")
            else:
                statuses.append("not_one_to_one" if symbol in every else "no_ortholog")
    table = pd.DataFrame(
        {
            "symbol": unique,
            "mapped_symbols": [";".join(mapped[s]) for s in unique],
            "status": statuses,
        },
        columns=list(MAPPING_COLUMNS),
    )
    return GeneMapping(mapped, table, from_organism, to_organism, one_to_one)


def map_gene_sets(
    gene_sets: Mapping[str, Sequence[str]],
    *,
    from_organism: str = "human",
    to_organism: str = "mouse",
    one_to_one: bool = True,
    table_path: str | None = None,
) -> tuple[dict[str, list[str]], pd.DataFrame]:
    """Map every gene set's members; sets keep their names and order.

    Parameters
    ----------
    gene_sets : mapping of str to sequence of str
        n_sets sets of symbols of ``from_organism``.
    from_organism, to_organism, one_to_one, table_path
        As in :func:`map_genes`.

    Returns
    -------
    mapped_sets : dict
        Set name -> mapped symbols (first occurrence kept; may be empty).
    rates : pandas.DataFrame
        n_sets x 5, :data:`SET_MAPPING_COLUMNS`: ``gene_set``, ``n_genes``, ``n_mapped``,
        ``mapping_rate`` (rounded to 4 decimals), ``unmapped`` (``;``-joined symbols).
    """
    every_gene = [g for genes in gene_sets.values() for g in genes]
    mapping = map_genes(
        every_gene,
        from_organism=from_organism,
        to_organism=to_organism,
        one_to_one=one_to_one,
        table_path=table_path,
    )
    mapped_sets: dict[str, list[str]] = {}
    rows = []
    for name, genes in gene_sets.items():
        genes = list(dict.fromkeys(map(str, genes)))
        targets = [t for g in genes for t in mapping.mapped[g]]
        mapped_sets[name] = list(dict.fromkeys(targets))
        unmapped = [g for g in genes if not mapping.mapped[g]]
        n_mapped = len(genes) - len(unmapped)
        rate = round(n_mapped / len(genes), 4) if genes else 0.0
        rows.append((name, len(genes), n_mapped, rate, ";".join(unmapped)))
    return mapped_sets, pd.DataFrame(rows, columns=list(SET_MAPPING_COLUMNS))


def symbol_case_organism(symbols: Iterable[str]) -> str | None:
    """``"human"`` or ``"mouse"`` when the symbols' letter case says so, else None.

    HGNC symbols are upper case (``TP53``), MGI symbols capitalised (``Trp53``). Counts the
    symbols with at least one letter, ignoring id-like names: ``ENS...``, ``LOC...`` and
    letters followed by four or more digits (``LINC01128``, ``Gm12345``, synthetic
    ``SYN00001``); a style must hold for at least 80% of at least 50 of them.

    Parameters
    ----------
    symbols : iterable of str
        The data's gene symbols (n_genes).
    """
    upper = capitalised = 0
    for symbol in symbols:
        text = str(symbol)
        if not any(ch.isalpha() for ch in text) or text.startswith(("ENS", "LOC")):
            continue
        if _ID_LIKE.match(text):
            continue
        if text.isupper():
            upper += 1
        elif text[0].isupper() and any(ch.islower() for ch in text[1:]):
            capitalised += 1
    total = upper + capitalised
    if total < 50:
        return None
    if upper >= 0.8 * total:
        return "human"
    if capitalised >= 0.8 * total:
        return "mouse"
    return None


def check_data_organism(symbols: Iterable[str], organism: str, *, path: str) -> None:
    """Stop with a clear :class:`InputError` when the data's symbols are plainly of the other
    species than ``organism`` (human data with ``organism: mouse``, or the reverse), before the
    catalogue's coverage check would only say that few of its genes are in the data."""
    symbols = list(symbols)
    looks = symbol_case_organism(symbols)
    if organism in MAPPED_ORGANISMS and looks is not None and looks != organism:
        style = "capitalised (MGI, e.g. Trp53)" if looks == "mouse" else "upper case (HGNC)"
        examples = [s for s in symbols if any(ch.isalpha() for ch in str(s))][:3]
        raise InputError(
            f"organism is {organism!r} but the data's gene symbols are {style}, as {looks} "
            f"symbols are (e.g. {examples})",
            path=path,
            fix=f"set organism: {looks} (the built-in programmes are then mapped through "
            "orthologues), or organism: other with gene_sets.programmes: none",
        )
