"""The workflow works as a Snakemake module of another workflow (local path)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from workflow_runs import PROJECT_ROOT

pytestmark = pytest.mark.slow

HOST_SNAKEFILE = f"""
configfile: "config/config.yaml"


module msc_secretome:
    snakefile:
        "{PROJECT_ROOT / "workflow" / "Snakefile"}"
    config:
        config


use rule * from msc_secretome as msc_*
"""


def test_use_as_module_with_a_local_path(tmp_path):
    shutil.copytree(PROJECT_ROOT / "config", tmp_path / "config")
    (tmp_path / "Snakefile").write_text(HOST_SNAKEFILE)
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", "--dry-run", "msc_all"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    for rule in ("msc_differential_expression_cancer", "msc_gene_set_enrichment_normal",
                 "msc_html_report"):  # fmt: skip
        assert rule in output
