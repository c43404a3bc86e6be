"""Logging for rule scripts: everything a job prints goes to its Snakemake log file."""

from __future__ import annotations

import atexit
import gc
import logging
import sys
from contextlib import contextmanager

LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def freeze_objects_at_exit() -> None:
    """Register :func:`gc.freeze` to run when this process exits.

    The imports of a process (pandas, scipy, anndata, PyDESeq2; Snakemake's own) create
    hundreds of thousands of objects that live until the end, and the interpreter's final
    garbage collections would traverse them all (about 0.5 s of a job that imports PyDESeq2).
    Frozen, they are skipped; exit handlers, stream flushing and module teardown run as usual.
    """
    atexit.register(gc.freeze)


def log_to_file(snakemake) -> logging.Logger:
    """Send warnings, logging and stderr of this job to ``snakemake.log[0]``.

    Also :func:`freeze_objects_at_exit`: every rule script calls this first.
    """
    freeze_objects_at_exit()
    handle = open(snakemake.log[0], "w", encoding="utf-8")
    sys.stderr = handle
    logging.basicConfig(
        stream=handle,
        level=logging.INFO,
        format=LOG_FORMAT,
        force=True,
    )
    logging.captureWarnings(True)
    logger = logging.getLogger(f"msc_secretome.{snakemake.rule}")
    logger.info(
        "rule %s, wildcards %s, threads %s",
        snakemake.rule,
        dict(snakemake.wildcards),
        snakemake.threads,
    )
    return logger


@contextmanager
def also_log_to(path: str):
    """Within the block, logging also goes to ``path`` (truncated first).

    A job that does the work of several outputs (one model's contrasts) keeps one log per
    output: what is logged while a contrast is tested goes to the job's log and to that
    contrast's own log.
    """
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
