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

from ..results.metrics import (
    breaker_probability,
    depletion_probability,
    fiscal_cost_per_borrower,
    fiscal_cost_per_lending,
    insolvency_probability,
    loss_summary,
    mean_interval,
    probability_interval,
    tail_allocation,
    yearly_summary,
)
from .measures import (
    capital_holders,
    first_time_segments,
    first_year,
    leverage_peak,
    over_cap,
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
    "var_99",
    "var_99_9",
    "es_99",
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
    "likelihood",
]
RISK_COLUMNS = [
    "design",
    "party",
    "label",
    "kind",
    "risk",
    "probability",
    "probability_ci_low",
    "probability_ci_high",
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
        return _f(values.mean("path"))
    return _f(values.quantile(q, "path"))


def design_table(ds: xr.Dataset) -> pd.DataFrame:
    """The designs: name, the overrides that make it, whether it is the counterfactual."""
    overrides = {}
    if "variant_overrides" in ds.coords and "scenario" in ds["variant_overrides"].dims:
        for name, text in zip(ds.scenario.values, ds["variant_overrides"].values, strict=True):
            changes = json.loads(str(text))  # the experiment stores each variant's as JSON
            overrides[str(name)] = "; ".join(f"{k} = {v}" for k, v in changes.items())
    counterfactual = str(ds.attrs.get("counterfactual", "") or "")
    rows = []
    for name, _ in variants(ds):
        changes = overrides.get(name, "")
        rows.append(
            {
                "design": name,
                "changes": "" if changes in ("", "{}") else changes,
                "counterfactual": name == counterfactual,
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


def loss_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per design and party: loss over the run — mean with its 95% CI, VaR 99% and 99.9%,
    ES 99% (:func:`~guarantee_sim.results.loss_summary`) and the mean on the worst 1% of
    paths by total loss (:func:`~guarantee_sim.results.tail_allocation`)."""
    rows = []
    for name, v in variants(ds):
        summary = loss_summary(v)
        interval = mean_interval(run_loss(v))
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
                    "var_99": _f(s["var_99"]),
                    "var_99_9": _f(s["var_99_9"]),
                    "es_99": _f(s["es_99"]),
                    "tail_99": _f(tail.sel(party=party)),
                }
            )
    return pd.DataFrame(rows, columns=LOSS_COLUMNS)


def target_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per design and target: attainment (mean, 5% and 95% of paths) and the probability of
    reaching it (``target_probability``) with its Wilson 95% interval over the paths."""
    rows = []
    for name, v in variants(ds):
        if "target" not in v.dims:
            continue
        n = v.sizes["path"]
        spread = path_quantiles(v["target_attainment"])
        for target in v.target.values:
            spec = v.sel(target=target)
            p = _f(spec["target_probability"])
            low, high = probability_interval(p, n)
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
                    "attainment_mean": _f(spec["target_attainment"].mean("path")),
                    "attainment_p05": _f(spread.sel(target=target, quantile=0.05)),
                    "attainment_p95": _f(spread.sel(target=target, quantile=0.95)),
                    "probability": p,
                    "probability_ci_low": low,
                    "probability_ci_high": high,
                    "likelihood": likelihood(p),
                }
            )
    return pd.DataFrame(rows, columns=TARGET_COLUMNS)


def cost_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per design: fiscal cost and public loss over the run (mean, 95% CI, 5% and 95% of
    paths), new lending, cost per first-time borrower
    (:func:`~guarantee_sim.results.fiscal_cost_per_borrower`) and per 100 m CNY of lending
    (:func:`~guarantee_sim.results.fiscal_cost_per_lending`); with a counterfactual, the
    additional first-time borrowers and lending and the cost per additional borrower."""
    counterfactual = str(ds.attrs.get("counterfactual", "") or "")
    has_additional = "additional_borrowers" in ds and "scenario" in ds.dims and counterfactual
    if has_additional:
        fiscal_all = ds["fiscal_cost"].sum("year")
        extra = fiscal_all - fiscal_all.sel(scenario=counterfactual)
    rows = []
    for name, v in variants(ds):
        fiscal = v["fiscal_cost"].sum("year")
        public = v["public_loss"].sum("year")
        fiscal_ci, public_ci = mean_interval(fiscal), mean_interval(public)
        fiscal_q, public_q = path_quantiles(fiscal), path_quantiles(public)
        row = {
            "design": name,
            "paths": int(v.sizes["path"]),
            "lending_mean": _f(v["loans_amount"].sum(["segment", "year"]).mean("path")),
            "fiscal_cost_mean": _f(fiscal_ci["mean"]),
            "fiscal_cost_ci_low": _f(fiscal_ci["low"]),
            "fiscal_cost_ci_high": _f(fiscal_ci["high"]),
            "fiscal_cost_p05": _f(fiscal_q.sel(quantile=0.05)),
            "fiscal_cost_p95": _f(fiscal_q.sel(quantile=0.95)),
            "public_loss_mean": _f(public_ci["mean"]),
            "public_loss_ci_low": _f(public_ci["low"]),
            "public_loss_ci_high": _f(public_ci["high"]),
            "public_loss_p05": _f(public_q.sel(quantile=0.05)),
            "public_loss_p95": _f(public_q.sel(quantile=0.95)),
            "unmet_demand_mean": _f(v["unmet_demand_amount"].sum(["segment", "year"]).mean("path")),
            "fiscal_cost_per_first_time_borrower": (
                _f(fiscal_cost_per_borrower(v)) if first_time_segments(v) else np.nan
            ),
            "fiscal_cost_per_100m_lending": _f(fiscal_cost_per_lending(v)),
        }
        if has_additional:
            add = mean_interval(v["additional_borrowers"])
            add_lending = _f(v["additional_lending"].mean("path"))
            extra_cost = _f(extra.sel(scenario=name).mean("path"))
            row.update(
                {
                    "counterfactual": counterfactual,
                    "additional_borrowers_mean": _f(add["mean"]),
                    "additional_borrowers_ci_low": _f(add["low"]),
                    "additional_borrowers_ci_high": _f(add["high"]),
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


def _risk_row(v: xr.Dataset, design: str, party: str, risk: str, p: float, **extra) -> dict:
    low, high = probability_interval(p, v.sizes["path"]) if np.isfinite(p) else (np.nan, np.nan)
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

        depleted, tripped = depletion_probability(v), breaker_probability(v)
        for pool in capital_holders(v, ("pool",)):
            first = first_year(v["pool_depleted"].sel(party=pool) > 0)
            rows.append(
                _risk_row(
                    v,
                    name,
                    pool,
                    "pool_depleted",
                    _f(depleted.sel(party=pool)),
                    first_year_median=_over_finite(first, "quantile", 0.5),
                    lowest_mean=_f(v["capital"].sel(party=pool).min("year").mean("path")),
                )
            )
            if float(tripped.sel(party=pool)) > 0.0:  # a pool without a breaker never trips
                first = first_year(v["pool_breaker_tripped"].sel(party=pool) > 0)
                rows.append(
                    _risk_row(
                        v,
                        name,
                        pool,
                        "pool_breaker",
                        _f(tripped.sel(party=pool)),
                        first_year_median=_over_finite(first, "quantile", 0.5),
                    )
                )
        insolvent = insolvency_probability(v)
        for g in capital_holders(v, ("guarantor",)):
            capital = v["capital"].sel(party=g)
            first = first_year(capital <= 0)
            rows.append(
                _risk_row(
                    v,
                    name,
                    g,
                    "insolvency",
                    _f(insolvent.sel(party=g)),
                    first_year_median=_over_finite(first, "quantile", 0.5),
                    lowest_mean=_f(capital.min("year").mean("path")),
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
                    _f(over_cap(v["leverage"].sel(party=g), cap)),
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
                    _f(over_cap(rate, cap)),
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


def all_tables(ds: xr.Dataset) -> dict[str, pd.DataFrame]:
    """Every table of the brief, by the CSV file stem it is written to."""
    return {
        "designs": design_table(ds),
        "schemes": scheme_table(ds),
        "losses": loss_table(ds),
        "targets": target_table(ds),
        "costs": cost_table(ds),
        "risks": risk_table(ds),
        "years": year_table(ds),
    }
