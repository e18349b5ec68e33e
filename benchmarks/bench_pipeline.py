"""The rest of a run of the default scenario (``scenarios/hangzhou_2021_2023.yaml``):
cohort grouping, one replica of the institution processes, and the whole run."""

from __future__ import annotations

import tempfile
from pathlib import Path

import guarantee_sim as gs
from guarantee_sim.engine import parameters
from guarantee_sim.engine.inputs import band_edges, build_volume_book
from guarantee_sim.engine.volumes import group_into_cohorts

from .workloads import DEFAULT, DEFAULT_RUN_OVERRIDES, TINY

#: a run of the default scenario that uses every kernel a whole run uses, in a second
WARM_UP = ["simulation.paths=2", "processes.replicas=1", "horizon.origination_years=1"]
#: whole runs take 15-50 s on a loaded 2-core machine, and compile on a cold cache
RUN_TIMEOUT = 900


def _warm_up() -> None:
    """Compile or load every jitted function a default run calls (not timed)."""
    gs.simulate(gs.load_scenario(DEFAULT, overrides=WARM_UP))


class Cohorts:
    """``group_into_cohorts`` of the default scenario's volume book (its initial book, the
    loans outstanding at the start, one record a loan: 311,225 records; all its new lending
    comes from the processes, about 9,000 records a replica), into cohorts by segment,
    grade, size band, month and tenor. The same book in tiny mode."""

    def setup_cache(self):
        scenario = parameters.central_scenario(gs.load_scenario(DEFAULT))
        return build_volume_book(scenario, scenario.simulation.seed), band_edges(scenario)

    def setup(self, built):
        self.book, self.edges = built

    def time_group_into_cohorts(self, built):
        group_into_cohorts(self.book, self.edges)

    def peakmem_group_into_cohorts(self, built):
        group_into_cohorts(self.book, self.edges)


class Processes:
    """One book replica of the institution processes (SimPy), as ``simulate()`` runs it:
    replica 0 with its drawn decision parameters, at the shipped record weight (20), the
    volume book adding to the claims. Tiny mode: the first year's lending only."""

    timeout = RUN_TIMEOUT
    rounds = 1
    repeat = (1, 5, 60.0)
    overrides: tuple = ()

    def setup(self):
        from guarantee_sim.processes.run import run_replica

        _warm_up()
        given = gs.load_scenario(
            DEFAULT, overrides=[*self.overrides, *(WARM_UP[2:] if TINY else [])]
        )
        decided = parameters.decision_parameters(given)
        scenario = parameters.central_scenario(given)
        seed = scenario.simulation.seed
        if decided:
            values = parameters.draw_replica_values(decided, seed, scenario.processes.replicas)
            scenario = parameters.replica_scenarios(scenario, decided, values)[0]
        volumes = build_volume_book(scenario, seed, skip=scenario.process_fed_segments())
        self.replica = lambda: run_replica(scenario, seed, 0, volumes)

    def time_replica(self):
        self.replica()

    def peakmem_replica(self):
        self.replica()


class ProcessesEveryApplicant(Processes):
    """The same replica at record weight 1 (every applicant simulated: about 923,000
    applications with renewals; issue 10's targets: <= 25 s, and the run <= 1.5 GB).
    About a minute a call, so not in tiny mode (skipped)."""

    repeat = (1, 2, 60.0)
    overrides = ("processes.record_weight=1",)

    def setup(self):
        if TINY:
            raise NotImplementedError("a weight-1 replica takes a minute: not at tiny sizes")
        super().setup()


class DefaultRun:
    """The README's first command on the default scenario as shipped (1,000 paths, 4 book
    replicas, cohorts): ``simulate()`` in this process with the kernels loaded, and the
    whole command (``guarantee-sim run``) in a fresh interpreter, imports included, the
    kernels loaded from the cache. Tiny mode: 50 paths, one replica of the first year."""

    timeout = RUN_TIMEOUT
    rounds = 1
    repeat = (1, 5, 60.0)
    overrides = tuple(DEFAULT_RUN_OVERRIDES)

    def setup(self):
        _warm_up()
        self.scenario = gs.load_scenario(DEFAULT, overrides=list(self.overrides))

    def time_simulate(self):
        gs.simulate(self.scenario)

    def peakmem_simulate(self):
        gs.simulate(self.scenario)

    def timeraw_command(self):
        out = Path(tempfile.gettempdir()) / "guarantee_sim_benchmark_default_run.nc"
        argv = ["run", str(DEFAULT), "--out", str(out), "-q"]
        for override in self.overrides:
            argv += ["--set", override]
        return f"from guarantee_sim.cli import main\nmain({argv!r})"
