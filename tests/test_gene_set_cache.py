"""Gene-set library cache: offline hits, clear misses, atomic writes; no real network calls."""

from __future__ import annotations

import shutil

import pytest

from msc_secretome.errors import InputError
from msc_secretome.gene_set_cache import cached_library, library_filename
from msc_secretome.gmt import read_gmt


def no_network(name, organism):
    raise AssertionError(f"fetch must not be called for a cached library ({name}, {organism})")


def test_cache_hit_uses_the_local_file_without_fetching(tmp_path):
    path = tmp_path / "MyLib_2024.gmt"
    path.write_text("SET_A\tNA\tTP53\tMDM2\nSET_B\tNA\tCDKN1A\n")
    before = path.read_bytes()
    for fetch in (no_network, True, None, False):
        found = cached_library("MyLib_2024", tmp_path, fetch=fetch)
        assert found == path
    assert path.read_bytes() == before
    assert read_gmt(found) == {"SET_A": ["TP53", "MDM2"], "SET_B": ["CDKN1A"]}


@pytest.mark.shared
def test_cache_hit_with_a_reference_gmt(reference_dir, tmp_path):
    source = reference_dir / "genesets" / "progeny_human_top100_up.gmt"
    shutil.copyfile(source, tmp_path / "progeny_up.gmt")  # a copy in a temporary cache only
    found = cached_library("progeny_up", tmp_path, fetch=no_network)
    assert read_gmt(found) == read_gmt(source)


@pytest.mark.parametrize("fetch", [None, False])
def test_cache_miss_offline_names_the_file_to_place(tmp_path, fetch):
    cache = tmp_path / "gene_sets"
    with pytest.raises(InputError) as err:
        cached_library("KEGG_2021_Human", cache, fetch=fetch)
    text = str(err.value)
    assert f"place KEGG_2021_Human.gmt in {cache}/" in text
    assert "download it from Enrichr/MSigDB on a machine with internet" in text
    assert not cache.exists() or not any(cache.iterdir())


def test_failed_download_names_the_file_to_place(tmp_path):
    def offline(name, organism):
        raise ConnectionError("Name or service not known")

    with pytest.raises(InputError) as err:
        cached_library("GO_Biological_Process_2023", tmp_path, fetch=offline)
    text = str(err.value)
    assert "could not be downloaded (ConnectionError: Name or service not known)" in text
    assert f"place GO_Biological_Process_2023.gmt in {tmp_path}/" in text
    assert list(tmp_path.iterdir()) == []


def test_cache_miss_with_fetch_writes_the_gmt_once(tmp_path):
    calls = []

    def fake_fetch(name, organism):
        calls.append((name, organism))
        return {"Apoptosis": ["BAX", "BBC3", "BAX"], "Empty": [], "p53 signalling": ["TP53"]}

    cache = tmp_path / "cache"
    path = cached_library("Fake_Lib", cache, fetch=fake_fetch)
    assert path == cache / "Fake_Lib.gmt"
    assert calls == [("Fake_Lib", "Human")]
    assert read_gmt(path) == {"Apoptosis": ["BAX", "BBC3"], "p53 signalling": ["TP53"]}
    assert [p.name for p in cache.iterdir()] == ["Fake_Lib.gmt"]  # no temporary file left
    assert cached_library("Fake_Lib", cache, fetch=fake_fetch) == path
    assert len(calls) == 1  # the second call is a cache hit

    mouse = cached_library("Fake_Lib", cache, organism="Mouse", fetch=fake_fetch)
    assert mouse.name == "Fake_Lib.mouse.gmt" and calls[-1] == ("Fake_Lib", "Mouse")


def test_empty_download_is_refused(tmp_path):
    with pytest.raises(InputError, match="gave no gene sets"):
        cached_library("Nothing", tmp_path, fetch=lambda name, organism: {})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "lib.gmt", "", " spaced"])
def test_library_names_must_be_plain(name):
    with pytest.raises(InputError, match="not a plain library name"):
        library_filename(name)


def test_downloaded_library_is_readable_by_others_of_a_shared_cache(tmp_path):
    """Issue #17 defect 3: the cached GMT gets the umask mode (0644), not mkstemp's 0600."""
    import os

    previous = os.umask(0o022)
    try:
        path = cached_library("Shared_Lib", tmp_path, fetch=lambda name, organism: {"S": ["TP53"]})
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644
    assert read_gmt(path) == {"S": ["TP53"]}


def test_cache_and_results_use_the_one_atomic_writer(tmp_path, monkeypatch):
    """The cache has no writer of its own: it goes through msc_secretome.atomic_io."""
    from msc_secretome import atomic_io, gene_set_cache, gmt

    written = []
    real = atomic_io.write_bytes_atomic

    def spy(data, path):
        written.append(path)
        real(data, path)

    monkeypatch.setattr(gene_set_cache, "write_bytes_atomic", spy)
    monkeypatch.setattr(gmt, "write_bytes_atomic", spy)
    path = cached_library("Spy_Lib", tmp_path, fetch=lambda name, organism: {"S": ["TP53"]})
    gmt.write_gmt({"S": ["TP53"]}, tmp_path / "frozen.gmt")
    # (the cache's read-back check also writes a scratch copy outside tmp_path)
    assert [p for p in written if tmp_path in p.parents] == [path, tmp_path / "frozen.gmt"]
