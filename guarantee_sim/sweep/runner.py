"""Plan a sweep's tasks, run them on Dask (or in this process), and combine what they wrote.

A task is one design's block of paths (:class:`~.tasks.Task`); results depend only on the
seed and the path index, so the blocks concatenated are the design's run, bit for bit,
whatever ran them. Tasks that read the same institution books (equal
:func:`~guarantee_sim.engine.books_key_of`) wait for the first of them, which runs the
processes and caches the books: no design and no block runs the processes twice.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import xarray as xr

from .._version import __version__
from ..config import Scenario
from ..experiments import Design, Experiment, load_experiment, variant_scenarios
from .books import user_books_folder
from .result import complete_draft, drop_draft
from .store import FORMAT, RESULT, as_written, open_store, read_task
from .tasks import Task, finish_design, run_task

if TYPE_CHECKING:  # pragma: no cover
    from ..engine.inputs import BooksMemo

#: tasks per design when ``task_paths`` is not given (the blocks of paths a design is cut
#: into: enough for two workers to share one design)
BLOCKS_PER_DESIGN = 4


@dataclass
class Plan:
    """What a sweep runs: its designs (run order), their scenarios, size and seed."""

    experiment: Experiment  # (evaluate_points's points have none: never read there)
    designs: list[Design]
    scenarios: list[Scenario]
    paths: int
    seed: int
    task_paths: int
    summaries: bool
    attrs: dict = field(default_factory=dict)

    def tasks(self, store: str | None, books: str, shift) -> list[Task]:
        """Every task, design by design, blocks in path order (a whole design each with
        summaries only: its outcomes need all its paths)."""
        step = self.paths if self.summaries else self.task_paths
        return [
            Task(d, first, min(step, self.paths - first), s, self.seed, shift, store, books,
                 self.summaries, self.paths, step)
            for d, s in enumerate(self.scenarios)
            for first in range(0, self.paths, step)
        ]  # fmt: skip


def plan_sweep(
    experiment_path: str | Path,
    *,
    paths: int | None = None,
    seed: int | None = None,
    task_paths: int | None = None,
    summaries: bool = False,
    overrides=None,
    strict: bool = False,
) -> Plan:
    """Load and validate the experiment and every design (nothing runs)."""
    experiment = load_experiment(experiment_path, overrides)
    scenarios = variant_scenarios(experiment_path, experiment, strict=strict)
    paths, _, seed = experiment.run_size(next(iter(scenarios.values())), paths, seed)
    if task_paths is None:
        task_paths = math.ceil(paths / BLOCKS_PER_DESIGN)
    if task_paths < 1:
        raise ValueError(f"task_paths must be >= 1 (got {task_paths})")
    designs = experiment.designs()
    ordered = [scenarios[experiment.design_name(d)] for d in designs]
    plan = Plan(experiment, designs, ordered, paths, seed, int(task_paths), summaries)
    plan.attrs = {
        "sweep_format": FORMAT,
        "experiment": experiment.name,
        "seed": int(seed),
        "n_paths": int(paths),
        "task_paths": int(task_paths),
        "summaries_only": bool(summaries),
        "n_designs": len(designs),
        "package_version": __version__,
    }
    plan.attrs["sweep_hash"] = sweep_hash(plan)
    return plan


def sweep_hash(plan: Plan) -> str:
    """What makes a store's numbers: every design's validated scenario, the run's size and
    seed, the paths per task, the mode and the package version."""
    parts = {
        "designs": [s.model_dump(mode="json") for s in plan.scenarios],
        **{k: v for k, v in plan.attrs.items() if k != "sweep_hash"},
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def choose_shift(plan: Plan, books) -> np.ndarray | None:
    """Importance sampling: the first design's shift, for every task (as
    ``run_experiment`` does); it needs the first design's inputs, whose books are then
    cached for its tasks (``books``: a folder, or a memo of this process). None without
    importance sampling."""
    first = plan.scenarios[0]
    if first.simulation.importance_sampling is None:
        return None
    from ..engine import simulate
    from ..engine.tail import shift_from_attrs
    from .books import BookCache

    memo = BookCache(books) if isinstance(books, str) else books
    ds = simulate(first, paths=1, seed=plan.seed, books=memo, workers=1)
    return shift_from_attrs(ds.attrs, list(first.macro.factors))


def leaders(tasks: list[Task]) -> dict[int, int]:
    """Task index -> the index of the task it waits for: the first task of each set that
    reads the same books (which runs the processes and caches them)."""
    from ..engine import books_key_of

    keys: dict[int, str | None] = {}
    first: dict[str, int] = {}
    waits = {}
    for i, task in enumerate(tasks):
        if task.design not in keys:
            keys[task.design] = books_key_of(task.scenario, task.seed)
        key = keys[task.design]
        if key is None:
            continue
        if key in first:
            waits[i] = first[key]
        else:
            first[key] = i
    return waits


# ------------------------------------------------------------------ running the tasks


def first_blocks_first(tasks: list[Task]) -> list[Task]:
    """The tasks in the order they run: each design's first block (of those to run), design
    by design, then the others, design by design. The first task of a design to finish
    makes the design's group in the store (~1 s of a worker's CPU: ~70 arrays' metadata);
    in plain order two workers start on one design's blocks at once, both make its group
    and one throws it away. Its other blocks still run together, so a design is finished
    (read back, on a worker) early, and only the last design's is left after the tasks."""
    firsts: dict[int, int] = {}
    for i, task in enumerate(tasks):
        firsts.setdefault(task.design, i)
    chosen = set(firsts.values())
    return [tasks[i] for i in sorted(chosen)] + [t for i, t in enumerate(tasks) if i not in chosen]


def run_inline(tasks: list[Task], waits: dict[int, int]) -> Iterator[tuple[int, Any]]:
    """Every task in this process, in order (a leader comes before those that wait)."""
    for i, task in enumerate(tasks):
        yield i, run_task(task)


def run_on_dask(
    client, tasks: list[Task], waits: dict[int, int], extras: _Runner | None = None
) -> Iterator[tuple[int, Any]]:
    """Every task on the client's cluster, as they finish; an interrupt (Ctrl-C) or an
    error cancels what is left on the cluster. ``extras``: the runner whose other
    functions (:meth:`_Runner.submit`: the designs' read-back) finish in the same loop,
    each value fetched as it is ready, not all after the last task."""
    import uuid

    from distributed import as_completed

    run = uuid.uuid4().hex[:12]  # keys of this call's tasks only (a client may run several)
    futures: list = []
    index = {}
    for i, task in enumerate(tasks):
        after = [futures[waits[i]]] if i in waits else []
        future = client.submit(run_task, task, *after, key=f"sweep-{task.name}-{run}")
        futures.append(future)
        index[future.key] = i
    done = as_completed(futures)
    if extras is not None:
        extras.start(done)
    try:
        for future in done:
            if future.key in index:
                yield index[future.key], future.result()
            elif extras is not None:
                extras.finished(future)
    finally:
        others = extras.futures() if extras is not None else []
        left = [f for f in [*futures, *others] if not f.done()]
        if left:
            client.cancel(left, force=True)


#: a local cluster's housekeeping, made rare: CPU taken from the tasks on the cores they
#: share, for what no sweep reads. The statistical profiler samples every thread's stack
#: 100 times a second; every process (scheduler, nannies, workers) wakes 50 times a second
#: to time its event loop (the "tick": a warning when it is blocked), twice a second to
#: sample its CPU and memory (the dashboard's), and a nanny 10 times a second to check its
#: worker's memory. Idle, a cluster of 2 workers took 0.13 s of CPU a second (about 0.07
#: of it the scheduler and nannies in the client's process), 0.02 s with these.
QUIET_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}


#: a worker is given a task when its thread is free, not one more to hold beside the one
#: it runs (dask's default, 1.1 a thread, rounds up to 2 on a 1-thread worker): a design's
#: read-back, put ahead of the queued tasks, then waited 2-3 s behind a task its worker
#: held, and in the last round one worker held a task while the other had none
FREE_THREADS_ONLY = {"distributed.scheduler.worker-saturation": 1.0}


def local_cluster(workers: int):
    """A ``LocalCluster`` of ``workers`` processes, one thread and one Numba thread each,
    deaf to SIGINT (:func:`~.tasks.dask_setup`: Ctrl-C is the command line's to handle)."""
    import logging

    import dask
    from distributed import LocalCluster

    # (the nannies pass the config on to their workers)
    with dask.config.set({**QUIET_CLUSTER, **FREE_THREADS_ONLY}):
        return LocalCluster(
            # not a worker's slow shutdown on a busy machine, nor the lost connections of
            # a cluster closed on Ctrl-C; a task's error still reaches the client
            silence_logs=logging.CRITICAL,
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
            preload=["guarantee_sim.sweep.tasks"],
        )


# ------------------------------------------------------------------ the results


def combine_store(
    plan: Plan, store: Path, designs: Mapping[int, xr.Dataset] | None = None
) -> xr.Dataset:
    """The experiment's Dataset from the finished tasks (``run_experiment``'s, bit for bit:
    each design's paths as its tasks wrote them, and what is computed over paths made
    anew). Every design's paths are in memory at once (``run_experiment``'s are too): a
    lazy combine (dask arrays) cost the client more CPU than it saved. ``designs``: the
    designs already read and summarised (:func:`~.tasks.finish_design`, on the workers);
    those missing are done here."""
    from ..experiments import combine_designs

    if plan.summaries:  # a task a design
        names = {t.design: t.name for t in plan.tasks(str(store), "", None)}
        outcomes = {plan.designs[d]: read_task(store, name) for d, name in names.items()}
        return combine_outcomes(plan, outcomes)
    designs = designs or {}
    runs = {
        design: designs[d] if d in designs else finish_design(str(store), d)
        for d, design in enumerate(plan.designs)
    }
    return combine_designs(plan.experiment, runs, paths=plan.paths, seed=plan.seed)


def combine_outcomes(plan: Plan, outcomes: dict[Design, xr.Dataset]) -> xr.Dataset:
    """Summaries only: every design's outcomes along the experiment's design dimensions."""
    from datetime import datetime, timezone

    # the experiments module's own helpers: a sweep's summaries have its results' dims
    from ..experiments import _described_designs, _design_coords, _design_dims, _nested

    experiment = plan.experiment
    expanded = {d: ds.expand_dims(_design_coords(experiment, d)) for d, ds in outcomes.items()}
    combined = xr.combine_nested(
        _nested(experiment, expanded),
        concat_dim=_design_dims(experiment),
        join="outer",
        combine_attrs="drop_conflicts",
    )
    combined = _described_designs(combined, experiment)
    combined.attrs.update(
        experiment=experiment.name,
        seed=int(plan.seed),
        n_paths=int(plan.paths),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    return combined


def write_result(store: Path, ds: xr.Dataset) -> None:
    """The combined Dataset as group ``result`` (written aside, then renamed: whole or
    absent)."""
    import shutil

    final = Path(store) / RESULT
    partial = Path(store) / f".partial-{RESULT}"
    shutil.rmtree(partial, ignore_errors=True)
    ds.to_zarr(str(partial), mode="w", zarr_format=2, consolidated=True)
    shutil.rmtree(final, ignore_errors=True)
    os.rename(partial, final)


def open_result(store: str | Path) -> xr.Dataset:
    """A finished sweep's results (``xr.open_zarr(store, group="result")``), loaded."""
    with xr.open_dataset(str(Path(store) / RESULT), engine="zarr", chunks=None) as ds:
        return as_written(ds.load())


def run_sweep(
    experiment_path: str | Path,
    *,
    store: str | Path | None = None,
    paths: int | None = None,
    seed: int | None = None,
    task_paths: int | None = None,
    summaries: bool = False,
    client=None,
    workers: int | None = None,
    books: str | Path | None = None,
    overrides=None,
    on_task: Callable[[Task], None] | None = None,
    plan: Plan | None = None,
) -> xr.Dataset:
    """Run an experiment's designs as tasks of (design, block of paths) and return its
    results: ``run_experiment``'s Dataset bit for bit (or, with ``summaries``, each design's
    :func:`~guarantee_sim.results.outcomes.design_outcomes` with intervals).

    Parameters
    ----------
    experiment_path : path
        The experiment file (``experiments.py``).
    store : path, optional
        The Zarr store the tasks write to (default ``results/<experiment>.zarr``). A store
        that exists is resumed: only the tasks it lacks run. A store of another sweep
        (experiment, designs, seed, paths, ``task_paths`` or mode) is refused.
    paths, seed : int, optional
        As for ``run_experiment`` (default: the experiment's, then the base scenario's).
    task_paths : int, optional
        Paths per task (default: a quarter of the paths, rounded up).
    summaries : bool
        Keep each design's outcomes only (a task is then a whole design).
    client : distributed.Client, optional
        Run on this client's cluster. Without one: ``workers`` > 0 starts a
        ``LocalCluster`` of that many processes (1 Numba thread each); ``workers=0``
        runs the tasks in this process, one after another. None: one worker per CPU.
    books : path, optional
        The institution books' cache folder (default: beside the store,
        ``<store>.books``); on a cluster it must be on a filesystem every worker sees.
    on_task : callable, optional
        Called with each task as it finishes (progress).
    plan : Plan, optional
        A plan already made by :func:`plan_sweep` (the command line's, with the estimate
        it printed; ``strict`` validation is asked of it); else one is made from the
        arguments.
    """
    plan = plan or plan_sweep(
        experiment_path,
        paths=paths,
        seed=seed,
        task_paths=task_paths,
        summaries=summaries,
        overrides=overrides,
    )
    store = Path(store or Path("results") / f"{plan.experiment.name}.zarr")
    books = Path(books) if books is not None else store.with_name(store.name + ".books")
    done = open_store(store, plan.attrs)
    shift = choose_shift(plan, str(books))
    every = plan.tasks(str(store), str(books), shift)
    todo = first_blocks_first([t for t in every if t.name not in done])
    for task in every:
        if task.name in done and on_task is not None:
            on_task(task)
    left = Counter(task.design for task in todo)
    designs: dict[int, xr.Dataset] = {}  # design -> its paths, summarised
    with _executor(client, workers) as run:

        def finish(design: int) -> None:
            if not plan.summaries:  # on a worker, while the other designs' tasks run
                run.submit(finish_design, str(store), design, plan, then=keep(design))

        def keep(design: int) -> Callable[[xr.Dataset], None]:
            return lambda ds: designs.__setitem__(design, ds)

        for design in range(len(plan.scenarios)):
            if left[design] == 0:  # resumed: all its tasks are in the store
                finish(design)
        for i, _ in run(todo, leaders(todo)):
            if on_task is not None:
                on_task(todo[i])
            left[todo[i].design] -= 1
            if left[todo[i].design] == 0:
                finish(todo[i].design)
    combined = combine_store(plan, store, designs)
    if plan.summaries or not complete_draft(plan, store, combined, designs):
        write_result(store, combined)  # whole: the designs' slices are not all there
        drop_draft(store)
    return combined


class _executor:
    """``with _executor(client, workers) as run``: ``run(tasks, waits)`` yields finished
    tasks; a LocalCluster started here is closed on the way out (Ctrl-C included)."""

    def __init__(self, client, workers: int | None):
        self.client, self.workers = client, workers
        self.own: list = []

    def __enter__(self) -> _Runner:
        if self.client is None and self.workers == 0:
            return _Runner(None)
        client = self.client
        if client is None:
            from distributed import Client

            cluster = local_cluster(self.workers or os.cpu_count() or 1)
            client = Client(cluster)
            self.own = [client, cluster]
        return _Runner(client)

    def __exit__(self, *exc) -> None:
        for thing in self.own:
            thing.close()


class _Runner:
    """``run(tasks, waits)`` yields finished tasks (:func:`run_on_dask`, or
    :func:`run_inline` without a client); ``submit(fn, *args, then=f)`` runs one more
    function there and calls ``f`` with its value here: at once in this process, on a
    cluster as soon as it is ready (in the tasks' loop, which ends when every one has)."""

    def __init__(self, client) -> None:
        self.client = client
        self.waiting: dict[str, tuple[Any, Callable[[Any], None]]] = {}  # key -> future, then
        self.done: Any = None  # the tasks' ``as_completed``, once their loop is under way

    def __call__(self, tasks: list[Task], waits: dict[int, int]) -> Iterator[tuple[int, Any]]:
        if self.client is None:
            return run_inline(tasks, waits)
        return run_on_dask(self.client, tasks, waits, self)

    def submit(self, fn: Callable[..., Any], *args: Any, then: Callable[[Any], None]) -> None:
        if self.client is None:
            then(fn(*args))
            return
        # ahead of the tasks queued: a design is read back as soon as a worker is free,
        # not after every task (only the last design's is then left for the end)
        future = self.client.submit(fn, *args, pure=False, priority=1)
        self.waiting[future.key] = (future, then)
        if self.done is not None:
            self.done.add(future)

    def start(self, done) -> None:
        """The tasks' loop begins: it waits for what was submitted before too."""
        self.done = done
        done.update([future for future, _ in self.waiting.values()])

    def finished(self, future) -> None:
        _, then = self.waiting.pop(future.key)
        then(future.result())

    def futures(self) -> list:
        return [future for future, _ in self.waiting.values()]


def dashboard(client) -> str | None:
    """The Dask dashboard's address, or None when the cluster has none."""
    import importlib.util

    if importlib.util.find_spec("bokeh") is None:  # the dashboard needs it
        return None
    return getattr(client, "dashboard_link", None)


def evaluate_points(
    base_scenario_path: str | Path | Mapping[str, Any],
    points: list[dict[str, Any]],
    *,
    paths: int,
    seed: int,
    client=None,
    summaries: bool = True,
    books: str | Path | BooksMemo | None = None,
    strict: bool = False,
    on_point: Callable[[int], None] | None = None,
) -> list[xr.Dataset]:
    """Run each point (dotted scenario key -> value, applied to the base scenario) with
    common random numbers; one Dataset per point, in order.

    For the analysis layer (sensitivity, the design solver, calibration): every point is a
    design run with the same ``paths`` and ``seed`` (importance sampling: the first
    point's shift for all), on ``client``'s Dask cluster or, without one, in this process.
    With ``summaries`` (the default) each Dataset is the point's
    :func:`~guarantee_sim.results.outcomes.design_outcomes` with intervals (P(each
    target), PV public cost, the guarantors' VaR 99%, P(pool depleted), P(insolvent),
    P(leverage cap)); else ``simulate``'s full results. The institution books are cached
    in ``books`` (default ``$XDG_CACHE_HOME/guarantee_sim/books``, or ``~/.cache``): points
    that change only what the processes do not read (pool sizes, caps, capital,
    subsidies paid to the guarantor) run the processes once. Nothing is written but the
    book cache. In this process ``books`` may instead be a memo of this process
    (:class:`~guarantee_sim.engine.BooksInMemory`): nothing is written at all.

    The base may be a scenario as a dict (``scenario_from_dict``). ``on_point(i)`` is
    called as point ``i`` finishes (in any order on a cluster). The analyses of
    :mod:`guarantee_sim.analysis` (sensitivity, design solver, calibration) run their
    points here, so a cluster gives them the same numbers, bit for bit.

    Example (two fees, 500 paths each, in this process)::

        from guarantee_sim.sweep import evaluate_points
        out = evaluate_points(
            "scenarios/county_guarantee_2021.yaml",
            [{"parties.guarantor.fee_rate": 0.005}, {"parties.guarantor.fee_rate": 0.01}],
            paths=500, seed=7,
        )
        [float(ds.public_cost_pv) for ds in out]    # CNY, one a point
    """
    from ..config import load_scenario, scenario_from_dict

    def scenario(point: dict[str, Any]) -> Scenario:
        overrides = [f"{k}={json.dumps(v)}" for k, v in point.items()]
        if isinstance(base_scenario_path, Mapping):
            return scenario_from_dict(
                dict(base_scenario_path), source="<scenario>", overrides=overrides
            )
        return load_scenario(base_scenario_path, overrides=overrides, strict=strict)

    scenarios = [scenario(point) for point in points]
    if callable(books):  # a memo lives in this process: its tasks cannot leave it
        if client is not None:
            raise ValueError("a books memo of this process cannot serve a cluster: give a folder")
        cache: Any = books
    else:
        cache = str(Path(books) if books is not None else user_books_folder())
    plan = Plan(
        experiment=cast(Experiment, None),  # points are not an experiment's designs
        designs=[],
        scenarios=scenarios,
        paths=int(paths),
        seed=int(seed),
        task_paths=int(paths),
        summaries=summaries,
    )
    shift = choose_shift(plan, cache)
    tasks = plan.tasks(None, cache, shift)
    out: list[xr.Dataset | None] = [None] * len(tasks)
    with _executor(client, 0 if client is None else None) as run:
        for i, (_, _, ds) in run(tasks, leaders(tasks)):
            out[i] = ds
            if on_point is not None:
                on_point(i)
    return [ds for ds in out if ds is not None]
