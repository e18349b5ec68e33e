"""Guarantor capital, leverage rationing and the directions economics dictates (DESIGN §4, §6).

* New guarantees are rationed so that weighted liability / net assets never exceeds the
  leverage cap at origination, and the refused lending shows as unmet demand.
* On the paths where guarantor capital falls most, unmet demand is higher and target
  attainment lower.
* With the same seed (common random numbers): more coverage moves loss from the bank to
  the guarantor; a larger pool runs dry later and more rarely; a stress year has more
  defaults; priority rationing serves the priority segment first.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from conftest import base_scenario_dict, make_scenario

import guarantee_sim as gs

M = 1.0e6


def sim(data, paths, seed):
    return gs.simulate(make_scenario(data), paths=paths, seed=seed)


def lending_dict(*, years=2, count=240, net_assets=1.0e7, pd=0.03, rho=0.2, reserves=True):
    """The base book (1 m loans, 12-month tenor, coverage 0.8, liability weight 0.75,
    so 0.6 of weighted liability per CNY lent) with 20 m a month of demand and a guarantor
    whose 10x cap allows only about 100 m of liability: the cap binds after ~8 months."""
    d = base_scenario_dict()
    d["horizon"] = {"start_year": 2021, "origination_years": years, "runoff_months": 24}
    d["segments"]["sme"].update(
        pd={"mean": pd}, correlation=rho, lgd=0.6, lending={"count_per_year": count}
    )
    g = d["parties"]["guarantor"]
    g.update(net_assets=net_assets, leverage_cap=10.0)
    if not reserves:
        g.update(operating_cost_rate=0.0, unearned_fee_reserve=0.0, compensation_reserve_rate=0.0)
    return d


# --------------------------------------------------------------------------- leverage cap


def test_rationing_keeps_leverage_exactly_at_cap_known_answer():
    """No defaults (PD 1e-9), no costs or reserves: net assets only grow by fees, so
    leverage moves only with new guarantees.

    Hand recurrence for 2021 (tenor 12, nothing matures in 2021), with N net assets, L
    weighted liability, B balance, demand 20 m a month = 12 m of liability:
        room = 10 N - L;  a = min(1, room / 12 m);  L += 12 m a;  B += 20 m a;
        unmet += 20 m (1 - a);  N += 1% / 12 x B   (fee accrues after origination)
    Months 0-7 are admitted in full: N after month 7 = 10 m + 0.01/12 x 20 m x (1+..+8)
    = 10.6 m, L = 96 m; month 8: room = 106 - 96 = 10 m -> a = 10/12, unmet 3.33 m, and
    leverage is then 106 / 10.6 = 10 exactly; so on to December.
    """
    data = lending_dict(pd=1e-9, reserves=False)
    ds = sim(data, paths=3, seed=1)
    assert float(ds.defaults_count.sum()) == 0.0
    net, liability, balance, unmet = 10.0 * M, 0.0, 0.0, 0.0
    admitted = []
    for _ in range(12):
        a = min(1.0, max(10.0 * net - liability, 0.0) / (12 * M))
        admitted.append(a)
        liability += 12 * M * a
        balance += 20 * M * a
        unmet += 20 * M * (1.0 - a)
        net += 0.01 / 12 * balance
    assert admitted[:8] == [1.0] * 8 and admitted[8] == pytest.approx(10 / 12)
    g = ds.sel(party="guarantor")
    np.testing.assert_allclose(
        ds.unmet_demand_amount.sel(year=2021).sum("segment"), unmet, rtol=1e-9
    )
    np.testing.assert_allclose(ds.loans_amount.sel(year=2021).sum("segment"), balance, rtol=1e-9)
    np.testing.assert_allclose(g.capital.sel(year=2021), net, rtol=1e-9)
    # the cap binds in both origination years, and is never exceeded
    lev = g.max_origination_leverage.sel(year=[2021, 2022]).values
    assert (lev <= 10.0 + 1e-9).all()
    np.testing.assert_allclose(lev, 10.0, rtol=1e-9)
    assert (ds.unmet_demand_amount.sel(year=[2021, 2022]).sum("segment") > 0).all()
    # flagged in the years it rationed (both origination years), not in the run-off years
    np.testing.assert_array_equal(g.leverage_cap_binding.values, [[1.0, 1.0, 0.0, 0.0]] * 3)
    assert (g.capital_exhausted == 0.0).all()


@pytest.mark.many_draws
def test_leverage_never_exceeds_cap_at_origination_when_cap_binds():
    """Realistic case: defaults, operating cost, reserves set at year end. The cap binds
    (unmet demand > 0 on every path), and leverage after a month's new guarantees never
    exceeds 10 on any path or year."""
    data = lending_dict(years=3, net_assets=1.2e7, pd=0.04, rho=0.25)
    ds = sim(data, paths=40, seed=11)
    g = ds.sel(party="guarantor")
    origination = [2021, 2022, 2023]
    assert (ds.unmet_demand_amount.sel(year=origination).sum(["segment", "year"]) > 0).all()
    lev = g.max_origination_leverage.sel(year=origination).values
    assert np.nanmax(lev) > 9.99  # the cap is reached
    worst = np.unravel_index(np.nanargmax(lev), lev.shape)
    assert np.nanmax(lev) <= 10.0 + 1e-9, (
        f"max_origination_leverage {np.nanmax(lev):.4f} > cap 10 on path {worst[0]}, "
        f"year {origination[worst[1]]}"
    )


# --------------------------------------------------------------------------- capital and targets


@pytest.mark.many_draws
def test_paths_with_least_capital_have_more_unmet_demand_and_lower_attainment():
    """Tight capital over three origination years (net assets 12 m, cap 10x, demand 240 m
    a year, PD 4%, rho 0.25). Paths in the worst decile of end-2022 guarantor capital ration
    more in 2023 and reach less of the 720 m lending target than the best decile."""
    data = lending_dict(years=3, net_assets=1.2e7, pd=0.04, rho=0.25)
    data["targets"] = {
        "lending": {
            "metric": "loans_amount",
            "tags": ["guaranteed"],
            "kind": "flow",
            "from_year": 2021,
            "to_year": 2023,
            "value": 720e6,
        }
    }
    ds = sim(data, paths=80, seed=11)
    capital = ds.capital.sel(party="guarantor", year=2022).values
    order = np.argsort(capital, kind="stable")
    n = len(order) // 10
    worst, best = order[:n], order[-n:]
    assert capital[worst].max() < capital[best].min()
    unmet = ds.unmet_demand_amount.sum("segment")
    unmet_total = unmet.sum("year").values
    unmet_2023 = unmet.sel(year=2023).values
    attainment = ds.target_attainment.sel(target="lending").values
    assert (unmet_total[worst] > 0).all()
    assert unmet_2023[worst].mean() > unmet_2023[best].mean()
    assert attainment[worst].mean() < attainment[best].mean()
    assert attainment[worst].max() < 1.0
    # and across all paths: less capital, more rationing in the following year
    rank = np.corrcoef(np.argsort(np.argsort(capital)), np.argsort(np.argsort(unmet_2023)))[0, 1]
    assert rank < -0.5


# --------------------------------------------------------------------------- directions


@pytest.mark.many_draws
def test_more_coverage_raises_guarantor_loss_and_lowers_bank_loss():
    """Coverage 0.5 -> 0.8 with the same seed: identical defaults (ample capital, nothing
    rationed), the guarantor's loss rises and the bank's falls, path by path."""
    base = base_scenario_dict()
    base["segments"]["sme"]["pd"] = {"mean": 0.05}
    results = {}
    for coverage in (0.5, 0.8):
        data = copy.deepcopy(base)
        data["schemes"]["guaranteed"]["coverage"] = coverage
        results[coverage] = sim(data, paths=100, seed=21)
    lo, hi = results[0.5], results[0.8]
    np.testing.assert_array_equal(lo.credit_loss.values, hi.credit_loss.values)
    g_lo = lo.loss.sel(party="guarantor").sum("year").values
    g_hi = hi.loss.sel(party="guarantor").sum("year").values
    b_lo = lo.loss.sel(party="bank").sum("year").values
    b_hi = hi.loss.sel(party="bank").sum("year").values
    assert (g_hi >= g_lo).all() and (b_hi <= b_lo).all()
    assert g_hi.mean() > g_lo.mean() and b_hi.mean() < b_lo.mean()
    # with ample capital the shares are exact: 0.8/0.5 of the guarantor's loss
    np.testing.assert_allclose(g_hi, g_lo * 0.8 / 0.5, rtol=1e-9)


def pool_dict(balance):
    """Credit loans (100 a year of 1 m for 4 years, PD 4%, rho 0.2, LGD 0.7) with a pool
    taking half of each loss, no top-ups."""
    d = base_scenario_dict()
    d["horizon"] = {"start_year": 2021, "origination_years": 4, "runoff_months": 24}
    d["segments"]["sme"].update(
        pd={"mean": 0.04},
        correlation=0.2,
        lgd=0.7,
        scheme="credit_pool",
        tags=["credit"],
        lending={"count_per_year": 100},
    )
    d["parties"] = {
        "bank": {"kind": "bank"},
        "pool": {"kind": "pool", "initial_balance": balance, "lag_months": 3},
    }
    d["schemes"] = {"credit_pool": {"coverage": 0.5, "split": {"pool": 1.0}}}
    return d


@pytest.mark.many_draws
def test_larger_pool_runs_dry_later_and_more_rarely():
    from guarantee_sim.results.metrics import depletion_probability

    small = sim(pool_dict(2.0 * M), paths=200, seed=5)
    large = sim(pool_dict(6.0 * M), paths=200, seed=5)
    np.testing.assert_array_equal(small.defaults_count.values, large.defaults_count.values)
    p_small = float(depletion_probability(small).sel(party="pool"))
    p_large = float(depletion_probability(large).sel(party="pool"))
    assert p_small > 0.2 and p_large < p_small - 0.2

    def first_shortfall_year(ds):
        short = ds.shortfall.sel(party="pool").values > 0
        never = short.shape[1]  # later than any year
        return np.where(short.any(axis=1), short.argmax(axis=1), never)

    f_small, f_large = first_shortfall_year(small), first_shortfall_year(large)
    # path by path: a larger pool is never short earlier (its uncommitted balance is
    # always at least the smaller pool's)
    assert (f_large >= f_small).all()
    assert f_large.mean() > f_small.mean()
    both = (f_small < small.sizes["year"]) & (f_large < large.sizes["year"])
    assert both.sum() >= 10
    assert f_large[both].mean() > f_small[both].mean()


@pytest.mark.many_draws
def test_stress_year_has_more_defaults_that_year():
    """A downturn of 1.5 sd in 2022 only: 2021 unchanged, more defaults in 2022 on every
    path (weakly) and on average (strictly)."""
    base = base_scenario_dict()
    base["horizon"]["origination_years"] = 2
    base["segments"]["sme"]["correlation"] = 0.15
    stressed = copy.deepcopy(base)
    stressed["macro"] = {"downturn_z": {2022: 1.5}}
    a, b = sim(base, paths=100, seed=8), sim(stressed, paths=100, seed=8)
    np.testing.assert_array_equal(
        a.defaults_count.sel(year=2021).values, b.defaults_count.sel(year=2021).values
    )
    d_a = a.defaults_count.sel(year=2022).sum("segment").values
    d_b = b.defaults_count.sel(year=2022).sum("segment").values
    assert (d_b >= d_a).all()
    assert d_b.mean() > 1.5 * d_a.mean()
    assert float(b.credit_loss.sel(year=2022).sum()) > float(a.credit_loss.sel(year=2022).sum())


def priority_dict(rationing, first_count=60, second_count=120, years=2):
    """Two guaranteed segments (liability 0.6 per CNY lent), net assets 5 m, cap 10x:
    50 m of weighted liability. "first" has guarantee_priority 0 but is listed second, so
    priority is not list order."""
    d = base_scenario_dict()
    d["horizon"]["origination_years"] = years
    first = d["segments"]["sme"]
    first.update(lending={"count_per_year": first_count}, guarantee_priority=0)
    second = copy.deepcopy(first)
    second.update(
        lending={"count_per_year": second_count}, guarantee_priority=1, tags=["guaranteed"]
    )
    d["segments"] = {"second": second, "first": first}
    d["parties"]["guarantor"].update(net_assets=5.0e6, leverage_cap=10.0)
    d["policy"] = {"rationing": rationing}
    return d


def month_zero_book(n_first, n_second):
    """All lending in January 2021: n_first + n_second loans of 1 m, tenor 12."""
    from guarantee_sim.book import LoanBook

    segments = [1] * n_first + [0] * n_second  # 0 second, 1 first
    return LoanBook.from_records(
        {"segment": seg, "month": 0, "tenor": 12, "amount": M, "id_hi": 5, "id_lo": k}
        for k, seg in enumerate(segments)
    )


@pytest.mark.parametrize(
    "rationing, unmet_first, unmet_second",
    [
        # demand in January: first 30 m (18 m of liability), second 100 m (60 m); room 50 m.
        # priority: first in full (18 m), second 32 / 60 of its demand:
        #   unmet first 0, unmet second 100 x (1 - 32/60) = 46.667 m
        ("priority", 0.0, 100 * M * (1 - 32 / 60)),
        # pro rata: both 50 / 78 of their demand:
        #   unmet first 30 x 28/78 = 10.769 m, second 100 x 28/78 = 35.897 m
        ("pro_rata", 30 * M * 28 / 78, 100 * M * 28 / 78),
    ],
)
def test_rationing_known_answer(rationing, unmet_first, unmet_second):
    """No defaults (PD 1e-9) and no lending after January, so leverage only falls after
    month 0 (fees raise net assets): the month-0 figures are the whole year's."""
    data = priority_dict(rationing, years=1)
    data["segments"]["first"]["pd"] = data["segments"]["second"]["pd"] = {"mean": 1e-9}
    ds = gs.simulate(make_scenario(data), paths=2, seed=4, book=month_zero_book(30, 100))
    unmet = ds.unmet_demand_amount.sel(year=2021)
    np.testing.assert_allclose(unmet.sel(segment="first"), unmet_first, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(unmet.sel(segment="second"), unmet_second, rtol=1e-12)
    lent = ds.loans_amount.sel(year=2021)
    np.testing.assert_allclose(lent.sel(segment="first"), 30 * M - unmet_first, rtol=1e-12)
    np.testing.assert_allclose(lent.sel(segment="second"), 100 * M - unmet_second, rtol=1e-12)
    np.testing.assert_allclose(
        ds.max_origination_leverage.sel(party="guarantor", year=2021), 10.0, rtol=1e-12
    )


def test_priority_rationing_serves_the_priority_segment_first():
    """Monthly demand 5 m (first) and 10 m (second) for two years. Under priority, in any
    month where "second" is admitted anything "first" is admitted in full, so first's
    refused share of its demand is never above second's; pro rata the shares are equal."""
    prio = sim(priority_dict("priority"), paths=20, seed=4)
    pro = sim(priority_dict("pro_rata"), paths=20, seed=4)
    years = [2021, 2022]
    demand = {"first": 60 * M, "second": 120 * M}
    r_prio = {s: prio.unmet_demand_amount.sel(year=years, segment=s) / d for s, d in demand.items()}
    r_pro = {s: pro.unmet_demand_amount.sel(year=years, segment=s) / d for s, d in demand.items()}
    assert float(r_prio["second"].min()) > 0  # the cap binds every year on every path
    assert (r_prio["first"] <= r_prio["second"] + 1e-12).all()
    assert float(r_prio["first"].mean()) < float(r_prio["second"].mean()) - 0.1
    np.testing.assert_allclose(r_pro["first"], r_pro["second"], rtol=1e-9)
    # priority moves lending from "second" to "first"
    lent_first = {
        k: float(v.loans_amount.sel(segment="first").sum())
        for k, v in (("prio", prio), ("pro", pro))
    }
    assert lent_first["prio"] > lent_first["pro"]
