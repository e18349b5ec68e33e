"""A fast command line: importing the package, ``--help``, ``--version`` and ``validate``
import neither Numba, SciPy's stats nor xarray (checked in fresh interpreters)."""

from __future__ import annotations

import pytest
from helpers import fresh_python

# each test starts a fresh interpreter (about half a second)
pytestmark = pytest.mark.slow

HEAVY = ("numba", "scipy.stats", "xarray", "simpy", "matplotlib")
#: the one module of the kernels' package a fast path may load: names and namedtuples, read
#: by ``validate``'s memory estimate (guarantee_sim.resources)
KERNEL_LAYOUT = {"guarantee_sim.kernels", "guarantee_sim.kernels.layout"}

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
    return fresh_python(SCRIPT.format(argv=argv), timeout=120)


@pytest.mark.parametrize(
    "argv",
    [
        None,  # import guarantee_sim; load_scenario(...)
        ["--help"],
        ["--version"],
        ["validate", "scenarios/hangzhou_2021_2023.yaml"],
        ["validate", "scenarios/county_guarantee_2021.yaml"],
        ["validate", "experiments/hangzhou_2021_2023_fee_coverage.yaml"],
        ["validate", "experiments/hangzhou_2021_2023_pool_sweep.yaml"],
        ["validate", "--strict", "tests/absurd/pd_mean_high.yaml"],
    ],
    ids=[
        "load_scenario",
        "help",
        "version",
        "validate_hangzhou",
        "validate_county",
        "validate_experiment",
        "validate_sweep",
        "validate_strict",
    ],
)
def test_fast_paths_import_nothing_heavy(argv):
    out = run(argv)
    assert out["code"] in (None, 0, 2)  # 2: --strict refuses the absurd file
    loaded = [m for m in HEAVY if m in out["modules"]]
    loaded += [
        m
        for m in out["modules"]
        if m.startswith("guarantee_sim.kernels") and m not in KERNEL_LAYOUT
    ]
    assert loaded == []


def test_version_is_the_package_version():
    from importlib.metadata import version

    from guarantee_sim import __version__

    assert version("guarantee-sim") == __version__  # pyproject.toml reads _version.py

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
    assert fresh_python(script, timeout=120) == [False, False, True]
