"""The curated programme catalogue: gene programmes the MSC secretome may switch on or off.

File format (TSV, one row per programme; ``data/programme_catalogue.tsv`` is the built-in one):

=================  ===========================================================================
column             meaning
=================  ===========================================================================
programme            unique name, prefixed by category: CYT_, STRESS_, REG_, RISK_
category           cytotoxic | stress_damage | regenerative_protective | pro_tumour_risk
tier               core (used by the dual-benefit summary) | extended (reported only)
direction_cancer   desired sign in cancer cells: 1 (want up), -1 (want down), 0 (ambiguous)
direction_normal   desired sign in normal cells, same coding
source             provenance: GO term(s), PROGENy pathway, Hallmark name, literature
genes              comma-separated current HGNC symbols
description        one line in plain words
=================  ===========================================================================

``source`` is a ``;``-separated list, primary reference first; each entry is ``GO:0097191``,
``PROGENy:p53`` (a PROGENy pathway name) or ``literature:<short citation>``.
Row numbers in error messages count the header as row 1, so row 2 is the first programme.

GMT files are :mod:`msc_secretome.gmt`. Also here: the overlap of each programme with its
cited reference sets (:func:`source_overlap`) and the direction-coherence check
(:func:`direction_conflicts`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from .errors import InputError
from .gmt import read_gmt

CATEGORIES = ("cytotoxic", "stress_damage", "regenerative_protective", "pro_tumour_risk")
PREFIX_OF_CATEGORY = {
    "cytotoxic": "CYT_",
    "stress_damage": "STRESS_",
    "regenerative_protective": "REG_",
    "pro_tumour_risk": "RISK_",
}
#: How people read each category (report headings, legends, verdict cards).
CATEGORY_LABEL = {
    "cytotoxic": "cytotoxic",
    "stress_damage": "stress/damage",
    "regenerative_protective": "regenerative/protective",
    "pro_tumour_risk": "pro-tumour risk",
}


def category_of_programme(name: str) -> str | None:
    """The category a programme name's prefix stands for (``CYT_X`` -> cytotoxic), else None."""
    for category, prefix in PREFIX_OF_CATEGORY.items():
        if str(name).startswith(prefix):
            return category
    return None


COLUMNS = (
    "programme",
    "category",
    "tier",
    "direction_cancer",
    "direction_normal",
    "source",
    "genes",
    "description",
)


def builtin_catalogue_path() -> Path:
    """Path of the catalogue shipped with the package."""
    return Path(__file__).parent / "data" / "programme_catalogue.tsv"


def read_catalogue(path: str | Path | None = None) -> pd.DataFrame:
    """Read and check a programme catalogue; ``None`` or ``"builtin"`` reads the built-in one.

    Returns one row per programme with ``genes`` as a tuple of symbols. The file is read as
    data: every line is a row and every cell is kept as written (a ``#`` or a quote inside a
    description or a source is text, not a comment); a row with more or fewer tab-separated
    fields than the header is refused with its row number.
    """
    from .tables import open_text

    if path is None or str(path) == "builtin":
        path = builtin_catalogue_path()
    path = Path(path)
    lines = [line for line in open_text(path).split("\n") if line.strip()]
    if not lines:
        raise InputError("the catalogue is empty", path=str(path), fix="give a header and rows")
    header = [h.strip() for h in lines[0].split("\t")]
    rows = []
    for row_number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header):
            raise InputError(
                f"row {row_number}: {len(fields)} tab-separated fields, the header has "
                f"{len(header)}",
                path=str(path),
                fix="separate the columns by single TABs; a field must not contain a TAB",
            )
        rows.append([f.strip() for f in fields])
    table = pd.DataFrame(rows, columns=header, dtype=str)
    return check_catalogue(table, source=str(path))


def check_catalogue(table: pd.DataFrame, source: str = "catalogue") -> pd.DataFrame:
    """Validate a catalogue table; return a normalised copy (directions as int, genes as tuples)."""
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise InputError(
            f"header (row 1): missing column(s) {missing}; found {list(table.columns)}",
            path=source,
            fix=(
                "rename the column 'program' to 'programme' (the spelling changed, see the "
                "README changelog)"
                if "programme" in missing and "program" in table.columns
                else f"a catalogue needs the columns {list(COLUMNS)}"
            ),
        )
    out = table.loc[:, list(COLUMNS)].copy()
    first_row: dict[str, int] = {}
    for row_number, name in enumerate(out["programme"], start=2):
        if name in first_row:
            raise InputError(
                f"row {row_number} (programme {name!r}): duplicated programme name, "
                f"first seen in row {first_row[name]}",
                path=source,
                fix="give every programme a unique name",
            )
        first_row[name] = row_number
    for row_number, row in enumerate(out.itertuples(index=False), start=2):
        where = f"row {row_number} (programme {row.programme!r})"
        if row.category not in CATEGORIES:
            raise InputError(
                f"{where}: category {row.category!r} is not one of {list(CATEGORIES)}",
                path=source,
                fix="use one of the four categories",
            )
        if row.tier not in ("core", "extended"):
            raise InputError(
                f"{where}: tier {row.tier!r} must be 'core' or 'extended'", path=source
            )
        for column in ("direction_cancer", "direction_normal"):
            value = getattr(row, column)
            if value not in ("-1", "0", "1", "+1"):
                raise InputError(
                    f"{where}: {column} is {value!r}; it must be -1, 0 or 1", path=source
                )
        genes = [g.strip() for g in row.genes.split(",") if g.strip()]
        if not genes:
            raise InputError(f"{where}: no genes", path=source)
        if len(set(genes)) != len(genes):
            raise InputError(f"{where}: a gene is listed twice", path=source)
    out["direction_cancer"] = out["direction_cancer"].astype(int)
    out["direction_normal"] = out["direction_normal"].astype(int)
    out["genes"] = [tuple(g.strip() for g in s.split(",") if g.strip()) for s in out["genes"]]
    return out.reset_index(drop=True)


def catalogue_gene_sets(catalogue: pd.DataFrame) -> dict[str, list[str]]:
    """Programme name -> gene symbols, in catalogue order."""
    return {row.programme: list(row.genes) for row in catalogue.itertuples(index=False)}


def catalogue_long(catalogue: pd.DataFrame) -> pd.DataFrame:
    """One row per (programme, gene) membership."""
    rows = [
        (row.programme, row.category, gene)
        for row in catalogue.itertuples(index=False)
        for gene in row.genes
    ]
    return pd.DataFrame(rows, columns=["programme", "category", "gene"])


# --------------------------------------------------------------------------------------------
# Reference sets and the catalogue's agreement with its sources
# --------------------------------------------------------------------------------------------

PROGENY_COLUMNS = ("pathway", "gene", "weight")


def reference_sets_from_files(
    go_gmt_path: str | Path, progeny_tsv_path: str | Path, progeny_top: int = 100
) -> dict[str, list[str]]:
    """Reference gene sets keyed like catalogue sources: ``GO:0006915``, ``PROGENy:p53``.

    GO sets come from a GMT whose name field starts with the GO ID (first whitespace token).
    PROGENy sets come from the long model table (columns pathway, gene, weight, optional rank
    and current_symbol): per pathway the genes with ``rank <= progeny_top`` (rank taken from the
    file, else by decreasing absolute weight) and positive weight; ``current_symbol`` replaces
    ``gene`` where it is given, so retired symbols match the catalogue's current ones.
    """
    reference: dict[str, list[str]] = {}
    for name, genes in read_gmt(go_gmt_path).items():
        reference[name.split()[0]] = genes
    progeny_tsv_path = Path(progeny_tsv_path)
    table = pd.read_csv(progeny_tsv_path, sep="\t", dtype=str, keep_default_na=False)
    missing = [c for c in PROGENY_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(
            f"header (row 1): missing column(s) {missing}; found {list(table.columns)}",
            path=str(progeny_tsv_path),
            fix=f"a PROGENy model table needs the columns {list(PROGENY_COLUMNS)}",
        )
    weight = pd.to_numeric(table["weight"], errors="coerce")
    if weight.isna().any():
        bad = int(weight.isna().to_numpy().nonzero()[0][0]) + 2
        raise InputError(f"row {bad}: weight is not a number", path=str(progeny_tsv_path))
    if "rank" in table.columns:
        rank = pd.to_numeric(table["rank"], errors="coerce")
    else:
        rank = weight.abs().groupby(table["pathway"]).rank(ascending=False, method="first")
    symbol = table["gene"].str.strip()
    if "current_symbol" in table.columns:
        current = table["current_symbol"].str.strip()
        symbol = current.where(current != "", symbol)
    keep = (rank <= progeny_top) & (weight > 0) & (symbol != "")
    for pathway, genes in symbol[keep].groupby(table["pathway"][keep], sort=False):
        reference[f"PROGENy:{pathway}"] = list(dict.fromkeys(genes))
    return reference


def parse_sources(source: str) -> list[str]:
    """Split a catalogue ``source`` field into its references, primary first."""
    return [s.strip() for s in str(source).split(";") if s.strip()]


def source_overlap(
    catalogue: pd.DataFrame, reference_sets: Mapping[str, Iterable[str]]
) -> pd.DataFrame:
    """How much of each programme its cited references contain.

    Columns: programme, primary_source, n_genes, primary_fraction (fraction of the programme's
    genes in its primary source; NaN for a ``literature:`` source or one missing from
    ``reference_sets``) and any_fraction (fraction in the union of all its listed sources that
    ``reference_sets`` holds; NaN when it holds none of them).
    """
    sets = {key: set(genes) for key, genes in reference_sets.items()}
    rows = []
    for row in catalogue.itertuples(index=False):
        genes = list(row.genes)
        sources = parse_sources(row.source)
        primary = sources[0] if sources else ""
        known = [s for s in sources if s in sets]
        n = len(genes)
        if primary in sets and n:
            primary_fraction = sum(g in sets[primary] for g in genes) / n
        else:
            primary_fraction = math.nan
        if known and n:
            union = set().union(*(sets[s] for s in known))
            any_fraction = sum(g in union for g in genes) / n
        else:
            any_fraction = math.nan
        rows.append((row.programme, primary, n, primary_fraction, any_fraction))
    return pd.DataFrame(
        rows, columns=["programme", "primary_source", "n_genes", "primary_fraction", "any_fraction"]
    )


# --------------------------------------------------------------------------------------------
# Coherence checks
# --------------------------------------------------------------------------------------------

CONTEXTS = ("cancer", "normal")


def direction_conflicts(catalogue: pd.DataFrame) -> pd.DataFrame:
    """Genes in two programmes whose desired signs are opposite in the same context.

    One row per (gene, context, programme_up, programme_down), sorted; empty (with these columns)
    when the catalogue is direction-coherent.
    """
    rows = []
    for context in CONTEXTS:
        up: dict[str, list[str]] = {}
        down: dict[str, list[str]] = {}
        for row in catalogue.itertuples(index=False):
            sign = int(getattr(row, f"direction_{context}"))
            target = up if sign > 0 else down if sign < 0 else None
            if target is None:
                continue
            for gene in row.genes:
                target.setdefault(gene, []).append(row.programme)
        for gene in up.keys() & down.keys():
            rows.extend((gene, context, p_up, p_down) for p_up in up[gene] for p_down in down[gene])
    table = pd.DataFrame(rows, columns=["gene", "context", "programme_up", "programme_down"])
    return table.sort_values(list(table.columns), ignore_index=True)


def shared_genes(catalogue: pd.DataFrame) -> pd.DataFrame:
    """Every pair of programmes sharing genes: programme_a, programme_b, n_shared, genes (sorted).

    Pairs follow catalogue order; rows are sorted by decreasing ``n_shared``.
    """
    sets = catalogue_gene_sets(catalogue)
    names = list(sets)
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            common = sorted(set(sets[a]) & set(sets[b]))
            if common:
                rows.append((a, b, len(common), ",".join(common)))
    table = pd.DataFrame(rows, columns=["programme_a", "programme_b", "n_shared", "genes"])
    return table.sort_values("n_shared", ascending=False, kind="stable", ignore_index=True)


def library_coverage(
    library: str,
    gene_sets: dict[str, list[str]],
    data_symbols: set[str],
    *,
    min_coverage: float,
    path: str,
) -> dict[str, float | int | str]:
    """How much a library and the data share; an error only when the ids cannot be the same.

    Two fractions of the shared genes: of the library's genes (``coverage``) and of the data's
    symbols (``data_coverage``). The run stops when the share of the *smaller* set is below
    ``min_coverage``: a wrong id type (Entrez or Ensembl against symbols, mouse against human)
    leaves both near zero. A targeted or pre-filtered matrix (a 1,267-gene panel) has fewer
    genes than the library, so most of the library is absent by design: it passes when enough
    of the data's own genes are in the library (``verdict`` ``targeted_panel``).

    Returns ``{"n_genes", "genes_in_data", "coverage", "n_data_genes", "data_coverage",
    "verdict"}``, ``verdict`` ``ok`` or ``targeted_panel``.
    """
    from .gene_ids import detect_id_type

    genes = {g for members in gene_sets.values() for g in members}
    present = genes & data_symbols
    coverage = len(present) / len(genes) if genes else 0.0
    data_coverage = len(present) / len(data_symbols) if data_symbols else 0.0
    panel = len(data_symbols) < len(genes)
    share = data_coverage if panel else coverage
    if not gene_sets or share < min_coverage:
        looks = detect_id_type(sorted(genes)[:500]) if genes else "nothing"
        raise InputError(
            f"library {library!r}: only {len(present)} genes are shared: {coverage:.1%} of the "
            f"library's {len(genes)} genes and {data_coverage:.1%} of the data's "
            f"{len(data_symbols)} symbols (minimum {min_coverage:.0%} of the smaller set). The "
            f"ids differ in kind: the library's genes look like {looks} (e.g. "
            f"{sorted(genes)[:3]}), the data's symbols like {sorted(data_symbols)[:3]}",
            path=str(path),
            fix="use a GMT keyed by gene symbols of the data's species (or give "
            "gene_annotation so the counts map to symbols); lower gene_sets.min_coverage only "
            "if the overlap is truly small",
        )
    return {
        "n_genes": len(genes),
        "genes_in_data": len(present),
        "coverage": coverage,
        "n_data_genes": len(data_symbols),
        "data_coverage": data_coverage,
        "verdict": "targeted_panel" if panel and coverage < min_coverage else "ok",
    }
