"""Provenance of a run: package versions, the workflow's git state, input checksums, paths.

The one place that asks the environment what produced a result (the report's Methods section
states it). Paths are shown relative to the working directory unless ``absolute`` is asked for,
so a report sent to collaborators does not carry the lab's local directory layout.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from . import __version__
from .tables import sha256_of

PACKAGES = (
    "snakemake",
    "pydeseq2",
    "gseapy",
    "scanpy",
    "anndata",
    "pandas",
    "numpy",
    "scipy",
    "formulaic",
    "plotly",
    "jinja2",
)
#: Inputs written by the bundled simulations (the report then says it shows simulated data).
EXAMPLE_INPUTS = ("resources/example/", "resources/example_single_cell/")


def package_versions(packages: Iterable[str] = PACKAGES) -> dict[str, str]:
    """name -> installed version ('not installed' when absent), plus this package's own."""
    versions = {}
    for package in packages:
        try:
            versions[package] = importlib_metadata.version(package)
        except importlib_metadata.PackageNotFoundError:
            versions[package] = "not installed"
    versions["msc_secretome"] = __version__
    return versions


def workflow_version(directory: str | Path) -> str:
    """``<version> (<git describe>)`` of the workflow checkout, or 'not a git checkout'."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(directory), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        return f"{__version__} ({commit})"
    except (OSError, subprocess.SubprocessError):
        return f"{__version__} (not a git checkout)"


def display_path(path: Any, *, absolute: bool = False, base: str | Path | None = None) -> Any:
    """``path`` as the report shows it: relative to ``base`` (default: the working directory)
    unless ``absolute``; values that are not absolute paths come back unchanged."""
    if absolute or not isinstance(path, str) or not os.path.isabs(path):
        return path
    return os.path.relpath(path, base if base is not None else os.getcwd())


def display_paths(obj: Any, *, absolute: bool = False, base: str | Path | None = None) -> Any:
    """:func:`display_path` applied to every string of a nested config (dicts, lists)."""
    if isinstance(obj, Mapping):
        return {k: display_paths(v, absolute=absolute, base=base) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [display_paths(v, absolute=absolute, base=base) for v in obj]
    return display_path(obj, absolute=absolute, base=base)


def input_checksums(paths: Iterable[str], *, absolute: bool = False) -> list[dict[str, str]]:
    """``[{"path", "sha256"}]`` of the files among ``paths`` that exist (paths as shown)."""
    return [
        {"path": display_path(str(p), absolute=absolute), "sha256": sha256_of(p)}
        for p in paths
        if Path(p).is_file()
    ]


def is_simulated_example(paths: Iterable[str]) -> bool:
    """Whether the run's count input is one of the bundled simulations."""
    cwd = os.getcwd()
    for path in paths:
        shown = os.path.relpath(path, cwd) if os.path.isabs(str(path)) else str(path)
        if shown.replace(os.sep, "/").startswith(EXAMPLE_INPUTS):
            return True
    return False
