"""Book replicas in worker processes (``processes/workers.py``).

* The institution processes give the same books, measures, renewal rates and claim lags
  with 1, 2 or 3 worker processes, in replica order; so does a whole run.
* Progress advances once per replica whatever the count of workers.
* ``meanwhile`` runs once, in the parent, after the workers have forked (they never see
  what it does) and while they work; first when there are no workers.
* How many workers: the argument, then ``$GUARANTEE_SIM_WORKERS``, then the CPUs, never
  more than the replicas; a bad count is a clean error.
"""

from __future__ import annotations

import multiprocessing
import os
import time

import numpy as np
import pytest
import xarray as xr
from conftest import make_scenario
from process_scenarios import process_dict

import guarantee_sim as gs
from guarantee_sim.processes import run_processes
from guarantee_sim.processes.workers import (
    WORKERS_VARIABLE,
    available_cpus,
    map_replicas,
    replica_workers,
)

SEED = 4242
REPLICAS = 3
BOOK_FIELDS = ("id_lo", "id_hi", "segment", "grade", "month", "tenor", "n_loans", "amount")


@pytest.fixture(scope="module")
def scenario():
    """Queues with patience, two visits and a guarantor review; the replicas differ."""
    return make_scenario(
        process_dict(
            years=2,
            applications_per_year=300,
            officers=2,
            mean_days=1.0,
            visits=2,
            patience_days=15.0,
            coverage=0.8,
            guarantor_reviewers=1,
            replicas=REPLICAS,
            sigma=0.6,
        )
    )


def _assert_same_processes(a, b) -> None:
    assert len(a.books) == len(b.books) == REPLICAS
    for r, (x, y) in enumerate(zip(a.books, b.books, strict=True)):
        for field in BOOK_FIELDS:
            np.testing.assert_array_equal(getattr(x, field), getattr(y, field), f"{r} {field}")
    xr.testing.assert_identical(a.measures, b.measures)
    assert a.renew_rate == b.renew_rate
    assert a.claim_lag.keys() == b.claim_lag.keys()
    for g in a.claim_lag:
        np.testing.assert_array_equal(a.claim_lag[g], b.claim_lag[g])


def test_the_processes_do_not_depend_on_the_worker_count(scenario):
    ticks: dict[int, list] = {}
    runs = {}
    for workers in (1, 2, 3):
        ticks[workers] = []
        runs[workers] = run_processes(
            scenario, SEED, on_replica=ticks[workers].append, workers=workers
        )
        assert ticks[workers] == [1] * REPLICAS  # one progress step per replica
    # the replicas differ, so a replica put back in the wrong place would show
    assert not np.array_equal(runs[1].books[0].id_lo, runs[1].books[1].id_lo)
    _assert_same_processes(runs[1], runs[2])
    _assert_same_processes(runs[1], runs[3])


def test_a_run_does_not_depend_on_the_worker_count(scenario):
    one = gs.simulate(scenario, paths=6, seed=SEED, workers=1)
    two = gs.simulate(scenario, paths=6, seed=SEED, workers=2)
    for ds in (one, two):
        ds.attrs.pop("created", None)
    xr.testing.assert_identical(one, two)


def _square_first_last(r: int) -> int:
    if r == 0:  # the first replica finishes last
        time.sleep(0.5)
    return r * r


def test_map_replicas_keeps_replica_order_and_reports_each():
    done: list = []
    assert map_replicas(_square_first_last, 5, 2, done.append) == [0, 1, 4, 9, 16]
    assert done == [1] * 5
    assert map_replicas(lambda r: -r, 3, 3) == [0, -1, -2]  # a closure: inherited, not pickled


_meanwhile_ran: list = []


def _saw_meanwhile(r: int) -> tuple[int, int]:
    time.sleep(0.3)  # still working when the parent's meanwhile ends
    return os.getpid(), len(_meanwhile_ran)


def test_meanwhile_runs_once_in_the_parent_after_the_fork():
    _meanwhile_ran.clear()
    got = map_replicas(_saw_meanwhile, 4, 2, meanwhile=lambda: _meanwhile_ran.append(1))
    assert _meanwhile_ran == [1]
    assert {pid for pid, _ in got} != {os.getpid()}  # the replicas ran in the workers
    assert [seen for _, seen in got] == [0] * 4  # forked before it ran
    _meanwhile_ran.clear()
    got = map_replicas(_saw_meanwhile, 2, 1, meanwhile=lambda: _meanwhile_ran.append(1))
    assert _meanwhile_ran == [1] and [seen for _, seen in got] == [1, 1]  # here: first


def test_an_error_in_a_worker_reaches_the_caller():
    def fails_on_two(r: int) -> int:
        if r == 2:
            raise ValueError("replica 2 failed")
        return r

    with pytest.raises(ValueError, match="replica 2 failed"):
        map_replicas(fails_on_two, 4, 2)


def test_how_many_workers(monkeypatch):
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    cpus = available_cpus()
    assert replica_workers(64) == min(64, cpus)
    assert replica_workers(1) == 1
    assert replica_workers(4, workers=1) == 1
    assert replica_workers(4, workers=9) == 4  # never more than the replicas
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")  # the knob that caps a run's CPUs
    assert replica_workers(4) == 1
    monkeypatch.setenv(WORKERS_VARIABLE, "3")
    assert replica_workers(4) == 3
    assert replica_workers(4, workers=2) == 2  # the argument first
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(WORKERS_VARIABLE, bad)
        with pytest.raises(ValueError, match=WORKERS_VARIABLE):
            replica_workers(4)
    with pytest.raises(ValueError, match="workers=0"):
        replica_workers(4, workers=0)


def _replicas_in_a_pool_worker(replicas: int) -> tuple[int, list]:
    workers = replica_workers(replicas, workers=4)
    return workers, map_replicas(_square_first_last, replicas, workers)


def test_a_pool_worker_runs_its_replicas_itself():
    """A multiprocessing pool's worker is a daemon, which may not start processes."""
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(_replicas_in_a_pool_worker, (3,)) == (1, [0, 1, 4])
