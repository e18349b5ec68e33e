"""Closed forms (DESIGN §6): the one-period homogeneous portfolio is the Vasicek/ASRF model.

A single cohort record of 10**6 loans of 1 m CNY, all originated in month 0 with a 12-month
tenor, is alive for the whole first calendar year and nothing after it, so year 0's loss
fraction is ``LGD * Binomial(N, p(X)) / N`` with ``p(X) = Phi((Phi^-1(PD) - sqrt(rho) X) /
sqrt(1 - rho))``: the Vasicek distribution up to binomial noise of relative size
``1/sqrt(N PD)``, far below the Monte Carlo error of the quantiles checked here.

Quantiles are checked with distribution-free confidence bands from order statistics: for
quantile q of n i.i.d. paths, ``[x_(k_lo), x_(k_hi)]`` with k_lo, k_hi the binomial(n, q)
0.05% / 99.95% quantiles covers the true quantile with probability >= 99.9%; over the three
quantiles checked (Bonferroni) the family-wise error is <= 0.3%. The same bands reject a
closed form with a correlation 0.05 too high, so the test has power.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import base_scenario_dict, make_scenario
from scipy import stats

import guarantee_sim as gs
from guarantee_sim.book import LoanBook, cohort_number, pack_id, segment_hash
from guarantee_sim.engine.analytic import vasicek_loss_cdf, vasicek_loss_quantile

pytestmark = pytest.mark.slow  # Monte Carlo against the closed form: ~11 s

PD, LGD, RHO = 0.02, 0.45, 0.12
N_LOANS = 10**6
AMOUNT = 1.0e6  # CNY per loan
EAD = N_LOANS * AMOUNT
PATHS = 200_000
SEED = 20240601
QUANTILES = (0.5, 0.99, 0.999)
ALPHA = 0.001  # two-sided, per quantile: ranks from the binomial 0.05% and 99.95% quantiles
WRONG_RHO = RHO + 0.05


def one_period_scenario():
    """One segment, PD 2%, LGD 45%, rho 0.12, one grade; the bank keeps every loss.

    No guarantor, so no leverage cap can ration the book; run-off as short as allowed.
    """
    d = base_scenario_dict()
    d["name"] = "vasicek_one_period"
    d["horizon"]["runoff_months"] = 13  # tenor 12 + no claim lag + recovery 0 + 1
    seg = d["segments"]["sme"]
    seg.update(
        pd={"mean": PD},
        lgd=LGD,
        correlation=RHO,
        recovery={"lag_months": 0, "spread_months": 1},
        tenor_months=12,
        scheme="bank_only",
    )
    d["parties"] = {"bank": {"kind": "bank"}}
    d["schemes"] = {"bank_only": {"coverage": 0.0}}
    return make_scenario(d)


def one_cohort_book() -> LoanBook:
    """10**6 identical loans of 1 m CNY, originated in month 0 (new lending), tenor 12."""
    id_hi, id_lo = pack_id(segment_hash("sme"), 0, cohort_number(0, 0, 12), cohort=True)
    return LoanBook.from_records(
        [
            {"segment": 0, "month": 0, "tenor": 12, "amount": AMOUNT, "n_loans": N_LOANS}
            | {"id_hi": id_hi, "id_lo": id_lo}
        ]
    )


def order_statistic_band(sorted_x: np.ndarray, q: float, alpha: float) -> tuple[float, float]:
    """Distribution-free ``1 - alpha`` confidence band for the q-quantile.

    ``P(x_(k) > xi_q) = P(Bin(n, q) <= k - 1)`` and ``P(x_(k) < xi_q) <= P(Bin(n, q) >= k)``;
    k_lo = binom.ppf(alpha/2) and k_hi = binom.ppf(1 - alpha/2) + 1 (1-based ranks) keep each
    side below alpha/2.
    """
    n = len(sorted_x)
    k_lo = max(int(stats.binom.ppf(alpha / 2, n, q)), 1)
    k_hi = min(int(stats.binom.ppf(1 - alpha / 2, n, q)) + 1, n)
    return float(sorted_x[k_lo - 1]), float(sorted_x[k_hi - 1])


@pytest.fixture(scope="module")
def one_period():
    """Year-0 loss fractions of PATHS paths (sorted) and the Dataset they came from."""
    ds = gs.simulate(
        one_period_scenario(), paths=PATHS, seed=SEED, book=one_cohort_book(), block_size=PATHS
    )
    loss = ds.credit_loss.isel(year=0, segment=0).values / EAD
    return np.sort(loss), ds


def test_one_period_book_is_what_the_closed_form_assumes(one_period):
    _, ds = one_period
    # the whole book is lent in year 0 (nothing rationed) and can default only in year 0
    np.testing.assert_array_equal(ds.loans_amount.isel(year=0, segment=0).values, EAD)
    np.testing.assert_array_equal(ds.unmet_demand_amount.values, 0.0)
    assert float(ds.default_amount.isel(year=slice(1, None)).sum()) == 0.0
    np.testing.assert_allclose(
        ds.credit_loss.isel(year=0).values, LGD * ds.default_amount.isel(year=0).values, rtol=1e-12
    )
    np.testing.assert_allclose(
        ds.default_amount.isel(year=0).values,
        AMOUNT * ds.defaults_count.isel(year=0).values,
        rtol=1e-12,
    )


@pytest.mark.parametrize("q", QUANTILES)
def test_loss_quantiles_match_vasicek(one_period, q):
    loss, _ = one_period
    lo, hi = order_statistic_band(loss, q, ALPHA)
    expected = float(vasicek_loss_quantile(q, PD, RHO, LGD))
    assert lo <= expected <= hi, (
        f"q={q}: closed form {expected:.6f} outside the order-statistic band "
        f"[{lo:.6f}, {hi:.6f}] (simulated {np.quantile(loss, q):.6f}, {len(loss)} paths)"
    )


def test_wrong_correlation_is_rejected(one_period):
    """Negative control: the same sample and bands reject the closed form with rho + 0.05."""
    loss, _ = one_period
    outside = {}
    for q in (0.99, 0.999):
        lo, hi = order_statistic_band(loss, q, ALPHA)
        wrong = float(vasicek_loss_quantile(q, PD, WRONG_RHO, LGD))
        outside[q] = not lo <= wrong <= hi
    assert outside[0.99] and outside[0.999], (
        f"the band check cannot tell rho={RHO} from rho={WRONG_RHO}: {outside}"
    )


def test_loss_distribution_matches_vasicek_cdf(one_period):
    """Whole distribution: Kolmogorov distance within the DKW band (and the wrong rho fails)."""
    loss, _ = one_period
    n = len(loss)
    bound = np.sqrt(np.log(2 / ALPHA) / (2 * n))  # P(D_n > bound) <= ALPHA (DKW, Massart)
    ranks = np.arange(1, n + 1)

    def kolmogorov(rho):
        f = vasicek_loss_cdf(loss, PD, rho, LGD)
        return max(np.max(ranks / n - f), np.max(f - (ranks - 1) / n))

    assert kolmogorov(RHO) <= bound
    assert kolmogorov(WRONG_RHO) > bound


def test_expected_loss_is_pd_lgd_ead(one_period):
    loss, ds = one_period
    n = len(loss)
    se = loss.std(ddof=1) / np.sqrt(n)
    assert abs(loss.mean() - PD * LGD) <= 4 * se, (loss.mean(), PD * LGD, se)
    amount = ds.credit_loss.isel(year=0, segment=0).values
    assert abs(amount.mean() - PD * LGD * EAD) <= 4 * amount.std(ddof=1) / np.sqrt(n)
    rate = ds.defaults_count.isel(year=0, segment=0).values / N_LOANS
    assert abs(rate.mean() - PD) <= 4 * rate.std(ddof=1) / np.sqrt(n)


# --------------------------------------------------------------------------- loan vs cohort

GRANULARITY_PATHS = 12_000  # loan by loan costs ~0.5 ms a path on 2 cores
GRANULARITY_LOANS = 2000


def _total_credit_loss(granularity: str) -> np.ndarray:
    scenario = make_scenario(
        **{
            "segments.sme.lending.count_per_year": GRANULARITY_LOANS,
            "simulation.granularity": granularity,
        }
    )
    ds = gs.simulate(scenario, paths=GRANULARITY_PATHS, seed=777, block_size=2048)
    assert float(ds.unmet_demand_amount.sum()) == 0.0
    return ds.credit_loss.sum(["year", "segment"]).values


def test_loan_and_cohort_granularity_agree():
    """Loan by loan and grouped into cohorts are the same model: same mean and 99% quantile.

    The same seed gives both runs the same systematic factors, so the mean is compared on
    paired differences (standard error of the per-path difference). The 99% quantiles must
    have overlapping 99.9% order-statistic bands.
    """
    loans = _total_credit_loss("loan")
    cohorts = _total_credit_loss("cohort")
    n = len(loans)
    mean = 0.02 * 0.5 * GRANULARITY_LOANS * 1.0e6  # PD x LGD x EAD, the base scenario
    for x in (loans, cohorts):
        assert abs(x.mean() - mean) <= 4 * x.std(ddof=1) / np.sqrt(n)
    diff = loans - cohorts
    se = diff.std(ddof=1) / np.sqrt(n)
    assert abs(diff.mean()) <= 4 * se, (loans.mean(), cohorts.mean(), se)

    band_loans = order_statistic_band(np.sort(loans), 0.99, ALPHA)
    band_cohorts = order_statistic_band(np.sort(cohorts), 0.99, ALPHA)
    assert band_loans[0] <= band_cohorts[1] and band_cohorts[0] <= band_loans[1], (
        f"99% quantile: loans {np.quantile(loans, 0.99):.4g} band {band_loans}, "
        f"cohorts {np.quantile(cohorts, 0.99):.4g} band {band_cohorts}"
    )
