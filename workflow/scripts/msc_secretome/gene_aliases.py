"""Alias tables: outdated or alternative gene symbols -> current symbols.

An alias naming one current symbol resolves to it; one naming several is ambiguous (counted,
never used); a current symbol always wins over an alias (see :mod:`msc_secretome.gene_ids`,
rule 4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .errors import InputError
from .tables import read_table


@dataclass(frozen=True)
class AliasTable:
    """Current symbols and the aliases that resolve to them.

    ``current``: every current symbol. ``to_symbol``: alias -> its only current symbol, for
    aliases that are not themselves current. ``ambiguous``: alias -> its several current
    symbols (in file order), not used for resolution. ``targets``: every alias with all its
    symbols in file order (current symbols included), for reporting.
    """

    current: frozenset[str]
    to_symbol: dict[str, str]
    ambiguous: dict[str, tuple[str, ...]] = field(default_factory=dict)
    targets: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def n_ambiguous(self) -> int:
        """Number of aliases (not current symbols) that name several current symbols."""
        return len(self.ambiguous)

    def resolve(self, symbol: str) -> tuple[str, str]:
        """``(symbol to use, status)``; status is valid, alias->unique, alias->ambiguous or
        not_found (the last two return the symbol unchanged)."""
        if symbol in self.current:
            return symbol, "valid"
        if symbol in self.to_symbol:
            return self.to_symbol[symbol], "alias->unique"
        if symbol in self.ambiguous:
            return symbol, "alias->ambiguous"
        return symbol, "not_found"

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, str], current: Iterable[str] | None = None
    ) -> AliasTable:
        """An alias table from a plain alias -> symbol mapping (every alias unique)."""
        current_set = frozenset(current if current is not None else mapping.values())
        to_symbol = {a: s for a, s in mapping.items() if a not in current_set}
        targets = {a: (s,) for a, s in mapping.items()}
        return cls(current=current_set, to_symbol=to_symbol, targets=targets)


def read_alias_table(path: str | Path) -> AliasTable:
    """Read an alias table with columns ``alias`` and ``symbol`` (and optionally ``entrez_id``).

    Format as ``hs_symbol_alias_map.tsv``: one row per (alias, current symbol) pair, current
    symbols also listed as their own alias. Current symbols are the ``symbol`` column's values.
    An alias naming one current symbol resolves to it; one naming several is ambiguous (kept in
    ``AliasTable.ambiguous`` and counted, never used); a current symbol always wins.
    """
    table = read_table(path)
    missing = [c for c in ("alias", "symbol") if c not in table.columns]
    if missing:
        raise InputError(
            f"missing column(s) {missing}; columns are {list(table.columns)}",
            path=str(path),
            fix="an alias table needs the columns alias and symbol (one row per pair)",
        )
    alias = table["alias"].astype(str).str.strip()
    symbol = table["symbol"].astype(str).str.strip()
    keep = (alias != "") & (symbol != "")
    pairs = pd.DataFrame({"alias": alias[keep], "symbol": symbol[keep]}).drop_duplicates()
    current = frozenset(pairs["symbol"])
    targets = {a: tuple(group) for a, group in pairs.groupby("alias", sort=False)["symbol"]}
    to_symbol = {}
    ambiguous = {}
    for a, symbols in targets.items():
        if a in current:
            continue
        if len(symbols) == 1:
            to_symbol[a] = symbols[0]
        else:
            ambiguous[a] = symbols
    return AliasTable(current=current, to_symbol=to_symbol, ambiguous=ambiguous, targets=targets)


def check_symbols(symbols: Iterable[str], aliases: AliasTable) -> pd.DataFrame:
    """Status of each symbol against an alias table.

    Columns: query, is_current_symbol (``TRUE``/``FALSE``), alias_maps_to (all symbols the
    alias names, ``|``-separated in file order), n_targets, status (valid, alias->unique,
    alias->ambiguous, not_found) and resolved (the symbol :func:`map_to_symbols` would use).
    """
    rows = []
    for query in symbols:
        query = str(query).strip()
        resolved, status = aliases.resolve(query)
        targets = aliases.targets.get(query, ())
        rows.append(
            (
                query,
                "TRUE" if query in aliases.current else "FALSE",
                "|".join(targets),
                len(targets),
                status,
                resolved,
            )
        )
    return pd.DataFrame(
        rows,
        columns=["query", "is_current_symbol", "alias_maps_to", "n_targets", "status", "resolved"],
    )
