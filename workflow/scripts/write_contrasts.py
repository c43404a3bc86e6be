"""Rule write_contrasts: the models and contrasts this run uses, as a contrasts file to edit."""

from msc_secretome.contrast_derivation import contrasts_yaml
from msc_secretome.rule_logging import log_to_file
from msc_secretome.tables import write_text_atomic

logger = log_to_file(snakemake)
params = snakemake.params
text = contrasts_yaml(params.contrasts_file, derived=params.derived, source=params.source)
write_text_atomic(text, snakemake.output.contrasts)
logger.info("wrote %d contrasts", len(params.contrasts_file["contrasts"]))
