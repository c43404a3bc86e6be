"""Gene identifiers: id-type detection, versions, GTF/TSV annotations, aliases, mapping rate."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from msc_secretome.errors import InputError
from msc_secretome.gene_aliases import AliasTable, check_symbols, read_alias_table
from msc_secretome.gene_annotation import read_annotation
from msc_secretome.gene_ids import (
    check_mapping_rate,
    detect_id_type,
    map_to_symbols,
    strip_ensembl_version,
)

TP53 = 'gene_id "ENSG00000141510.17"; '
TP53_TX = TP53 + 'transcript_id "ENST00000269305.9"; gene_name "TP53";'
GTF_ROWS = [
    ("17", "gene", TP53 + 'gene_type "protein_coding"; gene_name "TP53"; level 2;'),
    ("17", "transcript", TP53_TX),
    ("17", "exon", TP53_TX + " exon_number 11;"),
    ("6", "gene", 'gene_id "ENSG00000124762.14"; gene_name "CDKN1A";'),
    ("Y", "gene", 'gene_id "ENSG00000182378.14_PAR_Y"; gene_name "PLCXD1";'),
    ("1", "gene", 'gene_id "ENSG00000999999.1"; gene_type "lncRNA";'),  # no gene_name
]
GTF_TEXT = "#!genome-build GRCh38.p14\n#!genebuild-last-updated 2023-03\n" + "".join(
    "\t".join([chrom, "ENSEMBL", feature, "100", "200", ".", "+", ".", attributes]) + "\n"
    for chrom, feature, attributes in GTF_ROWS
)


def write_gtf(path, gz=False):
    data = GTF_TEXT.encode()
    if gz:
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


# --------------------------------------------------------------------------------------------
# Detection and versions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        (["ENSG00000141510", "ENSG00000124762", "ENSG00000182378"], "ensembl"),
        (["ENSG00000141510.17", "ENSG00000124762.14", "ENSG00000182378"], "ensembl_versioned"),
        (["ENSMUSG00000059552.14", "ENSMUSG00000023067.8"], "ensembl_versioned"),
        (["7157", "1026", "3845"], "entrez"),
        (["TP53", "CDKN1A", "HLA-A", "RP11-34P13.7", "C1orf112", "1700017B05Rik"], "symbol"),
        (["SYN00001", "SYN00002", "TP53"], "symbol"),
        (["ENSG00000141510", "7157", "TP53", "1026"], "synthetic/mixed"),
        ([], "synthetic/mixed"),
    ],
)
def test_detect_id_type(ids, expected):
    assert detect_id_type(ids) == expected


def test_detection_tolerates_a_few_spike_ins():
    ids = [f"ENSG{i:011d}.3" for i in range(95)] + [f"ERCC-{i:05d}" for i in range(5)]
    assert detect_id_type(ids) == "ensembl_versioned"


def test_strip_ensembl_version_only_touches_ensembl_ids():
    ids = [
        "ENSG00000141510.17",
        "ENSG00000141510",
        "ENSG00000182378.14_PAR_Y",
        "ENSMUSG00000059552.14",
        "RP11-34P13.7",
        "7157",
        "TP53",
    ]
    assert strip_ensembl_version(ids) == [
        "ENSG00000141510",
        "ENSG00000141510",
        "ENSG00000182378_PAR_Y",
        "ENSMUSG00000059552",
        "RP11-34P13.7",
        "7157",
        "TP53",
    ]


# --------------------------------------------------------------------------------------------
# Annotations
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,gz", [("genes.gtf", False), ("genes.gtf.gz", True), ("ann", False)])
def test_read_annotation_from_gtf(tmp_path, name, gz):
    """Plain, gzipped and extension-less GTFs: gene lines, versions stripped, first per gene."""
    table = read_annotation(write_gtf(tmp_path / name, gz=gz))
    assert list(table.columns) == ["gene_id", "symbol"]
    assert table.to_dict("list") == {
        "gene_id": [
            "ENSG00000141510",
            "ENSG00000124762",
            "ENSG00000182378_PAR_Y",
            "ENSG00000999999",
        ],
        "symbol": ["TP53", "CDKN1A", "PLCXD1", ""],
    }


def test_gtf_without_gene_lines_uses_transcripts(tmp_path):
    text = "".join(line + "\n" for line in GTF_TEXT.splitlines() if "\tgene\t" not in line)
    path = tmp_path / "ucsc.gtf"
    path.write_text(text)
    table = read_annotation(path)
    assert table.to_dict("list") == {"gene_id": ["ENSG00000141510"], "symbol": ["TP53"]}


def test_read_annotation_from_tsv_and_csv(tmp_path):
    tsv = tmp_path / "ann.tsv"
    tsv.write_text("gene_id\tsymbol\textra\nENSG00000141510.17\tTP53\tx\n7157\tTP53\ty\n")
    assert read_annotation(tsv).to_dict("list") == {
        "gene_id": ["ENSG00000141510", "7157"],
        "symbol": ["TP53", "TP53"],
    }
    csv = tmp_path / "ann.csv"
    csv.write_text("ensembl,symbol\nENSG00000124762,CDKN1A\n")
    assert read_annotation(csv, id_column="ensembl")["symbol"].tolist() == ["CDKN1A"]
    with pytest.raises(InputError, match="missing column"):
        read_annotation(csv)


# --------------------------------------------------------------------------------------------
# Mapping
# --------------------------------------------------------------------------------------------


def test_map_versioned_ensembl_through_gtf(tmp_path):
    annotation = read_annotation(write_gtf(tmp_path / "genes.gtf"))
    ids = pd.Index(["ENSG00000141510.12", "ENSG00000124762", "ENSG00000000001.1", "ERCC-00002"])
    symbols, report = map_to_symbols(ids, annotation)
    assert symbols.index.equals(ids)
    assert symbols.tolist() == ["TP53", "CDKN1A", "", "ERCC-00002"]
    assert report["id_type"] == "synthetic/mixed"  # 3 of 4 Ensembl is below the 90% needed
    assert report["n"] == 4 and report["n_mapped"] == 3 and report["rate"] == 0.75
    assert report["unmapped_examples"] == ["ENSG00000000001.1"]


def test_symbols_map_to_themselves_and_many_to_one_is_counted():
    symbols, report = map_to_symbols(["TP53", "CDKN1A", "MDM2"])
    assert symbols.tolist() == ["TP53", "CDKN1A", "MDM2"]
    assert report["rate"] == 1.0 and report["n_many_to_one"] == 0
    annotation = {"ENSG1": "TP53", "ENSG2": "TP53", "ENSG3": "MDM2"}
    symbols, report = map_to_symbols(["ENSG1", "ENSG2", "ENSG3"], annotation)
    assert symbols.tolist() == ["TP53", "TP53", "MDM2"]
    assert report["n_many_to_one"] == 2


def test_aliases_current_symbol_wins_and_ambiguous_is_kept_and_counted():
    aliases = AliasTable(
        current=frozenset({"RIGI", "COX2", "PTGS2", "CCN3", "PLXNA1"}),
        to_symbol={"DDX58": "RIGI"},
        ambiguous={"NOV": ("CCN3", "PLXNA1")},
    )
    symbols, report = map_to_symbols(["DDX58", "COX2", "NOV", "XCT"], aliases=aliases)
    assert symbols.tolist() == ["RIGI", "COX2", "NOV", "XCT"]
    assert report["n_alias_resolved"] == 1
    assert report["n_ambiguous_alias"] == 1


def test_read_alias_table_small(tmp_path):
    path = tmp_path / "alias.tsv"
    path.write_text(
        "alias\tsymbol\tentrez_id\nRIGI\tRIGI\t23586\nDDX58\tRIGI\t23586\n"
        "COX2\tCOX2\t4513\nCOX2\tPTGS2\t5743\nPTGS2\tPTGS2\t5743\n"
        "NOV\tCCN3\t4856\nNOV\tPLXNA1\t5361\n"
    )
    table = read_alias_table(path)
    assert table.to_symbol == {"DDX58": "RIGI"}
    assert table.ambiguous == {"NOV": ("CCN3", "PLXNA1")}
    assert table.n_ambiguous == 1
    assert table.resolve("COX2") == ("COX2", "valid")


# --------------------------------------------------------------------------------------------
# Mapping-rate check
# --------------------------------------------------------------------------------------------


def test_mapping_rate_error_names_id_types_and_fix():
    annotation = pd.DataFrame({"gene_id": ["TP53", "CDKN1A"], "symbol": ["TP53", "CDKN1A"]})
    ids = ["ENSG00000141510.17", "ENSG00000124762.14"]
    _, report = map_to_symbols(ids, annotation)
    assert report["rate"] == 0.0
    with pytest.raises(InputError) as err:
        check_mapping_rate(report, 0.5, path="counts.tsv")
    text = str(err.value)
    assert text.startswith("counts.tsv: ")
    assert "ids look like versioned Ensembl (ENSG00000141510.17)" in text
    assert "the annotation maps symbols (TP53, CDKN1A)" in text
    assert "give gene_annotation with Ensembl ids (a GTF" in text
    check_mapping_rate(report, 0.0, path="counts.tsv")  # a rate of 0 passes a minimum of 0


def test_mapping_rate_error_without_annotation():
    _, report = map_to_symbols(["7157", "1026", "3845"])
    with pytest.raises(InputError, match=r"Entrez \(7157\); no gene_annotation is given") as err:
        check_mapping_rate(report, 0.5, path=None)
    assert "give gene_annotation with Entrez ids" in str(err.value)


def test_mapping_rate_passes():
    _, report = map_to_symbols(["TP53", "MDM2"])
    check_mapping_rate(report, 0.9, path="counts.tsv")


# --------------------------------------------------------------------------------------------
# Against the shared reference (org.Hs.eg.db 3.16)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_aliases(reference_dir):
    return read_alias_table(reference_dir / "genes" / "hs_symbol_alias_map.tsv")


@pytest.mark.shared
def test_symbol_check_examples_are_reproduced(reference_dir, shared_aliases):
    """Every status (valid, alias->unique, alias->ambiguous, not_found) of the examples file."""
    examples = pd.read_csv(
        reference_dir / "genes" / "symbol_check_examples.tsv",
        sep="\t",
        dtype=str,
        keep_default_na=False,
    )
    checked = check_symbols(examples["query"], shared_aliases)
    for column in ("query", "is_current_symbol", "alias_maps_to", "status"):
        assert checked[column].tolist() == examples[column].tolist(), column
    assert checked["n_targets"].tolist() == examples["n_targets"].astype(int).tolist()
    unique = examples["status"] == "alias->unique"
    assert checked["resolved"][unique].tolist() == examples["alias_maps_to"][unique].tolist()
    symbols, report = map_to_symbols(examples["query"], aliases=shared_aliases)
    resolved = dict(zip(examples["query"], symbols, strict=True))
    assert resolved["DDX58"] == "RIGI" and resolved["CTGF"] == "CCN2" and resolved["IL8"] == "CXCL8"
    assert resolved["COX2"] == "COX2" and resolved["HGF"] == "HGF"  # current symbols win
    assert resolved["NOV"] == "NOV" and resolved["XCT"] == "XCT"  # ambiguous/unknown: kept
    assert report["n_alias_resolved"] == int(unique.sum())
    assert report["n_ambiguous_alias"] == int((examples["status"] == "alias->ambiguous").sum())
    assert shared_aliases.n_ambiguous > 0


@pytest.mark.shared
def test_catalogue_symbols_are_current(shared_aliases):
    from msc_secretome.catalogue import read_catalogue

    genes = sorted({g for genes in read_catalogue()["genes"] for g in genes})
    statuses = check_symbols(genes, shared_aliases)
    assert statuses["status"].eq("valid").all(), statuses[statuses["status"] != "valid"]


@pytest.mark.shared
def test_ensembl_entrez_and_symbol_keys_give_the_same_symbols(reference_dir, shared_aliases):
    """A sample of one-to-one genes maps to the same symbols whatever the id type."""
    path = reference_dir / "genes" / "hs_gene_id_map.tsv"
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    table = table[table["ensembl_gene_id"] != ""]
    one_to_one = table[
        ~table["ensembl_gene_id"].duplicated(keep=False)
        & ~table["symbol"].duplicated(keep=False)
        & ~table["entrez_id"].duplicated(keep=False)
    ]
    sample = one_to_one.sample(n=2000, random_state=1).reset_index(drop=True)
    by_ensembl = read_annotation(path, id_column="ensembl_gene_id")
    by_entrez = read_annotation(path, id_column="entrez_id")

    versioned = [f"{e}.{i % 20 + 1}" for i, e in enumerate(sample["ensembl_gene_id"])]
    ens_symbols, ens_report = map_to_symbols(versioned, by_ensembl, aliases=shared_aliases)
    ent_symbols, ent_report = map_to_symbols(sample["entrez_id"], by_entrez, aliases=shared_aliases)
    sym_symbols, sym_report = map_to_symbols(sample["symbol"], aliases=shared_aliases)

    assert ens_report["id_type"] == "ensembl_versioned" and ens_report["rate"] == 1.0
    assert ent_report["id_type"] == "entrez" and ent_report["rate"] == 1.0
    assert sym_report["id_type"] == "symbol" and sym_report["n_alias_resolved"] == 0
    assert ens_symbols.tolist() == sample["symbol"].tolist()
    assert ent_symbols.tolist() == sample["symbol"].tolist()
    assert sym_symbols.tolist() == sample["symbol"].tolist()


def test_version_collisions_name_both_ids():
    from msc_secretome.gene_ids import version_collisions

    ids = ["ENSG00000141510.16", "TP53", "ENSG00000141510", "ENSG00000000003.1", "RP11-34P13.7"]
    assert version_collisions(ids) == {"ENSG00000141510": ("ENSG00000141510.16", "ENSG00000141510")}
    assert version_collisions(["ENSG00000141510.16", "ENSG00000000003.1"]) == {}
