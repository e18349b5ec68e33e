"""Helpers shared by the test modules, imported as ``from helpers import ...`` (pytest puts
``tests/`` on ``sys.path``, as for ``process_scenarios``)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from guarantee_sim.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_main(*argv) -> tuple[int, str, str]:
    """``main(argv)`` with stdout/stderr captured (usable from module-scoped fixtures).

    Returns the exit code, stdout and stderr; arguments may be paths or numbers.
    """
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def fresh_python(script: str, timeout: float = 300, **env_changes: str):
    """Run ``script`` in a fresh interpreter at the repository root and return the JSON of
    its last line of output.

    The package comes from this checkout; the caller's ``NUMBA_*`` settings are dropped, so
    the child sees Numba's defaults unless ``env_changes`` sets them.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_changes)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])
