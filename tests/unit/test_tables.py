"""msc_secretome.tables: the one streaming text opener and the one TSV writer."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from msc_secretome.tables import FLOAT_FORMAT, open_text_stream, tsv_text

TEXT = "\ufeffgene_id\tsymbol\r\nENSG1\tTP53\r\n"


@pytest.mark.parametrize("name", ["plain.tsv", "gzipped.tsv.gz", "gzipped_without_suffix.tsv"])
def test_open_text_stream_reads_plain_and_gzip_by_content_drops_bom_and_crlf(tmp_path, name):
    path = tmp_path / name
    data = TEXT.encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if name.startswith("gzipped") else data)
    with open_text_stream(path) as handle:
        lines = list(handle)
    assert lines == ["gene_id\tsymbol\n", "ENSG1\tTP53\n"]


def test_open_text_stream_of_a_plain_file_named_gz_is_read_as_text(tmp_path):
    path = tmp_path / "not_really.gtf.gz"
    path.write_text("x\ty\n", encoding="utf-8")
    with open_text_stream(path) as handle:
        assert handle.read() == "x\ty\n"


def _pandas_tsv(table: pd.DataFrame, index: bool = False) -> str:
    return table.to_csv(sep="\t", index=index, float_format=FLOAT_FORMAT, lineterminator="\n")


def _mixed_table(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    floats = rng.normal(scale=10.0 ** rng.integers(-12, 12, size=rows), size=rows)
    floats[::7] = np.nan
    floats[1::11] = np.inf
    floats[2::13] = -np.inf
    floats[3::17] = -0.0
    symbols = np.array([f"G{i}" for i in range(rows)], dtype=object)
    symbols[::5] = None
    symbols[1::9] = ""
    symbols[2::19] = np.nan
    return pd.DataFrame(
        {
            "gene_id": [f"ENSG{i:011d}" for i in range(rows)],
            "symbol": symbols,
            "log2FoldChange": floats,
            "small": rng.random(rows) * 1e-300,
            "float32": rng.normal(size=rows).astype(np.float32),
            "count": rng.integers(-5, 10**12, size=rows),
            "unsigned": rng.integers(0, 255, size=rows).astype(np.uint8),
            "called": rng.random(rows) < 0.5,
            "label": rng.choice(["up", "down", "not called", " padded ", "ü-ß"], size=rows),
        }
    )


@pytest.mark.parametrize("rows", [0, 1, 3, 2000])
def test_tsv_text_is_what_pandas_writes(rows):
    table = _mixed_table(rows, seed=rows)
    assert tsv_text(table) == _pandas_tsv(table)


@pytest.mark.parametrize(
    "case",
    ["tab", "quote", "newline", "carriage_return", "header_tab", "one_column", "index",
     "not_a_string", "category", "nullable_int", "string_dtype", "empty_cells", "duplicate"],
)  # fmt: skip
def test_tables_pandas_must_decide_are_written_by_pandas(case):
    table = _mixed_table(50, seed=1)
    index = False
    if case in ("tab", "quote", "newline", "carriage_return"):
        char = {"tab": "\t", "quote": '"', "newline": "\n", "carriage_return": "\r"}[case]
        table.loc[4, "label"] = f"a{char}b"
    elif case == "header_tab":
        table = table.rename(columns={"label": "la\tbel"})
    elif case == "one_column":
        table = table[["symbol"]]
    elif case == "index":
        index = True
    elif case == "not_a_string":
        table["label"] = table["label"].astype(object)
        table.loc[3, "label"] = 0.5
    elif case == "category":
        table["label"] = table["label"].astype("category")
    elif case == "nullable_int":
        table["count"] = pd.array([None, *range(49)], dtype="Int64")
    elif case == "string_dtype":
        table["label"] = table["label"].astype("string")
    elif case == "empty_cells":
        table = pd.DataFrame({"a": ["", ""], "b": [None, ""]})
    elif case == "duplicate":
        table.columns = ["x"] * len(table.columns)
    assert tsv_text(table, index=index) == _pandas_tsv(table, index=index)
