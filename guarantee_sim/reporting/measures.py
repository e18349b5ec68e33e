"""Small pure measures the figures and the brief need beyond ``guarantee_sim.results``.

Each takes a results Dataset (or one of its DataArrays) and returns numbers computed from
it; nothing here is typed in. The uncertainty they report is Monte Carlo uncertainty over
paths (credit cycles and defaults), never parameter uncertainty.
"""

from __future__ import annotations

import json
import math

import numpy as np
import xarray as xr

from ..results.io import check_results  # noqa: F401  (re-exported for the reporting API)
from ..results.metrics import segments_with_tags

#: two-sided 95% normal quantile
Z95 = 1.959963984540054


def variants(ds: xr.Dataset) -> list[tuple[str, xr.Dataset]]:
    """(design name, Dataset of that design): each ``scenario`` of a comparison, or the run."""
    if "scenario" in ds.dims:
        return [(str(s), ds.sel(scenario=s)) for s in ds.scenario.values]
    return [(str(ds.attrs.get("scenario", "run")) or "run", ds)]


def scenario_info(ds: xr.Dataset) -> dict:
    """The scenario's name, label, description, sources and origination years (attrs).

    For a comparison these are the designs' common values (an attr the designs disagree
    on is dropped when they are combined).
    """
    sources = ds.attrs.get("sources", "[]")
    return {
        "name": str(ds.attrs.get("scenario", "")),
        "label": str(ds.attrs.get("scenario_label", "")),
        "description": str(ds.attrs.get("scenario_description", "")),
        "sources": [str(s) for s in json.loads(sources)] if sources else [],
        "origination_years": ds.attrs.get("origination_years"),
    }


def mean_interval(values: xr.DataArray, dim: str = "path") -> xr.Dataset:
    """Mean over ``dim`` with its standard error and 95% confidence interval.

    >>> import xarray as xr
    >>> r = mean_interval(xr.DataArray([1.0, 2.0, 3.0, 4.0], dims="path"))
    >>> float(r["mean"]), round(float(r["low"]), 3)
    (2.5, 1.235)
    """
    n = values.sizes[dim]
    mean = values.mean(dim)
    se = values.std(dim, ddof=1) / math.sqrt(n) if n > 1 else xr.zeros_like(mean)
    return xr.Dataset({"mean": mean, "se": se, "low": mean - Z95 * se, "high": mean + Z95 * se})


def path_quantiles(values: xr.DataArray, q=(0.05, 0.95), dim: str = "path") -> xr.DataArray:
    """Quantiles across paths: the spread of outcomes from one path to another."""
    return values.quantile(list(q), dim=dim, method="linear")


def probability_interval(p, n: int) -> tuple:
    """Wilson 95% interval for a share ``p`` of ``n`` paths (works at 0 and 1).

    >>> [round(x, 4) for x in probability_interval(0.0, 100)]
    [0.0, 0.037]
    """
    p = np.asarray(p, dtype=float)
    z2 = Z95**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    low, high = np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


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
    p = (values[..., None] > thresholds).mean(axis=-2)
    other = [d for d in losses.transpose(..., dim).dims if d != dim]
    coords = {c: losses.coords[c] for c in losses.coords if dim not in losses.coords[c].dims}
    coords["threshold"] = thresholds
    return xr.DataArray(
        p,
        dims=other + ["threshold"],
        coords=coords,
        attrs={"units": "1", "long_name": "P(loss over the run > threshold)"},
    )


def run_loss(ds: xr.Dataset) -> xr.DataArray:
    """Each party's net loss over the whole run, per path (CNY)."""
    return ds["loss"].sum("year")


def tail_allocation(ds: xr.Dataset, level: float = 0.99) -> xr.DataArray:
    """Mean loss by party on the worst ``1 - level`` of paths by total loss over the run.

    The paths are the ``ceil((1 - level) n)`` with the largest total (all parties and
    ``unabsorbed``), as in :func:`guarantee_sim.results.expected_shortfall`, so the parties'
    values add up to the expected shortfall of the total loss.
    """
    loss = run_loss(ds)
    total = loss.sum("party")
    n = total.sizes["path"]
    k = max(1, int(np.ceil((1.0 - level) * n - 1e-9)))
    worst = np.argsort(total.values, kind="stable")[n - k :]
    return loss.isel(path=worst).mean("path")


def first_year(mask: xr.DataArray) -> xr.DataArray:
    """Per path, the first year where ``mask`` holds (NaN where it never does)."""
    years = mask.year.astype(float)
    return years.where(mask).min("year")


def capital_holders(ds: xr.Dataset, kinds=("guarantor", "pool")) -> list[str]:
    """Parties of the given kinds, in the Dataset's order."""
    return [str(p) for p, k in zip(ds.party.values, ds.party_kind.values) if str(k) in kinds]


def peak(values: xr.DataArray) -> xr.DataArray:
    """Per path, the highest value over the years (NaN years ignored, all-NaN gives NaN)."""
    return values.max("year", skipna=True)


def leverage_peak(ds: xr.Dataset, party: str) -> xr.DataArray:
    """Per path, a guarantor's highest year-end leverage over the years with net assets > 0.

    Years with net assets at or below zero (leverage infinite) are left out here; they
    count in :func:`insolvency_probability <guarantee_sim.results.insolvency_probability>`
    and in :func:`over_cap`.
    """
    g = ds.sel(party=party)
    return peak(g["leverage"].where(g["capital"] > 0))


def over_cap(values: xr.DataArray, cap) -> xr.DataArray:
    """Share of paths on which ``values`` exceed ``cap`` in some year (NaN without a cap)."""
    if cap is None:
        return xr.full_like(values.isel(year=0).mean("path"), np.nan, dtype=float)
    return (values > float(cap)).any("year").mean("path")


def party_caps(ds: xr.Dataset) -> dict[str, dict[str, float | None]]:
    """Per party: its ``leverage_cap`` and ``compensation_rate_cap`` (None where none)."""

    def caps(coord: str) -> list:
        if coord not in ds.coords:
            return [None] * ds.sizes["party"]
        values = ds[coord].transpose("party", ...).values.reshape(ds.sizes["party"], -1)[:, 0]
        return [None if np.isnan(v) else float(v) for v in values]

    return {
        str(name): {"leverage_cap": lev, "compensation_rate_cap": comp}
        for name, lev, comp in zip(
            ds.party.values, caps("party_leverage_cap"), caps("party_compensation_rate_cap")
        )
    }


def first_time_segments(ds: xr.Dataset, tags=("first_time",)) -> list[str]:
    """Segments carrying all ``tags`` (the ones additionality and cost per borrower count)."""
    return segments_with_tags(ds, tags)
