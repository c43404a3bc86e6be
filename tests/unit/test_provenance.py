"""Provenance (msc_secretome.provenance): versions, checksums, relative paths, the example."""

from __future__ import annotations

import os

from msc_secretome import provenance


def test_paths_are_relative_unless_absolute_is_asked(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data" / "counts.tsv"
    data.parent.mkdir()
    data.write_text("gene_id\ta\nG\t1\n")
    config = {"counts": str(data), "de": {"alpha": 0.05}, "libs": [str(tmp_path / "x.gmt")]}
    shown = provenance.display_paths(config)
    assert shown == {"counts": "data/counts.tsv", "de": {"alpha": 0.05}, "libs": ["x.gmt"]}
    assert provenance.display_paths(config, absolute=True) == config
    (row,) = provenance.input_checksums([str(data), str(tmp_path / "missing.tsv")])
    assert row["path"] == "data/counts.tsv" and len(row["sha256"]) == 64
    assert str(tmp_path) not in repr(shown) + repr(row)


def test_example_is_recognised_from_its_path(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert provenance.is_simulated_example(["resources/example/counts.tsv.gz"])
    assert provenance.is_simulated_example(
        [os.path.join(tmp_path, "resources/example_single_cell/cells.h5ad")]
    )
    assert not provenance.is_simulated_example(["data/counts.tsv"])


def test_versions_and_git() -> None:
    versions = provenance.package_versions(["pandas", "surely-not-a-package"])
    assert versions["surely-not-a-package"] == "not installed"
    assert versions["pandas"][0].isdigit() and "msc_secretome" in versions
    assert provenance.workflow_version("/").endswith("(not a git checkout)")
