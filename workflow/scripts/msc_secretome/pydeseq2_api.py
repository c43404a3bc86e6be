"""The PyDESeq2 names the package uses, imported without pyplot until something draws.

``pydeseq2.utils`` imports ``matplotlib.pyplot`` at module level for its plotting helpers
(``make_scatter``, ``make_MA_plot``), which the workflow never calls. Executing pyplot is
about 0.4 s of each DE, leave-one-out refit and QC job's start-up (median of 6 interleaved
imports of ``pydeseq2.dds`` on a 2-core VM: 2.27 s instead of 2.70 s). So before PyDESeq2 is
imported, ``matplotlib.pyplot`` is registered as a lazy module
(:class:`importlib.util.LazyLoader`, the standard library's lazy-import recipe): the import
statement binds it, and the first attribute access (a PyDESeq2 plot, scanpy, the user) runs
pyplot in full. PyDESeq2 itself is imported and used unchanged. Every module of the package
takes PyDESeq2 from here, so this happens before any PyDESeq2 import.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys


def defer_import(name: str) -> None:
    """Register module ``name`` (``package.module``) as lazy unless it is already imported.

    Its parent package is imported now, the module itself on first attribute access. A name
    that cannot be found is left alone (the later import raises as usual).
    """
    if name in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:  # the parent package is missing
        return
    if spec is None or spec.loader is None:
        return
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(importlib.import_module(parent), child, module)


defer_import("matplotlib.pyplot")

from pydeseq2 import utils  # noqa: E402
from pydeseq2.dds import DeseqDataSet  # noqa: E402
from pydeseq2.default_inference import DefaultInference  # noqa: E402

__all__ = ["DefaultInference", "DeseqDataSet", "defer_import", "utils"]
