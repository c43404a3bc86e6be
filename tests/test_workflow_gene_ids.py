"""Ensembl-keyed counts with an annotation (and two GMT libraries) give the same programme
calls as the same data keyed by symbols."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest
from workflow_runs import prepare_workdir, run_snakemake

pytestmark = [pytest.mark.slow, pytest.mark.shared]

BASE = {
    "example": {"seed": 11, "n_genes": 2000, "n_replicates": 3},
    # nes_null: library runs the library-wide NES null through the rules (both runs use it)
    "enrichment": {
        "permutations": 100,
        "ora": False,
        "sample_scores": "none",
        "nes_null": "library",
    },
}


def test_ensembl_keyed_run_matches_symbol_keyed_run(tmp_path, reference_dir):
    libraries = {
        "go_bp": str(reference_dir / "genesets/go_bp_targeted.gmt"),
        "progeny_up": str(reference_dir / "genesets/progeny_human_top100_up.gmt"),
    }
    gene_sets = {"libraries": libraries, "min_coverage": 0.02}
    by_symbol = tmp_path / "symbols"
    overrides = prepare_workdir(by_symbol, {**BASE, "gene_sets": gene_sets})
    run_snakemake(by_symbol, "--cores", "2", "--configfile", str(overrides))

    # The same counts keyed by versioned Ensembl ids, with a gene_id -> symbol annotation.
    counts = pd.read_csv(by_symbol / "resources/example/counts.tsv.gz", sep="\t", index_col=0)
    id_map = pd.read_csv(reference_dir / "genes/hs_gene_id_map.tsv", sep="\t", dtype=str)
    id_map = id_map.dropna(subset=["ensembl_gene_id"]).drop_duplicates("symbol")
    ensembl = id_map.set_index("symbol")["ensembl_gene_id"]
    new_ids = [
        f"{ensembl[g]}.7" if g in ensembl.index else f"ENSG9{i:010d}.1"
        for i, g in enumerate(counts.index)
    ]
    assert sum(g in ensembl.index for g in counts.index) > 600  # the programme genes
    by_ensembl = tmp_path / "ensembl"
    annotation = by_ensembl / "annotation.tsv"
    by_ensembl.mkdir()
    pd.DataFrame({"gene_id": [i.split(".")[0] for i in new_ids], "symbol": counts.index}).to_csv(
        annotation, sep="\t", index=False
    )
    counts.index = pd.Index(new_ids, name="gene_id")
    with gzip.open(by_ensembl / "counts.tsv.gz", "wt") as handle:
        counts.to_csv(handle, sep="\t")
    overrides = prepare_workdir(
        by_ensembl,
        {
            **BASE,
            "gene_sets": gene_sets,
            "counts": str(by_ensembl / "counts.tsv.gz"),
            "gene_annotation": str(annotation),
            "secretome": {"source": "builtin"},  # own counts: not the example's medium
        },
    )
    run_snakemake(by_ensembl, "--cores", "2", "--configfile", str(overrides))

    mapping = pd.read_csv(by_ensembl / "results/validated/gene_mapping.tsv", sep="\t")
    mapping = dict(zip(mapping["key"], mapping["value"], strict=True))
    assert mapping["id_type"] == "ensembl_versioned" and float(mapping["rate"]) == 1.0
    a = pd.read_csv(by_symbol / "results/programmes/programme_calls.tsv", sep="\t")
    b = pd.read_csv(by_ensembl / "results/programmes/programme_calls.tsv", sep="\t")
    pd.testing.assert_frame_equal(a, b)
    for library in ("go_bp", "progeny_up"):
        enrich_a = pd.read_csv(by_symbol / "results/enrichment/cancer_cm_x_chemo.tsv", sep="\t")
        enrich_b = pd.read_csv(by_ensembl / "results/enrichment/cancer_cm_x_chemo.tsv", sep="\t")
        assert (enrich_a["library"] == library).any()
        pd.testing.assert_frame_equal(enrich_a, enrich_b)
    libs = pd.read_csv(by_ensembl / "results/gene_sets/libraries.tsv", sep="\t")
    assert libs["library"].tolist() == ["programmes", "go_bp", "progeny_up"]
    assert libs["sha256"].str.len().eq(64).all()
