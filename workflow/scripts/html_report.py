"""Rule html_report: read the run's tables once, render the self-contained report, write it."""

from msc_secretome.report import load_inputs, render_report, write_report
from msc_secretome.rule_logging import log_to_file

logger = log_to_file(snakemake)
html = render_report(**load_inputs(snakemake.input, snakemake.params).as_kwargs())
write_report(html, snakemake.output.html)
logger.info("report: %s (%.1f MB)", snakemake.output.html, len(html.encode()) / 1e6)
