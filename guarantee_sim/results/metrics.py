"""Risk and policy metrics as pure functions of a results Dataset.

Losses are CNY over the whole run unless a function says per year. Quantiles are taken
across paths (the Monte Carlo dimension). Every reduction over paths weighs the paths by
their ``path_weight`` (importance sampling, :mod:`.weights`); a plain run's weights are 1
and its numbers are the unweighted ones.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .weights import WEIGHT, path_weights, weighted_mean, weighted_tail_over


def _named(values: xr.DataArray, name: str, units: str, long_name: str) -> xr.DataArray:
    """``values`` named for what it is, with its units and description (a derived metric
    must not keep the name and units of the variable it came from)."""
    return values.rename(name).assign_attrs(units=units, long_name=long_name)


def _described(values: xr.DataArray) -> str:
    return str(values.attrs.get("long_name") or values.name or "values")


def value_at_risk(values: xr.DataArray, level: float, dim: str = "path") -> xr.DataArray:
    """Loss quantile at ``level`` across ``dim`` (higher is worse), in the units of
    ``values``: linear interpolation between paths, or with path weights the weighted
    quantile (:mod:`.weights`)."""
    weights = path_weights(values, dim)
    if weights is None:
        out = values.quantile(level, dim=dim, method="linear").drop_vars("quantile")
    else:
        out = _reduced(values, dim, weighted_tail_over(values, weights, level, "var", dim))
    return _named(
        out,
        f"var_{level * 100:g}".replace(".", "_"),
        str(values.attrs.get("units", "")),
        f"value at risk {level:.1%} across {dim}s of {_described(values)}",
    )


def expected_shortfall(values: xr.DataArray, level: float, dim: str = "path") -> xr.DataArray:
    """Mean of the worst ``1 - level`` share of outcomes across ``dim``.

    Computed on sorted values, averaging the top ``ceil((1 - level) * n)`` paths; with
    path weights, the weighted mass beyond ``level`` (:mod:`.weights`).
    """
    weights = path_weights(values, dim)
    if weights is None:
        n = values.sizes[dim]
        k = max(1, int(np.ceil((1.0 - level) * n - 1e-9)))
        ordered = np.sort(values.transpose(..., dim).values, axis=-1)
        worst = ordered[..., n - k :].mean(axis=-1)
    else:
        worst = weighted_tail_over(values, weights, level, "es", dim)
    return _named(
        _reduced(values, dim, worst),
        f"es_{level * 100:g}".replace(".", "_"),
        str(values.attrs.get("units", "")),
        f"expected shortfall {level:.1%} across {dim}s of {_described(values)}",
    )


def _reduced(values: xr.DataArray, dim: str, array: np.ndarray) -> xr.DataArray:
    """``array`` (``values`` reduced over ``dim``) labelled with the other dims and coords."""
    return xr.DataArray(
        array,
        dims=[d for d in values.transpose(..., dim).dims if d != dim],
        coords={c: values.coords[c] for c in values.coords if dim not in values.coords[c].dims},
    )


def loss_summary(ds: xr.Dataset, per_year: bool = False) -> xr.Dataset:
    """Per party: mean loss, VaR 99% and 99.9%, expected shortfall 99% (CNY).

    Over the whole run, or per year with ``per_year=True``.
    """
    loss = ds["loss"] if per_year else ds["loss"].sum("year")
    out = xr.Dataset(
        {
            "mean": weighted_mean(loss),
            "var_99": value_at_risk(loss, 0.99),
            "var_99_9": value_at_risk(loss, 0.999),
            "es_99": expected_shortfall(loss, 0.99),
        }
    )
    for name in out.data_vars:
        out[name].attrs["units"] = "CNY"
    out["mean"].attrs["long_name"] = "mean loss over the paths"
    return out


def yearly_summary(ds: xr.Dataset, guarantor: str | None = None) -> xr.Dataset:
    """Mean over paths, per year: lending, defaults, guarantor state, pools, unmet demand.

    ``guarantor`` names the party whose capital, leverage and compensation rate are shown
    (default: the first party of kind ``guarantor``, whatever it is called; none if the
    scenario has none). ``pool_balance`` adds up every pool's balance.
    """
    parties = list(ds.party.values)
    if guarantor is None:
        kinds = ds.party_kind.values
        guarantor = next(
            (str(p) for p, k in zip(parties, kinds, strict=True) if k == "guarantor"), ""
        )
    out = {
        "loans_count": weighted_mean(ds["loans_count"].sum("segment")),
        "loans_amount": weighted_mean(ds["loans_amount"].sum("segment")),
        "defaults_count": weighted_mean(ds["defaults_count"].sum("segment")),
        "credit_loss": weighted_mean(ds["credit_loss"].sum("segment")),
        "unmet_demand_amount": weighted_mean(ds["unmet_demand_amount"].sum("segment")),
        "fiscal_cost": weighted_mean(ds["fiscal_cost"]),
    }
    if guarantor in parties:
        g = ds.sel(party=guarantor).reset_coords(drop=True)
        if WEIGHT in ds.coords:
            g = g.assign_coords({WEIGHT: ds[WEIGHT]})
        out["guarantor_capital"] = weighted_mean(g["capital"])
        out["guarantor_leverage"] = weighted_mean(g["leverage"].where(np.isfinite(g["leverage"])))
        out["guarantor_compensation_rate"] = weighted_mean(g["compensation_rate"])
    pools = [p for p, k in zip(parties, ds.party_kind.values, strict=True) if k == "pool"]
    if pools:
        out["pool_balance"] = weighted_mean(ds["capital"].sel(party=pools).sum("party"))
    for name, values in out.items():  # keep the units and say what each is
        source = name.removeprefix("guarantor_") if name.startswith("guarantor_") else name
        source = "capital" if name == "pool_balance" else source
        if source in ds:
            values.attrs = {
                "units": ds[source].attrs.get("units", ""),
                "long_name": "mean over paths: " + str(ds[source].attrs.get("long_name", name)),
            }
    return xr.Dataset(out, attrs={"guarantor": guarantor})


def segments_with_tags(ds: xr.Dataset, tags) -> list[str]:
    """Segments carrying all of ``tags`` (from the ``segment_tags`` coordinate)."""
    tags = set(tags)
    labels = ds.segment_tags
    if "scenario" in labels.dims:  # a comparison: every design has the same segments
        labels = labels.isel(scenario=0)
    return [
        str(s)
        for s, st in zip(ds.segment.values, labels.values, strict=True)
        if tags <= set(filter(None, str(st).split(",")))
    ]


def target_attainment(ds: xr.Dataset) -> xr.DataArray:
    """Achieved / target per path and target, from the targets described in the coords.

    A target counts the segments carrying all its tags; a flow sums the metric over the
    period's years, a stock takes the year-end value of its last year.
    """
    values = []
    for t in ds.target.values:

        def spec(name: str, t=t) -> xr.DataArray:  # one coordinate, not all of ds, at t
            return ds[name].sel(target=t)

        segments = segments_with_tags(ds, filter(None, str(spec("target_tags").values).split(",")))
        metric = str(spec("target_metric").values)
        start, end = int(spec("target_from_year")), int(spec("target_to_year"))
        series = ds[metric].sel(segment=segments).sum("segment")
        if str(spec("target_kind").values) == "flow":
            achieved = series.sel(year=slice(start, end)).sum("year")
        else:
            achieved = series.sel(year=end, drop=True)
        values.append(achieved / float(spec("target_value")))
    # over a grid the lever dims (and scenario) come after: a run keeps (path, target)
    return xr.concat(values, dim=ds.target).transpose("path", "target", ...)


def depleted_paths(ds: xr.Dataset) -> xr.DataArray:
    """Per pool and path: True if in some year its balance could not pay a share it was
    asked for while its breaker was not tripped (``pool_depleted``)."""
    return _named(
        _pool_event(ds, "pool_depleted"),
        "depleted",
        "1",
        "1 if the pool's balance could not pay a share in any year (breaker off)",
    )


def depletion_probability(ds: xr.Dataset) -> xr.DataArray:
    """Per pool: share of paths on which its balance could not pay a share it was asked
    for while its circuit breaker was not tripped (``pool_depleted`` in any year).

    A tripped breaker is a different event: :func:`breaker_probability`.
    """
    return _named(
        weighted_mean(depleted_paths(ds)),
        "depletion_probability",
        "1",
        "share of paths on which the pool's balance could not pay a share (breaker off)",
    )


def breaker_paths(ds: xr.Dataset) -> xr.DataArray:
    """Per pool and path: True if its NPL circuit breaker tripped in any year."""
    return _named(
        _pool_event(ds, "pool_breaker_tripped"),
        "breaker_tripped",
        "1",
        "1 if the pool's NPL circuit breaker tripped in any year",
    )


def breaker_probability(ds: xr.Dataset) -> xr.DataArray:
    """Per pool: share of paths on which its NPL circuit breaker tripped in any year
    (``pool_breaker_tripped``); 0 for a pool without a breaker."""
    return _named(
        weighted_mean(breaker_paths(ds)),
        "breaker_probability",
        "1",
        "share of paths on which the pool's NPL circuit breaker tripped",
    )


def _pool_event(ds: xr.Dataset, flag: str) -> xr.DataArray:
    pools = ds.party.values[ds.party_kind.values == "pool"]
    return (ds[flag].sel(party=pools) > 0).any("year")


def insolvent_paths(ds: xr.Dataset) -> xr.DataArray:
    """Per guarantor and path: True if its year-end net assets fell to zero or below."""
    guarantors = ds.party.values[ds.party_kind.values == "guarantor"]
    return _named(
        (ds["capital"].sel(party=guarantors) <= 0).any("year"),
        "insolvent",
        "1",
        "1 if the guarantor's year-end net assets fell to zero or below in any year",
    )


def insolvency_probability(ds: xr.Dataset) -> xr.DataArray:
    """Per guarantor: share of paths on which its year-end net assets fell to zero or below."""
    return _named(
        weighted_mean(insolvent_paths(ds)),
        "insolvency_probability",
        "1",
        "share of paths on which the guarantor's year-end net assets fell to zero or below",
    )


def fiscal_cost_per_borrower(ds: xr.Dataset, tags=("first_time",)) -> xr.DataArray:
    """Mean fiscal cost over the run per new borrower in segments with ``tags`` (CNY)."""
    segments = segments_with_tags(ds, tags)
    borrowers = ds["borrowers"].sel(segment=segments).sum(["segment", "year"])
    return _named(
        weighted_mean(ds["fiscal_cost"].sum("year")) / weighted_mean(borrowers),
        "fiscal_cost_per_borrower",
        "CNY",
        f"mean fiscal cost over the run per new borrower in segments tagged {', '.join(tags)}",
    )


def fiscal_cost_per_lending(ds: xr.Dataset, per: float = 1e8) -> xr.DataArray:
    """Mean fiscal cost over the run per ``per`` CNY (default 100 m) of new lending."""
    lending = weighted_mean(ds["loans_amount"].sum(["segment", "year"]))
    return _named(
        weighted_mean(ds["fiscal_cost"].sum("year")) / lending * per,
        "fiscal_cost_per_lending",
        "CNY",
        f"mean fiscal cost over the run per {per:g} CNY of new lending",
    )


# Monte Carlo tails. Intervals are in .intervals (clustered by book replica).


def exceedance_curve(losses: xr.DataArray, thresholds=None, dim: str = "path") -> xr.DataArray:
    """P(loss > x) across paths for each threshold x (default: every distinct loss).

    >>> import xarray as xr
    >>> exceedance_curve(xr.DataArray([0.0, 1.0, 1.0, 3.0], dims="path")).values.tolist()
    [0.75, 0.25, 0.0]
    """
    values = np.asarray(losses.transpose(..., dim).values, dtype=float)
    if thresholds is None:
        thresholds = np.unique(values[np.isfinite(values)])
    thresholds = np.asarray(thresholds, dtype=float)
    weights = path_weights(losses, dim)
    if weights is None:
        p = (values[..., None] > thresholds).mean(axis=-2)
    else:  # the weighted mass beyond each threshold over the paths (weights.py)
        w = np.broadcast_to(
            weights.broadcast_like(losses).transpose(*losses.transpose(..., dim).dims).values,
            values.shape,
        )
        p = ((values[..., None] > thresholds) * w[..., None]).sum(axis=-2) / values.shape[-1]
    other = [d for d in losses.transpose(..., dim).dims if d != dim]
    coords = {c: losses.coords[c] for c in losses.coords if dim not in losses.coords[c].dims}
    coords["threshold"] = thresholds
    return xr.DataArray(
        p,
        dims=[*other, "threshold"],
        coords=coords,
        attrs={"units": "1", "long_name": "P(loss over the run > threshold)"},
    )


def tail_allocation(ds: xr.Dataset, level: float = 0.99) -> xr.DataArray:
    """Mean loss by party on the worst ``1 - level`` of paths by total loss over the run.

    The paths are the ``ceil((1 - level) n)`` with the largest total (all parties and
    ``unabsorbed``), as in :func:`guarantee_sim.results.expected_shortfall`, so the parties'
    values add up to the expected shortfall of the total loss.
    """
    loss = ds["loss"].sum("year")
    total = loss.sum("party")
    weights = path_weights(total)
    if weights is None:
        n = total.sizes["path"]
        k = max(1, int(np.ceil((1.0 - level) * n - 1e-9)))
        worst = np.argsort(total.values, kind="stable")[n - k :]
        allocated = loss.isel(path=worst).mean("path")
    else:  # each path's weighted mass beyond the level, as the weighted ES takes it
        order = np.argsort(total.values, kind="stable")
        mass = _mass_beyond(weights.values[order], level, total.sizes["path"])
        allocated = (
            loss.isel(path=order)
            .reset_coords(WEIGHT, drop=True)
            .dot(xr.DataArray(mass / mass.sum(), dims="path"))
        )
    return _named(
        allocated,
        "tail_allocation",
        "CNY",
        f"mean loss over the run by party on the worst {1 - level:.1%} of paths by total loss",
    )


def _mass_beyond(weights: np.ndarray, level: float, n: int) -> np.ndarray:
    """Each (sorted) path's mass beyond ``level``, the weight above it counted over the
    ``n`` paths as :func:`.weights.weighted_tail` counts it for the ES."""
    share = 1.0 - (np.cumsum(weights[::-1])[::-1] - weights) / n
    return np.clip(share - np.maximum(share - weights / n, level), 0.0, None)
