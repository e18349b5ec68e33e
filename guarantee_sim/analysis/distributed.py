"""Where an analysis's points run: the cluster options of the command line (the ones
``guarantee-sim sweep`` has), the Dask client they make, and the estimate said before launch.

Sensitivity, the design solver and calibration run their points through
:func:`guarantee_sim.sweep.evaluate_points`: in this process by default (no cluster, the
numbers of a plain run), or as Dask tasks with ``--scheduler`` or ``--workers N`` (the same
numbers, bit for bit). This module is light at import: the command line's parser reads it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - the heavy modules load when a command runs
    from ..config import Scenario


#: CPU seconds a run costs beyond ``resources.estimate_time``'s processes and kernels:
#: loading the point's scenario, assembling its results and outcomes (measured: 0.22 s a
#: point of the county scenario at 8 paths, 2026-11-28, this machine)
RUN_OVERHEAD = 0.2


def add_cluster_arguments(
    parser: argparse.ArgumentParser, *, workers_default: str, books_default: str
) -> None:
    """``--scheduler``, ``--workers`` and ``--books``, as ``sweep`` and the analyses take
    them (only what each does without them differs: ``workers_default``,
    ``books_default``)."""
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a dask.distributed scheduler (tcp://host:8786) to run the tasks on; "
        "without it, --workers says where they run",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="a local cluster of N worker processes, one Numba thread each; 0: in this "
        f"process (default: {workers_default})",
    )
    parser.add_argument(
        "--books",
        metavar="DIR",
        help="the institution books' cache folder the tasks share (default: "
        f"{books_default}); on a cluster, a folder every worker sees",
    )


def check_workers(workers: int | None) -> None:
    """``--workers`` must be 0 or more (the CLI prints the error, status 2)."""
    if workers is not None and workers < 0:
        from ..config import ScenarioError

        raise ScenarioError(
            f"--workers {workers}: give 0 (in this process) or more", path="--workers"
        )


@contextlib.contextmanager
def cluster_client(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """A ``distributed.Client`` of the scheduler at ``scheduler``, or of a LocalCluster of
    ``workers`` processes (1 Numba thread each) started here and closed on the way out
    (Ctrl-C included); None, run in this process, when neither is asked for."""
    if not scheduler and not workers:
        yield None
        return
    from distributed import Client

    from ..sweep.runner import local_cluster

    cluster = None if scheduler else local_cluster(int(workers or 0))
    client = Client(scheduler) if scheduler else Client(cluster)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def books_for(client: Any, books: Any) -> Any:
    """The institution books' cache: the memo or folder given; else, in this process, a
    memo of its most recent books (:class:`~guarantee_sim.engine.BooksInMemory`, nothing
    written); else None (``evaluate_points``'s default folder,
    ``~/.cache/guarantee_sim/books``)."""
    if callable(books):
        return books
    if books is not None:
        return str(books)
    if client is None:
        from ..engine import BooksInMemory

        return BooksInMemory()
    return None


def workers_of(client: Any) -> int:
    """The cluster's workers (1 in this process)."""
    if client is None:
        return 1
    return max(len(client.scheduler_info(n_workers=-1).get("workers", {})), 1)


def launch_estimate(scenario: Scenario, runs: int, paths: int, client: Any) -> str:
    """Runs, paths and about how long they take (:func:`guarantee_sim.resources.estimate_time`,
    the sweep's estimate), on this process or the client's workers."""
    from ..resources import estimate_time

    workers = workers_of(client)
    seconds = (estimate_time(scenario, paths, runs).seconds + RUN_OVERHEAD * runs) / workers
    where = "in this process" if client is None else f"on {workers} Dask worker(s)"
    return (
        f"{runs:,} runs of {paths:,} paths, {where}: about {_duration(seconds)} (the "
        "institution processes run once per set of books, so often less)"
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:,.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:,.0f} min"
    return f"{seconds / 3600:,.1f} h"


def cpu_by_process(client: Any = None) -> dict[str, float]:
    """CPU seconds used so far by this process with its finished children (key ``""``:
    the institution processes' forked workers), and by each of ``client``'s Dask workers
    with theirs (by address). An analysis's CPU is the difference over it
    (:func:`cpu_used`): on a cluster the work is the workers', not this process's."""
    used = {"": own_cpu_seconds()}
    if client is not None:
        used.update(client.run(own_cpu_seconds))
    return used


def cpu_used(before: dict[str, float], after: dict[str, float]) -> float:
    """CPU seconds between two :func:`cpu_by_process` (a worker that joined in between
    counts from zero)."""
    return sum(seconds - before.get(who, 0.0) for who, seconds in after.items())


def own_cpu_seconds() -> float:
    """This process's CPU seconds and its finished children's (the institution processes'
    book replicas run in forked workers, which ``time.process_time`` does not count)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
