"""Known answer for ``public_cost``: every cash flow's sign and cancellation, by hand.

One book, two segments of identical lending (10 loans of exactly 1 m a month in 2021, tenor
12, PD 1e-9: no default), each under its own scheme:

* ``pub``: coverage 0.8, split public guarantor ``gpub`` 0.5, public re-guarantor ``reg``
  0.25, pool 0.25;
* ``priv``: coverage 0.8, split private guarantor ``gpriv`` 0.75, ``reg`` 0.25; its
  loans are eligible for the interest subsidy.

Each segment's balance-months are B_2021 = 10 m x (1 + .. + 12) = 780 m and
B_2022 = 10 m x (11 + .. + 0) = 660 m, so a flow at rate r per year on a segment's
balance is r x B / 12. The public sector is the budget, ``gpub``, ``reg`` and the pool.

    flow (per CNY of a segment's balance, per year)          fiscal   public
    guarantee fee 1% gpub receives from borrowers            0        - 0.010
    guarantee fee 1% gpriv receives from borrowers           0          0   (private-private)
    re-guarantee fee 0.5% x 0.8 x 0.25 = 0.1%, gpub -> reg   0          0   (cancels)
    re-guarantee fee 0.1%, gpriv -> reg                      0        - 0.001
    fee subsidy 0.5% to gpub (paid to guarantor)           + 0.005      0   (cancels)
    fee subsidy 0.5% to gpriv                              + 0.005    + 0.005
    interest subsidy 50% x LPR 4% on 0.6 of each priv loan + 0.012    + 0.012
    operating cost 0.5% x 0.8 = 0.4% of gpub                 0          0   (apart)

plus, once: pool contribution 2 m in 2021 (fiscal, cancels), injection into gpriv 3 m in
2021 (fiscal and public), into gpub 5 m in 2022 (fiscal, cancels). So

    public_cost = 0.006 x B / 12 + 3 m [2021]:  2021 3.39 m, 2022 0.33 m
    fiscal_cost = 0.022 x B / 12 + 5 m:         2021 6.43 m, 2022 6.21 m
    public_operating_cost = 0.004 x B / 12:     2021 0.26 m, 2022 0.22 m

With the fee subsidy paid to the borrowers, gpub no longer receives it, so the subsidy on
its guarantees leaves the public sector too: public_cost + 0.005 x B / 12 (2021 3.715 m);
fiscal cost is the same and neither guarantor's ``fee_subsidy`` is anything but 0.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_scenario

import guarantee_sim as gs
from guarantee_sim.config import ScenarioError

M = 1.0e6
REL = 1e-9
YEARS = [2021, 2022, 2023]
B = {2021: 780 * M, 2022: 660 * M, 2023: 0.0}  # balance-months of each segment


def segment(scheme: str, tags: list[str]) -> dict:
    return {
        "tags": tags,
        "pd": {"mean": 1e-9},
        "lgd": 0.5,
        "recovery": {"lag_months": 1, "spread_months": 1},
        "correlation": 0.1,
        "loan_size": {"median": M, "sigma": 0.0, "cap": 1e7},
        "tenor_months": 12,
        "lending": {"count_per_year": 120},
        "scheme": scheme,
    }


def guarantor(public: bool, injections: dict) -> dict:
    return {
        "kind": "guarantor",
        "public": public,
        "net_assets": 100 * M,
        "fee_rate": 0.01,
        "operating_cost_rate": 0.005,
        "capital_injections": injections,
    }


def scenario_dict(paid_to: str = "guarantor") -> dict:
    return {
        "name": "public_cost_known_answer",
        "horizon": {"start_year": 2021, "origination_years": 1, "runoff_months": 24},
        "simulation": {"paths": 2, "seed": 3, "granularity": "loan"},
        "segments": {
            "pub": segment("pub", ["guaranteed"]),
            "priv": segment("priv", ["guaranteed", "zjtx"]),
        },
        "parties": {
            "bank": {"kind": "bank"},
            "gpub": guarantor(True, {2022: 5 * M}),
            "gpriv": guarantor(False, {2021: 3 * M}),
            "reg": {
                "kind": "reguarantor",
                "public": True,
                "net_assets": 50 * M,
                "fee_rate": 0.005,
                "compensation_rate_cap": None,
                "fallback": "bank",
            },
            "pool": {"kind": "pool", "initial_balance": 10 * M, "annual_contribution": 2 * M},
        },
        "schemes": {
            "pub": {"coverage": 0.8, "split": {"gpub": 0.5, "reg": 0.25, "pool": 0.25}},
            "priv": {"coverage": 0.8, "split": {"gpriv": 0.75, "reg": 0.25}},
        },
        "policy": {
            "lpr": 0.04,
            "interest_subsidy": {
                "share_of_lpr": 0.5,
                "max_amount_per_firm": 0.6 * M,
                "tags": ["zjtx"],
            },
            "fee_subsidy": {"rate": 0.005, "max_fee_rate": 0.01, "paid_to": paid_to},
        },
    }


def per_year(rate: float) -> dict:
    return {y: rate * B[y] / 12 for y in YEARS}


@pytest.fixture(scope="module", params=["guarantor", "borrower"])
def case(request):
    ds = gs.simulate(make_scenario(scenario_dict(request.param)), paths=2, seed=3)
    assert float(ds.defaults_count.sum()) == 0.0
    assert float(ds.unmet_demand_amount.sum()) == 0.0
    return request.param, ds


def check(da, expected: dict, what: str):
    for y in YEARS:
        np.testing.assert_allclose(
            da.sel(year=y).values, expected[y], rtol=REL, atol=1e-6, err_msg=f"{what} {y}"
        )


def test_public_cost_cancels_transfers_inside_the_public_sector(case):
    paid_to, ds = case
    expected = per_year(0.006)
    expected[2021] += 3 * M  # injection into the private guarantor
    if paid_to == "borrower":  # the subsidy on gpub's guarantees now leaves the sector
        expected = {y: expected[y] + 0.005 * B[y] / 12 for y in YEARS}
    assert expected[2021] == pytest.approx((3.39 if paid_to == "guarantor" else 3.715) * M)
    check(ds.public_cost, expected, "public_cost")


def test_fiscal_cost_counts_each_subsidy_once_under_either_convention(case):
    _, ds = case
    expected = {y: 0.022 * B[y] / 12 + (5 * M if y < 2023 else 0.0) for y in YEARS}
    assert expected[2021] == pytest.approx(6.43 * M)
    check(ds.fiscal_cost, expected, "fiscal_cost")


def test_public_operating_cost_is_the_public_guarantors(case):
    _, ds = case
    check(ds.public_operating_cost, per_year(0.004), "public_operating_cost")
    check(ds.operating_cost.sel(party="gpriv"), per_year(0.004), "gpriv operating_cost")


def test_each_flow_lands_with_its_party(case):
    paid_to, ds = case
    for g in ("gpub", "gpriv"):
        gd = ds.sel(party=g)
        check(gd.fee_income, per_year(0.01), f"{g} fee_income")
        check(gd.fee_base, per_year(1.0), f"{g} fee_base")  # fee = 1% x fee_base
        check(gd.reguarantee_fees, per_year(0.001), f"{g} reguarantee_fees")
        subsidy = per_year(0.005) if paid_to == "guarantor" else per_year(0.0)
        check(gd.fee_subsidy, subsidy, f"{g} fee_subsidy")
        assert float(gd.capital_exhausted.sum()) == 0.0
        assert float(gd.leverage_cap_binding.sum()) == 0.0
    check(ds.capital_injection.sel(party="gpub"), {2021: 0.0, 2022: 5 * M, 2023: 0.0}, "injection")
    check(ds.capital_injection.sel(party="gpriv"), {2021: 3 * M, 2022: 0.0, 2023: 0.0}, "injection")
    reg = ds.sel(party="reg")
    check(reg.fee_income, per_year(0.002), "reg fee_income")  # from both guarantors
    check(reg.fee_base, per_year(0.4), "reg fee_base")  # 0.2 of each segment's balance
    # variables a kind of party does not have are NaN
    for var in ("fee_subsidy", "operating_cost", "reguarantee_fees", "leverage_cap_binding"):
        assert ds[var].sel(party=["bank", "reg", "pool", "unabsorbed"]).isnull().all(), var
    for var in ("pool_depleted", "pool_breaker_tripped"):
        assert ds[var].sel(party=["bank", "gpub", "reg", "unabsorbed"]).isnull().all(), var
        assert float(ds[var].sel(party="pool").sum()) == 0.0
    # the guarantor's capital holds the subsidy only when it is paid to the guarantor
    gap = ds.capital.sel(party="gpub", year=2021) - ds.capital.sel(party="gpriv", year=2021)
    np.testing.assert_allclose(gap.values, -3 * M, rtol=REL)  # gpriv's injection only


def test_subsidy_convention_moves_the_guarantors_capital():
    """Paid to the guarantor, its capital at end-2021 is higher by exactly the subsidy
    (0.005 x 780 m / 12 = 0.325 m, less the unearned-fee reserve, which is on fees only)."""
    to_g = gs.simulate(make_scenario(scenario_dict("guarantor")), paths=1, seed=3)
    to_b = gs.simulate(make_scenario(scenario_dict("borrower")), paths=1, seed=3)
    diff = to_g.capital.sel(party="gpub", year=2021) - to_b.capital.sel(party="gpub", year=2021)
    np.testing.assert_allclose(diff.values, 0.325 * M, rtol=REL)


def test_pool_payouts_are_public_cost_and_recoveries_reduce_it():
    """A pool alone (no fee, no budget flow after the start): the pool's payouts are a
    public cost the year they are paid, its recoveries a public receipt. Five loans of
    1 m default in 2021; the pool (coverage 0.5) pays 2.5 m at once and recovers
    2.5 m x (1 - 0.5) = 1.25 m in 2022 (twelve months later); nothing in 2023."""
    from test_waterfall import POOL_BOOK, book_of, pool_dict
    from test_waterfall import run as run_book

    ds = run_book(pool_dict(10.0 * M), book_of(POOL_BOOK))
    assert float(ds.defaults_count.sel(year=2021).sum()) == 5
    check(ds.public_cost.isel(path=0), {2021: 2.5 * M, 2022: -1.25 * M, 2023: 0.0}, "public_cost")
    assert float(ds.fiscal_cost.sum()) == 0.0  # the pool's initial balance is not a flow


@pytest.mark.parametrize(
    ("party", "key", "value", "message"),
    [
        ("bank", "public", True, "the bank is the private lender"),
        ("pool", "public", False, "always public"),
    ],
)
def test_public_bank_and_private_pool_are_refused(party, key, value, message):
    data = scenario_dict()
    data["parties"][party][key] = value
    with pytest.raises(ScenarioError, match=message):
        make_scenario(data)
