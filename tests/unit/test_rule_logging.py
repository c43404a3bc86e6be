"""msc_secretome.rule_logging: a job's log, and the job process's exit without a final GC sweep."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "workflow" / "scripts"

# A rule script as Snakemake runs it: a fresh interpreter with a `snakemake` object; the
# handler registered first runs last at exit (atexit is last in, first out), so it sees what
# log_to_file's exit handler left.
JOB = textwrap.dedent(
    """
    import atexit, gc, sys, types
    sys.path.insert(0, {scripts!r})
    import pandas as pd

    def report():
        with open({report!r}, "w") as handle:
            handle.write(str(gc.get_freeze_count()))

    atexit.register(report)
    from msc_secretome.rule_logging import log_to_file

    snakemake = types.SimpleNamespace(log=[{log!r}], rule="demo", wildcards={{}}, threads=1)
    logger = log_to_file(snakemake)
    table = pd.DataFrame({{"a": range(1000)}})
    cycle = []
    cycle.append(cycle)  # a reference cycle alive at exit, as jobs leave them
    logger.info("last line %d", len(table))
    print("to stderr", file=sys.stderr)
    """
)


def test_a_job_freezes_its_objects_at_exit_and_its_log_is_complete(tmp_path):
    log, report = tmp_path / "job.log", tmp_path / "freeze_count.txt"
    script = JOB.format(scripts=str(SCRIPTS), report=str(report), log=str(log))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # frozen at exit: the interpreter's final collections skip these objects
    assert int(report.read_text()) > 10_000
    lines = log.read_text().splitlines()
    assert "rule demo, wildcards {}, threads 1" in lines[0]
    assert lines[-2].endswith("INFO last line 1000")
    assert lines[-1] == "to stderr"
