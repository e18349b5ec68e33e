"""The outcomes a policy design is judged by, one number each per design.

A sweep's summaries, the sensitivity analysis and the design solver all ask the same
questions of a run: how likely is each target, what does the public purse pay, how bad is
the guarantors' tail, how likely is a pool to run dry, a guarantor to become insolvent, the
leverage cap to ration lending. They are answered here, once, so the three agree.

:func:`path_outcomes` gives each outcome's value on every path (what an interval or a
paired difference needs); :func:`design_outcomes` reduces them over paths with the path
weights (importance sampling) and, with ``intervals=True``, adds each one's 95% interval
clustered by book replica (:mod:`.intervals`).

Money in CNY (present values at the results' ``discount_rate``), probabilities as shares.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from .cost import discount_rate
from .intervals import mean_interval, probability_interval, tail_interval
from .metrics import target_attainment, value_at_risk
from .weights import weighted_mean

#: the level of the guarantors' loss quantile the designs are compared on
LOSS_LEVEL = 0.99

#: outcome -> (units, long name); the order is the order of tables
OUTCOMES = {
    "target_probability": ("1", "share of paths meeting the target"),
    "public_cost_pv": ("CNY", "mean present value of the public cost over the run"),
    "guarantor_loss_var99": ("CNY", "value at risk 99% of the guarantors' total loss"),
    "pool_depletion_probability": (
        "1",
        "share of paths on which some pool could not pay a share (breaker off)",
    ),
    "guarantor_insolvency_probability": (
        "1",
        "share of paths on which some guarantor's year-end net assets fell to zero or below",
    ),
    "leverage_cap_probability": (
        "1",
        "share of paths with new lending refused for lack of capacity in some year",
    ),
}

#: the outcomes that are probabilities of bad events (lower is better)
EVENTS = (
    "pool_depletion_probability",
    "guarantor_insolvency_probability",
    "leverage_cap_probability",
)


def _parties(ds: xr.Dataset, kind: str) -> np.ndarray:
    kinds = ds["party_kind"]
    if kinds.ndim > 1:  # over designs: every design has the same parties
        kinds = kinds.isel({d: 0 for d in kinds.dims if d != "party"})
    return ds.party.values[kinds.values == kind]


def _present_value(flows: xr.DataArray, ds: xr.Dataset) -> xr.DataArray:
    """PV of yearly flows at the results' discount rate, mid-year convention (as
    :func:`.cost.present_value`), each design at its own rate over a comparison."""
    if "discount_rate" in ds.coords:
        rate: xr.DataArray | float = ds["discount_rate"]
    else:
        rate = discount_rate(ds)
    t = xr.DataArray(ds.year.values - ds.year.values[0], dims="year", coords={"year": ds.year})
    pv = (flows * (1.0 + rate) ** -(t + 0.5)).sum("year", min_count=1)
    return pv.drop_vars("discount_rate", errors="ignore").assign_attrs(
        units="CNY", long_name="present value of public_cost"
    )


def _any_year(flag: xr.DataArray) -> xr.DataArray:
    return (flag.fillna(0) > 0).any("year")


def path_outcomes(ds: xr.Dataset) -> xr.Dataset:
    """Each outcome of :data:`OUTCOMES` on every path (bools for events, CNY for money).

    ``target_met`` (path, target) is attainment ≥ 1; ``public_cost_pv`` the path's PV of
    public cost; ``guarantor_loss`` its guarantors' total loss over the run (nominal CNY,
    the quantity whose VaR is taken); the three events are "in some year, for some pool /
    guarantor". A run without pools (or guarantors) has the event False on every path.
    """
    out = {}
    if "target" in ds.dims and ds.sizes["target"] > 0:
        out["target_met"] = target_attainment(ds) >= 1.0
    out["public_cost_pv"] = _present_value(ds["public_cost"], ds)
    guarantors = _parties(ds, "guarantor")
    pools = _parties(ds, "pool")
    loss = ds["loss"].sel(party=guarantors).sum(("party", "year"))
    out["guarantor_loss"] = loss.assign_attrs(units="CNY", long_name="guarantors' total loss")
    out["pool_depleted"] = _any_year(ds["pool_depleted"].sel(party=pools)).any("party")
    out["guarantor_insolvent"] = _any_year(ds["capital_exhausted"].sel(party=guarantors)).any(
        "party"
    )
    out["leverage_cap_hit"] = _any_year(ds["unmet_demand_amount"].sum("segment"))
    return xr.Dataset(out)


def _var99(losses: xr.DataArray) -> xr.DataArray:
    return value_at_risk(losses, LOSS_LEVEL)


def _var99_interval(losses: xr.DataArray) -> xr.Dataset:
    return tail_interval(losses, LOSS_LEVEL)


#: outcome -> (its per-path variable of :func:`path_outcomes`, its estimate over paths, its
#: 95% interval); in the order of :data:`OUTCOMES`
_REDUCED: dict[
    str,
    tuple[str, Callable[[xr.DataArray], xr.DataArray], Callable[[xr.DataArray], xr.Dataset]],
] = {
    "target_probability": ("target_met", weighted_mean, probability_interval),
    "public_cost_pv": ("public_cost_pv", weighted_mean, mean_interval),
    "guarantor_loss_var99": ("guarantor_loss", _var99, _var99_interval),
    "pool_depletion_probability": ("pool_depleted", weighted_mean, probability_interval),
    "guarantor_insolvency_probability": (
        "guarantor_insolvent",
        weighted_mean,
        probability_interval,
    ),
    "leverage_cap_probability": ("leverage_cap_hit", weighted_mean, probability_interval),
}


def design_outcomes(ds: xr.Dataset, intervals: bool = False) -> xr.Dataset:
    """The outcomes of :data:`OUTCOMES` reduced over paths (weighted under IS).

    One value per design (any dims other than ``path`` are kept: ``target`` for the
    target probabilities, a sweep's levers and ``scenario``). With ``intervals``, each
    outcome ``x`` gains ``x_low`` and ``x_high`` (95%, clustered by book replica: Wilson
    for shares, CR1 t for the mean, cluster bootstrap for the VaR); the methods are in the
    attrs ``x_method``.

    >>> import guarantee_sim as gs
    >>> ds = gs.simulate(gs.load_scenario("scenarios/county_guarantee_2021.yaml"), paths=20)
    >>> sorted(design_outcomes(ds).data_vars)  # doctest: +NORMALIZE_WHITESPACE
    ['guarantor_insolvency_probability', 'guarantor_loss_var99', 'leverage_cap_probability',
     'pool_depletion_probability', 'public_cost_pv', 'target_probability']
    """
    per_path = path_outcomes(ds)
    out: dict[str, xr.DataArray] = {}
    methods = {}
    for name, (variable, estimate, _) in _REDUCED.items():
        if variable not in per_path:  # no targets: no target probability
            continue
        out[name] = estimate(per_path[variable])
    if intervals:  # the estimates first, then their intervals
        for name, (variable, _, interval) in _REDUCED.items():
            if variable not in per_path:
                continue
            span = interval(per_path[variable])
            out[f"{name}_low"] = span["low"]
            out[f"{name}_high"] = span["high"]
            methods[f"{name}_method"] = span.attrs["method"]
    result = xr.Dataset({k: v.drop_vars("quantile", errors="ignore") for k, v in out.items()})
    for name, (units, long_name) in OUTCOMES.items():
        for suffix in ("", "_low", "_high"):
            if name + suffix in result:
                result[name + suffix].attrs = {"units": units, "long_name": long_name + suffix}
    result.attrs.update(methods)
    result.attrs["loss_level"] = LOSS_LEVEL
    return result
