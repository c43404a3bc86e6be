"""Gene-set libraries by name (Enrichr/MSigDB), from a local cache; downloading is optional.

:func:`cached_library` returns the path of ``<cache_dir>/<name>.gmt``. A file already there is
used as it is and nothing touches the network, so a run with a filled cache is fully offline and
reproducible (the workflow records each library's SHA-256). Only when the file is missing *and*
downloading is allowed is the library fetched (by default with ``gseapy.get_library``, i.e.
from Enrichr) and written with the project's one atomic writer (readable by the group and
others as the umask allows, like every result file), so an interrupted download never leaves
a partial GMT.
Otherwise the error says exactly which file to place where.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from .atomic_io import write_bytes_atomic
from .errors import InputError
from .gmt import gmt_bytes, read_gmt

Fetcher = Callable[[str, str], Mapping[str, Iterable[str]]]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+()\-]*$")


def library_filename(name: str, organism: str = "Human") -> str:
    """File name of a cached library: ``<name>.gmt`` (``<name>.<organism>.gmt`` if not human)."""
    if not _SAFE_NAME.match(name) or name.lower().endswith(".gmt"):
        raise InputError(
            f"gene-set library name {name!r} is not a plain library name",
            fix="use an Enrichr/MSigDB library name such as KEGG_2021_Human (letters, digits, "
            "_ . + - ( ) only); give a GMT file's path under gene_sets.libraries instead",
        )
    if organism.lower() == "human":
        return f"{name}.gmt"
    if not _SAFE_NAME.match(organism):
        raise InputError(f"organism {organism!r} is not a plain word")
    return f"{name}.{organism.lower()}.gmt"


def gseapy_fetch(name: str, organism: str) -> dict[str, list[str]]:
    """Download an Enrichr library with ``gseapy.get_library`` (needs internet)."""
    import gseapy

    return gseapy.get_library(name=name, organism=organism)


def cached_library(
    name: str,
    cache_dir: str | Path,
    *,
    organism: str = "Human",
    fetch: Fetcher | bool | None = None,
) -> Path:
    """Path of the GMT of library ``name`` in ``cache_dir``, downloading it only if allowed.

    ``fetch``: ``None`` or ``False`` = offline (the default: the file must be in the cache);
    ``True`` = download with :func:`gseapy_fetch`; a callable ``fetch(name, organism)`` returning
    name -> genes = download with it (tests inject one). A cached file is always preferred and
    ``fetch`` is then never called.

    Raises :class:`InputError` naming the file to place when it is missing and downloading is
    not allowed or fails (no network, unknown library).
    """
    cache_dir = Path(cache_dir)
    filename = library_filename(name, organism)
    path = cache_dir / filename
    if path.is_file() and path.stat().st_size > 0:
        return path
    where = (
        f"place {filename} in {cache_dir}/ or download it from Enrichr/MSigDB on a machine with "
        "internet (GMT: name<TAB>description<TAB>gene...)"
    )
    if fetch is None or fetch is False:
        raise InputError(
            f"gene-set library {name!r} ({organism}) is not in the cache and downloading is off",
            path=str(path),
            fix=where + "; or allow downloading",
        )
    fetcher: Fetcher = gseapy_fetch if fetch is True else fetch
    try:
        gene_sets = fetcher(name, organism)
    except Exception as err:  # no network, unknown library, server error: all need the same fix
        raise InputError(
            f"gene-set library {name!r} ({organism}) is not in the cache and could not be "
            f"downloaded ({type(err).__name__}: {err})",
            path=str(path),
            fix=where,
        ) from err
    gene_sets = {str(k): [str(g) for g in v if str(g).strip()] for k, v in gene_sets.items()}
    gene_sets = {k: v for k, v in gene_sets.items() if k.strip() and v}
    if not gene_sets:
        raise InputError(
            f"downloading gene-set library {name!r} ({organism}) gave no gene sets",
            path=str(path),
            fix=where,
        )
    data = gmt_bytes(gene_sets, descriptions={k: name for k in gene_sets})
    _check_gmt_bytes(data, path)  # the text must read back before it enters the cache
    write_bytes_atomic(data, path)
    return path


def _check_gmt_bytes(data: bytes, path: Path) -> None:
    """Parse ``data`` as GMT with :func:`read_gmt` from a private scratch directory."""
    with tempfile.TemporaryDirectory() as scratch:
        probe = Path(scratch) / path.name
        write_bytes_atomic(data, probe)
        read_gmt(probe)
