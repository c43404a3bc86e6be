"""Issue #17 defect 4: the DAG does not depend on whether an Enrichr library is cached yet.

With downloading on, prepare_gene_sets fills the cache itself. The job's inputs used to gain
the cache file once it existed, so every `snakemake -n` after an Enrichr-cached run planned the
whole run again ("set of input files has changed"). Two real dry runs, before and after the
cache file appears, must plan prepare_gene_sets with the same inputs.
"""

from __future__ import annotations

import re

from workflow_runs import prepare_workdir, run_snakemake

LIBRARY = "Fake_Lib_2024"


def _prepare_gene_sets_inputs(workdir, overrides) -> str:
    result = run_snakemake(workdir, "--dry-run", "--configfile", str(overrides))
    block = re.search(r"rule prepare_gene_sets:\n(.*?)\n\n", result.stdout, re.S)
    assert block, result.stdout[-3000:]
    return re.search(r"^\s*input: (.*)$", block.group(1), re.M).group(1)


def test_cached_enrichr_library_does_not_change_the_planned_inputs(tmp_path) -> None:
    overrides = prepare_workdir(
        tmp_path,
        {
            "gene_sets": {
                "enrichr": {"libraries": [LIBRARY], "download": True, "cache_dir": "cache"}
            }
        },
    )
    before = _prepare_gene_sets_inputs(tmp_path, overrides)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / f"{LIBRARY}.gmt").write_text("SET_A\tNA\tTP53\tMDM2\n")
    after = _prepare_gene_sets_inputs(tmp_path, overrides)
    assert "results/validated/experiment.h5ad" in before
    assert after == before
    assert "cache/" not in after
