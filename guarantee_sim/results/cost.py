"""What the guarantee system costs the public, and what fee would pay for it.

Pure functions of a results Dataset (DESIGN §5), like :mod:`guarantee_sim.results.metrics`:

* :func:`present_value` discounts yearly flows to the start of the first simulated year at
  the scenario's ``policy.discount_rate`` (the ``discount_rate`` attr), **mid-year
  convention**: the flow of year index ``t`` (0 for the first year) is multiplied by
  ``(1 + r) ** -(t + 0.5)``, as if it all moved in the middle of its year.
* :func:`public_cost_pv`: present values of ``public_cost`` (the consolidated public
  sector's net cash flow to private parties), ``fiscal_cost`` (budget outlays) and
  ``public_operating_cost`` per path, and the **subsidy rate**: PV of public cost per
  100 CNY of PV of guaranteed lending, as the US Federal Credit Reform Act defines the
  subsidy cost of a loan guarantee (PV of net cash flows over the amount disbursed).
* :func:`break_even_fee`: per guarantor, the flat fee rate that would have paid for its
  simulated book; :func:`zero_subsidy_fee`: the flat fee of all public guarantors at which
  the expected public cost is zero. Both hold the book, approvals, demand and subsidies as
  simulated (no demand response to the fee).
* :func:`years_to_exhaustion`: per guarantor, the first year its net assets reach zero
  (or its leverage cap rations new guarantees), as shares of paths and quantiles.

Results written before these variables existed lack them: every function raises
:class:`MissingResults` (a ValueError) naming what is missing, which the reports print.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from .intervals import mean_interval
from .weights import path_weights, weighted_mean, weighted_quantile

__all__ = [
    "MissingResults",
    "break_even_fee",
    "discount_factors",
    "discount_rate",
    "first_year",
    "present_value",
    "public_cost_pv",
    "ratio_of_means",
    "years_to_exhaustion",
    "zero_subsidy_fee",
]

#: quantiles of the per-path break-even fee and of the first year of exhaustion
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


class MissingResults(ValueError):
    """The results lack variables (or attrs) a metric needs; ``missing`` names them."""

    def __init__(self, what: str, missing: list[str]) -> None:
        self.missing = list(missing)
        super().__init__(
            f"{what} needs {', '.join(self.missing)}, which these results do not have "
            "(written by an older guarantee_sim?); run the scenario again"
        )


def _require(ds: xr.Dataset, names, what: str) -> None:
    missing = [n for n in names if n not in ds.variables]
    if missing:
        raise MissingResults(what, missing)


# --------------------------------------------------------------------------- discounting


def discount_rate(ds: xr.Dataset) -> float:
    """The scenario's ``policy.discount_rate``: a ``discount_rate`` coord (a comparison whose
    designs differ in it, one design selected) or the ``discount_rate`` attr."""
    if "discount_rate" in ds.coords and ds["discount_rate"].ndim == 0:
        return float(ds["discount_rate"])
    if "discount_rate" in ds.attrs:
        return float(ds.attrs["discount_rate"])
    raise MissingResults("a present value", ["the discount_rate attr"])


def discount_factors(years, rate: float, start_year: int | None = None) -> xr.DataArray:
    """``(1 + rate) ** -(t + 0.5)`` for each year, ``t`` = year - ``start_year`` (mid-year).

    >>> discount_factors([2021, 2022], 0.05).round(6).values.tolist()
    [0.9759, 0.929429]
    """
    years = np.asarray(years, dtype=int)
    start = int(years[0]) if start_year is None else int(start_year)
    t = years - start
    return xr.DataArray(
        (1.0 + float(rate)) ** -(t + 0.5), dims=["year"], coords={"year": years}, name="discount"
    )


def present_value(
    values: xr.DataArray, rate: float, start_year: int | None = None, dim: str = "year"
) -> xr.DataArray:
    """Yearly flows discounted to the start of ``start_year`` (default: the first year of
    ``values``), mid-year convention, summed over ``dim``.

    The flow of year index ``t`` counts ``(1 + rate) ** -(t + 0.5)``. NaN flows (a party
    without the variable) count as 0 unless every year is NaN, which gives NaN.

    >>> import xarray as xr
    >>> flows = xr.DataArray([100.0, 100.0], dims="year", coords={"year": [2021, 2022]})
    >>> round(float(present_value(flows, 0.05)), 4)  # 100/1.05**0.5 + 100/1.05**1.5
    190.5329
    """
    factors = discount_factors(values[dim].values, rate, start_year).values
    # NumPy does what xarray's product and sum(min_count=1) do, on the same arrays (so
    # every bit is the same): xarray's alignment cost a summary more than the sums
    axis = values.get_axis_num(dim)
    flows = values.values * factors.reshape([-1] + [1] * (values.ndim - axis - 1))
    missing = np.isnan(flows)
    total = np.where(missing, 0.0, flows).sum(axis=axis)
    total = np.where((~missing).sum(axis=axis) < 1, np.nan, total)
    return xr.DataArray(
        total,
        dims=[d for d in values.dims if d != dim],
        coords={c: values.coords[c] for c in values.coords if dim not in values.coords[c].dims},
        attrs=dict(values.attrs),  # as xarray's product and sum keep them
    )


def ratio_of_means(numerator: xr.DataArray, denominator: xr.DataArray, dim: str = "path"):
    """E[numerator] / E[denominator] across ``dim`` with a delta-method 95% interval.

    The ratio R's standard error is that of the mean of the linearised values
    ``(numerator - R * denominator) / E[denominator]``, taken with
    :func:`~guarantee_sim.results.mean_interval` (so the ratio's interval is computed as
    the mean's is); ``low`` and ``high`` are R plus that mean's interval (whose centre is 0).

    >>> import xarray as xr
    >>> r = ratio_of_means(xr.DataArray([1.0, 3.0], dims="path"),
    ...                    xr.DataArray([2.0, 2.0], dims="path"))
    >>> float(r["mean"]), float(r["se"])
    (1.0, 0.5)
    """
    mean_den = weighted_mean(denominator, dim)  # path weights: importance sampling
    mean_den = mean_den.where(mean_den != 0)  # no denominator: NaN, not inf
    ratio = weighted_mean(numerator, dim) / mean_den
    if _same_labels(numerator, denominator) and ratio.dims == mean_den.dims:
        # the same arithmetic on the arrays, every bit as xarray's (elementwise), without
        # its alignment of (path, ...) arrays, which cost most of this function
        axis = numerator.get_axis_num(dim)
        r, m = np.expand_dims(ratio.values, axis), np.expand_dims(mean_den.values, axis)
        linear = numerator.copy(deep=False, data=(numerator.values - r * denominator.values) / m)
    else:
        linear = (numerator - ratio * denominator) / mean_den
    interval = mean_interval(linear, dim=dim)
    low, centre, high = (interval[k].transpose(*ratio.dims).values for k in ("low", "mean", "high"))
    return xr.Dataset(
        {
            "mean": ratio,
            "se": interval["se"],
            "low": ratio.copy(deep=False, data=ratio.values + low - centre),
            "high": ratio.copy(deep=False, data=ratio.values + high - centre),
        },
        attrs=interval.attrs,  # the method, clusters and whether it is approximate
    )


def _same_labels(a: xr.DataArray, b: xr.DataArray) -> bool:
    """Whether ``a`` and ``b`` have the same dims in the same order and the same indexes
    (so that xarray would neither align nor transpose them)."""
    return (
        a.dims == b.dims
        and a.shape == b.shape
        and a.xindexes.keys() == b.xindexes.keys()
        and all(a.indexes[k].equals(b.indexes[k]) for k in a.indexes)
    )


# --------------------------------------------------------------------------- public cost


def guaranteed_segments(ds: xr.Dataset) -> list[str]:
    """Segments whose loss-sharing scheme has coverage > 0 (in some year, if it varies): the
    bank passes part of the loss on to a guarantor, re-guarantor or pool, so credit loans
    covered by a risk-compensation pool count as guaranteed."""
    coverage = ds["scheme_coverage"]
    other = [d for d in coverage.dims if d != "scheme"]
    covered = (coverage.max(other) if other else coverage) > 0
    schemes = {str(s) for s, c in zip(coverage.scheme.values, covered.values, strict=True) if c}
    return [
        str(seg)
        for seg, scheme in zip(ds.segment.values, ds["segment_scheme"].values, strict=True)
        if str(scheme) in schemes
    ]


def guaranteed_mask(ds: xr.Dataset) -> xr.DataArray:
    """Per design (a comparison's ``scenario``, a sweep's levers) and segment, whether the
    segment's scheme has coverage > 0 in some year: :func:`guaranteed_segments` design by
    design, so a variant that turns a scheme off guarantees nothing there."""
    coverage = ds["scheme_coverage"]
    covered = (coverage.max("year") if "year" in coverage.dims else coverage) > 0
    schemes = ds["segment_scheme"]
    mask = xr.zeros_like(schemes, dtype=bool)
    for scheme in coverage.scheme.values:
        mask = mask | ((schemes == scheme) & covered.sel(scheme=scheme, drop=True))
    return mask


def public_cost_pv(ds: xr.Dataset, rate: float | None = None) -> xr.Dataset:
    """Present values per path and the subsidy rate per 100 CNY guaranteed.

    Returns a Dataset with, per path (CNY): ``public_cost`` (PV of ``public_cost``),
    ``fiscal_cost`` (PV of ``fiscal_cost``), ``public_operating_cost`` (PV of it, NaN when
    the results lack it; never in the subsidy rate, as FCRA leaves administrative costs out)
    and ``guaranteed_lending`` (PV of ``loans_amount`` in the segments whose scheme has
    coverage > 0, renewals included: the amount guaranteed, discounted like the flows);
    and ``subsidy_rate``: 100 x E[PV public cost] / E[PV guaranteed lending] (CNY per 100
    CNY guaranteed), with ``subsidy_rate_low`` / ``_high`` (delta method,
    :func:`ratio_of_means`). ``rate`` defaults to the results' ``policy.discount_rate``.
    """
    _require(ds, ["public_cost", "fiscal_cost", "loans_amount"], "the public cost")
    rate = discount_rate(ds) if rate is None else float(rate)
    lending = (ds["loans_amount"] * guaranteed_mask(ds)).sum("segment")
    out = xr.Dataset(
        {
            "public_cost": present_value(ds["public_cost"], rate),
            "fiscal_cost": present_value(ds["fiscal_cost"], rate),
            "guaranteed_lending": present_value(lending, rate),
        }
    )
    if "public_operating_cost" in ds:
        out["public_operating_cost"] = present_value(ds["public_operating_cost"], rate)
    else:
        out["public_operating_cost"] = xr.full_like(out["public_cost"], np.nan)
    # per design over a sweep's levers: NaN where a design guarantees nothing
    guaranteed = weighted_mean(out["guaranteed_lending"]) > 0
    if bool(guaranteed.any()):
        subsidy = ratio_of_means(100.0 * out["public_cost"], out["guaranteed_lending"])
        subsidy = subsidy.where(guaranteed)
    else:  # no guaranteed lending: no rate per 100 CNY guaranteed
        subsidy = xr.Dataset(dict.fromkeys(("mean", "low", "high"), xr.DataArray(np.nan)))
    out["subsidy_rate"] = subsidy["mean"]
    out["subsidy_rate_low"] = subsidy["low"]
    out["subsidy_rate_high"] = subsidy["high"]
    for name in ("public_cost", "fiscal_cost", "guaranteed_lending", "public_operating_cost"):
        out[name].attrs.update(units="CNY", long_name=f"present value of {name}")
    out["subsidy_rate"].attrs.update(units="CNY per 100 CNY", long_name="subsidy rate")
    out.attrs["discount_rate"] = rate
    return out


# --------------------------------------------------------------------------- fees

#: what a guarantor's fee and subsidies must pay for (its break-even)
BREAK_EVEN_VARIABLES = (
    "payout",
    "recovery",
    "operating_cost",
    "reguarantee_fees",
    "fee_subsidy",
    "fee_base",
    "fee_income",
)


def _guarantors(ds: xr.Dataset, public_only: bool = False) -> list[str]:
    kinds = ds["party_kind"].values
    public = ds["party_public"].values if "party_public" in ds.coords else np.zeros(len(kinds))
    return [
        str(p)
        for p, k, pub in zip(ds.party.values, kinds, public, strict=True)
        if str(k) == "guarantor" and (bool(pub) or not public_only)
    ]


def _quantiles(values: xr.DataArray) -> xr.DataArray:
    """Quantiles across paths of the defined values (NaN for a party with none, silently)."""
    if values.size == 0:  # no guarantor: an empty table, not an error
        other = [d for d in values.dims if d != "path"]
        return xr.DataArray(
            np.empty([values.sizes[d] for d in other] + [len(QUANTILES)]),
            dims=[*other, "quantile"],
            coords={**{d: values[d] for d in other}, "quantile": list(QUANTILES)},
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: a guarantor without a book
        return weighted_quantile(values, list(QUANTILES))


def break_even_fee(ds: xr.Dataset, rate: float | None = None) -> xr.Dataset:
    """Per guarantor, the flat fee rate that pays for its simulated book.

    On each path the break-even fee ``f`` solves
    ``PV(f * fee_base + fee_subsidy) = PV(payout - recovery + operating_cost +
    reguarantee_fees)``, so ``f = PV(costs - fee_subsidy) / PV(fee_base)`` (``fee_base``
    in CNY-years: the balance the fee is charged on, summed over months / 12). Returns per
    guarantor: ``per_path`` (path, party; NaN where the fee base is 0), its quantiles
    ``per_path_quantile`` (0.05 ... 0.95 over the paths with a fee base), ``expected`` =
    E[PV(costs - subsidy)] / E[PV(fee_base)] (the fee at which the expected PV breaks even) with
    ``expected_low`` / ``_high`` (delta method on the ratio, :func:`ratio_of_means`), and
    ``actual`` = E[PV fee_income] / E[PV fee_base] (the fee it charged; its flat rate).
    The book, approvals and subsidies are held as simulated.
    """
    _require(ds, BREAK_EVEN_VARIABLES, "the break-even fee")
    rate = discount_rate(ds) if rate is None else float(rate)
    g = ds[list(BREAK_EVEN_VARIABLES)].sel(party=_guarantors(ds))

    def pv(values):
        return present_value(values.fillna(0.0), rate)

    costs = pv(g["payout"] - g["recovery"] + g["operating_cost"] + g["reguarantee_fees"])
    need = costs - pv(g["fee_subsidy"])
    base = pv(g["fee_base"])
    per_path = (need / base).where(base > 0)
    expected = ratio_of_means(need, base)
    out = xr.Dataset(
        {
            "per_path": per_path,
            "per_path_quantile": _quantiles(per_path),
            "expected": expected["mean"],
            "expected_low": expected["low"],
            "expected_high": expected["high"],
            "actual": weighted_mean(pv(g["fee_income"])) / weighted_mean(base),
            "paths_with_fee_base": (base > 0).sum("path"),
        }
    )
    for name in ("per_path", "per_path_quantile", "expected", "actual"):
        out[name].attrs["units"] = "1/year"
    out.attrs["discount_rate"] = rate
    return out


def zero_subsidy_fee(ds: xr.Dataset, rate: float | None = None) -> xr.Dataset:
    """The flat fee of every public guarantor at which the expected PV of public cost is 0.

    Fees a public guarantor earns lower public cost, so with the fee set to ``f`` everywhere,
    ``PV public_cost(f) = PV public_cost + PV fee_income_pub - f PV fee_base_pub`` and
    ``f0 = (E[PV public_cost] + E[PV fee_income_pub]) / E[PV fee_base_pub]`` (sums over
    the public guarantors), with a delta-method interval (:func:`ratio_of_means`).
    Approvals, demand and subsidies are held as simulated (a fee that changes demand is
    another question). Returns ``fee``, ``fee_low``, ``fee_high`` (per year) and the
    public guarantors' current fee ``actual``; NaN with the reason in ``attrs["note"]`` (and
    a code in ``attrs["reason"]``: ``no_public``, ``no_fee_base``) when there is no public
    guarantor or they guarantee nothing.
    """
    _require(ds, ["public_cost", "fee_income", "fee_base"], "the zero-subsidy fee")
    rate = discount_rate(ds) if rate is None else float(rate)
    public = _guarantors(ds, public_only=True)
    nan = xr.DataArray(np.nan)
    out = xr.Dataset({"fee": nan, "fee_low": nan, "fee_high": nan, "actual": nan})
    out.attrs.update(discount_rate=rate, public_guarantors=",".join(public), note="", reason="")
    if not public:
        out.attrs.update(note="no public guarantor: no public fee to set", reason="no_public")
        return out
    g = ds[["fee_income", "fee_base"]].sel(party=public).fillna(0.0).sum("party")
    income, base = present_value(g["fee_income"], rate), present_value(g["fee_base"], rate)
    has_base = weighted_mean(base) > 0  # per design over a sweep's levers
    if not bool(has_base.any()):
        out.attrs.update(
            note="the public guarantors guarantee nothing: no fee base", reason="no_fee_base"
        )
        return out
    fee = ratio_of_means(present_value(ds["public_cost"], rate) + income, base).where(has_base)
    out["fee"], out["fee_low"], out["fee_high"] = fee["mean"], fee["low"], fee["high"]
    out["actual"] = (weighted_mean(income) / weighted_mean(base)).where(has_base)
    for name in out.data_vars:
        out[name].attrs["units"] = "1/year"
    return out


# --------------------------------------------------------------------------- exhaustion


def first_year(mask: xr.DataArray) -> xr.DataArray:
    """Per path, the first year where ``mask`` holds (NaN where it never does)."""
    years = mask.year.astype(float)
    return years.where(mask).min("year")


def years_to_exhaustion(ds: xr.Dataset, variable: str = "capital_exhausted") -> xr.Dataset:
    """Per guarantor, when ``variable`` (``capital_exhausted`` or ``leverage_cap_binding``)
    is first 1: the share of paths by first year, the share on which it ``never`` is, and
    quantiles of the first year (``inf`` where a quantile falls among the "never" paths;
    empirical quantiles, so every value is a simulated year).

    The shares by year and ``never`` add up to 1 for each guarantor. Variables: ``share``
    (party, year), ``never`` (party), ``first_year_quantile`` (party, quantile).
    """
    _require(ds, [variable], "years to capital exhaustion")
    flag = ds[variable].sel(party=_guarantors(ds)) > 0.5
    first = first_year(flag)
    if path_weights(first) is None:  # shares of 0/1 counts: exact in any order, so at once
        by_year = (first == ds.year).mean("path").transpose(..., "party", "year")
    else:
        by_year = xr.concat(
            [weighted_mean(first == y) for y in ds.year.values], dim=ds.year
        ).transpose(..., "party", "year")
    values = first.fillna(np.inf).transpose(..., "party", "path")
    other = list(values.dims[:-1])  # a sweep's levers, if any, then party
    if values.size == 0:  # no guarantor (or no path): an empty table
        q = np.empty([values.sizes[d] for d in other] + [len(QUANTILES)])
    elif path_weights(values) is None:
        q = np.moveaxis(
            np.quantile(values.values, QUANTILES, axis=-1, method="inverted_cdf"), 0, -1
        )
    else:  # the weighted distribution's inverse: every value is still a simulated year
        q = weighted_quantile(values, list(QUANTILES)).transpose(*other, "quantile").values
    out = xr.Dataset(
        {
            "share": by_year,
            "never": weighted_mean(first.isnull()),
            "first_year_quantile": xr.DataArray(
                q,
                dims=[*other, "quantile"],
                coords={**{d: values[d] for d in other}, "quantile": list(QUANTILES)},
            ),
        }
    )
    out.attrs["variable"] = variable
    return out
