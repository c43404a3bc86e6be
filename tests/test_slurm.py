"""Snakemake through a real SLURM cluster with profiles/slurm.

Needs a running cluster; CI starts a single-node one with `.ci/slurm/start-slurm.sh`
(stop it with `.ci/slurm/stop-slurm.sh`). Without one these tests are skipped.

The helpers (`slurm_available`, `run_snakemake`, `slurm_job_info`, the `slurm_cluster`
fixture) are meant to be reused by tests that run the project workflow through SLURM.

Run time is set by the plugin's status polling, not by the jobs: the first check comes
after 2 s (profiles/slurm), then the interval grows by 10 s after every check in which no
job succeeded (a failed job does not reset it), so expect ~14 s per level of the DAG.
Here: ~30 s for the successful run, ~70 s for the failing one (retried once).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SLURM_PROFILE = PROJECT_ROOT / "profiles" / "slurm"
SNAKEMAKE_TIMEOUT = 300  # seconds; the workflows here take 30-70 s

pytestmark = pytest.mark.slurm

SUBMITTED_RE = re.compile(r"Job \d+ has been submitted with SLURM jobid (\d+)")
FAILED_RE = re.compile(r"SLURM-job '(\d+)' failed, SLURM status is: '(\w+)'")


# --------------------------------------------------------------------------- helpers
def slurm_available() -> tuple[bool, str]:
    """(True, "") if a SLURM cluster answers, else (False, reason to skip)."""
    if shutil.which("sinfo") is None:
        return False, "sinfo not on PATH: no SLURM client (CI starts one: .ci/slurm/start-slurm.sh)"
    try:
        proc = subprocess.run(
            ["sinfo", "-h"], capture_output=True, text=True, timeout=30, check=False
        )
    except subprocess.TimeoutExpired:
        return False, "SLURM cluster does not answer: `sinfo -h` timed out after 30 s"
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        return False, (
            f"SLURM cluster does not answer: `sinfo -h` exited {proc.returncode}"
            + (f" ({detail[-1]})" if detail else "")
            + "; start it with .ci/slurm/start-slurm.sh"
        )
    return True, ""


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """Skip the requesting test unless a SLURM cluster answers."""
    ok, reason = slurm_available()
    if not ok:
        pytest.skip(reason)


def snakemake_env() -> dict[str, str]:
    """Environment for a snakemake child: this interpreter's bin first on PATH (the
    SLURM jobs inherit it through sbatch --export=ALL), no SLURM_* job variables from
    an enclosing job, no user profile."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("SLURM_") and k != "SLURM_CONF") and k != "SNAKEMAKE_PROFILE"
    }
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def run_snakemake(
    args: list[str], cwd: Path, timeout: float = SNAKEMAKE_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run `python -m snakemake ARGS` in CWD with this interpreter.

    Returns a CompletedProcess whose `stdout` holds stdout and stderr interleaved.
    On timeout snakemake gets SIGINT (it then scancels its SLURM jobs; it may ignore
    SIGTERM), then SIGKILL after 60 s, and the test fails with the output so far.
    """
    cmd = [sys.executable, "-m", "snakemake", *map(str, args)]
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=snakemake_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        queue = subprocess.run(["squeue", "-a"], capture_output=True, text=True, check=False).stdout
        pytest.fail(
            f"snakemake timed out after {timeout} s: {' '.join(cmd)}\n"
            f"--- output ---\n{out[-5000:]}\n--- squeue ---\n{queue}"
        )
    return subprocess.CompletedProcess(cmd, proc.returncode, out, "")


def slurm_args(workdir: Path, *extra: str) -> list[str]:
    """Arguments for a run of the workflow in WORKDIR through profiles/slurm."""
    return ["--workflow-profile", str(SLURM_PROFILE), "--directory", str(workdir), *extra]


def submitted_job_ids(output: str) -> list[str]:
    """SLURM job ids that the slurm executor reported submitting (in order)."""
    return SUBMITTED_RE.findall(output)


def slurm_job_info(job_id: str) -> dict[str, str]:
    """`scontrol show job` as a dict (finished jobs stay visible for MinJobAge)."""
    proc = subprocess.run(
        ["scontrol", "-o", "show", "job", job_id],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return dict(field.split("=", 1) for field in proc.stdout.split() if "=" in field)


def write_workflow(workdir: Path, snakefile: str) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "Snakefile").write_text(textwrap.dedent(snakefile))


def _fmt(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- snakemake output ---\n{result.stdout[-8000:]}"


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --------------------------------------------------------------------------- tests
PARALLEL_WORKFLOW = """
localrules: all

rule all:
    input:
        "results/summary.txt",

rule make_data:
    output:
        "results/data_{i}.txt",
    resources:
        mem_mb=300,
        runtime=5,
    shell:
        "echo job=${{SLURM_JOB_ID:-none}} host=$(hostname) > {output}; sleep 3"

rule summarize:
    input:
        expand("results/data_{i}.txt", i=[1, 2]),
    output:
        "results/summary.txt",
    threads: 2
    resources:
        mem_mb=700,
        runtime=4,
    shell:
        "{{ cat {input}; "
        "echo job=${{SLURM_JOB_ID:-none}} cpus=${{SLURM_CPUS_PER_TASK:-none}}; }} > {output}"
"""


@pytest.mark.slow  # three sbatch jobs polled to COMPLETED: about 30 s
def test_workflow_runs_as_slurm_jobs(slurm_cluster, tmp_path):
    write_workflow(tmp_path, PARALLEL_WORKFLOW)

    result = run_snakemake(slurm_args(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, _fmt(result)

    job_of = {}
    for name in ("data_1", "data_2", "summary"):
        text = (tmp_path / "results" / f"{name}.txt").read_text()
        ids = re.findall(r"^job=(\S+)", text, flags=re.MULTILINE)
        assert ids, f"{name}.txt has no job= line:\n{text}"
        job_of[name] = ids[-1]  # summary.txt repeats the data lines first
    assert "none" not in job_of.values(), f"a rule ran outside SLURM: {job_of}\n{_fmt(result)}"
    assert all(j.isdigit() for j in job_of.values()), job_of
    assert len(set(job_of.values())) == 3, f"expected three distinct SLURM jobs: {job_of}"

    # every job the rules saw was submitted by the executor (sbatch) ...
    submitted = submitted_job_ids(result.stdout)
    assert sorted(submitted) == sorted(job_of.values()), (submitted, job_of)

    # ... and SLURM knows them as completed batch jobs of one snakemake run
    info = {name: slurm_job_info(job) for name, job in job_of.items()}
    for name, job in info.items():
        assert job["BatchFlag"] == "1", f"{name}: not an sbatch job: {job}"
        assert job["JobState"] == "COMPLETED", f"{name}: {job['JobState']}"
    assert len({job["JobName"] for job in info.values()}) == 1, "jobs of one run share its name"

    # the resources of the rule reached sbatch: threads -> CPUs, mem_mb -> --mem, runtime -> -t
    summary = info["summary"]
    assert summary["NumCPUs"] == "2", summary
    assert summary["MinMemoryNode"] == "700M", summary
    assert summary["TimeLimit"] == "00:04:00", summary
    assert summary["Partition"] == "debug", summary
    assert "cpus=2" in (tmp_path / "results" / "summary.txt").read_text()

    # the two independent make_data jobs ran at the same time
    a, b = info["data_1"], info["data_2"]
    assert _time(a["StartTime"]) < _time(b["EndTime"]), (a, b)
    assert _time(b["StartTime"]) < _time(a["EndTime"]), (a, b)


FAILING_WORKFLOW = """
rule fail:
    output:
        "results/never.txt",
    resources:
        mem_mb=lambda wildcards, attempt: 200 * attempt,
        runtime=2,
    shell:
        "echo about to fail; exit 3"
"""


@pytest.mark.slow  # two SLURM submissions (a retry) polled to FAILED: about 70 s
def test_failing_rule_fails_the_run(slurm_cluster, tmp_path):
    write_workflow(tmp_path, FAILING_WORKFLOW)

    result = run_snakemake(slurm_args(tmp_path), cwd=tmp_path)

    assert result.returncode != 0, _fmt(result)
    failures = FAILED_RE.findall(result.stdout)
    assert failures, f"no SLURM failure reported\n{_fmt(result)}"
    assert all(state == "FAILED" for _, state in failures), failures
    assert not (tmp_path / "results" / "never.txt").exists()

    # profiles/slurm sets retries: 1: the job was submitted twice, the second time with
    # the memory that the rule asks for on attempt 2
    submitted = submitted_job_ids(result.stdout)
    assert len(submitted) == 2, f"expected 1 retry, got submissions {submitted}\n{_fmt(result)}"
    assert {job for job, _ in failures} == set(submitted)
    info = [slurm_job_info(job) for job in submitted]
    assert [job["JobState"] for job in info] == ["FAILED", "FAILED"], info
    assert [job["MinMemoryNode"] for job in info] == ["200M", "400M"], info
