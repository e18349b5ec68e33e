"""The engine's limits as validation knows them (``config/limits.py``) cannot drift apart.

The configuration restates each limit the engine has (it may not import ``book`` or the
processes); each test here ties one restated constant or formula to the engine's own, so
a change on either side fails here, not in an analyst's run after minutes of work.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from guarantee_sim import book
from guarantee_sim.config import ScenarioError, limits, load_scenario
from guarantee_sim.config.schema import LoanSize

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = ROOT / "tests/invalid/_valid_minimal.yaml"
PROCESSES = ROOT / "tests/invalid/_valid_processes.yaml"
PROCESS_SCENARIOS = [
    p
    for p in sorted((ROOT / "scenarios").glob("*.yaml"))
    if "lending_source: processes" in p.read_text()
]


def test_the_id_limits_are_the_books():
    assert limits.NUMBER_LIMIT == book.NUMBER_LIMIT
    assert limits.BAND_LIMIT == 1 << book.BAND_BITS


def test_the_demand_ceiling_is_the_kernels():
    from guarantee_sim.kernels import factors

    assert limits.DEMAND_CEILING_Z == factors.DEMAND_CEILING_Z
    for beta in (0.0, 0.1, 0.25, 2.0):
        s = load_scenario(MINIMAL,
                          overrides=[f"macro.demand_elasticity={beta}"])  # fmt: skip
        assert limits.demand_ceiling(s) == factors.demand_ceiling(beta)
    assert factors.demand_ceiling(0.0) == 1.0


def test_grade_pds_are_capped_where_validation_says():
    """The engine takes grade PDs from ``grade_pds``; validation refuses any above the cap."""
    from guarantee_sim.config.schema import Grade, ProbabilityOfDefault

    pd = ProbabilityOfDefault.model_construct(  # built unvalidated: validation would refuse it
        mean=0.9, grades=[Grade(relative_pd=1, weight=1), Grade(relative_pd=2, weight=1)]
    )
    assert max(pd.grade_pds()[0]) == limits.MAX_GRADE_PD


@pytest.mark.parametrize(
    "size",
    [
        LoanSize(median=1e6, sigma=0.8),
        LoanSize(median=1e6, sigma=0.8, cap=None),
        LoanSize(median=3e6, sigma=1.5, cap=1e7),
        LoanSize(median=1.7e5, sigma=0.0),
        LoanSize(median=2e7, sigma=0.3, cap=1e7),
        LoanSize(median=1.0, sigma=3.0, cap=1e15),
    ],
)
def test_the_mean_loan_size_is_the_engines(size):
    from guarantee_sim.engine.volumes import capped_lognormal_mean

    assert limits.capped_lognormal_mean(size) == pytest.approx(
        capped_lognormal_mean(size), rel=1e-13
    )


def test_the_monthly_spread_is_the_engines():
    from guarantee_sim.engine.volumes import _spread_over_months

    rng = np.random.default_rng(13)
    totals = [0.0, 0.4, 7.0, 11.0, 30.0, 12_582_899.0, 12_582_912.0, 1e9 + 0.5, 2e7]
    totals += list(rng.uniform(0, 100, 200)) + list(10 ** rng.uniform(0, 12, 200))
    for total in totals:
        assert limits.monthly_counts(total) == _spread_over_months(total, 12).tolist(), total


def test_a_count_at_the_limit_is_refused_and_one_below_accepted():
    """1,048,575 loans in a month fit the 20 bits; 1,048,576 do not."""
    below = 12 * (limits.NUMBER_LIMIT - 1)
    assert limits.most_in_a_month(below) == limits.NUMBER_LIMIT - 1
    load_scenario(MINIMAL, overrides=[f"segments.sme.lending.count_per_year={below}"])
    with pytest.raises(ScenarioError) as info:
        load_scenario(MINIMAL, overrides=[f"segments.sme.lending.count_per_year={below + 12}"])
    assert info.value.key == "segments.sme.lending.count_per_year"


@pytest.mark.parametrize("path", [PROCESSES, *PROCESS_SCENARIOS], ids=lambda p: p.name)
def test_the_all_in_price_and_expected_applicants_are_the_processes(path):
    from guarantee_sim.kernels.factors import demand_ceiling
    from guarantee_sim.processes.decisions import application_rate
    from guarantee_sim.processes.run import _Terms, all_in_price

    start = load_scenario(path).horizon.start_year
    variants = [
        [],
        ["policy.fee_subsidy=null", "policy.interest_subsidy=null"],
        ["policy.fee_subsidy.paid_to=borrower"],
        [f"policy.lpr={{{start}: 0.04, {start + 1}: 0.03}}"],  # a lower LPR from year 2
    ]
    for overrides in variants:
        try:
            s = load_scenario(path, overrides=overrides)
        except ScenarioError:  # a variant the scenario has no such section for
            continue
        terms = _Terms(s)
        for name, d in s.processes.demand.items():
            for k, year in enumerate(s.origination_years):
                price = all_in_price(s, terms, name, k)
                assert limits.all_in_price(s, name, year) == price, name
            for month in (0, 5, 12 * s.horizon.origination_years - 1):
                price = all_in_price(s, terms, name, month // 12)
                rate = application_rate(
                    d.applications_per_year, d.growth, month // 12, d.seasonality, month % 12,
                    price, d.reference_price, d.price_elasticity,
                )  # fmt: skip
                expected = rate * demand_ceiling(s.macro.demand_elasticity)
                expected /= s.processes.record_weight
                assert limits.expected_applicants(s, name, month) == pytest.approx(expected)


def test_the_poisson_safety_factor_leaves_room_for_every_draw():
    """The draws' uniforms stop at 1 - 2**-33: the largest Poisson count a month can have
    at the largest expected count validation accepts is still below the limit."""
    from scipy import stats

    from guarantee_sim.philox import u32_to_unit

    largest_uniform = u32_to_unit(np.uint32(2**32 - 1))
    assert largest_uniform == 1 - 2.0**-33
    lam = limits.NUMBER_LIMIT / limits.POISSON_SAFETY
    assert stats.poisson.ppf(largest_uniform, lam) < limits.NUMBER_LIMIT


def test_the_process_pd_margin_is_inside_the_root_search():
    """logit_location searches [-40, 40]; at the widest dispersion the margin still has room,
    and a PD far outside it (1e-300) is what failed in run."""
    from guarantee_sim.processes.decisions import logit_location

    for mean in (limits.PROCESS_PD_MARGIN, 1 - limits.PROCESS_PD_MARGIN):
        assert abs(logit_location(mean, 4.0)) < limits.LOGIT_BRACKET
    with pytest.raises(ValueError, match="different signs"):
        logit_location(1e-300, 4.0)


def test_a_patience_at_the_bound_ends():
    """A mean patience of MAX_PATIENCE_DAYS still lets the processes finish in seconds."""
    import time

    from guarantee_sim.config.processes import MAX_PATIENCE_DAYS
    from guarantee_sim.processes.run import run_replica

    s = load_scenario(PROCESSES, overrides=[f"processes.bank.patience_days={MAX_PATIENCE_DAYS}"])
    start = time.perf_counter()
    run_replica(s, 7, 0)
    assert time.perf_counter() - start < 30


def test_the_band_edges_are_the_engines():
    from guarantee_sim.engine.inputs import band_edges

    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        s = load_scenario(path)
        assert sorted(limits.band_edges(s)) == list(band_edges(s)), path.name


HUGE_WEIGHTS = "[{relative_pd: 1, weight: 1e308}, {relative_pd: 2, weight: 1e308}]"


@pytest.mark.parametrize(
    "override, key",
    [
        ("segments.sme.lending.count_per_year=1e30", "segments.sme.lending.count_per_year"),
        (f"segments.sme.pd.grades={HUGE_WEIGHTS}", "segments.sme.pd.grades"),
        (
            "segments.sme.initial_book={outstanding_amount: 1e15, remaining_tenor_months: 12}",
            "segments.sme.initial_book.outstanding_amount",
        ),
    ],
)
def test_what_failed_in_run_is_refused_by_validate(override, key):
    """Inputs that passed validate and failed in run ('negative dimensions are not allowed',
    'Probabilities contain NaN', 'Maximum allowed dimension exceeded')."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(MINIMAL, overrides=[override])
    assert info.value.key == key


def test_a_fee_subsidy_lowers_the_price_only_when_paid_to_the_borrower():
    """Paid to the guarantor (the default) the borrower pays the stated fee; paid to the
    borrower the price falls by the subsidy (0.4% on the city's fee of at most 1%)."""
    path = ROOT / "scenarios" / "hangzhou_2021_2023.yaml"
    to_guarantor = load_scenario(path)
    to_borrower = load_scenario(path, overrides=["policy.fee_subsidy.paid_to=borrower"])
    without = load_scenario(path, overrides=["policy.fee_subsidy=null"])
    year = to_guarantor.horizon.start_year

    def price(scenario, name):
        return limits.all_in_price(scenario, name, year)

    guaranteed = [n for n in to_guarantor.processes.demand if price(without, n) > 0.0]
    for name in guaranteed:
        base = price(without, name)
        assert price(to_guarantor, name) == base
        fee_part = base - price(to_borrower, name)
        assert fee_part in (0.0, pytest.approx(0.004)), name
    assert any(price(to_borrower, n) < price(without, n) for n in guaranteed)
