"""Reading user tables robustly and writing result tables deterministically.

Readers accept TSV or CSV, plain or gzipped, with or without a UTF-8 BOM and Windows line
endings, and raise :class:`InputError` that names the file, the row or column and the fix.
Writers use a fixed float format and write atomically (temporary file, then rename), so a
result file either is complete or does not exist.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

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


def read_numeric_table(path: str | Path) -> pd.DataFrame | None:
    """Fast path for large matrices: first column as text, every other column as float64.

    Parsed by pandas' C reader straight into numbers (a 384 x 60,000 count matrix: a fraction
    of the time and memory of reading every cell as a string). Returns ``None`` when a cell is
    not a number or the table does not parse, so the caller can take the checked text path
    (:func:`read_table`) that names the offending row and column.
    """
    text = open_text(path)
    delimiter = sniff_delimiter(text, str(path))
    options = {"sep": delimiter, "quoting": csv.QUOTE_MINIMAL, "skip_blank_lines": True}
    try:
        header = pd.read_csv(io.StringIO(text), nrows=0, **options).columns
        if len(header) < 2:
            return None
        table = pd.read_csv(
            io.StringIO(text),
            dtype={header[0]: str} | {column: "float64" for column in header[1:]},
            keep_default_na=False,
            na_values=[],
            **options,
        )
    except (ValueError, pd.errors.ParserError):
        return None
    table.columns = [str(c).strip() for c in table.columns]
    return table


def write_tsv(table: pd.DataFrame, path: str | Path, *, index: bool = False) -> None:
    """Write a TSV atomically with a fixed float format (byte-identical for identical data)."""
    text = table.to_csv(sep="\t", index=index, float_format=FLOAT_FORMAT, lineterminator="\n")
    write_text_atomic(text, path)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(tmp: str, path: Path) -> None:
    """Give a finished temporary file normal permissions (mkstemp makes 0600), then rename."""
    os.chmod(tmp, 0o666 & ~_current_umask())
    os.replace(tmp, path)


def write_tsv_gz(table: pd.DataFrame, path: str | Path, *, index: bool = False) -> None:
    """Write a gzipped TSV atomically; no timestamp in the gzip header, so bytes are stable."""
    text = table.to_csv(sep="\t", index=index, float_format=FLOAT_FORMAT, lineterminator="\n")
    write_bytes_atomic(gzip.compress(text.encode("utf-8"), mtime=0), path)


def write_text_atomic(text: str, path: str | Path) -> None:
    """Write UTF-8 text to a temporary file beside ``path``, then rename it into place."""
    write_bytes_atomic(text.encode("utf-8"), path)


def write_bytes_atomic(data: bytes, path: str | Path) -> None:
    """Write bytes to a temporary file beside ``path``, then rename it into place.

    A reader (or a rerun after a crash) sees either the old file, no file, or the complete new
    one; the temporary name starts with a dot and ends in ``.tmp``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        _publish(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_npz(arrays: dict[str, np.ndarray], path: str | Path) -> None:
    """Write arrays as an ``.npz`` (zip of ``.npy``) atomically and byte-reproducibly.

    ``np.savez`` stamps each member with the current time; here every member gets the same
    fixed timestamp, in key order. Object arrays are refused (they would need pickle to load).
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            array = np.asarray(value)
            if array.dtype.hasobject:
                raise TypeError(f"{key!r} is an object array; store strings as a str dtype")
            member = io.BytesIO()
            np.lib.format.write_array(member, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, member.getvalue())
    write_bytes_atomic(buffer.getvalue(), path)


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
