"""Helpers shared by the test modules, imported as ``from helpers import ...`` (pytest puts
``tests/`` on ``sys.path``, as for ``process_scenarios``)."""

from __future__ import annotations

import contextlib
import io

from guarantee_sim.cli import main


def run_main(*argv) -> tuple[int, str, str]:
    """``main(argv)`` with stdout/stderr captured (usable from module-scoped fixtures).

    Returns the exit code, stdout and stderr; arguments may be paths or numbers.
    """
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()
