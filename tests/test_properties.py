"""Accounting identities on randomly drawn systems (Hypothesis).

Whatever the coverage, the split, the caps, the pool, the capital and the fallbacks, on every
path and year the parties' losses plus ``unabsorbed`` equal the credit loss, and over a run
with full run-off every party's payouts minus recoveries equal its losses.
"""

from __future__ import annotations

import numpy as np
from conftest import base_scenario_dict, make_scenario
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import guarantee_sim as gs

FALLBACKS = ["bank", "unabsorbed"]


@st.composite
def systems(draw):
    d = base_scenario_dict()
    d["horizon"]["origination_years"] = 2
    d["horizon"]["runoff_months"] = 30
    seg = d["segments"]["sme"]
    seg["pd"] = {
        "mean": draw(st.floats(0.01, 0.3)),
        "grades": [{"relative_pd": 0.5, "weight": 1}, {"relative_pd": 2, "weight": 1}],
    }
    seg["lgd"] = draw(st.floats(0.1, 1.0))
    seg["loan_size"]["sigma"] = draw(st.sampled_from([0.0, 0.7]))
    seg["lending"]["count_per_year"] = draw(st.integers(20, 150))
    seg["renewal"] = {"rate": draw(st.floats(0.0, 1.0))}
    d["segments"]["credit"] = {
        **seg,
        "tags": ["credit"],
        "scheme": "pooled",
        "renewal": None,
        "lending": {"count_per_year": draw(st.integers(20, 150))},
    }
    shares = draw(st.lists(st.floats(0.05, 1.0), min_size=3, max_size=3))
    total = sum(shares)
    d["parties"]["guarantor"].update(
        net_assets=draw(st.sampled_from([2e6, 1e7, 1e9])),
        leverage_cap=draw(st.sampled_from([3.0, 10.0])),
        fallback=draw(st.sampled_from(FALLBACKS)),
    )
    d["parties"]["provincial"] = {
        "kind": "reguarantor",
        "public": True,
        "fee_rate": 0.003,
        "lag_months": 3,
        "compensation_rate_cap": draw(st.sampled_from([None, 0.01, 0.04])),
        "fallback": draw(st.sampled_from(["guarantor", "bank", "unabsorbed"])),
    }
    d["parties"]["pool"] = {
        "kind": "pool",
        "initial_balance": draw(st.sampled_from([1e5, 2e6, 1e9])),
        "annual_contribution": draw(st.sampled_from([0.0, 1e6])),
        "npl_circuit_breaker": draw(st.sampled_from([None, 0.05])),
        "max_lending_multiple": draw(st.sampled_from([None, 20.0])),
        "lag_months": 2,
        "fallback": draw(st.sampled_from(["guarantor", *FALLBACKS])),
    }
    d["schemes"] = {
        "guaranteed": {
            "coverage": draw(st.floats(0.0, 1.0)),
            "split": {
                "guarantor": shares[0] / total,
                "provincial": shares[1] / total,
                "pool": shares[2] / total,
            },
        },
        "pooled": {"coverage": draw(st.floats(0.0, 1.0)), "split": {"pool": 1.0}},
    }
    d["simulation"]["granularity"] = draw(st.sampled_from(["loan", "cohort"]))
    return d


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(systems(), st.integers(0, 2**32 - 1))
def test_money_is_conserved_on_every_path(data, seed):
    ds = gs.simulate(make_scenario(data), paths=12, seed=seed)
    credit_loss = ds.credit_loss.sum("segment")
    np.testing.assert_allclose(ds.loss.sum("party"), credit_loss, rtol=1e-9, atol=1e-3)
    np.testing.assert_allclose(
        ds.credit_loss, ds.default_amount * ds.segment_lgd, rtol=1e-9, atol=1e-3
    )
    cash = ds[["payout", "recovery", "loss"]].sel(party=ds.party.values[:-1]).sum("year")
    np.testing.assert_allclose(cash.payout - cash.recovery, cash.loss, rtol=1e-9, atol=1e-2)
    # unabsorbed only arises from a shortfall some party passed on
    passed_on = ds.shortfall.sel(party=ds.party.values[:-1]).sum(["party", "year"])
    assert bool((ds.loss.sel(party="unabsorbed").sum("year") <= passed_on + 1e-6).all())
    # leverage is within its cap whenever new guarantees were made
    lev = ds.max_origination_leverage.sel(party="guarantor")
    cap = data["parties"]["guarantor"]["leverage_cap"]
    assert bool((lev.fillna(0) <= cap * (1 + 1e-9)).all())
