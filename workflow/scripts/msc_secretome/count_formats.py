"""Count inputs as labs have them: one reader, :func:`read_counts`, for every format.

Formats (``counts_format``; ``auto`` recognises them from the content and says so):

============== ================================================================================
matrix         genes x samples TSV/CSV, first column the gene id (an R ``write.table`` header,
               one name short, is recognised)
featurecounts  featureCounts output: ``# Program:featureCounts`` line, then ``Geneid Chr Start
               End Strand Length`` and one column per BAM file; BAM paths become sample names
htseq          HTSeq-count files, one per sample: ``gene<TAB>count``, ``__`` summary rows last
star           STAR ``ReadsPerGene.out.tab`` files, one per sample: four ``N_`` summary rows,
               then gene, unstranded, first-strand and second-strand counts
salmon         nf-core/rnaseq ``salmon.merged.gene_counts.tsv``: ``gene_id``, ``gene_name``,
               then estimated counts (rounded half to even; ``gene_name`` is the annotation)
============== ================================================================================

Summary rows (HTSeq's ``__no_feature`` ..., STAR's ``N_unmapped`` ...) are never analysed as
genes, in any format: they are dropped and reported per sample (:attr:`CountTable.summary`).
The spec is a small dict, so each experiment can have its own counts::

    {"counts": "counts.tsv" or None, "files": {sample: path} or None,
     "format": "auto", "strand": "auto", "round_estimated": False, "samples": [names] or None}
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .count_parsing import fast_integer_matrix, parse_count_cells, split_table
from .errors import InputError
from .gene_ids import version_collisions
from .tables import open_text

FORMATS = ("auto", "matrix", "featurecounts", "htseq", "star", "salmon")
PER_SAMPLE_FORMATS = ("htseq", "star")
STRANDS = ("auto", "unstranded", "forward", "reverse")
FORMAT_WORDS = {
    "matrix": "a merged genes x samples matrix",
    "featurecounts": "featureCounts output",
    "htseq": "HTSeq-count files",
    "star": "STAR ReadsPerGene.out.tab files",
    "salmon": "nf-core/rnaseq salmon.merged.gene_counts.tsv",
}
FEATURECOUNTS_COLUMNS = ["Geneid", "Chr", "Start", "End", "Strand", "Length"]
STAR_SUMMARY = ("N_unmapped", "N_multimapping", "N_noFeature", "N_ambiguous")
STAR_COLUMN = {"unstranded": 1, "forward": 2, "reverse": 3}
SUMMARY_ROW = re.compile(r"^(__\S+|N_unmapped|N_multimapping|N_noFeature|N_ambiguous)$")
BAM_SUFFIXES = (".Aligned.sortedByCoord.out.bam", "Aligned.sortedByCoord.out.bam",
                "_Aligned.sortedByCoord.out.bam", ".Aligned.out.bam", "Aligned.out.bam",
                ".sorted.bam", ".markdup.bam", ".bam")  # fmt: skip
#: STAR strand inference: the larger strand sum must be this many times the smaller to call
#: the library stranded, and at most UNSTRANDED_RATIO times for unstranded; between: refused.
STRANDED_RATIO = 3.0
UNSTRANDED_RATIO = 1.5


@dataclass(frozen=True)
class CountTable:
    """What :func:`read_counts` returns.

    ``counts``: genes x samples, int64, index ``gene_id`` (file order). ``summary``: one row
    per sample (sample, reads_in_genes, reads_in_summary_rows, fraction_in_summary_rows, then
    one column per summary row). ``annotation``: gene_id/symbol from the file (salmon's
    ``gene_name``) or ``None``. ``methods``: one sentence for the report; ``notes``: log lines.
    """

    counts: pd.DataFrame
    summary: pd.DataFrame
    annotation: pd.DataFrame | None
    format: str
    methods: str
    notes: tuple[str, ...]


@dataclass
class _Parsed:
    genes: list[str]
    values: np.ndarray  # genes x columns int64
    columns: list[str]
    first_line: int
    n_rounded: int = 0


def detect_format(path: str | Path) -> tuple[str, str]:
    """``(format, reason)`` recognised from a count file's first lines."""
    lines = open_text(path).split("\n", 8)[:8]
    first = lines[0]
    if first.startswith("# Program:featureCounts"):
        return "featurecounts", "first line '# Program:featureCounts ...'"
    fields = first.split("\t")
    if fields[:6] == FEATURECOUNTS_COLUMNS:
        return "featurecounts", "header Geneid Chr Start End Strand Length"
    if fields[:2] == ["gene_id", "gene_name"]:
        return "salmon", "header gene_id, gene_name (nf-core/rnaseq merged table)"
    if first.split("\t", 1)[0] == "N_unmapped" and len(fields) == 4:
        return "star", "first row N_unmapped with 3 count columns"
    data = [line for line in lines if line.strip()]
    if data and all(len(line.split("\t")) == 2 for line in data):
        if all(re.fullmatch(r"\s*\d+\s*", line.split("\t")[1]) for line in data):
            return "htseq", "two tab-separated columns (gene, count) without a header"
    return "matrix", "a header row then one row per gene"


def read_counts(spec: Mapping) -> CountTable:
    """Read counts as a genes x samples int64 matrix, whatever the format (module docstring).

    ``spec``: ``counts`` (one file) or ``files`` (sample -> path, per-sample formats),
    ``format`` (one of ``FORMATS``), ``strand`` (STAR only), ``round_estimated`` and
    ``samples`` (sheet names, to match featureCounts' BAM paths). Raises :class:`InputError`
    naming the file, line and column for anything that is not a count.
    """
    fmt = spec.get("format", "auto")
    if fmt not in FORMATS:
        raise InputError(f"counts_format {fmt!r} is not one of {list(FORMATS)}", path="config")
    files = spec.get("files")
    notes: list[str] = []
    if files:
        first = next(iter(files.values()))
        if fmt == "auto":
            fmt, reason = detect_format(first)
            notes.append(
                f"counts_format auto: {FORMAT_WORDS[fmt]} recognised ({reason}) in {first}"
            )
        if fmt not in PER_SAMPLE_FORMATS:
            raise InputError(
                f"per-sample count files are read as htseq or star, but {first} is {fmt}",
                path=first,
                fix="set counts_format to htseq or star, or give one merged matrix as counts",
            )
        return _read_per_sample(files, fmt, spec.get("strand", "auto"), notes)
    path = str(spec["counts"])
    if fmt == "auto":
        fmt, reason = detect_format(path)
        notes.append(f"counts_format auto: {FORMAT_WORDS[fmt]} recognised ({reason})")
    if fmt in PER_SAMPLE_FORMATS:
        raise InputError(
            f"{FORMAT_WORDS[fmt]} hold one sample each, but one file is given as counts",
            path=path,
            fix="list one file per sample: a 'counts_file' column in the sample sheet, or "
            "counts: a pattern with {sample} (e.g. htseq/{sample}.counts.txt)",
        )
    text = open_text(path)
    annotation = None
    n_rounded = 0
    if fmt == "featurecounts":
        parsed, layout = _featurecounts(text, path, spec.get("samples")), []
    elif fmt == "salmon":
        parsed, annotation, layout = _salmon(text, path)
        n_rounded = parsed.n_rounded
    else:
        parsed, layout = _matrix(text, path, bool(spec.get("round_estimated", False)))
        n_rounded = parsed.n_rounded
    notes.extend(layout)
    counts, summary = _split_summary_rows(parsed, path)
    methods = f"Counts were read from {FORMAT_WORDS[fmt]} ({Path(path).name})"
    if n_rounded or fmt == "salmon":
        methods += (
            f"; estimated counts were rounded to integers (half to even; {n_rounded} "
            "non-integer values)"
        )
    return CountTable(counts, summary, annotation, fmt, _summary_sentence(methods, summary),
                      tuple(notes))  # fmt: skip


# --------------------------------------------------------------------------------------------
# One-file formats
# --------------------------------------------------------------------------------------------


def _matrix(text: str, path: str, round_estimated: bool) -> tuple[_Parsed, list[str]]:
    header_line = text.split("\n", 1)[0]
    delimiter = "\t" if header_line.count("\t") >= header_line.count(",") else ","
    fast = fast_integer_matrix(text, delimiter)
    if fast is not None:
        genes = [g.strip() for g in fast.iloc[:, 0]]
        values = fast.iloc[:, 1:].to_numpy(dtype=np.int64)
        return _Parsed(genes, values, list(fast.columns[1:]), 2), []
    table = split_table(text, path)
    return _cells(table, path, 1, round_estimated=round_estimated), list(table.notes)


def _cells(table, path: str, skip: int, *, round_estimated: bool, fix: str | None = None):
    genes = [row[0].strip() for row in table.rows]
    columns = table.header[skip:]
    if not columns:
        raise InputError(
            "the count table needs a gene id column and at least one sample column", path=path
        )
    values, n_rounded = parse_count_cells(
        [row[skip:] for row in table.rows], genes=genes, columns=columns, path=path,
        first_line=table.first_line, round_estimated=round_estimated, fix_non_integer=fix,
    )  # fmt: skip
    return _Parsed(genes, values, columns, table.first_line, n_rounded)


def _featurecounts(text: str, path: str, samples: Sequence[str] | None) -> _Parsed:
    skip = 1 if text.startswith("#") else 0
    table = split_table(text, path, skip_comment_lines=skip)
    if table.header[:6] != FEATURECOUNTS_COLUMNS:
        raise InputError(
            f"line {skip + 1}: a featureCounts header starts with {FEATURECOUNTS_COLUMNS}, "
            f"this one with {table.header[:6]}",
            path=path,
            fix="give the featureCounts output file itself (not its .summary), or set "
            "counts_format: matrix for a merged matrix",
        )
    parsed = _cells(table, path, 6, round_estimated=False)
    parsed.columns = sample_names_from_bam_paths(parsed.columns, samples, path)
    return parsed


def _salmon(text: str, path: str) -> tuple[_Parsed, pd.DataFrame, list[str]]:
    table = split_table(text, path)
    if table.header[:2] != ["gene_id", "gene_name"]:
        raise InputError(
            f"an nf-core salmon merged table starts with gene_id, gene_name; this one with "
            f"{table.header[:2]}",
            path=path,
            fix="give salmon.merged.gene_counts.tsv, or set counts_format: matrix",
        )
    parsed = _cells(table, path, 2, round_estimated=True)
    annotation = pd.DataFrame(
        {"gene_id": parsed.genes, "symbol": [row[1].strip() for row in table.rows]}
    )
    notes = [f"salmon: {parsed.n_rounded} non-integer estimated counts rounded (half to even)"]
    return parsed, annotation, notes


def sample_names_from_bam_paths(
    columns: Sequence[str], samples: Sequence[str] | None, path: str
) -> list[str]:
    """featureCounts' BAM-path columns as sample names.

    The directory and a BAM suffix (``.bam``, ``Aligned.sortedByCoord.out.bam``, ...) are
    removed; with the sheet's ``samples`` given, a cleaned name that is not a sample is matched
    to the one sample it starts with (followed by ``.``, ``_`` or ``-``). Two columns giving one
    name, or a name matching several samples, are refused.
    """
    names = []
    for column in columns:
        base = column.replace("\\", "/").rsplit("/", 1)[-1]
        for suffix in BAM_SUFFIXES:
            if base.endswith(suffix) and len(base) > len(suffix):
                base = base[: -len(suffix)]
                break
        if samples is not None and base not in samples:
            near = [s for s in samples if re.match(re.escape(s) + r"([._-]|$)", base)]
            if len(near) > 1:
                raise InputError(
                    f"column {column!r} matches several samples of the sheet: {near}",
                    path=path,
                    fix="rename the BAM files or the samples so each column names one sample",
                )
            base = near[0] if near else base
        names.append(base)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(
            f"BAM columns give the same sample name twice: {repeated} (from {list(columns)})",
            path=path,
            fix="give each BAM file a distinct name (or featureCounts one BAM per sample)",
        )
    return names


# --------------------------------------------------------------------------------------------
# Per-sample formats
# --------------------------------------------------------------------------------------------


def _read_per_sample(files: Mapping[str, str], fmt: str, strand: str, notes: list[str]):
    if strand not in STRANDS:
        raise InputError(f"counts_strand {strand!r} is not one of {list(STRANDS)}", path="config")
    per_sample: dict[str, tuple[list[str], np.ndarray, int]] = {}
    for sample, path in files.items():
        rows = [line.split("\t") for line in open_text(path).split("\n") if line.strip()]
        width = 2 if fmt == "htseq" else 4
        if not rows:
            raise InputError("the file is empty (no genes)", path=path)
        for number, row in enumerate(rows, start=1):
            if len(row) != width:
                raise InputError(
                    f"line {number}: {len(row)} tab-separated fields, {FORMAT_WORDS[fmt]} have "
                    f"{width}",
                    path=path,
                    fix=f"give the {fmt} output file unchanged, or set counts_format",
                )
        if fmt == "star" and [r[0] for r in rows[:4]] != list(STAR_SUMMARY):
            raise InputError(
                f"the first four rows of a ReadsPerGene.out.tab are {list(STAR_SUMMARY)}; "
                f"here {[r[0] for r in rows[:4]]}",
                path=path,
                fix="give STAR's ReadsPerGene.out.tab unchanged",
            )
        genes = [r[0].strip() for r in rows]
        columns = [f"column {k}" for k in range(2, width + 1)]
        values, _ = parse_count_cells(
            [r[1:] for r in rows], genes=genes, columns=columns, path=path, first_line=1
        )
        per_sample[sample] = (genes, values, 1)
    column = 0
    if fmt == "star":
        strand, rule = _star_strand(per_sample, strand, files)
        notes.append(rule)
        column = STAR_COLUMN[strand] - 1
    reference_genes, _, _ = next(iter(per_sample.values()))
    order = {g: i for i, g in enumerate(reference_genes)}
    first_file = next(iter(files.values()))
    matrix = np.zeros((len(reference_genes), len(files)), dtype=np.int64)
    for j, (sample, (genes, values, _)) in enumerate(per_sample.items()):
        if set(genes) != set(order) or len(genes) != len(order):
            differ = sorted(set(genes) ^ set(order))
            raise InputError(
                f"sample {sample!r}: its genes differ from those of {first_file} "
                f"({len(differ)} differ, e.g. {differ[:3]})",
                path=files[sample],
                fix="quantify every sample against the same annotation",
            )
        matrix[[order[g] for g in genes], j] = values[:, column]
    parsed = _Parsed(list(reference_genes), matrix, list(files), 1)
    counts, summary = _split_summary_rows(parsed, first_file)
    methods = f"Counts were read from {FORMAT_WORDS[fmt]}, one per sample"
    if fmt == "star":
        methods += f" (column {STAR_COLUMN[strand] + 1}: {strand} counts)"
    return CountTable(counts, summary, None, fmt, _summary_sentence(methods, summary), tuple(notes))


def _star_strand(
    per_sample: Mapping[str, tuple], strand: str, files: Mapping[str, str]
) -> tuple[str, str]:
    """The STAR column to use; inferred from the strand sums when ``strand`` is auto."""
    if strand != "auto":
        return strand, f"STAR strand column: {strand} (counts_strand in config)"
    calls = {}
    for sample, (genes, values, _) in per_sample.items():
        is_gene = np.array([g not in STAR_SUMMARY for g in genes])
        forward, reverse = (int(values[is_gene, k].sum()) for k in (1, 2))
        high, low = max(forward, reverse), max(min(forward, reverse), 1)
        if high >= STRANDED_RATIO * low:
            call = "forward" if forward > reverse else "reverse"
        elif high <= UNSTRANDED_RATIO * low:
            call = "unstranded"
        else:
            raise InputError(
                f"sample {sample!r}: cannot tell the library strand: first-strand column sums "
                f"to {forward}, second-strand to {reverse} (ratio {high / low:.2f}, between "
                f"{UNSTRANDED_RATIO} (unstranded) and {STRANDED_RATIO} (stranded))",
                path=files[sample],
                fix="set counts_strand: unstranded, forward or reverse (the library kit says)",
            )
        calls[sample] = (call, forward, reverse)
    kinds = sorted({c[0] for c in calls.values()})
    if len(kinds) > 1:
        raise InputError(
            "the STAR files disagree on the library strand: "
            + ", ".join(f"{s}: {c[0]}" for s, c in calls.items()),
            path=next(iter(files.values())),
            fix="set counts_strand in config, or check that the files come from one protocol",
        )
    example = next(iter(calls.items()))
    rule = (
        f"STAR strand column inferred: {kinds[0]} (per sample, the larger of the first- and "
        f"second-strand sums must be >= {STRANDED_RATIO}x the smaller for a stranded call, "
        f"<= {UNSTRANDED_RATIO}x for unstranded; e.g. {example[0]}: {example[1][1]} vs "
        f"{example[1][2]})"
    )
    return kinds[0], rule


# --------------------------------------------------------------------------------------------
# Common checks and summary rows
# --------------------------------------------------------------------------------------------


def _split_summary_rows(parsed: _Parsed, path: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    genes = parsed.genes
    lines = {}
    for i, gene in enumerate(genes):
        line = parsed.first_line + i
        if not gene:
            raise InputError(f"line {line}: empty gene id", path=path)
        if gene in lines:
            n_repeated = len(genes) - len(set(genes))
            raise InputError(
                f"duplicated gene id {gene!r}: line {line} repeats line {lines[gene]} "
                f"({n_repeated} duplicated row(s) in all)",
                path=path,
                fix="sum or remove the duplicated rows (one row per gene)",
            )
        lines[gene] = line
    _check_version_collisions(genes, lines, path)
    repeated = sorted({c for c in parsed.columns if parsed.columns.count(c) > 1})
    if repeated:
        raise InputError(f"duplicated sample column(s) {repeated}", path=path)
    is_summary = np.array([bool(SUMMARY_ROW.match(g)) for g in genes], dtype=bool)
    counts = pd.DataFrame(
        parsed.values[~is_summary],
        index=pd.Index(
            [g for g, s in zip(genes, is_summary, strict=True) if not s], name="gene_id"
        ),
        columns=parsed.columns,
    )
    in_genes = counts.sum(axis=0).to_numpy()
    summary_values = parsed.values[is_summary]
    in_summary = summary_values.sum(axis=0)
    total = in_genes + in_summary
    summary = pd.DataFrame(
        {
            "sample": parsed.columns,
            "reads_in_genes": in_genes,
            "reads_in_summary_rows": in_summary,
            "fraction_in_summary_rows": np.where(total > 0, in_summary / np.maximum(total, 1), 0.0),
        }
    )
    for name, row in zip(np.array(genes)[is_summary], summary_values, strict=True):
        summary[name] = row
    return counts, summary


def _check_version_collisions(genes: list[str], lines: Mapping[str, int], path: str) -> None:
    collisions = version_collisions(genes)
    if collisions:
        key, (other, gene) = next(iter(collisions.items()))
        raise InputError(
            f"gene ids {other!r} (line {lines[other]}) and {gene!r} (line {lines[gene]}) "
            f"are one Ensembl gene ({key}) in two versions"
            + (f" ({len(collisions)} genes so in all)" if len(collisions) > 1 else ""),
            path=path,
            fix="keep one row per gene: sum the versions' counts or drop the outdated one "
            "(versions are ignored when ids are matched)",
        )


def _summary_sentence(methods: str, summary: pd.DataFrame) -> str:
    names = [c for c in summary.columns[4:]]
    if not names:
        return methods + "."
    lost = summary["fraction_in_summary_rows"]
    return (
        f"{methods}; its summary rows ({', '.join(names)}) were not analysed as genes (they "
        f"held {lost.min():.1%}-{lost.max():.1%} of each sample's reads; see "
        "count_summary_rows.tsv)."
    )
