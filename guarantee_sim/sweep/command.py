"""``guarantee-sim sweep EXPERIMENT``: the command line's sweep (``cli.py`` parses, this runs).

Prints the estimate (disk, memory per worker and for the combined results, time) before
anything runs, the Dask dashboard's address when there is one, and the sweep's progress
(tasks done; designs done) on a Rich display. Ctrl-C cancels the cluster's tasks, closes
a cluster it started (whose workers ignore SIGINT: no traceback of theirs), says in one
line how many tasks the store holds, and leaves it resumable: the same command finishes
it (exit status 130).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .runner import Plan, dashboard, local_cluster, plan_sweep, run_sweep
from .store import StoreMismatch, finished
from .tasks import Task


def estimate(plan: Plan, workers: int) -> str:
    """Disk, memory and time before launch, from :mod:`guarantee_sim.resources`."""
    from ..resources import PEAK_FACTOR, estimate_memory, estimate_time

    first = plan.scenarios[0]
    designs = len(plan.scenarios)
    per_path = estimate_memory(first, 1).per_path
    task = plan.paths if plan.summaries else plan.task_paths
    worker = estimate_memory(first, task).needed
    time = estimate_time(first, plan.paths, designs).seconds / max(workers, 1)
    if plan.summaries:
        disk, combined = "under 1 MB a design", "small"
    else:
        stored = per_path * plan.paths * designs
        disk = f"at most {_size(stored)} (uncompressed)"
        combined = _size(int(PEAK_FACTOR * stored))
    return (
        f"{designs:,} designs x {plan.paths:,} paths in {len(plan.tasks(None, '', None)):,} "
        f"tasks; disk {disk}; memory about {_size(worker)} a worker, {combined} to combine "
        f"the results; time about {_duration(time)} on {max(workers, 1)} worker(s) (the "
        "institution processes are run once per set of books, so often less)"
    )


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}"
        n /= 1000
    return f"{n:,.0f} TB"  # pragma: no cover - the loop returns


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:,.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:,.0f} min"
    return f"{seconds / 3600:,.1f} h"


def sweep_command(args, console: Console) -> int:
    """Run ``args.experiment`` as a sweep; 0 when every task is done, 2 on a refused store."""
    plan = plan_sweep(
        args.experiment,
        paths=args.paths,
        seed=args.seed,
        task_paths=args.task_paths,
        summaries=args.summaries_only,
        overrides=args.overrides,
        strict=args.strict,
    )
    store = Path(args.store or Path("results") / f"{plan.experiment.name}.zarr")
    workers = (os.cpu_count() or 1) if args.workers is None else args.workers
    if not args.quiet:
        console.print(f"sweep {plan.experiment.name}: {estimate(plan, workers)}")
    client = cluster = None
    try:
        if args.scheduler:
            from distributed import Client

            client = Client(args.scheduler)
        elif workers > 0:
            from distributed import Client

            cluster = local_cluster(workers)
            client = Client(cluster)
        link = dashboard(client) if client is not None else None
        if link and not args.quiet:
            console.print(f"Dask dashboard: {link}")
        with _progress(plan, console, args.quiet) as on_task:
            run_sweep(
                args.experiment,
                store=store,
                client=client,
                workers=0 if client is None else None,
                books=args.books,
                on_task=on_task,
                plan=plan,
            )
    except StoreMismatch as err:
        Console(stderr=True, markup=False).print(f"error: {err}")
        return 2
    except KeyboardInterrupt:
        # the cluster first (run_sweep has cancelled its tasks), then one line
        _close(client, cluster)
        client = cluster = None
        total = len(plan.tasks(None, "", None))
        stored = finished(store)
        print(  # one line, whatever the terminal's width
            f"sweep interrupted: {stored} of {total} tasks stored in {store}; run the same "
            f"command again to finish the other {total - stored}",
            file=sys.stderr,
        )
        raise
    finally:
        _close(client, cluster)
    if not args.quiet:
        what = "each design's outcomes" if plan.summaries else "the results"
        console.print(f"{what} written to {store} (xr.open_zarr('{store}', group='result'))")
    return 0


def _close(*things) -> None:
    for thing in things:
        if thing is not None:
            thing.close()


class _progress:
    """``with _progress(plan, console, quiet) as on_task``: a Rich display of the tasks
    done and the designs done (every one of its blocks), advanced by ``on_task(task)``."""

    def __init__(self, plan: Plan, console: Console, quiet: bool):
        self.plan = plan
        self.bar = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=quiet,
        )
        tasks = plan.tasks(None, "", None)
        self.left: dict[int, int] = {}
        for t in tasks:
            self.left[t.design] = self.left.get(t.design, 0) + 1

    def __enter__(self):
        self.bar.__enter__()
        self.tasks = self.bar.add_task("tasks", total=sum(self.left.values()))
        self.designs = self.bar.add_task("designs", total=len(self.left))

        def on_task(task: Task) -> None:
            self.bar.advance(self.tasks)
            self.left[task.design] -= 1
            if self.left[task.design] == 0:
                self.bar.advance(self.designs)

        return on_task

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)
