"""Experiments: a base scenario plus named variants (dotted-path overrides) or a grid.

Every variant runs with the same seed, so paths share their random numbers (common random
numbers): differences between variants are the policy's effect, not sampling noise. The
results are one Dataset with a ``scenario`` dimension.

Example experiment file::

    name: fee_levels
    base: ../scenarios/hangzhou_2021_2023.yaml      # relative to this file
    counterfactual: no_scheme                        # optional: "additional" is vs this
    variants:
      baseline: {}
      fee_0_5pct: {parties.guarantor.fee_rate: 0.005}
      no_scheme: {schemes.first_time_guarantee.coverage: 0.0}
"""

from __future__ import annotations

import itertools
import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, PrivateAttr, model_validator

from .config import Override, Scenario, ScenarioError, load_scenario, parse_overrides, read_yaml
from .config.loader import format_location, model_from_dict
from .config.types import Frozen, fail

if TYPE_CHECKING:  # pragma: no cover - xarray is imported by the functions that run
    import xarray as xr

    from .engine.progress import Progress

#: top-level keys only a scenario has; a file with ``base`` and none of them is an experiment
SCENARIO_KEYS = frozenset({"horizon", "segments", "parties", "schemes"})
#: what a base file's name must end with: a scenario is a YAML file
BASE_SUFFIXES = (".yaml", ".yml")
#: most variants (named variants plus grid points) an experiment may have: enough for a
#: sensitivity design of four keys at ten values; each is validated before any runs (about
#: 6 ms a variant on the county scenario, so a minute at the limit; a grid of 10^6 points
#: was validated for hours) and each is a run of all its paths
MAX_VARIANTS = 10_000
#: keys that set the run's size and randomness, never a design's policy
RUN_SETTINGS = ("simulation.",)


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
    variants: dict[str, dict[str, Any]] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(
        default_factory=dict, description="dotted key -> values; every combination"
    )
    counterfactual: str | None = Field(
        None,
        description="variant without the scheme: additional borrowers and lending "
        "are measured against it",
    )
    # where each override was written, for messages (set by load_experiment)
    _source: str = PrivateAttr("<experiment>")
    _lines: dict = PrivateAttr(default_factory=dict)
    _set: dict = PrivateAttr(default_factory=dict)  # dotted key -> Override from --set

    @model_validator(mode="after")
    def _variants_named_once(self) -> Experiment:
        """Some variants; each name once (a grid point named like a variant, or two grid
        values written alike, would silently replace one); a counterfactual among them."""
        if not self.variants and not self.grid:
            fail([(("variants",), "give variants, a grid, or both", None)])
        points = math.prod(len(values) for values in self.grid.values()) if self.grid else 0
        if len(self.variants) + points > MAX_VARIANTS:
            sizes = " x ".join(str(len(v)) for v in self.grid.values()) or "0"
            fail(
                [
                    (
                        ("grid",) if self.grid else ("variants",),
                        f"{len(self.variants):,} variants and {points:,} grid points ({sizes}) "
                        f"are more than the {MAX_VARIANTS:,} an experiment may have (each is "
                        "validated, then run with all its paths): use fewer values",
                        None,
                    )
                ]
            )
        fail(
            [
                (("grid", key), "a grid key needs at least one value", values)
                for key, values in self.grid.items()
                if not values
            ]
        )
        problems = []
        seen: dict[str, tuple] = {}  # grid point name -> its places in the file
        for name, places in self._grid_points(all_points=True):
            if name in seen:
                at = next((p for p, q in zip(places, seen[name], strict=True) if p != q), places[0])
                problems.append(
                    (at, f"makes the grid point {name!r} a second time (two values of a grid "
                     "key are written alike): give each value once", name)
                )  # fmt: skip
            seen.setdefault(name, places)
        for name in self.variants:
            if name in seen:
                problems.append(
                    (("variants", name), f"the grid has a point of the same name {name!r}, "
                     "which would replace this variant: rename it", name)
                )  # fmt: skip
        names = [*self.variants, *seen]
        if self.counterfactual is not None and self.counterfactual not in names:
            problems.append(
                (("counterfactual",), f"{self.counterfactual!r} is not a variant (allowed: "
                 f"{names})", self.counterfactual)
            )  # fmt: skip
        fail(problems)
        return self

    def _grid_points(self, all_points: bool = False):
        """Grid point name (key=value,...) and its places in the file (``grid``, key,
        index), each combination in order; with ``all_points`` also repeated names."""
        keys = list(self.grid)
        named = set()
        for combo in itertools.product(*(enumerate(self.grid[k]) for k in keys)) if keys else ():
            name = ",".join(
                f"{k.split('.')[-1]}={v}" for k, (_, v) in zip(keys, combo, strict=True)
            )
            if all_points or name not in named:
                named.add(name)
                yield name, tuple(("grid", k, i) for k, (i, _) in zip(keys, combo, strict=True))

    def _grid_changes(self) -> dict[str, list[tuple[tuple, str, Any]]]:
        """Grid point name -> [(place in the file, dotted key, value)]."""
        return {
            name: [(at, at[1], self.grid[at[1]][at[2]]) for at in places]
            for name, places in self._grid_points()
        }

    def place(self, name: str) -> tuple[tuple, int | None]:
        """Where variant ``name`` is written: its key path and line (a grid point: its
        first grid value)."""
        if name in self.variants:
            at: tuple = ("variants", name)
        else:
            at = next((p[0] for n, p in self._grid_points() if n == name), ("grid",))
        return at, self._lines.get(at)

    def located_overrides(self) -> dict[str, list[Override]]:
        """Every variant's overrides, each citing where it was written (file and line or
        ``--set``): the experiment's ``overrides`` first, then the variant's own."""
        common = {k: self._override(("overrides", k), k, v) for k, v in self.overrides.items()}
        changes = {
            name: [(("variants", name, k), k, v) for k, v in o.items()]
            for name, o in self.variants.items()
        }
        changes.update(self._grid_changes())
        return {
            name: list({**common, **{k: self._override(at, k, v) for at, k, v in own}}.values())
            for name, own in changes.items()
        }

    def _override(self, at: tuple, key: str, value: Any) -> Override:
        if at[0] == "overrides" and key in self._set:
            return self._set[key]
        return Override(key, value, f"{key}={value}", path=self._source, line=self._lines.get(at))

    def variant_overrides(self) -> dict[str, dict[str, Any]]:
        """Every variant's policy changes, named; grid points are named key=value,...

        The run's size and randomness (``simulation.*``: paths, seed, granularity, blocks)
        are applied to every variant but are not policy: they are left out here, so a
        comparison never lists ``simulation.paths = 20`` as what makes a design.
        """
        return {
            name: {o.key: o.value for o in located if not o.key.startswith(RUN_SETTINGS)}
            for name, located in self.located_overrides().items()
        }

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


def load_experiment(path: str | Path, overrides=None) -> Experiment:
    """Load and validate an experiment file (errors name the file, line and key).

    ``overrides`` (``dotted.key=value``, as from ``--set``) apply to every variant's
    scenario, after the experiment's own overrides and before the variant's.
    """
    source = str(path)
    data, lines = read_yaml(path)
    experiment = model_from_dict(data, Experiment, source=source, lines=lines)
    extra = {o.key: o for o in parse_overrides(overrides, source)}
    if extra:
        values = {**experiment.overrides, **{k: o.value for k, o in extra.items()}}
        experiment = experiment.model_copy(update={"overrides": values})
    experiment._source, experiment._lines, experiment._set = source, lines, extra
    return experiment


def is_experiment(data: dict) -> bool:
    """Whether a file's top-level mapping is an experiment (a ``base`` and no scenario keys)."""
    return "base" in data and not SCENARIO_KEYS & set(data)


def variant_scenarios(
    path: str | Path, experiment: Experiment | None = None, *, strict: bool = False
) -> dict:
    """Validate every variant's scenario before anything runs; name -> Scenario.

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
            at, line = experiment.place(name)
            key = ".".join(map(str, at))
            where = format_location(path, line, key)
            raise ScenarioError(
                f"{where}: variant {name!r} is not a valid scenario:\n{err}",
                path=str(path),
                line=line,
                key=key,
                problems=[f"{where}: variant {name!r}: {p}" for p in err.problems],
            ) from None
    return scenarios


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
) -> xr.Dataset:
    """Run every variant with common random numbers; one Dataset with a scenario dim.

    Every variant is validated before any runs; ``strict`` makes implausible values errors.
    """
    import xarray as xr

    from .engine import simulate
    from .engine.progress import Prefixed, as_progress, finished
    from .engine.tail import shift_from_attrs

    experiment = load_experiment(path, overrides)
    scenarios = variant_scenarios(path, experiment, strict=strict)
    paths, _, seed = experiment.run_size(next(iter(scenarios.values())), paths, seed)
    results = []
    shown = as_progress(progress)
    shift = None  # importance sampling: every variant samples with the first one's shift
    for i, (name, scenario) in enumerate(scenarios.items(), start=1):
        # each phase named with its design: "fee_cut (2/3): paths"
        ds = simulate(
            scenario,
            paths=paths,
            seed=seed,
            progress=Prefixed(shown, f"{name} ({i}/{len(scenarios)}): "),
            shift=shift,
        )
        if shift is None:  # so the variants share their paths (common random numbers)
            shift = shift_from_attrs(ds.attrs, list(scenario.macro.factors))
        ds = ds.assign_coords(scenario_yaml=ds.attrs.pop("scenario_yaml"))
        # designs may differ in it (a sensitivity): a coord survives the concat, an attr not
        ds = ds.assign_coords(discount_rate=ds.attrs["discount_rate"])
        results.append(ds.expand_dims(scenario=[name]))
    finished(progress, shown)
    combined = xr.concat(
        results,
        dim="scenario",
        join="outer",
        combine_attrs="drop_conflicts",
        coords="different",
        compat="equals",
    )
    overrides = experiment.variant_overrides()
    combined = combined.assign_coords(
        variant_overrides=(
            "scenario",
            [
                json.dumps(overrides[str(n)], ensure_ascii=False, default=str)
                for n in combined.scenario.values
            ],
            {"long_name": "overrides of the base scenario, as a JSON object"},
        )
    )
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


def with_additionality(ds: xr.Dataset, counterfactual: str, tags=("first_time",)) -> xr.Dataset:
    """Add borrowers, lending and fiscal cost relative to the counterfactual, path by path."""
    from .results.metrics import segments_with_tags

    chosen = segments_with_tags(ds, tags)
    borrowers = ds["borrowers"].sel(segment=chosen).sum(["segment", "year"])
    lending = ds["loans_amount"].sum(["segment", "year"])
    fiscal = ds["fiscal_cost"].sum("year")
    ds["additional_borrowers"] = borrowers - borrowers.sel(scenario=counterfactual)
    ds["additional_lending"] = lending - lending.sel(scenario=counterfactual)
    extra_cost = (fiscal - fiscal.sel(scenario=counterfactual)).mean("path")
    extra_borrowers = ds["additional_borrowers"].mean("path")
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
    """Headline numbers per variant (means over paths unless named otherwise)."""
    import numpy as np

    from .results import (
        breaker_probability,
        depletion_probability,
        insolvency_probability,
        loss_summary,
    )

    table = {}
    for name in ds.scenario.values:
        v = ds.sel(scenario=name)
        losses = loss_summary(v)
        means = losses["mean"].to_series()
        row = {f"loss_mean_{p}": float(m) for p, m in means.items() if not np.isnan(m)}
        tails = losses["var_99"].sel(party=v.party.values[v.party_kind.values != "unabsorbed"])
        row.update({f"loss_var99_{p}": float(x) for p, x in tails.to_series().items()})
        for g in v.party.values[v.party_kind.values == "guarantor"]:
            row[f"capital_end_{g}"] = float(v.capital.sel(party=g).isel(year=-1).mean("path"))
        row["fiscal_cost"] = float(v.fiscal_cost.sum("year").mean("path"))
        row["public_loss"] = float(v.public_loss.sum("year").mean("path"))
        row["lending"] = float(v.loans_amount.sum(["year", "segment"]).mean("path"))
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
            row["additional_borrowers"] = float(v.additional_borrowers.mean("path"))
            row["fiscal_cost_per_additional_borrower"] = float(
                v.fiscal_cost_per_additional_borrower
            )
        table[str(name)] = row
    return table
