"""Book replicas in parallel worker processes.

The replicas are independent: replica r draws only from its own counter-based streams
(key ``(seed, PROCESS_KEY + r)``, ``draws.py``) and shares no state with the others, so
running them in forked workers gives the same results, put back in replica order, as
running them one after another in this process. What the count of workers may change is
the time, never a number (``tests/test_workers.py``).

The workers run only the processes (SimPy, NumPy and the single-threaded applicant
draws); the kernels' threads start after the last replica has come back, so workers and
Numba threads never run at the same time.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

#: environment variable giving the number of worker processes (1: run in this process)
WORKERS_VARIABLE = "GUARANTEE_SIM_WORKERS"

# in a worker: the job it runs, handed over through fork (never pickled: often a closure)
_worker: dict[str, Callable[[int], object]] = {}


def available_cpus() -> int:
    """CPUs this process may run on (its affinity where the OS has one), capped by
    ``NUMBA_NUM_THREADS`` when it is set: the one knob that caps a run's CPUs."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    limit = thread_limit()
    if limit is not None:
        cpus = min(cpus, limit)
    return max(cpus, 1)


def thread_limit() -> int | None:
    """``$NUMBA_NUM_THREADS`` as a number of threads (None: unset or not a positive
    integer)."""
    limit = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    return int(limit) if limit.isdigit() and int(limit) > 0 else None


def replica_workers(replicas: int, workers: int | None = None) -> int:
    """How many processes run ``replicas`` book replicas: ``workers`` when given, else
    ``$GUARANTEE_SIM_WORKERS``, else one per available CPU; never more than the replicas,
    and 1 (this process) where the OS cannot fork or this process is a daemon (a
    ``multiprocessing`` pool's worker, which may not have children).

    >>> replica_workers(4, workers=1), replica_workers(1, workers=8), replica_workers(3, 2)
    (1, 1, 2)
    """
    if workers is None:
        given = os.environ.get(WORKERS_VARIABLE, "").strip()
        if given:
            if not given.isdigit() or int(given) < 1:
                raise ValueError(f"{WORKERS_VARIABLE}={given!r}: give a whole number >= 1")
            workers = int(given)
        else:
            workers = available_cpus()
    if workers < 1:
        raise ValueError(f"workers={workers}: give a whole number >= 1")
    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover - not Linux
        return 1
    if multiprocessing.current_process().daemon:  # e.g. a pool's worker: it may not fork one
        return 1
    return max(1, min(workers, replicas))


def map_replicas(
    job: Callable[[int], T],
    replicas: int,
    workers: int,
    done: Callable[[int], None] | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> list[T]:
    """``[job(0), ..., job(replicas - 1)]``, computed by ``workers`` forked processes
    (1: here, one after another); ``done(1)`` as each replica finishes (progress, in the
    order they finish). ``job``'s results are pickled back to this process.

    ``meanwhile()`` runs once in this process, in this thread: after the workers have
    forked and while they work (this process would only wait), or first when there are
    none. Nothing it does reaches the workers (a thread started before a fork would not
    be safe; this is after it)."""
    if workers <= 1 or replicas <= 1:
        if meanwhile is not None:
            meanwhile()
        results = []
        for r in range(replicas):
            results.append(job(r))
            if done is not None:
                done(1)
        return results
    return start_replicas(job, replicas, workers).collect(done, meanwhile)


def start_replicas(job: Callable[[int], T], replicas: int, workers: int) -> ReplicasUnderWay[T]:
    """Fork ``min(workers, replicas)`` processes (at least 2) and start ``job(r)`` for
    every replica r in them; :meth:`ReplicasUnderWay.collect` gathers the results. This
    process may do other work meanwhile (it is not blocked); the workers are forked now,
    so they inherit the modules imported so far and nothing imported later."""
    return ReplicasUnderWay(job, replicas, max(2, min(workers, replicas)))


class ReplicasUnderWay(Generic[T]):
    """Replicas running in forked workers (:func:`start_replicas`).

    Collect them once (:meth:`collect`), or :meth:`close` to stop the workers (what
    leaving a ``with`` block does: a run that fails before it collects leaves no worker
    behind). Either way the workers end.
    """

    def __init__(self, job: Callable[[int], T], replicas: int, workers: int) -> None:
        context = multiprocessing.get_context("fork")
        self.replicas = replicas
        # a fork context passes the initializer's arguments by inheritance, not by pickling
        self._pool = context.Pool(workers, initializer=_start_worker, initargs=(job,))
        # chunksize 1: a replica per task, so a slow one does not hold others back
        self._results = self._pool.imap_unordered(_run, range(replicas), chunksize=1)

    def collect(
        self,
        done: Callable[[int], None] | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> list[T]:
        """The replicas' results in replica order; ``done(1)`` as each is received (in
        the order they finish) and ``meanwhile()`` first, as :func:`map_replicas`."""
        with self:
            if meanwhile is not None:
                meanwhile()
            out: list = [None] * self.replicas
            for r, result in self._results:
                out[r] = result
                if done is not None:
                    done(1)
            return out

    def close(self) -> None:
        """Stop the workers (SIGTERM to those still running) and wait for them."""
        self._pool.terminate()

    def __enter__(self) -> ReplicasUnderWay[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _start_worker(job: Callable[[int], object]) -> None:
    """A worker keeps its job; the parent decides what an interruption means (it stops
    the pool, which ends the workers with SIGTERM, whatever handler the parent had)."""
    _worker["job"] = job
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run(replica: int) -> tuple[int, object]:
    return replica, _worker["job"](replica)
