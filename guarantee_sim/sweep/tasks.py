"""One task of a sweep, as a worker runs it: a design's block of paths, simulated and written.

Everything a task needs travels with it (:class:`Task`: the validated scenario, the seed,
its paths, the importance-sampling shift, where to write): a worker on another machine
needs only the package and the shared folders.
"""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import xarray as xr

from ..config import Scenario

if TYPE_CHECKING:  # pragma: no cover
    from .runner import Plan


class Task(NamedTuple):
    design: int  # index into the experiment's designs (run order)
    first_path: int
    paths: int
    scenario: Scenario  # the design's validated scenario
    seed: int
    shift: np.ndarray | None  # importance sampling: the first design's (engine/tail.py)
    store: str | None  # None: return the Dataset instead of writing it (evaluate_points)
    books: Any  # the book cache's folder (str), or a memo of this process (evaluate_points)
    summaries: bool  # write the design's outcomes (a task is then the whole design)
    design_paths: int  # the design's paths, and the paths per task (its store's layout)
    block_paths: int

    @property
    def name(self) -> str:
        from .store import task_name

        return task_name(self.design, self.first_path)


def prepare_worker() -> None:
    """A worker's Numba cache: the command line's folder (``_numba_cache``), so workers load
    the compiled kernels instead of each compiling them again into a folder of its own;
    and this thread's Numba threads (:func:`limit_numba_threads`)."""
    from .._numba_cache import configure_numba_cache

    configure_numba_cache()
    limit_numba_threads()


def limit_numba_threads() -> None:
    """Run this thread's kernels on at most ``$NUMBA_NUM_THREADS`` threads.

    Numba reads that variable once, when it is imported. A worker that a cluster spawns
    may import it before the variable its cluster gives it is set (a spawned process
    first imports its parent's main module: a script that imports the package does), and
    would then run each task's paths on every CPU: one worker of a ``LocalCluster`` used
    2 threads, and 2 workers 4, on 2 cores. ``numba.set_num_threads`` is per thread, so
    this runs in the task's thread, before its kernels."""
    from ..processes.workers import thread_limit

    limit = thread_limit()
    if limit is None:
        return
    import numba

    launched = vars(numba.config)["NUMBA_NUM_THREADS"]  # (set at import: mypy cannot see it)
    wanted = min(limit, launched)
    if numba.get_num_threads() != wanted:
        numba.set_num_threads(wanted)


def replica_workers() -> int | None:
    """Processes for the book replicas of the institution processes: forked (simulate's
    default, one per CPU) only where a fork is safe; 1 (in this process) in a Dask worker
    (daemonic: it cannot have children) or beside another thread (a Dask client's, a
    progress display's: a fork copies the locks they hold, and the child can hang)."""
    if multiprocessing.current_process().daemon or threading.active_count() > 1:
        return 1
    return None


def dask_setup(worker) -> None:
    """A local cluster's worker, started (its ``preload``): ignore SIGINT. Ctrl-C at a
    terminal reaches every process of the group, workers included; the command line
    cancels their tasks and closes them, without each printing its own traceback."""
    import contextlib
    import signal

    # (not the process's main thread: the signal is not ours to set)
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    numba_threads_as_given()


def numba_threads_as_given() -> None:
    """Numba's thread count read again from ``$NUMBA_NUM_THREADS`` before its threads start.

    A spawned worker imports its parent's main module (so, often, Numba) before the
    cluster sets its ``NUMBA_NUM_THREADS=1``: Numba then starts its threads with its
    first count, and the first kernel the worker compiles (a cold cache) re-reads the
    environment and stops with "Cannot set NUMBA_NUM_THREADS to a different value once
    the threads have been launched". Numba re-reads it at every compile anyway; here it
    is re-read once, before any thread starts."""
    import sys

    if "numba" not in sys.modules:  # it reads the variable when it is imported
        return
    from numba.core import config
    from numba.np.ufunc import parallel

    if not parallel._is_initialized:
        config.reload_config()


def run_task(task: Task, *after: Any) -> tuple[int, int, xr.Dataset | None]:
    """Simulate the task's paths and write them to the store (``after``: tasks this one
    waits for, so that they have cached the books it reads). Returns ``(design,
    first_path, None)``, or the Dataset itself when the task has no store."""
    prepare_worker()
    from ..engine import simulate
    from ..results.dataset import PATH_SUMMARIES
    from ..results.outcomes import design_outcomes
    from .books import BookCache

    ds = simulate(
        task.scenario,
        paths=task.paths,
        seed=task.seed,
        first_path=task.first_path,
        shift=task.shift,
        books=BookCache(task.books) if isinstance(task.books, str) else task.books,
        workers=replica_workers(),
        # a block written to the store is summarised anew over the design's paths
        path_summaries=task.summaries or task.store is None,
    )
    if task.summaries:
        ds = design_outcomes(ds, intervals=True)
    if task.store is None:
        return task.design, task.first_path, ds
    if not task.summaries:  # of this block's paths only: made anew for the whole design
        ds = ds.drop_vars([n for n in PATH_SUMMARIES if n in ds])
    from .store import write_block, write_task

    if task.summaries:
        write_task(Path(task.store), task.name, ds)
    else:
        write_block(Path(task.store), task, ds)
    return task.design, task.first_path, None


def finish_design(store: str, design: int, plan: Plan | None = None) -> xr.Dataset:
    """A design's paths as its tasks wrote them, with what is computed over paths made
    anew (``run_experiment``'s design, bit for bit). A sweep runs it on a worker as soon
    as the design's tasks are in the store, while the other designs' tasks run; with the
    sweep's ``plan`` it also writes the design's slice of ``result`` (:mod:`.result`)."""
    from ..results.dataset import with_path_summaries
    from .result import write_slice
    from .store import read_design

    run = with_path_summaries(read_design(Path(store), design))
    if plan is not None:
        write_slice(store, plan, design, run)
    return run
