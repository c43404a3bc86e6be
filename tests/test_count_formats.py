"""Every count format reads to the same validated matrix as the same counts given clean.

Fixtures are written here in the exact layout each tool writes (featureCounts 2.0's comment
line and annotation columns, HTSeq-count's five ``__`` rows, STAR's four ``N_`` rows and three
count columns, nf-core/rnaseq's salmon merged table). The same matrix gives the same DE table
(the fit is deterministic), so equality of the validated matrices is the DE-level comparison;
``test_workflow_count_formats.py`` runs one format end to end.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_secretome.count_formats import (
    detect_format,
    read_counts,
    sample_names_from_bam_paths,
)
from msc_secretome.errors import InputError
from msc_secretome.validation import count_spec, read_sample_sheet

SAMPLES = ["S1", "S2", "S3", "S4"]
HTSEQ_SUMMARY = ["__no_feature", "__ambiguous", "__too_low_aQual", "__not_aligned",
                 "__alignment_not_unique"]  # fmt: skip


def clean_matrix(n_genes: int = 150, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    genes = [f"ENSG{10_000 + i:011d}.{1 + i % 7}" for i in range(n_genes)]
    values = rng.negative_binomial(3, 0.05, size=(n_genes, len(SAMPLES))).astype(np.int64)
    return pd.DataFrame(values, index=pd.Index(genes, name="gene_id"), columns=SAMPLES)


def write_clean(counts: pd.DataFrame, path) -> str:
    counts.to_csv(path, sep="\t")
    return str(path)


def write_featurecounts(counts: pd.DataFrame, path) -> str:
    """featureCounts 2.0.x ``-o counts.txt``: command line, annotation columns, BAM paths."""
    bams = [f"/data/star/{s}.Aligned.sortedByCoord.out.bam" for s in counts.columns]
    command = " ".join(
        ['"featureCounts"', '"-T"', '"4"', '"-s"', '"2"', '"-a"', '"genes.gtf"', '"-o"',
         '"counts.txt"', *(f'"{b}"' for b in bams)]
    )  # fmt: skip
    lines = [f"# Program:featureCounts v2.0.6; Command:{command}"]
    lines.append("\t".join(["Geneid", "Chr", "Start", "End", "Strand", "Length", *bams]))
    for i, (gene, row) in enumerate(counts.iterrows()):
        exons = 1 + i % 3
        starts = ";".join(str(11869 + 1000 * i + 200 * k) for k in range(exons))
        ends = ";".join(str(11969 + 1000 * i + 200 * k) for k in range(exons))
        annotation = [gene, ";".join(["chr1"] * exons), starts, ends, ";".join(["+"] * exons)]
        lines.append("\t".join([*annotation, str(101 * exons), *map(str, row)]))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def write_htseq(counts: pd.DataFrame, folder) -> dict[str, str]:
    """HTSeq-count 2.0: ``gene<TAB>count`` per line, the five summary rows last."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for k, sample in enumerate(counts.columns):
        lines = [f"{gene}\t{value}" for gene, value in counts[sample].items()]
        lines += [f"{name}\t{1000 * (k + 1) + j}" for j, name in enumerate(HTSEQ_SUMMARY)]
        files[sample] = str(folder / f"{sample}.counts.txt")
        (folder / f"{sample}.counts.txt").write_text("\n".join(lines) + "\n")
    return files


def write_star(counts: pd.DataFrame, folder, *, strand: str = "reverse") -> dict[str, str]:
    """STAR ``ReadsPerGene.out.tab``: four ``N_`` rows, then unstranded, 1st, 2nd strand."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    files = {}
    for sample in counts.columns:
        right = counts[sample].to_numpy()
        wrong = rng.binomial(right, 0.02)
        unstranded = right + wrong
        columns = {"forward": (right, wrong), "reverse": (wrong, right)}[strand]
        lines = ["N_unmapped\t2674\t2674\t2674", "N_multimapping\t2588\t2588\t2588",
                 "N_noFeature\t2134\t54634\t4342", "N_ambiguous\t8343\t134\t634"]  # fmt: skip
        lines += [
            f"{gene}\t{u}\t{a}\t{b}"
            for gene, u, a, b in zip(counts.index, unstranded, *columns, strict=True)
        ]
        path = folder / f"{sample}ReadsPerGene.out.tab"
        path.write_text("\n".join(lines) + "\n")
        files[sample] = str(path)
    return files


def write_salmon_merged(counts: pd.DataFrame, path, *, offset: float = 0.25) -> str:
    """nf-core/rnaseq ``salmon.merged.gene_counts.tsv``: gene_id, gene_name, estimated counts."""
    lines = ["\t".join(["gene_id", "gene_name", *counts.columns])]
    for i, (gene, row) in enumerate(counts.iterrows()):
        estimates = [f"{v + offset:.3f}" if v else "0" for v in row]
        lines.append("\t".join([gene, f"GENE{i}", *estimates]))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_featurecounts_output_reads_like_the_clean_matrix(tmp_path):
    clean = clean_matrix()
    path = write_featurecounts(clean, tmp_path / "counts.txt")
    assert detect_format(path)[0] == "featurecounts"
    table = read_counts({"counts": path, "format": "auto", "samples": SAMPLES})
    expected = read_counts({"counts": write_clean(clean, tmp_path / "clean.tsv")}).counts
    pd.testing.assert_frame_equal(table.counts, expected)
    assert table.format == "featurecounts"
    assert any("featureCounts output" in note for note in table.notes)
    assert table.summary["reads_in_summary_rows"].tolist() == [0] * 4


def test_htseq_files_drop_and_report_their_summary_rows(tmp_path):
    clean = clean_matrix()
    files = write_htseq(clean, tmp_path / "htseq")
    table = read_counts({"files": files, "format": "auto"})
    pd.testing.assert_frame_equal(table.counts, clean)
    assert not any(g.startswith("__") for g in table.counts.index)
    summary = table.summary.set_index("sample")
    assert summary.loc["S2", "__no_feature"] == 2000
    assert summary.loc["S1", "reads_in_summary_rows"] == sum(1000 + j for j in range(5))
    assert summary.loc["S1", "reads_in_genes"] == clean["S1"].sum()
    assert "__alignment_not_unique" in table.methods and "count_summary_rows" in table.methods


@pytest.mark.parametrize("strand", ["forward", "reverse"])
def test_star_files_with_the_strand_inferred_and_the_rule_logged(tmp_path, strand):
    clean = clean_matrix()
    files = write_star(clean, tmp_path / "star", strand=strand)
    table = read_counts({"files": files, "format": "auto", "strand": "auto"})
    pd.testing.assert_frame_equal(table.counts, clean)
    rule = [n for n in table.notes if n.startswith("STAR strand column inferred")]
    assert rule and f"inferred: {strand}" in rule[0] and ">= 3.0x" in rule[0]
    assert table.summary.set_index("sample").loc["S3", "N_noFeature"] == {
        "forward": 54634, "reverse": 4342}[strand]  # fmt: skip
    declared = read_counts({"files": files, "format": "star", "strand": "unstranded"})
    assert (declared.counts.to_numpy() >= clean.to_numpy()).all()
    assert "counts_strand in config" in declared.notes[0]


def test_star_files_with_an_unclear_strand_are_refused(tmp_path):
    clean = clean_matrix()
    files = write_star(clean, tmp_path / "star")
    path = files["S1"]
    lines = open(path).read().splitlines()
    mixed = lines[:4] + [
        "\t".join([g, str(int(u)), str(int(u) // 3), str(int(u) - int(u) // 3)])
        for g, u, _, _ in (line.split("\t") for line in lines[4:])
    ]
    open(path, "w").write("\n".join(mixed) + "\n")
    with pytest.raises(
        InputError, match=r"(?s)S1ReadsPerGene.out.tab: sample 'S1': cannot tell.*counts_strand"
    ):
        read_counts({"files": files, "format": "star"})


def test_salmon_merged_table_is_rounded_and_gives_the_annotation(tmp_path):
    clean = clean_matrix()
    path = write_salmon_merged(clean, tmp_path / "salmon.merged.gene_counts.tsv")
    table = read_counts({"counts": path, "format": "auto"})
    pd.testing.assert_frame_equal(table.counts, clean)  # x + 0.25 rounds back to x
    assert table.format == "salmon"
    assert table.annotation["symbol"].tolist()[:2] == ["GENE0", "GENE1"]
    assert "rounded to integers (half to even" in table.methods
    halves = write_salmon_merged(clean.iloc[:20], tmp_path / "halves.tsv", offset=0.5)
    rounded = read_counts({"counts": halves}).counts
    expected = clean.iloc[:20].where(clean.iloc[:20] % 2 == 0, clean.iloc[:20] + 1)
    pd.testing.assert_frame_equal(rounded, expected)  # half to even, as R's round()


def test_summary_rows_in_a_merged_matrix_are_not_genes(tmp_path):
    clean = clean_matrix(20)
    extra = pd.DataFrame([[5, 6, 7, 8]], index=["__no_feature"], columns=SAMPLES)
    path = write_clean(pd.concat([clean, extra]).rename_axis("gene_id"), tmp_path / "m.tsv")
    table = read_counts({"counts": path})
    pd.testing.assert_frame_equal(table.counts, clean)
    assert table.summary["__no_feature"].tolist() == [5, 6, 7, 8]


def test_bam_paths_become_sample_names_and_ambiguity_is_refused():
    paths = ["/x/S1.Aligned.sortedByCoord.out.bam", "S2.bam", "/y/S3_L001.sorted.bam"]
    assert sample_names_from_bam_paths(paths, ["S1", "S2", "S3"], "c.txt") == ["S1", "S2", "S3"]
    with pytest.raises(InputError, match=r"'/y/S1_2_L001.bam' matches several samples.*'S1_2'"):
        sample_names_from_bam_paths(["/y/S1_2_L001.bam"], ["S1", "S1_2"], "c.txt")
    with pytest.raises(InputError, match=r"same sample name twice: \['S1'\]"):
        sample_names_from_bam_paths(["a/S1.bam", "b/S1.bam"], None, "c.txt")


def test_per_sample_files_from_the_sheet_or_a_pattern(tmp_path):
    (tmp_path / "s.tsv").write_text("sample\tcounts_file\tmedium\nS1\ta.txt\tx\nS2\tb.txt\ty\n")
    sheet = read_sample_sheet(str(tmp_path / "s.tsv"))
    assert count_spec(None, sheet)["files"] == {"S1": "a.txt", "S2": "b.txt"}
    plain = sheet.drop(columns="counts_file")
    spec = count_spec("htseq/{sample}.txt", plain, counts_format="htseq")
    assert spec["files"] == {"S1": "htseq/S1.txt", "S2": "htseq/S2.txt"}
    assert spec["counts"] is None and spec["format"] == "htseq"
    with pytest.raises(
        InputError, match=r"(?s)counts_file. column and counts is a file.*counts: null"
    ):
        count_spec("c.tsv", sheet)
    with pytest.raises(InputError, match=r"no 'counts_file' column"):
        count_spec(None, plain)


def test_a_per_sample_format_given_as_one_file_says_how_to_list_files(tmp_path):
    files = write_htseq(clean_matrix(20), tmp_path / "h")
    with pytest.raises(InputError, match=r"(?s)hold one sample each.*\{sample\}"):
        read_counts({"counts": files["S1"], "format": "auto"})


def test_per_sample_files_must_hold_the_same_genes(tmp_path):
    files = write_htseq(clean_matrix(20), tmp_path / "h")
    lines = open(files["S3"]).read().splitlines()
    open(files["S3"], "w").write("\n".join(lines[1:]) + "\n")  # first gene missing
    with pytest.raises(InputError, match=r"(?s)S3.counts.txt: sample 'S3': its genes differ.*"
                       r"1 differ.*same annotation"):  # fmt: skip
        read_counts({"files": files, "format": "htseq"})


def test_star_files_that_disagree_on_the_strand_are_refused(tmp_path):
    clean = clean_matrix()
    files = write_star(clean.loc[:, ["S1", "S2"]], tmp_path / "a", strand="forward")
    files |= write_star(clean.loc[:, ["S3"]], tmp_path / "b", strand="reverse")
    with pytest.raises(InputError, match=r"disagree on the library strand: S1: forward, S2: "
                       r"forward, S3: reverse"):  # fmt: skip
        read_counts({"files": files, "format": "auto"})
