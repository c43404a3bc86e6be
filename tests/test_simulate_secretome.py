"""The example's planted secreted-factor chains (simulate_secretome)."""

from __future__ import annotations

import numpy as np
import pytest

from msc_secretome.catalogue import read_catalogue
from msc_secretome.pathway_activity import builtin_footprint_path, read_footprints
from msc_secretome.simulate import simulate_bulk_experiment
from msc_secretome.simulate_secretome import add_secretome_chains, write_secretome_example


@pytest.fixture(scope="module")
def chains():
    experiment = simulate_bulk_experiment(read_catalogue(), n_genes=2000, seed=5)
    footprints = read_footprints(builtin_footprint_path("human"))
    grown, truth, proteomics = add_secretome_chains(experiment, footprints, seed=5)
    return experiment, grown, truth, proteomics, footprints


def test_existing_genes_and_truth_are_untouched(chains):
    experiment, grown, *_ = chains
    assert grown.counts.iloc[: len(experiment.counts)].equals(experiment.counts)
    assert list(grown.counts.index[: len(experiment.counts)]) == list(experiment.counts.index)
    assert grown.truth_programmes.equals(experiment.truth_programmes)
    old = experiment.truth_de
    assert grown.truth_de.merge(old, how="inner").shape[0] == len(old)


def test_footprints_respond_in_the_receiver_only(chains):
    experiment, grown, _, _, footprints = chains
    new = grown.truth_de[~grown.truth_de["gene_id"].isin(experiment.counts.index)]
    trail = set(footprints.loc[footprints["pathway"] == "Trail", "gene"])
    cancer = new[new["contrast"] == "cancer_cm_vs_ctrl_none"]
    assert len(set(cancer["gene_id"]) & trail) > 80
    weights = footprints[footprints["pathway"] == "Trail"].set_index("gene")["weight"]
    moved = cancer[cancer["gene_id"].isin(trail)].set_index("gene_id")["true_log2fc"]
    assert (np.sign(moved) == np.sign(weights.reindex(moved.index))).all()
    assert set(new["contrast"]) == {f"{c}_cm_vs_ctrl_{t}" for c in ("cancer", "normal")
                                    for t in ("none", "chemo", "radiation")}  # fmt: skip
    normal = new[new["contrast"] == "normal_cm_vs_ctrl_none"]
    assert not set(normal["gene_id"]) & (trail - set(footprints.loc[
        footprints["pathway"].isin(["MAPK", "PI3K"]), "gene"]))  # fmt: skip


def test_decoy_receptor_is_not_expressed(chains):
    _, grown, truth, proteomics, _ = chains
    decoy = grown.counts.loc[["IFNAR1", "IFNAR2"]]
    assert decoy.to_numpy().mean() < 1.0
    assert set(truth.loc[truth["kind"] == "decoy", "ligand"]) == {"IFNB1"}
    assert set(truth.loc[truth["kind"] == "planted", "ligand"]) == {"TNFSF10", "IL6", "HGF"}
    detected = set(proteomics.loc[proteomics["detected"], "gene"])
    assert {"TNFSF10", "IL6", "HGF", "IFNB1"} <= detected and "FGF2" not in detected


def test_written_files_are_byte_stable(chains, tmp_path):
    _, _, truth, proteomics, _ = chains
    first = write_secretome_example(truth, proteomics, tmp_path / "a")
    second = write_secretome_example(truth, proteomics, tmp_path / "b")
    for key in first:
        assert first[key].read_bytes() == second[key].read_bytes()
    assert first["proteomics"].read_text().splitlines()[0] == (
        "gene\tabundance\tdetected\tlog2_fold_change"
    )
