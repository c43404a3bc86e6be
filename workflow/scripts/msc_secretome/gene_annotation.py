"""Gene annotations: gene_id -> symbol from a GTF (plain or gzipped) or a TSV/CSV table.

:func:`read_annotation` is what the workflow reads ``gene_annotation`` with; the ids lose their
Ensembl version (:func:`msc_secretome.gene_ids.strip_ensembl_version`) so that they match the
count matrix's ids whatever release either side comes from.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .errors import InputError
from .gene_ids import strip_ensembl_version
from .tables import open_text_stream, read_table

_GTF_ATTRIBUTE = re.compile(r'(\w+)\s+"([^"]*)"')


def _is_gtf(path: Path) -> bool:
    """GTF by extension (.gtf, .gtf.gz) or by content (9 tab-separated fields, gene_id "...")."""
    name = path.name.lower()
    if name.endswith((".gtf", ".gtf.gz")):
        return True
    try:
        with open_text_stream(path, errors="replace") as handle:
            for line in handle:
                if not line.strip() or line.startswith("#"):
                    continue
                fields = line.rstrip("\r\n").split("\t")
                return (
                    len(fields) == 9
                    and fields[3].isdigit()
                    and fields[4].isdigit()
                    and 'gene_id "' in fields[8]
                )
    except OSError:
        return False
    return False


def read_gtf(path: str | Path) -> pd.DataFrame:
    """gene_id -> symbol from a GTF (plain or gzipped): columns ``gene_id``, ``symbol``.

    Uses the ``gene`` lines' ``gene_id`` and ``gene_name`` attributes (``gene`` when there is no
    ``gene_name``, as in RefSeq GTFs); a GTF without ``gene`` lines (e.g. UCSC) is read from its
    other lines, first occurrence per gene. Ensembl versions are stripped; a gene without a name
    gets the symbol ``""``. Rows are in file order, one per gene id.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=str(path), fix="check gene_annotation in config")
    genes: dict[str, str] = {}
    others: dict[str, str] = {}
    try:
        with open_text_stream(path, errors="replace") as handle:
            for line_number, line in enumerate(handle, start=1):
                if line.startswith("#") or not line.strip():
                    continue
                fields = line.rstrip("\r\n").split("\t", 8)
                if len(fields) != 9:
                    raise InputError(
                        f"line {line_number}: {len(fields)} tab-separated fields, a GTF line has 9",
                        path=str(path),
                        fix="give a GTF (9 tab-separated columns) or a gene_id/symbol TSV",
                    )
                is_gene = fields[2] == "gene"
                if not is_gene and genes:
                    continue
                target = genes if is_gene else others
                attributes = dict(_GTF_ATTRIBUTE.findall(fields[8]))
                gene_id = attributes.get("gene_id", "").strip()
                if gene_id and gene_id not in target:
                    target[gene_id] = attributes.get("gene_name", attributes.get("gene", ""))
    except (OSError, EOFError) as err:
        raise InputError(f"cannot read the GTF ({err})", path=str(path)) from err
    mapping = genes or others
    if not mapping:
        raise InputError(
            'no gene_id "..." attribute found in the GTF',
            path=str(path),
            fix="give a GTF with gene_id and gene_name attributes, or a gene_id/symbol TSV",
        )
    table = pd.DataFrame(
        {
            "gene_id": strip_ensembl_version(mapping.keys()),
            "symbol": [s.strip() for s in mapping.values()],
        }
    )
    return table.drop_duplicates("gene_id", keep="first").reset_index(drop=True)


def read_annotation(path: str | Path, *, id_column: str = "gene_id") -> pd.DataFrame:
    """Read a gene annotation: a DataFrame with columns ``gene_id`` and ``symbol``.

    Accepts a GTF (``.gtf``/``.gtf.gz``, or recognised by its content; see :func:`read_gtf`) or
    a TSV/CSV (optionally gzipped) with the columns ``id_column`` (default ``gene_id``) and
    ``symbol``. Ensembl versions are stripped, blank ids dropped, and for an id listed twice the
    first row wins.
    """
    path = Path(path)
    if path.name.lower().endswith((".gff", ".gff3", ".gff.gz", ".gff3.gz")):
        raise InputError(
            "GFF3 annotations are not read",
            path=str(path),
            fix="give the GTF of the same release, or a TSV with columns gene_id and symbol",
        )
    if path.exists() and _is_gtf(path):
        return read_gtf(path)
    table = read_table(path)
    missing = [c for c in (id_column, "symbol") if c not in table.columns]
    if missing:
        raise InputError(
            f"missing column(s) {missing}; columns are {list(table.columns)}",
            path=str(path),
            fix=f"the annotation needs the columns {id_column} and symbol (or give a GTF)",
        )
    out = pd.DataFrame(
        {
            "gene_id": strip_ensembl_version(table[id_column]),
            "symbol": table["symbol"].astype(str).str.strip().to_numpy(),
        }
    )
    out = out[out["gene_id"] != ""]
    return out.drop_duplicates("gene_id", keep="first").reset_index(drop=True)
