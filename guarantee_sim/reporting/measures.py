"""Small pure measures the figures and the brief need beyond ``guarantee_sim.results``.

Each takes a results Dataset (or one of its DataArrays) and returns numbers computed from
it; nothing here is typed in. Intervals and tails (``mean_interval``,
``probability_interval``, ``exceedance_curve``, ``tail_allocation``) are metrics: see
:mod:`guarantee_sim.results.metrics`.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from ..results.metrics import segments_with_tags
from ..results.weights import weighted_mean, weighted_quantile


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


def path_quantiles(values: xr.DataArray, q=(0.05, 0.95), dim: str = "path") -> xr.DataArray:
    """Quantiles across paths: the spread of outcomes from one path to another."""
    return weighted_quantile(values, list(q), dim)  # path weights: importance sampling


def run_loss(ds: xr.Dataset) -> xr.DataArray:
    """Each party's net loss over the whole run, per path (CNY)."""
    return ds["loss"].sum("year")


def capital_holders(ds: xr.Dataset, kinds=("guarantor", "pool")) -> list[str]:
    """Parties of the given kinds, in the Dataset's order."""
    return [
        str(p)
        for p, k in zip(ds.party.values, ds.party_kind.values, strict=True)
        if str(k) in kinds
    ]


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


def over_cap_paths(values: xr.DataArray, cap) -> xr.DataArray | None:
    """Per path: True if ``values`` exceed ``cap`` in some year (None without a cap)."""
    return None if cap is None else (values > float(cap)).any("year")


def over_cap(values: xr.DataArray, cap) -> xr.DataArray:
    """Share of paths on which ``values`` exceed ``cap`` in some year (NaN without a cap)."""
    hits = over_cap_paths(values, cap)
    if hits is None:
        return xr.full_like(values.isel(year=0).mean("path"), np.nan, dtype=float)
    return weighted_mean(hits)


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
            ds.party.values,
            caps("party_leverage_cap"),
            caps("party_compensation_rate_cap"),
            strict=True,
        )
    }


def first_time_segments(ds: xr.Dataset, tags=("first_time",)) -> list[str]:
    """Segments carrying all ``tags`` (the ones additionality and cost per borrower count)."""
    return segments_with_tags(ds, tags)


def effective_sample_size(ds: xr.Dataset) -> list[tuple[str, float, int]]:
    """(design, effective sample size, paths) per design when the run used importance
    sampling: its paths carry likelihood ratios (``path_weight``) that are not all one.
    The effective sample size of weights w is (sum w)^2 / sum w^2 (Kish): the number of
    equally weighted paths that would estimate a mean as precisely. [] for a plain run.

    >>> ds = xr.Dataset({"path_weight": ("path", [0.5, 0.5, 2.0, 1.0])})
    >>> [(name, round(ess, 2), paths) for name, ess, paths in effective_sample_size(ds)]
    [('run', 2.91, 4)]
    """
    if "path_weight" not in ds:
        return []
    out = []
    for name, v in variants(ds):
        w = np.asarray(v["path_weight"].values, dtype=np.float64).ravel()
        out.append((name, float(w.sum() ** 2 / (w**2).sum()), int(w.size)))
    if all(np.allclose(v["path_weight"].values, 1.0) for _, v in variants(ds)):
        return []  # weights of one: plain Monte Carlo
    return out
