"""The built-in programme catalogue, its reader and the GMT / reference-overlap helpers."""

from __future__ import annotations

import gzip
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from msc_secretome.catalogue import (
    CATEGORIES,
    COLUMNS,
    PREFIX_OF_CATEGORY,
    builtin_catalogue_path,
    check_catalogue,
    direction_conflicts,
    parse_sources,
    read_catalogue,
    reference_sets_from_files,
    shared_genes,
    source_overlap,
)
from msc_secretome.errors import InputError
from msc_secretome.gmt import read_gmt, write_gmt

# Programmes other code relies on by name (all core).
REQUIRED_CORE = (
    "CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS",
    "CYT_INTRINSIC_MITOCHONDRIAL_APOPTOSIS",
    "CYT_P53_PROAPOPTOTIC_TARGETS",
    "CYT_TYPE_I_IFN_ISG",
    "STRESS_P53_ARREST_IR_RESPONSE",
    "STRESS_SASP",
    "REG_ANTI_APOPTOTIC_SURVIVAL",
    "REG_NRF2_ANTIOXIDANT_FERROPTOSIS_DEFENSE",
    "REG_GROWTH_FACTOR_REGENERATION",
    "RISK_IL6_JAK_STAT3",
)
# Programmes the simulator plants effects on: overlaps with them leak signal elsewhere.
PLANTED = (
    "CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS",
    "CYT_INTRINSIC_MITOCHONDRIAL_APOPTOSIS",
    "RISK_IL6_JAK_STAT3",
    "REG_ANTI_APOPTOTIC_SURVIVAL",
    "REG_NRF2_ANTIOXIDANT_FERROPTOSIS_DEFENSE",
    "REG_GROWTH_FACTOR_REGENERATION",
    "STRESS_P53_ARREST_IR_RESPONSE",
    "STRESS_SASP",
)
MAX_SHARED_WITH_PLANTED = 3
SOURCE_PATTERN = re.compile(r"^(GO:\d{7}|PROGENy:[A-Za-z0-9-]+|literature:\S.*)$")


@pytest.fixture(scope="module")
def catalogue() -> pd.DataFrame:
    return read_catalogue()


@pytest.fixture(scope="module")
def reference_sets(reference_dir: Path) -> dict[str, list[str]]:
    genesets = reference_dir / "genesets"
    return reference_sets_from_files(
        genesets / "go_bp_targeted.gmt", genesets / "progeny_human_top100.tsv"
    )


# ---------------------------------------------------------------------------------------------
# The built-in catalogue
# ---------------------------------------------------------------------------------------------


def test_builtin_catalogue_loads(catalogue):
    assert builtin_catalogue_path().is_file()
    assert read_catalogue("builtin").equals(catalogue)
    assert list(catalogue.columns) == list(COLUMNS)
    assert catalogue["programme"].is_unique


def test_builtin_catalogue_shape(catalogue):
    assert 25 <= len(catalogue) <= 35
    assert set(catalogue["category"]) == set(CATEGORIES)
    for row in catalogue.itertuples(index=False):
        assert row.programme.startswith(PREFIX_OF_CATEGORY[row.category]), row.programme
        assert 12 <= len(row.genes) <= 32, (row.programme, len(row.genes))
        assert row.description.strip() and "\t" not in row.description, row.programme
    core = set(catalogue.loc[catalogue["tier"] == "core", "programme"])
    missing = [p for p in REQUIRED_CORE if p not in core]
    assert not missing, f"required core programmes missing: {missing}"


def test_builtin_sources_are_machine_readable(catalogue):
    for row in catalogue.itertuples(index=False):
        sources = parse_sources(row.source)
        assert sources, row.programme
        bad = [s for s in sources if not SOURCE_PATTERN.match(s)]
        assert not bad, (row.programme, bad)


def test_builtin_no_direction_conflicts(catalogue):
    conflicts = direction_conflicts(catalogue)
    assert list(conflicts.columns) == ["gene", "context", "programme_up", "programme_down"]
    assert conflicts.empty, conflicts.to_string()


def test_builtin_overlaps_with_planted_programmes_are_small(catalogue):
    pairs = shared_genes(catalogue)
    planted = pairs[pairs["programme_a"].isin(PLANTED) | pairs["programme_b"].isin(PLANTED)]
    print("\n" + planted.to_string(index=False))
    too_big = planted[planted["n_shared"] > MAX_SHARED_WITH_PLANTED]
    assert too_big.empty, too_big.to_string()


@pytest.mark.shared
def test_builtin_symbols_are_current(catalogue, reference_dir):
    table = pd.read_csv(
        reference_dir / "genes" / "hs_gene_id_map.tsv",
        sep="\t",
        usecols=["symbol"],
        dtype=str,
        keep_default_na=False,
    )
    current = set(table["symbol"])
    stale = sorted({g for genes in catalogue["genes"] for g in genes} - current)
    assert not stale, f"not current HGNC symbols (use hs_symbol_alias_map.tsv): {stale}"


@pytest.mark.shared
def test_builtin_source_overlap(catalogue, reference_sets):
    sources = {s for s in catalogue["source"] for s in parse_sources(s)}
    unknown = sorted(
        s for s in sources if not s.startswith("literature:") and s not in reference_sets
    )
    assert not unknown, f"sources missing from the reference files: {unknown}"

    table = source_overlap(catalogue, reference_sets)
    with pd.option_context("display.width", 200):
        print("\n" + table.to_string(index=False, float_format="%.2f"))
    assert list(table.columns) == [
        "programme",
        "primary_source",
        "n_genes",
        "primary_fraction",
        "any_fraction",
    ]
    assert table["primary_fraction"].median() >= 0.5
    referenced = table[~table["primary_source"].str.startswith("literature:")]
    assert referenced["primary_fraction"].notna().all()
    zero = referenced.loc[referenced["primary_fraction"] == 0, "programme"].tolist()
    assert not zero, f"no gene of these programmes is in their primary source: {zero}"
    literature = table[table["primary_source"].str.startswith("literature:")]
    assert literature["primary_fraction"].isna().all()


# ---------------------------------------------------------------------------------------------
# Reader errors
# ---------------------------------------------------------------------------------------------

GOOD_ROWS = [
    ["CYT_A", "cytotoxic", "core", "1", "-1", "GO:0097191", "FAS,BAX", "a test programme"],
    ["REG_B", "regenerative_protective", "extended", "-1", "1", "literature:X", "BCL2", "other"],
    ["RISK_C", "pro_tumour_risk", "core", "-1", "0", "PROGENy:p53", "IL6,STAT3", "third"],
]


def write_table(path: Path, rows: list[list[str]], columns=COLUMNS) -> Path:
    lines = ["\t".join(columns)] + ["\t".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reader_accepts_a_good_file(tmp_path):
    table = read_catalogue(write_table(tmp_path / "good.tsv", GOOD_ROWS))
    assert table["genes"].tolist() == [("FAS", "BAX"), ("BCL2",), ("IL6", "STAT3")]
    assert table["direction_cancer"].tolist() == [1, -1, -1]


def test_reader_missing_column(tmp_path):
    columns = [c for c in COLUMNS if c != "tier"]
    rows = [[v for c, v in zip(COLUMNS, r, strict=True) if c != "tier"] for r in GOOD_ROWS]
    path = write_table(tmp_path / "no_tier.tsv", rows, columns)
    with pytest.raises(InputError, match=r"no_tier\.tsv.*row 1.*tier"):
        read_catalogue(path)


@pytest.mark.parametrize(
    ("column", "value", "pattern"),
    [
        ("category", "cytotoxicity", r"row 3 \(programme 'REG_B'\).*category"),
        ("direction_cancer", "up", r"row 3 \(programme 'REG_B'\).*direction_cancer"),
        ("direction_normal", "2", r"row 3 \(programme 'REG_B'\).*direction_normal"),
        ("direction_normal", "", r"row 3 \(programme 'REG_B'\).*direction_normal"),
    ],
)
def test_reader_bad_values(tmp_path, column, value, pattern):
    rows = [list(r) for r in GOOD_ROWS]
    rows[1][COLUMNS.index(column)] = value
    path = write_table(tmp_path / "bad.tsv", rows)
    with pytest.raises(InputError, match=r"bad\.tsv") as info:
        read_catalogue(path)
    assert re.search(pattern, str(info.value)), str(info.value)


def test_reader_duplicated_programme(tmp_path):
    rows = [*GOOD_ROWS, list(GOOD_ROWS[0])]
    path = write_table(tmp_path / "dupe.tsv", rows)
    with pytest.raises(InputError, match=r"dupe\.tsv.*row 5 \(programme 'CYT_A'\).*row 2"):
        read_catalogue(path)


def test_check_catalogue_names_the_source():
    table = pd.DataFrame([GOOD_ROWS[0]], columns=COLUMNS).drop(columns="genes")
    with pytest.raises(InputError, match=r"^my table: header \(row 1\)"):
        check_catalogue(table, source="my table")


# ---------------------------------------------------------------------------------------------
# direction_conflicts, shared_genes, source_overlap on small tables
# ---------------------------------------------------------------------------------------------


def small_catalogue(rows: list[list[str]]) -> pd.DataFrame:
    return check_catalogue(pd.DataFrame(rows, columns=COLUMNS), source="test")


def test_direction_conflicts_found():
    rows = [list(r) for r in GOOD_ROWS]
    rows[1][COLUMNS.index("genes")] = "BCL2,BAX"  # BAX: CYT_A (+1/-1) and REG_B (-1/+1)
    conflicts = direction_conflicts(small_catalogue(rows))
    assert conflicts.to_dict("records") == [
        {"gene": "BAX", "context": "cancer", "programme_up": "CYT_A", "programme_down": "REG_B"},
        {"gene": "BAX", "context": "normal", "programme_up": "REG_B", "programme_down": "CYT_A"},
    ]


def test_direction_zero_is_not_a_conflict():
    rows = [list(r) for r in GOOD_ROWS]
    rows[2][COLUMNS.index("genes")] = "IL6,FAS"  # RISK_C is 0 in normal cells, -1 in cancer
    conflicts = direction_conflicts(small_catalogue(rows))
    assert conflicts[["gene", "context"]].values.tolist() == [["FAS", "cancer"]]
    assert direction_conflicts(small_catalogue(GOOD_ROWS)).empty


def test_shared_genes():
    rows = [list(r) for r in GOOD_ROWS]
    rows[2][COLUMNS.index("genes")] = "FAS,BAX,IL6"
    pairs = shared_genes(small_catalogue(rows))
    assert pairs.to_dict("records") == [
        {"programme_a": "CYT_A", "programme_b": "RISK_C", "n_shared": 2, "genes": "BAX,FAS"}
    ]


def test_source_overlap_fractions():
    rows = [list(r) for r in GOOD_ROWS]
    rows[0][COLUMNS.index("source")] = "GO:0000001;PROGENy:p53"
    rows[0][COLUMNS.index("genes")] = "FAS,BAX,BAK1,BID"
    rows[1][COLUMNS.index("source")] = "literature:Someone 2020 J;GO:0000001"
    reference = {"GO:0000001": ["FAS", "BCL2"], "PROGENy:p53": ["BAX", "FAS"]}
    table = source_overlap(small_catalogue(rows), reference).set_index("programme")
    assert table.loc["CYT_A", "primary_source"] == "GO:0000001"
    assert table.loc["CYT_A", "n_genes"] == 4
    assert table.loc["CYT_A", "primary_fraction"] == pytest.approx(0.25)
    assert table.loc["CYT_A", "any_fraction"] == pytest.approx(0.5)
    assert math.isnan(table.loc["REG_B", "primary_fraction"])
    assert table.loc["REG_B", "any_fraction"] == pytest.approx(1.0)
    # PROGENy:p53 is in the reference but RISK_C's genes are not in it.
    assert table.loc["RISK_C", "primary_fraction"] == 0
    # a source absent from the reference sets gives NaN, not 0
    rows[2][COLUMNS.index("source")] = "GO:9999999"
    table = source_overlap(small_catalogue(rows), reference).set_index("programme")
    assert math.isnan(table.loc["RISK_C", "primary_fraction"])
    assert math.isnan(table.loc["RISK_C", "any_fraction"])


def test_reference_sets_from_files(tmp_path):
    gmt = tmp_path / "go.gmt"
    gmt.write_text("GO:0000001\tsome process | theme\tA\tB\nGO:0000002 named\tx\tC\n")
    progeny = tmp_path / "progeny.tsv"
    progeny.write_text(
        "pathway\tgene\tweight\tp.value\trank\tcurrent_symbol\n"
        "p53\tOLD1\t3.0\t1e-9\t1\tNEW1\n"
        "p53\tNEG\t-2.0\t1e-8\t2\tNEG\n"
        "p53\tLOC1\t1.0\t1e-7\t3\t\n"
        "p53\tLATE\t0.5\t1e-6\t4\tLATE\n"
        "NFkB\tX\t1.0\t1e-9\t1\tX\n"
    )
    sets = reference_sets_from_files(gmt, progeny, progeny_top=3)
    assert sets == {
        "GO:0000001": ["A", "B"],
        "GO:0000002": ["C"],
        "PROGENy:p53": ["NEW1", "LOC1"],
        "PROGENy:NFkB": ["X"],
    }


@pytest.mark.shared
def test_reference_sets_from_shared_files(reference_sets):
    assert "GO:0097191" in reference_sets
    assert {"PROGENy:p53", "PROGENy:NFkB", "PROGENy:Hypoxia"} <= set(reference_sets)
    assert all(len(genes) <= 100 for k, genes in reference_sets.items() if k.startswith("PROGENy"))
    assert "CDKN1A" in reference_sets["PROGENy:p53"]


# ---------------------------------------------------------------------------------------------
# GMT reading and writing
# ---------------------------------------------------------------------------------------------


def test_gmt_roundtrip_and_determinism(tmp_path):
    sets = {"SET_B": ["TP53", "MDM2"], "SET_A": ["BAX"]}
    first = write_gmt(sets, tmp_path / "a.gmt", descriptions={"SET_A": "apoptosis"})
    second = write_gmt(dict(sets), tmp_path / "b.gmt", descriptions={"SET_A": "apoptosis"})
    assert first.read_bytes() == second.read_bytes()
    assert first.read_text() == "SET_B\tNA\tTP53\tMDM2\nSET_A\tapoptosis\tBAX\n"
    assert read_gmt(first) == sets


def test_gmt_gz_roundtrip_is_deterministic(tmp_path):
    sets = {"S": ["A", "B", "C"]}
    first = write_gmt(sets, tmp_path / "a.gmt.gz")
    second = write_gmt(sets, tmp_path / "b.gmt.gz")
    assert first.read_bytes() == second.read_bytes()
    assert read_gmt(first) == sets


def test_write_gmt_rejects_bad_fields(tmp_path):
    with pytest.raises(ValueError, match="tab"):
        write_gmt({"A\tB": ["X"]}, tmp_path / "x.gmt")
    with pytest.raises(ValueError, match="at least one gene"):
        write_gmt({"A": []}, tmp_path / "x.gmt")


def test_read_gmt_bom_crlf_blank_lines(tmp_path):
    path = tmp_path / "windows.gmt"
    path.write_bytes(b"\xef\xbb\xbfSET1\tdesc\tA\tB\r\n\r\nSET2\tdesc\tC\t\r\n")
    assert read_gmt(path) == {"SET1": ["A", "B"], "SET2": ["C"]}


def test_read_gmt_gz_with_bom(tmp_path):
    path = tmp_path / "sets.gmt.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"\xef\xbb\xbfSET1\tdesc\tA\r\n")
    assert read_gmt(path) == {"SET1": ["A"]}


def test_read_gmt_malformed_line(tmp_path):
    path = tmp_path / "broken.gmt"
    path.write_text("SET1\tdesc\tA\n\nSET2 desc A B\n")
    with pytest.raises(InputError, match=r"broken\.gmt.*line 3"):
        read_gmt(path)


@pytest.mark.parametrize("content", [b"", b"\n\n", b"\xef\xbb\xbf\r\n"])
def test_read_gmt_empty_file(tmp_path, content):
    path = tmp_path / "empty.gmt"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"empty\.gmt.*empty"):
        read_gmt(path)


def test_read_gmt_set_without_genes_and_duplicates(tmp_path):
    path = tmp_path / "nogenes.gmt"
    path.write_text("SET1\tdesc\t\t\n")
    with pytest.raises(InputError, match=r"nogenes\.gmt.*line 1.*no genes"):
        read_gmt(path)
    path = tmp_path / "twice.gmt"
    path.write_text("SET1\tdesc\tA\nSET1\tdesc\tB\n")
    with pytest.raises(InputError, match=r"twice\.gmt.*line 2.*line 1"):
        read_gmt(path)


def test_library_keyed_by_another_id_type_is_refused():
    from msc_secretome.catalogue import library_coverage

    data = {"TP53", "CDKN1A", "MDM2", "BAX"}
    with pytest.raises(
        InputError,
        match=r"(?s)only 0 genes are shared: 0.0% of the library's 3 genes and 0.0% of the "
        r"data's 4 symbols.*look like entrez.*Fix",
    ):
        library_coverage(
            "kegg", {"set": ["7157", "1026", "4193"]}, data, min_coverage=0.2, path="kegg.gmt"
        )
    with pytest.raises(InputError, match="only 0 genes are shared"):
        library_coverage("empty", {}, data, min_coverage=0.2, path="empty.gmt")
    ok = library_coverage(
        "p53", {"set": ["TP53", "MDM2", "XYZ1"]}, data, min_coverage=0.2, path="p53.gmt"
    )
    assert ok == {
        "n_genes": 3, "genes_in_data": 2, "coverage": 2 / 3, "n_data_genes": 4,
        "data_coverage": 0.5, "verdict": "ok",
    }  # fmt: skip


def test_a_targeted_panel_passes_and_a_wrong_id_type_stops_naming_both_numbers():
    from msc_secretome.catalogue import library_coverage

    library = {"set": [f"GENE{i}" for i in range(1000)]}
    panel = {f"GENE{i}" for i in range(40)} | {f"OTHER{i}" for i in range(10)}
    result = library_coverage("programmes", library, panel, min_coverage=0.2, path="p.gmt")
    assert result["verdict"] == "targeted_panel"
    assert (result["coverage"], result["data_coverage"]) == (0.04, 0.8)
    entrez = {"set": [str(7000 + i) for i in range(1000)]}
    with pytest.raises(
        InputError,
        match=r"(?s)only 0 genes are shared: 0.0% of the library's 1000 genes and 0.0% of the "
        r"data's 50 symbols \(minimum 20% of the smaller set\).*look like entrez",
    ):
        library_coverage("kegg", entrez, panel, min_coverage=0.2, path="kegg.gmt")
    sparse_panel = {f"GENE{i}" for i in range(5)} | {f"OTHER{i}" for i in range(45)}
    with pytest.raises(InputError, match=r"0.5% of the library's 1000 genes and 10.0% of"):
        library_coverage("programmes", library, sparse_panel, min_coverage=0.2, path="p.gmt")


def test_a_catalogue_with_the_old_program_column_is_told_to_rename_it(tmp_path):
    table = pd.read_csv(builtin_catalogue_path(), sep="\t", dtype=str, keep_default_na=False)
    old = tmp_path / "old.tsv"
    table.rename(columns={"programme": "program"}).to_csv(old, sep="\t", index=False)
    with pytest.raises(InputError, match="missing column") as error:
        read_catalogue(old)
    assert "rename the column 'program' to 'programme'" in str(error.value)
