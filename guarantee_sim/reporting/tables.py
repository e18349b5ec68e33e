"""The brief's tables as pandas DataFrames of raw numbers (CNY, shares, counts).

Each row is one design (``design``: the scenario of a run, or a variant of a comparison)
and, where it applies, one party or target. The numbers come from the metric functions in
:mod:`guarantee_sim.results.metrics` and the measures in
:mod:`guarantee_sim.reporting.measures`; the brief's sentences are written from these
tables, and the tables are written as CSV beside it.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr

from ..results.cost import (
    MissingResults,
    break_even_fee,
    discount_rate,
    first_year,
    public_cost_pv,
    years_to_exhaustion,
    zero_subsidy_fee,
)
from ..results.decomposition import SOURCES as VARIANCE_SOURCES
from ..results.intervals import (
    difference_interval,
    mean_interval,
    probability_interval,
    tail_interval,
)
from ..results.metrics import (
    breaker_paths,
    depleted_paths,
    fiscal_cost_per_borrower,
    fiscal_cost_per_lending,
    insolvent_paths,
    loss_summary,
    tail_allocation,
    yearly_summary,
)
from ..results.weights import path_weights, weighted_mean, weighted_quantile
from .measures import (
    capital_holders,
    first_time_segments,
    leverage_peak,
    over_cap_paths,
    party_caps,
    path_quantiles,
    peak,
    run_loss,
    variants,
)
from .text import likelihood

LOSS_COLUMNS = [
    "design",
    "party",
    "label",
    "kind",
    "public",
    "mean",
    "mean_ci_low",
    "mean_ci_high",
    "mean_ci_method",
    "mean_ci_approximate",
    "var_99",
    "var_99_ci_low",
    "var_99_ci_high",
    "var_99_9",
    "es_99",
    "es_99_ci_low",
    "es_99_ci_high",
    "tail_ci_method",
    "tail_99",
]
TARGET_COLUMNS = [
    "design",
    "target",
    "label",
    "metric",
    "kind",
    "from_year",
    "to_year",
    "value",
    "attainment_mean",
    "attainment_p05",
    "attainment_p95",
    "probability",
    "probability_ci_low",
    "probability_ci_high",
    "probability_ci_method",
    "probability_ci_approximate",
    "likelihood",
    # what drives the spread: shares of the variance of attainment over paths (NaN: none)
    "attainment_variance",
    "share_credit_cycle",
    "share_parameters",
    "share_book_replica",
    "share_defaults",
    "variance_note",
]
#: ``variance_note`` of results written without the decomposition
NO_DECOMPOSITION = "not in the results"
RISK_COLUMNS = [
    "design",
    "party",
    "label",
    "kind",
    "risk",
    "probability",
    "probability_ci_low",
    "probability_ci_high",
    "probability_ci_method",
    "probability_ci_approximate",
    "first_year_median",
    "cap",
    "peak_mean",
    "peak_p99",
    "lowest_mean",
]


def _f(x) -> float:
    return float(np.asarray(x).item())


def _over_finite(values: xr.DataArray, how: str, q: float = 0.5) -> float:
    """Mean, median or quantile ``q`` over the paths where ``values`` is defined (NaN if none)."""
    values = values.dropna("path")
    if values.sizes["path"] == 0:
        return np.nan
    if how == "mean":
        return _f(weighted_mean(values))
    return _f(weighted_quantile(values, q))


def counterfactual_of(ds: xr.Dataset) -> dict[str, str]:
    """Each design's counterfactual design: the experiment's ``counterfactual``, or over a
    grid (:func:`~guarantee_sim.results.stack_levers`) the counterfactual variant at the
    design's grid point ({} without one)."""
    counterfactual = str(ds.attrs.get("counterfactual", "") or "")
    if not counterfactual or "scenario" not in ds.dims:
        return {}
    names = [str(s) for s in ds.scenario.values]
    if "counterfactual_design" in ds.coords:
        return dict(zip(names, map(str, ds["counterfactual_design"].values), strict=True))
    return dict.fromkeys(names, counterfactual)


def design_table(ds: xr.Dataset) -> pd.DataFrame:
    """The designs: name, the overrides that make it, whether it is the counterfactual."""
    overrides = {}
    if "variant_overrides" in ds.coords and "scenario" in ds["variant_overrides"].dims:
        for name, text in zip(ds.scenario.values, ds["variant_overrides"].values, strict=True):
            changes = json.loads(str(text))  # the experiment stores each variant's as JSON
            overrides[str(name)] = "; ".join(f"{k} = {v}" for k, v in changes.items())
    counterfactuals = set(counterfactual_of(ds).values())
    rows = []
    for name, _ in variants(ds):
        changes = overrides.get(name, "")
        rows.append(
            {
                "design": name,
                "changes": "" if changes in ("", "{}") else changes,
                "counterfactual": name in counterfactuals,
            }
        )
    return pd.DataFrame(rows, columns=["design", "changes", "counterfactual"])


def scheme_table(ds: xr.Dataset) -> pd.DataFrame:
    """The loss-sharing schemes of the (first) design's scenario and the segments using them."""
    columns = ["scheme", "label", "coverage", "split", "segments"]
    if "scheme" not in ds.dims:
        return pd.DataFrame([], columns=columns)
    first = ds.isel(scenario=0) if "scenario" in ds.dims else ds
    rows = []
    for name in first.scheme.values:
        scheme = first.sel(scheme=name)
        split = scheme["scheme_split"]
        rows.append(
            {
                "scheme": str(name),
                "label": str(scheme["scheme_label"].item()),
                "coverage": float(scheme["scheme_coverage"]),
                "split": ", ".join(
                    f"{p} {float(s):.3g}"
                    for p, s in zip(split.party.values, split.values, strict=True)
                    if s > 0
                ),
                "segments": ", ".join(
                    str(s)
                    for s, used in zip(
                        first.segment.values, first["segment_scheme"].values, strict=True
                    )
                    if str(used) == str(name)
                ),
            }
        )
    return pd.DataFrame(rows, columns=columns)


#: a tail figure at quantile q is shown only with at least this many paths beyond it
#: (n (1 - q) >= 10): from fewer it is one or two paths' loss, not a quantile
MIN_TAIL_PATHS = 10


def tail_shown(paths: int, level: float) -> bool:
    """Whether a tail figure at ``level`` rests on at least :data:`MIN_TAIL_PATHS` paths
    beyond it (1,000 paths for 99%, 10,000 for 99.9%).

    >>> tail_shown(1000, 0.99), tail_shown(1000, 0.999), tail_shown(20, 0.99)
    (True, False, False)
    """
    return paths * (1.0 - level) >= MIN_TAIL_PATHS - 1e-9


def loss_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per design and party: loss over the run — mean with its 95% CI, VaR 99% and 99.9%,
    ES 99% (:func:`~guarantee_sim.results.loss_summary`; VaR 99% and ES 99% with cluster
    bootstrap 95% CIs) and the mean on the worst 1% of paths by total loss
    (:func:`~guarantee_sim.results.tail_allocation`). A tail figure from fewer than
    :data:`MIN_TAIL_PATHS` paths beyond its quantile is NaN (not shown): as many as plain
    sampling puts there, or under importance sampling (weighted paths) those actually
    beyond the party's VaR, which the shift toward the tail makes many more."""
    rows = []
    paths = ds.sizes["path"]
    hide_99 = not tail_shown(paths, 0.99)
    hide_999 = not tail_shown(paths, 0.999)
    for name, v in variants(ds):
        summary = loss_summary(v)
        weighted = path_weights(v) is not None
        loss = run_loss(v)
        interval = mean_interval(loss)
        var_ci = tail_interval(loss, 0.99, "var")
        es_ci = tail_interval(loss, 0.99, "es")
        tail = tail_allocation(v, 0.99)
        for party, kind, label, public in zip(
            v.party.values,
            v.party_kind.values,
            v.party_label.values,
            v.party_public.values,
            strict=True,
        ):
            s = summary.sel(party=party)
            rows.append(
                {
                    "design": name,
                    "party": str(party),
                    "label": str(label),
                    "kind": str(kind),
                    "public": bool(public),
                    "mean": _f(s["mean"]),
                    "mean_ci_low": _f(interval["low"].sel(party=party)),
                    "mean_ci_high": _f(interval["high"].sel(party=party)),
                    "mean_ci_method": interval.attrs["method"],
                    "mean_ci_approximate": interval.attrs["approximate"],
                    "var_99": _f(s["var_99"]),
                    "var_99_ci_low": _f(var_ci["low"].sel(party=party)),
                    "var_99_ci_high": _f(var_ci["high"].sel(party=party)),
                    "var_99_9": _f(s["var_99_9"]),
                    "es_99": _f(s["es_99"]),
                    "es_99_ci_low": _f(es_ci["low"].sel(party=party)),
                    "es_99_ci_high": _f(es_ci["high"].sel(party=party)),
                    "tail_ci_method": f"{var_ci.attrs['method']}; {es_ci.attrs['method']}",
                    "tail_99": _f(tail.sel(party=party)),
                }
            )
            hide = {"var_99": hide_99, "var_99_9": hide_999}
            if weighted:  # the paths the estimate rests on are those beyond it
                hide = {
                    var: int((loss.sel(party=party) >= s[var]).sum()) < MIN_TAIL_PATHS
                    for var in hide
                }
            if hide["var_99"]:
                rows[-1].update(dict.fromkeys(_TAIL_99, np.nan))
            if hide["var_99_9"]:
                rows[-1]["var_99_9"] = np.nan
    return pd.DataFrame(rows, columns=LOSS_COLUMNS)


_TAIL_99 = (
    "var_99",
    "var_99_ci_low",
    "var_99_ci_high",
    "es_99",
    "es_99_ci_low",
    "es_99_ci_high",
    "tail_99",
)


def target_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per design and target: attainment (mean, 5% and 95% of paths) and the probability of
    reaching it (``target_probability``) with its 95% interval, clustered by book replica
    (:func:`~guarantee_sim.results.probability_interval`); what drives its spread: the
    variance over paths and each source's share (``attainment_variance_share``; NaN for
    results without it)."""
    rows = []
    for name, v in variants(ds):
        if not v.sizes.get("target"):
            continue
        spread = path_quantiles(v["target_attainment"])
        intervals = probability_interval(v["target_attainment"] >= 1.0)
        for target in v.target.values:
            spec = v.sel(target=target)
            p = _f(spec["target_probability"])
            ci = intervals.sel(target=target)
            rows.append(
                {
                    "design": name,
                    "target": str(target),
                    "label": str(spec.target_label.item()),
                    "metric": str(spec.target_metric.item()),
                    "kind": str(spec.target_kind.item()),
                    "from_year": int(spec.target_from_year),
                    "to_year": int(spec.target_to_year),
                    "value": _f(spec.target_value),
                    "attainment_mean": _f(weighted_mean(spec["target_attainment"])),
                    "attainment_p05": _f(spread.sel(target=target, quantile=0.05)),
                    "attainment_p95": _f(spread.sel(target=target, quantile=0.95)),
                    "probability": p,
                    "probability_ci_low": _f(ci["low"]),
                    "probability_ci_high": _f(ci["high"]),
                    "probability_ci_method": intervals.attrs["method"],
                    "probability_ci_approximate": intervals.attrs["approximate"],
                    "likelihood": likelihood(p),
                    **_spread(spec),
                }
            )
    return pd.DataFrame(rows, columns=TARGET_COLUMNS)


def _spread(spec: xr.Dataset) -> dict:
    """One target's variance decomposition as table columns (NaN where the results lack it)."""
    if "attainment_variance_share" not in spec:
        return {"variance_note": NO_DECOMPOSITION}
    share = spec["attainment_variance_share"]
    return {
        "attainment_variance": _f(spec["attainment_variance"]),
        **{f"share_{s}": _f(share.sel(variance_source=s)) for s in VARIANCE_SOURCES},
        "variance_note": str(spec["attainment_variance_note"].item()),
    }


def cost_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per design: fiscal cost and public loss over the run (mean, 95% CI, 5% and 95% of
    paths), new lending, cost per first-time borrower
    (:func:`~guarantee_sim.results.fiscal_cost_per_borrower`) and per 100 m CNY of lending
    (:func:`~guarantee_sim.results.fiscal_cost_per_lending`); with a counterfactual, the
    additional first-time borrowers and lending and the cost per additional borrower."""
    counterfactuals = counterfactual_of(ds)
    has_additional = "additional_borrowers" in ds and bool(counterfactuals)
    fiscal_all = ds["fiscal_cost"].sum("year")
    rows = []
    for name, v in variants(ds):
        fiscal = v["fiscal_cost"].sum("year")
        public = v["public_loss"].sum("year")
        fiscal_ci, public_ci = mean_interval(fiscal), mean_interval(public)
        fiscal_q, public_q = path_quantiles(fiscal), path_quantiles(public)
        row = {
            "design": name,
            "paths": int(v.sizes["path"]),
            "lending_mean": _f(weighted_mean(v["loans_amount"].sum(["segment", "year"]))),
            "fiscal_cost_mean": _f(fiscal_ci["mean"]),
            "fiscal_cost_ci_low": _f(fiscal_ci["low"]),
            "fiscal_cost_ci_high": _f(fiscal_ci["high"]),
            "ci_method": fiscal_ci.attrs["method"],
            "ci_approximate": fiscal_ci.attrs["approximate"],
            "fiscal_cost_p05": _f(fiscal_q.sel(quantile=0.05)),
            "fiscal_cost_p95": _f(fiscal_q.sel(quantile=0.95)),
            "public_loss_mean": _f(public_ci["mean"]),
            "public_loss_ci_low": _f(public_ci["low"]),
            "public_loss_ci_high": _f(public_ci["high"]),
            "public_loss_p05": _f(public_q.sel(quantile=0.05)),
            "public_loss_p95": _f(public_q.sel(quantile=0.95)),
            "unmet_demand_mean": _f(
                weighted_mean(v["unmet_demand_amount"].sum(["segment", "year"]))
            ),
            "fiscal_cost_per_first_time_borrower": (
                _f(fiscal_cost_per_borrower(v)) if first_time_segments(v) else np.nan
            ),
            "fiscal_cost_per_100m_lending": _f(fiscal_cost_per_lending(v)),
        }
        if has_additional:
            counterfactual = counterfactuals[name]
            # already paired path by path; a path's cluster joins its books in both designs
            both = [
                x.replica.values
                for x in (v, ds.sel(scenario=counterfactual))
                if "replica" in x.coords
            ]
            add = difference_interval(v["additional_borrowers"], clusters=both or None)
            add_lending = _f(weighted_mean(v["additional_lending"]))
            extra = fiscal_all.sel(scenario=name) - fiscal_all.sel(scenario=counterfactual)
            extra_cost = _f(weighted_mean(extra))
            row.update(
                {
                    "counterfactual": counterfactual,
                    "additional_borrowers_mean": _f(add["mean"]),
                    "additional_borrowers_ci_low": _f(add["low"]),
                    "additional_borrowers_ci_high": _f(add["high"]),
                    "additional_borrowers_ci_method": add.attrs["method"],
                    "additional_borrowers_ci_approximate": add.attrs["approximate"],
                    "additional_lending_mean": add_lending,
                    "extra_fiscal_cost_mean": extra_cost,
                    "fiscal_cost_per_additional_borrower": _f(
                        v["fiscal_cost_per_additional_borrower"]
                    ),
                    "extra_fiscal_cost_per_100m_additional_lending": (
                        extra_cost / add_lending * 1e8 if add_lending > 0 else np.nan
                    ),
                }
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _risk_row(v: xr.Dataset, design: str, party: str, risk: str, hits, **extra) -> dict:
    """A row of the risk table; ``hits`` says per path whether the risk occurred (None: the
    risk is not defined, e.g. no cap)."""
    if hits is None:
        p, low, high, method, approximate = np.nan, np.nan, np.nan, "", False
    else:
        ci = probability_interval(hits)
        p, low, high = _f(ci["p"]), _f(ci["low"]), _f(ci["high"])
        method, approximate = ci.attrs["method"], ci.attrs["approximate"]
    out: dict[str, object] = dict.fromkeys(RISK_COLUMNS, np.nan)
    out.update(
        design=design,
        party=party,
        label=str(v.party_label.sel(party=party).item()),
        kind=str(v.party_kind.sel(party=party).item()),
        risk=risk,
        probability=p,
        probability_ci_low=low,
        probability_ci_high=high,
        probability_ci_method=method,
        probability_ci_approximate=approximate,
        **extra,
    )
    return out


def risk_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per design and party: pool depletion (:func:`~guarantee_sim.results.
    depletion_probability`) and, where it trips, its circuit breaker (:func:`~guarantee_sim.
    results.breaker_probability`), guarantor insolvency (:func:`~guarantee_sim.results.
    insolvency_probability`), leverage and compensation rates against their caps."""
    rows = []
    for name, v in variants(ds):
        caps = party_caps(v)

        depleted, tripped = depleted_paths(v), breaker_paths(v)
        for pool in capital_holders(v, ("pool",)):
            first = first_year(v["pool_depleted"].sel(party=pool) > 0)
            rows.append(
                _risk_row(
                    v,
                    name,
                    pool,
                    "pool_depleted",
                    depleted.sel(party=pool),
                    first_year_median=_over_finite(first, "quantile", 0.5),
                    lowest_mean=_f(weighted_mean(v["capital"].sel(party=pool).min("year"))),
                )
            )
            if bool(tripped.sel(party=pool).any()):  # a pool without a breaker never trips
                first = first_year(v["pool_breaker_tripped"].sel(party=pool) > 0)
                rows.append(
                    _risk_row(
                        v,
                        name,
                        pool,
                        "pool_breaker",
                        tripped.sel(party=pool),
                        first_year_median=_over_finite(first, "quantile", 0.5),
                    )
                )
        insolvent = insolvent_paths(v)
        for g in capital_holders(v, ("guarantor",)):
            capital = v["capital"].sel(party=g)
            first = first_year(capital <= 0)
            rows.append(
                _risk_row(
                    v,
                    name,
                    g,
                    "insolvency",
                    insolvent.sel(party=g),
                    first_year_median=_over_finite(first, "quantile", 0.5),
                    lowest_mean=_f(weighted_mean(capital.min("year"))),
                )
            )
        for g in capital_holders(v, ("guarantor",)):
            cap = caps[g]["leverage_cap"]
            lev = leverage_peak(v, g)
            rows.append(
                _risk_row(
                    v,
                    name,
                    g,
                    "leverage_over_cap",
                    over_cap_paths(v["leverage"].sel(party=g), cap),
                    cap=np.nan if cap is None else float(cap),
                    peak_mean=_over_finite(lev, "mean"),
                    peak_p99=_over_finite(lev, "quantile", 0.99),
                )
            )
        for p in capital_holders(v, ("guarantor", "reguarantor")):
            cap = caps[p]["compensation_rate_cap"]
            rate = v["compensation_rate"].sel(party=p)
            top = peak(rate)
            rows.append(
                _risk_row(
                    v,
                    name,
                    p,
                    "compensation_over_cap",
                    over_cap_paths(rate, cap),
                    cap=np.nan if cap is None else float(cap),
                    peak_mean=_over_finite(top, "mean"),
                    peak_p99=_over_finite(top, "quantile", 0.99),
                )
            )
    return pd.DataFrame(rows, columns=RISK_COLUMNS)


def year_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per design and year: :func:`~guarantee_sim.results.yearly_summary` (means over paths)."""
    frames = []
    for name, v in variants(ds):
        frame = yearly_summary(v).reset_coords(drop=True).to_dataframe().reset_index()
        frame.insert(0, "design", name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- public cost

#: what the public-cost section reads beyond the core contract (results written before
#: it lack them): the kernel outputs, and the discount rate attr
COST_VARIABLES = (
    "public_cost",
    "public_operating_cost",
    "fee_base",
    "fee_subsidy",
    "operating_cost",
    "reguarantee_fees",
    "capital_exhausted",
    "leverage_cap_binding",
)
EXHAUSTION_EVENTS = ("capital_exhausted", "leverage_cap_binding")


def missing_cost_variables(ds: xr.Dataset) -> list[str]:
    """What the public-cost section needs and ``ds`` lacks (empty for current results)."""
    missing = [v for v in COST_VARIABLES if v not in ds.variables]
    try:
        for _, v in variants(ds):
            discount_rate(v)
    except MissingResults:
        missing.append("discount_rate (attr)")
    return missing


def public_cost_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per design: present values of public cost, fiscal cost and public operating cost
    (mean, 95% CI, 5% and 95% of paths; :func:`~guarantee_sim.results.public_cost_pv`),
    the subsidy rate per 100 CNY guaranteed and the zero-subsidy fee of the public
    guarantors (:func:`~guarantee_sim.results.zero_subsidy_fee`) with their 95% CIs; a
    design whose results lack them has NaN and says what is missing in ``missing``."""
    rows = []
    for name, v in variants(ds):
        row: dict[str, object] = {"design": name, "paths": int(v.sizes["path"]), "missing": ""}
        try:
            pv = public_cost_pv(v)
        except MissingResults as err:
            row["missing"] = ", ".join(err.missing)
            rows.append(row)
            continue
        row["discount_rate"] = pv.attrs["discount_rate"]
        for var in ("public_cost", "fiscal_cost", "public_operating_cost"):
            interval, spread = mean_interval(pv[var]), path_quantiles(pv[var])
            row |= {
                f"{var}_pv_mean": _f(interval["mean"]),
                f"{var}_pv_ci_low": _f(interval["low"]),
                f"{var}_pv_ci_high": _f(interval["high"]),
                f"{var}_pv_p05": _f(spread.sel(quantile=0.05)),
                f"{var}_pv_p95": _f(spread.sel(quantile=0.95)),
            }
        row |= {
            "guaranteed_lending_pv_mean": _f(weighted_mean(pv["guaranteed_lending"])),
            "subsidy_rate": _f(pv["subsidy_rate"]),
            "subsidy_rate_ci_low": _f(pv["subsidy_rate_low"]),
            "subsidy_rate_ci_high": _f(pv["subsidy_rate_high"]),
        }
        try:
            zero = zero_subsidy_fee(v)
        except MissingResults as err:
            row["missing"] = ", ".join(err.missing)
        else:
            row |= {
                "zero_subsidy_fee": _f(zero["fee"]),
                "zero_subsidy_fee_ci_low": _f(zero["fee_low"]),
                "zero_subsidy_fee_ci_high": _f(zero["fee_high"]),
                "public_guarantor_fee": _f(zero["actual"]),
                "public_guarantors": zero.attrs["public_guarantors"],
                "zero_subsidy_note": zero.attrs["note"],
                "zero_subsidy_reason": zero.attrs["reason"],
            }
        rows.append(row)
    return pd.DataFrame(rows)


BREAK_EVEN_COLUMNS = [
    "design",
    "party",
    "label",
    "kind",
    "public",
    "fee_charged",
    "break_even",
    "break_even_ci_low",
    "break_even_ci_high",
    "break_even_p05",
    "break_even_p25",
    "break_even_median",
    "break_even_p75",
    "break_even_p95",
    "paths_with_fee_base",
]


def break_even_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per design and guarantor: the fee it charged, the break-even fee in expectation with
    its 95% CI, and the per-path break-even fee's quantiles
    (:func:`~guarantee_sim.results.break_even_fee`); no rows for results that lack them."""
    rows = []
    for name, v in variants(ds):
        try:
            be = break_even_fee(v)
        except MissingResults:
            continue
        # each variable as an array by guarantor (selecting the Dataset per guarantor
        # cost more than computing it)
        g = {
            key: be[key].transpose("party").values
            for key in ("actual", "expected", "expected_low", "expected_high")
        }
        levels = (("p05", 0.05), ("p25", 0.25), ("median", 0.5), ("p75", 0.75), ("p95", 0.95))
        q = be["per_path_quantile"].sel(quantile=[level for _, level in levels])
        q = q.transpose("party", "quantile").values
        with_base = be["paths_with_fee_base"].transpose("party").values
        for i, party in enumerate(be.party.values):
            rows.append(
                {
                    "design": name,
                    "party": str(party),
                    "label": str(be.party_label.values[i]),
                    "kind": "guarantor",
                    "public": bool(be.party_public.values[i]),
                    "fee_charged": _f(g["actual"][i]),
                    "break_even": _f(g["expected"][i]),
                    "break_even_ci_low": _f(g["expected_low"][i]),
                    "break_even_ci_high": _f(g["expected_high"][i]),
                    **{f"break_even_{key}": _f(q[i, j]) for j, (key, _) in enumerate(levels)},
                    "paths_with_fee_base": int(with_base[i]),
                }
            )
    return pd.DataFrame(rows, columns=BREAK_EVEN_COLUMNS)


def exhaustion_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per design, guarantor and event (``capital_exhausted``: net assets at or below zero;
    ``leverage_cap_binding``: the cap rationed new guarantees): the share of paths by the
    first year it happens (``share_<year>``), the share on which it ``never`` does, and
    quantiles of the first year (``inf``: never), from
    :func:`~guarantee_sim.results.years_to_exhaustion`."""
    rows = []
    for name, v in variants(ds):
        events = {}
        for event in EXHAUSTION_EVENTS:
            try:
                events[event] = years_to_exhaustion(v, event)
            except MissingResults:
                continue
        # each event's variables as arrays by guarantor (selecting the Dataset per
        # guarantor and year cost more than computing it)
        arrays = {
            event: {
                "party": [str(p) for p in out.party.values],
                "label": out.party_label.values,
                "never": out["never"].transpose("party").values,
                "quantile": out["first_year_quantile"]
                .sel(quantile=[0.05, 0.5, 0.95])
                .transpose("party", "quantile")
                .values,
                "years": out["share"].year.values,
                "share": out["share"].transpose("party", "year").values,
            }
            for event, out in events.items()
        }
        for party in (str(p) for p in v.party.values):
            for event, a in arrays.items():
                if party not in a["party"]:
                    continue
                i = a["party"].index(party)
                rows.append(
                    {
                        "design": name,
                        "party": str(party),
                        "label": str(a["label"][i]),
                        "event": event,
                        "never": _f(a["never"][i]),
                        "first_year_p05": _f(a["quantile"][i, 0]),
                        "first_year_median": _f(a["quantile"][i, 1]),
                        "first_year_p95": _f(a["quantile"][i, 2]),
                        **{
                            f"share_{int(y)}": _f(a["share"][i, j])
                            for j, y in enumerate(a["years"])
                        },
                    }
                )
    return pd.DataFrame(rows)


def all_tables(ds: xr.Dataset) -> dict[str, pd.DataFrame]:
    """Every table of the brief, by the CSV file stem it is written to."""
    return {
        "designs": design_table(ds),
        "schemes": scheme_table(ds),
        "losses": loss_table(ds),
        "targets": target_table(ds),
        "costs": cost_table(ds),
        "risks": risk_table(ds),
        "public_cost": public_cost_table(ds),
        "break_even": break_even_table(ds),
        "exhaustion": exhaustion_table(ds),
        "years": year_table(ds),
    }
