"""Issue 18 (1, 3, 4): no silent wrong numbers in counts and ids, user files checked before any
job, and messages that name the real cause of common file mistakes.

Function-level tests assert each message; the ``slow`` Snakemake runs assert that the same
files stop the workflow with that message and leave nothing under results/.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from workflow_runs import prepare_workdir, run_snakemake

from msc_secretome.catalogue import builtin_catalogue_path, read_catalogue
from msc_secretome.count_formats import read_counts as read_count_table
from msc_secretome.errors import InputError
from msc_secretome.validation import (
    check_counts_content,
    check_gene_set_files,
    match_counts_to_samples,
    read_counts,
)

HEADER = "gene_id\tS1\tS2\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_counts_are_parsed_exactly_without_a_float_round_trip(tmp_path):
    above_2_53 = 2**53 + 1  # a float64 would make it 2**53
    path = write(tmp_path, "big.tsv", HEADER + f"A\t{above_2_53}\t3\nB\t12.0\t1.2e1\n")
    counts = read_counts(path)
    assert counts.loc["A", "S1"] == above_2_53
    assert counts.loc["B"].tolist() == [12, 12]
    assert counts.dtypes.unique().tolist() == ["int64"]
    largest = 2**63 - 1  # through the fast path (digits only): still exact
    fast = read_counts(write(tmp_path, "max.tsv", HEADER + f"A\t{largest}\t{above_2_53}\n"))
    assert fast.loc["A"].tolist() == [largest, above_2_53]


@pytest.mark.parametrize("value", [str(2**63), "123456789012345678901234567890"])
def test_a_value_above_int64_is_refused_with_line_and_column(tmp_path, value):
    path = write(tmp_path, "huge.tsv", HEADER + f"A\t1\t2\nB\t3\t{value}\n")
    message = (
        rf"(?s)huge.tsv: line 3 \(gene 'B'\), column 'S2': {value} is larger than 2\^63-1.*"
        r"Fix: this column does not hold"
    )
    with pytest.raises(InputError, match=message):
        read_counts(path)


def test_ensembl_versions_of_one_gene_are_refused(tmp_path):
    text = HEADER + "ENSG00000141510.16\t1\t2\nENSG00000000003.1\t5\t5\nENSG00000141510.17\t3\t4\n"
    with pytest.raises(
        InputError,
        match=r"(?s)'ENSG00000141510.16' \(line 2\) and 'ENSG00000141510.17' \(line 4\) are one "
        r"Ensembl gene \(ENSG00000141510\) in two versions.*Fix: keep one row per gene",
    ):
        read_counts(write(tmp_path, "versions.tsv", text))


def test_spreadsheet_dates_in_gene_ids_are_a_warning_in_the_summary():
    genes = ["1-Sep", "2-Mar", "TP53", *(f"G{i}" for i in range(120))]
    counts = pd.DataFrame({"S1": range(len(genes)), "S2": 1}, index=genes)
    rows = {check: (status, detail) for check, status, detail in check_counts_content(
        counts, path="c.tsv")}  # fmt: skip
    status, detail = rows["excel_dates"]
    assert status == "warning" and "2 gene id(s) look like dates" in detail
    assert "1-Sep, 2-Mar" in detail and "SEPTIN/MARCHF" in detail
    assert rows["n_genes"][0] == "ok"


def test_too_few_genes_for_size_factors():
    one = pd.DataFrame({"S1": [5], "S2": [9]}, index=["TP53"])
    message = (
        r"(?s)c.tsv: the count matrix has 1 gene\(s\); size factors .* fold change ~0 by "
        r"construction.*Fix: give the whole"
    )
    with pytest.raises(InputError, match=message):
        check_counts_content(one, path="c.tsv")
    forty = pd.DataFrame({"S1": range(40), "S2": 3}, index=[f"G{i}" for i in range(40)])
    rows = check_counts_content(forty, path="c.tsv")
    assert ("n_genes", "warning") in [(c, s) for c, s, _ in rows]


@pytest.mark.parametrize("quoted", [True, False])
def test_r_write_table_header_is_recognised(tmp_path, quoted):
    """write.table(m, sep='\\t'): the header has no name for the row-name column."""
    q = '"' if quoted else ""
    text = f"{q}S1{q}\t{q}S2{q}\n{q}TP53{q}\t1\t2\n{q}MDM2{q}\t3\t4\n"
    table = read_count_table({"counts": write(tmp_path, "r.tsv", text)})
    assert table.counts.loc["MDM2"].tolist() == [3, 4]
    assert list(table.counts.columns) == ["S1", "S2"]
    assert "R write.table layout" in table.notes[-1]


def test_a_file_with_no_gene_rows_says_so(tmp_path):
    with pytest.raises(InputError, match=r"(?s)empty.tsv: line 1 is a header \(3 names\) but no "
                       r"gene rows follow.*Fix: the file holds no counts"):  # fmt: skip
        read_counts(write(tmp_path, "empty.tsv", "gene_id\tS1\tS2\n\n"))


def test_a_transposed_matrix_is_explained():
    counts = pd.DataFrame({"TP53": [1, 2, 3], "MDM2": [4, 5, 6]}, index=["S1", "S2", "S3"])
    sheet = pd.DataFrame({"sample": ["S1", "S2", "S3"], "medium": ["a", "b", "a"]})
    with pytest.raises(InputError, match=r"(?s)3 sample names sit in its first column.*looks "
                       r"transposed.*Fix: transpose it"):  # fmt: skip
        match_counts_to_samples(counts, sheet, counts_path="t.tsv")


def test_a_hash_inside_a_catalogue_field_is_data(tmp_path):
    builtin = read_catalogue()
    text = builtin_catalogue_path().read_text()
    first_row = text.split("\n")[1].split("\t")
    first_row[7] = "Death ligands #1 of the list; see ref #2"
    first_row[5] = "literature:Smith #3;" + first_row[5]
    lines = text.split("\n")
    lines[1] = "\t".join(first_row)
    catalogue = read_catalogue(write(tmp_path, "cat.tsv", "\n".join(lines)))
    assert catalogue.loc[0, "description"] == "Death ligands #1 of the list; see ref #2"
    assert catalogue.loc[0, "genes"] == builtin.loc[0, "genes"]
    assert catalogue.loc[0, "source"].startswith("literature:Smith #3;")


def test_gene_set_files_are_checked_before_any_job(tmp_path):
    gmt = write(tmp_path, "dup.gmt", "SET\tna\tTP53\tMDM2\nOTHER\tna\tBAX\nSET\tna\tCDKN1A\n")
    sources = {"programmes": {"kind": "catalogue", "path": "builtin"},
               "mine": {"kind": "gmt", "path": gmt}}  # fmt: skip
    with pytest.raises(InputError, match=r"dup.gmt: line 3: gene set 'SET' already defined on "
                       r"line 1"):  # fmt: skip
        check_gene_set_files(sources)
    empty = write(tmp_path, "empty.gmt", "SET\tna\t\t\n")
    with pytest.raises(InputError, match=r"empty.gmt: line 1 \(set 'SET'\): no genes"):
        check_gene_set_files({"mine": {"kind": "gmt", "path": empty}})
    with pytest.raises(InputError, match=r"gene_sets.min_size names \['hallmark'\]"):
        check_gene_set_files({"programmes": sources["programmes"]}, {"hallmark": 5})


# --------------------------------------------------------------------------------------------
# The same files through Snakemake: the message in the log, nothing under results/
# --------------------------------------------------------------------------------------------


def _sheet_samples(workdir) -> list[str]:
    lines = (workdir / "config/samples.tsv").read_text().splitlines()[1:]
    return [line.split("\t")[0] for line in lines]


def _bad_counts(kind: str, samples: list[str]) -> str:
    header = "gene_id\t" + "\t".join(samples) + "\n"
    genes = [f"G{i}\t" + "\t".join(str(5 + i + j) for j in range(len(samples))) for i in range(150)]
    if kind == "above_int64":
        genes[7] = "G7\t" + "\t".join([str(2**63)] + ["1"] * (len(samples) - 1))
        return header + "\n".join(genes) + "\n"
    if kind == "versions":
        genes[0] = genes[0].replace("G0", "ENSG00000141510.16", 1)
        genes[1] = genes[1].replace("G1", "ENSG00000141510.17", 1)
        return header + "\n".join(genes) + "\n"
    if kind == "no_rows":
        return header
    if kind == "one_gene":
        return header + genes[0] + "\n"
    if kind == "transposed":
        return "sample\t" + "\t".join(f"G{i}" for i in range(5)) + "\n" + "".join(
            f"{s}\t" + "\t".join("7" for _ in range(5)) + "\n" for s in samples
        )  # fmt: skip
    raise ValueError(kind)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("above_int64", r"line 9 \(gene 'G7'\), column '\w+': 9223372036854775808 is larger"),
        ("versions", r"are one Ensembl gene \(ENSG00000141510\) in two versions"),
        ("no_rows", r"is a header \(37 names\) but no gene rows follow"),
        ("one_gene", r"has 1 gene\(s\); size factors"),
        ("transposed", r"sample names sit in its first column.*transposed"),
    ],
)
def test_bad_counts_stop_the_workflow_and_leave_no_results(tmp_path, kind, message):
    overrides = prepare_workdir(
        tmp_path, {"counts": "bad_counts.tsv", "secretome": {"source": "builtin"}}
    )
    (tmp_path / "bad_counts.tsv").write_text(_bad_counts(kind, _sheet_samples(tmp_path)))
    result = run_snakemake(tmp_path, "--cores", "1", "--configfile", str(overrides), check=False)
    assert result.returncode != 0
    log = (tmp_path / "logs/validate_inputs.log").read_text()
    assert "bad_counts.tsv" in log
    assert re.search(message, log, flags=re.S), log[-2000:]
    assert [p for p in (tmp_path / "results").rglob("*") if p.is_file()] == []


@pytest.mark.slow
def test_a_bad_gmt_stops_the_workflow_before_any_job(tmp_path):
    overrides = prepare_workdir(tmp_path, {"gene_sets": {"libraries": {"mine": "dup.gmt"}}})
    (tmp_path / "dup.gmt").write_text("SET\tna\tTP53\nSET\tna\tMDM2\n")
    result = run_snakemake(tmp_path, "--cores", "1", "--configfile", str(overrides), check=False)
    assert result.returncode != 0
    assert "dup.gmt: line 2: gene set 'SET' already defined on line 1" in result.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "resources").exists()


def test_vectorised_rounding_equals_exact_decimal_rounding():
    from decimal import ROUND_HALF_EVEN, Decimal

    from msc_secretome.count_parsing import parse_count_cells

    rng = np.random.default_rng(5)
    pairs = zip(rng.uniform(0, 5000, 400), rng.integers(0, 4, 400), strict=True)
    texts = [f"{v:.{d}f}" for v, d in pairs]
    texts += ["2.5", "3.5", "0.5", "1e3", "12.0", " 7 ", "+4", "123456789012.5", "1.25e2"]
    cells = [[t] for t in texts]
    values, n_rounded = parse_count_cells(
        cells, genes=[f"G{i}" for i in range(len(texts))], columns=["S1"], path="x",
        first_line=2, round_estimated=True,
    )  # fmt: skip
    exact = [int(Decimal(t.strip()).to_integral_value(ROUND_HALF_EVEN)) for t in texts]
    assert values[:, 0].tolist() == exact
    assert n_rounded == sum(Decimal(t.strip()) != int(Decimal(t.strip())) for t in texts)
