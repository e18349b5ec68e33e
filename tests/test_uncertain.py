"""Uncertain parameters drawn per path (issue 9, part A): a segment's PD level, LGD and
correlation as distributions (``engine/parameters.py``).

The draws are counter-based (seed, path, name), so they must not depend on the block size
and must be shared by variants that differ in a policy lever; a distribution with sd 0 must
be the fixed-value run bit for bit; a group must share one uniform; the draws must follow
their stated distribution; and a higher drawn PD level must mean higher credit losses.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import base_scenario_dict, make_scenario
from scipy import stats
from test_reproducibility import COUNTY, rich_scenario_dict

import guarantee_sim as gs
from guarantee_sim.config.loader import ScenarioError
from guarantee_sim.config.schema import BaselSME
from guarantee_sim.config.values import Distribution
from guarantee_sim.engine.inputs import build_inputs
from guarantee_sim.engine.parameters import (
    UncertainParameter,
    central_scenario,
    draw_values,
    path_parameters,
    uncertain_parameters,
)

PD = "segments.sme.pd.mean"
LGD = "segments.sme.lgd"
RHO = "segments.sme.correlation"
LAG = "segments.sme.recovery.lag_months"  # fixed: 1 month; runoff allows up to 7
UNCERTAIN = {
    PD: {"dist": "lognormal", "median": 0.02, "sd": 0.5, "max": 0.2},
    LGD: {"dist": "uniform", "min": 0.3, "max": 0.7},
    RHO: {"dist": "triangular", "min": 0.05, "mode": 0.1, "max": 0.25},
}


def _assert_same(a, b, skip=()):
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:
        if name not in skip:
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def test_results_list_the_draws_by_key_with_units():
    ds = gs.simulate(make_scenario(**UNCERTAIN), paths=30, seed=5)
    pv = ds.parameter_value
    assert pv.dims == ("path", "parameter")
    assert list(ds.parameter.values) == [PD, LGD, RHO]
    assert list(ds.parameter_units.values) == ["1/year", "1", "1"]
    np.testing.assert_array_equal(ds.parameter_centre.values, [0.02, 0.5, 0.1])
    assert pv.attrs["units"] == "1" and pv.attrs["long_name"]
    assert not np.isnan(pv.values).any()
    assert (pv.sel(parameter=LGD) >= 0.3).all() and (pv.sel(parameter=LGD) <= 0.7).all()
    assert pv.sel(parameter=PD).std() > 0  # paths differ
    # the scenario stored with the results keeps its distributions
    assert "lognormal" in ds.attrs["scenario_yaml"]


def test_without_uncertain_parameters_the_dimension_is_empty():
    ds = gs.simulate(make_scenario(), paths=4, seed=5)
    assert ds.sizes["parameter"] == 0
    assert ds.parameter_value.shape == (4, 0)


def test_a_degenerate_distribution_is_the_fixed_value_run_bit_for_bit():
    """sd 0 draws the centre exactly: every segment's PD level and LGD of the county
    scenario as distributions with sd 0 (its recovery lags and correlations at their
    centres) give the run at the scenario's centres, every variable equal."""
    fixed = central_scenario(gs.load_scenario(COUNTY))
    changes = {}
    for name, seg in fixed.segments.items():
        changes[f"segments.{name}.recovery.lag_months"] = int(seg.recovery.lag_months)
        if not isinstance(seg.correlation, BaselSME):
            changes[f"segments.{name}.correlation"] = float(seg.correlation)
        changes[f"segments.{name}.pd.mean"] = {
            "dist": "lognormal",
            "median": float(seg.pd.mean),
            "sd": 0,
            "max": 0.5,
            "group": "pd_level",
        }
        changes[f"segments.{name}.lgd"] = {
            "dist": "normal",
            "mean": float(seg.lgd),
            "sd": 0,
            "min": 0,
            "max": 1,
        }
    degenerate = gs.load_scenario(COUNTY, overrides=changes)
    a = gs.simulate(fixed, paths=12, seed=11)
    b = gs.simulate(degenerate, paths=12, seed=11)
    _assert_same(a, b, skip=("parameter_value",))
    assert b.sizes["parameter"] == 2 * len(fixed.segments)
    assert (b.parameter_value.values == b.parameter_centre.values).all()


def test_a_degenerate_distribution_gives_the_kernels_exactly_the_fixed_values():
    """The bundle the kernels get: PD level exactly 1, LGD and correlation the fixed ones
    (a multiplier off by 1e-6 changes too few defaults to show in a short run)."""
    s = make_scenario(
        **{
            PD: {"dist": "lognormal", "median": 0.02, "sd": 0, "max": 0.5},
            LGD: {"dist": "normal", "mean": 0.5, "sd": 0, "min": 0, "max": 1},
            RHO: {"dist": "normal", "mean": 0.1, "sd": 0, "min": 0, "max": 0.9},
        }
    )
    params = uncertain_parameters(s)
    fixed = build_inputs(make_scenario(), seed=1).segments
    rows = path_parameters(params, draw_values(params, 1, 0, 7), fixed)
    assert (rows.pd_scale == 1.0).all()
    assert (rows.lgd == fixed.lgd).all() and (rows.rho == fixed.rho).all()
    assert build_inputs(central_scenario(s), seed=1).segments.pd_inverse.tolist() == (
        fixed.pd_inverse.tolist()
    )


def test_draws_and_results_do_not_depend_on_the_block_size():
    d = rich_scenario_dict()
    changes = {
        **UNCERTAIN,
        PD: {"dist": "normal", "mean": 0.15, "sd": 0.05, "min": 0.01, "max": 0.4},
        "segments.credit.lgd": {"dist": "beta", "alpha": 4, "beta": 3, "min": 0.2, "max": 0.9},
    }
    scenario = make_scenario(d, **changes)
    one = gs.simulate(scenario, paths=10, seed=99, block_size=1)
    three = gs.simulate(scenario, paths=10, seed=99, block_size=3)
    ten = gs.simulate(scenario, paths=10, seed=99, block_size=10)
    _assert_same(one, three)
    _assert_same(one, ten)
    # and a path's draws do not depend on how many paths run
    fewer = gs.simulate(scenario, paths=4, seed=99, block_size=3)
    np.testing.assert_array_equal(fewer.parameter_value.values, one.parameter_value.values[:4])


def test_variants_share_the_draws_common_random_numbers():
    base = gs.simulate(make_scenario(**UNCERTAIN), paths=40, seed=8)
    cut = gs.simulate(
        make_scenario(**UNCERTAIN, **{"parties.guarantor.fee_rate": 0.005}), paths=40, seed=8
    )
    np.testing.assert_array_equal(base.parameter_value.values, cut.parameter_value.values)
    # the fee moves the guarantor's income, not the credit losses of the same state
    np.testing.assert_array_equal(base.credit_loss.values, cut.credit_loss.values)
    assert not np.array_equal(base.fee_income.values, cut.fee_income.values)


def test_a_group_shares_one_uniform_draw():
    lgd = {"dist": "uniform", "min": 0.3, "max": 0.7}
    rho = {"dist": "uniform", "min": 0.05, "max": 0.25}
    grouped = gs.simulate(
        make_scenario(**{LGD: {**lgd, "group": "state"}, RHO: {**rho, "group": "state"}}),
        paths=50,
        seed=2,
    ).parameter_value
    u_lgd = (grouped.sel(parameter=LGD).values - 0.3) / 0.4
    u_rho = (grouped.sel(parameter=RHO).values - 0.05) / 0.2
    np.testing.assert_allclose(u_lgd, u_rho, rtol=0, atol=1e-12)
    assert list(grouped.parameter_group.values) == ["state", "state"]
    alone = gs.simulate(make_scenario(**{LGD: lgd, RHO: rho}), paths=50, seed=2).parameter_value
    assert abs(stats.spearmanr(alone.values[:, 0], alone.values[:, 1]).statistic) < 0.5
    # the group's stream is its name's: the same uniforms as another key of that group
    np.testing.assert_array_equal(
        grouped.sel(parameter=LGD).values,
        gs.simulate(make_scenario(**{LGD: {**lgd, "group": "state"}}), paths=50, seed=2)
        .parameter_value.sel(parameter=LGD)
        .values,
    )


def test_a_group_name_is_snake_case():
    with pytest.raises(ScenarioError) as info:
        make_scenario(**{LGD: {"dist": "uniform", "min": 0.3, "max": 0.7, "group": "PD Level"}})
    assert "snake_case" in str(info.value) and info.value.key == f"{LGD}.group"


def _truncated(dist, lo, hi):
    """CDF of ``dist`` truncated to [lo, hi]."""
    a, b = dist.cdf(lo), dist.cdf(hi)
    return lambda x: (dist.cdf(x) - a) / (b - a)


@pytest.mark.parametrize(
    "d, cdf",
    [
        (
            Distribution("lognormal", median=0.02, sd=0.5, max=0.05),
            _truncated(stats.lognorm(0.5, scale=0.02), 0.0, 0.05),
        ),
        (
            Distribution("normal", mean=0.5, sd=0.2, min=0.3, max=0.9),
            _truncated(stats.norm(0.5, 0.2), 0.3, 0.9),
        ),
        (Distribution("uniform", min=0.3, max=0.7), stats.uniform(0.3, 0.4).cdf),
        (
            Distribution("triangular", min=0.05, mode=0.1, max=0.25),
            stats.triang(0.25, loc=0.05, scale=0.2).cdf,
        ),
        (
            Distribution("beta", alpha=4, beta=3, min=0.2, max=0.9),
            stats.beta(4, 3, loc=0.2, scale=0.7).cdf,
        ),
    ],
    ids=["lognormal", "normal", "uniform", "triangular", "beta"],
)
def test_the_draws_follow_the_stated_distribution(d, cdf):
    """Kolmogorov-Smirnov on 2,000 paths' draws (fixed seed)."""
    p = UncertainParameter("segments.sme.lgd", 0, "lgd", "1", d)
    values = draw_values([p], seed=20211231, first=0, n=2000)[:, 0]
    assert stats.kstest(values, cdf).pvalue > 0.01
    # ... and a wrong distribution is told apart (the test can fail)
    assert stats.kstest(values * 1.1, cdf).pvalue < 0.01


def test_a_higher_drawn_pd_level_means_higher_credit_losses():
    """Common random numbers: the same paths with only the PD level uncertain; the rank
    correlation of the drawn PD level with the path's credit loss is clearly positive, and
    the mean loss scales with the mean multiplier."""
    fixed = make_scenario(**{"segments.sme.lending.count_per_year": 400})
    uncertain = make_scenario(**{"segments.sme.lending.count_per_year": 400, PD: UNCERTAIN[PD]})
    a = gs.simulate(fixed, paths=300, seed=6)
    b = gs.simulate(uncertain, paths=300, seed=6)
    level = b.parameter_value.sel(parameter=PD).values
    loss_b = b.credit_loss.sum(("year", "segment")).values
    loss_a = a.credit_loss.sum(("year", "segment")).values
    assert stats.spearmanr(level, loss_b).statistic > 0.3
    # paths drawn above the centre lose more than the same paths at the centre, and below less
    above, below = level > 0.02 * 1.3, level < 0.02 / 1.3
    assert (loss_b[above] >= loss_a[above]).all() and (loss_b[below] <= loss_a[below]).all()
    assert loss_b[above].sum() > loss_a[above].sum() and loss_b[below].sum() < loss_a[below].sum()


def test_paths_that_drew_a_higher_pd_level_lose_more_and_renew_less():
    """The issue's conditioning check, in one run: split the paths by their drawn PD
    multiplier (``parameter_value`` / centre); the upper third has higher mean losses and a
    lower renewal balance than the lower third (fewer loans performing at maturity renew),
    and the rank correlations say the same."""
    d = base_scenario_dict()
    d["segments"]["sme"]["lending"] = {"count_per_year": 600}
    d["segments"]["sme"]["renewal"] = {"rate": 0.9, "into": "renewed"}
    d["segments"]["renewed"] = {
        **d["segments"]["sme"],
        "tags": ["renewal"],
        "lending": None,
        "renewal": None,
    }
    d["horizon"]["origination_years"] = 3
    pd = {
        "dist": "lognormal",
        "median": 0.05,
        "sd": 0.5,
        "min": 0.005,
        "max": 0.5,
        "group": "pd_level",
    }
    s = make_scenario(d, **{PD: pd, "segments.renewed.pd.mean": {**pd}})
    ds = gs.simulate(s, paths=300, seed=17)
    multiplier = (ds.parameter_value / ds.parameter_centre).sel(parameter=PD).values
    loss = ds.credit_loss.sum(("year", "segment")).values
    renewed = ds.loans_amount.sel(segment="renewed").sum("year").values
    low, high = (
        multiplier < np.quantile(multiplier, 1 / 3),
        multiplier > np.quantile(multiplier, 2 / 3),
    )
    assert loss[high].mean() > 1.5 * loss[low].mean()
    assert renewed[high].mean() < renewed[low].mean()
    assert stats.spearmanr(multiplier, loss).statistic > 0.5
    assert stats.spearmanr(multiplier, renewed).statistic < -0.5


def test_a_higher_drawn_lgd_means_higher_credit_losses_on_the_same_defaults():
    ds = gs.simulate(make_scenario(**{LGD: UNCERTAIN[LGD]}), paths=60, seed=6)
    fixed = gs.simulate(make_scenario(), paths=60, seed=6)  # LGD 0.5, the same defaults
    np.testing.assert_array_equal(ds.default_amount.values, fixed.default_amount.values)
    lgd = ds.parameter_value.sel(parameter=LGD)
    np.testing.assert_allclose(
        ds.credit_loss.sum(("year", "segment")),
        fixed.default_amount.sum(("year", "segment")) * lgd,
        rtol=1e-12,
    )


def test_distributions_on_keys_not_drawn_are_still_refused():
    with pytest.raises(ScenarioError) as info:
        make_scenario(**{"segments.sme.tenor_months": {"dist": "uniform", "min": 6, "max": 18}})
    assert info.value.key == "segments.sme.tenor_months"


# --------------------------------------------------------------------------- recovery lag


def _recovery_month(ds):
    """Per path: the recovery-weighted mean year of all parties' recoveries."""
    rec = ds.recovery.sum("party")
    return (rec * np.arange(ds.sizes["year"])).sum("year") / rec.sum("year")


def test_a_drawn_recovery_lag_is_a_whole_number_of_months_inside_its_range():
    ds = gs.simulate(make_scenario(**{LAG: {"dist": "uniform", "min": 0, "max": 7}}), 400, 3)
    lag = ds.parameter_value.sel(parameter=LAG).values
    assert ds.parameter_units.sel(parameter=LAG) == "month"
    np.testing.assert_array_equal(lag, np.floor(lag))  # whole months
    assert lag.min() == 0 and lag.max() == 7
    # rounding to the nearest month (halves up): 0 and 7 take half a month of the range each
    counts = np.bincount(lag.astype(int), minlength=8) / len(lag)
    np.testing.assert_allclose(counts, [0.5 / 7, *[1 / 7] * 6, 0.5 / 7], atol=0.05)


def test_a_longer_drawn_recovery_lag_moves_recoveries_later_on_the_same_defaults():
    """Common random numbers: with the lag drawn per path (fixed: 1 month) the defaults and
    payouts are those of the fixed run; each path's recoveries are the same amounts, moved
    by its drawn lag - 1 months, so their mean year is later where the drawn lag is longer
    and earlier where it is shorter."""
    fixed = gs.simulate(make_scenario(), paths=80, seed=4)
    drawn = gs.simulate(
        make_scenario(**{LAG: {"dist": "uniform", "min": 0, "max": 7}}), paths=80, seed=4
    )
    np.testing.assert_array_equal(drawn.payout.values, fixed.payout.values)
    np.testing.assert_allclose(
        drawn.recovery.sum("year").values, fixed.recovery.sum("year").values, rtol=1e-12
    )
    lag = drawn.parameter_value.sel(parameter=LAG).values
    shift = (_recovery_month(drawn) - _recovery_month(fixed)).values
    has = ~np.isnan(shift)  # paths without defaults recover nothing
    assert (shift[has & (lag > 1)] >= 0).all() and (shift[has & (lag < 1)] <= 0).all()
    assert (shift[has & (lag == 1)] == 0).all()
    assert shift[has & (lag >= 5)].mean() > 0.1  # four months later or more shows
    assert stats.spearmanr(lag[has], shift[has]).statistic > 0.5


def test_a_degenerate_recovery_lag_is_the_fixed_run_bit_for_bit():
    fixed = gs.simulate(make_scenario(), paths=30, seed=9)
    degenerate = make_scenario(**{LAG: {"dist": "normal", "mean": 1, "sd": 0, "min": 0, "max": 7}})
    ds = gs.simulate(degenerate, paths=30, seed=9)
    _assert_same(fixed, ds, skip=("parameter_value",))
    assert (ds.parameter_value.values == 1.0).all()
    params = uncertain_parameters(degenerate)
    rows = path_parameters(
        params, draw_values(params, 9, 0, 5), build_inputs(make_scenario(), seed=9).segments
    )
    assert rows.recovery_lag.dtype == np.int32 and (rows.recovery_lag == 1).all()


def test_the_run_off_check_takes_a_drawn_lag_at_its_maximum():
    """Life 12 + claim lag 2 + spread 3 leave 7 months of a 24-month run-off for the lag."""
    make_scenario(**{LAG: {"dist": "uniform", "min": 0, "max": 7}})
    with pytest.raises(ScenarioError) as info:
        make_scenario(**{LAG: {"dist": "triangular", "min": 0, "mode": 1, "max": 8}})
    assert info.value.key == "horizon.runoff_months" and ">= 25" in str(info.value)


def test_a_recovery_lag_distribution_is_in_whole_months():
    with pytest.raises(ScenarioError) as info:
        make_scenario(**{LAG: {"dist": "uniform", "min": 0, "max": 6.5}})
    assert info.value.key == f"{LAG}.max"


def test_the_draws_survive_the_results_file(tmp_path):
    from guarantee_sim.results.io import read_results, write_netcdf

    ds = gs.simulate(make_scenario(**UNCERTAIN), paths=6, seed=5)
    back = read_results(write_netcdf(ds, tmp_path / "r.nc"))
    np.testing.assert_array_equal(back.parameter_value.values, ds.parameter_value.values)
    assert list(back.parameter.values) == [PD, LGD, RHO]
    assert list(back.parameter_units.values) == ["1/year", "1", "1"]
    assert back.parameter_value.attrs["units"] == "1"


def test_the_default_scenarios_ranges_keep_the_mean_at_the_shipped_value():
    """The shipped ranges (``scenarios/hangzhou_2021_2023.yaml``) are drawn around the number
    the plan was calibrated at: over 20,000 paths each parameter's mean is its centre (what
    the lenders see) within 1% (a month for the lag, which is rounded), and each group shares
    one draw per path."""
    from conftest import SCENARIOS

    s = gs.load_scenario(SCENARIOS / "hangzhou_2021_2023.yaml")
    params = uncertain_parameters(s)
    assert {p.group for p in params} == {"pd_level", "lgd_level", "correlation", "recovery_lag"}
    values = draw_values(params, s.simulation.seed, 0, 20_000)
    for j, p in enumerate(params):
        tolerance = 0.05 if p.field == "recovery_lag" else 0.01
        assert values[:, j].mean() == pytest.approx(p.distribution.centre, rel=tolerance), p.key
    by_group = {}
    for j, p in enumerate(params):
        by_group.setdefault(p.group, []).append(values[:, j])
    for group, columns in by_group.items():
        ranks = [stats.rankdata(c) for c in columns if np.ptp(c) > 0]
        for r in ranks[1:]:
            assert stats.spearmanr(ranks[0], r).statistic > 0.99, group
