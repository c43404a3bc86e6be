"""The benchmark harness's pure parts: interleaving, stage names, summaries, exponents, tables.

No R, no Snakemake: the harness itself runs them (benchmarks/run_benchmark.py).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from speedbench import report, stats
from speedbench.measure import cpu_model, script_rule


def test_interleave_runs_every_item_once_per_round_in_order():
    order = stats.interleave(["A", "B", "C"], 3)
    assert [item for _, item in order] == list("ABCABCABC")
    assert [repeat for repeat, _ in order] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    with pytest.raises(ValueError, match="repeats"):
        stats.interleave(["A"], 0)


def test_stage_of_maps_old_and_new_rule_names_and_keeps_unknown_ones():
    assert stats.stage_of("fit_model") == "de"
    assert stats.stage_of("contrast_results") == "de"
    assert stats.stage_of("differential_expression") == "de"  # one DE job per model
    assert stats.stage_of("gene_set_enrichment") == "enrichment"
    assert stats.stage_of("brand_new_rule") == "brand_new_rule"
    stages = sorted(["report", "zeta_rule", "de", "validate"], key=stats.stage_sort_key)
    assert stages == ["validate", "de", "report", "zeta_rule"]


def test_script_rule_recognises_snakemake_job_processes_only():
    job = ["/venv/bin/python", "/tmp/w/.snakemake/scripts/tmpab12cd.fit_model.py"]
    assert script_rule(job) == "fit_model"
    assert script_rule(["/venv/bin/python", "/tmp/w/.snakemake/scripts/tmpab.new_rule.py"]) == (
        "new_rule"
    )
    per_model = ["/venv/bin/python", "/tmp/w/.snakemake/scripts/tmpx.fit_and_test_model.py"]
    assert script_rule(per_model) == "differential_expression"  # its benchmark folder
    assert script_rule(["bash", "-c", "python .snakemake/scripts/tmp.fit_model.py"]) is None
    assert script_rule(["/venv/bin/python", "-m", "snakemake"]) is None
    assert script_rule([]) is None


def test_parse_size_checks_the_design():
    assert stats.parse_size("96x20000") == (96, 20000)
    for bad in ("96", "50x20000", "0x20000", "96x1000"):
        with pytest.raises(ValueError):
            stats.parse_size(bad)


def test_fit_exponent_recovers_a_power_law_and_its_range():
    sizes = np.array([36, 96, 384, 2000])
    fit = stats.fit_exponent(sizes, 0.5 * sizes**1.3)
    assert fit["exponent"] == pytest.approx(1.3)
    assert fit["r2"] == pytest.approx(1.0)
    assert (fit["size_min"], fit["size_max"], fit["n_sizes"]) == (36, 2000, 4)
    assert stats.predict(fit, 1000) == pytest.approx(0.5 * 1000**1.3)
    noisy = stats.fit_exponent([10, 10, 100, 100], [1.0, 1.2, 10.0, 12.0])  # repeats
    assert noisy["exponent"] == pytest.approx(1.0)
    assert noisy["n_sizes"] == 2
    single = stats.fit_exponent([36, 36], [1.0, 2.0])
    assert math.isnan(single["exponent"]) and math.isnan(stats.predict(single, 100))


def test_summarise_gives_min_median_max_and_load_range_per_group():
    measurements = pd.DataFrame(
        {
            "tool": ["a", "b", "a", "b", "a", "b"],
            "wall_s": [3.0, 10.0, 1.0, 12.0, 2.0, np.nan],
            "load_before": [0.5, 1.0, 1.5, 2.0, 0.2, 0.3],
            "load_after": [0.6, 1.1, 1.6, 2.5, 0.3, 0.4],
        }
    )
    table = stats.summarise(measurements, ["tool"]).set_index("tool")
    assert table.loc["a", ["n", "min_s", "median_s", "max_s"]].tolist() == [3, 1.0, 2.0, 3.0]
    assert table.loc["b", "n"] == 2 and table.loc["b", "median_s"] == 11.0
    assert (table.loc["a", "load_min"], table.loc["a", "load_max"]) == (0.2, 1.6)


def power_points(tool, a, b, samples=(36, 96, 192), genes=(5000, 20000)):
    rows = [
        {"tool": tool, "samples": n, "genes": g, "seconds": 1e-3 * n**a * (g / 1000) ** b}
        for n in samples
        for g in genes
        if g == max(genes) or n == samples[0]
    ]
    return pd.DataFrame(rows)


def test_exponent_table_and_predictions_mark_measured_and_predicted():
    points = pd.concat([power_points("r", 1.2, 0.9), power_points("py", 0.8, 1.0)])
    exponents = stats.exponent_table(points)
    by = exponents.set_index(["tool", "axis"])
    assert by.loc[("r", "samples"), "exponent"] == pytest.approx(1.2)
    assert by.loc[("r", "samples"), "at_genes"] == 20000
    assert by.loc[("r", "genes"), "exponent"] == pytest.approx(0.9)
    assert by.loc[("r", "genes"), "at_samples"] == 36
    assert by.loc[("py", "samples"), ["size_min", "size_max"]].tolist() == [36, 192]
    table = stats.predictions(exponents, points, [(96, 20000), (2000, 60000)])
    table = table.set_index(["tool", "samples"])
    assert table.loc[("r", 96), "kind"] == "measured"
    assert table.loc[("r", 2000), "kind"] == "predicted"
    expected = 1e-3 * 2000**1.2 * 60**0.9
    assert table.loc[("r", 2000), "seconds"] == pytest.approx(expected)
    assert "samples^1.20 over 36-192 samples at 20000 genes" in table.loc[("r", 2000), "basis"]
    # a tool measured at one size only cannot be extrapolated
    lonely = pd.DataFrame([{"tool": "x", "samples": 36, "genes": 20000, "seconds": 3.0}])
    guess = stats.predictions(stats.exponent_table(lonely), lonely, [(2000, 60000)])
    assert guess["kind"].tolist() == ["unknown"] and guess["seconds"].isna().all()


def test_tables_are_written_merged_and_byte_stable(tmp_path):
    rows = []
    for repeat in range(3):
        for tool, base in (("deseq2_r", 40.0), ("python_wald", 12.0)):
            for samples in (36, 96):
                rows.append(
                    {"part": "de", "size": f"{samples}x20000", "samples": samples,
                     "genes": 20000, "tool": tool, "repeat": repeat, "order": 0,
                     "wall_s": base * samples / 36 + repeat, "compute_s": base / 2,
                     "cpu_s": base, "peak_tree_rss_mb": 500.0, "load_before": 1.0,
                     "load_after": 1.5, "load_mean": 1.2}
                )  # fmt: skip
    measurements = pd.DataFrame(rows)
    first = report.build_tables(measurements, tmp_path)
    summary_bytes = (tmp_path / "summary.tsv").read_bytes()
    report.build_tables(measurements, tmp_path)
    assert (tmp_path / "summary.tsv").read_bytes() == summary_bytes
    summary = first["summary"].set_index(["tool", "samples"])
    assert summary.loc[("deseq2_r", 36), ["n", "min_s", "median_s", "max_s"]].tolist() == [
        3, 40.0, 41.0, 42.0
    ]  # fmt: skip
    exponents = first["exponents"].query("metric == 'wall'").set_index("tool")
    assert exponents.loc["deseq2_r", "exponent"] == pytest.approx(
        np.log((40 * 96 / 36 + 1) / 41) / np.log(96 / 36)
    )
    # re-measuring one tool replaces its rows only
    path = tmp_path / "measurements.tsv"
    report.write_table(measurements, path)
    again = measurements[measurements["tool"] == "python_wald"].assign(wall_s=1.0)
    merged = report.merge(again, path)
    assert len(merged) == len(measurements)
    assert (merged.loc[merged["tool"] == "python_wald", "wall_s"] == 1.0).all()
    assert (merged.loc[merged["tool"] == "deseq2_r", "wall_s"] > 1.0).all()


def test_consortium_table_marks_what_was_predicted():
    summary = pd.DataFrame(
        [{"part": "workflow", "size": "2004x60000", "samples": 2004, "genes": 60000,
          "tool": "workflow", "median_s": 900.0, "peak_tree_rss_max_mb": 8192.0}]
    )  # fmt: skip
    predicted = pd.DataFrame(
        [
            {"tool": "workflow:de", "samples": 2004, "genes": 60000, "seconds": 600.0,
             "kind": "measured"},
            {"tool": "deseq2_r", "samples": 2004, "genes": 60000, "seconds": 6000.0,
             "kind": "predicted"},
        ]
    )  # fmt: skip
    table = report.consortium_table(summary, predicted).set_index("metric")
    assert table.loc["peak_tree_rss_gb", "value"] == 8.0
    assert table.loc["under_16_gb", "value"] == 1.0
    assert table.loc["deseq2_r_over_workflow:de", "value"] == 10.0
    assert table.loc["deseq2_r_over_workflow:de", "kind"] == "measured/predicted"
    assert table.loc["deseq2_r_s", "kind"] == "predicted"


def test_a_measured_consortium_size_gives_one_row_per_claim(tmp_path):
    rows = [
        {"part": "workflow", "size": "2004x60000", "samples": 2004, "genes": 60000,
         "tool": tool, "repeat": 0, "order": 0, "wall_s": wall, "compute_s": wall / 2,
         "cpu_s": wall, "peak_tree_rss_mb": 14000.0, "load_before": 1.0, "load_after": 1.0,
         "load_mean": 1.0}
        for tool, wall in (("workflow", 1148.0), ("workflow:de", 1066.0))
    ]  # fmt: skip
    claims = report.build_tables(pd.DataFrame(rows), tmp_path)["consortium"]
    wall = claims[claims["seconds"] == "wall"].set_index("metric")
    assert wall.index.is_unique
    assert wall.loc["workflow:de_s", "value"] == 1066.0
    assert wall.loc["end_to_end_s", "value"] == 1148.0


def test_site_batches_fold_replicates_onto_eight_sites():
    from speedbench.workloads import site_batches

    batches = pd.Series([f"b{r}" for r in (1, 2, 8, 9, 10, 16, 17)])
    assert site_batches(batches).tolist() == ["b1", "b2", "b8", "b1", "b2", "b8", "b1"]
    assert site_batches(pd.Series(["b1", "b3"])).tolist() == ["b1", "b3"]


BENCHMARK_HEADER = (
    "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
)


def write_benchmark(path: Path, seconds: float, rss: float, cpu: float) -> None:
    """A Snakemake benchmark file, as its `benchmark:` directive writes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        BENCHMARK_HEADER
        + f"{seconds}\t0:00:0{int(seconds)}\t{rss}\t900\t{rss}\t{rss}\t1\t0\t50\t{cpu}\n"
    )


def test_collect_jobs_maps_old_new_and_unknown_rules_to_stages(tmp_path):
    from speedbench.workloads import collect_jobs

    logs = tmp_path / "logs"
    write_benchmark(logs / "benchmarks" / "validate_inputs.tsv", 2.0, 300.0, 1.5)
    write_benchmark(logs / "benchmarks" / "fit_model" / "cancer.tsv", 5.0, 400.0, 4.0)
    write_benchmark(logs / "benchmarks" / "contrast_results" / "c1.tsv", 1.0, 100.0, 0.5)
    write_benchmark(logs / "benchmarks" / "differential_expression" / "normal.tsv", 6, 450, 5.5)
    write_benchmark(logs / "benchmarks" / "brand_new" / "x.tsv", 3.0, 50.0, 2.0)
    (logs / "fit_model").mkdir(parents=True)
    (logs / "fit_model" / "cancer.log").write_text("INFO compute: fit in 3.250 s (engine b)\n")
    # the per-model job's log is logs/fit_model/{model}.log: its fit and every contrast's test
    (logs / "fit_model" / "normal.log").write_text(
        "INFO compute: fit in 2.000 s (engine b)\nINFO compute: qlf test in 0.500 s\n"
    )
    sampled = {
        11: {"rule": "fit_model", "first": 0.0, "last": 5.0, "peak": 500 * 2**20},
        12: {"rule": "call_programmes", "first": 1.0, "last": 1.5, "peak": 80 * 2**20},
    }
    jobs = pd.DataFrame(collect_jobs(tmp_path, sampled)).set_index(["rule", "job"])
    assert jobs.loc[("fit_model", "cancer"), ["stage", "s", "cpu_s", "compute_s"]].tolist() == [
        "de", 5.0, 4.0, 3.25
    ]  # fmt: skip
    assert jobs.loc[("fit_model", "cancer"), "peak_tree_mb"] == 500.0
    assert jobs.loc[("differential_expression", "normal"), ["stage", "compute_s"]].tolist() == [
        "de", 2.5
    ]  # fmt: skip
    assert jobs.loc[("contrast_results", "c1"), "stage"] == "de"
    assert jobs.loc[("validate_inputs", ""), "stage"] == "validate"
    assert jobs.loc[("brand_new", "x"), "stage"] == "brand_new"
    # a rule without a benchmark file appears with its sampled lifetime
    assert jobs.loc[("call_programmes", "#0"), ["stage", "s"]].tolist() == ["programmes", 0.5]


def test_deseq2_one_model_picks_the_workflow_de_job_of_that_model_and_size(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from deseq2_one_model import workflow_de_job

    jobs = pd.DataFrame(
        [
            ("workflow", "2004x60000", 0, "differential_expression", "de", "cancer", 380.0,
             6300.0, 370.0, 360.0, 6400.0),
            ("workflow", "2004x60000", 0, "differential_expression", "de", "normal", 390.0,
             6300.0, 380.0, 365.0, 6400.0),
            ("workflow", "96x20000", 0, "differential_expression", "de", "cancer", 9.0,
             300.0, 8.0, 7.0, 310.0),
        ],
        columns=["part", "size", "repeat", "rule", "stage", "job", "s", "max_rss_mb", "cpu_s",
                 "compute_s", "peak_tree_mb"],
    )  # fmt: skip
    jobs.to_csv(tmp_path / "jobs.tsv", sep="\t", index=False)
    rows = {r["metric"]: r["value"] for r in workflow_de_job(tmp_path / "jobs.tsv", "2004x60000",
                                                             "cancer")}  # fmt: skip
    assert rows == {"wall_s": 380.0, "cpu_s": 370.0, "compute_s": 360.0, "peak_rss_mb": 6300.0}
    assert workflow_de_job(tmp_path / "jobs.tsv", "192x20000", "cancer") == []
    assert workflow_de_job(tmp_path / "missing.tsv", "2004x60000", "cancer") == []


def test_deseq2_one_model_reads_a_benchmarked_job_and_its_last_run_of_compute(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from deseq2_one_model import benchmarked_job

    bench = tmp_path / "logs" / "benchmarks" / "differential_expression" / "cancer.tsv"
    bench.parent.mkdir(parents=True)
    bench.write_text("s\th:m:s\tmax_rss\tcpu_time\n142.5\t0:02:22\t4543.6\t135.0\n")
    fit_log = tmp_path / "logs" / "fit_model" / "cancer.log"
    fit_log.parent.mkdir(parents=True)
    fit_log.write_text(
        "INFO compute: fit in 113.7 s (engine batched)\nINFO compute: qlf test in 37.0 s\n"
        "INFO compute: fit in 120.5 s (engine batched)\nINFO compute: wald test in 2.5 s\n"
        "INFO compute: wald test in 1.0 s\n"
    )
    rows = {r["metric"]: r["value"] for r in benchmarked_job("wald", bench)}
    assert rows == {"wall_s": 142.5, "cpu_s": 135.0, "peak_rss_mb": 4543.6,
                    "compute_s": pytest.approx(124.0)}  # fmt: skip


def test_deseq2_one_model_keeps_earlier_rows_it_does_not_measure_again(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from types import SimpleNamespace

    from deseq2_one_model import merged_with_previous, ratio_rows

    columns = ["size", "model", "what", "metric", "value", "load_before", "load_after"]
    earlier = pd.DataFrame(
        [("2004x60000", "cancer", "deseq2_r", "compute_s", 960.0, 0.7, 1.0),
         ("2004x60000", "cancer", "wald_job", "compute_s", 130.0, None, None),
         ("2004x60000", "cancer", "qlf_job", "compute_s", 250.0, None, None),
         ("2004x60000", "cancer", "ratio_deseq2_r_over_qlf_job", "compute_s", 3.84, None, None),
         ("192x20000", "cancer", "edger_ql", "compute_s", 38.0, 1.0, 1.2)],
        columns=columns,
    )  # fmt: skip
    earlier.to_csv(tmp_path / "one.tsv", sep="\t", index=False)  # no machine column yet
    now = pd.DataFrame(
        [("qlf_job", "compute_s", 192.0, None, None, "EPYC"),
         ("edger_ql", "compute_s", 600.0, 0.9, 1.1, "EPYC")],
        columns=[*columns[2:], "cpu"],
    )  # fmt: skip
    args = SimpleNamespace(size="2004x60000", model="cancer")
    table = merged_with_previous(now, tmp_path / "one.tsv", args)
    values = table.set_index("what")["value"].to_dict()
    # re-measured rows replace the earlier ones; another size's rows and old ratios are gone
    assert values == {"deseq2_r": 960.0, "wald_job": 130.0, "qlf_job": 192.0, "edger_ql": 600.0}
    # rows of an unknown machine are compared only with each other
    ratios = {r["what"]: r["value"] for r in ratio_rows(table)}
    assert ratios == {
        "ratio_deseq2_r_over_wald_job": pytest.approx(960 / 130),
        "ratio_edger_ql_over_qlf_job": pytest.approx(600 / 192),
    }
    table.loc[table["what"] == "deseq2_r", "cpu"] = "EPYC"
    assert {r["what"] for r in ratio_rows(table)} == {
        "ratio_deseq2_r_over_qlf_job", "ratio_edger_ql_over_qlf_job"
    }  # fmt: skip


def test_measurements_name_the_processor_they_ran_on(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n")
    assert cpu_model(info) == "AMD EPYC 7B13"
    assert cpu_model(tmp_path / "missing")  # falls back to platform.processor() or "unknown"
