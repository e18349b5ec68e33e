"""Scenario configuration: typed, frozen models loaded from YAML with line-aware errors."""

from __future__ import annotations

from pathlib import Path

from .loader import (
    Override,
    ScenarioError,
    ScenarioWarning,
    apply_overrides,
    load_model,
    model_from_dict,
    parse_overrides,
    read_yaml,
)
from .plausibility import implausible_values
from .schema import Scenario
from .sources import comment_sources

__all__ = [
    "Override",
    "Scenario",
    "ScenarioError",
    "ScenarioWarning",
    "apply_overrides",
    "load_scenario",
    "parse_overrides",
    "read_yaml",
    "scenario_from_dict",
]


def load_scenario(path: str | Path, overrides=None, *, strict: bool = False) -> Scenario:
    """Load and validate a scenario YAML file, applying ``dotted.key=value`` overrides.

    Raises :class:`ScenarioError` naming the file, line, key, value and what is allowed.
    Values that are valid but implausible (a PD of 0.9999, a guarantor without net assets;
    see :mod:`guarantee_sim.config.plausibility`) are issued as :class:`ScenarioWarning`
    (Python's ``warnings``), or with ``strict=True`` raised as errors.

    >>> from guarantee_sim import load_scenario
    >>> s = load_scenario("scenarios/county_guarantee_2021.yaml",
    ...                   overrides=["simulation.paths=10"])
    >>> s.name, s.simulation.paths
    ('county_guarantee_2021', 10)
    """
    scenario = load_model(
        path, Scenario, overrides=overrides, checks=implausible_values, strict=strict
    )
    scenario._comment_sources = _file_sources(path, overrides)
    return scenario


def _file_sources(path: str | Path, overrides) -> dict[str, str]:
    """The file's tagged comments by key, without the keys an override changed (their
    comment speaks of the file's value, not the override's): the key itself, the keys
    under it, and a key whose line it is written on (``loan_size: {median: ...}``)."""
    _, lines = read_yaml(path)  # cached: load_model has just parsed it
    text = Path(path).read_bytes().decode("utf-8")
    line_of = {".".join(map(str, k)): line for k, line in lines.items()}
    changed = [o.key for o in parse_overrides(overrides)]

    def overridden(key: str) -> bool:
        return any(
            key == c
            or key.startswith(c + ".")
            or (c.startswith(key + ".") and line_of.get(c) == line_of[key])
            for c in changed
        )

    return {k: said for k, said in comment_sources(text, lines).items() if not overridden(k)}


def scenario_from_dict(
    data: dict, source: str = "<dict>", overrides=None, *, strict: bool = False
) -> Scenario:
    """Validate an in-memory scenario (e.g. one built in a notebook), after ``overrides``.

    ``overrides`` are read like ``--set`` (see :func:`parse_overrides`); ``data`` is not
    modified. Implausible values warn, or with ``strict=True`` are errors (as
    :func:`load_scenario`).
    """
    return model_from_dict(
        data,
        Scenario,
        source=source,
        overrides=overrides,
        checks=implausible_values,
        strict=strict,
    )
