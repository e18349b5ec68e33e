"""A fast command line: importing the package, ``--help``, ``--version`` and ``validate``
import neither Numba, SciPy's stats nor xarray (checked in fresh interpreters)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# each test starts a fresh interpreter (about half a second)
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("numba", "scipy.stats", "xarray", "simpy", "matplotlib", "guarantee_sim.kernels")

SCRIPT = """
import contextlib, io, json, sys
argv = {argv!r}
out = io.StringIO()
code = None
with contextlib.redirect_stdout(out):
    if argv is None:
        import guarantee_sim
        guarantee_sim.load_scenario("scenarios/hangzhou_2021_2023.yaml")
    else:
        from guarantee_sim.cli import main
        try:
            code = main(argv)
        except SystemExit as exit:
            code = exit.code
print(json.dumps({{"code": code, "stdout": out.getvalue(), "modules": sorted(sys.modules)}}))
"""


def run(argv) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(argv=argv)],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "argv",
    [
        None,  # import guarantee_sim; load_scenario(...)
        ["--help"],
        ["--version"],
        ["validate", "scenarios/hangzhou_2021_2023.yaml"],
        ["validate", "scenarios/county_guarantee_2021.yaml"],
        ["validate", "experiments/hangzhou_2021_2023_fee_coverage.yaml"],
        ["validate", "--strict", "tests/absurd/pd_mean_high.yaml"],
    ],
    ids=[
        "load_scenario",
        "help",
        "version",
        "validate_hangzhou",
        "validate_county",
        "validate_experiment",
        "validate_strict",
    ],
)
def test_fast_paths_import_nothing_heavy(argv):
    out = run(argv)
    assert out["code"] in (None, 0, 2)  # 2: --strict refuses the absurd file
    loaded = [m for m in HEAVY if m in out["modules"]]
    assert loaded == []


def test_version_is_the_package_version():
    from guarantee_sim import __version__

    out = run(["--version"])
    assert out["stdout"].strip() == f"guarantee-sim {__version__}"


def test_the_accessor_comes_with_the_results_package():
    script = (
        "import json, sys, xarray as xr\n"
        "before = hasattr(xr.Dataset(), 'gs')\n"
        "import guarantee_sim\n"
        "root = hasattr(xr.Dataset(), 'gs')\n"
        "import guarantee_sim.results\n"
        "print(json.dumps([before, root, hasattr(xr.Dataset(), 'gs')]))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [False, False, True]
