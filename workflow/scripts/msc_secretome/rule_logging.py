"""Logging for rule scripts: everything a job prints goes to its Snakemake log file."""

from __future__ import annotations

import logging
import sys


def log_to_file(snakemake) -> logging.Logger:
    """Send warnings, logging and stderr of this job to ``snakemake.log[0]``."""
    handle = open(snakemake.log[0], "w", encoding="utf-8")
    sys.stderr = handle
    logging.basicConfig(
        stream=handle,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
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
