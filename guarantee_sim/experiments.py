"""Experiments: a base scenario plus named variants (dotted-key overrides), a grid, or both.

Every run of an experiment uses the same seed, so paths share their random numbers (common
random numbers): differences between designs are the policy's effect, not sampling noise.

* **Named variants** become the ``scenario`` dimension of the results, in file order. A
  variant is a mapping of dotted keys to values, or, to give it a label, the long form
  ``{label: {zh: ..., en: ...}, set: {dotted.key: value, ...}}``.
* **A grid** is a list of *levers*: each sets one dotted key (any key, including a
  per-year value such as ``macro.downturn_z.2022``) to each of its numeric ``values``. The
  results get one dimension per lever, named by the lever's ``name`` and holding its
  values as numeric coordinates (with ``units``, ``long_name``, ``label_zh``,
  ``label_en`` and ``lever_key`` in their attrs), so ``ds.sel(guarantor_fee=0.01)`` and
  ``ds.target_probability.plot.line(x="pool_contribution")`` work. Every combination of
  the levers' values is run.
* **Both**: the grid is crossed with every named variant (each variant at each grid
  point), and the results have the ``scenario`` dimension and the levers' dimensions.

The experiment's ``overrides`` apply to every run first, then the variant's, then the grid
point's. Every run's scenario is validated before any runs.

Example experiment file::

    name: fee_levels
    base: ../scenarios/hangzhou_2021_2023.yaml      # relative to this file
    counterfactual: no_scheme                        # optional: "additional" is vs this
    variants:
      baseline: {label: {zh: 基准方案, en: baseline}}
      no_scheme: {schemes.first_time_guarantee.coverage: 0.0}
    grid:
      - name: guarantor_fee                          # the results' dimension
        key: parties.guarantor.fee_rate
        values: [0.005, 0.008, 0.01]
        label: {zh: 担保费率, en: guarantee fee}
        units: "1/year"
"""

from __future__ import annotations

import itertools
import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

from pydantic import BeforeValidator, Field, PrivateAttr, field_validator, model_validator

from .config import Override, Scenario, ScenarioError, load_scenario, parse_overrides, read_yaml
from .config.kinds import is_experiment
from .config.loader import format_location, model_from_dict
from .config.types import Frozen, fail

if TYPE_CHECKING:  # pragma: no cover - xarray is imported by the functions that run
    import xarray as xr

    from .engine.progress import Progress

#: what a base file's name must end with: a scenario is a YAML file
BASE_SUFFIXES = (".yaml", ".yml")
#: most runs (named variants times grid points) an experiment may have: enough for a
#: sensitivity design of four keys at ten values; each is validated before any runs (about
#: 6 ms a run on the county scenario, so a minute at the limit; a grid of 10^6 points
#: was validated for hours) and each is a run of all its paths
MAX_VARIANTS = 10_000
#: keys that set the run's size and randomness, never a design's policy
RUN_SETTINGS = ("simulation.",)
#: names the results of an experiment (and the metrics of them) already use: a lever's
#: dimension may be none of them. Written out because ``validate`` must not import xarray
#: (and so ``results.dataset``); tests/test_sweep.py checks it against COORD_META,
#: VARIABLE_META and the names of an experiment's results
# fmt: off
RESULT_NAMES = frozenset((
    # dimensions, and the coordinates and variables an experiment and its metrics add
    "path", "year", "segment", "applied_segment", "party", "target", "scheme", "factor",
    "parameter", "variance_source", "scenario", "variant", "replica", "quantile",
    "threshold", "measure", "variant_overrides", "variant_label_zh", "variant_label_en",
    "scenario_yaml", "discount_rate", "counterfactual_design", "additional_borrowers",
    "additional_lending", "fiscal_cost_per_additional_borrower", "path_weight",
    # results.dataset.COORD_META
    "segment_label", "segment_tags", "segment_lgd", "party_kind", "party_label",
    "party_public", "party_leverage_cap", "party_compensation_rate_cap", "scheme_label",
    "scheme_coverage", "scheme_split", "segment_scheme", "target_label", "target_metric",
    "target_kind", "target_tags", "target_from_year", "target_to_year", "target_value",
    "parameter_units", "parameter_group", "parameter_drawn_per", "parameter_centre",
    # results.dataset.VARIABLE_META
    "loans_count", "loans_amount", "borrowers", "outstanding_amount", "defaults_count",
    "default_amount", "credit_loss", "unmet_demand_amount", "demand_multiplier",
    "cohort_loans_count", "cohort_loans_amount", "payout", "recovery", "loss", "shortfall",
    "fee_income", "capital", "guarantee_outstanding", "leverage",
    "max_origination_leverage", "compensation_rate", "pool_depleted",
    "pool_breaker_tripped", "fee_subsidy", "operating_cost", "reguarantee_fees", "fee_base",
    "capital_exhausted", "leverage_cap_binding", "capital_injection", "fiscal_cost",
    "public_loss", "public_cost", "public_operating_cost", "applications", "approvals",
    "booked_approvals", "rejections", "abandoned", "decision_days_mean", "approved_pd_mean",
    "staff_utilisation", "parameter_value", "year_factor", "target_attainment",
    "target_probability", "attainment_variance", "attainment_variance_share",
    "attainment_variance_note",
))
# fmt: on
#: the keys of a variant's long form (a variant with a label)
VARIANT_FORM = ("label", "set")


def _number(value: Any) -> Any:
    """A grid value is a number: a lever's values become a numeric coordinate."""
    if isinstance(value, (str, bytes, dict, list)) or value is None:
        raise ValueError(
            f"a grid value must be a number, not {type(value).__name__} {value!r} (a choice "
            "between texts, sections or schemes is a named variant, under variants:)"
        )
    return value


class Label(Frozen):
    """What tables, figures and briefs call a lever or a variant, in Chinese and English."""

    zh: str = Field(min_length=1, description="Chinese label, e.g. 担保费率")
    en: str = Field(min_length=1, description="English label, e.g. guarantee fee")


class Lever(Frozen):
    """One dimension of a grid: a dotted scenario key and the values it takes.

    The results get a dimension ``name`` whose coordinate holds ``values`` (numbers, in
    the order given), with ``units``, ``long_name`` (the English label), ``label_zh``,
    ``label_en`` and ``lever_key`` (the dotted key) in its attrs.
    """

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$",
        description="the results' dimension: snake_case, unique, not a name the results "
        "already use (path, year, party, ...)",
    )
    key: str = Field(
        min_length=1,
        description="dotted scenario key it sets, e.g. parties.guarantor.fee_rate, or a "
        "per-year value such as macro.downturn_z.2022",
    )
    values: list[Annotated[int | float, BeforeValidator(_number)]] = Field(
        description="the numbers the key takes, each once; every combination with the other "
        "levers is run"
    )
    label: Label = Field(description="{zh: ..., en: ...}: what tables and figures call it")
    units: str = Field(
        min_length=1, description="units of the values, CF style: '1', 'CNY', '1/year'"
    )

    def coordinate(self) -> list[int] | list[float]:
        """The values as the results' coordinate holds them: integers if all are, else
        floats (``[0, 1.5]`` is ``[0.0, 1.5]``)."""
        if all(isinstance(v, int) for v in self.values):
            return [int(v) for v in self.values]
        return [float(v) for v in self.values]


class Design(NamedTuple):
    """One run of an experiment: a named variant (None without variants) at a grid point
    (the index of each lever's value; () without a grid)."""

    variant: str | None
    point: tuple[int, ...]


#: the outcomes of :func:`guarantee_sim.results.outcomes.design_outcomes` a design can be
#: judged by (written out: ``validate`` imports no xarray; tests/test_design.py checks them)
DESIGN_OUTCOMES = (
    "target_probability",
    "public_cost_pv",
    "guarantor_loss_var99",
    "pool_depletion_probability",
    "guarantor_insolvency_probability",
    "leverage_cap_probability",
)
#: the outcomes that are probabilities (a chance constraint bounds one of them)
DESIGN_PROBABILITIES = (
    "target_probability",
    "pool_depletion_probability",
    "guarantor_insolvency_probability",
    "leverage_cap_probability",
)


class DesignLever(Frozen):
    """One lever of a design search: a dotted scenario key and the interval it may take.

    The search evaluates values in ``[lower, upper]`` on the lattice ``lower + k * step``
    (any value when ``step`` is not given).
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="the lever's name (snake_case)")
    key: str = Field(min_length=1, description="dotted scenario key it sets")
    lower: float = Field(description="least value the search may give the key")
    upper: float = Field(description="greatest value the search may give the key")
    step: float | None = Field(
        None, gt=0, description="resolution: values are lower + k * step (default: any value)"
    )
    label: Label = Field(description="{zh: ..., en: ...}: what tables and figures call it")
    units: str = Field(min_length=1, description="units of the values, CF style")

    @model_validator(mode="after")
    def _interval(self) -> DesignLever:
        if not self.lower < self.upper:
            fail([(("upper",), f"upper must be greater than lower ({self.lower!r})", self.upper)])
        if self.step is not None and self.step > self.upper - self.lower:
            fail([(("step",), "step must be at most upper - lower", self.step)])
        return self


class ChanceConstraint(Frozen):
    """A bound on the probability of an outcome over paths: ``at_least`` (a target) or
    ``at_most`` (an event: pool depleted, guarantor insolvent, leverage cap hit)."""

    outcome: str = Field(description=f"one of {DESIGN_PROBABILITIES}")
    target: str | None = Field(None, description="the scenario's target (target_probability)")
    at_least: float | None = Field(None, ge=0, le=1, description="least probability allowed")
    at_most: float | None = Field(None, ge=0, le=1, description="greatest probability allowed")

    @model_validator(mode="after")
    def _well_formed(self) -> ChanceConstraint:
        problems: list[tuple[tuple, str, Any]] = []
        if self.outcome not in DESIGN_PROBABILITIES:
            problems.append(
                (("outcome",), f"allowed: {', '.join(DESIGN_PROBABILITIES)}", self.outcome)
            )
        if (self.at_least is None) == (self.at_most is None):
            problems.append((("at_least",), "give exactly one of at_least and at_most", None))
        if (self.outcome == "target_probability") != (self.target is not None):
            problems.append(
                (("target",), "target_probability needs the target's name, and only it", None)
            )
        fail(problems)
        return self

    @property
    def bound(self) -> float:
        return float(self.at_least if self.at_least is not None else self.at_most)  # type: ignore[arg-type]

    @property
    def sense(self) -> str:
        return "at_least" if self.at_least is not None else "at_most"

    @property
    def label(self) -> str:
        """``P(target first_time) >= 0.8``: the constraint as a short text (its id)."""
        what = self.outcome if self.target is None else f"{self.outcome}[{self.target}]"
        return f"{what} {'>=' if self.sense == 'at_least' else '<='} {self.bound:g}"


class DesignSearch(Frozen):
    """How the design search proceeds: a coarse grid, then local refinement."""

    grid_points: int = Field(5, ge=2, le=50, description="coarse grid values per lever")
    refine_rounds: int = Field(
        3, ge=0, le=20, description="rounds of local refinement (each halves the spacing)"
    )


class DesignSpec(Frozen):
    """The ``design:`` section: levers with bounds, an objective (least of an outcome) and
    chance constraints, solved by ``guarantee-sim design``
    (:mod:`guarantee_sim.analysis.design`)."""

    levers: list[DesignLever] = Field(min_length=1, description="the levers and their bounds")
    objective: str = Field(
        "public_cost_pv",
        description="outcome to minimise (default: mean PV of the public cost)",
    )
    constraints: list[ChanceConstraint] = Field(
        default_factory=list, description="chance constraints every design must meet"
    )
    search: DesignSearch = Field(default_factory=DesignSearch)
    fresh_seed: int | None = Field(
        None, ge=0, lt=2**32, description="seed of the re-estimate (default: seed + 1)"
    )

    @model_validator(mode="after")
    def _well_formed(self) -> DesignSpec:
        problems: list[tuple[tuple, str, Any]] = []
        if self.objective not in DESIGN_OUTCOMES or self.objective == "target_probability":
            allowed = [o for o in DESIGN_OUTCOMES if o != "target_probability"]
            problems.append((("objective",), f"allowed: {', '.join(allowed)}", self.objective))
        names: dict[str, int] = {}
        keys: dict[str, int] = {}
        for i, lever in enumerate(self.levers):
            if lever.name in RESULT_NAMES or lever.name in names:
                problems.append(
                    (("levers", i, "name"), "a name the results or another lever use", lever.name)
                )
            if lever.key.startswith(RUN_SETTINGS):
                problems.append(
                    (("levers", i, "key"), "a run setting, not a policy lever", lever.key)
                )
            elif lever.key in keys:
                problems.append(
                    (("levers", i, "key"), f"lever {keys[lever.key]} sets it too", lever.key)
                )
            names.setdefault(lever.name, i)
            keys.setdefault(lever.key, i)
        points = self.search.grid_points ** len(self.levers)
        if points > MAX_VARIANTS:
            problems.append(
                (("search", "grid_points"), f"{points:,} grid points are more than "
                 f"{MAX_VARIANTS:,}: use fewer", self.search.grid_points)
            )  # fmt: skip
        fail(problems)
        return self


class Experiment(Frozen):
    name: str = Field(pattern=r"^[a-z0-9_\-]+$")
    label: str = ""
    description: str = ""
    question: str = Field("", description="the policy question the comparison answers")
    base: str = Field(description="base scenario YAML, relative to the experiment file")
    paths: int | None = Field(None, ge=1, description="paths per variant (default: base's)")
    seed: int | None = Field(None, ge=0, lt=2**32)
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="applied to every variant first"
    )
    variants: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="name -> {dotted.key: value}, or {label: {zh, en}, set: {dotted.key: "
        "value}}; the results' scenario dimension",
    )
    grid: list[Lever] = Field(
        default_factory=list,
        description="levers (name, key, values, label, units): one results dimension each; "
        "every combination is run, crossed with every named variant",
    )
    design: DesignSpec | None = Field(
        None,
        description="levers with bounds, an objective and chance constraints: the search of "
        "`guarantee-sim design` (analysis/design.py)",
    )
    counterfactual: str | None = Field(
        None,
        description="named variant without the scheme: additional borrowers and lending "
        "are measured against it (at each grid point)",
    )
    # where each override was written, for messages (set by load_experiment)
    _source: str = PrivateAttr("<experiment>")
    _lines: dict = PrivateAttr(default_factory=dict)
    _set: dict = PrivateAttr(default_factory=dict)  # dotted key -> Override from --set

    @field_validator("grid", mode="before")
    @classmethod
    def _grid_is_a_list(cls, grid: Any) -> Any:
        if isinstance(grid, dict):  # the form of earlier versions: {dotted.key: [values]}
            raise ValueError(
                "grid is a list of levers, each with name, key, values, label {zh, en} and "
                "units (the form 'dotted.key: [values]' is no longer read; see the README, "
                "'Experiments and sweeps')"
            )
        return grid

    @model_validator(mode="after")
    def _designs_well_formed(self) -> Experiment:
        """Some variants or a grid; a lever's name a new dimension, each key set by one
        lever only, each value once; labelled variants in their long form; not more runs
        than :data:`MAX_VARIANTS`; a counterfactual among the named variants."""
        if not self.variants and not self.grid and self.design is None:
            fail([(("variants",), "give variants, a grid, or both (or a design: section)", None)])
        fail([p for name, v in self.variants.items() for p in _variant_form(name, v)])
        fail(
            [
                (("grid", i, "values"), "a grid lever needs at least one value", lever.values)
                for i, lever in enumerate(self.grid)
                if not lever.values
            ]
        )
        points = math.prod(len(lever.values) for lever in self.grid)
        runs = max(len(self.variants), 1) * points
        if runs > MAX_VARIANTS:
            sizes = " x ".join(str(len(lever.values)) for lever in self.grid) or "1"
            fail(
                [
                    (
                        ("grid",) if self.grid else ("variants",),
                        f"{max(len(self.variants), 1):,} variants x {points:,} grid points "
                        f"({sizes}) = {runs:,} runs are more than the {MAX_VARIANTS:,} an "
                        "experiment may have (each is validated, then run with all its "
                        "paths): use fewer values",
                        None,
                    )
                ]
            )
        fail(self._lever_problems())
        fail(self._design_problems())
        if self.counterfactual is not None and self.counterfactual not in self.variants:
            said = (
                f"allowed: {list(self.variants)}"
                if self.variants
                else "this experiment has none; a grid point cannot be one"
            )
            fail(
                [
                    (
                        ("counterfactual",),
                        f"{self.counterfactual!r} is not a named variant ({said})",
                        self.counterfactual,
                    )
                ]
            )
        return self

    def _design_problems(self) -> list:
        """A design search runs the base (with ``overrides``) only: no variants or grid
        beside it, and no lever key also set by ``overrides`` (the lever would win)."""
        if self.design is None:
            return []
        problems: list[tuple[tuple, str, Any]] = []
        if self.variants or self.grid:
            problems.append(
                (("design",), "an experiment with a design has no variants or grid (the "
                 "search chooses the designs); put them in an experiment of their own", None)
            )  # fmt: skip
        for i, lever in enumerate(self.design.levers):
            if lever.key in self.overrides:
                problems.append(
                    (("overrides", lever.key), f"design lever {lever.name!r} (levers.{i}) "
                     "sets this key at every design, so this value would never be used", None)
                )  # fmt: skip
        return problems

    def _lever_problems(self) -> list:
        """A lever's name clashing with the results' names or another lever's; a key set
        twice (by two levers, or by a lever and a variant or ``overrides``, whose value
        the lever would silently replace); a run setting as a lever; a value twice."""
        taken = RESULT_NAMES
        problems: list[tuple[tuple, str, Any]] = []
        names: dict[str, int] = {}
        keys: dict[str, int] = {}
        for i, lever in enumerate(self.grid):
            if lever.name in taken:
                problems.append(
                    (("grid", i, "name"), f"{lever.name!r} is a name the results already "
                     "use (a dimension, coordinate or variable): choose another", lever.name)
                )  # fmt: skip
            elif lever.name in names:
                problems.append(
                    (("grid", i, "name"), f"{lever.name!r} names lever {names[lever.name]} "
                     "too: each lever needs its own name (its results dimension)", lever.name)
                )  # fmt: skip
            names.setdefault(lever.name, i)
            if lever.key.startswith(RUN_SETTINGS):
                problems.append(
                    (("grid", i, "key"), f"{lever.key!r} is a run setting, not a policy "
                     "lever: every design runs the same paths and seed", lever.key)
                )  # fmt: skip
            elif lever.key in keys:
                problems.append(
                    (("grid", i, "key"), f"lever {keys[lever.key]} sets {lever.key!r} "
                     "too: each key can be one lever only", lever.key)
                )  # fmt: skip
            keys.setdefault(lever.key, i)
            seen: dict[float, int] = {}
            for j, value in enumerate(lever.values):
                if float(value) in seen:
                    problems.append(
                        (("grid", i, "values", j), f"{value!r} is value {seen[float(value)]} "
                         "of this lever too: give each value once", value)
                    )  # fmt: skip
                seen.setdefault(float(value), j)
        for key, i in keys.items():
            if key in self.overrides:
                problems.append(
                    (("overrides", key), f"lever {self.grid[i].name!r} sets {key!r} at every "
                     "grid point, so this value would never be used: remove one", None)
                )  # fmt: skip
            for name in self.variants:
                if key in self.changes(name):
                    problems.append(
                        (self._change_place(name, key), f"lever {self.grid[i].name!r} sets "
                         f"{key!r} at every grid point, so variant {name!r}'s value would "
                         "never be used: remove one", None)
                    )  # fmt: skip
        return problems

    # ------------------------------------------------------------------ the designs

    def changes(self, variant: str) -> dict[str, Any]:
        """A named variant's own overrides (dotted key -> value), either form."""
        spec = self.variants[variant]
        return dict(spec.get("set") or {}) if _long_form(spec) else dict(spec)

    def variant_label(self, variant: str) -> dict[str, str]:
        """A named variant's ``{zh, en}`` label ({} when it has none)."""
        spec = self.variants[variant]
        return dict(spec.get("label") or {}) if _long_form(spec) else {}

    def _change_place(self, variant: str, key: str) -> tuple:
        form = ("set",) if _long_form(self.variants[variant]) else ()
        return ("variants", variant, *form, key)

    def designs(self) -> list[Design]:
        """Every run, in order: each named variant (in file order) at each grid point (the
        last lever varying fastest)."""
        variants: list[str | None] = list(self.variants) or [None]
        points = list(itertools.product(*(range(len(lever.values)) for lever in self.grid)))
        return [Design(v, p) for v in variants for p in points]

    def design_name(self, design: Design) -> str:
        """``variant``, ``lever=value,...``, or ``variant, lever=value,...``."""
        point = ",".join(
            f"{lever.name}={lever.coordinate()[j]!r}"
            for lever, j in zip(self.grid, design.point, strict=True)
        )
        return ", ".join(part for part in (design.variant, point) if part)

    def place(self, name: str, culprit: int | None = None) -> tuple[tuple, int | None]:
        """Where design ``name`` is written: its variant's key path and line, or for a grid
        point the value of lever ``culprit`` (default: the first lever's value)."""
        design = next(d for d in self.designs() if self.design_name(d) == name)
        if design.point and (culprit is not None or design.variant is None):
            i = culprit or 0
            at: tuple = ("grid", i, "values", design.point[i])
        else:
            at = ("variants", design.variant)
        return at, self._lines.get(at)

    def _grid_changes(self, design: Design) -> list[tuple[tuple, str, Any]]:
        return [
            (("grid", i, "values", j), lever.key, lever.values[j])
            for i, (lever, j) in enumerate(zip(self.grid, design.point, strict=True))
        ]

    def located_overrides(self) -> dict[str, list[Override]]:
        """Every run's overrides by design name, each citing where it was written (file and
        line or ``--set``): the experiment's ``overrides`` first, then the variant's own,
        then the grid point's."""
        common = {k: self._override(("overrides", k), k, v) for k, v in self.overrides.items()}
        out = {}
        for design in self.designs():
            own = []
            if design.variant is not None:
                own = [
                    (self._change_place(design.variant, k), k, v)
                    for k, v in self.changes(design.variant).items()
                ]
            own += self._grid_changes(design)
            located = {**common, **{k: self._override(at, k, v) for at, k, v in own}}
            out[self.design_name(design)] = list(located.values())
        return out

    def _override(self, at: tuple, key: str, value: Any) -> Override:
        if at[0] == "overrides" and key in self._set:
            return self._set[key]
        return Override(key, value, f"{key}={value}", path=self._source, line=self._lines.get(at))

    def variant_overrides(self) -> dict[str, dict[str, Any]]:
        """Every run's policy changes, by design name (grid values included).

        The run's size and randomness (``simulation.*``: paths, seed, granularity, blocks)
        are applied to every variant but are not policy: they are left out here, so a
        comparison never lists ``simulation.paths = 20`` as what makes a design.
        """
        return {
            name: {o.key: o.value for o in located if not o.key.startswith(RUN_SETTINGS)}
            for name, located in self.located_overrides().items()
        }

    def policy_overrides(self, variant: str | None) -> dict[str, Any]:
        """The policy changes of a named variant (or of every run, for None): the
        experiment's ``overrides`` then the variant's own, without the grid's."""
        changes = {**self.overrides, **(self.changes(variant) if variant else {})}
        return {k: v for k, v in changes.items() if not k.startswith(RUN_SETTINGS)}

    def run_size(
        self, first: Scenario, paths: int | None = None, seed: int | None = None
    ) -> tuple[int, str, int]:
        """The paths per variant, the setting they come from, and the seed.

        The command line wins: ``--paths`` / ``--seed``, then ``--set simulation.paths=``
        / ``--set simulation.seed=``; then the experiment's ``paths:`` / ``seed:``; then
        the base scenario's (after the experiment's ``overrides``). ``first`` is any
        variant's validated scenario (they share these settings).
        """
        if paths is not None:
            where = "--paths"
        elif "simulation.paths" in self._set:
            paths, where = first.simulation.paths, "--set simulation.paths"
        elif self.paths is not None:
            paths, where = self.paths, f"{self._source}: paths"
        else:
            paths, where = first.simulation.paths, f"{self.base}: simulation.paths"
        if seed is None:
            if "simulation.seed" not in self._set and self.seed is not None:
                seed = self.seed
            else:
                seed = first.simulation.seed
        return paths, where, seed


def _long_form(spec: dict) -> bool:
    """A variant written ``{label: {zh, en}, set: {...}}`` (a label is a mapping; a
    top-level scenario ``label`` override is text)."""
    return "set" in spec or isinstance(spec.get("label"), dict)


def _variant_form(name: str, spec: dict) -> list:
    """What is wrong with a variant's long form: keys other than label and set, a label
    without zh and en, a ``set`` that is not a mapping."""
    if not _long_form(spec):
        return []
    problems = [
        (("variants", name, key), f"a labelled variant has only the keys {VARIANT_FORM} "
         "(its overrides go under set:)", None)
        for key in spec if key not in VARIANT_FORM
    ]  # fmt: skip
    label = spec.get("label")
    if label is not None and not (
        isinstance(label, dict)
        and set(label) == {"zh", "en"}
        and all(isinstance(x, str) and x for x in label.values())
    ):
        problems.append(
            (("variants", name, "label"), "a variant's label is {zh: text, en: text}", None)
        )
    if not isinstance(spec.get("set", {}), dict):
        problems.append(
            (("variants", name, "set"), "set: holds the variant's {dotted.key: value}", None)
        )
    return problems


def load_experiment(path: str | Path, overrides=None) -> Experiment:
    """Load and validate an experiment file (errors name the file, line and key).

    ``overrides`` (``dotted.key=value``, as from ``--set``) apply to every variant's
    scenario, after the experiment's own overrides and before the variant's.
    """
    source = str(path)
    data, lines = read_yaml(path)
    experiment = model_from_dict(data, Experiment, source=source, lines=lines)
    extra = {o.key: o for o in parse_overrides(overrides, source)}
    for lever in experiment.grid:
        if lever.key in extra:  # the grid point's value is applied last: it would win
            raise extra[lever.key].error(
                source,
                f"the grid's lever {lever.name!r} sets {lever.key!r} at every grid point, so "
                "this value would never be used: leave it out, or change the lever's values",
            )
    if extra:
        values = {**experiment.overrides, **{k: o.value for k, o in extra.items()}}
        experiment = experiment.model_copy(update={"overrides": values})
    experiment._source, experiment._lines, experiment._set = source, lines, extra
    return experiment


def variant_scenarios(
    path: str | Path, experiment: Experiment | None = None, *, strict: bool = False
) -> dict:
    """Validate every run's scenario (each named variant at each grid point) before
    anything runs; design name -> Scenario, in run order.

    Implausible values warn (:class:`~guarantee_sim.config.ScenarioWarning`), or with
    ``strict`` are errors, as for :func:`~guarantee_sim.config.load_scenario`.
    """
    path = Path(path)
    experiment = experiment or load_experiment(path)
    base = _base_scenario(path, experiment)
    scenarios = {}
    for name, overrides in experiment.located_overrides().items():
        try:
            scenarios[name] = load_scenario(base, overrides=overrides, strict=strict)
        except ScenarioError as err:
            at, line = experiment.place(name, _culprit(experiment, name, err))
            key = ".".join(map(str, at))
            where = format_location(path, line, key)
            what = "grid point" if at[0] == "grid" else "variant"
            raise ScenarioError(
                f"{where}: {what} {name!r} is not a valid scenario:\n{err}",
                path=str(path),
                line=line,
                key=key,
                problems=[f"{where}: {what} {name!r}: {p}" for p in err.problems],
            ) from None
    return scenarios


def _culprit(experiment: Experiment, name: str, err: ScenarioError) -> int | None:
    """The lever whose value the scenario refused (its line is cited by the error), or
    None when no lever's value is (the variant's own change, or the mix of them)."""
    design = next(d for d in experiment.designs() if experiment.design_name(d) == name)
    text = "\n".join([str(err), *err.problems])
    for i, j in enumerate(design.point):
        line = experiment._lines.get(("grid", i, "values", j))
        if line is not None and f"line {line}," in text:
            return i
    return None


def _base_scenario(path: Path, experiment: Experiment) -> Path:
    """The base scenario file, checked to be one (the key and line of ``base`` if not).

    Only a ``.yaml``/``.yml`` file is read, and a file that is not a scenario is refused by
    the names of its top-level keys alone: its values are never echoed (``base`` may point
    at any file the user can read, such as a configuration holding a token).
    """
    base = (path.parent / experiment.base).resolve()
    line = experiment._lines.get(("base",))
    where = format_location(path, line, "base")

    def refuse(reason: str) -> ScenarioError:
        return ScenarioError(f"{where}: {reason}", path=str(path), line=line, key="base")

    if not base.is_file():
        what = "a folder" if base.is_dir() else "no file"
        raise refuse(
            f"{experiment.base!r} is {what} (looked for {base}); give the base scenario's "
            "YAML file, relative to the experiment file"
        )
    if base.suffix.lower() not in BASE_SUFFIXES:
        raise refuse(
            f"{experiment.base!r} is not a YAML file: a base scenario is a file named "
            f"{' or '.join('*' + s for s in BASE_SUFFIXES)}, relative to the experiment file"
        )
    data, _ = read_yaml(base)
    if is_experiment(data):
        raise refuse(
            f"{experiment.base!r} is an experiment file, not a scenario; give the scenario "
            "the variants change"
        )
    problem = _not_a_scenario(data)
    if problem:
        raise refuse(f"{experiment.base!r} is not a scenario file: {problem}")
    return base


def _not_a_scenario(data: dict) -> str:
    """Why a file's top-level keys are not a scenario's, or ''; names keys, never values."""
    fields = Scenario.model_fields
    allowed = {f.alias or name for name, f in fields.items()}
    required = [f.alias or name for name, f in fields.items() if f.is_required()]
    missing = [k for k in required if k not in data]
    unknown = sorted(str(k) for k in data if k not in allowed)
    if not missing and not unknown:
        return ""
    said = []
    if missing:
        said.append(f"it lacks {', '.join(missing)}, which every scenario has")
    if unknown:
        said.append(f"it has top-level keys no scenario has ({', '.join(unknown)})")
    return "; ".join(said) + " (its values are not shown)"


def run_experiment(
    path: str | Path,
    paths: int | None = None,
    seed: int | None = None,
    progress: Progress | bool | None = None,
    overrides=None,
    *,
    strict: bool = False,
    books=None,
) -> xr.Dataset:
    """Run every design with common random numbers; one Dataset.

    Named variants make the ``scenario`` dimension; each grid lever a dimension of its own
    (its ``name``, numeric coordinate); an experiment with both has both. Every run is
    validated before any runs; ``strict`` makes implausible values errors. ``books`` is
    :func:`~guarantee_sim.engine.simulate`'s cache of the institution processes' books
    (default: the last two sets in memory), so designs that change only what the processes
    do not read (a pool, caps, capital) run them once.
    """

    from .engine import BooksInMemory, simulate
    from .engine.progress import Prefixed, as_progress, finished
    from .engine.tail import shift_from_attrs

    experiment = load_experiment(path, overrides)
    if experiment.design is not None:  # its designs are chosen by the search
        raise ScenarioError(
            f"{path}: has a design: section and no variants or grid to compare; solve it with "
            f"`guarantee-sim design {path}`",
            path=str(path),
        )
    scenarios = variant_scenarios(path, experiment, strict=strict)
    paths, _, seed = experiment.run_size(next(iter(scenarios.values())), paths, seed)
    shown = as_progress(progress)
    runs = {}
    shift = None  # importance sampling: every design samples with the first one's shift
    books = BooksInMemory() if books is None else books
    for i, design in enumerate(experiment.designs(), start=1):
        name = experiment.design_name(design)
        # each phase named with its design: "fee_cut (2/3): paths"
        ds = simulate(
            scenarios[name],
            paths=paths,
            seed=seed,
            progress=Prefixed(shown, f"{name} ({i}/{len(scenarios)}): "),
            shift=shift,
            books=books,
        )
        if shift is None:  # so the variants share their paths (common random numbers)
            shift = shift_from_attrs(ds.attrs, list(scenarios[name].macro.factors))
        runs[design] = ds
    finished(progress, shown)
    return combine_designs(experiment, runs, paths=paths, seed=seed)


def combine_designs(
    experiment: Experiment, runs: dict[Design, xr.Dataset], *, paths: int, seed: int
) -> xr.Dataset:
    """Every design's results (``simulate``'s Dataset, by :class:`Design`) as the
    experiment's one Dataset: design dimensions, their descriptions, the experiment's attrs
    and, with a counterfactual, the additionality (``guarantee_sim.sweep`` combines the
    designs it ran in pieces with it, so a sweep's results are :func:`run_experiment`'s)."""
    import xarray as xr

    expanded = {}
    for design, run in runs.items():
        ds = run.assign_coords(scenario_yaml=run.attrs["scenario_yaml"])
        ds.attrs = {k: v for k, v in run.attrs.items() if k != "scenario_yaml"}
        # designs may differ in it (a sensitivity): a coord survives the concat, an attr not
        ds = ds.assign_coords(discount_rate=run.attrs["discount_rate"])
        expanded[design] = ds.expand_dims(_design_coords(experiment, design))
    combined = xr.combine_nested(
        _nested(experiment, expanded),
        concat_dim=_design_dims(experiment),
        join="outer",
        combine_attrs="drop_conflicts",
        coords="different",
        compat="equals",
    )
    combined = _described_designs(combined, experiment)
    combined.attrs.update(
        experiment=experiment.name,
        experiment_label=experiment.label,
        question=experiment.question or experiment.description,
        seed=int(seed),
        n_paths=int(paths),
        counterfactual=experiment.counterfactual or "",
        conventions="money in CNY; rates as decimals per year; counts in loans",
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    if experiment.counterfactual:
        combined = with_additionality(combined, experiment.counterfactual)
    return combined


def _design_dims(experiment: Experiment) -> list[str]:
    """The results' design dimensions: ``scenario`` (named variants), then the levers."""
    return (["scenario"] if experiment.variants else []) + [x.name for x in experiment.grid]


def _design_coords(experiment: Experiment, design: Design) -> dict[str, list]:
    """The one-entry coordinates a run's results are expanded by: its variant's name and
    its lever values (as numbers)."""
    coords: dict[str, list] = {} if design.variant is None else {"scenario": [design.variant]}
    for lever, j in zip(experiment.grid, design.point, strict=True):
        coords[lever.name] = [lever.coordinate()[j]]  # the lever's one dtype
    return coords


def _nested(experiment: Experiment, runs: dict[Design, xr.Dataset]) -> Any:
    """The runs as nested lists, one level per design dimension, for ``combine_nested``."""
    variants: list[str | None] = list(experiment.variants) or [None]
    sizes = [len(lever.values) for lever in experiment.grid]

    def level(variant: str | None, point: tuple[int, ...]) -> Any:
        if len(point) == len(sizes):
            return runs[Design(variant, point)]
        return [level(variant, (*point, j)) for j in range(sizes[len(point)])]

    nested = [level(v, ()) for v in variants]
    return nested if experiment.variants else nested[0]


def _described_designs(ds: xr.Dataset, experiment: Experiment) -> xr.Dataset:
    """The design coordinates described: each lever's units, long name, labels and key;
    each named variant's policy changes (JSON) and labels. A grid-only experiment keeps
    its common policy changes in the attr ``experiment_overrides`` (JSON)."""
    for lever in experiment.grid:
        ds[lever.name].attrs.update(
            units=lever.units,
            long_name=lever.label.en,
            label_zh=lever.label.zh,
            label_en=lever.label.en,
            lever_key=lever.key,
        )
    ds.attrs["experiment_overrides"] = json.dumps(
        experiment.policy_overrides(None), ensure_ascii=False, default=str
    )
    if not experiment.variants:
        return ds
    names = [str(n) for n in ds.scenario.values]
    labels = {n: experiment.variant_label(n) for n in names}
    return ds.assign_coords(
        variant_overrides=(
            "scenario",
            [
                json.dumps(experiment.policy_overrides(n), ensure_ascii=False, default=str)
                for n in names
            ],
            {"long_name": "overrides of the base scenario, as a JSON object"},
        ),
        variant_label_zh=(
            "scenario",
            [labels[n].get("zh", "") for n in names],
            {"long_name": "the variant's Chinese label ('' when it has none)"},
        ),
        variant_label_en=(
            "scenario",
            [labels[n].get("en", "") for n in names],
            {"long_name": "the variant's English label ('' when it has none)"},
        ),
    )


def with_additionality(ds: xr.Dataset, counterfactual: str, tags=("first_time",)) -> xr.Dataset:
    """Add borrowers, lending and fiscal cost relative to the counterfactual, path by path."""
    from .results.metrics import segments_with_tags
    from .results.weights import weighted_mean  # importance sampling: paths weigh

    chosen = segments_with_tags(ds, tags)
    borrowers = ds["borrowers"].sel(segment=chosen).sum(["segment", "year"])
    lending = ds["loans_amount"].sum(["segment", "year"])
    fiscal = ds["fiscal_cost"].sum("year")
    ds["additional_borrowers"] = borrowers - borrowers.sel(scenario=counterfactual)
    ds["additional_lending"] = lending - lending.sel(scenario=counterfactual)
    extra_cost = weighted_mean(fiscal - fiscal.sel(scenario=counterfactual))
    extra_borrowers = weighted_mean(ds["additional_borrowers"])
    ds["fiscal_cost_per_additional_borrower"] = extra_cost / extra_borrowers.where(
        extra_borrowers > 0
    )
    ds["additional_borrowers"].attrs.update(
        units="1", long_name=("first-time borrowers served beyond the counterfactual, over the run")
    )
    ds["additional_lending"].attrs.update(
        units="CNY", long_name=("new lending beyond the counterfactual, over the run")
    )
    ds["fiscal_cost_per_additional_borrower"].attrs.update(
        units="CNY", long_name=("mean extra fiscal cost per mean additional first-time borrower")
    )
    return ds


def comparison_table(ds: xr.Dataset) -> dict[str, dict[str, float]]:
    """Headline numbers per design (means over paths unless named otherwise); a grid's
    points are designs of their own (:func:`~guarantee_sim.results.stack_levers`)."""
    import numpy as np

    from .results import (
        breaker_probability,
        depletion_probability,
        insolvency_probability,
        loss_summary,
        stack_levers,
    )
    from .results.weights import weighted_mean  # importance sampling: paths weigh

    ds = stack_levers(ds)  # one column per design, grid points included
    table = {}
    for name in ds.scenario.values:
        v = ds.sel(scenario=name)
        losses = loss_summary(v)
        means = losses["mean"].to_series()
        row = {f"loss_mean_{p}": float(m) for p, m in means.items() if not np.isnan(m)}
        tails = losses["var_99"].sel(party=v.party.values[v.party_kind.values != "unabsorbed"])
        row.update({f"loss_var99_{p}": float(x) for p, x in tails.to_series().items()})
        for g in v.party.values[v.party_kind.values == "guarantor"]:
            row[f"capital_end_{g}"] = float(weighted_mean(v.capital.sel(party=g).isel(year=-1)))
        row["fiscal_cost"] = float(weighted_mean(v.fiscal_cost.sum("year")))
        row["public_loss"] = float(weighted_mean(v.public_loss.sum("year")))
        row["lending"] = float(weighted_mean(v.loans_amount.sum(["year", "segment"])))
        if v.sizes.get("target"):
            for t in v.target.values:
                row[f"P({t})"] = float(v.target_probability.sel(target=t))
        for p, value in depletion_probability(v).to_series().items():
            row[f"P(pool {p} depleted)"] = float(value)
        for p, value in breaker_probability(v).to_series().items():
            row[f"P(pool {p} breaker tripped)"] = float(value)
        for g, value in insolvency_probability(v).to_series().items():
            row[f"P({g} insolvent)"] = float(value)
        if "additional_borrowers" in v:
            row["additional_borrowers"] = float(weighted_mean(v.additional_borrowers))
            row["fiscal_cost_per_additional_borrower"] = float(
                v.fiscal_cost_per_additional_borrower
            )
        table[str(name)] = row
    return table
