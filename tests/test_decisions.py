"""The lenders' decisions: posterior mean PDs and the guarantor's rule.

* The posterior mean PD (bank's prior; guarantor's prior given the bank's decision, with a
  noisy and an exact bank score) and its lookup table match brute-force integration
  (``scipy.integrate.quad``) to 1e-6 on a grid of scores and noise levels.
* Better data (less noise, more credit_data_sharing) makes the bank approve a safer book and
  at least as many of the applicants who are safer than the segment mean (common random
  numbers: the same applicants, the same noise draws scaled).
* The guarantor's rule: a lower fee offset by an equal subsidy paid to the guarantor leaves
  every decision unchanged; more re-guarantee cover (a lower kept share) approves more;
  a higher mandate approves more, at a higher mean true PD.
* The processes wire them up as derived: the guarantor's prior is the bank's decision on
  the way to it (routed: declined on credit terms, then approved), and its kept share,
  income (a subsidy only when paid to it) and costs are those of the scheme (known answer).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import make_scenario
from helpers import quad_posterior
from process_scenarios import process_dict
from scipy import special

from guarantee_sim.processes import decisions, run_replica

MU = decisions.logit_location(0.05, 0.8)  # first-time applicants: mean PD 5%, dispersion 0.8
SIGMA = 0.8
WINDOWS = {
    "bank prior": None,
    "direct (approved)": decisions.Window(-math.inf, -2.0, 0.5),
    "routed (declined, then approved)": decisions.Window(-3.3, -2.3, 0.56),
    "routed, exact bank score": decisions.Window(-3.3, -2.3, 0.0),
}


@pytest.mark.parametrize("window", WINDOWS.values(), ids=WINDOWS.keys())
@pytest.mark.parametrize("noise", [0.2, 0.6, 1.2])
def test_posterior_matches_numerical_integration(window, noise):
    scores = MU + np.linspace(-4.0, 4.0, 9)
    expected = np.array([quad_posterior(y, noise, window, mu=MU, sigma=SIGMA) for y in scores])
    exact = decisions.posterior_mean_pd(scores, MU, SIGMA, noise, window)
    table = decisions.posterior_table(MU, SIGMA, noise, window)
    np.testing.assert_allclose(exact, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(table(scores), expected, rtol=0, atol=1e-6)
    assert np.all(np.diff(expected) > 0)  # the rule is a threshold on the score


def test_posterior_limits():
    """An exact score is the PD; a useless one (huge noise) leaves the prior mean."""
    assert decisions.posterior_mean_pd(-2.5, MU, SIGMA, 0.0) == pytest.approx(special.expit(-2.5))
    far = decisions.posterior_mean_pd(np.array([-8.0, 3.0]), MU, SIGMA, 1e4)
    np.testing.assert_allclose(far, 0.05, atol=1e-6)


def test_routed_applicants_are_riskier_than_direct_ones():
    """Adverse selection: the same guarantor score means a higher PD for an applicant the
    bank declined on credit terms than for one it approved directly."""
    routed = decisions.posterior_mean_pd(MU, MU, SIGMA, 0.6, WINDOWS["routed, exact bank score"])
    direct = decisions.posterior_mean_pd(MU, MU, SIGMA, 0.6, WINDOWS["direct (approved)"])
    assert routed > decisions.posterior_mean_pd(MU, MU, SIGMA, 0.6) > direct


def _bank_book(noise: float, z_pd: np.ndarray, z_noise: np.ndarray, break_even: float):
    pd = decisions.true_pd(0.05, SIGMA, z_pd)
    score = special.logit(pd) + noise * z_noise
    approved = decisions.posterior_table(MU, SIGMA, noise)(score) <= break_even
    return pd, approved


@pytest.mark.parametrize("break_even", [0.033, 0.094])  # credit terms, guaranteed terms
def test_less_noise_approves_safer_borrowers(break_even):
    """Common random numbers: the same applicants and noise draws, the noise scaled down
    as credit_data_sharing rises (0, 0.5, 1)."""
    rng = np.random.default_rng(20211229)
    z_pd, z_noise = rng.standard_normal(200_000), rng.standard_normal(200_000)
    mean_pd, safe_approvals = [], []
    for noise in (0.8, 0.4, 0.0):
        pd, approved = _bank_book(noise, z_pd, z_noise, break_even)
        mean_pd.append(pd[approved].mean())
        safe_approvals.append(int((approved & (pd < 0.05)).sum()))
    assert mean_pd[0] > mean_pd[1] > mean_pd[2], mean_pd
    assert safe_approvals[0] <= safe_approvals[1] <= safe_approvals[2], safe_approvals


def test_credit_data_sharing_approves_a_safer_book_in_the_processes():
    """Through the processes: the same applicants (same seed), credit_data_sharing 0 vs 1."""
    base = process_dict(applications_per_year=3000, score_noise=0.8, pd_mean=0.05)
    out = []
    for sharing in (0.0, 1.0):
        d = {**base}
        d["processes"] = {**base["processes"], "bank": {**base["processes"]["bank"]}}
        d["processes"]["bank"]["credit_data_sharing"] = sharing
        log = run_replica(make_scenario(d), 7, 0).log
        pds = np.array([o.applicant.pd for o in log if not o.applicant.renewal])
        ok = np.array([o.status == "approved" for o in log if not o.applicant.renewal])
        out.append((pds[ok].mean(), int((ok & (pds < 0.05)).sum()), len(pds)))
    assert out[0][2] == out[1][2]  # the same applicants
    assert out[1][0] < out[0][0], out
    assert out[1][1] >= out[0][1], out


# --------------------------------------------------------------------------- the guarantor


def _guarantor_dict(**changes) -> dict:
    """Every applicant needs a guarantee (coverage 0.8, bank keeps 20%), a reviewer with
    no queue to speak of, a re-guarantor that charges nothing; no price response."""
    d = process_dict(applications_per_year=2000, coverage=0.8, guarantor_reviewers=50, pd_mean=0.05)
    d["parties"]["reg"] = {"kind": "reguarantor", "fee_rate": 0.0, "compensation_rate_cap": None}
    d["parties"]["guarantor"]["fee_rate"] = 0.008
    d["parties"]["guarantor"]["operating_cost_rate"] = 0.005
    d["policy"] = {"fee_cap": {"enabled": True}}
    d["processes"]["guarantor"]["mandate_loss_rate"] = 0.01
    for key, value in changes.items():
        section, *path, last = key.split(".")
        target = d[section]
        for name in path:
            target = target[name]
        target[last] = value
    return d


def _reviewed(d: dict) -> dict:
    """The guarantor's decision on each applicant it reviewed, by applicant id."""
    log = run_replica(make_scenario(d), 3, 0).log
    return {
        (o.applicant.id_hi, o.applicant.id_lo): (o.status, o.applicant.pd)
        for o in log
        if not o.applicant.renewal and o.status in ("approved", "rejected") and o.waits[1:]
    }


def test_fee_cut_offset_by_subsidy_to_guarantor_changes_no_decision():
    base = _reviewed(_guarantor_dict())
    offset = _reviewed(
        _guarantor_dict(
            **{
                "parties.guarantor.fee_rate": 0.005,
                "policy.fee_subsidy": {"rate": 0.003, "max_fee_rate": 0.01},
            }
        )
    )
    cut = _reviewed(_guarantor_dict(**{"parties.guarantor.fee_rate": 0.005}))
    assert offset == base
    approved = {k for k, (status, _) in base.items() if status == "approved"}
    approved_cut = {k for k, (status, _) in cut.items() if status == "approved"}
    assert approved_cut < approved  # without the subsidy the fee cut does bite


def test_more_reguarantee_cover_approves_more():
    """The guarantor keeps 100%, 60%, 30% of the guaranteed loss (re-guarantor the rest)."""
    approved = []
    for kept in (1.0, 0.6, 0.3):
        split = {"guarantor": kept, "reg": round(1.0 - kept, 10)} if kept < 1 else {"guarantor": 1}
        d = _guarantor_dict(**{"schemes.scheme.split": split})
        approved.append({k for k, (s, _) in _reviewed(d).items() if s == "approved"})
    assert approved[0] < approved[1] < approved[2], [len(a) for a in approved]


def test_higher_mandate_approves_more_at_a_higher_mean_pd():
    out = []
    for mandate in (0.0, 0.01, 0.03):
        reviewed = _reviewed(_guarantor_dict(**{"processes.guarantor.mandate_loss_rate": mandate}))
        approved = {k: pd for k, (s, pd) in reviewed.items() if s == "approved"}
        out.append((set(approved), float(np.mean(list(approved.values())))))
    assert out[0][0] < out[1][0] < out[2][0], [len(a) for a, _ in out]
    assert out[0][1] < out[1][1] < out[2][1], [pd for _, pd in out]


def test_guarantor_rule_known_answer():
    """Break-even PD 0.05: 0.05 x 0.8 x 0.5 = fee 0.01 + subsidy 0.005 + mandate 0.01 - cost
    0.005 = 0.02."""
    args = (0.8, 0.5, 0.01, 0.005, 0.01, 0.005)
    assert decisions.guarantor_approves(0.0499, *args)
    assert not decisions.guarantor_approves(0.0501, *args)


def test_guarantor_prior_is_the_bank_decision_that_reached_it(monkeypatch):
    """Hangzhou 2021-2023 at reduced scale: the guarantor's prior for an applicant routed
    from credit terms is the window (c_credit, c_guaranteed] of the bank's score, for one
    who applied for a guarantee directly (-inf, c_guaranteed]; at each threshold the bank's
    posterior PD is its break-even PD on those terms."""
    from guarantee_sim import load_scenario
    from guarantee_sim.engine.parameters import central_scenario
    from guarantee_sim.processes import run as process_run

    scenario = central_scenario(  # what the lenders see: the centres of the drawn parameters
        load_scenario(
            "scenarios/hangzhou_2021_2023.yaml",
            overrides=["processes.record_weight=20", "processes.replicas=1"],
        )
    )
    bank, guarantor = scenario.processes.bank, scenario.processes.guarantor
    asked = []
    table = decisions.posterior_table

    def spy(mu, sigma, noise, window=None, survived_years=0.0):
        if window is not None:
            asked.append((mu, sigma, noise, window))
        return table(mu, sigma, noise, window, survived_years)

    monkeypatch.setattr(decisions, "posterior_table", spy)
    process_run.run_replica(scenario, 1, 0)
    noise_bank = bank.score_noise * (1 - bank.credit_data_sharing)
    segs, demand = scenario.segments, scenario.processes.demand

    def threshold_pd(applied: str, terms: str) -> float:
        kept = 1 - scenario.schemes[segs[terms].scheme].coverage
        return (demand[applied].loan_rate - bank.funding_cost - bank.operating_cost) / (
            segs[terms].lgd * kept
        )

    def bank_posterior(applied: str, score: float) -> float:
        mu = decisions.logit_location(segs[applied].pd.mean, demand[applied].pd_dispersion)
        return float(table(mu, demand[applied].pd_dispersion, noise_bank)(score))

    windows = {(round(mu, 12), w.lo == -math.inf): w for mu, _, noise, w in asked}
    assert {noise for _, _, noise, _ in asked} == {guarantor.score_noise}
    for applied, routed in (("first_time_credit", True), ("first_time_guaranteed", False)):
        mu = decisions.logit_location(segs[applied].pd.mean, demand[applied].pd_dispersion)
        w = windows[round(mu, 12), not routed]
        assert w.noise == pytest.approx(noise_bank)
        assert bank_posterior(applied, w.hi) == pytest.approx(
            threshold_pd(applied, "first_time_guaranteed"), abs=1e-9
        )
        if routed:
            assert bank_posterior(applied, w.lo) == pytest.approx(
                threshold_pd(applied, applied), abs=1e-9
            )


def test_guarantor_terms_known_answer():
    """Hangzhou 2021-2023, 20/20/20/40 (coverage 0.8; guarantor 0.5, two re-guarantors 0.25
    at 0.3% each): per CNY guaranteed a year it keeps 50% of the loss, earns the fee 0.8%
    and the subsidy 0.4% (both on the loan amount: / 0.8), pays 0.5% operating cost and
    2 x 0.25 x 0.3% re-guarantee fees. A subsidy paid to the borrower is not its income
    (``fee_subsidy.paid_to``). Terms of guarantees written in the first year (k = 0)."""
    from guarantee_sim import load_scenario
    from guarantee_sim.processes.run import _Terms

    scenario = load_scenario("scenarios/hangzhou_2021_2023.yaml")
    s = list(scenario.segments).index("first_time_guaranteed")
    terms = _Terms(scenario)
    assert terms.guarantor_kept[0][s] == 0.5
    assert terms.guarantor_cost[0][s] == pytest.approx(0.005 + 2 * 0.25 * 0.003, abs=1e-15)
    assert terms.guarantor_income(1e6, s, 0) == pytest.approx((0.01, 0.005), abs=1e-15)

    def with_subsidy(**subsidy):
        policy = scenario.policy.model_copy(
            update={"fee_subsidy": scenario.policy.fee_subsidy.model_copy(update=subsidy)}
        )
        return _Terms(scenario.model_copy(update={"policy": policy}))

    for paid_to, subsidy in (("guarantor", 0.005), ("borrower", 0.0)):
        other = with_subsidy(rate=0.004, max_fee_rate=0.01, paid_to=paid_to)
        assert other.guarantor_income(1e6, s, 0) == pytest.approx((0.01, subsidy), abs=1e-15)
    capped = with_subsidy(rate=0.004, max_fee_rate=0.005)  # the fee 0.8% is above it
    assert capped.guarantor_income(1e6, s, 0) == pytest.approx((0.01, 0.0), abs=1e-15)


def test_guarantor_incomes_at_once_are_each_ones():
    """``_Terms.guarantor_incomes`` (a block of applicants at once) gives exactly the
    numbers of ``guarantor_income`` one by one: by fee band (an amount at a band's top
    is in it), with the subsidy only where the band's fee is within its cap."""
    from guarantee_sim import load_scenario
    from guarantee_sim.config.schema import FeeBand
    from guarantee_sim.processes.run import _Terms

    scenario = load_scenario("scenarios/hangzhou_2021_2023.yaml")
    s = list(scenario.segments).index("first_time_guaranteed")
    bands = [
        FeeBand(max_amount=1e6, rate=0.005),
        FeeBand(max_amount=3e6, rate=0.012),
        FeeBand(max_amount=None, rate=0.02),
    ]
    party = scenario.parties["guarantor"].model_copy(update={"fee_bands": bands})
    policy = scenario.policy.model_copy(
        update={
            "fee_subsidy": scenario.policy.fee_subsidy.model_copy(
                update={"rate": 0.004, "max_fee_rate": 0.012, "paid_to": "guarantor"}
            )
        }
    )
    terms = _Terms(
        scenario.model_copy(
            update={"parties": {**scenario.parties, "guarantor": party}, "policy": policy}
        )
    )
    amounts = np.array([1.0, 5e5, 1e6, np.nextafter(1e6, 2e6), 2e6, 3e6, 3e6 + 1, 1e9])
    for k in range(len(terms.years)):
        fee, subsidy = terms.guarantor_incomes(amounts, s, k)
        each = [terms.guarantor_income(a, s, k) for a in amounts.tolist()]
        assert fee.tolist() == [f for f, _ in each]
        assert subsidy.tolist() == [p for _, p in each]
    assert fee.tolist() == [0.005 / 0.8] * 3 + [0.012 / 0.8] * 3 + [0.02 / 0.8] * 2
    assert subsidy.tolist() == [0.004 / 0.8] * 6 + [0.0] * 2
