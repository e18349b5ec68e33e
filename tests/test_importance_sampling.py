"""Importance sampling of the credit cycle (issue 10 §2): likelihood ratios, weighted
metrics, agreement with plain Monte Carlo and the variance reduction in the tail.

The model runs use the one-period Vasicek book (one cohort of 10**6 loans lent in month 0
for 12 months, 80% to a guarantor with ample capital): the guarantor's loss is
0.8 x LGD x one year's defaults, a function of one factor draw, so each run is cheap and
the closed form is known. The full study on the county scenario is
benchmarks/importance_sampling.py (its numbers in benchmarks/README.md).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

import guarantee_sim as gs
from benchmarks.importance_sampling import (
    AMOUNT,
    COVERAGE,
    LGD,
    N_LOANS,
    PD,
    RHO,
    one_period_book,
    one_period_scenario,
)
from guarantee_sim.cli import main
from guarantee_sim.config import ScenarioError
from guarantee_sim.engine.analytic import vasicek_loss_quantile
from guarantee_sim.engine.tail import shift_from_attrs
from guarantee_sim.kernels.factors import draw_factors, draw_shifted_factors
from guarantee_sim.results import (
    effective_sample_size,
    exceedance_curve,
    expected_shortfall,
    mean_interval,
    open_results,
    probability_interval,
    tail_interval,
    value_at_risk,
    weighted_mean,
)

GUARANTEED = COVERAGE * LGD * N_LOANS * AMOUNT  # the guarantor's loss if every loan defaulted


def one_period(level: float | None = None, party: str | None = "guarantor"):
    # a guarantor of 100 bn: its loss if every loan defaulted (360 bn) would exhaust it
    return one_period_scenario(level, party, net_assets=1.0e11)


def guarantor_loss(ds: xr.Dataset) -> xr.DataArray:
    return ds["loss"].sel(party="guarantor").sum("year")


# --------------------------------------------------------------------------- the kernel


def test_likelihood_ratio_of_a_two_year_ar1_factor_matches_the_hand_computation():
    """Shift (-1, 0.5) on a 1-factor AR(1) with phi 0.6: the shocks are the plain draws
    plus the shift, the factors follow the AR(1) on them, and
    log w = sum over years of (-mu z + mu**2 / 2) with z the shifted shocks."""
    chol, phi = np.eye(1), 0.6
    z = np.empty((2, 1))
    draw_factors(np.uint32(5), 17, chol, 0.0, 2, z)  # phi 0, one factor: the shocks
    mu = np.array([[-1.0], [0.5]])
    out = np.empty((2, 1))
    log_w = draw_shifted_factors(np.uint32(5), 17, chol, phi, mu, out)
    z0, z1 = z[0, 0] - 1.0, z[1, 0] + 0.5
    assert out[0, 0] == pytest.approx(z0, abs=1e-15)
    assert out[1, 0] == pytest.approx(phi * z0 + math.sqrt(1 - phi**2) * z1, abs=1e-15)
    hand = (1.0 * z0 + 0.5) + (-0.5 * z1 + 0.125)
    assert log_w == pytest.approx(hand, abs=1e-14)
    # no shift: the plain factors bit for bit and log w = 0
    plain, again = np.empty((2, 1)), np.empty((2, 1))
    draw_factors(np.uint32(5), 17, chol, phi, 2, plain)
    assert draw_shifted_factors(np.uint32(5), 17, chol, phi, np.zeros((2, 1)), again) == 0.0
    np.testing.assert_array_equal(plain, again)


# --------------------------------------------------------------------------- weighted metrics

VALUES = [0.0, 1.0, 2.0, 10.0]
WEIGHTS = [0.25, 0.25, 0.75, 0.75]  # sum 2 (not n = 4: a sample whose body is light);
# sum of squares 1.25: ESS 4 / 1.25 = 3.2


def weighted(values=VALUES, weights=WEIGHTS) -> xr.DataArray:
    return xr.DataArray(
        values, dims="path", coords={"path_weight": ("path", weights)}, attrs={"units": "CNY"}
    )


def test_weighted_var_es_mean_and_probability_by_hand():
    """Tail figures count the mass above each value over the n = 4 paths (weights.py):
    above 0 is 1.75/4, above 1 is 1.5/4, above 2 is 0.75/4, so the CDF at 0, 1, 2, 10 is
    0.5625, 0.625, 0.8125, 1 (self-normalised it would be 0.125, 0.25, 0.625, 1). Means and
    shares are self-normalised: sum(w x) / sum(w)."""
    x = weighted()
    assert float(value_at_risk(x, 0.2)) == 0.0
    assert float(value_at_risk(x, 0.6)) == 1.0
    assert float(value_at_risk(x, 0.75)) == 2.0
    assert float(value_at_risk(x, 0.9)) == 10.0
    # beyond 0.5: 0.0625 of the mass at 0 and at 1, 0.1875 at 2 and at 10
    es = (0.0625 * 0 + 0.0625 * 1 + 0.1875 * 2 + 0.1875 * 10) / 0.5
    assert float(expected_shortfall(x, 0.5)) == pytest.approx(es)
    assert float(weighted_mean(x)) == pytest.approx((0.25 * 1 + 0.75 * 2 + 0.75 * 10) / 2)
    assert float(weighted_mean(x > 1.5)) == pytest.approx(0.75)
    assert exceedance_curve(x, [1.5]).values.tolist() == [0.375]
    assert effective_sample_size(x) == pytest.approx(3.2)
    # weights of 1 are plain Monte Carlo: the unweighted numbers exactly
    ones = weighted(weights=[1.0] * 4)
    assert float(value_at_risk(ones, 0.6)) == float(xr.DataArray(VALUES).quantile(0.6))
    assert effective_sample_size(ones) == 4.0


def test_weighted_intervals_by_hand():
    """The ratio estimator's CR1 standard error (each path its own cluster, G = 4), and a
    share whose paths all hit: its effective number of paths is the ESS (3.2), not n."""
    x = weighted()
    mean = 9.25 / 2
    residuals = np.array(WEIGHTS) * (np.array(VALUES) - mean)
    se = math.sqrt(4 / 3 * (residuals**2).sum() / 2**2)  # over sum(w) = 2, not n
    r = mean_interval(x)
    assert float(r["mean"]) == pytest.approx(mean)
    assert float(r["se"]) == pytest.approx(se)
    hits = weighted(values=[True] * 4)
    share = probability_interval(hits)
    assert float(share["p"]) == 1.0
    assert float(share["effective_paths"]) == pytest.approx(3.2)
    plain = probability_interval(weighted(values=[True] * 4, weights=[1.0] * 4))
    assert float(plain["effective_paths"]) == 4.0
    assert float(share["low"]) < float(plain["low"])  # fewer effective paths: wider
    boot = tail_interval(weighted(values=np.arange(40.0), weights=np.linspace(0.5, 1.5, 40)), 0.9)
    assert float(boot["low"]) <= float(boot["high"])


def test_a_paired_difference_refuses_different_weights():
    from guarantee_sim.results import difference_interval

    with pytest.raises(ValueError, match="same path weights"):
        difference_interval(weighted(), weighted(weights=[1.0] * 4))


# --------------------------------------------------------------------------- model runs


@pytest.fixture(scope="module")
def runs():
    """Plain and importance-sampled runs of the one-period book, 4,000 paths each; the
    sampled one aims at the 95% tail (weights with a light enough tail for their sample
    mean to be a fair test of E[w] = 1)."""
    book = one_period_book()
    plain = gs.simulate(one_period(), paths=4000, seed=3, book=book)
    sampled = gs.simulate(one_period(0.95), paths=4000, seed=3, book=book)
    return plain, sampled


def test_a_plain_run_has_weights_exactly_one(runs):
    plain, _ = runs
    assert (plain["path_weight"].values == 1.0).all()
    assert plain.attrs["importance_sampling"] == "off"
    assert plain["path_weight"].attrs["units"] == "1"


def test_weights_average_one_within_three_standard_errors(runs):
    _, sampled = runs
    w = sampled["path_weight"].values
    assert sampled.attrs["importance_sampling"] == "on"
    assert sampled.attrs["importance_sampling_party"] == "guarantor"
    assert abs(w.mean() - 1.0) < 3 * w.std(ddof=1) / math.sqrt(w.size)
    assert w.std() > 0.1  # the shift is not zero: the weights vary


def test_sampled_and_plain_runs_agree_on_the_mean_and_the_99_percent_quantile(runs):
    plain, sampled = runs
    a, b = mean_interval(guarantor_loss(plain)), mean_interval(guarantor_loss(sampled))
    assert abs(float(a["mean"] - b["mean"])) < 3 * math.hypot(float(a["se"]), float(b["se"]))
    truth = GUARANTEED * float(vasicek_loss_quantile(0.99, PD, RHO))
    for ds in runs:
        band = tail_interval(guarantor_loss(ds), 0.99, draws=199)
        half = float(band["high"] - band["low"]) / 2
        assert abs(float(value_at_risk(guarantor_loss(ds), 0.99)) - truth) < 2 * half
    # the shift moved paths into the tail: many more beyond the 99% quantile
    beyond = [(guarantor_loss(ds) > truth).sum() for ds in runs]
    assert beyond[1] > 5 * beyond[0]


def test_the_variance_of_the_999_var_falls_on_a_one_period_book():
    """12 seeds x 500 paths each way: the variance of the guarantor's VaR 99.9% estimate
    over the seeds falls by at least 15x (the full study, 30 seeds: see benchmarks)."""
    book, level = one_period_book(), 0.999
    estimates: dict[bool, list[float]] = {False: [], True: []}
    for seed in range(12):
        for tail in (False, True):
            ds = gs.simulate(one_period(level if tail else None), paths=500, seed=seed, book=book)
            estimates[tail].append(float(value_at_risk(guarantor_loss(ds), level)))
    plain, sampled = np.array(estimates[False]), np.array(estimates[True])
    truth = GUARANTEED * float(vasicek_loss_quantile(level, PD, RHO))
    assert abs(sampled.mean() - truth) < 0.05 * truth
    assert plain.var(ddof=1) / sampled.var(ddof=1) >= 15.0


def test_the_total_loss_tail_and_a_party_without_losses():
    """Without a party the shift aims at the total loss (here the guarantor's / 0.8, so the
    same shift); the bank keeps 20% of each loss, so its tail is the same direction."""
    book = one_period_book()
    total = gs.simulate(one_period(0.99, party=None), paths=50, seed=1, book=book)
    bank = gs.simulate(one_period(0.99, party="bank"), paths=50, seed=1, book=book)
    assert total.attrs["importance_sampling_party"] == ""
    assert total.attrs["importance_sampling_shift"] == bank.attrs["importance_sampling_shift"]
    np.testing.assert_array_equal(total["path_weight"], bank["path_weight"])
    shift = shift_from_attrs(total.attrs, ["economy"])
    assert shift[0, 0] == pytest.approx(-2.67, abs=0.1)  # E[Z | Z < -2.33]
    # the same shift given explicitly: the same paths (a comparison's variants)
    again = gs.simulate(one_period(0.9), paths=50, seed=1, book=book, shift=shift)
    np.testing.assert_array_equal(again["loss"], total["loss"])


# --------------------------------------------------------------------------- settings


def test_a_bad_tail_setting_is_a_clean_error():
    with pytest.raises(ScenarioError, match=r"importance_sampling\.party.*unknown party 'nobody'"):
        one_period(0.99, party="nobody")
    with pytest.raises(ScenarioError, match=r"importance_sampling\.level"):
        one_period(1.5)


def test_run_tail_prints_the_effective_sample_size(tmp_path, capsys):
    scenario = "scenarios/hangzhou_2011_2015.yaml"
    out = tmp_path / "r.nc"
    args = ["run", scenario, "--paths", "20", "--out", str(out)]
    assert main([*args, "--tail", "party=guarantor"]) == 0
    printed = capsys.readouterr().out
    assert "importance sampling toward the 99.9% tail of the guarantor loss" in printed
    assert "effective sample size" in printed
    ds = open_results(out)
    assert ds.attrs["importance_sampling"] == "on"
    assert not (ds["path_weight"].values == 1.0).all()
    assert main([*args, "--tail", "guarantor"]) == 2
    assert (
        "--tail guarantor: give nothing (the total loss) or party=NAME" in capsys.readouterr().err
    )
    tail = "simulation.importance_sampling.party=nobody"
    assert main(["validate", scenario, "--set", tail]) == 2
    assert "unknown party 'nobody'" in capsys.readouterr().err


def test_weighted_variance_shares_are_those_of_the_paths_repeated_by_their_weights():
    """Integer weights: weighted least squares on the paths equals OLS on each path
    repeated as many times as its weight."""
    from guarantee_sim.results.decomposition import variance_shares

    rng = np.random.default_rng(4)
    n = 300
    f, r = rng.normal(size=(n, 2)), np.arange(n) % 3
    y = f[:, 0] + 0.5 * f[:, 1] ** 2 + 0.3 * r + rng.normal(size=n)
    w = rng.integers(1, 4, size=n)
    shares, _ = variance_shares(y, f, np.empty((n, 0)), r, weights=w.astype(float))
    rows = np.repeat(np.arange(n), w)
    repeated, _ = variance_shares(y[rows], f[rows], np.empty((rows.size, 0)), r[rows])
    np.testing.assert_allclose(shares, repeated, atol=1e-10)
    plain, _ = variance_shares(y, f, np.empty((n, 0)), r)
    assert not np.allclose(shares, plain)  # the weights matter


def test_a_comparison_samples_every_design_with_the_first_ones_shift(tmp_path):
    """A downturn in 2012 moves the loss tail, so that design would choose its own shift;
    every design samples with the baseline's, so their paths and weights are the same
    (common random numbers) and their differences stay paired."""
    from pathlib import Path

    from guarantee_sim.experiments import run_experiment
    from guarantee_sim.results import difference_interval

    base = Path("scenarios/hangzhou_2011_2015.yaml").resolve()
    experiment = tmp_path / "tail.yaml"
    experiment.write_text(
        f"name: tail\nbase: {base}\npaths: 12\nvariants:\n  baseline: {{}}\n"
        "  downturn: {macro.downturn_z.2012: 1.5}\n",
        encoding="utf-8",
    )
    tail = ["simulation.importance_sampling.party=guarantor"]
    ds = run_experiment(str(experiment), seed=2, overrides=tail)
    assert ds["path_weight"].dims == ("path",)  # one set of weights for every design
    assert not (ds["path_weight"].values == 1.0).all()
    np.testing.assert_array_equal(
        ds["year_factor"].sel(scenario="baseline"), ds["year_factor"].sel(scenario="downturn")
    )
    loss = ds["loss"].sel(party="guarantor").sum("year")
    difference_interval(loss.sel(scenario="downturn"), loss.sel(scenario="baseline"))
    # the comparison's headline numbers weigh the paths too (they were plain means)
    from guarantee_sim.experiments import comparison_table

    w = ds["path_weight"].values
    public = ds["public_loss"].sel(scenario="downturn").sum("year").values
    row = comparison_table(ds)["downturn"]
    assert row["public_loss"] == pytest.approx(np.sum(w * public) / np.sum(w), rel=1e-12)
    assert row["public_loss"] != pytest.approx(public.mean(), rel=1e-6)


def test_the_accessor_gives_the_effective_sample_size():
    from guarantee_sim.testing import results_dataset, with_path_weights

    ds = results_dataset(
        years=[2021], segments={"sme": []}, parties={"bank": "bank"}, loss={"bank": [[1.0], [3.0]]}
    )
    assert ds.gs.effective_sample_size() == 2.0
    assert with_path_weights(ds, [3.0, 1.0]).gs.effective_sample_size() == pytest.approx(1.6)


def test_the_brief_shows_a_tail_figure_when_enough_paths_lie_beyond_it():
    """Plain sampling puts paths x (1 - level) beyond a quantile, so 200 paths show no VaR
    99%; a shift toward the tail puts many more there, and the brief's loss table counts
    the paths actually beyond each party's VaR (>= 10 to show it)."""
    from guarantee_sim.reporting.tables import loss_table
    from guarantee_sim.testing import results_dataset, with_path_weights

    n = 200
    ds = results_dataset(
        years=[2021],
        segments={"sme": []},
        parties={"bank": "bank"},
        loss={"bank": np.arange(n, dtype=float)[:, None]},
    )
    plain = loss_table(ds).set_index("party").loc["bank"]
    assert np.isnan(plain["var_99"]) and np.isnan(plain["var_99_9"])

    def table(tail_weight: float):
        w = np.full(n, 1.0)
        w[150:] = tail_weight  # the 50 largest losses: sampled often, each weighs little
        w[:150] = (n - 50 * tail_weight) / 150  # the weights average 1
        return loss_table(with_path_weights(ds, w)).set_index("party").loc["bank"]

    # tail weight 0.01: VaR 99% has ~51 paths beyond it, VaR 99.9% 20 (mass 0.2 / 0.01)
    both = table(0.01)
    assert not np.isnan(both["var_99"]) and not np.isnan(both["var_99_9"])
    # tail weight 0.1: VaR 99.9% has 2 paths beyond it (mass 0.2 / 0.1): not shown
    one = table(0.1)
    assert not np.isnan(one["var_99"]) and np.isnan(one["var_99_9"])
