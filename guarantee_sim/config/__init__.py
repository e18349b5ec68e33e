"""Scenario configuration: typed, frozen models loaded from YAML with line-aware errors."""

from __future__ import annotations

from pathlib import Path

from .loader import (
    Override,
    ScenarioError,
    apply_overrides,
    load_model,
    model_from_dict,
    parse_overrides,
    read_yaml,
)
from .schema import Scenario

__all__ = [
    "Override",
    "Scenario",
    "ScenarioError",
    "apply_overrides",
    "load_scenario",
    "parse_overrides",
    "read_yaml",
    "scenario_from_dict",
]


def load_scenario(path: str | Path, overrides=None) -> Scenario:
    """Load and validate a scenario YAML file, applying ``dotted.key=value`` overrides.

    Raises :class:`ScenarioError` naming the file, line, key, value and what is allowed.

    >>> from guarantee_sim import load_scenario
    >>> s = load_scenario("scenarios/county_guarantee_2021.yaml",
    ...                   overrides=["simulation.paths=10"])
    >>> s.name, s.simulation.paths
    ('county_guarantee_2021', 10)
    """
    return load_model(path, Scenario, overrides=overrides)


def scenario_from_dict(data: dict, source: str = "<dict>", overrides=None) -> Scenario:
    """Validate an in-memory scenario (e.g. one built in a notebook), after ``overrides``.

    ``overrides`` are read like ``--set`` (see :func:`parse_overrides`); ``data`` is not
    modified.
    """
    return model_from_dict(data, Scenario, source=source, overrides=overrides)
