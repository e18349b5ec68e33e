"""guarantee_sim.sweep: a sweep's results are run_experiment's bit for bit, in this process
and on a LocalCluster of 2 workers; a sweep SIGKILLed in the middle of a task's write and
run again finishes only what is missing, with the same store; another sweep's store is
refused. (tests/test_sweep_books.py: the institution books' cache.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from guarantee_sim.experiments import run_experiment
from guarantee_sim.sweep import StoreMismatch, open_result, plan_sweep, run_sweep
from guarantee_sim.sweep.store import DESIGNS, KILL_ENV, TASKS, open_store

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENT = ROOT / "tests" / "sweeps" / "county_small.yaml"  # 4 designs x 8 paths


def assert_same(a: xr.Dataset, b: xr.Dataset) -> None:
    """Every variable and coordinate bit for bit (values, dtype, attrs); attrs but the
    time the results were made."""
    assert set(a.variables) == set(b.variables)
    for name in a.variables:
        x, y = a[name], b[name]
        assert x.dims == y.dims and x.dtype == y.dtype, name
        if x.dtype.kind == "f":
            assert np.array_equal(x.values, y.values, equal_nan=True), name
        else:
            assert np.array_equal(x.values, y.values), name
        assert x.attrs == y.attrs, name
    drop = {"created"}
    assert {k: v for k, v in a.attrs.items() if k not in drop} == {
        k: v for k, v in b.attrs.items() if k not in drop
    }


@pytest.fixture(scope="module")
def reference() -> xr.Dataset:
    return run_experiment(EXPERIMENT)


@pytest.fixture(scope="module")
def client(dask_client):
    return dask_client  # conftest.py: one LocalCluster of 2 workers for the module


@pytest.mark.slow  # a LocalCluster of 2 workers: ~40 s of CPU
def test_a_sweep_here_and_on_two_workers_is_the_experiment_bit_for_bit(tmp_path, reference, client):
    here = run_sweep(EXPERIMENT, store=tmp_path / "here.zarr", workers=0, task_paths=4)
    assert_same(here, reference)
    assert_same(open_result(tmp_path / "here.zarr"), reference)  # the store holds it too
    there = run_sweep(EXPERIMENT, store=tmp_path / "there.zarr", client=client, task_paths=5)
    assert_same(there, reference)
    assert_same(open_result(tmp_path / "there.zarr"), reference)
    assert len(os.listdir(tmp_path / "there.zarr" / TASKS)) == 4 * 2  # 8 paths in 5 + 3


@pytest.mark.slow  # on the module's LocalCluster of 2 workers: ~10 s of CPU
def test_a_task_on_a_cluster_keeps_its_worker_s_one_thread(tmp_path, client):
    """A task computes nothing through its worker's client: that would secede it from the
    worker's one thread, and the worker would run another task's kernels beside it (two
    kernels on one worker's core, the first task stalled behind the second's)."""
    from distributed import get_task_stream

    with get_task_stream(client) as stream:
        run_sweep(EXPERIMENT, store=tmp_path / "s.zarr", client=client, task_paths=4)
    keys = [str(task["key"]) for task in stream.data]
    assert keys and all(k.startswith(("sweep-", "finish_design-")) for k in keys), keys


@pytest.mark.slow  # on the module's LocalCluster of 2 workers: ~15 s of CPU
def test_every_design_read_back_on_a_worker_reaches_the_combine(
    tmp_path, reference, client, monkeypatch
):
    """Each design's read-back (finish_design, on a worker) is fetched in the tasks' loop as
    it finishes: the last, submitted after the last task, and those of a resumed sweep,
    submitted before any task, too. One missed would be read again on the client (the
    same numbers, its serial work twice)."""
    from guarantee_sim.sweep import runner

    combine = runner.combine_store
    given: list[set[int]] = []

    def combine_store(plan, store, designs=None):
        given.append(set(designs or {}))
        return combine(plan, store, designs)

    monkeypatch.setattr(runner, "combine_store", combine_store)
    store = tmp_path / "s.zarr"
    assert_same(run_sweep(EXPERIMENT, store=store, client=client, task_paths=4), reference)
    (store / TASKS / "d00001_p000000004").unlink()  # design 1 to finish again
    assert_same(run_sweep(EXPERIMENT, store=store, client=client, task_paths=4), reference)
    assert given == [{0, 1, 2, 3}, {0, 1, 2, 3}]


@pytest.mark.slow  # on the module's LocalCluster of 2 workers
def test_a_local_cluster_s_housekeeping_wakes_at_most_once_a_second(client):
    """Every process of a local cluster timed its event loop 50 times a second, sampled
    its CPU twice, and each nanny its worker's memory 10 times: 0.13 s of CPU a second
    on the cores the tasks share (runner.QUIET_CLUSTER)."""

    def intervals(dask_worker=None, dask_scheduler=None):
        server = dask_worker or dask_scheduler
        return {k: v.callback_time for k, v in server.periodic_callbacks.items()}

    servers = [
        *client.run(intervals).values(),
        *client.run(intervals, nanny=True).values(),
        client.run_on_scheduler(intervals),
    ]
    for callbacks in servers:
        for name in ("tick", "monitor", "memory_monitor"):
            assert callbacks.get(name, 1000) >= 1000, (name, callbacks)
    assert all("tick" in callbacks for callbacks in servers)


@pytest.mark.slow  # on the module's LocalCluster of 2 workers
def test_a_local_cluster_gives_a_worker_a_task_only_when_its_thread_is_free(client):
    """Dask's default gives a 1-thread worker a second task to hold: a design's read-back
    (put ahead of the queued tasks) waited behind it, and in the last round one worker
    held a task the other could have run (runner.FREE_THREADS_ONLY)."""
    saturation = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.WORKER_SATURATION)
    assert saturation == 1.0


@pytest.mark.slow  # two fresh interpreters: ~20 s of CPU
def test_a_sweep_killed_while_writing_a_task_resumes_to_the_same_store(tmp_path, reference):
    store = tmp_path / "s.zarr"
    command = [sys.executable, "-m", "guarantee_sim.cli", "sweep", str(EXPERIMENT),
               "--workers", "0", "--store", str(store), "--task-paths", "4", "--quiet"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), KILL_ENV: "3"}  # SIGKILL in task 3's write
    killed = subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=600
    )
    assert killed.returncode == -9, killed.stderr
    done = sorted(os.listdir(store / TASKS))
    # two done: the first blocks of designs 0 and 1 (runner.first_blocks_first)
    assert done == ["d00000_p000000000", "d00001_p000000000"]
    assert (store / DESIGNS / "d00002").is_dir()  # task 3 (design 2's first) was writing
    assert not (store / "result").exists()
    stamps = {name: os.stat(store / TASKS / name).st_mtime_ns for name in done}
    env.pop(KILL_ENV)
    resumed = subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr
    assert len(os.listdir(store / TASKS)) == 8  # the half-written one was run again
    for name, stamp in stamps.items():  # and the finished ones were not
        assert os.stat(store / TASKS / name).st_mtime_ns == stamp, name
    assert_same(open_result(store), reference)


@pytest.mark.slow  # two fresh interpreters: ~20 s of CPU
def test_a_sweep_killed_while_writing_a_design_s_slice_of_result_resumes_to_it(tmp_path, reference):
    """Each design, read back, writes its slice of ``result`` (sweep/result.py): killed in
    the middle of one, the sweep runs no finished task again, writes that slice again whole, and
    its ``result`` is the experiment's, the designs' slices in it (a chunk a design) and
    not written again by the client."""
    import json

    from guarantee_sim.sweep.result import DRAFT, KILL_SLICE_ENV, SLICES

    store = tmp_path / "s.zarr"
    command = [sys.executable, "-m", "guarantee_sim.cli", "sweep", str(EXPERIMENT),
               "--workers", "0", "--store", str(store), "--task-paths", "4", "--quiet"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), KILL_SLICE_ENV: "2"}  # in design 1's
    killed = subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=600
    )
    assert killed.returncode == -9, killed.stderr
    assert os.listdir(store / SLICES) == ["d00000"] and (store / DRAFT).is_dir()
    assert not (store / "result").exists()
    stamps = {name: os.stat(store / TASKS / name).st_mtime_ns for name in os.listdir(store / TASKS)}
    env.pop(KILL_SLICE_ENV)
    resumed = subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr
    assert len(os.listdir(store / TASKS)) == 8
    for name, stamp in stamps.items():  # no finished task run again
        assert os.stat(store / TASKS / name).st_mtime_ns == stamp, name
    assert_same(open_result(store), reference)
    assert not (store / DRAFT).exists() and not (store / SLICES).exists()
    layout = json.loads((store / "result" / "loans_count" / ".zarray").read_text())
    assert layout["chunks"][:2] == [1, 1]  # scenario, guarantor_fee: the designs' slices


@pytest.mark.slow  # a command line with a LocalCluster of 2 workers: ~15 s of CPU
def test_ctrl_c_cancels_the_cluster_says_what_is_stored_and_the_command_resumes(
    tmp_path, reference
):
    import re
    import signal
    import time

    store = tmp_path / "s.zarr"
    command = [sys.executable, "-m", "guarantee_sim.cli", "sweep", str(EXPERIMENT),
               "--workers", "2", "--store", str(store), "--task-paths", "1", "--quiet"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # a session of its own: SIGINT to its whole group, workers included, as Ctrl-C sends it
    sweep = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not (store / TASKS).is_dir() or not os.listdir(store / TASKS):
            assert sweep.poll() is None and time.monotonic() < deadline, "no task finished"
            time.sleep(0.2)
        os.killpg(sweep.pid, signal.SIGINT)
        _, err = sweep.communicate(timeout=120)
    finally:
        if sweep.poll() is None:
            os.killpg(sweep.pid, signal.SIGKILL)
    assert sweep.returncode == 130, err
    lines = [line for line in err.splitlines() if line.startswith("sweep interrupted")]
    said = re.fullmatch(
        r"sweep interrupted: (\d+) of 32 tasks stored in (.+); run the same command again to "
        r"finish the other (\d+)",
        lines[0] if len(lines) == 1 else "",
    )
    assert said and "Traceback" not in err, err  # one line, no worker's traceback
    stored = int(said.group(1))
    assert 1 <= stored == len(os.listdir(store / TASKS)) and stored + int(said.group(3)) == 32
    resumed = run_sweep(EXPERIMENT, store=store, workers=0, task_paths=1)
    assert len(os.listdir(store / TASKS)) == 32
    assert_same(resumed, reference)


def test_a_store_of_another_sweep_is_refused(tmp_path, capsys):
    store = tmp_path / "s.zarr"
    open_store(store, plan_sweep(EXPERIMENT).attrs)  # made by the experiment's seed, 5
    with pytest.raises(StoreMismatch, match=r"seed 5 \(now 6\)"):
        run_sweep(EXPERIMENT, store=store, seed=6, workers=0)
    with pytest.raises(StoreMismatch, match=r"n_paths 8 \(now 9\)"):
        run_sweep(EXPERIMENT, store=store, paths=9, workers=0)
    with pytest.raises(StoreMismatch, match="its designs differ"):
        run_sweep(EXPERIMENT, store=store, workers=0, overrides=["policy.lpr=0.03"])
    from guarantee_sim import cli

    argv = ["sweep", str(EXPERIMENT), "--workers", "0", "--store", str(store), "--seed", "6"]
    assert cli.main(argv) == 2  # the command line: one clean line, nothing run
    assert "holds another sweep (seed 5 (now 6))" in capsys.readouterr().err


def test_each_design_s_first_block_runs_before_any_design_s_other_blocks():
    """Two workers do not start on one design's blocks at once (each would make the
    design's group in the store); every task runs once."""
    from guarantee_sim.sweep.runner import first_blocks_first

    tasks = plan_sweep(EXPERIMENT, task_paths=3).tasks("store", "books", None)  # 4 x 3
    order = [(t.design, t.first_path) for t in first_blocks_first(tasks)]
    assert order[:4] == [(0, 0), (1, 0), (2, 0), (3, 0)]
    assert order[4:7] == [(0, 3), (0, 6), (1, 3)]  # then design by design
    assert sorted(order) == sorted((t.design, t.first_path) for t in tasks)
    resumed = [t for t in tasks if (t.design, t.first_path) != (1, 0)]
    assert [(t.design, t.first_path) for t in first_blocks_first(resumed)][:4] == [
        (0, 0), (1, 3), (2, 0), (3, 0),
    ]  # fmt: skip


def test_pieces_of_a_run_concatenate_to_the_run_bit_for_bit():
    """simulate(first_path=): paths 0-2 and 3-6 are paths 0-6; what is computed over paths
    made anew (with_path_summaries) is the whole run's too."""
    import guarantee_sim as gs
    from guarantee_sim.engine import simulate
    from guarantee_sim.results.dataset import PATH_SUMMARIES, with_path_summaries

    scenario = gs.load_scenario(ROOT / "scenarios" / "county_guarantee_2021.yaml")
    whole = simulate(scenario, paths=7, seed=3)
    pieces = [
        simulate(scenario, paths=3, seed=3),
        # as a sweep's task makes it: no variance decomposition of its own paths
        simulate(scenario, paths=4, seed=3, first_path=3, path_summaries=False),
    ]
    assert list(pieces[1].path.values) == [3, 4, 5, 6]
    assert "attainment_variance_share" not in pieces[1]
    assert "variance_source" not in pieces[1].coords
    joined = xr.concat(
        [p.drop_vars([n for n in PATH_SUMMARIES if n in p]) for p in pieces],
        dim="path",
        data_vars="minimal",
        coords="minimal",
        compat="override",
        join="override",
        combine_attrs="override",
    )
    assert_same(with_path_summaries(joined), whole)


def test_summaries_only_are_each_designs_outcomes(tmp_path, reference):
    from guarantee_sim.results.outcomes import design_outcomes

    out = run_sweep(EXPERIMENT, store=tmp_path / "s.zarr", workers=0, summaries=True)
    assert len(os.listdir(tmp_path / "s.zarr" / TASKS)) == 4  # a task a design: VaR needs all
    stored = open_result(tmp_path / "s.zarr")
    at = {"scenario": "pool_share_70pct", "guarantor_fee": 0.01}
    expected = design_outcomes(reference.sel(at), intervals=True)
    for name in expected.data_vars:
        for ds in (out, stored):
            got = ds[name].sel(at)
            assert np.array_equal(got.values, expected[name].values, equal_nan=True), name


def test_a_task_runs_its_kernels_on_the_threads_its_worker_is_given(monkeypatch):
    """A worker whose Numba was imported before its cluster set NUMBA_NUM_THREADS=1 (a
    spawned process imports its parent's main module first) ran each task on every CPU:
    prepare_worker limits the task's thread to the variable."""
    import threading

    import numba

    from guarantee_sim.sweep.tasks import prepare_worker

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba has one thread here: nothing to limit")
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")
    seen = []

    def task_thread() -> None:
        seen.append(numba.get_num_threads())  # a new thread: Numba's default, all CPUs
        prepare_worker()
        seen.append(numba.get_num_threads())

    thread = threading.Thread(target=task_thread)
    thread.start()
    thread.join()
    assert seen == [numba.config.NUMBA_NUM_THREADS, 1]


def test_a_worker_that_imported_numba_before_its_thread_count_can_still_compile():
    """A spawned worker imports Numba (its parent's main module) before its cluster sets
    NUMBA_NUM_THREADS=1; its first compile (a cold cache) stopped the sweep: "Cannot set
    NUMBA_NUM_THREADS to a different value once the threads have been launched"."""
    import numba

    if numba.config.NUMBA_DEFAULT_NUM_THREADS < 2:
        pytest.skip("one CPU: the count a worker is given is Numba's own")
    worker = """
import os
import numba
os.environ["NUMBA_NUM_THREADS"] = "1"  # the cluster's env, set after the import
from guarantee_sim.sweep.tasks import dask_setup, limit_numba_threads
dask_setup(None)
limit_numba_threads()  # a task: Numba's threads start

@numba.njit
def one(x):
    return x + 1

print(one(1), numba.get_num_threads())  # a compile, as with a cold cache
"""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", worker],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "1"]
