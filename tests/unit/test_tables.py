"""msc_secretome.tables: the one streaming text opener."""

from __future__ import annotations

import gzip

import pytest

from msc_secretome.tables import open_text_stream

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
