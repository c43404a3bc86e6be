"""Exact parsing of count tables: text cells to int64 without a float64 round trip.

A count is an integer. Cells are read as text and turned into ``int64`` exactly: ``12``,
``12.0`` and ``1.2e1`` are 12; a value above 2^63 - 1 (the largest int64) is refused with its
row and column, as are negative, missing, infinite and non-numeric cells. Values between 2^53
and 2^63 are kept exactly (a float64 would change them). Non-integer values (estimated counts)
are refused, or rounded half-to-even (as R's ``round``) when the caller asks for it.

Row numbers in messages are line numbers of the file (the header is line 1 for a plain matrix),
so a user can jump straight to the cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

import numpy as np
import pandas as pd

from .errors import InputError

INT64_MAX = np.iinfo(np.int64).max
_DIGITS_AND_SPACING = str.maketrans("", "", "0123456789\t, \n")


@dataclass(frozen=True)
class TextTable:
    """A delimited table as text: ``header`` names and ``rows`` (lists of cells).

    ``first_line``: file line number of ``rows[0]``; ``notes``: what was recognised about the
    layout (for the log).
    """

    header: list[str]
    rows: list[list[str]]
    first_line: int
    notes: tuple[str, ...] = ()


def split_table(text: str, path: str, *, skip_comment_lines: int = 0) -> TextTable:
    """Split a TSV/CSV text into header and rows; recognise R's ``write.table`` header.

    ``skip_comment_lines``: number of leading lines to skip (featureCounts' ``# Program:``
    line). A header with one name fewer than the rows' fields is R's ``write.table`` default
    (row names without a header): it is read with ``gene_id`` as the first name and noted. A
    header without rows is refused (a file with no genes).
    """
    lines = text.split("\n")
    start = skip_comment_lines
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start >= len(lines):
        raise InputError("the file is empty", path=path, fix="give a genes x samples count table")
    header_line = lines[start]
    delimiter = "\t" if header_line.count("\t") >= header_line.count(",") else ","
    if "\t" not in header_line and "," not in header_line:
        hint = " It seems to use ';' (a spreadsheet locale)." if ";" in header_line else ""
        raise InputError(
            f"line {start + 1}: the header has no tab or comma delimiter: "
            f"{header_line[:120]!r}.{hint}",
            path=path,
            fix="save the table as tab-separated (TSV) or comma-separated (CSV)",
        )
    reader = csv.reader(io.StringIO("\n".join(lines[start:])), delimiter=delimiter)
    parsed = [row for row in reader]
    header = [h.strip() for h in parsed[0]]
    rows = [row for row in parsed[1:] if any(cell.strip() for cell in row)]
    notes: list[str] = []
    if not rows:
        raise InputError(
            f"line {start + 1} is a header ({len(header)} names) but no gene rows follow",
            path=path,
            fix="the file holds no counts: check that the quantification finished and that "
            "this is the counts file, not its summary",
        )
    n_fields = len(rows[0])
    if n_fields == len(header) + 1:
        notes.append(
            f"header has {len(header)} names and rows have {n_fields} fields: R write.table "
            "layout (row names without a header name); first column read as gene ids"
        )
        header = ["gene_id", *header]
    for offset, row in enumerate(rows):
        if len(row) != len(header):
            line = start + 2 + offset
            raise InputError(
                f"line {line}: {len(row)} fields, the header has {len(header)}",
                path=path,
                fix="every row needs one gene id and one value per sample column",
            )
    return TextTable(header=header, rows=rows, first_line=start + 2, notes=tuple(notes))


def parse_count_cells(
    cells: Sequence[Sequence[str]] | np.ndarray,
    *,
    genes: Sequence[str],
    columns: Sequence[str],
    path: str,
    first_line: int,
    round_estimated: bool = False,
    fix_non_integer: str | None = None,
) -> tuple[np.ndarray, int]:
    """Text cells (genes x columns) to an exact ``int64`` array.

    Returns ``(array, n_rounded)``: shape ``(len(genes), len(columns))`` and the number of
    non-integer cells that were rounded (0 unless ``round_estimated``). ``first_line`` is the
    file line of the first row, for messages.
    """
    text = np.asarray(cells, dtype=object).reshape(len(genes), len(columns))
    out = np.zeros(text.shape, dtype=np.int64)
    # ASCII digits only, fewer than 19 (< 10^18 fits int64 whatever the digits): exact int()
    flat = text.ravel()
    simple = np.fromiter(
        (c.isascii() and c.isdigit() and len(c) < 19 for c in flat), dtype=bool, count=flat.size
    ).reshape(text.shape)
    if simple.all():
        return text.astype(np.int64), 0
    out[simple] = text[simple].astype(np.int64)

    def where(i: int, j: int) -> str:
        return f"line {first_line + i} (gene {genes[i]!r}), column {columns[j]!r}"

    n_rounded = _decimal_cells_via_float(text, simple, out, round_estimated)
    rounded = []
    for i, j in np.argwhere(~simple):
        cell = str(text[i, j]).strip()
        try:
            value = Decimal(cell)
        except InvalidOperation:
            raise InputError(
                f"{where(i, j)}: {cell!r} is not a number",
                path=path,
                fix="the table must hold raw counts only; move annotation columns to "
                "gene_annotation",
            ) from None
        if value.is_nan() or value.is_infinite():
            raise InputError(
                f"{where(i, j)}: {cell!r} (NaN or infinite) is not a count",
                path=path,
                fix="counts must be finite non-negative integers; a missing count is 0",
            )
        if value < 0:
            raise InputError(
                f"{where(i, j)}: negative value {cell}",
                path=path,
                fix="counts must be finite non-negative integers",
            )
        integral = value.to_integral_value(rounding=ROUND_HALF_EVEN)
        if integral != value:
            if not round_estimated:
                n_bad = _count_non_integer(text[~simple])
                raise InputError(
                    f"{n_bad} non-integer value(s), first at {where(i, j)}: {cell}. These look "
                    "like estimated counts (salmon/kallisto/RSEM) or normalised values",
                    path=path,
                    fix=fix_non_integer
                    or "give raw integer counts; for estimated counts set "
                    "'round_estimated_counts: true' in config (they are then rounded), never "
                    "TPM/FPKM",
                )
            rounded.append((i, j))
        if integral > INT64_MAX:
            raise InputError(
                f"{where(i, j)}: {cell} is larger than 2^63-1 ({INT64_MAX}), the largest count "
                "that can be held exactly; no library has that many reads",
                path=path,
                fix="this column does not hold read counts (an id, a coordinate or a sum?); "
                "give raw counts per gene and sample",
            )
        out[i, j] = int(integral)
    return out, n_rounded + len(rounded)


def _decimal_cells_via_float(
    text: np.ndarray, simple: np.ndarray, out: np.ndarray, round_estimated: bool
) -> int:
    """Vectorised exact path for short decimal cells (``12.50``, ``3e2``); updates ``simple``.

    A decimal of at most 15 characters has at most 15 significant digits, which a float64
    holds exactly enough that integrality and ties (``x.5``) are decided as on the decimal
    itself, so ``np.round`` (half to even) equals exact decimal rounding. Cells that are not
    finite non-negative numbers, or are non-integers when rounding is off, are left for the
    checked per-cell path. Returns the number of rounded cells.
    """
    positions = np.argwhere(~simple)
    if not len(positions):
        return 0
    cells = pd.Series(text[~simple], dtype=object).str.strip()
    values = pd.to_numeric(cells.where(cells.str.len() <= 15), errors="coerce").to_numpy(float)
    with np.errstate(invalid="ignore"):
        fine = np.isfinite(values) & (values >= 0) & (values < 2.0**52)
        integral = fine & (values == np.round(values))
    take = fine if round_estimated else integral
    rows, cols = positions[take, 0], positions[take, 1]
    out[rows, cols] = np.round(values[take]).astype(np.int64)
    simple[rows, cols] = True
    return int((take & ~integral).sum())


def _count_non_integer(cells: np.ndarray) -> int:
    n = 0
    for cell in cells:
        try:
            value = Decimal(str(cell).strip())
        except InvalidOperation:
            continue
        if value.is_finite() and value != value.to_integral_value():
            n += 1
    return n


def fast_integer_matrix(text: str, delimiter: str) -> pd.DataFrame | None:
    """Fast exact path for plain matrices: every value cell is ASCII digits only.

    Parsed by pandas' C reader straight into int64 (exact for digit strings; a value above
    2^63-1 makes the column uint64 or float, which is not taken), first column as text.
    Returns ``None`` when a value cell is anything else (a decimal point, a sign, a quote, a
    row with another number of fields, an R ``write.table`` header...), so the caller takes
    the checked text path that names the offending cell.
    """
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) < 2 or '"' in lines[0] or len(lines[0].split(delimiter)) < 2:
        return None
    header = lines[0].split(delimiter)
    values = "\n".join(line.partition(delimiter)[2] for line in lines[1:])
    if values.translate(_DIGITS_AND_SPACING):
        return None  # a sign, a decimal point, a quote...: the checked path
    if values.count(delimiter) != (len(lines) - 1) * (len(header) - 2):
        return None  # rows with more or fewer fields than the header (R write.table...)
    try:
        table = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype={header[0]: str} | {c: "int64" for c in header[1:]},
            keep_default_na=False,
            na_values=[],
            quoting=csv.QUOTE_NONE,
            skip_blank_lines=True,
        )
    except (ValueError, OverflowError, pd.errors.ParserError):
        return None
    if any(dtype != np.int64 for dtype in table.dtypes.iloc[1:]):
        return None
    table.columns = [str(c).strip() for c in table.columns]
    return table
