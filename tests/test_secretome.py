"""Secretome stage parts: proteomics readers, the liana resource, receptor expression, linking."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from msc_secretome.errors import InputError
from msc_secretome.ligand_links import link_ligands, verdict_factors
from msc_secretome.ligand_receptor import (
    liana_resource_file,
    ligand_genes,
    read_ligand_receptor,
    receptor_expression,
)
from msc_secretome.secretome_inputs import (
    parse_pathways,
    read_factor_table,
    read_proteomics,
    secretome_ligands,
)

FIXTURES = Path(__file__).parent / "data" / "secretome"


@pytest.fixture(scope="module")
def liana_pairs():
    try:
        liana_resource_file()  # located through its metadata: liana is never imported
    except InputError as error:
        pytest.skip(f"liana (its wheel ships the resource) is not installed: {error}")
    return read_ligand_receptor("liana", "human")


def test_maxquant_protein_groups_drop_flagged_rows_and_count_them():
    genes, report = read_proteomics(FIXTURES / "proteinGroups.txt")
    assert report["n_rows"] == 10
    assert report["n_dropped_reverse"] == 1
    assert report["n_dropped_potential_contaminant"] == 1
    assert report["n_dropped_only_identified_by_site"] == 1
    assert report["n_without_gene"] == 1
    assert set(genes["gene"]) == {"TNFSF10", "IL6", "HGF", "IFNB1", "DKK1", "FGF2"}
    table = genes.set_index("gene")
    assert not table.loc["FGF2", "detected"]  # never quantified (all LFQ 0)
    assert table.loc["IFNB1", "abundance"] == pytest.approx(6.0e6)  # mean of the non-zero LFQ
    assert table.loc["IL6", "abundance"] == pytest.approx(8.0e8)


def test_plain_proteomics_table():
    genes, report = read_proteomics(FIXTURES / "secretome_plain.tsv")
    table = genes.set_index("gene")
    assert report["n_detected"] == 5
    assert not table.loc["ALB", "detected"] and table.loc["CCL5", "detected"]
    assert table.loc["TNFSF10", "log2_fold_change"] == pytest.approx(3.1)


def test_proteomics_without_a_gene_column_is_refused(tmp_path):
    path = tmp_path / "medium.tsv"
    path.write_text("Protein IDs\tLFQ intensity A\nP50591\t1e8\n")
    with pytest.raises(InputError, match=r"medium.tsv: no gene column.*\n  Fix: .*Gene names"):
        read_proteomics(path)


def test_proteomics_without_overlap_with_the_resource_is_refused(tmp_path, liana_pairs):
    pairs, _ = liana_pairs
    path = tmp_path / "accessions.tsv"
    path.write_text("gene\tabundance\nP50591\t1e8\nP05231\t2e8\n")
    genes, _ = read_proteomics(path)
    with pytest.raises(
        InputError, match=r"(?s)accessions.tsv: none of the 2 detected genes.*symbols"
    ):
        secretome_ligands(
            "proteomics", read_factor_table(), ligand_genes(pairs), proteomics=genes,
            proteomics_path=str(path),
        )  # fmt: skip


def test_builtin_factor_table_has_provenance():
    factors = read_factor_table()
    assert {"TNFSF10", "IL6", "HGF", "IFNB1", "DKK1", "TGFB1", "STC1"} <= set(factors["symbol"])
    assert (factors["references"].str.len() > 5).all()
    trail = factors.set_index("symbol").loc["TNFSF10"]
    assert parse_pathways(trail["pathways"]) == [("Trail", 1)]
    assert parse_pathways(factors.set_index("symbol").loc["DKK1", "pathways"]) == [("WNT", -1)]
    with pytest.raises(InputError, match="pathway:\\+1"):
        parse_pathways("Trail up")


def test_liana_consensus_resource_is_read_from_the_wheel(liana_pairs):
    pairs, info = liana_pairs
    path, version = liana_resource_file()
    assert info["version"] == version == "1.10.0"
    assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    trail = set(pairs.loc[pairs["ligand"] == "TNFSF10", "receptor"])
    assert {"TNFRSF10A", "TNFRSF10B"} <= trail
    assert "IFNAR1_IFNAR2" in set(pairs.loc[pairs["ligand"] == "IFNB1", "receptor"])
    assert info["n_pairs"] == len(pairs) > 4000


def test_resource_reading_needs_no_network(monkeypatch, liana_pairs):
    def refuse(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    pairs, info = read_ligand_receptor("liana", "human")
    assert len(pairs) == liana_pairs[0].shape[0]


def test_receptor_expression_uses_normalised_counts_and_detection():
    counts = pd.DataFrame(
        {"MET": [100, 120, 0, 0], "IFNAR1": [0, 1, 0, 0], "IL6R": [50, 0, 40, 40]},
        index=["c1", "c2", "n1", "n2"],
    )
    size = pd.Series([1.0, 2.0, 1.0, 1.0], index=counts.index)
    table = receptor_expression(
        counts,
        size,
        {"cancer": ["c1", "c2"], "normal": ["n1", "n2"]},
        {"MET", "IFNAR1", "IL6R", "ABSENT"},
    ).set_index(["group", "gene"])
    assert table.loc[("cancer", "MET"), "mean_normalised"] == pytest.approx(80.0)
    assert table.loc[("cancer", "MET"), "expressed"]
    assert not table.loc[("cancer", "IFNAR1"), "expressed"]
    assert table.loc[("cancer", "IL6R"), "detected_fraction"] == 0.5
    assert not table.loc[("normal", "MET"), "expressed"]
    assert not table.loc[("normal", "ABSENT"), "expressed"]


def _linking_inputs():
    ligands = pd.DataFrame(
        {
            "ligand": ["TNFSF10", "IFNB1", "STC1", "DKK1", "HGF"],
            "factor": ["TRAIL", "IFN-beta", "STC1", "DKK1", "HGF"],
            "in_secretome": "factor table",
            "abundance": np.nan,
            "log2_fold_change": np.nan,
            "curated_pathways": ["Trail:+1", "JAK-STAT:+1", "", "WNT:-1", "MAPK:+1;PI3K:+1"],
            "effect_cancer": "", "effect_normal": "", "references": "",
        }
    )  # fmt: skip
    pairs = pd.DataFrame(
        {
            "ligand": ["TNFSF10", "IFNB1", "DKK1", "HGF"],
            "receptor": ["TNFRSF10B", "IFNAR1_IFNAR2", "LRP6", "MET"],
        }
    )
    expressed = {"TNFRSF10B": 300.0, "IFNAR1": 500.0, "IFNAR2": 0.5, "LRP6": 80.0, "MET": 40.0}
    expression = pd.DataFrame(
        [("cancer", g, v, 1.0, v >= 10) for g, v in expressed.items()],
        columns=["group", "gene", "mean_normalised", "detected_fraction", "expressed"],
    )
    activity = pd.DataFrame(
        {
            "contrast": "k",
            "pathway": ["Trail", "JAK-STAT", "WNT", "MAPK", "PI3K"],
            "score": [9.0, 12.0, 4.0, 3.5, -1.0],
            "pvalue": [1e-12, 1e-20, 1e-4, 1e-3, 0.3],
            "fdr": [1e-11, 1e-19, 3e-4, 2e-3, 0.3],
        }
    )
    calls = pd.DataFrame(
        {"contrast": "k", "programme": ["CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS", "RISK_IL6_JAK_STAT3"],
         "call": ["up", "up"]}
    )  # fmt: skip
    roles = pd.DataFrame(
        {"contrast": ["k", "t"], "side": ["cancer", "cancer"], "therapy": ["none", "chemo"],
         "role": ["secretome_effect", "therapy_effect"]}
    )  # fmt: skip
    return ligands, pairs, expression, activity, calls, roles


def test_links_rank_full_chains_first_and_never_an_unexpressed_receptor():
    links = link_ligands(*_linking_inputs()).set_index("ligand")
    assert set(links["contrast"]) == {"k"}  # therapy contrasts are not secretome questions
    assert links.loc["TNFSF10", "rank"] == 1
    assert links.loc["TNFSF10", "consistent_programmes"] == "CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS up"
    assert links.loc["TNFSF10", "chain"] == (
        "TRAIL -> TNFRSF10B expressed -> Trail pathway up -> "
        "CYT_DEATH_RECEPTOR_TRAIL_APOPTOSIS up in cancer cells"
    )
    # IFN-beta's pathway is the most active one, but IFNAR2 is not expressed.
    assert links.loc["IFNB1", "status"] == "receptor_not_expressed"
    assert pd.isna(links.loc["IFNB1", "rank"])
    assert links.loc["STC1", "status"] == "no_receptor_in_resource"
    assert links.loc["DKK1", "status"] == "pathway_opposite"  # WNT up, DKK1 inhibits it
    assert links.loc["HGF", "status"] == "ranked" and links.loc["HGF", "rank"] == 2
    assert links.loc["HGF", "pathway"] == "MAPK"
    assert links.loc["HGF", "signalling_receptors"] == "MET"
    ligands, pairs, expression, activity, calls, roles = _linking_inputs()
    twin = ligands[ligands["ligand"] == "HGF"].assign(ligand="FGF7", factor="KGF/FGF7")
    twin_pair = pd.DataFrame({"ligand": ["FGF7"], "receptor": ["MET"]})
    tied = link_ligands(
        pd.concat([ligands, twin]), pd.concat([pairs, twin_pair]), expression, activity, calls,
        roles,
    ).set_index("ligand")  # fmt: skip
    assert tied.loc["HGF", "rank"] == tied.loc["FGF7", "rank"] == 2  # same evidence, same rank
    factors = verdict_factors(link_ligands(*_linking_inputs()))
    assert factors["ligand"].tolist() == ["TNFSF10", "HGF"]
    assert factors["direction"].tolist() == ["up", "up"]


@pytest.mark.slow  # runs Snakemake (a dry run)
def test_the_example_medium_is_refused_for_your_own_counts(tmp_path):
    from workflow_runs import prepare_workdir, run_snakemake

    overrides = prepare_workdir(tmp_path, {"counts": "my_counts.tsv"})
    result = run_snakemake(tmp_path, "--dry-run", "--configfile", str(overrides), check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "secretome.proteomics is the simulated example's medium" in output
    assert "Fix: set secretome.source: builtin" in output
    assert not (tmp_path / "results").exists()


def test_producer_rna_gives_expressed_and_induced_ligands(tmp_path, liana_pairs):
    from msc_secretome.producer_rna import producer_ligands

    pairs, _ = liana_pairs
    counts = tmp_path / "msc_counts.tsv"
    rows = {"TNFSF10": [900, 1100], "IL6": [0, 2], "HGF": [3, 1], "ACTB": [98000, 97000],
            "IDO1": [500, 700]}  # fmt: skip
    counts.write_text(
        "gene_id\tmsc_1\tmsc_2\n" + "".join(f"{g}\t{a}\t{b}\n" for g, (a, b) in rows.items())
    )
    de = tmp_path / "primed_vs_unprimed.tsv"
    de.write_text(
        "gene_id\tsymbol\tbaseMean\tlog2FoldChange\tlfcSE\tstat\tpvalue\tpadj\n"
        "IL6\tIL6\t1.0\t3.2\t0.5\t6.4\t1e-10\t1e-8\n"
        "HGF\tHGF\t2.0\t-1.0\t0.5\t-2.0\t0.04\t0.2\n"
    )
    ligands = producer_ligands(str(counts), ligand_genes(pairs), de_path=str(de), min_cpm=100)
    table = ligands.set_index("ligand")
    assert list(table.index) == ["IL6", "TNFSF10"]  # ACTB/IDO1 are no ligands; HGF is low
    assert table.loc["TNFSF10", "abundance"] == pytest.approx(1e4, rel=0.01)
    assert "induced log2FC +3.2" in table.loc["IL6", "in_secretome"]
    merged = secretome_ligands(
        "producer_rna", read_factor_table(), ligand_genes(pairs), producer=ligands
    ).set_index("ligand")
    assert merged.loc["TNFSF10", "factor"] == "TRAIL"
    assert merged.loc["TNFSF10", "curated_pathways"] == "Trail:+1"
    with pytest.raises(InputError, match=r"(?s)msc_counts.tsv: no ligand.*Fix: the first column"):
        producer_ligands(str(counts), {"XYZ"})


def test_mouse_factors_use_the_orthologue_hook(monkeypatch):
    import sys
    import types

    from msc_secretome.secretome_inputs import factors_for_organism

    factors = read_factor_table()
    same, n_lost = factors_for_organism(factors, "human")
    assert same is factors and n_lost == 0
    fake = types.ModuleType("msc_secretome.orthologs")

    def map_genes(symbols, *, from_organism, to_organism):
        table = {"TNFSF10": ["Tnfsf10"], "IL6": ["Il6"], "HGF": ["Hgf", "Hgf2"]}
        return types.SimpleNamespace(mapped={s: table.get(s, []) for s in symbols})

    fake.map_genes = map_genes
    monkeypatch.setitem(sys.modules, "msc_secretome.orthologs", fake)
    mouse, n_lost = factors_for_organism(factors, "mouse")
    assert mouse["symbol"].tolist() == ["Il6", "Tnfsf10"]  # HGF is not one-to-one here
    assert n_lost == len(factors) - 2
    monkeypatch.setitem(sys.modules, "msc_secretome.orthologs", None)  # not installed
    with pytest.raises(InputError, match="Fix: give secretome.factors: a factor table with mouse"):
        factors_for_organism(factors, "mouse")
