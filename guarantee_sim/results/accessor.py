"""``ds.gs``: the results metrics as methods of a results Dataset (xarray accessor).

Each method is the function of the same name in :mod:`guarantee_sim.results.metrics` or
:mod:`guarantee_sim.results.cost` (or :mod:`guarantee_sim.results.decomposition`,
:mod:`guarantee_sim.results.weights`),
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
>>> es = ds.gs.expected_shortfall("loss", 0.5)  # the worse of the two paths, over the run
>>> float(es.sel(party="guarantor")), es.attrs["units"]
(3000000.0, 'CNY')
"""

from __future__ import annotations

import xarray as xr

from . import cost, dataset, decomposition, metrics, weights


@xr.register_dataset_accessor("gs")
class GuaranteeSimAccessor:
    def __init__(self, ds: xr.Dataset):
        self._ds = ds

    def loss_summary(self, per_year: bool = False) -> xr.Dataset:
        return metrics.loss_summary(self._ds, per_year=per_year)

    def value_at_risk(
        self, variable: str = "loss", level: float = 0.99, over_run: bool = True
    ) -> xr.DataArray:
        """VaR at ``level`` across paths of ``variable`` (summed over the years with
        ``over_run``, else per year)."""
        return metrics.value_at_risk(self._values(variable, over_run), level)

    def expected_shortfall(
        self, variable: str = "loss", level: float = 0.99, over_run: bool = True
    ) -> xr.DataArray:
        """Expected shortfall at ``level`` across paths of ``variable`` (as
        :meth:`value_at_risk`)."""
        return metrics.expected_shortfall(self._values(variable, over_run), level)

    def exceedance_curve(self, variable: str = "loss", thresholds=None) -> xr.DataArray:
        """P(``variable`` over the run > x) across paths."""
        return metrics.exceedance_curve(self._values(variable, True), thresholds)

    def tail_allocation(self, level: float = 0.99) -> xr.DataArray:
        return metrics.tail_allocation(self._ds, level=level)

    def _values(self, variable: str, over_run: bool) -> xr.DataArray:
        values = self._ds[variable]
        if over_run and "year" in values.dims:
            values = values.sum("year").assign_attrs(values.attrs)
        return values

    def effective_sample_size(self) -> float:
        """Kish's effective number of paths under importance sampling (``path_weight``);
        the number of paths of a plain run."""
        return weights.effective_sample_size(self._ds)

    def yearly_summary(self, guarantor: str | None = None) -> xr.Dataset:
        return metrics.yearly_summary(self._ds, guarantor=guarantor)

    def segments_with_tags(self, tags) -> list[str]:
        return metrics.segments_with_tags(self._ds, tags)

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

    def depleted_paths(self) -> xr.DataArray:
        return metrics.depleted_paths(self._ds)

    def breaker_probability(self) -> xr.DataArray:
        return metrics.breaker_probability(self._ds)

    def breaker_paths(self) -> xr.DataArray:
        return metrics.breaker_paths(self._ds)

    def insolvency_probability(self) -> xr.DataArray:
        return metrics.insolvency_probability(self._ds)

    def insolvent_paths(self) -> xr.DataArray:
        return metrics.insolvent_paths(self._ds)

    def fiscal_cost_per_borrower(self, tags=("first_time",)) -> xr.DataArray:
        return metrics.fiscal_cost_per_borrower(self._ds, tags=tags)

    def fiscal_cost_per_lending(self, per: float = 1e8) -> xr.DataArray:
        return metrics.fiscal_cost_per_lending(self._ds, per=per)

    def discount_rate(self) -> float:
        return cost.discount_rate(self._ds)

    def guaranteed_segments(self) -> list[str]:
        return cost.guaranteed_segments(self._ds)

    def guaranteed_mask(self) -> xr.DataArray:
        return cost.guaranteed_mask(self._ds)

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
