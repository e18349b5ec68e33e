"""Policy that changes by year (``config/schema.py``, DESIGN §4).

Contract terms (fee, coverage, split) follow the loan's origination year, a renewal takes
its renewal year's; LPR, subsidies, pool contributions and caps apply by calendar year;
the fee cap applies to guarantees written from its ``from_year``. Every comparison runs
the same seed and book (common random numbers): defaults are identical path by path, and
only what the changed terms touch may move.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import base_scenario_dict, make_scenario

import guarantee_sim as gs
from guarantee_sim import ScenarioError

PATHS = 64
SEED = 777
RTOL = 1e-12


def two_years(**changes) -> dict:
    """The base book lent in 2021 and 2022 (tenor 12, no renewals), run off to 2024."""
    data = base_scenario_dict()
    data["horizon"] = {"start_year": 2021, "origination_years": 2, "runoff_months": 24}
    data["segments"]["sme"]["pd"]["mean"] = 0.05
    for key, value in changes.items():
        *path, last = key.split(".")
        node = data
        for part in path:
            node = node[part]
        node[last] = value
    return data


def run(data: dict):
    return gs.simulate(make_scenario(data), paths=PATHS, seed=SEED)


@pytest.fixture(scope="module")
def constant():
    return run(two_years())


def fee(ds):
    return ds.fee_income.sel(party="guarantor")


def test_a_fee_cut_from_2022_changes_only_guarantees_written_from_2022(constant):
    """Fee income of 2021 loans is that of a run whose fee is 0 from 2022 (they alone pay);
    with the cut, income = 2021 loans' + 0.8 x the 2022 loans' of the constant fee."""
    cut = run(two_years(**{"parties.guarantor.fee_rate": {2021: 0.01, 2022: 0.008}}))
    only_2021 = run(two_years(**{"parties.guarantor.fee_rate": {2021: 0.01, 2022: 0.0}}))
    for ds in (cut, only_2021):  # same defaults, path by path
        np.testing.assert_array_equal(ds.default_amount.values, constant.default_amount.values)
        np.testing.assert_array_equal(ds.loss.values, constant.loss.values)
    # 2021: only 2021 loans are alive, their fee is unchanged
    np.testing.assert_array_equal(fee(cut).sel(year=2021), fee(constant).sel(year=2021))
    # 2022 loans pay 0.8% instead of 1%; 2021 loans alive in 2022 still pay 1%
    from_2022 = fee(constant) - fee(only_2021)
    assert float(from_2022.sel(year=2022).min()) > 0.0  # 2022 loans pay in 2022 and 2023
    assert float((fee(only_2021).sel(year=2022)).min()) > 0.0  # 2021 loans still pay in 2022
    np.testing.assert_allclose(fee(cut), fee(only_2021) + 0.8 * from_2022, rtol=RTOL)
    assert float(fee(only_2021).sel(year=2023).max()) == 0.0  # no 2021 loan lives in 2023


def test_a_renewal_takes_the_terms_of_its_renewal_year():
    """Every 2021 loan that survives renews in 2022, at 2022's fee (0 here): no fee is
    earned in 2023, when only 2022 contracts are alive."""
    data = two_years(**{"parties.guarantor.fee_rate": {2021: 0.01, 2022: 0.0}})
    data["segments"]["sme"]["renewal"] = {"rate": 1.0}
    ds = run(data)
    assert float(ds.loans_count.sel(year=2022).min()) > 120  # renewals were written in 2022
    assert float(fee(ds).sel(year=2022).min()) > 0.0  # 2021 contracts alive early in 2022
    assert float(fee(ds).sel(year=2023).max()) == 0.0


def test_a_coverage_change_moves_loss_shares_only_for_loans_written_from_then(constant):
    """Coverage 0.8 -> 0.5 from 2022: 2021 loans' losses are shared at 0.8 (as in a run
    with coverage 0 from 2022, where they alone are covered), 2022 loans' at 0.5."""
    changed = run(two_years(**{"schemes.guaranteed.coverage": {2021: 0.8, 2022: 0.5}}))
    only_2021 = run(two_years(**{"schemes.guaranteed.coverage": {2021: 0.8, 2022: 0.0}}))
    g = {k: ds.loss.sel(party="guarantor") for k, ds in
         (("constant", constant), ("changed", changed), ("only_2021", only_2021))}  # fmt: skip
    np.testing.assert_array_equal(changed.credit_loss.values, constant.credit_loss.values)
    np.testing.assert_array_equal(g["changed"].sel(year=2021), g["constant"].sel(year=2021))
    loans_2022 = g["constant"] - g["only_2021"]  # 0.8 x the loss of 2022 loans
    assert float(loans_2022.sum()) > 0.0 and float(g["only_2021"].sel(year=2022).sum()) > 0.0
    np.testing.assert_allclose(
        g["changed"], g["only_2021"] + 0.5 / 0.8 * loans_2022, rtol=1e-9, atol=1e-3
    )
    # the bank keeps the rest: the parties' losses still add up to the credit loss
    np.testing.assert_allclose(
        changed.loss.sum("party"), changed.credit_loss.sum("segment"), rtol=1e-12
    )


def test_pool_contributions_by_calendar_year_are_paid_into_the_pool():
    """A pool no scheme names: its balance and the fiscal cost are its contributions."""
    data = two_years()
    data["parties"]["pool"] = {
        "kind": "pool",
        "initial_balance": 5.0e6,
        "annual_contribution": {2021: 1.0e6, 2022: 3.0e6},
    }
    ds = run(data)
    np.testing.assert_array_equal(
        ds.fiscal_cost.values, np.tile([1.0e6, 3.0e6, 0.0, 0.0], (PATHS, 1))
    )
    np.testing.assert_array_equal(
        ds.capital.sel(party="pool").values, np.tile([6.0e6, 9.0e6, 9.0e6, 9.0e6], (PATHS, 1))
    )


def test_the_interest_subsidy_follows_the_lpr_of_each_calendar_year():
    """LPR 4% in 2021, 2% from 2022: the subsidy (half the LPR on the whole loan) is the
    constant-LPR run's in 2021 and half of it afterwards, path by path."""
    data = two_years()
    data["policy"] = {
        "lpr": 0.04,
        "interest_subsidy": {
            "share_of_lpr": 0.5,
            "max_amount_per_firm": 1.0e7,
            "tags": ["first_time"],
        },
    }
    base = run(data)
    data["policy"]["lpr"] = {2021: 0.04, 2022: 0.02}
    changed = run(data)
    base_cost = base.fiscal_cost.values
    assert base_cost[:, :3].min() > 0.0  # loans are alive 2021-2023
    np.testing.assert_allclose(changed.fiscal_cost.values[:, 0], base_cost[:, 0], rtol=RTOL)
    np.testing.assert_allclose(changed.fiscal_cost.values[:, 1:], base_cost[:, 1:] / 2, rtol=RTOL)


@pytest.mark.parametrize("renewal", [0.0, 1.0])
def test_the_subsidised_amount_per_loan_is_a_contract_term(renewal):
    """``max_amount_per_firm`` 0.5 m on loans (of 1 m) written from 2022: their subsidy
    halves, 2021 contracts keep theirs (a renewal in 2022 is a 2022 contract)."""
    data = two_years()
    data["segments"]["sme"]["renewal"] = {"rate": renewal}
    subsidy = {"share_of_lpr": 0.5, "max_amount_per_firm": 1.0e7, "tags": ["first_time"]}
    data["policy"] = {"lpr": 0.04, "interest_subsidy": subsidy}
    base = run(data).fiscal_cost
    subsidy["max_amount_per_firm"] = {2021: 1.0e7, 2022: 0.0}
    only_2021 = run(data).fiscal_cost
    subsidy["max_amount_per_firm"] = {2021: 1.0e7, 2022: 0.5e6}
    changed = run(data).fiscal_cost
    assert float((base - only_2021).sel(year=2023).min()) > 0.0
    np.testing.assert_allclose(changed, only_2021 + 0.5 * (base - only_2021), rtol=1e-12)
    if renewal:  # every survivor renews in 2022: nothing of 2021 terms is left in 2023
        assert float(only_2021.sel(year=2023).max()) == 0.0


def test_a_leverage_cap_applies_by_calendar_year():
    """A cap that leaves almost no room from 2022 (0.1 m of liability) refuses nearly all
    2022 lending and none of 2021's (the same demand each year)."""
    ds = run(two_years(**{"parties.guarantor.leverage_cap": {2021: 10.0, 2022: 1e-4}}))
    unmet = ds.unmet_demand_amount.sel(segment="sme")
    lent = ds.loans_amount.sel(segment="sme")
    assert float(unmet.sel(year=2021).max()) == 0.0
    np.testing.assert_allclose(unmet.sel(year=2022) + lent.sel(year=2022), lent.sel(year=2021))
    assert float(lent.sel(year=2022).max()) < 0.01 * float(lent.sel(year=2021).min())


def test_the_fee_cap_switching_on_mid_horizon():
    """A 2% fee is fine before the cap's from_year and refused from it, naming the key, the
    year and the allowed value."""
    ok = make_scenario(
        **{
            "horizon.origination_years": 2,
            "policy.fee_cap": {"from_year": 2022},
            "parties.guarantor.fee_rate": {2021: 0.02, 2022: 0.01},
        }
    )
    assert ok.policy.fee_cap.applies_in(2022) and not ok.policy.fee_cap.applies_in(2021)
    with pytest.raises(ScenarioError) as info:
        make_scenario(
            **{
                "horizon.origination_years": 2,
                "policy.fee_cap": {"from_year": 2022},
                "parties.guarantor.fee_rate": 0.02,
            }
        )
    err = info.value
    assert err.key == "parties.guarantor.fee_rate"
    assert "fee 0.02 on guarantees written in 2022" in str(err)
    assert "allowed in 2022: <= 0.01" in str(err)


def test_a_per_year_fee_cap_is_judged_year_by_year():
    cap = {"bands": [{"max_amount": 5e6, "rate": {2021: 0.02, 2022: 0.01}}, {"rate": 0.015}]}
    changes = {"horizon.origination_years": 2, "policy.fee_cap": cap}
    make_scenario(**changes, **{"parties.guarantor.fee_rate": {2021: 0.015, 2022: 0.01}})
    with pytest.raises(ScenarioError) as info:
        make_scenario(**changes, **{"parties.guarantor.fee_rate": {2021: 0.015, 2022: 0.012}})
    assert info.value.key == "parties.guarantor.fee_rate.2022"
    assert "exceeds the policy fee cap 0.01 " in str(info.value)


@pytest.mark.parametrize(
    "key",
    ["parties.guarantor.fee_rate", "policy.lpr", "schemes.guaranteed.coverage"],
)
def test_years_outside_the_horizon_are_an_error(key):
    with pytest.raises(ScenarioError) as info:
        make_scenario(**{key: {2021: 0.01, 2024: 0.005}})
    assert info.value.key == f"{key}.2024"
    assert "year 2024 is outside the horizon 2021-2023" in str(info.value)


def test_a_per_year_split_must_sum_to_one_in_every_year():
    data = two_years()
    data["parties"]["fund"] = {"kind": "reguarantor", "fallback": "guarantor"}
    split = {"guarantor": {2021: 1.0, 2022: 0.5}, "fund": {2021: 0.0, 2022: 0.4}}
    data["schemes"]["guaranteed"]["split"] = split
    with pytest.raises(ScenarioError) as info:
        make_scenario(data)
    assert info.value.key == "schemes.guaranteed.split"
    assert "must sum to 1 in 2022, got 0.9" in str(info.value)


def test_without_per_year_values_there_is_one_contract_class():
    from guarantee_sim.engine.inputs import band_edges, contract_classes

    s = make_scenario(two_years())
    assert contract_classes(s, band_edges(s)).of_year.tolist() == [0, 0]
    s = make_scenario(two_years(**{"parties.guarantor.fee_rate": {2021: 0.01, 2022: 0.008}}))
    assert contract_classes(s, band_edges(s)).of_year.tolist() == [0, 1]
