"""End to end: the tiny example's counts given as HTSeq-count files (one per sample, with
their summary rows) or as featureCounts output (comment line, annotation columns, BAM paths)
give byte-identical DE tables to the same counts given as a matrix."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
from test_count_formats import write_featurecounts, write_htseq
from workflow_runs import TINY, prepare_workdir, run_snakemake

from msc_secretome.validation import read_counts


def _checksums(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.tsv")}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["htseq", "featurecounts"])
def test_tool_outputs_give_the_same_de_tables_as_the_matrix(tiny_run, tmp_path, fmt):
    first, _ = tiny_run
    counts = read_counts(str(first / "resources/example/counts.tsv.gz"))
    if fmt == "htseq":
        write_htseq(counts, tmp_path / "htseq")
        given = "htseq/{sample}.counts.txt"
    else:
        given = write_featurecounts(counts, tmp_path / "counts.txt")
    overrides = prepare_workdir(
        tmp_path,
        {**TINY, "counts": given, "counts_format": "auto", "secretome": {"source": "builtin"}},
    )
    run_snakemake(tmp_path, "--cores", "2", "--configfile", str(overrides))
    matrix_de, tool_de = _checksums(first / "results/de"), _checksums(tmp_path / "results/de")
    assert len(matrix_de) > 5 and tool_de == matrix_de
    lost = pd.read_csv(tmp_path / "results/validated/count_summary_rows.tsv", sep="\t")
    assert (lost["reads_in_genes"].to_numpy() == counts.sum(axis=0).to_numpy()).all()
    summary = pd.read_csv(tmp_path / "results/validated/validation_summary.tsv", sep="\t")
    assert summary.set_index("check").loc["counts_format", "detail"] == fmt
    log = (tmp_path / "logs/validate_inputs.log").read_text()
    if fmt == "htseq":
        assert "counts_format auto: HTSeq-count files" in log
        assert lost["__no_feature"].tolist()[:2] == [1000, 2000]
    else:
        assert "counts_format auto: featureCounts output" in log
