"""Start a run's institution processes before the rest of the engine is imported.

A run's first seconds are imports (Numba, SciPy, xarray, pandas, the kernels), on one
core; its institution processes then run in forked workers, one per core. The processes
need only part of those imports (this module's), so the CLI loads the scenario, calls
:func:`start_processes_early` (which forks the workers: they start their replicas at
once) and imports the rest while they run; :func:`~guarantee_sim.engine.simulate` then
collects the replicas instead of starting them (``simulate(..., started=...)``).

What the workers compute is what ``simulate`` would have them compute, from the same
plan (:func:`process_plan`): the results are the same, bit for bit
(``tests/test_early.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..book import LoanBook
from ..config.schema import Scenario
from ..processes.run import start_processes
from ..processes.workers import ReplicasUnderWay
from .parameters import (
    UncertainParameter,
    central_scenario,
    decision_parameters,
    draw_replica_values,
    replica_scenarios,
)
from .volumes import build_volume_book


@dataclass(frozen=True)
class ProcessPlan:
    """What a run's institution processes are given: the scenario as the lenders see it
    (``central``: uncertain parameters at their centres), each replica's drawn decision
    parameters, and the book of the lending they do not decide (``volumes``)."""

    central: Scenario
    decided: list[UncertainParameter]  # the decision parameters drawn per book replica
    per_replica: np.ndarray  # [replica, parameter]: their drawn values
    replicas: list[Scenario] | None  # each replica's scenario; None: all run ``central``
    volumes: LoanBook | None  # None when the lending does not come from the processes


def process_plan(scenario: Scenario, seed: int, with_volumes: bool = True) -> ProcessPlan:
    """The plan of ``simulate(scenario, seed=seed)``'s institution processes."""
    decided = decision_parameters(scenario)
    central = central_scenario(scenario)
    n_replicas = central.processes.replicas if decided and central.processes else 1
    per_replica = draw_replica_values(decided, seed, n_replicas)
    replicas = replica_scenarios(central, decided, per_replica) if decided else None
    volumes = None
    if with_volumes and fed_by_processes(central):
        volumes = build_volume_book(central, seed, skip=central.process_fed_segments())
    return ProcessPlan(central, decided, per_replica, replicas, volumes)


def fed_by_processes(scenario: Scenario) -> bool:
    """Whether the scenario's new lending comes from its institution processes."""
    return scenario.processes is not None and scenario.lending_source == "processes"


@dataclass(frozen=True)
class StartedProcesses:
    """A run's institution processes, started by :func:`start_processes_early` for
    ``simulate(scenario, seed=seed)``; leaving a ``with`` block stops workers that were
    not collected (a run that failed before it needed them)."""

    scenario: Scenario  # as given to simulate: the one this was started for
    seed: int
    plan: ProcessPlan
    volumes: LoanBook  # the plan's: the lending the processes do not decide
    under_way: ReplicasUnderWay

    def __enter__(self) -> StartedProcesses:
        return self

    def __exit__(self, *exc: object) -> None:
        self.under_way.close()


def start_processes_early(
    scenario: Scenario, seed: int | None = None, workers: int | None = None
) -> StartedProcesses | None:
    """Fork the workers of ``simulate(scenario, seed=seed, workers=workers)``'s institution
    processes and start their replicas now; pass the result to that call as ``started``.

    None when there is nothing to start: the lending does not come from the processes, or
    the replicas would run in this process (one worker, or one replica).
    """
    seed = scenario.simulation.seed if seed is None else int(seed)
    if not fed_by_processes(scenario):
        return None
    plan = process_plan(scenario, seed)
    assert plan.volumes is not None  # the lending comes from the processes
    under_way = start_processes(plan.central, seed, plan.volumes, plan.replicas, workers)
    if under_way is None:
        return None
    return StartedProcesses(scenario, seed, plan, plan.volumes, under_way)
