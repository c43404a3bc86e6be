"""msc_secretome.pydeseq2_api: PyDESeq2 without pyplot at import, and pyplot intact on use."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "workflow" / "scripts"


def run_fresh(body: str) -> str:
    """Run ``body`` in a fresh interpreter (imports are per process); returns its stdout."""
    code = f"import sys\nsys.path.insert(0, {str(SCRIPTS)!r})\n" + textwrap.dedent(body)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_pyplot_is_not_run_at_import_and_runs_in_full_on_first_use():
    out = run_fresh(
        """
        from msc_secretome import differential_expression, qc  # every PyDESeq2 user
        from msc_secretome.pydeseq2_api import utils
        print(type(sys.modules["matplotlib.pyplot"]).__name__)  # type() does not load it
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        figure, axes = plt.subplots()
        axes.plot([0, 1], [1, 0])
        print(
            type(plt).__name__,
            plt is matplotlib.pyplot is utils.plt is sys.modules["matplotlib.pyplot"],
            len(plt.get_fignums()),
        )
        """
    )
    assert out.split() == ["_LazyModule", "module", "True", "1"]


def test_a_module_imported_before_is_left_alone():
    out = run_fresh(
        """
        import matplotlib.pyplot as plt
        from msc_secretome.pydeseq2_api import defer_import, utils
        defer_import("matplotlib.pyplot")
        defer_import("no_such_package.module")
        print(type(utils.plt).__name__, utils.plt is plt, "no_such_package.module" in sys.modules)
        """
    )
    assert out.split() == ["module", "True", "False"]
