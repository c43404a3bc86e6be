"""GMT gene-set files (``name<TAB>description<TAB>gene<TAB>gene...`` per line): reading,
checked line by line, and writing, byte-for-byte deterministic."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Mapping
from pathlib import Path

from .atomic_io import write_bytes_atomic
from .errors import InputError
from .tables import open_text_stream


def read_gmt(path: str | Path) -> dict[str, list[str]]:
    """Read a GMT file (``name<TAB>description<TAB>gene<TAB>gene...`` per line) into name -> genes.

    Blank lines are skipped; gzipped files (told by their content), a UTF-8 byte-order mark and
    Windows line endings are handled. Within a set, duplicated genes are kept once (first
    occurrence). Raises :class:`InputError` naming the file and line for a line with fewer than
    three fields, a set without genes, a duplicated set name, or a file without any set.
    """
    path = Path(path)
    gene_sets: dict[str, list[str]] = {}
    first_line: dict[str, int] = {}
    with open_text_stream(path) as handle:
        for line_number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) < 3:
                raise InputError(
                    f"line {line_number}: {len(fields)} tab-separated field(s), need at least 3 "
                    "(name, description, genes...)",
                    path=str(path),
                    fix="separate the name, the description and each gene by a TAB",
                )
            name = fields[0].strip()
            genes = list(dict.fromkeys(g.strip() for g in fields[2:] if g.strip()))
            if not name:
                raise InputError(f"line {line_number}: empty gene-set name", path=str(path))
            if not genes:
                raise InputError(f"line {line_number} (set {name!r}): no genes", path=str(path))
            if name in gene_sets:
                raise InputError(
                    f"line {line_number}: gene set {name!r} already defined on line "
                    f"{first_line[name]}",
                    path=str(path),
                    fix="give every gene set a unique name",
                )
            gene_sets[name] = genes
            first_line[name] = line_number
    if not gene_sets:
        raise InputError("line 1: empty GMT file (no gene sets)", path=str(path))
    return gene_sets


def _gmt_field(value: str, what: str) -> str:
    """A GMT field must not contain tabs or line breaks; returns the value stripped."""
    value = str(value).strip()
    if any(ch in value for ch in "\t\r\n"):
        raise ValueError(f"{what} {value!r} contains a tab or line break")
    return value


def gmt_bytes(
    gene_sets: Mapping[str, Iterable[str]],
    descriptions: Mapping[str, str] | None = None,
) -> bytes:
    """The GMT text of ``gene_sets`` (one line per set in the mapping's order) as UTF-8 bytes.

    The description column is ``descriptions[name]`` when given, else ``NA``; ``\\n`` line
    endings. Raises ``ValueError`` for a set without a name or without genes.
    """
    descriptions = descriptions or {}
    lines = []
    for name, genes in gene_sets.items():
        name = _gmt_field(name, "gene-set name")
        genes = [_gmt_field(g, f"gene in {name!r}") for g in genes]
        genes = [g for g in genes if g]
        if not name or not genes:
            raise ValueError(f"gene set {name!r}: a GMT line needs a name and at least one gene")
        description = _gmt_field(descriptions.get(name, "NA") or "NA", f"description of {name!r}")
        lines.append("\t".join([name, description, *genes]))
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def write_gmt(
    gene_sets: Mapping[str, Iterable[str]],
    path: str | Path,
    descriptions: Mapping[str, str] | None = None,
) -> Path:
    """Write gene sets as GMT (:func:`gmt_bytes`) atomically with normal permissions.

    Output is byte-for-byte deterministic (no gzip timestamp for ``.gz``); written through the
    project's one writer (:func:`msc_secretome.atomic_io.write_bytes_atomic`). Returns the path.
    """
    path = Path(path)
    data = gmt_bytes(gene_sets, descriptions)
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    write_bytes_atomic(data, path)
    return path
