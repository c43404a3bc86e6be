"""Reading user tables robustly and writing result tables deterministically.

Readers accept TSV or CSV, plain or gzipped, with or without a UTF-8 BOM and Windows line
endings, and raise :class:`InputError` that names the file, the row or column and the fix.
Writers use a fixed float format and write atomically through :mod:`.atomic_io` (temporary
file, then rename), so a result file either is complete or does not exist.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from pathlib import Path
from typing import TextIO

import pandas as pd

from .atomic_io import write_bytes_atomic, write_text_atomic
from .errors import InputError

FLOAT_FORMAT = "%.8g"


def open_text(path: str | Path) -> str:
    """Whole text of a plain or gzipped file; BOM stripped, line endings normalised."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=str(path), fix="check the path in config")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise InputError(f"gzip file is corrupt or truncated ({err})", path=str(path)) from err
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(
            f"not UTF-8 text (byte {err.start})",
            path=str(path),
            fix="save the file as UTF-8 text (TSV or CSV)",
        ) from err
    return text.replace("\r\n", "\n").replace("\r", "\n")


def open_text_stream(path: str | Path, *, errors: str = "strict") -> TextIO:
    """A text handle on a plain or gzipped file (gzip told by its magic bytes, not its name).

    The one streaming opener of the package (:func:`open_text` reads a whole file): a UTF-8 BOM
    is dropped and Windows line endings are read as ``\\n``. Use it as a context manager.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(path, "rt", encoding="utf-8-sig", errors=errors, newline=None)
    return open(path, encoding="utf-8-sig", errors=errors, newline=None)


def sniff_delimiter(text: str, path: str) -> str:
    """Tab or comma, decided from the header line."""
    header = text.split("\n", 1)[0]
    if not header.strip():
        raise InputError("the file is empty or its first line is blank", path=path)
    tabs, commas = header.count("\t"), header.count(",")
    if tabs == 0 and commas == 0:
        semicolons = header.count(";")
        hint = " It seems to use ';' (a spreadsheet locale);" if semicolons else ""
        raise InputError(
            f"the header line has no tab or comma delimiter.{hint} Header: {header[:120]!r}",
            path=path,
            fix="save the table as tab-separated (TSV) or comma-separated (CSV)",
        )
    return "\t" if tabs >= commas else ","


def read_table(path: str | Path, *, dtype=str) -> pd.DataFrame:
    """Read a delimited table (TSV/CSV, optionally gzipped) with the header as columns."""
    text = open_text(path)
    delimiter = sniff_delimiter(text, str(path))
    try:
        table = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=dtype,
            keep_default_na=False,
            na_values=[],
            quoting=csv.QUOTE_MINIMAL,
            skip_blank_lines=True,
        )
    except pd.errors.ParserError as err:
        raise InputError(
            f"cannot parse as a {'TSV' if delimiter == chr(9) else 'CSV'} table: {err}",
            path=str(path),
            fix="every row needs the same number of fields as the header",
        ) from err
    table.columns = [str(c).strip() for c in table.columns]
    return table


def write_tsv(table: pd.DataFrame, path: str | Path, *, index: bool = False) -> None:
    """Write a TSV atomically with a fixed float format (byte-identical for identical data)."""
    text = table.to_csv(sep="\t", index=index, float_format=FLOAT_FORMAT, lineterminator="\n")
    write_text_atomic(text, path)


def write_tsv_gz(table: pd.DataFrame, path: str | Path, *, index: bool = False) -> None:
    """Write a gzipped TSV atomically; no timestamp in the gzip header, so bytes are stable."""
    text = table.to_csv(sep="\t", index=index, float_format=FLOAT_FORMAT, lineterminator="\n")
    write_bytes_atomic(gzip.compress(text.encode("utf-8"), mtime=0), path)


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
