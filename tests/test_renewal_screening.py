"""Renewals screen an existing borrower (issue 9 D): the repayment record and seasoning.

At its loan's maturity the bank re-screens a firm on the posterior of its *current* PD:
its prior (the population of the segment it applied in) and first score, the likelihood
of the loan repaid without a default, ``(1 - PD)^(tenor / 12)`` (the kernels' survival),
times the segment's ``renewal.seasoning`` (``processes.decisions`` module doc).

* That posterior (and its lookup table) matches brute-force integration
  (``scipy.integrate.quad`` over prior x score likelihood x survival) to 1e-6 on a grid of
  scores, noise levels, months on the book and the guarantor's windows.
* More months survived -> a lower posterior PD at every score; with seasoning <= 1 a firm is
  renewed at least as readily as it was first approved (every renewal applicant the old
  rule renews is renewed).
* Degenerate cases by hand: an exact score leaves the PD (times seasoning) whatever the
  record; zero months is the first-time posterior bit for bit.
* The renewal share the kernels apply to survivors is the approved share of the renewal
  applications weighted by each firm's survival over its tenor (known answer).
* Through the processes, common random numbers (the same applicants), against the rule
  before (the first posterior, no record, no seasoning): guaranteed first loans renewing
  as the bank's own loans get more renewals approved, and more renewal balance in the
  kernels; the approved renewals of surviving firms have a lower mean true PD than the
  first-loan approvals.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_scenario
from helpers import quad_posterior
from process_scenarios import process_dict
from scipy import special

from guarantee_sim.processes import decisions, run_replica
from guarantee_sim.processes import run as process_run
from guarantee_sim.processes.log import LogColumns

MU = decisions.logit_location(0.05, 0.8)  # first-time applicants: mean PD 5%, dispersion 0.8
SIGMA = 0.8
WINDOWS = {
    "bank prior": None,
    "routed (declined, then approved)": decisions.Window(-3.3, -2.3, 0.56),
    "routed, exact bank score": decisions.Window(-3.3, -2.3, 0.0),
}


@pytest.mark.parametrize("window", WINDOWS.values(), ids=WINDOWS.keys())
@pytest.mark.parametrize("months", [6, 12, 36])
@pytest.mark.parametrize("noise", [0.2, 0.6, 1.2])
def test_existing_borrower_posterior_matches_numerical_integration(noise, months, window):
    years = months / 12
    scores = MU + np.linspace(-4.0, 4.0, 9)
    expected = np.array(
        [quad_posterior(y, noise, window, mu=MU, sigma=SIGMA, years=years) for y in scores]
    )
    exact = decisions.posterior_mean_pd(scores, MU, SIGMA, noise, window, years)
    table = decisions.posterior_table(MU, SIGMA, noise, window, survived_years=years)
    np.testing.assert_allclose(exact, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(table(scores), expected, rtol=0, atol=1e-6)
    assert np.all(np.diff(expected) > 0)  # still a threshold on the score


@pytest.mark.parametrize("window", WINDOWS.values(), ids=WINDOWS.keys())
def test_more_months_survived_lower_posterior(window):
    """At every score and noise: the posterior falls with each half year survived."""
    scores = MU + np.linspace(-4.0, 4.0, 41)
    for noise in (0.2, 0.56, 1.2):
        by_months = np.array(
            [
                decisions.posterior_mean_pd(scores, MU, SIGMA, noise, window, months / 12)
                for months in (0, 6, 12, 24, 36, 60)
            ]
        )
        assert np.all(np.diff(by_months, axis=0) < 0), noise


def test_degenerate_cases_by_hand():
    """An exact score (noise 0) is the PD whatever the record (expit(-5), expit(-3),
    expit(-1) by hand). No record (0 years) is the first-time posterior, bit for bit."""
    scores = np.array([-5.0, -3.0, -1.0])
    for years in (0.0, 1.0, 3.0):
        exact = decisions.posterior_mean_pd(scores, MU, SIGMA, 0.0, None, years)
        np.testing.assert_allclose(exact, [0.0066928509, 0.0474258732, 0.2689414214], atol=1e-10)
    for window in WINDOWS.values():
        first = decisions.posterior_mean_pd(scores, MU, SIGMA, 0.56, window)
        none = decisions.posterior_mean_pd(scores, MU, SIGMA, 0.56, window, 0.0)
        np.testing.assert_array_equal(none, first)
    with pytest.raises(ValueError, match="survived_years"):
        decisions.posterior_mean_pd(scores, MU, SIGMA, 0.56, None, -1.0)


def test_a_firm_is_renewed_at_least_as_readily_as_it_was_first_approved():
    """With seasoning <= 1 and any break-even PD, the renewal's score threshold is at least
    the first loan's: the same score that was approved is renewed."""
    noise = 0.56
    first = decisions.posterior_table(MU, SIGMA, noise)
    renewal = decisions.posterior_table(MU, SIGMA, noise, survived_years=1.0)
    scores = MU + np.linspace(-6.0, 6.0, 601)
    for seasoning in (1.0, 0.57):
        assert np.all(seasoning * renewal(scores) < first(scores))
    for break_even in (0.01, 0.033, 0.094, 0.3):
        c_first = decisions.bank_score_threshold(first, break_even)
        c_renewal = decisions.bank_score_threshold(renewal, break_even)
        assert c_renewal > c_first, break_even


# ------------------------------------------------------------------ through the processes


def graduating_dict(**changes) -> dict:
    """First loans of segment ``sme`` 80% guaranteed (no guarantor review: the cover acts
    through the bank's rule), renewing at maturity as the bank's own loans (``own``, bank
    keeps 100%, seasoning 0.57): on those terms the first posterior declines some renewals.
    Two years of lending, 12-month tenors, one replica at record weight 1."""
    d = process_dict(
        years=2, applications_per_year=3000, coverage=0.8, replicas=1, pd_mean=0.05, **changes
    )
    d["simulation"]["paths"] = 64
    sme = d["segments"]["sme"]
    sme["renewal"] = {"rate": 1.0, "into": "own", "seasoning": 0.57}
    own = {k: v for k, v in sme.items() if k not in ("renewal", "tags")}
    d["segments"]["own"] = {**own, "scheme": "bank_only", "tags": ["renewal"]}
    d["schemes"]["bank_only"] = {"coverage": 0.0}
    return d


@pytest.fixture
def old_rule(monkeypatch):
    """The rule before: a renewal is screened on the first posterior (``bank_pd``)."""

    rules_of = process_run._rules

    def with_old_renewals(*args):
        rules = rules_of(*args)
        rules.renewal_pds = lambda applied, group, s: group["bank_pd"]
        return rules

    def use():
        monkeypatch.setattr(process_run, "_rules", with_old_renewals)

    return use


def _renewal_book(rep):
    """(true PD, approved, seasoned true PD's survival weight) of each renewal application,
    and (true PD) of each first-loan approval."""
    first = [o for o in rep.log if not o.applicant.renewal and o.status == "approved"]
    renewals = [o for o in rep.log if o.applicant.renewal]
    pd = np.array([o.applicant.pd for o in renewals])
    approved = np.array([o.status == "approved" for o in renewals])
    return np.array([o.applicant.pd for o in first]), pd, approved


def test_repayment_record_renews_more_with_common_random_numbers(old_rule):
    scenario = make_scenario(graduating_dict())
    sme = list(scenario.segments).index("sme")
    new = run_replica(scenario, 5, 0)
    old_rule()
    old = run_replica(scenario, 5, 0)
    first_new, pd_new, ok_new = _renewal_book(new)
    first_old, pd_old, ok_old = _renewal_book(old)
    np.testing.assert_array_equal(first_new, first_old)  # the same first loans
    np.testing.assert_array_equal(pd_new, pd_old)  # the same renewal applications
    assert np.all(ok_new[ok_old])  # every renewal the old rule made is still made
    assert ok_new.sum() > ok_old.sum() and 0 < old.renewal_share[sme] < new.renewal_share[sme]
    # the surviving firms' renewals (survival weight (1 - PD)^1, PD seasoned by 0.57) are
    # safer than the first loans: the record screens, seasoning lowers
    survival = 1.0 - pd_new
    renewed_pd = (0.57 * pd_new * survival)[ok_new].sum() / survival[ok_new].sum()
    assert renewed_pd < first_new.mean()
    assert pd_new[ok_new].mean() < first_new.mean()  # even at their first-loan PDs


def test_exact_score_renewal_known_answer():
    """Score noise 0: the bank knows each firm's PD, so at renewal it prices 0.57 x its true
    PD, and on the bank's own terms (margin 0.045 - 0.025 - 0.01 = 0.01, LGD 0.5, keeps
    100%: break-even PD 0.02) renews exactly the firms with 0.57 PD <= 0.02."""
    rep = run_replica(make_scenario(graduating_dict(score_noise=0.0)), 5, 0)
    renewals = [o.applicant for o in rep.log if o.applicant.renewal]
    pd = np.array([a.pd for a in renewals])
    np.testing.assert_allclose([a.bank_pd for a in renewals], 0.57 * pd, rtol=1e-9)
    approved = np.array([o.status == "approved" for o in rep.log if o.applicant.renewal])
    np.testing.assert_array_equal(approved, 0.57 * pd <= 0.02)
    assert 0 < approved.sum() < len(approved)


@pytest.mark.parametrize("tenor", [6, 12])
def test_renewal_posterior_is_the_stated_one(tenor):
    """Each renewal applicant is priced at 0.57 x the posterior given its first score, the
    prior of the segment it applied in (mean 5%, dispersion 0.8), the bank's noise 0.8 and
    ``tenor`` months repaid (the exact function; the processes use its table)."""
    d = graduating_dict()
    for name in ("sme", "own"):
        d["segments"][name]["tenor_months"] = tenor
    rep = run_replica(make_scenario(d), 5, 0)
    renewals = [o.applicant for o in rep.log if o.applicant.renewal]
    score = special.logit([a.bank_seen_pd for a in renewals])
    expected = 0.57 * decisions.posterior_mean_pd(score, MU, SIGMA, 0.8, None, tenor / 12)
    assert len(renewals) > 100
    np.testing.assert_allclose([a.bank_pd for a in renewals], expected, rtol=1e-6, atol=0)


def test_renewal_share_is_among_the_firms_that_survive_to_ask():
    """Hand-made renewal applications of one segment, tenor 2 years: PD 0.5 approved
    (survives with (1 - 0.5)^2 = 0.25), PD 0 rejected (survives for sure). The kernels
    renew survivors only, so the share is 0.25 / 1.25 = 0.2 (not 1 in 2); a segment
    nobody asked in has none (NaN)."""
    columns = LogColumns(
        renewal=np.array([True, True, False]),
        applied=np.array([0, 0, 0]),
        arrival=np.zeros(3),
        pd=np.array([0.5, 0.0, 0.3]),
        amount=np.ones(3),
        id_hi=np.zeros(3, dtype=np.uint32),
        id_lo=np.zeros(3, dtype=np.uint32),
        status=np.array([1, 2, 1], dtype=np.int8),  # approved, rejected, approved
        segment=np.array([0, -1, 0]),
        decided=np.zeros(3),
    )
    share = process_run._renewal_share(columns, np.array([2.0, 1.0]))
    assert share[0] == pytest.approx(0.2, abs=1e-15)
    assert np.isnan(share[1])


def test_repayment_record_raises_the_renewal_balance(old_rule):
    """The kernels renew survivors at the bank's renewal share (common random numbers):
    more renewals lent in the second year, more of them outstanding at its end."""
    from guarantee_sim import simulate

    scenario = make_scenario(graduating_dict())
    new = simulate(scenario, progress=False)
    old_rule()
    old = simulate(scenario, progress=False)
    lent = [float(ds.loans_amount.sel(segment="own", year=2022).mean()) for ds in (old, new)]
    held = [float(ds.outstanding_amount.sel(segment="own", year=2022).mean()) for ds in (old, new)]
    assert lent[0] < lent[1] and held[0] < held[1], (lent, held)
    path_lent = [ds.loans_amount.sel(segment="own", year=2022) for ds in (old, new)]
    assert bool((path_lent[0] <= path_lent[1]).all())  # path by path: the same uniforms
