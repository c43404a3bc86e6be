"""msc_secretome: the science behind the MSC-secretome dual-benefit workflow.

Pure functions over pandas/AnnData objects; file I/O lives at the edges (``tables``) and in the
thin Snakemake adapters under ``workflow/scripts``.
"""

__version__ = "0.1.0"
