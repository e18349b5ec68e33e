"""A run's institution processes started before the engine is imported (``engine/early.py``).

* ``simulate(..., started=start_processes_early(...))`` is ``simulate(...)``, bit for bit,
  and so is the CLI's run, which starts them that way.
* What starts them imports none of xarray, pandas or the kernels' driver: the workers fork
  before those are imported and never import them (a worker that did would pay for them
  once per worker). Their measures come back as arrays and are stacked into the Dataset
  ``xr.concat`` of each replica's own would give.
* Started processes belong to one scenario and seed: another call is refused, and leaving
  their ``with`` block stops workers that were never collected.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
import xarray as xr
from helpers import fresh_python

import guarantee_sim as gs
from guarantee_sim.cli import main
from guarantee_sim.engine.early import start_processes_early
from guarantee_sim.processes import run_processes, run_replica
from guarantee_sim.results import read_results

SCENARIO = "scenarios/hangzhou_2021_2023.yaml"
SEED = 515
#: the shipped run made small: 8 paths, 2 book replicas that draw the bank's score noise
SMALL = [
    "processes.replicas=2",
    "simulation.paths=8",
    f"simulation.seed={SEED}",
    "processes.bank.score_noise={dist: uniform, min: 0.6, max: 1.0}",
]


def loaded(overrides: list[str]) -> gs.Scenario:
    with warnings.catch_warnings():  # "2 book replicas are too few for intervals"
        warnings.simplefilter("ignore", gs.config.ScenarioWarning)
        return gs.load_scenario(SCENARIO, overrides=overrides)


@pytest.fixture(scope="module")
def scenario():
    return loaded(SMALL)


@pytest.fixture(scope="module")
def plain(scenario):
    return simulated(scenario)


def simulated(scenario, **kwargs) -> xr.Dataset:
    ds = gs.simulate(scenario, workers=2, **kwargs)
    ds.attrs.pop("created")
    return ds


@pytest.mark.slow  # two runs of the shipped scenario's processes (about 10 s)
def test_a_run_with_its_processes_started_early_is_the_run(scenario, plain):
    with start_processes_early(scenario, workers=2) as started:
        assert started is not None and started.plan.replicas is not None  # drawn per replica
        early = simulated(scenario, started=started)
    xr.testing.assert_identical(early, plain)


@pytest.mark.slow
def test_the_command_starts_them_early_and_gives_the_same_results(scenario, plain, tmp_path):
    out = tmp_path / "run.nc"
    args = ["run", SCENARIO, "--out", str(out), "-q"]
    for override in SMALL:
        args += ["--set", override]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(args) == 0
    ds = read_results(out)
    ds.attrs.pop("created")
    xr.testing.assert_identical(ds.drop_attrs(), plain.drop_attrs())
    assert ds.attrs["scenario_yaml"] == plain.attrs["scenario_yaml"]


def test_started_processes_serve_only_their_own_scenario_and_seed(scenario):
    with start_processes_early(scenario, workers=2) as started:
        assert started is not None
        workers = list(started.under_way._pool._pool)
        with pytest.raises(ValueError, match="started"):
            gs.simulate(scenario, seed=SEED + 1, started=started)
        other = loaded(SMALL)  # equal, but not the same one
        with pytest.raises(ValueError, match="started"):
            gs.simulate(other, started=started)
    for worker in workers:  # never collected: stopped when the block was left
        worker.join(timeout=10)
        assert not worker.is_alive()


def test_nothing_is_started_where_the_replicas_would_run_here(scenario):
    assert start_processes_early(scenario, workers=1) is None
    one = loaded(["processes.replicas=1"])
    assert start_processes_early(one, workers=2) is None
    volumes = gs.load_scenario("scenarios/county_guarantee_2021.yaml")  # no processes
    assert start_processes_early(volumes, workers=2) is None


#: imported by what starts the processes; each should arrive only after the workers fork
LATER = ("xarray", "pandas", "guarantee_sim.kernels.portfolio", "guarantee_sim.engine.simulation")

START = f"""
import json, sys
import warnings
import guarantee_sim as gs
from guarantee_sim.engine.early import start_processes_early
warnings.simplefilter("ignore")
scenario = gs.load_scenario({SCENARIO!r}, overrides={SMALL!r})
before = sorted(m for m in {LATER!r} if m in sys.modules)
with start_processes_early(scenario, workers=2) as started:
    at_fork = sorted(m for m in {LATER!r} if m in sys.modules)
    replicas = started.under_way.collect()
kinds = sorted({{type(r.measures).__module__ for r in replicas}})
print(json.dumps({{"before": before, "at_fork": at_fork, "measures": kinds}}))
"""


@pytest.mark.slow  # a fresh interpreter that runs two replicas
def test_the_processes_start_before_xarray_and_the_kernels_are_imported():
    out = fresh_python(START, timeout=600)
    assert out["before"] == [] and out["at_fork"] == []
    # the workers' measures are arrays: a worker making xarray objects would import xarray
    assert out["measures"] == ["guarantee_sim.processes.measures"]


def test_stacked_measures_are_those_of_the_replicas_datasets():
    scenario = loaded(["processes.replicas=2"])
    central = gs.engine.early.process_plan(scenario, SEED).central
    together = run_processes(central, SEED, workers=1).measures
    each = [run_replica(central, SEED, r).measures for r in range(2)]
    assert all(isinstance(m, xr.Dataset) for m in each)
    xr.testing.assert_identical(together, xr.concat(each, dim="replica"))
    assert np.isfinite(together.staff_utilisation.sel(party="bank").values).all()


def test_the_engine_s_names_are_its_functions_in_any_order_of_import():
    """The engine imports its names on first use: each is the function, whichever of them
    (or their modules) came first (a module named like one of them would shadow it)."""
    script = (
        "import json\n"
        "from guarantee_sim.engine import books_key_of\n"
        "import guarantee_sim.engine.simulation\n"
        "from guarantee_sim.engine import simulate, build_inputs\n"
        "import guarantee_sim.engine.inputs\n"
        "from guarantee_sim.engine import build_volume_book\n"
        "names = [books_key_of, simulate, build_inputs, build_volume_book]\n"
        "print(json.dumps([callable(f) and type(f).__name__ == 'function' for f in names]))\n"
    )
    assert fresh_python(script) == [True, True, True, True]
