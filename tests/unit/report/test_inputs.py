"""The report's inputs are read once from files in the layout the workflow writes."""

from __future__ import annotations

from types import SimpleNamespace

from report_fixtures import make_report_inputs
from stage_fixtures import secretome_tables, validation_tables

from msc_secretome.gmt import write_gmt
from msc_secretome.outliers import OUTLIER_COLUMNS
from msc_secretome.report import ReportInputs, load_inputs, render_report
from msc_secretome.report.inputs import SECRETOME_TABLES
from msc_secretome.tables import write_tsv


def _write_run(tmp_path) -> tuple[SimpleNamespace, SimpleNamespace, dict]:
    kw = make_report_inputs(n_genes=60, n_contrasts=2)
    names = list(kw["de"])
    path = {}
    for key in ("samples", "library_sizes", "pca", "pca_variance", "contrasts"):
        path[key] = tmp_path / f"{key}.tsv"
        write_tsv(kw[key], path[key])
    path["distances"] = tmp_path / "distances.tsv"
    write_tsv(kw["distances"], path["distances"], index=True)
    path["outliers"] = tmp_path / "outliers.tsv"
    write_tsv(kw["samples"].iloc[0:0].reindex(columns=OUTLIER_COLUMNS), path["outliers"])
    for key, name in (("calls", "programme_calls"), ("dual_benefit", "dual_benefit")):
        path[key] = tmp_path / f"{name}.tsv"
        write_tsv(kw[name], path[key])
    path["libraries"] = tmp_path / "libraries.tsv"
    libraries = kw["libraries"].assign(path=str(tmp_path / "lib.gmt"))
    write_tsv(libraries, path["libraries"])
    for key, table in validation_tables(kw["samples"]).items():
        path[key] = tmp_path / f"{key}.tsv"
        write_tsv(table, path[key])
    path["sample_scores"] = tmp_path / "sample_scores.tsv"
    write_tsv(kw["sample_scores"], path["sample_scores"])
    path["gene_mapping"] = tmp_path / "gene_mapping.tsv"
    write_tsv(kw["gene_mapping"], path["gene_mapping"])
    path["programmes_gmt"] = tmp_path / "programmes.gmt"
    write_gmt(kw["programme_gene_sets"], path["programmes_gmt"])
    de, enrichment, ora = [], [], []
    for name in names:
        for store, table, suffix in ((de, kw["de"], ""), (enrichment, kw["enrichment"], ".gsea")):
            store.append(tmp_path / f"{name}{suffix}.tsv")
            write_tsv(table[name], store[-1])
        ora.append(tmp_path / f"{name}.ora.tsv")
        write_tsv(kw["ora"][name], ora[-1])
    counts = tmp_path / "resources" / "example" / "counts.tsv.gz"
    counts.parent.mkdir(parents=True)
    counts.write_bytes(b"simulated")
    inputs = SimpleNamespace(
        **{k: str(v) for k, v in path.items()}, de=de, enrichment=enrichment, ora=ora,
        single_cell=[], secretome=[],
    )  # fmt: skip
    params = SimpleNamespace(
        contrasts=names,
        config={"counts": str(counts), "roles": {"therapy": {"none": "none"}}},
        models={"m": {"name": "m", "design": "~ medium", "subset": {"cell_type": ["cancer"]},
                      "reference": {}}},
        inputs=[str(counts)],
        workflow_dir=str(tmp_path),
        absolute_paths=False,
    )  # fmt: skip
    return inputs, params, kw


def test_inputs_are_read_once_with_relative_paths(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    inputs, params, kw = _write_run(tmp_path)
    loaded = load_inputs(inputs, params)
    assert isinstance(loaded, ReportInputs)
    assert list(loaded.de) == list(kw["de"]) and loaded.outliers.empty
    assert loaded.samples["sample"].tolist() == kw["samples"]["sample"].tolist()
    assert loaded.methods["simulated_example"] is True
    assert loaded.methods["config"]["counts"] == "resources/example/counts.tsv.gz"
    assert loaded.methods["inputs"][0]["path"] == "resources/example/counts.tsv.gz"
    assert set(loaded.libraries["path"]) == {"lib.gmt"}
    assert loaded.methods["models"][0]["subset"] == "cell_type=cancer"
    assert loaded.validation_summary["status"].tolist()[-1] == "warning"
    assert loaded.count_summary_rows.columns[4] == "N_unmapped"
    page = render_report(**loaded.as_kwargs())
    assert 'id="input-warnings"' in page and 'id="fig-summary-rows"' in page
    assert 'id="example-banner"' in page and str(tmp_path) not in page


def test_absolute_paths_on_request(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    inputs, params, _ = _write_run(tmp_path)
    params.absolute_paths = True
    loaded = load_inputs(inputs, params)
    assert loaded.methods["config"]["counts"].startswith(str(tmp_path))
    assert set(loaded.libraries["path"]) == {str(tmp_path / "lib.gmt")}


def test_secretome_tables_are_read_when_the_stage_ran(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    inputs, params, kw = _write_run(tmp_path)
    assert load_inputs(inputs, params).secretome is None  # disabled: no paths
    tables = secretome_tables(list(kw["de"]), kw["samples"])
    inputs.secretome = []
    for name in SECRETOME_TABLES:
        inputs.secretome.append(str(tmp_path / f"secretome_{name}.tsv"))
        write_tsv(tables[name], inputs.secretome[-1])
    loaded = load_inputs(inputs, params).secretome
    assert list(loaded) == list(SECRETOME_TABLES)
    assert loaded["links"]["chain"].fillna("").tolist() == tables["links"]["chain"].tolist()
    assert loaded["verdict_factors"]["rank"].tolist() == [1, 2, 1]  # two contrasts
    assert loaded["sample_scores"]["sample"].tolist() == kw["samples"]["sample"].tolist()
    assert loaded["methods"]["key"].iloc[0] == "ligand_receptor_resource"
