"""Each config names its own output and log folders: the bulk and single-cell examples can run
one after the other in one working directory without touching each other's files."""

from __future__ import annotations

import re

import pytest
from workflow_runs import prepare_workdir, run_snakemake

FILE_FIELDS = re.compile(r"^\s+(?:output|log|benchmark): (.+)$", re.MULTILINE)


def planned_files(workdir, *args) -> set[str]:
    result = run_snakemake(workdir, "-n", *args)
    return {
        path.strip()
        for line in FILE_FIELDS.findall(result.stdout + result.stderr)
        for path in line.split(",")
    }


@pytest.mark.slow
def test_bulk_and_single_cell_examples_write_to_separate_folders(tmp_path):
    prepare_workdir(tmp_path)
    bulk = planned_files(tmp_path)
    single_cell = planned_files(tmp_path, "--configfile", "config/single_cell.yaml")
    assert bulk and single_cell
    assert all(p.startswith(("results/", "logs/", "resources/example/")) for p in bulk)
    assert all(
        p.startswith(
            ("results_single_cell/", "logs_single_cell/", "resources/example_single_cell/")
        )
        for p in single_cell
    )
    assert not bulk & single_cell


def test_output_dir_moves_every_output(tmp_path):
    overrides = prepare_workdir(tmp_path, {"output_dir": "run_a/out", "log_dir": "run_a/logs"})
    planned = planned_files(tmp_path, "--configfile", str(overrides))
    mine = {p for p in planned if not p.startswith("resources/")}
    assert mine and all(p.startswith(("run_a/out/", "run_a/logs/")) for p in mine), sorted(mine)
    assert "run_a/out/report/index.html" in planned
