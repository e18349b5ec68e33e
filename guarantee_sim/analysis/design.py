"""The design solver: the levers' values that minimise an outcome under chance constraints.

An experiment's ``design:`` section (:class:`~guarantee_sim.experiments.DesignSpec`) names
levers with bounds (any dotted scenario key), an objective (default: the mean PV of the
public cost, ``public_cost_pv``) and chance constraints on the outcomes of
:func:`~guarantee_sim.results.outcomes.design_outcomes` (P(target) ≥ x, P(pool depleted)
≤ y, P(guarantor insolvent) ≤ z, P(leverage cap hit) ≤ w). :func:`solve_design` finds the
cheapest design meeting them all, or, when none does within the bounds, the design closest
to meeting them (the least total violation, in probability points).

Method (:data:`METHOD`): the estimates are step functions of the levers (a probability over
paths moves when a path crosses a threshold; approvals flip discretely), so no derivative
is used. A coarse grid of ``search.grid_points`` values per lever is evaluated, then
``search.refine_rounds`` rounds of local refinement: around the incumbent (the cheapest
feasible design, else the closest one) the spacing is halved and every neighbour
(incumbent ± spacing on each lever, on the lever's ``step`` lattice) not yet evaluated is
run. Every evaluation uses the same seed (common random numbers): two designs share their
paths, so the comparison between them is not blurred by sampling noise, and a probability
is monotone in a lever whose effect is monotone path by path (a pool's size). Choosing the
best of many noisy estimates favours designs whose noise flattered them, so the chosen
design is re-estimated on a fresh seed (``design.fresh_seed``, default seed + 1) and
reported with its 95% intervals, and whether each fresh estimate lies inside the selection
run's interval.

Every point is evaluated through :func:`guarantee_sim.sweep.evaluate_points`, each
round's designs together: in this process by default (designs the institution processes
cannot tell apart share their books in memory), or as tasks on a Dask cluster (``client``;
the books shared through a folder), with the same numbers bit for bit.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .._version import __version__
from ..config import ScenarioError, load_scenario
from ..config.loader import format_location
from ..engine.inputs import BooksInMemory, BooksMemo
from ..experiments import (
    ChanceConstraint,
    DesignLever,
    DesignSpec,
    Experiment,
    _base_scenario,
    load_experiment,
)
from ..results.design import KIND
from ..results.outcomes import OUTCOMES
from .distributed import cpu_by_process, cpu_used, own_cpu_seconds, workers_of

#: the method, as the results' attrs and the docs state it
METHOD = (
    "coarse grid then local refinement around the incumbent (spacing halved each round), "
    "derivative-free; common random numbers (one seed) across designs; the chosen design "
    "re-estimated on a fresh seed"
)
#: points (lever name -> value) and a seed -> one design_outcomes Dataset (with
#: intervals) per point
Evaluator = Callable[[list[dict[str, float]], int], list[xr.Dataset]]

__all__ = ["METHOD", "Evaluation", "evaluate_points", "search", "solve_design", "summarise"]


# --------------------------------------------------------------------------- evaluation


def evaluate_points(
    base: str | Path,
    points: Sequence[dict[str, Any]],
    *,
    paths: int,
    seed: int,
    books: BooksMemo | str | Path | None = None,
    client: Any = None,
) -> list[xr.Dataset]:
    """Simulate ``base`` with each point's overrides (dotted key -> value), every point
    with the same ``paths`` and ``seed`` (common random numbers); one
    :func:`~guarantee_sim.results.outcomes.design_outcomes` Dataset (with intervals and
    the targets' labels) each, in the points' order.

    :func:`guarantee_sim.sweep.evaluate_points` runs them, in this process (``client``
    None) or as tasks on the client's Dask cluster. ``books`` lets designs that change
    only what the institution processes do not read (a pool's contribution, caps,
    capital) share one run of the processes, bit for bit a fresh run's: a memo of this
    process (e.g. :class:`~guarantee_sim.engine.BooksInMemory`, the default in this
    process) or a folder the workers share.
    """
    from ..sweep import evaluate_points as run_points
    from .distributed import books_for

    points = [dict(p) for p in points]
    if not points:
        return []
    memo = books_for(client, books)
    out = run_points(base, points, paths=paths, seed=seed, client=client, books=memo)
    described = target_coords(load_scenario(base, overrides=points[0]))
    return [o.assign_coords(described.coords) if "target" in o.dims else o for o in out]


def target_coords(scenario) -> xr.Dataset:
    """The targets as a results Dataset describes them (``target_label``, what the
    figure calls a target in Chinese, ``target_metric``, ...), with their metadata."""
    from ..results.dataset import annotate
    from ..results.dataset import target_coords as described

    ds = xr.Dataset(coords=described({n: t.model_dump() for n, t in scenario.targets.items()}))
    annotate(ds)
    return ds.drop_vars("target")


# --------------------------------------------------------------------------- the search


@dataclass
class Evaluation:
    """One evaluated design: its lever values, outcomes and the round that ran it (0 is
    the coarse grid)."""

    point: dict[str, float]
    outcomes: xr.Dataset
    round: int
    violations: list[float] = field(default_factory=list)
    objective: float = math.nan

    @property
    def violation(self) -> float:
        """Total violation of the constraints, in probability points (0: feasible)."""
        return float(sum(self.violations))

    @property
    def feasible(self) -> bool:
        return self.violation == 0.0


def snap(lever: DesignLever, value: float) -> float:
    """``value`` on the lever's lattice (``lower + k * step``), inside its bounds."""
    value = min(max(value, lever.lower), lever.upper)
    if lever.step is None:
        return float(value)
    k = round((value - lever.lower) / lever.step)
    k_max = math.floor((lever.upper - lever.lower) / lever.step + 1e-9)
    return float(lever.lower + min(max(k, 0), k_max) * lever.step)


def coarse_values(lever: DesignLever, n: int) -> list[float]:
    """``n`` evenly spaced values from lower to upper, on the lattice, each once."""
    values = [snap(lever, v) for v in np.linspace(lever.lower, lever.upper, n)]
    return sorted(set(values))


def constraint_estimate(outcomes: xr.Dataset, c: ChanceConstraint) -> tuple[float, float, float]:
    """The constrained probability's estimate and 95% interval (NaN when not computed)."""

    def value(name: str) -> float:
        if name not in outcomes:
            return math.nan
        da = outcomes[name]
        if c.target is not None:
            da = da.sel(target=c.target)
        return float(da)

    return (
        value(c.outcome),
        value(f"{c.outcome}_low"),
        value(f"{c.outcome}_high"),
    )


def violation(estimate: float, c: ChanceConstraint) -> float:
    """How far ``estimate`` is on the wrong side of the bound (0 when met; an estimate
    that could not be made, NaN, counts as a whole probability point off)."""
    if math.isnan(estimate):
        return 1.0
    gap = c.bound - estimate if c.sense == "at_least" else estimate - c.bound
    return max(0.0, gap)


def _key(point: dict[str, float]) -> tuple:
    return tuple(round(v, 12 - math.floor(math.log10(abs(v) or 1))) for v in point.values())


def incumbent(evaluations: Sequence[Evaluation]) -> int:
    """Index of the best design: the feasible one with the least objective, else the one
    with the least total violation (ties: the least objective, then the first)."""
    feasible = [i for i, e in enumerate(evaluations) if e.feasible]
    if feasible:
        return min(feasible, key=lambda i: evaluations[i].objective)
    return min(
        range(len(evaluations)),
        key=lambda i: (evaluations[i].violation, evaluations[i].objective),
    )


def search(
    spec: DesignSpec,
    evaluate: Callable[[list[dict[str, float]]], list[xr.Dataset]],
    on_evaluation: Callable[[Evaluation], None] | None = None,
) -> list[Evaluation]:
    """Every design evaluated, in order: the coarse grid, then the refinement rounds
    (see :data:`METHOD`). ``evaluate`` takes points (lever name -> value) and returns
    their outcomes, all with the same seed."""
    levers = spec.levers
    evaluations: list[Evaluation] = []
    seen: set[tuple] = set()

    def run(points: list[dict[str, float]], round_: int) -> None:
        points = [p for p in points if _key(p) not in seen]
        seen.update(_key(p) for p in points)
        if not points:
            return
        for point, outcomes in zip(points, evaluate(points), strict=True):
            e = Evaluation(point, outcomes, round_)
            e.violations = [
                violation(constraint_estimate(outcomes, c)[0], c) for c in spec.constraints
            ]
            e.objective = float(outcomes[spec.objective])
            evaluations.append(e)
            if on_evaluation is not None:
                on_evaluation(e)

    n = spec.search.grid_points
    grid = [coarse_values(lever, n) for lever in levers]
    run([dict(zip((x.name for x in levers), p, strict=True)) for p in itertools.product(*grid)], 0)
    spacing = [(x.upper - x.lower) / (n - 1) for x in levers]
    for round_ in range(1, spec.search.refine_rounds + 1):
        spacing = [max(s / 2, x.step or 0.0) for s, x in zip(spacing, levers, strict=True)]
        centre = evaluations[incumbent(evaluations)].point
        around = [
            sorted({snap(x, centre[x.name] + d * s) for d in (-1, 0, 1)})
            for x, s in zip(levers, spacing, strict=True)
        ]
        before = len(evaluations)
        run(
            [
                dict(zip((x.name for x in levers), p, strict=True))
                for p in itertools.product(*around)
            ],
            round_,
        )
        if len(evaluations) == before and all(
            x.step is not None and s <= x.step for x, s in zip(levers, spacing, strict=True)
        ):
            break  # every neighbour on the finest lattice is known: converged
    return evaluations


# --------------------------------------------------------------------------- the answer


def frontier_target(spec: DesignSpec, outcomes: xr.Dataset) -> str | None:
    """The target the frontier is drawn for: the first constrained one, else the first."""
    for c in spec.constraints:
        if c.target is not None:
            return c.target
    if "target" in outcomes.dims and outcomes.sizes["target"]:
        return str(outcomes.target.values[0])
    return None


def on_frontier(
    spec: DesignSpec, evaluations: Sequence[Evaluation], target: str | None
) -> list[bool]:
    """The evaluated designs on the frontier of cost against P(target): each meets every
    constraint other than those on ``target``, and no such design is as cheap and has a
    higher P(target) (a cheaper one at least as likely is better)."""
    if target is None:
        return [False] * len(evaluations)
    others = [i for i, c in enumerate(spec.constraints) if c.target != target]
    eligible = [i for i, e in enumerate(evaluations) if all(e.violations[k] == 0.0 for k in others)]

    def p(i: int) -> float:
        return float(evaluations[i].outcomes["target_probability"].sel(target=target))

    marked = [False] * len(evaluations)
    best = -math.inf
    for i in sorted(eligible, key=lambda i: (evaluations[i].objective, -p(i))):
        if p(i) > best:
            marked[i] = True
            best = p(i)
    return marked


def active(spec: DesignSpec, evaluations: Sequence[Evaluation], best: int) -> list[bool]:
    """Whether each constraint holds the answer up: some evaluated design cheaper than the
    best meets every other constraint but not this one (dropping it would make a cheaper
    design the answer). False everywhere when no design is feasible."""
    if not evaluations[best].feasible:
        return [False] * len(spec.constraints)
    cheaper = [e for e in evaluations if e.objective < evaluations[best].objective]
    flags = []
    for k in range(len(spec.constraints)):
        flags.append(
            any(
                e.violations[k] > 0.0
                and all(v == 0.0 for j, v in enumerate(e.violations) if j != k)
                for e in cheaper
            )
        )
    return flags


def solve(
    spec: DesignSpec,
    evaluate: Evaluator,
    seed: int,
    *,
    on_evaluation: Callable[[Evaluation], None] | None = None,
) -> xr.Dataset:
    """Search the design space with ``evaluate`` (points, seed -> outcomes), re-estimate
    the best design on the fresh seed, and describe it all as a Dataset (the contract is
    in DESIGN §5: ``evaluation``, ``lever`` and ``constraint`` dims).

    >>> from guarantee_sim.experiments import DesignSpec
    >>> spec = DesignSpec.model_validate({
    ...     "levers": [{"name": "size", "key": "parties.gov_pool.initial_balance", "lower": 0,
    ...                 "upper": 8, "step": 1, "label": {"zh": "规模", "en": "size"},
    ...                 "units": "CNY"}],
    ...     "constraints": [{"outcome": "pool_depletion_probability", "at_most": 0.05}]})
    >>> def evaluate(points, seed):  # P(depleted) falls by 10 points a unit, to 0 at 5
    ...     return [xr.Dataset({"public_cost_pv": p["size"],
    ...                         "pool_depletion_probability": max(0.0, 0.5 - 0.1 * p["size"])})
    ...             for p in points]
    >>> ds = solve(spec, evaluate, seed=1)
    >>> ds.attrs["status"], float(ds.best_value.sel(lever="size")), ds.attrs["fresh_seed"]
    ('feasible', 5.0, 2)
    >>> sorted(ds.lever_value.sel(lever="size").values.tolist())
    [0.0, 2.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    """
    started, cpu = time.perf_counter(), own_cpu_seconds()
    fresh_seed = spec.fresh_seed if spec.fresh_seed is not None else (seed + 1) % 2**32
    if fresh_seed == seed:
        raise ValueError(f"the fresh seed must differ from the selection seed {seed}")
    evaluations = search(spec, lambda points: evaluate(points, seed), on_evaluation)
    best = incumbent(evaluations)
    fresh = evaluate([evaluations[best].point], fresh_seed)[0]
    ds = _dataset(spec, evaluations, best, fresh)
    ds.attrs.update(
        results_kind=KIND,
        method=METHOD,
        seed=int(seed),
        fresh_seed=int(fresh_seed),
        objective=spec.objective,
        status="feasible" if evaluations[best].feasible else "infeasible within the bounds",
        best_evaluation=int(best),
        n_evaluations=len(evaluations),
        compute_wall_seconds=round(time.perf_counter() - started, 1),
        compute_cpu_seconds=round(own_cpu_seconds() - cpu, 1),
    )
    return ds


def _dataset(
    spec: DesignSpec, evaluations: list[Evaluation], best: int, fresh: xr.Dataset
) -> xr.Dataset:
    levers, constraints = spec.levers, spec.constraints
    outcomes = xr.concat(
        [e.outcomes for e in evaluations],
        dim="evaluation",
        coords="minimal",
        compat="override",
        combine_attrs="drop_conflicts",
    )
    target = frontier_target(spec, evaluations[0].outcomes)
    lever_names = [x.name for x in levers]
    selection = [constraint_estimate(evaluations[best].outcomes, c) for c in constraints]
    fresh_est = [constraint_estimate(fresh, c) for c in constraints]
    objective_fresh = [
        float(fresh[spec.objective + s]) if spec.objective + s in fresh else math.nan
        for s in ("", "_low", "_high")
    ]
    C = ("constraint",)
    E = ("evaluation",)

    def attrs(units: str, long_name: str) -> dict:
        return {"units": units, "long_name": long_name}

    data: dict[str, tuple] = {
        "lever_value": (
            ("evaluation", "lever"),
            np.array([[e.point[n] for n in lever_names] for e in evaluations]),
            attrs("see lever_units", "the lever's value at the evaluated design"),
        ),
        "refinement_round": (
            E,
            np.array([e.round for e in evaluations]),
            attrs("1", "search round that evaluated the design (0: the coarse grid)"),
        ),
        "objective": (
            E,
            np.array([e.objective for e in evaluations]),
            attrs(OUTCOMES[spec.objective][0], f"objective (minimised): {spec.objective}"),
        ),
        "violation": (
            E,
            np.array([e.violation for e in evaluations]),
            attrs("1", "total violation of the chance constraints (probability points)"),
        ),
        "feasible": (
            E,
            np.array([e.feasible for e in evaluations]),
            attrs("1", "meets every constraint"),
        ),
        "on_frontier": (
            E,
            np.array(on_frontier(spec, evaluations, target)),
            attrs("1", "on the frontier of cost against P(frontier target), other constraints met"),
        ),
        "best_value": (
            ("lever",),
            np.array([evaluations[best].point[n] for n in lever_names]),
            attrs("see lever_units", "the lever's value at the best design"),
        ),
        "best_at_bound": (
            ("lever",),
            np.array(
                [evaluations[best].point[x.name] in (x.lower, snap(x, x.upper)) for x in levers]
            ),
            attrs("1", "the best design sits on the lever's bound (wider bounds may do better)"),
        ),
        "selection_estimate": (
            C,
            np.array([s[0] for s in selection]),
            attrs("1", "constrained probability at the best design, selection seed"),
        ),
        "selection_low": (
            C,
            np.array([s[1] for s in selection]),
            attrs("1", "selection_estimate's 95% interval, low"),
        ),
        "selection_high": (
            C,
            np.array([s[2] for s in selection]),
            attrs("1", "selection_estimate's 95% interval, high"),
        ),
        "fresh_estimate": (
            C,
            np.array([s[0] for s in fresh_est]),
            attrs("1", "constrained probability at the best design, fresh seed"),
        ),
        "fresh_low": (
            C,
            np.array([s[1] for s in fresh_est]),
            attrs("1", "fresh_estimate's 95% interval, low"),
        ),
        "fresh_high": (
            C,
            np.array([s[2] for s in fresh_est]),
            attrs("1", "fresh_estimate's 95% interval, high"),
        ),
        "fresh_inside_selection_interval": (
            C,
            np.array(
                [lo <= f[0] <= hi for (_, lo, hi), f in zip(selection, fresh_est, strict=True)]
            ),
            attrs("1", "the fresh estimate lies inside the selection run's 95% interval"),
        ),
        "constraint_met_fresh": (
            C,
            np.array(
                [violation(f[0], c) == 0.0 for f, c in zip(fresh_est, constraints, strict=True)]
            ),
            attrs("1", "the fresh estimate meets the constraint"),
        ),
        "constraint_violation": (
            C,
            np.array(evaluations[best].violations, dtype=float),
            attrs("1", "how far the best design's selection estimate misses the bound (0: met)"),
        ),
        "constraint_active": (
            C,
            np.array(active(spec, evaluations, best), dtype=bool),
            attrs("1", "a cheaper evaluated design fails this constraint only (it binds)"),
        ),
    }
    for suffix, value in zip(("", "_low", "_high"), objective_fresh, strict=True):
        data[f"objective_fresh{suffix}"] = (
            (),
            np.float64(value),
            attrs(
                OUTCOMES[spec.objective][0],
                f"objective at the best design, fresh seed{suffix.replace('_', ', ')}",
            ),
        )
    ds = xr.Dataset(
        data,
        coords={
            "evaluation": np.arange(len(evaluations)),
            "lever": lever_names,
            "lever_key": ("lever", [x.key for x in levers], {"long_name": "dotted scenario key"}),
            "lever_units": (
                "lever",
                [x.units for x in levers],
                {"long_name": "units of the lever's values"},
            ),
            "lever_label_zh": (
                "lever",
                [x.label.zh for x in levers],
                {"long_name": "Chinese label"},
            ),
            "lever_label_en": (
                "lever",
                [x.label.en for x in levers],
                {"long_name": "English label"},
            ),
            "lever_lower": (
                "lever",
                [x.lower for x in levers],
                {"long_name": "lower bound", "units": "see lever_units"},
            ),
            "lever_upper": (
                "lever",
                [x.upper for x in levers],
                {"long_name": "upper bound", "units": "see lever_units"},
            ),
            "lever_step": (
                "lever",
                [x.step or math.nan for x in levers],
                {"long_name": "lattice step (NaN: none)", "units": "see lever_units"},
            ),
            "constraint": [c.label for c in constraints],
            "constraint_outcome": (
                "constraint",
                [c.outcome for c in constraints],
                {"long_name": "the constrained outcome"},
            ),
            "constraint_target": (
                "constraint",
                [c.target or "" for c in constraints],
                {"long_name": "its target ('' for an event)"},
            ),
            "constraint_sense": (
                "constraint",
                [c.sense for c in constraints],
                {"long_name": "at_least or at_most"},
            ),
            "constraint_bound": (
                "constraint",
                [c.bound for c in constraints],
                {"units": "1", "long_name": "the bound on the probability"},
            ),
        },
    )
    merged = xr.merge([ds, outcomes], combine_attrs="override")
    merged.attrs = dict(outcomes.attrs)
    merged.attrs["frontier_target"] = target or ""
    return merged


# --------------------------------------------------------------------------- from a file


def design_scenarios(path: str | Path, experiment: Experiment, *, strict: bool = False) -> Path:
    """Check a design experiment before anything runs: every coarse grid point is a valid
    scenario, each constrained target is one of the base's, importance sampling is off.
    Returns the base scenario's path; errors name the file, line and key."""
    path = Path(path)
    spec = experiment.design
    if spec is None:
        raise ScenarioError(
            f"{path}: the experiment has no design: section (nothing to solve)", path=str(path)
        )
    base = _base_scenario(path, experiment)
    names = [x.name for x in spec.levers]
    grid = [coarse_values(x, spec.search.grid_points) for x in spec.levers]
    first = None
    for values in itertools.product(*grid):
        point = dict(zip(names, values, strict=True))
        try:
            scenario = load_scenario(base, overrides=_overrides(experiment, point), strict=strict)
        except ScenarioError as err:
            raise _located(
                experiment,
                path,
                ("design", "levers"),
                f"the design {point} is not a valid scenario:\n{err}",
            ) from None
        first = first or scenario
    assert first is not None
    for i, c in enumerate(spec.constraints):
        if c.target is not None and c.target not in first.targets:
            raise _located(
                experiment,
                path,
                ("design", "constraints", i, "target"),
                f"{c.target!r} is not a target of the base scenario (allowed: "
                f"{', '.join(first.targets) or 'none'})",
            )
    if first.simulation.importance_sampling is not None:
        raise _located(
            experiment,
            path,
            ("design",),
            "the base samples toward the tail (simulation.importance_sampling): a design search "
            "needs plain sampling, so that every design shares its paths; set it to null",
        )
    return base


def _located(experiment: Experiment, path: Path, at: tuple, message: str) -> ScenarioError:
    line = experiment._lines.get(at)
    key = ".".join(map(str, at))
    return ScenarioError(
        f"{format_location(path, line, key)}: {message}", path=str(path), line=line, key=key
    )


def _overrides(experiment: Experiment, point: dict[str, float]) -> dict[str, Any]:
    """The experiment's overrides, then the point's lever values (by dotted key)."""
    assert experiment.design is not None
    keys = {x.name: x.key for x in experiment.design.levers}
    return {**experiment.overrides, **{keys[n]: v for n, v in point.items()}}


def solve_design(
    path: str | Path,
    paths: int | None = None,
    seed: int | None = None,
    overrides=None,
    *,
    strict: bool = False,
    evaluate: Callable[..., list[xr.Dataset]] = evaluate_points,
    on_evaluation: Callable[[Evaluation], None] | None = None,
    client: Any = None,
    books: str | Path | None = None,
) -> xr.Dataset:
    """Solve the ``design:`` section of the experiment at ``path`` (see the module's
    docstring); the results Dataset, with the experiment's name, base and run size in its
    attrs. ``evaluate(base, points, paths=, seed=)`` runs the points (dotted key -> value);
    the default, :func:`evaluate_points`, runs each round's designs together in this
    process, or as tasks on ``client``'s Dask cluster (the institution books cached in the
    folder ``books``)."""
    experiment = load_experiment(path, overrides)
    base = design_scenarios(path, experiment, strict=strict)
    spec = experiment.design
    assert spec is not None
    probe = load_scenario(base, overrides=experiment.overrides)
    paths, _, seed = experiment.run_size(probe, paths, seed)
    if evaluate is evaluate_points:  # designs the processes cannot tell apart share books
        memo = BooksInMemory() if client is None and books is None else books
        evaluate = functools.partial(evaluate_points, books=memo, client=client)

    def run(points: list[dict[str, float]], at_seed: int) -> list[xr.Dataset]:
        return evaluate(
            base, [_overrides(experiment, p) for p in points], paths=paths, seed=at_seed
        )

    everywhere = cpu_by_process(client)
    ds = solve(spec, run, seed, on_evaluation=on_evaluation)
    if client is not None:  # solve counted this process only: the work was the workers'
        ds.attrs["compute_cpu_seconds"] = round(cpu_used(everywhere, cpu_by_process(client)), 1)
    ds.attrs.update(
        experiment=experiment.name,
        experiment_label=experiment.label,
        question=experiment.question or experiment.description,
        base=str(experiment.base),
        n_paths=int(paths),
        dask_workers=0 if client is None else workers_of(client),  # 0: in this process
        experiment_overrides=json.dumps(
            experiment.policy_overrides(None), ensure_ascii=False, default=str
        ),
        **_run_attrs(probe),
    )
    return ds


def _run_attrs(scenario) -> dict[str, Any]:
    """What a reader of the results needs of the runs behind them (the brief's
    "preliminary" test, provenance): as a run's results record it."""
    processes = scenario.lending_source == "processes" and scenario.processes is not None
    return {
        "lending_source": "processes" if processes else "volumes",
        "book_replicas": int(scenario.processes.replicas) if processes else 1,
        "package_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def summarise(ds: xr.Dataset) -> list[str]:
    """The answer in a few plain lines (English, as the CLI's diagnostics): the status,
    the best design, its objective and each constraint, fresh against selection."""
    best = int(ds.attrs["best_evaluation"])
    feasible = ds.attrs["status"] == "feasible"
    lines = [
        f"{ds.attrs['status']}: {ds.attrs['n_evaluations']} designs evaluated "
        f"({ds.attrs['compute_wall_seconds']} s wall, {ds.attrs['compute_cpu_seconds']} s CPU)",
        f"method: {ds.attrs['method']}",
        "best design" if feasible else "closest design (least total violation)",
    ]
    for lever in ds.lever.values:
        at = ds.sel(lever=lever)
        bound = " (on its bound)" if bool(at.best_at_bound) else ""
        lines.append(
            f"  {lever} ({at.lever_key.item()}) = {float(at.best_value):.6g} "
            f"{at.lever_units.item()}{bound}"
        )

    def span(est, low, high, fmt) -> str:
        return f"{float(est):{fmt}} [{float(low):{fmt}}, {float(high):{fmt}}]"

    units = ds["objective"].attrs["units"]
    fresh = span(ds.objective_fresh, ds.objective_fresh_low, ds.objective_fresh_high, ".4g")
    lines.append(
        f"{ds.attrs['objective']}: {float(ds.objective.isel(evaluation=best)):.4g} {units} "
        f"(selection seed {ds.attrs['seed']}); fresh seed {ds.attrs['fresh_seed']}: {fresh}"
    )
    for c in ds.constraint.values:
        v = ds.sel(constraint=c)
        notes = [
            "met" if float(v.constraint_violation) == 0 else "violated",
            *(["active"] if bool(v.constraint_active) else []),
            *([] if bool(v.fresh_inside_selection_interval) else ["fresh outside selection CI"]),
            *([] if bool(v.constraint_met_fresh) else ["NOT met on the fresh seed"]),
        ]
        selection = span(v.selection_estimate, v.selection_low, v.selection_high, ".3f")
        fresh = span(v.fresh_estimate, v.fresh_low, v.fresh_high, ".3f")
        lines.append(f"  {c}: selection {selection}, fresh {fresh}; " + ", ".join(notes))
    return lines
