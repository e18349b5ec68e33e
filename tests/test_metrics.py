"""Known answers for every metric of ``guarantee_sim.results`` on hand-built Datasets.

Each test states its inputs with :func:`guarantee_sim.testing.results_dataset` and the
answer worked out by hand in the test, never the metric compared with itself.

Conventions pinned here:

* VaR at level q is the linear-interpolation quantile across paths (NumPy's "linear",
  Hyndman-Fan type 7): sort the n values x(0) <= ... <= x(n-1), take h = (n - 1) q and
  x(floor h) + (h - floor h) (x(floor h + 1) - x(floor h)).
* ES at level q is the plain mean of the worst k = ceil((1 - q) n) values (k >= 1), with
  (1 - q) n that is an integer up to rounding taken as that integer.
* A flow target sums its metric over from_year..to_year; a stock target takes the year-end
  value of to_year. Both count only segments carrying *all* the target's tags.
* Fiscal cost per borrower and per 100 m CNY are ratios of means over paths.
* A pool is "depleted" on a path if its shortfall is positive in any year; a guarantor is
  insolvent on a path if its year-end capital is <= 0 in any year.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import xarray as xr

import guarantee_sim.testing
from guarantee_sim.results import (
    breaker_probability,
    depletion_probability,
    expected_shortfall,
    fiscal_cost_per_borrower,
    fiscal_cost_per_lending,
    insolvency_probability,
    loss_summary,
    segments_with_tags,
    target_attainment,
    value_at_risk,
    yearly_summary,
)
from guarantee_sim.testing import results_dataset

M = 1.0e6
REL = 1e-12
PARTIES = {"bank": "bank", "guarantor": "guarantor", "pool": "pool"}


def paths(values) -> xr.DataArray:
    return xr.DataArray(np.asarray(values, dtype=float), dims="path")


def test_testing_module_examples_run():
    failed, attempted = doctest.testmod(guarantee_sim.testing)
    assert attempted > 0 and failed == 0


# --------------------------------------------------------------------------- VaR and ES


@pytest.mark.parametrize(
    "level, expected",
    [
        # sorted 0, 10, 20, 30, 40; h = 4 q
        (0.5, 20.0),  # h = 2: x(2)
        (0.9, 36.0),  # h = 3.6: 30 + 0.6 x 10
        (0.99, 39.6),  # h = 3.96: 30 + 0.96 x 10
        (0.999, 39.96),  # h = 3.996
        (1.0, 40.0),
    ],
)
def test_value_at_risk_interpolates_linearly_between_order_statistics(level, expected):
    values = paths([10.0, 0.0, 40.0, 20.0, 30.0])  # unsorted on purpose
    assert float(value_at_risk(values, level)) == pytest.approx(expected, rel=REL)


FIVE = [10.0, 0.0, 40.0, 20.0, 30.0]  # unsorted on purpose
TENS = list(np.arange(200, 0, -1) * 10.0)  # 2000, 1990, .., 10: descending on purpose


@pytest.mark.parametrize(
    "values, level, expected",
    [
        (FIVE, 0.99, 40.0),  # k = ceil(0.05) = 1: the worst path
        (FIVE, 0.6, 35.0),  # k = ceil(2.0) = 2: (30 + 40) / 2
        (TENS, 0.99, 1995.0),  # k = 2: (1990 + 2000) / 2
        # (1 - 0.95) x 200 is 10.000000000000009 in floating point: still k = 10,
        # mean of 1910 .. 2000 = 1955 (k = 11 would give 1950)
        (TENS, 0.95, 1955.0),
        (TENS, 0.999, 2000.0),  # k = ceil(0.2) = 1
    ],
)
def test_expected_shortfall_is_the_mean_of_the_worst_k_paths(values, level, expected):
    assert float(expected_shortfall(paths(values), level)) == pytest.approx(expected, rel=REL)


def test_loss_summary_per_party_over_the_run_and_per_year():
    """Ten paths, two years. The guarantor loses 1 m .. 10 m over the run (path p:
    0.4 (p + 1) m in 2021, 0.6 (p + 1) m in 2022); the pool 3 m on path 9 in 2022 only."""
    k = np.arange(1, 11)
    ds = results_dataset(
        years=[2021, 2022],
        segments={"sme": ["guaranteed"]},
        parties=PARTIES,
        loss={
            "guarantor": np.stack([0.4 * k * M, 0.6 * k * M], axis=1),
            "pool": [[0.0, 0.0]] * 9 + [[0.0, 3 * M]],
        },
    )
    run = loss_summary(ds)
    g, pool = run.sel(party="guarantor"), run.sel(party="pool")
    assert float(g["mean"]) == pytest.approx(5.5 * M, rel=REL)
    assert float(g["var_99"]) == pytest.approx(9.91 * M, rel=REL)  # h = 9 x 0.99 = 8.91
    assert float(g["var_99_9"]) == pytest.approx(9.991 * M, rel=REL)  # h = 8.991
    assert float(g["es_99"]) == pytest.approx(10 * M, rel=REL)  # k = ceil(0.1) = 1
    assert float(pool["mean"]) == pytest.approx(0.3 * M, rel=REL)
    assert float(pool["var_99"]) == pytest.approx(0.91 * 3 * M, rel=REL)  # 0 + 0.91 x 3 m
    assert float(pool["es_99"]) == pytest.approx(3 * M, rel=REL)
    assert float(run["mean"].sel(party="bank")) == 0.0
    assert run["es_99"].attrs["units"] == "CNY"
    per_year = loss_summary(ds, per_year=True).sel(party="guarantor")
    assert float(per_year["mean"].sel(year=2021)) == pytest.approx(2.2 * M, rel=REL)
    assert float(per_year["var_99"].sel(year=2022)) == pytest.approx(0.6 * 9.91 * M, rel=REL)
    assert float(per_year["es_99"].sel(year=2021)) == pytest.approx(4 * M, rel=REL)
    assert float(loss_summary(ds, per_year=True)["var_99"].sel(party="pool", year=2021)) == 0


# --------------------------------------------------------------------------- targets

YEARS = [2021, 2022, 2023]
SEGMENTS = {
    "first_guaranteed": ["first_time", "guaranteed"],
    "guaranteed": ["guaranteed"],
    "credit": ["credit"],
}


def test_segments_with_tags_needs_every_tag():
    ds = results_dataset(years=YEARS, segments=SEGMENTS, parties=PARTIES, paths=1)
    assert segments_with_tags(ds, ["guaranteed"]) == ["first_guaranteed", "guaranteed"]
    assert segments_with_tags(ds, ["first_time", "guaranteed"]) == ["first_guaranteed"]
    assert segments_with_tags(ds, ["first_time", "credit"]) == []
    assert segments_with_tags(ds, []) == list(SEGMENTS)


def test_flow_target_sums_its_period_over_the_tagged_segments():
    """Loans amount (m CNY) per path, year, segment; the target counts guaranteed
    segments over 2021-2022 (not 2023, not credit) and is 100 m."""
    amount = np.array(
        [
            # first_guaranteed, guaranteed, credit
            [[10, 20, 500], [30, 40, 500], [900, 900, 900]],  # path 0: 10+20+30+40 = 100
            [[5, 5, 500], [10, 10, 500], [900, 900, 900]],  # path 1: 30
            [[60, 0, 0], [0, 90, 0], [0, 0, 0]],  # path 2: 150
        ]
    )
    ds = results_dataset(
        years=YEARS,
        segments=SEGMENTS,
        parties=PARTIES,
        loans_amount=amount * M,
        targets={
            "lending": {
                "metric": "loans_amount",
                "tags": ["guaranteed"],
                "kind": "flow",
                "from_year": 2021,
                "to_year": 2022,
                "value": 100 * M,
            },
            "first_lending_2022": {
                "metric": "loans_amount",
                "tags": ["first_time", "guaranteed"],
                "kind": "flow",
                "from_year": 2022,
                "to_year": 2022,
                "value": 20 * M,
            },
        },
    )
    attainment = target_attainment(ds)
    assert attainment.dims == ("path", "target")
    np.testing.assert_allclose(attainment.sel(target="lending"), [1.0, 0.3, 1.5], rtol=REL)
    np.testing.assert_allclose(
        attainment.sel(target="first_lending_2022"), [30 / 20, 10 / 20, 0.0], rtol=REL
    )
    # probability: attainment >= 1 counts as met (path 0 meets "lending" exactly)
    np.testing.assert_allclose(ds.target_probability, [2 / 3, 1 / 3], rtol=REL)


def test_stock_target_is_read_at_the_end_of_its_period():
    """A year-end balance target over 2021-2023 of 120 m in renewal segments: the 2023
    balance counts; 2021 and 2022 (different on purpose) do not."""
    balance = np.array(
        [
            # renewal, renewal_guaranteed, other
            [[200, 0, 1], [50, 50, 1], [60, 60, 1]],  # path 0: 2023 = 120 -> 1.0
            [[10, 10, 1], [500, 0, 1], [30, 0, 1]],  # path 1: 30 -> 0.25
        ]
    )
    ds = results_dataset(
        years=YEARS,
        segments={
            "renewal": ["renewal"],
            "renewal_guaranteed": ["renewal", "guaranteed"],
            "other": ["existing"],
        },
        parties=PARTIES,
        outstanding_amount=balance * M,
        targets={
            "renewal_balance": {
                "metric": "outstanding_amount",
                "tags": ["renewal"],
                "kind": "stock",
                "from_year": 2021,
                "to_year": 2023,
                "value": 120 * M,
            },
            "renewal_balance_2022": {
                "metric": "outstanding_amount",
                "tags": ["renewal"],
                "kind": "stock",
                "from_year": 2021,
                "to_year": 2022,
                "value": 100 * M,
            },
        },
    )
    attainment = target_attainment(ds)
    np.testing.assert_allclose(attainment.sel(target="renewal_balance"), [1.0, 0.25], rtol=REL)
    np.testing.assert_allclose(attainment.sel(target="renewal_balance_2022"), [1.0, 5.0], rtol=REL)
    np.testing.assert_allclose(ds.target_probability, [0.5, 1.0], rtol=REL)


# --------------------------------------------------------------------------- fiscal cost


def fiscal_dataset():
    """Two paths, two years. First-time segments serve 30 and 50 borrowers with 45 and 80
    loans (a borrower may take several loans, and renewals are loans, not borrowers);
    another segment has 1,000 borrowers that must not count."""
    borrowers = {
        "first_credit": [[10.0, 10.0], [20.0, 20.0]],  # 20, 40
        "first_guaranteed": [[5.0, 5.0], [5.0, 5.0]],  # 10, 10  -> 30, 50
        "existing": [[500.0, 500.0], [500.0, 500.0]],
    }
    loans = {
        "first_credit": [[15.0, 15.0], [30.0, 30.0]],
        "first_guaranteed": [[7.5, 7.5], [10.0, 10.0]],  # -> 45, 80
        "existing": [[600.0, 600.0], [600.0, 600.0]],
    }
    return results_dataset(
        years=[2021, 2022],
        segments={
            "first_credit": ["first_time", "credit"],
            "first_guaranteed": ["first_time", "guaranteed"],
            "existing": ["existing"],
        },
        parties=PARTIES,
        borrowers=borrowers,
        loans_count=loans,
        # lending: path 0 100 m + 100 m, path 1 300 m + 100 m (mean 300 m)
        loans_amount={"existing": [[100 * M, 100 * M], [300 * M, 100 * M]]},
        # fiscal cost: path 0 1.0 m + 0.6 m, path 1 2.0 m + 0.8 m (mean 2.2 m)
        fiscal_cost=[[1.0 * M, 0.6 * M], [2.0 * M, 0.8 * M]],
    )


def test_fiscal_cost_per_first_time_borrower_divides_by_borrowers_not_loans():
    # mean fiscal cost 2.2 m / mean first-time borrowers (30 + 50) / 2 = 40 -> 55,000 CNY
    # (per loan it would be 2.2 m / 62.5 = 35,200; the mean of path ratios 1.6 m / 30 and
    # 2.8 m / 50 would be 54,666.67: both wrong)
    ds = fiscal_dataset()
    assert float(fiscal_cost_per_borrower(ds)) == pytest.approx(55_000.0, rel=REL)
    # other tags: the guaranteed first-time segment alone, 10 borrowers a path
    assert float(fiscal_cost_per_borrower(ds, tags=("guaranteed",))) == pytest.approx(
        220_000.0, rel=REL
    )


def test_fiscal_cost_per_100m_of_lending():
    # mean fiscal cost 2.2 m / mean lending 300 m x 100 m = 733,333.33 CNY per 100 m
    ds = fiscal_dataset()
    assert float(fiscal_cost_per_lending(ds)) == pytest.approx(2.2 / 300 * 1e8, rel=REL)
    assert float(fiscal_cost_per_lending(ds, per=1.0)) == pytest.approx(2.2 / 300, rel=REL)


# --------------------------------------------------------------------------- depletion, insolvency


def test_depletion_and_breaker_probabilities_count_their_own_event():
    """Four paths, three years, two pools. pool_a is depleted on path 1 (2021) and path 3
    (2023): 2 of 4; its breaker trips on paths 0 and 1 (1 of them both) and on path 2 in
    two years: 3 of 4. pool_b: neither, though it fell short on every path (a shortfall
    alone, e.g. by a breaker or an ineligible segment, is not depletion). The guarantor's
    flags are not a pool's."""
    ds = results_dataset(
        years=YEARS,
        segments={"sme": []},
        parties={"bank": "bank", "guarantor": "guarantor", "pool_a": "pool", "pool_b": "pool"},
        pool_depleted={"pool_a": [[0, 0, 0], [1, 0, 0], [0, 0, 0], [0, 0, 1]]},
        pool_breaker_tripped={"pool_a": [[0, 1, 0], [1, 1, 1], [1, 1, 0], [0, 0, 0]]},
        shortfall={"pool_b": [[1 * M, 0, 0]] * 4, "guarantor": [[1 * M, 1 * M, 1 * M]] * 4},
        capital={"pool_a": 0.0, "pool_b": 0.0},  # an empty balance alone is not depletion
    )
    p = depletion_probability(ds)
    assert list(p.party.values) == ["pool_a", "pool_b"]
    assert float(p.sel(party="pool_a")) == 0.5
    assert float(p.sel(party="pool_b")) == 0.0
    b = breaker_probability(ds)
    assert list(b.party.values) == ["pool_a", "pool_b"]
    assert float(b.sel(party="pool_a")) == 0.75
    assert float(b.sel(party="pool_b")) == 0.0
    assert float(ds.gs.breaker_probability().sel(party="pool_a")) == 0.75
    # named for what they are, a share of paths (it came back as `shortfall`, in CNY)
    for probability in (p, b, insolvency_probability(ds)):
        assert probability.name.endswith("_probability")
        assert probability.attrs["units"] == "1" and probability.attrs["long_name"]


def test_insolvency_probability_counts_paths_with_capital_at_or_below_zero():
    """Four paths: capital always positive; exactly 0 at end-2022; negative in 2021 and
    recapitalised later; tiny but positive. Insolvent on paths 1 and 2: 0.5."""
    ds = results_dataset(
        years=YEARS,
        segments={"sme": []},
        parties={"bank": "bank", "guarantor": "guarantor", "small": "guarantor"},
        capital={
            "guarantor": [
                [10 * M, 8 * M, 9 * M],
                [5 * M, 0.0, 2 * M],
                [-1 * M, 3 * M, 4 * M],
                [1e-6, 1e-6, 1e-6],
            ],
            "small": [[-1.0, -1.0, -1.0]] * 4,
        },
    )
    p = insolvency_probability(ds)
    assert list(p.party.values) == ["guarantor", "small"]
    assert float(p.sel(party="guarantor")) == 0.5
    assert float(p.sel(party="small")) == 1.0


# --------------------------------------------------------------------------- yearly summary


def test_yearly_summary_means_over_paths():
    """Two paths, two years, one guarantor and two pools."""
    ds = results_dataset(
        years=[2021, 2022],
        segments={"a": [], "b": []},
        parties={"bank": "bank", "guarantor": "guarantor", "p1": "pool", "p2": "pool"},
        loans_amount={"a": [[10.0, 20.0], [30.0, 40.0]], "b": [[1.0, 1.0], [1.0, 1.0]]},
        capital={
            "guarantor": [[100.0, 50.0], [300.0, -10.0]],
            "p1": [[7.0, 5.0], [3.0, 1.0]],
            "p2": [[1.0, 1.0], [1.0, 1.0]],
        },
        # the insolvent path's leverage is infinite: left out of the mean
        leverage={"guarantor": [[2.0, 4.0], [6.0, np.inf]]},
        fiscal_cost=[[1.0, 2.0], [3.0, 6.0]],
    )
    ys = yearly_summary(ds)
    np.testing.assert_allclose(ys["loans_amount"], [21.0, 31.0], rtol=REL)
    np.testing.assert_allclose(ys["guarantor_capital"], [200.0, 20.0], rtol=REL)
    np.testing.assert_allclose(ys["guarantor_leverage"], [4.0, 4.0], rtol=REL)
    np.testing.assert_allclose(ys["pool_balance"], [6.0, 4.0], rtol=REL)  # (7+1+3+1)/2 ..
    np.testing.assert_allclose(ys["fiscal_cost"], [2.0, 4.0], rtol=REL)
    assert ys["guarantor_capital"].attrs["units"] == "CNY"


def test_yearly_summary_finds_the_guarantor_whatever_it_is_called():
    ds = results_dataset(
        years=[2021],
        segments={"a": []},
        parties={"bank": "bank", "city_fund": "guarantor"},
        capital={"city_fund": [[100.0], [300.0]]},
    )
    ys = yearly_summary(ds)
    assert ys.attrs["guarantor"] == "city_fund"
    np.testing.assert_allclose(ys["guarantor_capital"], [200.0], rtol=REL)


def test_the_accessor_offers_every_metric():
    """Each function of the metrics and cost modules that takes a results Dataset is a
    method of ``ds.gs`` (VaR and ES were missing), and VaR/ES keep the units."""
    import inspect

    from guarantee_sim.results import accessor, cost, metrics

    methods = set(dir(accessor.GuaranteeSimAccessor))
    for module in (metrics, cost):
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or function.__module__ != module.__name__:
                continue
            first = next(iter(inspect.signature(function).parameters))
            if first in ("ds", "values", "losses"):
                assert name in methods, f"ds.gs.{name} is missing"
    ds = results_dataset(
        years=[2021],
        segments={"a": []},
        parties={"bank": "bank", "guarantor": "guarantor"},
        loss={"guarantor": [[1.0], [3.0], [2.0], [5.0]]},
    )
    es = ds.gs.expected_shortfall("loss", 0.75)
    assert float(es.sel(party="guarantor")) == 5.0 and es.attrs["units"] == "CNY"
    var = ds.gs.value_at_risk("loss", 0.5)
    assert float(var.sel(party="guarantor")) == 2.5 and var.attrs["units"] == "CNY"


# --------------------------------------------------------------------------- the builder


def test_builder_lays_out_what_simulate_returns():
    """Same variables, dims, coords and units as a real results Dataset, so a metric test on
    a built Dataset tests what users get."""
    from conftest import make_scenario

    import guarantee_sim as gs

    real = gs.simulate(make_scenario(), paths=2, seed=1)
    built = results_dataset(
        years=real.year.values,
        segments={"sme": ["guaranteed", "first_time"]},
        parties={"bank": "bank", "guarantor": "guarantor"},
        public=["guarantor"],
        paths=2,
    )
    assert set(built.data_vars) == set(real.data_vars)
    assert set(built.coords) == set(real.coords)
    for name in built.variables:
        assert built[name].dims == real[name].dims, name
        assert built[name].attrs == real[name].attrs, name
    np.testing.assert_array_equal(built.party_kind, real.party_kind)
    np.testing.assert_array_equal(built.party_public, real.party_public)
    assert set(built.attrs) == set(real.attrs)
    # NaN where the results assembly sets it: the bank's and unabsorbed's states, unabsorbed's
    # cash flows
    for var in ("capital", "leverage", "payout", "fee_income"):
        np.testing.assert_array_equal(
            np.isnan(built[var].sel(party="unabsorbed")),
            np.isnan(real[var].sel(party="unabsorbed")),
        )
    assert bool(built.capital.sel(party="bank").isnull().all())
    assert bool(real.capital.sel(party="bank").isnull().all())


def test_assembly_sets_nan_for_parties_without_a_variable():
    """The results assembly, not the kernels, puts NaN where a kind of party has no such
    variable (DESIGN §5), whatever the arrays hold there, without copying them."""
    from conftest import make_scenario

    from guarantee_sim.kernels.layout import PARTY_VARIABLES, SEGMENT_VARIABLES, YEAR_VARIABLES
    from guarantee_sim.results import build_dataset
    from guarantee_sim.results.dataset import PARTY_VARIABLE_KINDS

    scenario = make_scenario(
        **{
            "parties.pool": {"kind": "pool", "initial_balance": 1e6},
            "parties.provincial": {"kind": "reguarantor", "net_assets": 1e9},
        }
    )
    party = [*scenario.parties, "unabsorbed"]
    n_year, n_seg = len(scenario.years), len(scenario.segments)
    arrays = {
        name: (("path", "year", "party"), np.ones((2, n_year, len(party))))
        for name in PARTY_VARIABLES
    }
    arrays |= {
        name: (("path", "year", "segment"), np.ones((2, n_year, n_seg)))
        for name in SEGMENT_VARIABLES
    }
    arrays |= {name: (("path", "year"), np.ones((2, n_year))) for name in YEAR_VARIABLES}
    ds = build_dataset(scenario, arrays, party=party, seed=0)
    assert set(PARTY_VARIABLE_KINDS) < set(PARTY_VARIABLES)
    kinds = list(ds.party_kind.values)
    assert kinds == ["bank", "guarantor", "pool", "reguarantor", "unabsorbed"]
    for name in PARTY_VARIABLES:
        has = PARTY_VARIABLE_KINDS.get(name, kinds)
        for p, kind in zip(party, kinds, strict=True):
            values = ds[name].sel(party=p).values
            expected = np.ones_like(values) if kind in has else np.full_like(values, np.nan)
            np.testing.assert_array_equal(values, expected, err_msg=f"{name} {p}")
        assert np.shares_memory(ds[name].values, arrays[name][1]), name  # no copy
    assert not ds.loss.isnull().any()  # unabsorbed has a loss
