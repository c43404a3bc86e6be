"""The secretome stage end to end: offline, with a MaxQuant table, and with bad input."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from workflow_runs import run_snakemake

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent / "data" / "secretome"


def _network_namespace_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


@pytest.fixture()
def copy_of_tiny_run(tiny_run, tmp_path):
    """A copy of the shared tiny run, so this test may change its secretome settings."""
    workdir, overrides = tiny_run
    copy = tmp_path / "tiny"
    shutil.copytree(workdir, copy, symlinks=True, ignore=shutil.ignore_patterns(".snakemake"))
    return copy, copy / overrides.relative_to(workdir)


def _secretome_config(workdir: Path, overrides: Path, secretome: dict) -> Path:
    extra = workdir / "config" / "secretome.yaml"
    extra.write_text(yaml.safe_dump({"secretome": secretome}))
    return extra


def test_maxquant_input_runs_offline(copy_of_tiny_run):
    if not _network_namespace_works():
        pytest.skip("unshare -n (a network namespace) is not available here")
    workdir, overrides = copy_of_tiny_run
    table = workdir / "proteinGroups.txt"
    shutil.copy(FIXTURES / "proteinGroups.txt", table)
    extra = _secretome_config(
        workdir, overrides, {"source": "proteomics", "proteomics": str(table)}
    )
    run_snakemake(
        workdir, "--cores", "1", "--configfile", str(overrides), str(extra),
        "--forcerun", "secretome_links", "results/secretome/ligand_links.tsv",
        wrapper=["unshare", "-n"],
    )  # fmt: skip
    links = pd.read_csv(workdir / "results/secretome/ligand_links.tsv", sep="\t")
    # detected ligands of the fixture (ALB is a contaminant, GENEX a reverse hit, FGF2 unquantified)
    assert set(links["ligand"]) == {"TNFSF10", "IL6", "HGF", "IFNB1", "DKK1"}
    assert links["in_secretome"].str.startswith("proteomics (abundance").all()
    methods = pd.read_csv(workdir / "results/secretome/methods.tsv", sep="\t")
    proteomics = methods.set_index("key").loc["proteomics", "value"]
    assert "'n_dropped_reverse': 1" in proteomics
    assert "'n_dropped_potential_contaminant': 1" in proteomics


def test_proteomics_without_gene_column_stops_with_the_fix(copy_of_tiny_run):
    workdir, overrides = copy_of_tiny_run
    table = workdir / "medium.tsv"
    table.write_text("Protein IDs\tLFQ intensity CM_1\nP50591\t1e8\n")
    extra = _secretome_config(
        workdir, overrides, {"source": "proteomics", "proteomics": str(table)}
    )
    result = run_snakemake(
        workdir, "--cores", "1", "--configfile", str(overrides), str(extra),
        "--forcerun", "secretome_links", "results/secretome/ligand_links.tsv", check=False,
    )  # fmt: skip
    assert result.returncode != 0
    log = (workdir / "logs/secretome_links.log").read_text()
    assert "medium.tsv: no gene column" in log and "Fix: name the gene-symbol column" in log
    assert not (workdir / "results/secretome/ligand_links.tsv").exists()


def test_producer_rna_input_runs(copy_of_tiny_run):
    workdir, overrides = copy_of_tiny_run
    counts = workdir / "msc_counts.tsv"
    genes = {"TNFSF10": 800, "IL6": 1500, "HGF": 400, "IFNB1": 300, "ACTB": 90000, "DKK1": 1}
    counts.write_text(
        "gene_id\tmsc_1\tmsc_2\tmsc_3\n"
        + "".join(f"{g}\t{n}\t{n + 7}\t{n + 3}\n" for g, n in genes.items())
    )
    extra = _secretome_config(
        workdir,
        overrides,
        {"source": "producer_rna", "producer_rna": {"counts": str(counts), "min_cpm": 100}},
    )
    run_snakemake(
        workdir, "--cores", "1", "--configfile", str(overrides), str(extra),
        "--forcerun", "secretome_links", "results/secretome/ligand_links.tsv",
    )  # fmt: skip
    links = pd.read_csv(workdir / "results/secretome/ligand_links.tsv", sep="\t")
    assert set(links["ligand"]) == {"TNFSF10", "IL6", "HGF", "IFNB1"}  # DKK1 ~45 CPM < 100
    assert links["in_secretome"].str.startswith("producer RNA (mean CPM").all()
    ranked = links[links["rank"] == 1]
    assert set(ranked.loc[ranked["side"] == "cancer", "ligand"]) == {"TNFSF10"}
