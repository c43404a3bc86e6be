"""Bad inputs fail early with a message naming the file, the row/column and the fix."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from msc_secretome.errors import InputError
from msc_secretome.validation import (
    check_sample_sheet,
    match_counts_to_samples,
    read_counts,
    read_sample_sheet,
)

GOOD = "gene_id\tS1\tS2\tS3\nA\t1\t2\t3\nB\t0\t5\t9\n"


def write(tmp_path, name, text, *, gz=False, encoding="utf-8"):
    path = tmp_path / name
    data = text.encode(encoding)
    path.write_bytes(gzip.compress(data) if gz else data)
    return str(path)


@pytest.mark.parametrize("variant", ["plain", "gzip", "bom_crlf", "csv"])
def test_counts_read_in_every_common_format(tmp_path, variant):
    text = GOOD
    if variant == "bom_crlf":
        text = "\ufeff" + GOOD.replace("\n", "\r\n")
    if variant == "csv":
        text = GOOD.replace("\t", ",")
    path = write(
        tmp_path, "counts.tsv" + (".gz" if variant == "gzip" else ""), text, gz=variant == "gzip"
    )
    counts = read_counts(path)
    assert list(counts.columns) == ["S1", "S2", "S3"]
    assert counts.loc["B", "S3"] == 9
    assert counts.dtypes.unique().tolist() == [np.dtype("int64")]


def test_numeric_fast_path_and_text_path_read_the_same_matrix(tmp_path, monkeypatch):
    """Digit-only cells go through pandas' C reader as int64; anything else sends the file
    to the exact text path. Both give the same int64 matrix."""
    import msc_secretome.count_formats as count_formats
    from msc_secretome.count_parsing import fast_integer_matrix

    rng = np.random.default_rng(0)
    values = rng.poisson(50, size=(200, 6))
    lines = ["gene_id\t" + "\t".join(f"S{j}" for j in range(6))]
    lines += [f"G{i}\t" + "\t".join(map(str, row)) for i, row in enumerate(values)]
    text = "\n".join(lines) + "\n"
    path = write(tmp_path, "plain.tsv", text)
    assert fast_integer_matrix(text, "\t") is not None
    assert fast_integer_matrix(GOOD.replace("\t5", "\tx"), "\t") is None
    assert fast_integer_matrix(GOOD.replace("\t5", "\t5.0"), "\t") is None
    fast = read_counts(path)
    monkeypatch.setattr(count_formats, "fast_integer_matrix", lambda *_: None)
    slow = read_counts(path)
    pd.testing.assert_frame_equal(fast, slow)
    np.testing.assert_array_equal(fast.to_numpy(), values)
    assert fast.dtypes.unique().tolist() == [np.dtype("int64")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "gene_id\tS1\tS2\nA\t1\t2.5\n",
            r"(?s)non-integer.*line 2.*S2.*round_estimated_counts",
        ),
        ("gene_id\tS1\tS2\nA\t1\t-2\n", r"line 2.*'S2'.*negative"),
        ("gene_id\tS1\tS2\nA\t1\tNaN\n", r"line 2.*NaN"),
        ("gene_id\tS1\tS2\nA\t1\tinf\n", r"infinite"),
        ("gene_id\tS1\tS2\nA\t1\tabc\n", r"line 2.*'S2'.*'abc' is not a number"),
        ("gene_id\tS1\tS2\nA\t1\t2\nA\t3\t4\n", r"duplicated gene id.*'A'"),
        ("gene_id S1 S2\nA 1 2\n", r"no tab or comma"),
        ("", r"empty"),
    ],
)
def test_bad_counts_are_named(tmp_path, text, message):
    path = write(tmp_path, "counts.tsv", text)
    with pytest.raises(InputError, match=message) as info:
        read_counts(path)
    assert path in str(info.value)


def test_estimated_counts_are_rounded_when_asked(tmp_path):
    path = write(tmp_path, "counts.tsv", "gene_id\tS1\tS2\nA\t1.4\t2.6\n")
    assert read_counts(path, round_estimated=True).loc["A"].tolist() == [1, 3]


def test_sample_sheet_problems(tmp_path):
    with pytest.raises(InputError, match="no 'sample' column"):
        check_sample_sheet(pd.DataFrame({"name": ["a"]}), "s.tsv")
    with pytest.raises(InputError, match=r"duplicated sample.*rows \[2, 3\]"):
        check_sample_sheet(pd.DataFrame({"sample": ["a", "a"], "x": ["1", "2"]}), "s.tsv")
    with pytest.raises(InputError, match=r"row 3, column 'x': empty"):
        check_sample_sheet(pd.DataFrame({"sample": ["a", "b"], "x": ["1", " "]}), "s.tsv")
    with pytest.raises(InputError, match="characters other than"):
        check_sample_sheet(pd.DataFrame({"sample": ["a b"], "x": ["1"]}), "s.tsv")
    path = write(tmp_path, "s.tsv", "\ufeffsample\tx\r\na\tone\r\n")
    assert read_sample_sheet(path)["x"].tolist() == ["one"]


def test_counts_and_sheet_must_match_both_ways():
    counts = pd.DataFrame({"S1": [1], "S2_counts": [2]}, index=["A"])
    sheet = pd.DataFrame({"sample": ["S1", "S2"]})
    with pytest.raises(InputError, match=r"no column in the count matrix.*'S2' ~ 'S2_counts'"):
        match_counts_to_samples(counts, sheet)
    counts = pd.DataFrame({"S1": [1], "S2": [2], "S3": [3]}, index=["A"])
    with pytest.raises(InputError, match=r"not in sample sheet: \['S3'\]"):
        match_counts_to_samples(counts, sheet)
    counts = pd.DataFrame({"S1": [1], "S2": [0]}, index=["A"])
    with pytest.raises(InputError, match="zero total counts"):
        match_counts_to_samples(counts, sheet)
