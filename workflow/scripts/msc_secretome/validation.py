"""Validation of the sample sheet and the count matrix, before any heavy compute.

Every check raises :class:`InputError` naming the file, the row or column and the fix.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .errors import InputError
from .tables import read_numeric_table, read_table

SAMPLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def read_sample_sheet(path: str) -> pd.DataFrame:
    """Read and check a sample sheet: a ``sample`` column plus factor columns, all text."""
    sheet = read_table(path)
    return check_sample_sheet(sheet, path)


def check_sample_sheet(sheet: pd.DataFrame, path: str = "sample sheet") -> pd.DataFrame:
    """Check the sheet; returns it with surrounding whitespace stripped from every cell."""
    if "sample" not in sheet.columns:
        raise InputError(
            f"no 'sample' column; columns are {list(sheet.columns)}",
            path=path,
            fix="name the first column 'sample' (one row per sequenced sample)",
        )
    if sheet.empty:
        raise InputError("the sample sheet has no rows", path=path)
    unnamed = [c for c in sheet.columns if c == "" or c.startswith("Unnamed:")]
    if unnamed:
        raise InputError("a column has no header name", path=path, fix="give every column a header")
    duplicated_columns = sorted({c for c in sheet.columns if list(sheet.columns).count(c) > 1})
    if duplicated_columns:
        raise InputError(f"duplicated column(s) {duplicated_columns}", path=path)
    sheet = sheet.apply(lambda col: col.str.strip())
    for column in sheet.columns:
        blank = sheet.index[sheet[column] == ""].tolist()
        if blank:
            row = blank[0] + 2  # header is line 1
            raise InputError(
                f"row {row}, column {column!r}: empty value"
                + (f" (and {len(blank) - 1} more rows)" if len(blank) > 1 else ""),
                path=path,
                fix="fill in every factor level; use a word such as 'none' for 'no treatment'",
            )
    duplicated = sheet["sample"][sheet["sample"].duplicated()].tolist()
    if duplicated:
        rows = [int(i) + 2 for i in sheet.index[sheet["sample"].isin(duplicated)]]
        raise InputError(
            f"duplicated sample name(s) {duplicated} at rows {rows}",
            path=path,
            fix="give every sample a unique name",
        )
    for i, name in enumerate(sheet["sample"], start=2):
        if not SAMPLE_NAME.match(name):
            raise InputError(
                f"row {i}: sample name {name!r} has characters other than letters, digits, "
                "'_', '.', '-' (or starts with one of the latter)",
                path=path,
                fix="rename the sample here and in the count matrix header",
            )
    return sheet.reset_index(drop=True)


def read_counts(path: str, *, round_estimated: bool = False) -> pd.DataFrame:
    """Read a genes x samples count matrix (first column: gene id) as int64.

    ``round_estimated``: round non-integer values (estimated counts from salmon/kallisto/RSEM)
    instead of refusing them.
    """
    table = read_numeric_table(path)  # fast: straight to numbers
    parsed = table is not None
    if not parsed:  # some cell is not a number: read text to say which
        table = read_table(path)
    if table.shape[1] < 2:
        raise InputError(
            "the count matrix needs a gene id column and at least one sample column",
            path=path,
        )
    gene_column = table.columns[0]
    genes = table[gene_column].str.strip()
    if (genes == "").any():
        row = int(np.flatnonzero((genes == "").to_numpy())[0]) + 2
        raise InputError(f"row {row}: empty gene id", path=path)
    duplicated = genes[genes.duplicated()].unique().tolist()
    if duplicated:
        raise InputError(
            f"{len(duplicated)} duplicated gene id(s) in column {gene_column!r}, "
            f"e.g. {duplicated[:5]}",
            path=path,
            fix="sum or remove the duplicated rows (one row per gene)",
        )
    values = table.drop(columns=gene_column)
    values.index = pd.Index(genes, name="gene_id")
    duplicated_samples = values.columns[values.columns.duplicated()].tolist()
    if duplicated_samples:
        raise InputError(f"duplicated sample column(s) {duplicated_samples}", path=path)
    if parsed:
        array = values.to_numpy(dtype=float)
    else:
        numeric = values.apply(pd.to_numeric, errors="coerce")
        bad = numeric.isna() & (values.apply(lambda c: c.str.strip().str.lower()) != "nan")
        if bad.to_numpy().any():
            row_pos, col_pos = np.argwhere(bad.to_numpy())[0]
            raise InputError(
                f"row {row_pos + 2} (gene {values.index[row_pos]!r}), column "
                f"{values.columns[col_pos]!r}: {values.iat[row_pos, col_pos]!r} is not a number",
                path=path,
                fix="the matrix must hold raw counts only; move annotation columns to "
                "gene_annotation",
            )
        array = numeric.to_numpy(dtype=float)
    problems = {
        "NaN": np.isnan(array),
        "infinite": np.isinf(array),
        "negative": array < 0,
    }
    for label, mask in problems.items():
        if mask.any():
            row_pos, col_pos = np.argwhere(mask)[0]
            raise InputError(
                f"{int(mask.sum())} {label} value(s), first at row {row_pos + 2} "
                f"(gene {values.index[row_pos]!r}), column {values.columns[col_pos]!r}",
                path=path,
                fix="counts must be finite non-negative integers",
            )
    fractional = array != np.round(array)
    if fractional.any():
        if not round_estimated:
            row_pos, col_pos = np.argwhere(fractional)[0]
            raise InputError(
                f"{int(fractional.sum())} non-integer value(s), first at row {row_pos + 2} "
                f"(gene {values.index[row_pos]!r}), column {values.columns[col_pos]!r}: "
                f"{float(array[row_pos, col_pos]):g}. These look like estimated counts "
                "(salmon/kallisto/RSEM) or normalised values",
                path=path,
                fix="give raw integer counts; for estimated counts set "
                "'round_estimated_counts: true' in config (they are then rounded), never "
                "TPM/FPKM",
            )
        array = np.round(array)
    return pd.DataFrame(array.astype(np.int64), index=values.index, columns=values.columns)


def match_counts_to_samples(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    *,
    counts_path: str = "counts",
    samples_path: str = "sample sheet",
) -> pd.DataFrame:
    """Counts restricted to, and ordered like, the sheet's samples; checks both directions."""
    in_sheet = list(samples["sample"])
    missing = [s for s in in_sheet if s not in counts.columns]
    if missing:
        near = _near_names(missing, list(counts.columns))
        raise InputError(
            f"{len(missing)} sample(s) of {samples_path} have no column in the count matrix: "
            f"{missing[:10]}{near}",
            path=counts_path,
            fix="make the count matrix header and the 'sample' column use the same names",
        )
    extra = [c for c in counts.columns if c not in set(in_sheet)]
    if extra:
        raise InputError(
            f"{len(extra)} column(s) of the count matrix are not in {samples_path}: {extra[:10]}",
            path=counts_path,
            fix="add them to the sample sheet, or remove them from the matrix",
        )
    counts = counts.loc[:, in_sheet]
    totals = counts.sum(axis=0)
    empty = totals.index[totals == 0].tolist()
    if empty:
        raise InputError(
            f"sample(s) {empty} have zero total counts",
            path=counts_path,
            fix="remove failed libraries from the sample sheet",
        )
    if counts.shape[0] == 0:
        raise InputError("the count matrix has no genes", path=counts_path)
    return counts


def _near_names(missing: list[str], available: list[str]) -> str:
    """A hint when names differ by a suffix or case, e.g. 'S1' vs 'S1_counts'."""
    hints = []
    for name in missing[:3]:
        close = [
            a
            for a in available
            if a.lower().startswith(name.lower()) or name.lower().startswith(a.lower())
        ]
        if close:
            hints.append(f"{name!r} ~ {close[0]!r}")
    return f" (similar names in the matrix: {', '.join(hints)})" if hints else ""
