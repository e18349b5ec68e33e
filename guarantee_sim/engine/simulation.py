"""Run the kernels over path blocks and return the results Dataset."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from .._version import __version__
from ..book import LoanBook
from ..config.schema import Scenario
from ..kernels.factors import year_factors
from ..kernels.layout import PARTY_VARIABLES, SEGMENT_VARIABLES, YEAR_VARIABLES, Outputs
from ..kernels.portfolio import simulate_block, simulate_paths
from ..processes.books_key import books_key
from ..results.dataset import (
    UNABSORBED,
    build_dataset,
    scenario_yaml,
    with_parameters,
    with_variance_shares,
    with_year_factors,
)
from .early import ProcessPlan, StartedProcesses, process_plan
from .inputs import BooksMemo, build_inputs
from .parameters import draw_values, path_parameters, uncertain_parameters
from .progress import (
    COMPILING,
    INSTITUTIONS,
    PATHS,
    Progress,
    as_progress,
    finished,
    needs_compiling,
)
from .tail import sampled_toward_tail, shift_attrs
from .warm import load_cached


def simulate(
    scenario: Scenario,
    paths: int | None = None,
    seed: int | None = None,
    *,
    block_size: int | None = None,
    book: LoanBook | None = None,
    progress: Progress | bool | None = None,
    shift: np.ndarray | None = None,
    workers: int | None = None,
    first_path: int = 0,
    books: BooksMemo | None = None,
    path_summaries: bool = True,
    started: StartedProcesses | None = None,
) -> xr.Dataset:
    """Simulate ``paths`` Monte Carlo paths of ``scenario`` and return the results Dataset.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario (see :func:`guarantee_sim.load_scenario`).
    paths, seed, block_size : int, optional
        Override ``scenario.simulation``. Results depend only on the seed and the path
        index, never on the block size or the number of threads.
    book : LoanBook, optional
        Lending to simulate instead of the scenario's volumes. When demand follows the
        credit cycle (``macro.demand_elasticity`` > 0) its new lending is taken as the
        lending at the demand ceiling: each path keeps its share, ``min(D, D_hi) / D_hi``.
    progress : Progress or bool, optional
        Where to show how far the run is, phase by phase (``engine/progress.py``): the
        institution processes (one step per book replica), compiling the kernels (the
        first run only) and the paths (one step per block). ``True`` shows tqdm bars (a
        widget in Jupyter); ``None`` or ``False`` (the default) shows nothing.
    shift : numpy.ndarray, optional
        With ``simulation.importance_sampling`` set: the mean shift ``[year, factor]`` of
        the factor shocks to sample with, instead of choosing one (``engine/tail.py``); a
        comparison passes its base's to every variant, so they share their paths.
    workers : int, optional
        Worker processes for the book replicas of the institution processes (forked; 1
        runs them in this process). None (the default): ``$GUARANTEE_SIM_WORKERS``, else
        one per available CPU (capped by ``NUMBA_NUM_THREADS``). Results do not depend on
        it.
    first_path : int, optional
        Simulate paths ``first_path .. first_path + paths - 1`` of the run (default 0): a
        path's numbers depend only on the seed and its index, so pieces of a run
        concatenated along ``path`` are the whole run's paths bit for bit. What is
        computed over paths (``target_probability``, the variance shares, ``n_paths``) is
        of these paths only; :func:`~guarantee_sim.results.dataset.with_path_summaries`
        recomputes it on the concatenation (``guarantee_sim.sweep`` does).
    books : callable, optional
        ``books(key, compute)`` returns the institution processes' results for ``key`` (a
        hash of everything they read, :func:`~guarantee_sim.processes.books_key`), calling
        ``compute()`` when it has none: a cache of the books shared by the runs of a sweep
        (``guarantee_sim.sweep.BookCache``). None: the processes always run.
    path_summaries : bool, optional
        False leaves out the variance decomposition over paths (``attainment_variance*``
        and the coordinate ``variance_source``): a piece of a run that is concatenated
        with others and summarised anew (a sweep's task) need not make it.
    started : StartedProcesses, optional
        This call's institution processes, already started by
        :func:`~guarantee_sim.engine.early.start_processes_early` for this scenario and
        seed (the CLI starts them before it imports the rest of the engine): they are
        collected instead of run. The results are the same.

    Returns
    -------
    xarray.Dataset
        The results contract of DESIGN §5 (money in CNY, rates per year).

    Examples
    --------
    >>> import guarantee_sim as gs
    >>> s = gs.load_scenario("scenarios/county_guarantee_2021.yaml")
    >>> ds = gs.simulate(s, paths=20, seed=7)
    >>> dict(ds.sizes)  # doctest: +NORMALIZE_WHITESPACE
    {'path': 20, 'year': 9, 'segment': 4, 'party': 6, 'scheme': 2, 'target': 3, 'factor': 1,
     'parameter': 15, 'variance_source': 4}
    >>> loss = ds.loss.sum("year").mean("path")  # CNY, mean over paths
    >>> round(float(loss.sel(party="guarantor")) / 1e6, 1)
    57.0
    """
    sim = scenario.simulation
    paths = sim.paths if paths is None else int(paths)
    seed = sim.seed if seed is None else int(seed)
    block_size = sim.block_size if block_size is None else int(block_size)
    if paths < 1 or block_size < 1 or first_path < 0 or not 0 <= seed < 2**32:
        raise ValueError(
            "paths and block_size must be >= 1, first_path >= 0 and seed in [0, 2**32)"
        )
    uncertain = uncertain_parameters(scenario)
    given = scenario
    # what the lenders and the fixed inputs see, and the replicas' decision parameters
    plan = _plan(scenario, seed, started, own_lending=book is not None or books is not None)
    scenario = plan.central
    decided = plan.decided if book is None else []
    per_replica = plan.per_replica if book is None else np.empty((1, 0))
    n_replicas = per_replica.shape[0]
    shown = as_progress(progress)
    if book is None and scenario.processes is not None and scenario.lending_source == "processes":
        shown.phase(INSTITUTIONS, scenario.processes.replicas)
    early: dict[str, str] = {}  # what _work_ahead did, if the processes' workers ran
    inputs = build_inputs(
        scenario,
        seed,
        book,
        plan.replicas if book is None else None,
        on_replica=shown.advance,
        workers=workers,
        books_memo=books,
        meanwhile=_work_ahead(given, early),
        started=None if started is None else (started.volumes, started.under_way),
    )
    # importance sampling: the credit cycle drawn toward the loss tail (engine/tail.py)
    inputs = sampled_toward_tail(inputs, scenario.simulation.importance_sampling, seed, shift)
    n_years = inputs.settings.n_years
    n_seg = len(scenario.segments)
    n_party = len(inputs.party_names) + 1
    out = Outputs(
        segment=np.zeros((paths, len(SEGMENT_VARIABLES), n_years, n_seg)),
        party=np.zeros((paths, len(PARTY_VARIABLES), n_years, n_party)),
        year=np.zeros((paths, len(YEAR_VARIABLES), n_years)),
    )
    drawn = np.empty((paths, len(uncertain)))
    factors = np.empty((paths, n_years, inputs.macro.chol.shape[0]))
    log_weight = np.empty(paths)
    # the first block compiles the kernels on a machine's first run: 20-60 s of no paths
    compiling = needs_compiling(simulate_paths)
    shown.phase(COMPILING if compiling else PATHS, paths)
    # local indices into the outputs; the kernels draw path first_path + local index
    for first in range(0, paths, block_size):
        last = min(first + block_size, paths)
        drawn[first:last] = draw_values(uncertain, seed, first_path + first, last - first)
        simulate_block(
            np.uint32(seed),
            first_path + first,
            inputs.book,
            inputs.segments,
            inputs.parties,
            inputs.macro,
            inputs.settings,
            path_parameters(uncertain, drawn[first:last], inputs.segments),
            Outputs(out.segment[first:last], out.party[first:last], out.year[first:last]),
        )
        # the kernel draws them inside each path and returns nothing of them: drawn again
        # here by the same routine and counters, for the results
        year_factors(
            np.uint32(seed),
            first_path + first,
            inputs.macro.chol,
            inputs.macro.persistence,
            inputs.macro.shift,
            factors[first:last],
            log_weight[first:last],
        )
        if first == 0 and compiling:  # compiled: the rest of the paths are their own phase
            shown.phase(PATHS, paths)
        shown.advance(last - first)
    finished(progress, shown)
    arrays: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
    for i, name in enumerate(SEGMENT_VARIABLES):
        arrays[name] = (("path", "year", "segment"), out.segment[:, i])
    for i, name in enumerate(PARTY_VARIABLES):
        arrays[name] = (("path", "year", "party"), out.party[:, i])
    for i, name in enumerate(YEAR_VARIABLES):
        arrays[name] = (("path", "year"), out.year[:, i])
    ds = build_dataset(
        scenario,
        arrays,
        party=[*inputs.party_names, UNABSORBED],  # the kernels' last party
        process_measures=None if inputs.process is None else inputs.process.measures,
        seed=seed,
        first_path=first_path,
        version=__version__,
        path_weight=np.exp(log_weight),  # exactly 1 on every path of a plain run
        stored_yaml=early.get("scenario_yaml") or scenario_yaml(given),
    )
    ds.attrs.update(
        shift_attrs(
            scenario.simulation.importance_sampling,
            inputs.macro.shift,
            list(scenario.macro.factors),
        )
    )
    # new lending was simulated at this multiple of the demand and thinned per path; the
    # processes' queue measures are those of that demand (1.0: demand does not vary)
    ds.attrs["demand_ceiling"] = float(inputs.macro.demand_ceiling)
    # each path carries its replica's decision parameters (path p lends from p mod R)
    drawn = np.concatenate(
        [drawn, per_replica[np.arange(first_path, first_path + paths) % n_replicas]], axis=1
    )
    every = [*uncertain, *decided]
    ds = with_year_factors(ds, factors, names=list(scenario.macro.factors))
    ds = with_parameters(
        ds,
        drawn,
        keys=[p.key for p in every],
        units=[p.units for p in every],
        groups=[p.group for p in every],
        centres=[p.distribution.centre for p in every],
        drawn_per=[p.per for p in every],
    )
    if not path_summaries:
        return ds
    return with_variance_shares(ds)  # needs the year factors and the parameters


def _plan(
    scenario: Scenario, seed: int, started: StartedProcesses | None, own_lending: bool
) -> ProcessPlan:
    """The plan of the run's processes: ``started``'s, which must be this run's (the
    same scenario object and seed; no lending given, no cache of books), else made."""
    if started is None:
        return process_plan(scenario, seed, with_volumes=False)
    if started.scenario is not scenario or started.seed != seed or own_lending:
        raise ValueError(
            "simulate: `started` is for this scenario and seed, without `book` or `books`"
        )
    return started.plan


def _work_ahead(given: Scenario, early: dict[str, str]) -> Callable[[], None]:
    """What :func:`simulate` would do after the institution processes, for this process to
    do while their workers run (it would only wait): the kernels' first call, loaded from
    Numba's cache, and the scenario's YAML (with its distributions) into ``early``."""

    def meanwhile() -> None:
        load_cached()
        early["scenario_yaml"] = scenario_yaml(given)

    return meanwhile


def books_key_of(scenario: Scenario, seed: int) -> str | None:
    """The key under which ``simulate(scenario, seed=seed, books=...)`` caches the
    institution processes' books (None when the scenario's lending does not come from the
    processes): a sweep finds the designs that share books before it runs any."""
    if scenario.processes is None or scenario.lending_source != "processes":
        return None
    plan = process_plan(scenario, seed)
    return books_key(plan.central, seed, plan.volumes, plan.replicas)
