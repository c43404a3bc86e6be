"""Validation of the sample sheet and the count matrix, before any heavy compute.

Every check raises :class:`InputError` naming the file, the row or column and the fix.
"""

from __future__ import annotations

import re

import pandas as pd

from . import count_formats
from .errors import InputError
from .tables import read_table

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
    """Read a merged genes x samples count matrix (first column: gene id) as exact int64.

    A shortcut for :func:`msc_secretome.count_formats.read_counts` with ``format: matrix``;
    ``round_estimated``: round non-integer values (estimated counts) instead of refusing them.
    """
    spec = {"counts": path, "format": "matrix", "round_estimated": round_estimated}
    return count_formats.read_counts(spec).counts


#: Fewer genes than this: refused (median-of-ratios size factors need many genes).
MIN_GENES = 10
#: Fewer genes than this: a warning (size factors rest on few genes).
WARN_GENES = 100
_EXCEL_DATE = re.compile(
    r"^(\d{1,2}-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r"|(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-\d{1,2}"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4})$",
    re.IGNORECASE,
)


def check_counts_content(counts: pd.DataFrame, *, path: str) -> list[tuple[str, str, str]]:
    """Checks of a read matrix a biologist would want to know about.

    Returns rows ``(check, status, detail)`` for the validation summary (status ``ok`` or
    ``warning``). Raises :class:`InputError` for fewer than ``MIN_GENES`` genes. Gene ids that
    a spreadsheet turned into dates (``1-Sep``, ``2-Mar``: SEPTIN1, MARCHF2...) are a warning,
    not an error: those genes cannot be mapped back, the rest of the analysis is sound.
    """
    n_genes = counts.shape[0]
    if n_genes < MIN_GENES:
        raise InputError(
            f"the count matrix has {n_genes} gene(s); size factors (median of ratios over "
            "genes) would make every sample's counts alike and every fold change ~0 by "
            f"construction. At least {MIN_GENES} genes are needed, and many more are advised",
            path=path,
            fix="give the whole (or at least a broad) genes x samples matrix, not a selection "
            "of genes of interest",
        )
    rows = []
    if n_genes < WARN_GENES:
        rows.append(("n_genes", "warning", f"only {n_genes} genes: size factors (median of "
                     "ratios) rest on few genes and may be unstable"))  # fmt: skip
    else:
        rows.append(("n_genes", "ok", f"{n_genes} genes"))
    mangled = [g for g in counts.index if _EXCEL_DATE.match(str(g))]
    if mangled:
        rows.append(("excel_dates", "warning",
                     f"{len(mangled)} gene id(s) look like dates a spreadsheet made of gene "
                     f"symbols (e.g. {', '.join(mangled[:5])}: SEPTIN/MARCHF genes); they are "
                     "analysed under these ids and will not match gene sets. Export the counts "
                     "without opening them in a spreadsheet"))  # fmt: skip
    else:
        rows.append(("excel_dates", "ok", "no gene id looks like a spreadsheet date"))
    return rows


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
    in_rows = [s for s in in_sheet if s in set(counts.index)]
    if missing and len(in_rows) >= max(1, len(missing) // 2):
        raise InputError(
            f"{len(missing)} sample(s) of {samples_path} have no column in the count matrix, "
            f"but {len(in_rows)} sample names sit in its first column (e.g. {in_rows[:3]}): "
            "the matrix looks transposed (samples as rows, genes as columns)",
            path=counts_path,
            fix="transpose it: one row per gene, one column per sample, the gene id first "
            "(in R: write.table(t(m)); in pandas: save df.T rather than df)",
        )
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
    if counts.shape[0] == 0:
        raise InputError("the count matrix has no gene rows", path=counts_path)
    totals = counts.sum(axis=0)
    empty = totals.index[totals == 0].tolist()
    if empty:
        raise InputError(
            f"sample(s) {empty} have zero total counts",
            path=counts_path,
            fix="remove failed libraries from the sample sheet",
        )
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


def check_gene_set_files(
    sources: dict[str, dict], min_size: dict[str, int] | None = None, organism: str = "human"
) -> None:
    """Read every user gene-set file of the run now, so a bad one stops it before any job.

    ``sources``: library name -> ``{kind, path[, organism]}`` (``settings.gene_set_sources``);
    a GMT is read with :func:`~msc_secretome.gmt.read_gmt` (duplicated or empty sets are
    refused) and its symbols' letter case must fit its species (the declared one, else the
    run's ``organism``), a catalogue with :func:`~msc_secretome.catalogue.read_catalogue`.
    Enrichr libraries are checked when they enter the cache. ``min_size``: per-library minimum
    set sizes; a name that is not a library is refused.
    """
    from pathlib import Path

    from .gmt import read_gmt

    for library, source in sources.items():
        if source["kind"] == "gmt":
            if not Path(source["path"]).is_file():
                raise InputError(
                    f"library {library!r}: file not found",
                    path=source["path"],
                    fix="check gene_sets.libraries in config",
                )
            gene_sets = read_gmt(source["path"])
            check_library_species(library, gene_sets, source, organism)
        elif source["kind"] == "catalogue" and source["path"] != "builtin":
            if not Path(source["path"]).is_file():
                raise InputError(
                    "programme catalogue not found",
                    path=source["path"],
                    fix="check gene_sets.programmes in config ('builtin' or a TSV path)",
                )
            from .catalogue import read_catalogue

            read_catalogue(source["path"])
    unknown = sorted(set(min_size or {}) - set(sources))
    if unknown:
        raise InputError(
            f"gene_sets.min_size names {unknown}, which are not libraries of this run "
            f"({list(sources)})",
            path="config",
            fix="key gene_sets.min_size by library names "
            "(programmes or a gene_sets.libraries name)",
        )


def check_library_species(
    library: str, gene_sets: dict[str, list[str]], source: dict, organism: str
) -> None:
    """Stop when a GMT's symbols are plainly of another species than the one it is used as.

    A human GMT (upper-case HGNC symbols) given for mouse counts would share almost no gene with
    them; the coverage check would then only say "wrong id type". Here the message names the
    library and the setting that maps it through orthologues instead.

    Parameters
    ----------
    gene_sets : the library's sets (name -> symbols).
    source : its source (``settings.gene_set_sources``), with ``organism`` when declared.
    organism : the run's ``organism``.
    """
    from .orthologs import MAPPED_ORGANISMS, symbol_case_organism

    expected = source.get("organism", organism)
    if expected not in MAPPED_ORGANISMS:
        return
    looks = symbol_case_organism(g for genes in gene_sets.values() for g in dict.fromkeys(genes))
    if looks is None or looks == expected:
        return
    style = "capitalised (MGI, e.g. Trp53)" if looks == "mouse" else "upper case (HGNC, e.g. TP53)"
    declared = "is declared" if "organism" in source else "is taken to be (the run's organism)"
    raise InputError(
        f"gene_sets.libraries.{library}: its symbols are {style}, as {looks} symbols are, but "
        f"the library {declared} {expected}",
        path=source["path"],
        fix=f"declare its species to map it through the shipped orthologue table: "
        f"gene_sets.libraries: {{{library}: {{path: {source['path']}, organism: {looks}}}}}",
    )


def count_spec(
    counts: str | None,
    samples: pd.DataFrame,
    *,
    counts_format: str = "auto",
    strand: str = "auto",
    round_estimated: bool = False,
    samples_path: str = "sample sheet",
) -> dict:
    """The spec :func:`msc_secretome.count_formats.read_counts` takes, from config and sheet.

    ``counts``: one file; a pattern with ``{sample}`` (one file per sample); or ``None`` when
    the sheet's ``counts_file`` column lists each sample's file. Giving both a file and a
    ``counts_file`` column is refused (which one is meant?).
    """
    names = list(samples["sample"])
    has_column = "counts_file" in samples.columns
    files = None
    if counts is None:
        if not has_column:
            raise InputError(
                "counts is null but the sample sheet has no 'counts_file' column",
                path=samples_path,
                fix="set counts to the count file (or a pattern with {sample}), or add a "
                "counts_file column with each sample's file",
            )
        files = dict(zip(names, samples["counts_file"], strict=True))
    elif "{sample}" in counts:
        if has_column:
            raise InputError(
                "both a counts pattern and a 'counts_file' column give the per-sample files",
                path=samples_path,
                fix="use one: counts: null with the column, or drop the column",
            )
        files = {name: counts.replace("{sample}", name) for name in names}
    elif has_column:
        raise InputError(
            f"the sample sheet has a 'counts_file' column and counts is a file ({counts})",
            path=samples_path,
            fix="set counts: null to read the files of the counts_file column, or drop the "
            "column to read the one file",
        )
    return {
        "counts": None if files else counts,
        "files": files,
        "format": counts_format,
        "strand": strand,
        "round_estimated": round_estimated,
        "samples": names,
    }
