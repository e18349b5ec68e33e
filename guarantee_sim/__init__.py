"""guarantee_sim: simulation of government credit-guarantee systems for SME lending.

Money is in CNY, rates are decimals per year.

>>> import guarantee_sim as gs
>>> scenario = gs.load_scenario("scenarios/county_guarantee_2021.yaml")
>>> results = gs.simulate(scenario, paths=20, seed=1)
>>> [str(p) for p in results.party.values]
['bank', 'guarantor', 'provincial', 'national_fund', 'gov_pool', 'unabsorbed']
>>> mean_loss = results.gs.loss_summary()["mean"]  # CNY over the run, mean over paths
>>> round(float(mean_loss.sel(party="guarantor")) / 1e6, 1)
54.6

Importing the package is cheap and changes no process-wide state: the names below (and
the subpackages, e.g. ``gs.results``) are imported on first use (PEP 562), so
``load_scenario`` does not pull in Numba, SciPy or xarray, and ``simulate`` compiles the
kernels only when it is first called (see :func:`configure_numba_cache` for where the
compiled kernels are cached). The ``ds.gs`` accessor is registered when
:mod:`guarantee_sim.results` is imported, which ``simulate``, ``open_results`` and
``read_results`` do; after opening a file with plain xarray, ``import guarantee_sim.results``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import LazyNames
from ._version import __version__

#: public name -> the module that defines it (imported on first access)
_EXPORTS = {
    "Scenario": "config",
    "configure_numba_cache": "_numba_cache",
    "ScenarioError": "config",
    "load_scenario": "config",
    "scenario_from_dict": "config",
    "simulate": "engine",
}
_SUBPACKAGES = (
    "book",
    "cli",
    "config",
    "engine",
    "experiments",
    "kernels",
    "philox",
    "processes",
    "reporting",
    "results",
)

__all__ = [
    "Scenario",
    "ScenarioError",
    "__version__",
    "configure_numba_cache",
    "load_scenario",
    "scenario_from_dict",
    "simulate",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from ._numba_cache import configure_numba_cache
    from .config import Scenario, ScenarioError, load_scenario, scenario_from_dict
    from .engine import simulate


_LAZY = LazyNames(__name__, globals(), _EXPORTS, _SUBPACKAGES)


def __getattr__(name: str):
    return _LAZY.attribute(name)


def __dir__() -> list[str]:
    return _LAZY.names()
