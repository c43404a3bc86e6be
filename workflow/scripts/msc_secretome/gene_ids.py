"""Gene identifiers: recognise the id type of a count matrix and map any id type to symbols.

Gene sets (the programme catalogue, GMT libraries) use current HGNC symbols, so every gene id of
the count matrix is mapped to a symbol before ranking. The rules, in order:

1. **Id type.** :func:`detect_id_type` looks at the ids' shapes: ``ENSG00000141510`` is
   ``ensembl``, ``ENSG00000141510.17`` is ``ensembl_versioned`` (any Ensembl species prefix,
   e.g. ``ENSMUSG``, is recognised; GENCODE's ``_PAR_Y`` suffix is kept), ``7157`` is
   ``entrez``, anything else with a letter and no blank is ``symbol``. When no type covers at
   least 90% of the ids the matrix is ``synthetic/mixed``.
2. **Versions.** Ensembl ids are matched without their version, on both sides (count matrix
   and annotation): ``ENSG00000141510.17`` matches ``ENSG00000141510`` and
   ``ENSG00000141510.11``. Only Ensembl-shaped ids lose a ``.N`` suffix; symbols such as
   ``RP11-34P13.7`` are never cut.
3. **Annotation.** When an annotation (gene_id -> symbol, from a TSV or a GTF, read by
   :func:`msc_secretome.gene_annotation.read_annotation`) is given, an id found in it takes its
   symbol. An id of the ``symbol`` shape that the annotation does not hold maps to itself; any
   other id without an annotation entry stays unmapped (``""``).
4. **Outdated symbols.** With an alias table (e.g. ``hs_symbol_alias_map.tsv``, read by
   :func:`msc_secretome.gene_aliases.read_alias_table`), a symbol that is not current but is an
   alias of exactly one current symbol is replaced by it (``DDX58`` -> ``RIGI``). A current symbol
   always wins over an alias (``COX2`` stays ``COX2`` although it is also an alias of ``PTGS2``);
   an alias of several current symbols (``NOV``) is ambiguous: it is left as it is and counted.
   Matching is case-sensitive, as HGNC symbols are (``P62`` and ``p62`` are different aliases).
5. **Many-to-one.** Several gene ids may map to one symbol (e.g. PAR_Y copies, readthrough
   loci); this is allowed and counted here, and resolved at ranking time:
   :func:`msc_secretome.enrichment.gene_ranking` keeps, per symbol, the gene with the largest
   absolute statistic.

:func:`map_to_symbols` returns the symbols and a report (counts of each case);
:func:`check_mapping_rate` turns a poor mapping into an :class:`InputError` that says which id
type it saw, what the annotation holds and what to supply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from .errors import InputError
from .gene_aliases import AliasTable

ID_TYPES = ("ensembl", "ensembl_versioned", "entrez", "symbol", "synthetic/mixed")
DOMINANT_FRACTION = 0.9

_ENSEMBL = re.compile(r"^ENS[A-Z]*G\d{6,}(_PAR_Y)?$")
_ENSEMBL_VERSIONED = re.compile(r"^(ENS[A-Z]*G\d{6,})\.\d+(_PAR_Y)?$")
_ENTREZ = re.compile(r"^\d+$")
_SYMBOL = re.compile(r"^(?=.*[A-Za-z])\S+$")

ID_TYPE_WORDS = {
    "ensembl": "Ensembl",
    "ensembl_versioned": "versioned Ensembl",
    "entrez": "Entrez",
    "symbol": "gene symbols",
    "synthetic/mixed": "a mix of id types or no known id type",
}


# --------------------------------------------------------------------------------------------
# Id types
# --------------------------------------------------------------------------------------------


def classify_id(gene_id: str) -> str:
    """Shape of one id: ensembl, ensembl_versioned, entrez, symbol or other."""
    gene_id = str(gene_id).strip()
    if _ENSEMBL.match(gene_id):
        return "ensembl"
    if _ENSEMBL_VERSIONED.match(gene_id):
        return "ensembl_versioned"
    if _ENTREZ.match(gene_id):
        return "entrez"
    if _SYMBOL.match(gene_id):
        return "symbol"
    return "other"


def detect_id_type(ids: Iterable[str]) -> str:
    """Id type of a collection of gene ids (one of ``ID_TYPES``).

    Ensembl ids with and without versions count together as Ensembl; the type is
    ``ensembl_versioned`` when any of them carries a version. A type must cover at least 90% of
    the non-empty ids (so spike-ins or HTSeq's ``__no_feature`` rows do not change the verdict);
    otherwise, or for no ids at all, the result is ``synthetic/mixed``.
    """
    shapes = pd.Series([classify_id(i) for i in ids if str(i).strip()], dtype=object)
    if shapes.empty:
        return "synthetic/mixed"
    counts = shapes.value_counts()
    n = len(shapes)
    n_ensembl = counts.get("ensembl", 0) + counts.get("ensembl_versioned", 0)
    if n_ensembl >= DOMINANT_FRACTION * n:
        return "ensembl_versioned" if counts.get("ensembl_versioned", 0) else "ensembl"
    for kind in ("entrez", "symbol"):
        if counts.get(kind, 0) >= DOMINANT_FRACTION * n:
            return kind
    return "synthetic/mixed"


def strip_ensembl_version(ids: Iterable[str]) -> list[str]:
    """Ids with the ``.N`` version removed from Ensembl ids; other ids are returned unchanged.

    ``ENSG00000141510.17`` -> ``ENSG00000141510``; ``ENSG00000182378.14_PAR_Y`` ->
    ``ENSG00000182378_PAR_Y``; ``RP11-34P13.7`` and ``7157`` stay as they are.
    """
    out = []
    for gene_id in ids:
        text = str(gene_id).strip()
        match = _ENSEMBL_VERSIONED.match(text)
        out.append(match.group(1) + (match.group(2) or "") if match else text)
    return out


def version_collisions(ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Ensembl genes listed in two versions: unversioned id -> (first id, second id).

    ``ENSG00000141510.16`` and ``ENSG00000141510.17`` (or ``ENSG00000141510``) are one gene
    once versions are ignored (rule 2 of the module docstring), so a matrix holding both would
    count it twice. Empty when every id names its own gene; in file order.
    """
    first: dict[str, str] = {}
    collisions: dict[str, tuple[str, str]] = {}
    ids = [str(i).strip() for i in ids]
    for gene_id, key in zip(ids, strip_ensembl_version(ids), strict=True):
        if key in first and key not in collisions and first[key] != gene_id:
            collisions[key] = (first[key], gene_id)
        first.setdefault(key, gene_id)
    return collisions


def _examples(ids: Iterable[str], k: int = 3) -> list[str]:
    out = []
    for gene_id in ids:
        text = str(gene_id).strip()
        if text and text not in out:
            out.append(text)
        if len(out) == k:
            break
    return out


# --------------------------------------------------------------------------------------------
# Mapping
# --------------------------------------------------------------------------------------------


def _annotation_series(annotation: pd.DataFrame | Mapping[str, str] | pd.Series) -> pd.Series:
    if isinstance(annotation, pd.DataFrame):
        missing = [c for c in ("gene_id", "symbol") if c not in annotation.columns]
        if missing:
            raise ValueError(f"the annotation table lacks column(s) {missing}")
        ids, symbols = annotation["gene_id"], annotation["symbol"]
    else:
        series = pd.Series(annotation, dtype=object)
        ids, symbols = series.index, series.to_numpy()
    table = pd.DataFrame(
        {
            "gene_id": strip_ensembl_version(ids),
            "symbol": pd.Series(symbols, dtype=object)
            .fillna("")
            .astype(str)
            .str.strip()
            .to_numpy(),
        }
    )
    table = table[table["gene_id"] != ""].drop_duplicates("gene_id", keep="first")
    return pd.Series(table["symbol"].to_numpy(), index=table["gene_id"].to_numpy(), dtype=object)


def map_to_symbols(
    gene_ids: Iterable[str],
    annotation: pd.DataFrame | Mapping[str, str] | pd.Series | None = None,
    aliases: AliasTable | Mapping[str, str] | None = None,
) -> tuple[pd.Series, dict[str, Any]]:
    """Map gene ids of any type to symbols, following the rules of the module docstring.

    ``annotation``: a ``gene_id``/``symbol`` table (as
    :func:`msc_secretome.gene_annotation.read_annotation` returns) or a gene_id -> symbol mapping.
    ``aliases``: an :class:`AliasTable` or a plain alias -> symbol mapping.

    Returns ``(symbols, report)``: ``symbols`` is a Series aligned to ``gene_ids`` (same order and
    index values) holding ``""`` for unmapped ids; ``report`` has ``id_type``, ``n``,
    ``n_mapped``, ``rate`` (n_mapped / n), ``n_alias_resolved``, ``n_ambiguous_alias`` (mapped
    symbols left as they are because their alias names several current symbols),
    ``n_many_to_one`` (mapped ids that share their symbol with another id), and, for messages,
    ``examples`` (first ids), ``unmapped_examples``, ``annotation_id_type`` (``None`` without an
    annotation) and ``annotation_examples``.
    """
    ids = [str(i).strip() for i in gene_ids]
    id_type = detect_id_type(ids)
    keys = strip_ensembl_version(ids)
    lookup = _annotation_series(annotation) if annotation is not None else None
    if lookup is not None:
        found = pd.Series(keys, dtype=object).map(lookup).fillna("")
        symbols = found.astype(str).tolist()
    else:
        symbols = [""] * len(ids)
    for i, (gene_id, symbol) in enumerate(zip(ids, symbols, strict=True)):
        if not symbol and lookup is not None and keys[i] in lookup.index:
            continue  # the annotation holds the id but gives no symbol
        if not symbol and classify_id(gene_id) == "symbol":
            symbols[i] = gene_id
    if aliases is not None and not isinstance(aliases, AliasTable):
        aliases = AliasTable.from_mapping(aliases)
    n_alias_resolved = n_ambiguous = 0
    if aliases is not None:
        for i, symbol in enumerate(symbols):
            if not symbol:
                continue
            resolved, status = aliases.resolve(symbol)
            if status == "alias->unique":
                symbols[i] = resolved
                n_alias_resolved += 1
            elif status == "alias->ambiguous":
                n_ambiguous += 1
    result = pd.Series(symbols, index=ids, dtype=object, name="symbol")
    mapped = result[result != ""]
    n = len(ids)
    report: dict[str, Any] = {
        "id_type": id_type,
        "n": n,
        "n_mapped": len(mapped),
        "rate": len(mapped) / n if n else 0.0,
        "n_alias_resolved": n_alias_resolved,
        "n_ambiguous_alias": n_ambiguous,
        "n_many_to_one": int(mapped.duplicated(keep=False).sum()),
        "examples": _examples(ids),
        "unmapped_examples": _examples(result.index[result == ""]),
        "annotation_id_type": detect_id_type(lookup.index) if lookup is not None else None,
        "annotation_examples": _examples(lookup.index) if lookup is not None else [],
    }
    if isinstance(gene_ids, pd.Index | pd.Series):
        result.index = gene_ids if isinstance(gene_ids, pd.Index) else gene_ids.index
    return result, report


def check_mapping_rate(report: Mapping[str, Any], min_rate: float, *, path: str | None) -> None:
    """Raise :class:`InputError` when fewer than ``min_rate`` of the ids mapped to a symbol.

    The message says which id type the count matrix has (with an example), what the
    annotation's ids look like (or that none was given), and which annotation to supply.
    """
    rate = float(report.get("rate", 0.0))
    if rate >= min_rate:
        return
    id_type = report.get("id_type", "synthetic/mixed")
    examples = list(report.get("examples", []))
    seen = ID_TYPE_WORDS.get(id_type, id_type)
    example = f" ({examples[0]})" if examples else ""
    annotation_type = report.get("annotation_id_type")
    annotation_examples = list(report.get("annotation_examples", []))
    if annotation_type is None:
        annotation_text = "no gene_annotation is given"
    elif annotation_type == "symbol":
        annotation_text = "the annotation maps symbols" + (
            f" ({', '.join(annotation_examples)})" if annotation_examples else ""
        )
    else:
        annotation_text = f"the annotation's ids look like {ID_TYPE_WORDS[annotation_type]}" + (
            f" ({', '.join(annotation_examples)})" if annotation_examples else ""
        )
    message = (
        f"only {report.get('n_mapped', 0)} of {report.get('n', 0)} gene ids "
        f"({rate:.1%}) map to a gene symbol (minimum {min_rate:.0%}): count-matrix ids look "
        f"like {seen}{example}; {annotation_text}"
    )
    unmapped = list(report.get("unmapped_examples", []))
    if unmapped:
        message += f"; unmapped ids include {', '.join(unmapped)}"
    if id_type in ("ensembl", "ensembl_versioned"):
        fix = (
            "give gene_annotation with Ensembl ids (a GTF of the same release, or a TSV with "
            "columns gene_id and symbol); versions are ignored"
        )
    elif id_type == "entrez":
        fix = "give gene_annotation with Entrez ids (a TSV with columns gene_id and symbol)"
    elif id_type == "symbol":
        fix = (
            "the ids look like symbols but did not map; give gene_annotation keyed by these ids "
            "(a TSV with columns gene_id and symbol) or use current HGNC symbols"
        )
    else:
        fix = (
            "use one id type in the count matrix (Ensembl, Entrez or symbols) and give "
            "gene_annotation keyed by it (a GTF or a TSV with columns gene_id and symbol)"
        )
    raise InputError(message, path=path, fix=fix)
