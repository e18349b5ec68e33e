"""Known answer for every money flow of a guarantor's capital and of the budget (DESIGN §4).

One guarantor and no defaults, so each year's ``capital`` and ``fiscal_cost`` follow from
the scenario's numbers by plain arithmetic, written out below: fee income, operating cost,
the unearned-fee reserve, a compensation reserve whose cap binds in the second year, a
capital injection, a fee subsidy paid to the guarantor and an interest subsidy paid for
the borrowers. Also the targets computed from the same lending (a flow, a stock spanning
two years) and the fiscal cost per borrower and per 100 m CNY.

Accrual conventions of the kernels (``kernels/portfolio.py``), which the arithmetic
follows:

* a loan made in month m (0 = January of the first year) with tenor 12 is on the balance
  in months m .. m+11: it leaves at the start of month m+12;
* fees, operating cost and both subsidies accrue each month on that month's balance,
  after the month's lending, at rate / 12;
* a capital injection lands at the start of its year (and is a fiscal cost that year);
* at each year end: the unearned-fee reserve is re-set to its share of the year's fee
  income; the compensation reserve grows by rate x the year-end guarantee balance, but
  not past cap x that balance, and what stands above cap x a smaller balance is released
  into net assets (差额提取).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_scenario

import guarantee_sim as gs
from guarantee_sim.results import fiscal_cost_per_borrower, fiscal_cost_per_lending

M = 1.0e6
REL = 1e-9
YEARS = [2021, 2022, 2023, 2024]

# The scenario's numbers, named once: the dict below and the arithmetic use them both.
LOAN = 1.0 * M  # every loan exactly 1 m (loan_size sigma 0)
PER_MONTH = {0: 10, 1: 15}  # 120 loans in 2021, 120 x 1.5 (growth 0.5) = 180 in 2022
TENOR = 12
COVERAGE = 0.8
NET_ASSETS = 100 * M
FEE = 0.01
COST = 0.005  # operating cost, per year on the covered balance (coverage x balance)
UNEARNED = 0.5
RESERVE_RATE, RESERVE_CAP = 0.01, 0.015
INJECTION = {2022: 5 * M}
FEE_SUBSIDY = 0.005  # per year on the guaranteed loans' balance, paid to the guarantor
LPR, SHARE_OF_LPR, SUBSIDISED_PER_LOAN = 0.04, 0.5, 0.6 * M
LIABILITY_WEIGHT = 0.75  # 2018 rules: loans up to 5 m


def scenario_dict() -> dict:
    return {
        "name": "capital_known_answer",
        "horizon": {"start_year": 2021, "origination_years": 2, "runoff_months": 24},
        "simulation": {"paths": 3, "seed": 7, "granularity": "loan", "block_size": 64},
        "segments": {
            "sme": {
                "tags": ["guaranteed", "first_time", "zhuanjingtexin"],
                "pd": {"mean": 1e-9},  # the schema's PD is > 0; this one draws no default
                "lgd": 0.5,
                "recovery": {"lag_months": 1, "spread_months": 3},
                "correlation": 0.1,
                "loan_size": {"median": LOAN, "sigma": 0.0, "cap": 1.0e7},
                "tenor_months": TENOR,
                "lending": {"count_per_year": 120, "growth": 0.5},
                "scheme": "guaranteed",
            }
        },
        "parties": {
            "bank": {"kind": "bank"},
            "guarantor": {
                "kind": "guarantor",
                "public": True,
                "net_assets": NET_ASSETS,
                "leverage_cap": 10.0,  # liability at most 72 m against ~100 m: never binds
                "fee_rate": FEE,
                "claim_lag_months": 2,
                "operating_cost_rate": COST,
                "unearned_fee_reserve": UNEARNED,
                "compensation_reserve_rate": RESERVE_RATE,
                "compensation_reserve_cap": RESERVE_CAP,
                "capital_injections": dict(INJECTION),
            },
        },
        "schemes": {"guaranteed": {"coverage": COVERAGE, "split": {"guarantor": 1.0}}},
        "policy": {
            "lpr": LPR,
            "interest_subsidy": {
                "share_of_lpr": SHARE_OF_LPR,
                "max_amount_per_firm": SUBSIDISED_PER_LOAN,
                "tags": ["zhuanjingtexin"],
            },
            "fee_subsidy": {"rate": FEE_SUBSIDY, "max_fee_rate": 0.01},
        },
        "targets": {
            "loans": {  # flow: 120 + 180 = 300 loans -> 1.0, met
                "metric": "loans_count",
                "tags": ["guaranteed"],
                "kind": "flow",
                "from_year": 2021,
                "to_year": 2022,
                "value": 300,
            },
            "balance": {  # stock over 2021-2022: end-2022 180 m / 150 m = 1.2, met
                # (end-2021 would be 120 m / 150 m = 0.8, not met)
                "metric": "outstanding_amount",
                "tags": ["guaranteed"],
                "kind": "stock",
                "from_year": 2021,
                "to_year": 2022,
                "value": 150 * M,
            },
            "borrowers_2022": {  # flow over 2022 only: 180 / 200 = 0.9, not met
                "metric": "borrowers",
                "tags": ["first_time"],
                "kind": "flow",
                "from_year": 2022,
                "to_year": 2022,
                "value": 200,
            },
        },
    }


def hand_computed() -> dict:
    """Every yearly number by plain arithmetic (CNY)."""
    # Loans made in month m: 10 a month in 2021 (months 0-11), 15 a month in 2022 (12-23).
    made = {m: PER_MONTH[m // 12] * LOAN for m in range(24)}

    def balance(t):  # loans alive in month t: made in m with m <= t < m + 12
        return sum(a for m, a in made.items() if m <= t < m + TENOR)

    # Balance-months of each year: sum of the 12 monthly balances.
    #   2021: 10 m x (1 + 2 + .. + 12)                         =   780 m
    #   2022: month 12+k holds 11-k months of 10 m and k+1 of 15 m:
    #         sum over k of (125 + 5 k) m = 1,500 m + 330 m      = 1,830 m
    #   2023: month 24+k holds 11-k months of 15 m: 15 m x 66  =   990 m
    #   2024: nothing left                                      =     0
    months = {y: sum(balance(12 * i + k) for k in range(12)) for i, y in enumerate(YEARS)}
    assert months == {2021: 780 * M, 2022: 1830 * M, 2023: 990 * M, 2024: 0.0}
    year_end = {y: balance(12 * i + 11) for i, y in enumerate(YEARS)}
    assert year_end == {2021: 120 * M, 2022: 180 * M, 2023: 0.0, 2024: 0.0}

    fee = {y: FEE / 12 * months[y] for y in YEARS}  # 2021: 0.65 m
    cost = {y: COST * COVERAGE / 12 * months[y] for y in YEARS}  # 2021: 0.26 m
    fee_subsidy = {y: FEE_SUBSIDY / 12 * months[y] for y in YEARS}  # 2021: 0.325 m
    # 50% of the LPR on 0.6 m of each 1 m loan: 2021 0.02 / 12 x 0.6 x 780 m = 0.78 m
    interest_subsidy = {
        y: SHARE_OF_LPR * LPR / 12 * (SUBSIDISED_PER_LOAN / LOAN) * months[y] for y in YEARS
    }
    injection = {y: INJECTION.get(y, 0.0) for y in YEARS}

    guaranteed = {y: COVERAGE * year_end[y] for y in YEARS}  # 96 m, 144 m, 0, 0
    # Compensation reserve: + 1% of the year-end guarantee balance, up to 1.5% of it.
    #   2021: min(0.96 m + 0.96 m, 1.44 m)   = 0.96 m
    #   2022: min(0.96 m + 1.44 m, 2.16 m)   = 2.16 m  (the cap binds)
    #   2023, 2024: balance 0, so the cap is 0: all 2.16 m is released in 2023 -> 0
    reserve, comp_reserve = 0.0, {}
    for y in YEARS:
        reserve = min(reserve + RESERVE_RATE * guaranteed[y], RESERVE_CAP * guaranteed[y])
        comp_reserve[y] = reserve
    assert comp_reserve[2022] == pytest.approx(2.16 * M, rel=1e-12)
    assert comp_reserve[2023] == 0.0
    assert comp_reserve[2022] < (RESERVE_RATE * (96 + 144)) * M  # the cap binds in 2022
    # Unearned-fee reserve: half of the year's fee income, re-set each year (released in
    # 2024, when there is no fee income).
    unearned = {y: UNEARNED * fee[y] for y in YEARS}

    capital, flows = {}, 0.0
    for y in YEARS:
        flows += fee[y] - cost[y] + fee_subsidy[y] + injection[y]
        capital[y] = NET_ASSETS + flows - unearned[y] - comp_reserve[y]
    # 2021: 100 m + 0.65 - 0.26 + 0.325 - 0.325 (unearned) - 0.96 (reserve) = 99.43 m
    assert capital[2021] == pytest.approx(99.43 * M, rel=1e-12)
    return {
        "capital": capital,
        "fiscal_cost": {y: injection[y] + fee_subsidy[y] + interest_subsidy[y] for y in YEARS},
        "fee_income": fee,
        "guarantee_outstanding": guaranteed,
        "leverage": {y: COVERAGE * LIABILITY_WEIGHT * year_end[y] / capital[y] for y in YEARS},
        "outstanding_amount": year_end,
    }


@pytest.fixture(scope="module")
def results():
    ds = gs.simulate(make_scenario(scenario_dict()), paths=3, seed=7)
    assert float(ds.defaults_count.sum()) == 0.0  # PD 1e-9: no default on these paths
    assert float(ds.unmet_demand_amount.sum()) == 0.0
    return ds


@pytest.mark.parametrize("variable", ["capital", "fee_income", "guarantee_outstanding", "leverage"])
def test_guarantor_money_flows_match_hand_arithmetic(results, variable):
    expected = hand_computed()[variable]
    got = results[variable].sel(party="guarantor")
    for y in YEARS:
        np.testing.assert_allclose(
            got.sel(year=y), expected[y], rtol=REL, atol=1e-6, err_msg=f"{variable} {y}"
        )


def test_fiscal_cost_is_injection_plus_fee_and_interest_subsidies(results):
    expected = hand_computed()["fiscal_cost"]
    # 2021: 0 + 0.325 m + 0.78 m; 2022: 5 m + 0.7625 m + 1.83 m; 2023: 0.4125 m + 0.99 m
    assert expected[2021] == pytest.approx(1.105 * M, rel=1e-12)
    for y in YEARS:
        np.testing.assert_allclose(
            results.fiscal_cost.sel(year=y), expected[y], rtol=REL, atol=1e-6, err_msg=str(y)
        )


def test_lending_and_targets_from_the_same_book(results):
    np.testing.assert_allclose(results.loans_count.sum("segment"), [[120, 180, 0, 0]] * 3, rtol=REL)
    np.testing.assert_allclose(results.borrowers.sum("segment"), [[120, 180, 0, 0]] * 3)
    expected = hand_computed()["outstanding_amount"]
    np.testing.assert_allclose(
        results.outstanding_amount.sum("segment"), [[expected[y] for y in YEARS]] * 3, rtol=REL
    )
    attainment = results.target_attainment
    np.testing.assert_allclose(attainment.sel(target="loans"), 1.0, rtol=REL)
    np.testing.assert_allclose(attainment.sel(target="balance"), 1.2, rtol=REL)
    np.testing.assert_allclose(attainment.sel(target="borrowers_2022"), 0.9, rtol=REL)
    assert results.target_probability.sel(target="loans") == 1.0
    assert results.target_probability.sel(target="balance") == 1.0
    assert results.target_probability.sel(target="borrowers_2022") == 0.0


def test_fiscal_cost_per_borrower_and_per_lending(results):
    total = sum(hand_computed()["fiscal_cost"].values())
    assert float(fiscal_cost_per_borrower(results)) == pytest.approx(total / 300, rel=REL)
    assert float(fiscal_cost_per_lending(results)) == pytest.approx(
        total / (300 * M) * 1e8, rel=REL
    )
    assert float(results.public_loss.sum()) == 0.0
