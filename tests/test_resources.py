"""A run that cannot fit in memory is refused before any work, with the estimate.

``--paths 10000000`` allocated for a while and died with a MemoryError traceback. The
estimate is the results contract's per-path arrays (kernels/layout.py) for the scenario's
sizes, times a stated peak factor; the machine's available memory is replaced here so the
tests do not depend on the machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_main

from guarantee_sim import resources
from guarantee_sim.config import load_scenario
from guarantee_sim.kernels.layout import PARTY_VARIABLES, SEGMENT_VARIABLES, YEAR_VARIABLES

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = ROOT / "tests/invalid/_valid_minimal.yaml"
PROCESSES = ROOT / "tests/invalid/_valid_processes.yaml"
EXPERIMENT = ROOT / "tests/invalid_experiments/_valid.yaml"


def test_the_estimate_counts_the_contracts_arrays_for_the_scenarios_sizes():
    scenario = load_scenario(MINIMAL)  # 3 years, 1 segment, 3 parties (+ unabsorbed), 1 target
    assert (len(SEGMENT_VARIABLES), len(PARTY_VARIABLES), len(YEAR_VARIABLES)) == (11, 19, 3)
    estimate = resources.estimate_memory(scenario, paths=1000, variants=2)
    per_path = 8 * (3 * (11 * 1 + 19 * 4 + 3) + 1)  # 2,168 bytes
    assert estimate.per_path == per_path
    assert estimate.needed == resources.PEAK_FACTOR * per_path * 1000 * 2


@pytest.fixture
def machine_with(monkeypatch):
    def set_available(nbytes):
        monkeypatch.setattr(resources, "available_memory", lambda: nbytes)

    return set_available


def test_run_validate_and_compare_refuse_what_cannot_fit(machine_with, tmp_path):
    machine_with(10**9)  # 1 GB: 10^7 paths of the minimal scenario need 2 x 2,168 x 10^7 B
    out = tmp_path / "r.nc"
    rc, _, err = run_main("run", MINIMAL, "--paths", 10_000_000, "--out", out)
    assert rc == 2 and "Traceback" not in err
    assert err.startswith("error: --paths = 10,000,000: the run needs about 43.4 GB")
    assert "more than the 1.0 GB available: use at most about 230,627 paths" in err
    assert not out.exists()
    rc, _, err = run_main("validate", MINIMAL, "--set", "simulation.paths=10000000")
    assert rc == 2 and err.startswith("error: simulation.paths = 10,000,000: ")
    rc, _, err = run_main("compare", EXPERIMENT, "--paths", 10_000_000, "--out", out)
    assert rc == 2 and "variants x 10,000,000 paths" in err and not out.exists()


def test_a_run_taking_most_of_the_memory_is_warned_about(machine_with):
    machine_with(10**9)
    rc, out, err = run_main("validate", MINIMAL, "--set", "simulation.paths=150000")  # 0.65 GB
    assert rc == 0 and "valid scenario" in out
    assert err.startswith("warning: simulation.paths = 150,000: the run needs about 0.7 GB")
    assert "more than 50% of the 1.0 GB available" in err
    rc, _, err = run_main("validate", MINIMAL)  # 20 paths: nothing said
    assert rc == 0 and err == ""


# --------------------------------------------------------------------------- time


def test_the_time_estimate_counts_the_scenarios_work():
    """Kernels: paths x loan-years / the measured rate; processes: once per replica, the
    simulated applications (real ones / record weight) x the measured cost of one."""
    scenario = load_scenario(MINIMAL)  # 30 loans a year, tenor 12, one origination year
    assert resources.loan_years(scenario) == 30 * 2  # two calendar-year windows each
    one, ten = (resources.estimate_time(scenario, paths=n) for n in (1000, 10_000))
    assert one.kernels == pytest.approx(1000 * 60 / resources.LOAN_YEARS_PER_SECOND["loan"])
    assert ten.kernels == pytest.approx(10 * one.kernels) and one.processes == 0.0
    # three origination years of a 12-month tenor: a loan made in year 1 may renew twice
    three = load_scenario(MINIMAL, overrides=["horizon.origination_years=3"])
    assert resources.loan_years(three) == pytest.approx(30 * 3 * 2 * (1 + 0.5 + 0.25))

    fed = load_scenario(PROCESSES)
    coarse = load_scenario(PROCESSES, overrides=["processes.replicas=2"])
    a, b = resources.estimate_time(fed, 10), resources.estimate_time(coarse, 10)
    assert a.processes > 0 and b.processes == pytest.approx(2 * a.processes)
    assert a.kernels == pytest.approx(b.kernels)  # the paths' work does not depend on replicas


def test_a_long_run_is_warned_about_by_validate_and_run(monkeypatch, tmp_path):
    monkeypatch.setattr(resources, "WARN_SECONDS", 0.0)
    rc, out, err = run_main("validate", MINIMAL)
    assert rc == 0 and "valid scenario" in out
    assert err.startswith("warning: simulation.paths = 20: the run will take about 0 s")
    assert "kernels" in err and "order of magnitude" in err
    rc, _, err = run_main("run", MINIMAL, "--paths", 5, "--out", tmp_path / "r.nc")
    assert rc == 0 and "warning: --paths = 5: the run will take about" in err
