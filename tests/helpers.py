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


def quad_posterior(
    y: float, noise: float, window=None, *, mu: float, sigma: float, years: float = 0.0
) -> float:
    """E[expit(L) | score y, the bank's decision, no default in ``years``] by adaptive
    quadrature: the oracle for ``processes.decisions``' posteriors.

    The prior of the logit PD L is N(``mu``, ``sigma``²); the score y = L + noise. L | y is
    N(m, v); the bank's decision multiplies it by P(bank's score in ``window`` | L) (none:
    the bank's own prior), and a loan repaid for ``years`` by the survival
    ``(1 - expit(L))^years``. The log-density is normalised by its maximum on a grid so
    that a window in the tail does not underflow.
    """
    import math

    import numpy as np
    from scipy import integrate, special

    m = (mu * noise**2 + y * sigma**2) / (sigma**2 + noise**2)
    sd = math.sqrt(sigma**2 * noise**2 / (sigma**2 + noise**2))
    lo, hi = m - 40 * sd, m + 40 * sd
    if window is not None and window.noise == 0:
        lo, hi = max(lo, window.lo), min(hi, window.hi)

    def log_w(L):
        if window is None or window.noise == 0:
            return np.zeros_like(L)
        a, b = (window.lo - L) / window.noise, (window.hi - L) / window.noise
        upper = a > 0  # both in the upper tail: the survival function keeps the digits
        mass = np.where(
            upper, special.ndtr(-a) - special.ndtr(-b), special.ndtr(b) - special.ndtr(a)
        )
        with np.errstate(divide="ignore"):
            return np.log(mass)

    def log_f(L):
        survival = -years * np.logaddexp(0.0, L)  # log (1 - expit(L))^years
        return -0.5 * ((L - m) / sd) ** 2 + log_w(L) + survival

    grid = np.linspace(lo, hi, 4001)
    top, peak = log_f(grid).max(), grid[log_f(grid).argmax()]

    def f(L):
        return math.exp(float(log_f(np.float64(L))) - top)

    edges = [peak] + ([window.lo, window.hi] if window is not None else [])
    points = sorted({p for p in edges if lo + 1e-9 < p < hi - 1e-9}) or None
    kw = {"points": points, "epsabs": 0.0, "epsrel": 1e-12, "limit": 1000}
    numerator = integrate.quad(lambda L: special.expit(L) * f(L), lo, hi, **kw)[0]
    return numerator / integrate.quad(f, lo, hi, **kw)[0]
