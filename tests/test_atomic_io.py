"""One atomic-write mechanism for every output: complete under its final name or absent
(issue 18, item 5), including when the disk fills up mid-write."""

from __future__ import annotations

import errno
import gzip
import os
import re
import subprocess

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from workflow_runs import PROJECT_ROOT

from msc_secretome.atomic_io import (
    atomic_output,
    write_h5ad_atomic,
    write_npz_atomic,
    write_text_atomic,
)
from msc_secretome.tables import write_tsv, write_tsv_gz

#: Writers that bypass the mechanism, each with the reason (every other write in workflow/
#: goes through msc_secretome.atomic_io).
ALLOWED_DIRECT_WRITES = {
    "workflow/scripts/msc_secretome/atomic_io.py": "the mechanism itself",
    "workflow/scripts/msc_secretome/rule_logging.py": "the job log (kept on failure)",
    "workflow/scripts/msc_secretome/mtx_rows.py": "the shuffled 10x reader's scratch file in "
    "$TMPDIR (entries sorted by chunk, removed on close), not a result",
}
DIRECT_WRITE = re.compile(
    r"\.write_h5ad\(|np\.savez|\.to_parquet\(|\.savefig\(|\.write_text\(|\.write_bytes\("
    r"|pickle\.dump|\.to_csv\(\s*[^)\s]|open\([^)]*[\"'][wax]b?[\"']"
    r"|mkstemp|os\.replace\(|os\.rename\("  # a second temporary-then-rename mechanism
)


def test_every_writer_in_the_workflow_goes_through_atomic_io():
    offenders = []
    for path in sorted((PROJECT_ROOT / "workflow").rglob("*.py")):
        relative = str(path.relative_to(PROJECT_ROOT))
        if relative in ALLOWED_DIRECT_WRITES:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            # `table.to_csv(sep=...)` returns text (then written atomically); a path argument
            # would write directly.
            if DIRECT_WRITE.search(code) and not re.search(r"\.to_csv\(\s*(sep|$)", code):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == [], "write through msc_secretome.atomic_io:\n" + "\n".join(offenders)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "results" / "table.tsv"
    write_text_atomic("complete\n", target)
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("the job died while writing")
    assert target.read_text() == "complete\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["table.tsv"]


def test_temporary_keeps_the_suffix_and_result_has_normal_permissions(tmp_path):
    target = tmp_path / "vst.h5ad"
    with atomic_output(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".vst.")
        assert tmp.name.endswith(".tmp.h5ad")
        tmp.write_bytes(b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert (target.stat().st_mode & 0o777) == 0o666 & ~umask


def test_npz_is_data_only_byte_stable_and_round_trips(tmp_path):
    arrays = {
        "coefficients": np.arange(12, dtype=float).reshape(4, 3),
        "genes": np.array(["TP53", "CDKN1A", "BAX", "MDM2"]),
        "converged": np.array([True, False, True, True]),
    }
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    write_npz_atomic(first, arrays)
    write_npz_atomic(second, arrays)
    assert first.read_bytes() == second.read_bytes()
    with np.load(first, allow_pickle=False) as loaded:
        assert sorted(loaded.files) == sorted(arrays)
        for name, array in arrays.items():
            np.testing.assert_array_equal(loaded[name], array)
    with pytest.raises(TypeError, match="dtype object"):
        write_npz_atomic(tmp_path / "c.npz", {"bad": np.array([{"a": 1}], dtype=object)})
    assert not (tmp_path / "c.npz").exists()


def vst_like(n_samples=36, n_genes=20000, seed=0) -> ad.AnnData:
    """An AnnData the size and kind of results/qc/vst.h5ad for the example (floats)."""
    rng = np.random.default_rng(seed)
    obs = pd.DataFrame(
        {"medium": np.tile(["control", "msc_cm"], n_samples // 2)},
        index=[f"s{i}" for i in range(n_samples)],
    )
    genes = [f"ENSG{i:011d}" for i in range(n_genes)]
    var = pd.DataFrame({"symbol": [f"G{i}" for i in range(n_genes)]}, index=genes)
    return ad.AnnData(X=rng.normal(8, 2, (n_samples, n_genes)), obs=obs, var=var)


def de_like(n_genes=20000, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "gene_id": [f"ENSG{i:011d}" for i in range(n_genes)],
            "baseMean": rng.gamma(2, 200, n_genes),
            "log2FoldChange": rng.normal(0, 1, n_genes),
            "lfcSE": rng.gamma(2, 0.1, n_genes),
            "stat": rng.normal(0, 2, n_genes),
            "pvalue": rng.uniform(0, 1, n_genes),
            "padj": rng.uniform(0, 1, n_genes),
        }
    )


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs as the output folder (root only); remounted larger by the test."""
    mount_point = tmp_path / "results"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("the disk-full test mounts a tmpfs: needs root (CI runs as root)")
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if mount.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {mount.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_disk_full_leaves_no_truncated_output_and_a_rerun_completes(small_disk):
    vst, table = vst_like(), de_like(60000)  # 5.8 MB of floats; about 5 MB of TSV text
    writers = {
        "qc/vst.h5ad": lambda path: write_h5ad_atomic(vst, path),
        "de/contrast.tsv": lambda path: write_tsv(table, path),
        "models/cancer.npz": lambda path: write_npz_atomic(path, {"x": vst.X}, compress=False),
    }
    for name, write in writers.items():
        with pytest.raises(OSError) as error:
            write(small_disk / name)
        # h5py reports ENOSPC as a generic OSError whose message names the cause.
        assert error.value.errno == errno.ENOSPC or "space" in str(error.value).lower(), name
        assert not (small_disk / name).exists(), f"{name} left under its final name"
    left = [str(p.relative_to(small_disk)) for p in small_disk.rglob("*") if p.is_file()]
    assert left == [], f"temporary files left behind: {left}"
    # A compressed table that fits is still written completely on the nearly full disk.
    write_tsv_gz(table.head(2000), small_disk / "de" / "small.tsv.gz")
    assert len(gzip.decompress((small_disk / "de/small.tsv.gz").read_bytes()).splitlines()) == 2001

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    for name, write in writers.items():
        write(small_disk / name)
    np.testing.assert_array_equal(ad.read_h5ad(small_disk / "qc/vst.h5ad").X, vst.X)
    reread = pd.read_csv(small_disk / "de/contrast.tsv", sep="\t")
    assert reread.shape == table.shape and reread["gene_id"].tolist() == table["gene_id"].tolist()
    with np.load(small_disk / "models/cancer.npz", allow_pickle=False) as loaded:
        np.testing.assert_array_equal(loaded["x"], vst.X)


@pytest.mark.slow
def test_disk_full_during_a_real_job_then_rerun_completes(tmp_path):
    """The QC job of the tiny example on a full disk: nothing under its final names, rerun ok."""
    from workflow_runs import TINY, prepare_workdir, run_snakemake

    if os.geteuid() != 0:
        pytest.skip("the disk-full test mounts a tmpfs: needs root (CI runs as root)")
    overrides = prepare_workdir(tmp_path, TINY)
    # Targets go before --configfile, which takes every following word as a file.
    run_snakemake(tmp_path, "results/validated/experiment.h5ad", "--cores", "2",
                  "--configfile", str(overrides))  # fmt: skip
    qc = tmp_path / "results" / "qc"
    qc.mkdir(parents=True)
    # Room for the small QC tables, not for the VST matrix (2,000 genes x 36 samples).
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(qc)],
                           capture_output=True, text=True, check=False)  # fmt: skip
    if mount.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {mount.stderr.strip()}")
    try:
        failed = run_snakemake(tmp_path, "results/qc/vst.h5ad", "--cores", "1",
                               "--configfile", str(overrides), check=False)  # fmt: skip
        assert failed.returncode != 0
        log = (tmp_path / "logs" / "quality_control.log").read_text()
        assert "No space left on device" in log or "errno = 28" in log, log[-2000:]
        assert [p.name for p in qc.iterdir()] == [], "a partial or temporary file was left"
        subprocess.run(["mount", "-o", "remount,size=16m", str(qc)], check=True)
        run_snakemake(tmp_path, "results/qc/vst.h5ad", "--cores", "1",
                      "--configfile", str(overrides))  # fmt: skip
        vst = ad.read_h5ad(qc / "vst.h5ad")
        assert vst.n_obs == 36 and vst.n_vars > 1000
        assert sorted(p.name for p in qc.iterdir()) == [
            "library_sizes.tsv", "outliers.tsv", "pca.tsv", "pca_variance.tsv",
            "sample_distances.tsv", "vst.h5ad",
        ]  # fmt: skip
    finally:
        subprocess.run(["umount", "-l", str(qc)], check=False)
