"""Calibration by the method of simulated moments (MSM), with common random numbers.

Fits named scenario keys (demand levels, score noise, the guarantor's mandate, PD levels)
to observed aggregates (approvals, first-time borrowers, lending, guarantee amounts,
payouts, by year) read from an observed file (:mod:`.observed`).

The method, as a reviewer needs it:

* **Simulated moments.** Each evaluation loads the scenario with the parameters as
  overrides and simulates it with the **same seed** (common random numbers), so the
  simulated moments, and the objective, are a deterministic function of the parameters.
  A moment is a results variable summed over its selection, averaged over paths.
  Every evaluation goes through :func:`simulate_moments_at` and so
  :func:`guarantee_sim.sweep.evaluate_points`: in this process, or as tasks on a Dask
  cluster (``calibrate(..., client=...)``) with the same numbers bit for bit. The points
  of a finite-difference Jacobian (the optimiser's forward one, the central one of the
  identification checks and standard errors) are submitted together.
* **Weighting.** With standard errors, the residual of moment *i* is
  ``(simulated - observed) / se_i`` (a diagonal weighting matrix ``W = diag(1/se^2)``).
  With weights instead (no standard errors known), it is the relative residual
  ``sqrt(w_i) (simulated - observed) / |observed|``, with a warning: the fit then depends
  on the weights chosen.
* **Fit.** ``scipy.optimize.least_squares`` (trust-region reflective, within the bounds)
  on the weighted residuals, in range-scaled parameters ``(theta - lower) / (upper -
  lower)``, with a forward-difference Jacobian whose step is :data:`STEP` (2%) of each
  range: large enough to see through the discreteness of the institution processes'
  counts, with common random numbers making the differences exact functions of the step.
* **Standard errors.** The MSM sandwich ``V = (G'WG)^-1 G'W S W G (G'WG)^-1`` with
  ``G`` the central-difference Jacobian of the simulated moments at the optimum and
  ``S = S_obs + S_sim``: the observed variance (``diag(se^2)``) plus the Monte Carlo
  covariance of the simulated means (the covariance over paths / paths). Without standard
  errors the observed aggregates are taken as one path of the model (``S_obs`` = the
  covariance over paths), which is the textbook ``(1 + 1/S)`` factor with ``S`` the
  number of paths. The processes' variables (applications, approvals, rejections) are
  means over the book replicas, whose spread the results do not keep: their simulation
  noise is taken as zero.
* **Identification.** The Jacobian of the weighted residuals in range-scaled parameters
  is checked before the fit (at the start values: a rank-deficient problem is refused,
  naming the parameters) and after it (at the optimum: a warning, and no standard error
  for the parameters concerned). The rank counts singular values above
  :data:`RANK_TOLERANCE` times the largest; the condition number is the largest over the
  smallest. Parameters that load on a null direction by more than
  :data:`NULL_LOADING` are named: two keys that enter only as a product, or a key no
  moment depends on.
* **Fit statistics.** Each moment's standardised residual ``(simulated - observed) /
  sqrt(S_ii)``; when over-identified (more moments than parameters) and standard errors
  are given, the J statistic ``sum of squared standardised residuals``, approximately
  chi-squared with ``moments - parameters`` degrees of freedom (exactly so only with the
  efficient weighting; ours is diagonal).
"""

from __future__ import annotations

import inspect
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .._version import __version__
from ..config import Scenario, ScenarioError, ScenarioWarning, load_scenario, scenario_from_dict
from ..results.dataset import VARIABLE_META
from .distributed import books_for, cpu_by_process, cpu_used, workers_of
from .observed import (
    PARTY_VARIABLES,
    FitParameter,
    Moment,
    Observed,
    check_observed,
    raise_located,
)

__all__ = [
    "NULL_LOADING",
    "RANK_TOLERANCE",
    "STEP",
    "CalibrationWarning",
    "Identification",
    "SimulatedMoments",
    "calibrate",
    "identify",
    "simulate_moments",
    "simulate_moments_at",
]

#: finite-difference step, as a share of each parameter's range (fit and Jacobian)
STEP = 0.02
#: the fit stops when a step moves the range-scaled parameters by less than this (0.1% of
#: each range: finer than the finite-difference step resolves) or the objective by less
#: than FTOL relatively
XTOL = 1e-3
FTOL = 1e-4
#: singular values below this share of the largest count as zero (rank, identification)
RANK_TOLERANCE = 1e-3
#: a parameter loading on a null direction by more than this is named as not identified
NULL_LOADING = 0.2

#: a scenario file, or a scenario as a dict (tests, notebooks)
Base = str | Path | Mapping[str, Any]


class CalibrationWarning(UserWarning):
    """A calibration that runs but should be read with care (weak identification, no
    standard errors, a parameter the data hardly speak to)."""


@dataclass(frozen=True)
class SimulatedMoments:
    """The simulated moments at one parameter point.

    Attributes
    ----------
    mean : numpy.ndarray
        ``[moment]``: the mean over paths.
    path_cov : numpy.ndarray
        ``[moment, moment]``: the covariance over paths (of one path's moments); zero for
        moments without a path dimension.
    paths : int
        Paths the mean is over (its Monte Carlo covariance is ``path_cov / paths``).
    """

    mean: np.ndarray
    path_cov: np.ndarray
    paths: int


@dataclass(frozen=True)
class Identification:
    """Rank and conditioning of a moment Jacobian (range-scaled parameters).

    ``unidentified`` names the parameters on the null directions (empty when full rank).
    """

    rank: int
    condition: float
    singular_values: np.ndarray
    unidentified: tuple[str, ...]


def scenario_at(base: Base, values: Mapping[str, float]) -> Scenario:
    """The base scenario with ``values`` (dotted key -> number) as overrides."""
    overrides = {key: float(value) for key, value in values.items()}
    if isinstance(base, Mapping):
        return scenario_from_dict(dict(base), source="<scenario>", overrides=overrides)
    return load_scenario(base, overrides=overrides)


def simulate_moments(
    base: Base,
    values: Mapping[str, float],
    moments: Sequence[Moment],
    *,
    paths: int,
    seed: int,
) -> SimulatedMoments:
    """Simulate the base scenario at ``values`` and return its moments.

    The same ``seed`` at every call gives common random numbers: the result is a
    deterministic function of ``values``. (:func:`simulate_moments_at` for many points.)

    >>> from guarantee_sim.analysis.observed import Moment
    >>> m = Moment(name="loans", variable="loans_count", select={"year": 2021},
    ...            value=400, se=20, source="illustrative")
    >>> sim = simulate_moments("scenarios/county_guarantee_2021.yaml",
    ...                        {"segments.first_time.lending.count_per_year": 200},
    ...                        [m], paths=20, seed=1)
    >>> sim.mean.shape, sim.paths
    ((1,), 20)
    """
    return simulate_moments_at(base, [values], moments, paths=paths, seed=seed)[0]


def simulate_moments_at(
    base: Base,
    points: Sequence[Mapping[str, float]],
    moments: Sequence[Moment],
    *,
    paths: int,
    seed: int,
    client: Any = None,
    books: Any = None,
) -> list[SimulatedMoments]:
    """The moments at each point (dotted key -> number), every point with the same
    ``paths`` and ``seed``: the one function every evaluation of a calibration goes
    through. :func:`guarantee_sim.sweep.evaluate_points` runs the points, in this process
    (``client`` None) or as tasks on the client's Dask cluster (the institution books
    cached in the folder ``books``), with the same numbers."""
    from ..sweep import evaluate_points
    from .distributed import books_for

    overrides = [{key: float(value) for key, value in p.items()} for p in points]
    with warnings.catch_warnings():  # implausible values were reported once, up front
        warnings.simplefilter("ignore", ScenarioWarning)
        scenarios = [scenario_at(base, p) for p in overrides]
        runs = evaluate_points(
            base, overrides, paths=paths, seed=seed, client=client, summaries=False,
            books=books_for(client, books),
        )  # fmt: skip
    return [_moments(ds, s, moments, paths) for ds, s in zip(runs, scenarios, strict=True)]


def _moments(
    ds: xr.Dataset, scenario: Scenario, moments: Sequence[Moment], paths: int
) -> SimulatedMoments:
    columns = [moment_values(ds, scenario, m) for m in moments]
    per_path = np.stack([np.broadcast_to(c, (paths,)) for c in columns], axis=1)
    mean = per_path.mean(axis=0)
    path_cov = np.atleast_2d(np.cov(per_path, rowvar=False)) if paths > 1 else None
    if path_cov is None:
        path_cov = np.zeros((len(moments), len(moments)))
    return SimulatedMoments(mean=mean, path_cov=path_cov, paths=paths)


def moment_values(ds: xr.Dataset, scenario: Scenario, moment: Moment) -> np.ndarray:
    """One moment from a results Dataset: per path (``[path]``), or a scalar when the
    variable has no path dimension (the processes' counts)."""
    sel = moment.select
    da = ds[moment.variable].sel(year=sel.years or list(scenario.years))
    if moment.variable in PARTY_VARIABLES:
        da = da.sel(party=[sel.party])
    else:
        segments = [
            name
            for name, segment in scenario.segments.items()
            if set(sel.tags) <= set(segment.tags) and sel.segment in (None, name)
        ]
        da = da.sel(segment=segments)
    summed = da.sum([d for d in da.dims if d != "path"])
    return np.asarray(summed.values, dtype=float)


def identify(jacobian: np.ndarray, names: Sequence[str]) -> Identification:
    """Rank, condition number and the parameters not identified, from a Jacobian of the
    weighted residuals with respect to range-scaled parameters (``[moment, parameter]``).

    >>> j = np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 1.0, 0.0]])
    >>> found = identify(j, ["a", "b", "c"])
    >>> found.rank, found.unidentified
    (2, ('c',))
    >>> identify(np.array([[1.0, 2.0], [2.0, 4.0]]), ["x", "y"]).unidentified
    ('x', 'y')
    """
    k = jacobian.shape[1]
    _, s, vt = np.linalg.svd(jacobian, full_matrices=True)
    s_full = np.zeros(k)
    s_full[: len(s)] = s
    largest = s_full.max(initial=0.0)
    null = s_full <= RANK_TOLERANCE * largest if largest > 0 else np.ones(k, bool)
    rank = int((~null).sum())
    smallest = s_full.min()
    condition = math.inf if smallest == 0 else float(largest / smallest)
    loadings = np.abs(vt[null]).max(axis=0) if null.any() else np.zeros(k)
    unidentified = tuple(n for n, load in zip(names, loadings, strict=True) if load > NULL_LOADING)
    return Identification(rank, condition, s_full, unidentified)


class _Problem:
    """The calibration's residuals and Jacobians, with every evaluation cached."""

    def __init__(
        self,
        observed: Observed,
        parameters: Sequence[FitParameter],
        evaluate: Callable[[list[dict[str, float]]], list[SimulatedMoments]],
        progress: Callable[[int, Mapping[str, float]], None] | None = None,
    ) -> None:
        self.progress = progress
        self.observed = observed
        self.parameters = list(parameters)
        self.evaluate = evaluate
        self.lower = np.array([p.lower for p in self.parameters])
        self.span = np.array([p.span for p in self.parameters])
        self.values = np.array([m.value for m in observed.moments])
        if observed.has_standard_errors:
            self.scale = np.array([m.se for m in observed.moments], dtype=float)
        else:  # relative residual, times sqrt(weight)
            weights = np.array([m.weight for m in observed.moments], dtype=float)
            self.scale = np.abs(self.values) / np.sqrt(weights)
        self.cache: dict[tuple[float, ...], SimulatedMoments] = {}

    def theta(self, u: np.ndarray) -> np.ndarray:
        return self.lower + np.clip(u, 0.0, 1.0) * self.span

    @staticmethod
    def key(theta: np.ndarray) -> tuple[float, ...]:
        # 12 significant digits: the optimiser's forward step and the Jacobian's central
        # step reach the same point by different roundings
        return tuple(float(f"{x:.12g}") for x in theta)

    def prefetch(self, thetas: Sequence[np.ndarray]) -> None:
        """Evaluate the points not yet known, together (one batch of tasks)."""
        keys = list(dict.fromkeys(k for k in map(self.key, thetas) if k not in self.cache))
        points = [{p.key: x for p, x in zip(self.parameters, k, strict=True)} for k in keys]
        for i, values in enumerate(points):
            if self.progress is not None:
                self.progress(len(self.cache) + i + 1, values)
        for k, sim in zip(keys, self.evaluate(points) if points else [], strict=True):
            self.cache[k] = sim

    def at(self, theta: np.ndarray) -> SimulatedMoments:
        self.prefetch([theta])
        return self.cache[self.key(theta)]

    def map(self, fun: Callable, us) -> list:
        """``least_squares``' map for its finite-difference Jacobian: the points (range-
        scaled) evaluated together, then ``fun`` on each (from the cache)."""
        us = list(us)
        self.prefetch([self.theta(u) for u in us])
        return [fun(u) for u in us]

    def residuals(self, u: np.ndarray) -> np.ndarray:
        return (self.at(self.theta(u)).mean - self.values) / self.scale

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        """Central differences of the simulated means, ``[moment, parameter]``, in the
        parameters' own units (one-sided at a bound)."""
        steps = []
        for j, p in enumerate(self.parameters):
            h = STEP * p.span
            up, down = theta.copy(), theta.copy()
            up[j] = min(theta[j] + h, p.upper)
            down[j] = max(theta[j] - h, p.lower)
            steps.append((up, down))
        self.prefetch([x for pair in steps for x in pair])
        columns = [
            (self.at(up).mean - self.at(down).mean) / (up[j] - down[j])
            for j, (up, down) in enumerate(steps)
        ]
        return np.stack(columns, axis=1)

    def identification(self, theta: np.ndarray) -> tuple[np.ndarray, Identification]:
        g = self.jacobian(theta)
        scaled = g * self.span[None, :] / self.scale[:, None]
        return g, identify(scaled, [p.key for p in self.parameters])


def calibrate(
    base: Base,
    observed: Observed,
    *,
    paths: int,
    seed: int,
    parameters: Sequence[str] | None = None,
    source: str = "<observed>",
    lines: Mapping[tuple, int] | None = None,
    evaluate: Callable[[Mapping[str, float]], SimulatedMoments] | None = None,
    max_evaluations: int = 60,
    progress: Callable[[int, Mapping[str, float]], None] | None = None,
    client: Any = None,
    books: str | Path | None = None,
) -> xr.Dataset:
    """Fit ``observed``'s parameters by the method of simulated moments.

    Parameters
    ----------
    base : str, Path or dict
        The scenario file (or dict) whose keys are fitted.
    observed : Observed
        Parameters to fit and moments to match (:func:`.observed.load_observed`).
    paths, seed : int
        Paths per evaluation and the seed every evaluation uses (common random numbers).
    parameters : list of str, optional
        Fit only these of the file's parameters (dotted keys); the others keep the
        scenario's values.
    source, lines : optional
        The observed file's name and key lines, for errors that point into it.
    evaluate : callable, optional
        ``evaluate(values) -> SimulatedMoments``, one point at a time; default
        :func:`simulate_moments_at`, a Jacobian's points together.
    max_evaluations : int
        Most residual evaluations the optimiser makes (its forward-difference Jacobians,
        one evaluation per parameter each, not counted).
    progress : callable, optional
        ``progress(n, values)`` before the n-th distinct evaluation (a long calibration
        says where it is).
    client : distributed.Client, optional
        Run the evaluations as tasks on this client's Dask cluster (same numbers as in
        this process, the default).
    books : path, optional
        The institution books' cache folder (on a cluster, one every worker sees).

    Returns
    -------
    xarray.Dataset
        Dims ``parameter`` (the dotted keys) and ``moment`` (the moments' names): the
        estimates, standard errors, bounds and identification per parameter; observed,
        simulated and standardised residual per moment; the Jacobian; and the J statistic,
        rank and condition number as scalars. See the module doc for the method.

    Raises
    ------
    ScenarioError
        Bad input (pointing into the observed file), fewer moments than parameters, or
        parameters the moments do not identify at the start values.
    """
    from scipy.optimize import least_squares
    from scipy.stats import chi2

    started, wall = cpu_by_process(client), time.perf_counter()
    lines = dict(lines or {})
    chosen = _chosen(observed, parameters, source, lines)
    start_values = {p.key: p.start for p in chosen}
    scenario = _checked_scenario(base, observed, chosen, source, lines)
    paths = int(paths)
    evaluate_many = _evaluator(base, observed, paths, seed, evaluate, client, books)
    problem = _Problem(observed, chosen, evaluate_many, progress)
    n_moments, n_params = len(observed.moments), len(chosen)
    if n_moments < n_params:
        raise_located(
            [
                (
                    ("moments",),
                    f"{n_moments} moments cannot identify {n_params} parameters: give at "
                    "least as many moments as parameters",
                    None,
                )
            ],
            source,
            lines,
        )
    _warn_weak_by_nature(observed, chosen)
    theta0 = np.array([p.start for p in chosen])
    _, at_start = problem.identification(theta0)
    if at_start.unidentified:
        _refuse_unidentified(at_start, chosen, source, lines)

    u0 = (theta0 - problem.lower) / problem.span
    # scipy >= 1.16 maps the forward-difference Jacobian's points: submitted together
    parallel = "workers" in inspect.signature(least_squares).parameters
    fit = least_squares(
        problem.residuals,
        u0,
        jac="2-point",
        bounds=(0.0, 1.0),
        diff_step=STEP,
        x_scale=1.0,
        xtol=XTOL,
        ftol=FTOL,
        max_nfev=max_evaluations,
        **({"workers": problem.map} if parallel else {}),
    )
    theta = problem.theta(fit.x)
    g, at_fit = problem.identification(theta)
    if at_fit.unidentified:
        warnings.warn(
            CalibrationWarning(
                "at the optimum the moments do not identify "
                + ", ".join(at_fit.unidentified)
                + f" (Jacobian rank {at_fit.rank} of {n_params}, condition number "
                f"{at_fit.condition:.3g}): their standard errors are not reported"
            ),
            stacklevel=2,
        )
    _warn_at_bounds(chosen, theta)
    sim = problem.at(theta)
    sim_cov = sim.path_cov / sim.paths
    if observed.has_standard_errors:
        obs_cov = np.diag(problem.scale**2)
    else:
        obs_cov = sim.path_cov
        warnings.warn(
            CalibrationWarning(
                "no standard errors in the observed file: weights on relative residuals "
                "(identity when all 1), and standard errors that treat the observed values "
                "as one path of the model (no J statistic)"
            ),
            stacklevel=2,
        )
    total_cov = obs_cov + sim_cov
    weights = 1.0 / problem.scale**2
    cov = _sandwich(g, weights, total_cov, at_fit, [p.key for p in chosen])
    std_error = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    std_residual = (sim.mean - problem.values) / np.sqrt(np.diag(total_cov))
    df = n_moments - n_params
    if observed.has_standard_errors and df > 0:
        j_stat = float(np.sum(std_residual**2))
        j_p = float(chi2.sf(j_stat, df))
    else:
        j_stat = j_p = math.nan
    ds = _dataset(
        observed=observed,
        chosen=chosen,
        theta=theta,
        std_error=std_error,
        at_fit=at_fit,
        jacobian=g,
        sim=sim,
        sim_cov=sim_cov,
        weights=weights,
        std_residual=std_residual,
        j=(j_stat, df, j_p),
    )
    ds.attrs.update(
        scenario=scenario.name,
        base=str(base) if not isinstance(base, Mapping) else "<dict>",
        observed_file=source,
        observed_name=observed.name,
        paths=paths,
        seed=int(seed),
        start_values=repr(start_values),
        evaluations=len(problem.cache),
        dask_workers=0 if client is None else workers_of(client),  # 0: in this process
        optimizer_status=int(fit.status),
        optimizer_message=str(fit.message),
        # this process's and its children's, and a cluster's workers'
        cpu_seconds=round(cpu_used(started, cpu_by_process(client)), 3),
        wall_seconds=round(time.perf_counter() - wall, 3),
        method=(
            "method of simulated moments; common random numbers (one seed for every "
            "evaluation); scipy.optimize.least_squares (trf, bounds) on weighted residuals, "
            f"forward-difference step {STEP:g} of each range"
        ),
        standard_errors=(
            "MSM sandwich (G'WG)^-1 G'W (S_obs + S_sim) W G (G'WG)^-1, G by central "
            "differences at the optimum, S_sim = covariance over paths / paths"
            + ("" if observed.has_standard_errors else "; S_obs = covariance over paths")
        ),
        created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        guarantee_sim_version=__version__,
    )
    return ds


def _evaluator(base, observed, paths, seed, evaluate, client, books):
    """Points -> their moments: ``evaluate`` one point at a time, or by default
    :func:`simulate_moments_at` (a batch of tasks; one books memo for the whole fit)."""
    if evaluate is not None:
        return lambda points: [evaluate(values) for values in points]
    memo = books_for(client, books)

    def evaluate_many(points: list[dict[str, float]]) -> list[SimulatedMoments]:
        return simulate_moments_at(
            base, points, observed.moments, paths=paths, seed=seed, client=client, books=memo
        )

    return evaluate_many


def launch_line(
    scenario: Scenario,
    observed: Observed,
    parameters: Sequence[str] | None,
    paths: int,
    client: Any = None,
    max_evaluations: int = 60,
) -> str:
    """What ``calibrate`` says before it runs: how many evaluations (runs of ``paths``
    paths) at least and at most, and the time estimate of the most. At least: the central
    Jacobian at the start (2 per parameter) and the start itself; at most: also each of
    the optimiser's ``max_evaluations`` with its forward Jacobian (1 per parameter) and
    the central Jacobian at the optimum."""
    from .distributed import launch_estimate

    k = len(parameters) if parameters else len(observed.parameters)
    least, most = 2 * k + 1, 4 * k + (k + 1) * max_evaluations
    return (
        f"calibrate {observed.name}: {k} parameters, {least:,} to {most:,} evaluations; "
        f"estimated time for the fewest, {launch_estimate(scenario, least, paths, client)}; "
        f"for the most, {launch_estimate(scenario, most, paths, client)}"
    )


def _chosen(
    observed: Observed, parameters: Sequence[str] | None, source: str, lines
) -> list[FitParameter]:
    if not parameters:
        return list(observed.parameters)
    known = {p.key: p for p in observed.parameters}
    unknown = [k for k in parameters if k not in known]
    if unknown:
        raise ScenarioError(
            f"--parameters: {', '.join(unknown)} not among the parameters of {source}; "
            f"allowed: {', '.join(known)}",
            path=source,
            key="parameters",
        )
    return [known[k] for k in dict.fromkeys(parameters)]


def _checked_scenario(
    base: Base, observed: Observed, chosen: Sequence[FitParameter], source: str, lines
) -> Scenario:
    """The scenario at the start values, after refusing anything it cannot take: a
    parameter key it does not have (or not a number), a bound it refuses, a moment it
    cannot produce."""
    index = {p.key: i for i, p in enumerate(observed.parameters)}
    for p in chosen:
        for field in ("start", "lower", "upper"):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ScenarioWarning)
                    scenario_at(base, {p.key: getattr(p, field)})
            except ScenarioError as err:
                loc = ("parameters", index[p.key], "key" if field == "start" else field)
                reason = "; ".join(err.problems)
                raise_located(
                    [(loc, f"the scenario refuses {p.key}={getattr(p, field)!r}: {reason}", None)],
                    source,
                    lines,
                )
    scenario = scenario_at(base, {p.key: p.start for p in chosen})  # warnings shown once
    if scenario.simulation.importance_sampling is not None:
        raise ScenarioError(
            f"{source}: the scenario samples by importance (simulation.importance_sampling): "
            "calibrate it with plain sampling (remove the key)",
            path=source,
        )
    check_observed(observed, scenario, source, dict(lines))
    return scenario


def _warn_weak_by_nature(observed: Observed, chosen: Sequence[FitParameter]) -> None:
    """Keys aggregates identify only through an assumption: say so before fitting."""
    for p in chosen:
        if p.key.endswith(".price_elasticity"):
            warnings.warn(
                CalibrationWarning(
                    f"{p.key}: a price elasticity is identified only by lending under "
                    "different prices; from one price regime it acts as a demand level, and "
                    "its estimate is the demand level's in disguise"
                ),
                stacklevel=3,
            )


def _warn_at_bounds(chosen: Sequence[FitParameter], theta: np.ndarray) -> None:
    """An estimate on its bound: the moments ask for more than the bounds allow, and the
    standard error (a local, interior approximation) does not describe it."""
    for p, x in zip(chosen, theta, strict=True):
        side = "lower" if x - p.lower <= 0.01 * p.span else None
        side = "upper" if p.upper - x <= 0.01 * p.span else side
        if side is not None:
            warnings.warn(
                CalibrationWarning(
                    f"{p.key} = {x:.6g} is at its {side} bound ({getattr(p, side):g}): the "
                    "moments ask for a value beyond it; its standard error does not apply "
                    "(widen the bound if a value beyond it is plausible)"
                ),
                stacklevel=3,
            )


def _refuse_unidentified(
    found: Identification, chosen: Sequence[FitParameter], source: str, lines
) -> None:
    keys = [p.key for p in chosen]
    i = keys.index(found.unidentified[0])
    raise_located(
        [
            (
                ("parameters", i, "key"),
                "the moments do not identify "
                + ", ".join(found.unidentified)
                + f" at the start values (moment Jacobian rank {found.rank} of {len(keys)}, "
                f"condition number {found.condition:.3g}): no moment depends on it, or they "
                "enter only together (e.g. as a product); fix one of them or add a moment "
                "that separates them",
                None,
            )
        ],
        source,
        lines,
    )


def _sandwich(
    g: np.ndarray, weights: np.ndarray, total_cov: np.ndarray, found: Identification, keys
) -> np.ndarray:
    """MSM covariance of the estimates; NaN rows/columns for the unidentified ones."""
    k = g.shape[1]
    cov = np.full((k, k), np.nan)
    keep = [i for i, key in enumerate(keys) if key not in found.unidentified]
    if not keep:
        return cov
    gk = g[:, keep]
    bread = np.linalg.pinv(gk.T @ (weights[:, None] * gk))
    meat = gk.T @ (weights[:, None] * total_cov * weights[None, :]) @ gk
    cov[np.ix_(keep, keep)] = bread @ meat @ bread
    return cov


def _dataset(
    *,
    observed: Observed,
    chosen: Sequence[FitParameter],
    theta: np.ndarray,
    std_error: np.ndarray,
    at_fit: Identification,
    jacobian: np.ndarray,
    sim: SimulatedMoments,
    sim_cov: np.ndarray,
    weights: np.ndarray,
    std_residual: np.ndarray,
    j: tuple[float, int, float],
) -> xr.Dataset:
    keys = [p.key for p in chosen]
    moments = observed.moments
    as_key = "the parameter's scenario key's"
    observed_se = [m.se if m.se is not None else math.nan for m in moments]

    def per_parameter(values, units, long_name):
        return ("parameter", np.asarray(values, float), {"units": units, "long_name": long_name})

    def per_moment(values, units, long_name):
        return ("moment", np.asarray(values, float), {"units": units, "long_name": long_name})

    ds = xr.Dataset(
        {
            "estimate": per_parameter(theta, as_key, "fitted value"),
            "std_error": per_parameter(
                std_error, as_key, "MSM standard error (observed and simulation noise)"
            ),
            "start": per_parameter([p.start for p in chosen], as_key, "start value"),
            "lower": per_parameter([p.lower for p in chosen], as_key, "lower bound"),
            "upper": per_parameter([p.upper for p in chosen], as_key, "upper bound"),
            "identified": (
                "parameter",
                np.array([k not in at_fit.unidentified for k in keys], np.int8),
                {"units": "1", "long_name": "1 if the moments identify it at the optimum"},
            ),
            "observed": per_moment([m.value for m in moments], "moment_units", "observed value"),
            "observed_se": per_moment(observed_se, "moment_units", "observed standard error"),
            "weight": per_moment(weights, "1/moment_units^2", "diagonal of the weighting matrix W"),
            "simulated": per_moment(sim.mean, "moment_units", "simulated mean at the optimum"),
            "simulated_se": per_moment(
                np.sqrt(np.diag(sim_cov)), "moment_units", "Monte Carlo standard error"
            ),
            "standardised_residual": per_moment(
                std_residual, "1", "(simulated - observed) / sqrt(observed + simulation var)"
            ),
            "jacobian": (
                ("moment", "parameter"),
                jacobian,
                {
                    "units": "moment_units per parameter unit",
                    "long_name": "d simulated moment / d parameter at the optimum (central "
                    "differences, common random numbers)",
                },
            ),
            "j_statistic": (
                (),
                j[0],
                {"units": "1", "long_name": "J statistic (sum of squared std. residuals)"},
            ),
            "j_df": ((), j[1], {"units": "1", "long_name": "J degrees of freedom"}),
            "j_pvalue": ((), j[2], {"units": "1", "long_name": "P(chi2(df) > J)"}),
            "jacobian_rank": (
                (),
                at_fit.rank,
                {"units": "1", "long_name": "rank of the range-scaled weighted Jacobian"},
            ),
            "jacobian_condition": (
                (),
                at_fit.condition,
                {"units": "1", "long_name": "condition number of that Jacobian"},
            ),
        },
        coords={
            "parameter": ("parameter", keys, {"long_name": "dotted scenario key fitted"}),
            "moment": ("moment", [m.name for m in moments], {"long_name": "observed moment"}),
            "moment_variable": (
                "moment",
                [m.variable for m in moments],
                {"long_name": "results variable"},
            ),
            "moment_selection": (
                "moment",
                [m.select.text() for m in moments],
                {"long_name": "selection summed"},
            ),
            "moment_units": (
                "moment",
                [VARIABLE_META[m.variable][0] for m in moments],
                {"long_name": "units of the moment"},
            ),
            "moment_source": (
                "moment",
                [m.source for m in moments],
                {"long_name": "source of the observed value"},
            ),
        },
    )
    return ds
