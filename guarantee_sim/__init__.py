"""guarantee_sim: simulation of government credit-guarantee systems for SME lending.

Money is in CNY, rates are decimals per year.

>>> import guarantee_sim as gs
>>> scenario = gs.load_scenario("scenarios/county_guarantee_2021.yaml")  # doctest: +SKIP
>>> results = gs.simulate(scenario, paths=200, seed=1)                     # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .config import Scenario, ScenarioError, load_scenario, scenario_from_dict
from .engine import simulate

try:
    __version__ = version("guarantee-sim")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "Scenario",
    "ScenarioError",
    "__version__",
    "load_scenario",
    "scenario_from_dict",
    "simulate",
]
