"""``ds.gs``: the results metrics as methods of a results Dataset (xarray accessor).

Each method is the function of the same name in :mod:`guarantee_sim.results.metrics` or
:mod:`guarantee_sim.results.cost` (or :mod:`guarantee_sim.results.decomposition`),
applied to the Dataset; nothing is computed here that the functions do not compute.
Importing :mod:`guarantee_sim.results` registers it.

>>> from guarantee_sim.testing import results_dataset
>>> ds = results_dataset(
...     years=[2021],
...     segments={"sme": ["first_time"]},
...     parties={"bank": "bank", "guarantor": "guarantor"},
...     loss={"guarantor": [[1.0e6], [3.0e6]]},  # two paths, one year (CNY)
...     loans_amount=[[[200.0e6]], [[200.0e6]]],
...     fiscal_cost=[[0.5e6], [1.5e6]],
... )
>>> float(ds.gs.loss_summary()["mean"].sel(party="guarantor"))
2000000.0
>>> float(ds.gs.fiscal_cost_per_lending())  # CNY per 100 m CNY of lending
500000.0
"""

from __future__ import annotations

import xarray as xr

from . import cost, dataset, decomposition, metrics


@xr.register_dataset_accessor("gs")
class GuaranteeSimAccessor:
    def __init__(self, ds: xr.Dataset):
        self._ds = ds

    def loss_summary(self, per_year: bool = False) -> xr.Dataset:
        return metrics.loss_summary(self._ds, per_year=per_year)

    def yearly_summary(self, guarantor: str = "guarantor") -> xr.Dataset:
        return metrics.yearly_summary(self._ds, guarantor=guarantor)

    def target_attainment(self) -> xr.DataArray:
        return metrics.target_attainment(self._ds)

    def attainment_variance_shares(self) -> xr.Dataset:
        """The variance decomposition of each target's attainment over the Dataset's paths
        (a run stores its own as ``attainment_variance_share``; recompute it for a subset)."""
        out = decomposition.attainment_variance_shares(self._ds)
        dataset.annotate(out)
        return out

    def depletion_probability(self) -> xr.DataArray:
        return metrics.depletion_probability(self._ds)

    def breaker_probability(self) -> xr.DataArray:
        return metrics.breaker_probability(self._ds)

    def insolvency_probability(self) -> xr.DataArray:
        return metrics.insolvency_probability(self._ds)

    def fiscal_cost_per_borrower(self, tags=("first_time",)) -> xr.DataArray:
        return metrics.fiscal_cost_per_borrower(self._ds, tags=tags)

    def fiscal_cost_per_lending(self, per: float = 1e8) -> xr.DataArray:
        return metrics.fiscal_cost_per_lending(self._ds, per=per)

    def present_value(self, variable: str, rate: float | None = None) -> xr.DataArray:
        """PV of the yearly variable ``variable`` at ``rate`` (default: the results')."""
        rate = cost.discount_rate(self._ds) if rate is None else rate
        return cost.present_value(self._ds[variable], rate)

    def public_cost_pv(self, rate: float | None = None) -> xr.Dataset:
        return cost.public_cost_pv(self._ds, rate=rate)

    def break_even_fee(self, rate: float | None = None) -> xr.Dataset:
        return cost.break_even_fee(self._ds, rate=rate)

    def zero_subsidy_fee(self, rate: float | None = None) -> xr.Dataset:
        return cost.zero_subsidy_fee(self._ds, rate=rate)

    def years_to_exhaustion(self, variable: str = "capital_exhausted") -> xr.Dataset:
        return cost.years_to_exhaustion(self._ds, variable=variable)
