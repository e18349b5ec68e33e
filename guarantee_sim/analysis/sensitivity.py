"""Sensitivity analysis: which uncertain parameter drives each outcome (issue 11 §3).

A *study* is a YAML file like an experiment (``name``, ``base``, ``paths``, ``seed``,
``overrides``) with a ``sensitivity:`` section instead of variants::

    name: county_sensitivity
    base: ../scenarios/county_guarantee_2021.yaml
    paths: 200                       # per sample point (default: the base's)
    seed: 20210601
    sensitivity:
      method: sobol                  # sobol (Saltelli sampling) or morris (a screen)
      n: 64                          # Sobol: base samples, a power of 2; Morris: trajectories
      parameters:                    # optional: default, every distribution of the scenario
        - name: guarantor_fee
          key: parties.guarantor.fee_rate
          min: 0.005
          max: 0.015
      outputs: [public_cost_pv, guarantor_loss_var99]   # optional: default, all

**Parameters.** Without ``parameters`` the study ranges over what the scenario declares as
distributions (``engine/parameters.py``: PD level, LGD, correlation, recovery lag per
segment; the lenders' score noise and mandate when the processes lend), one parameter per
``group:`` (keys of a group move together, as their draws do) or per key without one.
Each parameter is sampled as a quantile ``u`` in [0, 1]; a key takes the value of its own
distribution at ``u`` (the inverse CDF of ``engine.parameters.inverse_cdf``; the recovery
lag rounded to whole months, halves up), so the indices are those of the declared
distributions. A parameter given with ``min``/``max`` is uniform on them (whole numbers
when both ends are).

**Each point** fixes its parameters: the point's values *replace* the distributions (they
are set as plain numbers by dotted-key overrides), so no parameter is drawn per path and
the point's paths differ only by the credit cycle and defaults. Every point runs the same
``paths`` with the same ``seed``: common random numbers, so differences between points are
the parameters' effect. A fixed PD level is seen by the lenders too (they are not blind to
it as they are to a per-path draw): in a process-fed scenario a point's PD level changes
the institutions' decisions, which a per-path multiplier does not.

**Outputs** are those of :func:`guarantee_sim.results.outcomes.design_outcomes`: the
probability of each target (``target_probability.<target>``), the PV of public cost, the
guarantors' loss VaR 99% and the probabilities of a pool depleted, a guarantor insolvent
and the leverage cap rationing lending.

**Indices** come from SALib: Sobol first-order (``S1``) and total (``ST``) indices from
Saltelli's sampling (``N (D + 2)`` runs, no second order), or a Morris screen (``mu_star``,
``sigma``; ``N (D + 1)`` runs), each with bootstrap confidence half-widths (``*_conf``,
95%). An output that does not vary over the sample has no variance to apportion: its
Sobol indices are NaN.

All points run through :func:`guarantee_sim.sweep.evaluate_points`: in this process by
default, or as Dask tasks with a ``client`` (``--scheduler``, ``--workers``), with the same
numbers bit for bit.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr
from pydantic import Field, PrivateAttr, model_validator

from .._version import __version__
from ..config import Override, Scenario, ScenarioError, load_scenario, read_yaml
from ..config.loader import format_location, model_from_dict
from ..config.types import Frozen, fail
from ..engine.parameters import (
    UncertainParameter,
    decision_parameters,
    inverse_cdf,
    round_half_up,
    uncertain_parameters,
)
from ..experiments import RUN_SETTINGS, Label, _base_scenario
from ..results.outcomes import OUTCOMES
from ..results.sensitivity import INDICES, KIND, with_target_labels
from .distributed import cpu_by_process, cpu_used, own_cpu_seconds, workers_of

#: the level of the bootstrap confidence intervals
CONF_LEVEL = 0.95
#: most runs a study may have (each runs all its paths)
MAX_RUNS = 100_000
#: the outputs of one target, ``target_probability.<target>``
TARGET_OUTPUT = "target_probability"


# --------------------------------------------------------------------------- the study file


class ParameterRange(Frozen):
    """A parameter the study gives itself: a dotted key, uniform on [min, max]."""

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$", description="the results' parameter name (snake_case)"
    )
    key: str = Field(
        min_length=1, description="dotted scenario key, e.g. parties.guarantor.fee_rate"
    )
    min: float = Field(allow_inf_nan=False, description="lowest value (quantile 0)")
    max: float = Field(allow_inf_nan=False, description="highest value (quantile 1)")
    label: Label | None = Field(None, description="{zh: ..., en: ...} for tables and figures")
    units: str = Field("1", min_length=1, description="units of the values, CF style")
    whole: bool = Field(False, description="round values to whole numbers (e.g. months)")

    @model_validator(mode="after")
    def _ordered(self) -> ParameterRange:
        if not self.max > self.min:
            fail([(("max",), f"max must be greater than min ({self.min!r})", self.max)])
        return self


class SensitivitySpec(Frozen):
    """The ``sensitivity:`` section of a study."""

    method: Literal["sobol", "morris"] = Field(
        "sobol", description="sobol: first-order and total indices; morris: a cheaper screen"
    )
    n: int = Field(
        ge=2,
        le=65_536,
        description="Sobol: base samples N (a power of 2; N (D + 2) runs); Morris: "
        "trajectories (N (D + 1) runs)",
    )
    levels: int = Field(4, ge=2, le=64, description="Morris: grid levels per parameter (even)")
    parameters: list[ParameterRange] | None = Field(
        None, description="ranges to study; default: every distribution the scenario declares"
    )
    outputs: list[str] | None = Field(
        None, description="outputs to analyse (see the README); default: all"
    )
    resamples: int = Field(1000, ge=10, le=100_000, description="bootstrap resamples")

    @model_validator(mode="after")
    def _well_formed(self) -> SensitivitySpec:
        problems: list[tuple[tuple, str, Any]] = []
        if self.method == "sobol" and self.n & (self.n - 1):
            problems.append(
                (("n",), "Sobol's N must be a power of 2 (Saltelli sampling converges "
                 f"only then): e.g. {1 << self.n.bit_length()}", self.n)
            )  # fmt: skip
        if self.method == "morris" and self.levels % 2:
            problems.append((("levels",), "Morris levels must be even", self.levels))
        names: dict[str, int] = {}
        keys: dict[str, int] = {}
        for i, p in enumerate(self.parameters or []):
            if p.name in names:
                problems.append(
                    (("parameters", i, "name"), f"{p.name!r} names parameter {names[p.name]} "
                     "too: give each its own name", p.name)
                )  # fmt: skip
            if p.key in keys:
                problems.append(
                    (("parameters", i, "key"), f"parameter {keys[p.key]} sets {p.key!r} too: "
                     "each key can be one parameter only", p.key)
                )  # fmt: skip
            if p.key.startswith(RUN_SETTINGS):
                problems.append(
                    (("parameters", i, "key"), f"{p.key!r} is a run setting, not a parameter: "
                     "every point runs the same paths and seed", p.key)
                )  # fmt: skip
            names.setdefault(p.name, i)
            keys.setdefault(p.key, i)
        if self.parameters is not None and not self.parameters:
            problems.append((("parameters",), "give at least one parameter, or leave it out", []))
        fail(problems)
        return self


class Study(Frozen):
    """A sensitivity study: a base scenario, common overrides, the ``sensitivity`` section."""

    name: str = Field(pattern=r"^[a-z0-9_\-]+$")
    label: str = ""
    description: str = ""
    base: str = Field(description="base scenario YAML, relative to the study file")
    paths: int | None = Field(None, ge=1, description="paths per point (default: base's)")
    seed: int | None = Field(None, ge=0, lt=2**32)
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="applied to the base first (dotted key -> value)"
    )
    sensitivity: SensitivitySpec
    _lines: dict = PrivateAttr(default_factory=dict)  # where each key was written


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Parameter:
    """One axis of the study: the keys it sets and how a quantile ``u`` becomes their values."""

    name: str
    keys: tuple[str, ...]
    units: str
    label_zh: str
    label_en: str
    # per key: its distribution (inverse CDF), or None for uniform on (low, high)
    distributions: tuple[Any, ...]
    low: float = 0.0
    high: float = 1.0
    whole: tuple[bool, ...] = ()  # per key: a whole number (rounded half up)

    def values(self, u: float) -> dict[str, float | int]:
        """The keys' values at quantile ``u``."""
        out: dict[str, float | int] = {}
        for key, dist, whole in zip(self.keys, self.distributions, self.whole, strict=True):
            if dist is None:
                x = self.low + u * (self.high - self.low)
            else:
                x = float(inverse_cdf(dist, np.array([u]))[0])
            out[key] = round_half_up(x) if whole else float(x)
        return out


def scenario_parameters(scenario: Scenario) -> list[Parameter]:
    """The scenario's distributions as study parameters: one per group (or ungrouped key),
    in the order of their first key."""
    grouped: dict[str, list[UncertainParameter]] = {}
    for p in [*uncertain_parameters(scenario), *decision_parameters(scenario)]:
        grouped.setdefault(p.group or p.key, []).append(p)
    return [
        Parameter(
            name=name,
            keys=tuple(p.key for p in members),
            units=members[0].units,
            label_zh=name,
            label_en=name,
            distributions=tuple(p.distribution for p in members),
            whole=tuple(p.field == "recovery_lag" for p in members),
        )
        for name, members in grouped.items()
    ]


def range_parameter(p: ParameterRange) -> Parameter:
    """A parameter the study gives: uniform on [min, max] (rounded half up if ``whole``)."""
    return Parameter(
        name=p.name,
        keys=(p.key,),
        units=p.units,
        label_zh=p.label.zh if p.label else p.name,
        label_en=p.label.en if p.label else p.name,
        distributions=(None,),
        low=float(p.min),
        high=float(p.max),
        whole=(p.whole,),
    )


# --------------------------------------------------------------------------- sampling


def problem(params: list[Parameter]) -> dict[str, Any]:
    """SALib's problem: every parameter as a quantile in [0, 1]."""
    return {
        "num_vars": len(params),
        "names": [p.name for p in params],
        "bounds": [[0.0, 1.0]] * len(params),
    }


def run_count(method: str, n: int, d: int) -> int:
    """Runs of a design: Sobol N (D + 2) (no second order), Morris N (D + 1)."""
    return n * (d + 2) if method == "sobol" else n * (d + 1)


def sample(method: str, n: int, d: int, seed: int, levels: int = 4) -> np.ndarray:
    """The design's quantiles ``[runs, d]`` (Saltelli's Sobol sequence, scrambled with
    ``seed``; or Morris trajectories)."""
    names = {"num_vars": d, "names": [f"x{i}" for i in range(d)], "bounds": [[0.0, 1.0]] * d}
    if method == "sobol":
        from SALib.sample import sobol

        return sobol.sample(names, n, calc_second_order=False, seed=seed)
    from SALib.sample import morris

    return morris.sample(names, n, num_levels=levels, seed=seed)


def points(params: list[Parameter], quantiles: np.ndarray, common: dict | None = None) -> list:
    """Each row of ``quantiles`` as dotted-key overrides (``common`` first)."""
    out = []
    for row in quantiles:
        point = dict(common or {})
        for p, u in zip(params, row, strict=True):
            point.update(p.values(float(u)))
        out.append(point)
    return out


# --------------------------------------------------------------------------- evaluating


def evaluate_points(
    base: str | Path,
    points: list[dict[str, Any]],
    *,
    paths: int,
    seed: int,
    on_point: Callable[[int], None] | None = None,
    client: Any = None,
    books: Any = None,
) -> list[xr.Dataset]:
    """:func:`~guarantee_sim.results.outcomes.design_outcomes` (with intervals) of the
    scenario ``base`` at each point (dotted key -> value overrides), every point with
    ``paths`` paths and the same ``seed`` (common random numbers), in the points' order.

    :func:`guarantee_sim.sweep.evaluate_points` runs them: in this process (``client``
    None; the institution books kept in memory), or as tasks on the client's Dask
    cluster (the books cached in the folder ``books``). ``on_point(i)`` is called as
    point ``i`` finishes.
    """
    from ..sweep import evaluate_points as run_points
    from .distributed import books_for

    return run_points(
        base, points, paths=paths, seed=seed, client=client, books=books_for(client, books),
        on_point=on_point,
    )  # fmt: skip


def output_names(targets: list[str]) -> list[str]:
    """Every output a study may analyse, in table order."""
    names = []
    for name in OUTCOMES:
        if name == TARGET_OUTPUT:
            names += [f"{TARGET_OUTPUT}.{t}" for t in targets]
        else:
            names.append(name)
    return names


def output_matrix(outcomes: list[xr.Dataset], outputs: list[str]) -> np.ndarray:
    """The outputs ``[runs, outputs]`` of each point's outcomes."""
    y = np.empty((len(outcomes), len(outputs)))
    for i, ds in enumerate(outcomes):
        for j, name in enumerate(outputs):
            var, _, target = name.partition(".")
            value = ds[var].sel(target=target) if target else ds[var]
            y[i, j] = float(value)
    return y


def _output_meta(name: str) -> tuple[str, str]:
    var, _, target = name.partition(".")
    units, long_name = OUTCOMES[var]
    return units, f"{long_name} ({target})" if target else long_name


# --------------------------------------------------------------------------- analysing


def analyse(
    method: str,
    quantiles: np.ndarray,
    y: np.ndarray,
    names: list[str],
    *,
    seed: int,
    resamples: int = 1000,
    levels: int = 4,
) -> np.ndarray:
    """Indices ``[outputs, parameters, index]`` (index as in :data:`INDICES` ``[method]``)
    of the outputs ``y [runs, outputs]`` at the design ``quantiles [runs, parameters]``,
    with bootstrap half-widths at :data:`CONF_LEVEL`. A constant output's are NaN.

    >>> x = sample("sobol", 64, 2, seed=1)  # 64 x (2 + 2) points
    >>> r = analyse("sobol", x, 3 * x[:, :1], ["a", "b"], seed=1)  # Y = 3 a
    >>> r[0, :, 2].round(2)  # ST: a has all the variance (up to estimation error), b none
    array([1.02, 0.  ])
    """
    from SALib.analyze import morris, sobol

    spec = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    index = list(INDICES[method])
    out = np.full((y.shape[1], len(names), len(index)), np.nan)
    for j in range(y.shape[1]):
        column = y[:, j]
        if not np.all(np.isfinite(column)) or np.ptp(column) == 0.0:
            continue  # no variance to apportion (or an undefined output)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if method == "sobol":
                r = sobol.analyze(
                    spec, column, calc_second_order=False, num_resamples=resamples,
                    conf_level=CONF_LEVEL, seed=seed,
                )  # fmt: skip
            else:
                r = morris.analyze(
                    spec, quantiles, column, num_resamples=resamples, conf_level=CONF_LEVEL,
                    num_levels=levels, seed=seed,
                )  # fmt: skip
        for k, name in enumerate(index):
            out[j, :, k] = np.asarray(r[name], dtype=float)
    return out


def sensitivity_dataset(
    *,
    method: str,
    params: list[Parameter],
    outputs: list[str],
    quantiles: np.ndarray,
    y: np.ndarray,
    indices: np.ndarray,
    attrs: dict[str, Any],
) -> xr.Dataset:
    """The results of a study (dims ``output``, ``parameter``, ``index``, ``point``)."""
    meta = [_output_meta(o) for o in outputs]
    index = list(INDICES[method])
    sobol = method == "sobol"
    ds = xr.Dataset(
        {
            "sensitivity_index": (
                ("output", "parameter", "index"),
                indices,
                {
                    "units": "1" if sobol else "output_units per unit quantile",
                    "long_name": "Sobol indices with bootstrap half-widths"
                    if sobol
                    else "Morris screen: mu*, its bootstrap half-width, sigma",
                    "conf_level": CONF_LEVEL,
                },
            ),
            "point_quantile": (
                ("point", "parameter"),
                quantiles,
                {"units": "1", "long_name": "each point's quantile of each parameter"},
            ),
            "point_output": (
                ("point", "output"),
                y,
                {"units": "output_units", "long_name": "each point's outputs"},
            ),
        },
        coords={
            "output": ("output", outputs, {"long_name": "outcome analysed"}),
            "parameter": ("parameter", [p.name for p in params], {"long_name": "parameter"}),
            "index": ("index", index, {"long_name": "sensitivity index"}),
            "point": ("point", np.arange(len(quantiles)), {"long_name": "sample point"}),
            "output_units": ("output", [m[0] for m in meta], {"long_name": "output's units"}),
            "output_long_name": ("output", [m[1] for m in meta], {"long_name": "output"}),
            "index_meaning": (
                "index",
                [INDICES[method][i] for i in index],
                {"long_name": "meaning"},
            ),
            "parameter_keys": (
                "parameter",
                [json.dumps(list(p.keys)) for p in params],
                {"long_name": "dotted keys the parameter sets, as a JSON list"},
            ),
            "parameter_units": ("parameter", [p.units for p in params], {"long_name": "units"}),
            "parameter_label_zh": (
                "parameter",
                [p.label_zh for p in params],
                {"long_name": "label"},
            ),
            "parameter_label_en": (
                "parameter",
                [p.label_en for p in params],
                {"long_name": "label"},
            ),
        },
    )
    ds.attrs.update(results_kind=KIND, method=method, **attrs)
    return ds


# --------------------------------------------------------------------------- the command


@dataclass
class Plan:
    """A validated study, ready to run."""

    study: Study
    path: Path
    base: Path
    params: list[Parameter]
    outputs: list[str]
    paths: int
    seed: int
    common: dict[str, Any]

    @property
    def runs(self) -> int:
        spec = self.study.sensitivity
        return run_count(spec.method, spec.n, len(self.params))


def load_study(path: str | Path) -> Study:
    """The study file, validated (errors name the file, line, key and value)."""
    data, lines = read_yaml(path)
    study = model_from_dict(data, Study, source=str(path), lines=lines)
    study._lines = lines  # for the messages of plan_study
    return study


def plan_study(path: str | Path, *, paths: int | None = None, seed: int | None = None) -> Plan:
    """Validate a study whole before anything runs: its file, the base scenario with the
    overrides, each given parameter's key at both ends of its range, the outputs."""
    path = Path(path)
    study = load_study(path)
    lines = study._lines
    spec = study.sensitivity
    base = _base_scenario(path, study)  # type: ignore[arg-type]
    common = dict(study.overrides)
    located = [
        Override(k, v, f"{k}={v}", path=str(path), line=lines.get(("overrides", k)))
        for k, v in common.items()
    ]
    scenario = load_scenario(base, overrides=located)
    if spec.parameters is None:
        params = scenario_parameters(scenario)
        if not params:
            raise _refused(
                path, lines, ("sensitivity",), "the base scenario declares no distributions: "
                "give parameters with min and max"
            )  # fmt: skip
    else:
        params = [range_parameter(p) for p in spec.parameters]
        for i, p in enumerate(params):
            for end, u in (("min", 0.0), ("max", 1.0)):
                at = ("sensitivity", "parameters", i, end)
                key = p.keys[0]
                value = p.values(u)[key]
                mine = Override(key, value, f"{key}={value}", str(path), lines.get(at))
                try:
                    load_scenario(base, overrides=[*located, mine])
                except ScenarioError as err:
                    raise _refused(
                        path, lines, at, f"the scenario refuses {key} = {value!r}:\n{err}"
                    ) from None
    _refuse_overridden_parameters(path, lines, params, common)
    allowed = output_names(list(scenario.targets))
    outputs = spec.outputs if spec.outputs is not None else allowed
    for i, name in enumerate(outputs):
        if name not in allowed:
            raise _refused(
                path, lines, ("sensitivity", "outputs", i),
                f"{name!r} is not an output of this scenario; allowed: {', '.join(allowed)}",
            )  # fmt: skip
    if not outputs:
        raise _refused(path, lines, ("sensitivity", "outputs"), "give at least one output")
    plan = Plan(
        study=study,
        path=path,
        base=base,
        params=params,
        outputs=list(outputs),
        paths=paths or study.paths or scenario.simulation.paths,
        seed=next(s for s in (seed, study.seed, scenario.simulation.seed) if s is not None),
        common=common,
    )
    if plan.runs > MAX_RUNS:
        raise ScenarioError(
            f"{path}: {plan.runs:,} runs are more than the {MAX_RUNS:,} a study may have: "
            "use a smaller n or fewer parameters",
            path=str(path),
        )
    return plan


def _refuse_overridden_parameters(
    path: Path, lines: dict, params: list[Parameter], common: dict[str, Any]
) -> None:
    """A key both varied by a parameter and fixed by the study's ``overrides:`` (or one
    inside the other) is refused: which of the two would win is not what the reader of
    the study expects either way."""
    for k in common:
        for p in params:
            for key in p.keys:
                if key == k or key.startswith(f"{k}.") or k.startswith(f"{key}."):
                    raise _refused(
                        path, lines, ("overrides", k),
                        f"{k} is also set by the study's parameter {p.name!r} ({key}); a key "
                        "is either varied by a parameter or fixed by overrides, not both",
                    )  # fmt: skip


def _refused(path: Path, lines: dict, at: tuple, reason: str) -> ScenarioError:
    """An error citing the study file, the line and key ``at`` (a key path), and why."""
    key = ".".join(map(str, at))
    line = lines.get(at)
    return ScenarioError(
        f"{format_location(path, line, key)}: {reason}", path=str(path), line=line, key=key
    )


def run_study(
    plan: Plan,
    *,
    client: Any = None,
    books: str | Path | None = None,
    on_estimate: Callable[[float], None] | None = None,
    on_point: Callable[[int], None] | None = None,
) -> xr.Dataset:
    """Run a planned study and return its results Dataset.

    Every point is a task of :func:`guarantee_sim.sweep.evaluate_points`: in this process
    (``client`` None), or on the client's Dask cluster, with the same numbers. In this
    process, once the second point is done (the first may load the compiled kernels),
    ``on_estimate(seconds)`` is called with the estimated CPU time of the whole study from
    the second's.
    """
    spec = plan.study.sensitivity
    quantiles = sample(spec.method, spec.n, len(plan.params), plan.seed, spec.levels)
    todo = points(plan.params, quantiles, plan.common)
    everywhere = cpu_by_process(client)  # a cluster's workers too
    started = everywhere[""]  # this process's (and its children's)
    wall = time.perf_counter()
    finished: list[float] = []

    def done(i: int) -> None:
        finished.append(own_cpu_seconds())
        if len(finished) == 2 and client is None and on_estimate is not None:
            first, second = finished
            on_estimate(second - started + (second - first) * (len(todo) - 2))
        if on_point is not None:
            on_point(len(finished) - 1)  # points done so far, less one

    outcomes = evaluate_points(
        plan.base, todo, paths=plan.paths, seed=plan.seed, on_point=done, client=client,
        books=books,
    )  # fmt: skip
    y = output_matrix(outcomes, plan.outputs)
    names = [p.name for p in plan.params]
    indices = analyse(
        spec.method, quantiles, y, names, seed=plan.seed, resamples=spec.resamples,
        levels=spec.levels,
    )  # fmt: skip
    ds = sensitivity_dataset(
        method=spec.method,
        params=plan.params,
        outputs=plan.outputs,
        quantiles=quantiles,
        y=y,
        indices=indices,
        attrs={
            "study": plan.study.name,
            "study_label": plan.study.label,
            "base": str(plan.study.base),
            "n_base_samples": spec.n,
            "morris_levels": spec.levels,
            "runs": len(todo),
            "n_paths": plan.paths,
            "seed": int(plan.seed),
            "bootstrap_resamples": spec.resamples,
            # this process's and its children's, and a cluster's workers'
            "cpu_seconds": round(cpu_used(everywhere, cpu_by_process(client)), 1),
            "wall_seconds": round(time.perf_counter() - wall, 1),
            "dask_workers": 0 if client is None else workers_of(client),
            "study_overrides": json.dumps(plan.common, ensure_ascii=False, default=str),
            "package_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    )
    targets = load_scenario(plan.base, overrides=plan.common).targets  # what a brief calls them
    return with_target_labels(ds, {name: t.label for name, t in targets.items()})
