"""The institution processes (SimPy) and how their books reach the kernels.

* The bank's screening queue, configured as an M/M/c queue, reproduces Erlang C.
* Little's law holds on the simulated queues (officers and guarantor reviewers), also with
  abandonment, several visits and renewal applications.
* Policy levers move the processes' outcomes the way economics says: more coverage →
  more approvals of riskier applicants (adverse selection); a sharper score → safer
  approved loans at the same approval rate; more staff → shorter waits, less abandonment;
  a lower all-in price → more applications.
* Offices: at weight w the simulated offices (offices / w, each at full staff) keep the
  waits of weight 1 and of Erlang C; utilisation is over the real headcount; offices
  reserved for a segment serve only it.
* Record weights: a book at weight w has the same expected totals and credit-loss
  distribution as the same book at weight 1.
* Measures: approvals by the segment applied to and the segment booked in, the approved
  PD by booked segment (a hand-made log); the claim volume includes renewed loans.
* The books reach the kernels as they are: totals reconcile with the results, path p
  uses replica p mod R, the same seed gives the same book, and changing one applicant's
  decision leaves every other record's id and draws unchanged.

Tolerances are ``Z`` standard errors estimated from the run itself (batch means by year,
compound-Poisson variances of the books, within-replica variances of the paths).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import make_scenario
from process_scenarios import DAYS_PER_YEAR, erlang_dict, process_dict

import guarantee_sim as gs
import guarantee_sim.engine.inputs as engine_inputs
import guarantee_sim.processes.run as process_run
from guarantee_sim.book import LoanBook
from guarantee_sim.processes import PD_GRID, run_processes, run_replica
from guarantee_sim.processes.log import APPROVED, REJECTED, LogColumns
from guarantee_sim.processes.queues import DAYS_PER_MONTH, Clock

Z = 4.0  # standard errors; a correct model fails a check with probability ~1e-4


def erlang_c(servers: int, offered: float) -> float:
    """P(an arrival waits) in an M/M/c queue with ``offered`` = lambda / mu < c."""
    top = offered**servers / math.factorial(servers) * servers / (servers - offered)
    return top / (sum(offered**k / math.factorial(k) for k in range(servers)) + top)


def mean_se(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))


def approval_stats(rep) -> tuple[float, float, float, int]:
    """(approval rate, mean true PD of approved, its standard error, applications)."""
    first = [o for o in rep.log if not o.applicant.renewal]
    pds = np.array([o.applicant.pd for o in first if o.status == "approved"])
    return (
        len(pds) / len(first),
        float(pds.mean()),
        float(pds.std(ddof=1) / math.sqrt(len(pds))),
        len(first),
    )


# --------------------------------------------------------------------------- queues


@pytest.mark.slow
def test_bank_screening_reproduces_erlang_c():
    """M/M/3 at rho = 0.7: mean wait in queue, P(wait) and utilisation match Erlang C."""
    servers, lam, mu, years, replicas = 3, 2.1, 1.0, 30, 8  # lam per day, mu per day
    scenario = make_scenario(
        erlang_dict(
            servers=servers,
            arrivals_per_day=lam,
            mean_days=1.0 / mu,
            years=years,
            replicas=replicas,
        )
    )
    p_wait = erlang_c(servers, lam / mu)
    wq = p_wait / (servers * mu - lam)
    rho = lam / (servers * mu)

    batch = {"wq": [], "p_wait": [], "util": [], "lq": [], "arrivals": []}
    for r in range(replicas):
        rep = run_replica(scenario, 20240607, r)
        assert rep.officers.capacity == servers
        assert all(
            o.status in ("approved", "rejected") and len(o.waits) == 1 for o in rep.log
        )  # nobody gives up, one visit, no review
        arrival = np.array([o.applicant.arrival for o in rep.log])
        wait = np.array([o.waits[0] for o in rep.log])
        year = (arrival // DAYS_PER_YEAR).astype(int)
        for y in range(1, years):  # year 0 (an empty office at the start) is the warm-up
            in_year = year == y
            batch["wq"].append(wait[in_year].mean())
            batch["p_wait"].append((wait[in_year] > 0).mean())
            batch["util"].append(rep.officers.utilisation(y))
            batch["lq"].append(rep.officers.queue_area[y] / DAYS_PER_YEAR)
            batch["arrivals"].append(in_year.sum() / DAYS_PER_YEAR)

    theory = {"wq": wq, "p_wait": p_wait, "util": rho, "lq": lam * wq, "arrivals": lam}
    report = {}
    for name, value in theory.items():
        est, se = mean_se(batch[name])
        report[name] = (est, value, se)
        assert abs(est - value) <= Z * se, (name, est, value, se)
    # long enough for a tight check: Z x SE is ~10% of Wq and ~1.5% of the utilisation
    assert report["wq"][2] < 0.035 * wq and report["util"][2] < 0.005 * rho, report


def _monthly_wait_batches(rep, first_month: int = 1) -> list[float]:
    """Mean wait of each month's arrivals (batch means), after a warm-up month."""
    arrival = np.array([o.applicant.arrival for o in rep.log])
    wait = np.array([o.waits[0] for o in rep.log])
    month = (arrival // DAYS_PER_MONTH).astype(int)
    return [float(wait[month == m].mean()) for m in range(first_month, month.max() + 1)]


@pytest.mark.slow
def test_offices_keep_their_waits_at_any_weight_and_match_erlang_c():
    """8 offices of 40 at utilisation 0.85: weight 1 (8 offices) and weight 8 (one office
    at its full arrival rate) give the same mean wait, and both give Erlang C's.

    The old scaling (staff c/w in one pool) made these 8 x 40 staff at weight 8 one queue
    of 40 fed at 1/8 of the city's rate: the same here only by luck of the numbers, so the
    weight-8 run is also checked against its own Erlang C value.
    """
    offices, servers, rho, mean_days = 8, 40, 0.85, 1.0
    per_office = rho * servers / mean_days  # arrivals per day at one office
    p_wait = erlang_c(servers, per_office * mean_days)
    wq = p_wait / (servers / mean_days - per_office)
    batches = {}
    for weight, years in ((1, 1), (8, 4)):
        d = erlang_dict(
            servers=servers,
            arrivals_per_day=offices * per_office,
            mean_days=mean_days,
            years=years,
            replicas=1,
        )
        d["processes"]["record_weight"] = weight
        d["processes"]["bank"]["offices"] = offices
        rep = run_replica(make_scenario(d), 20261127, 0)
        assert len(rep.officers.offices) == offices // weight
        assert rep.officers.capacity == offices * servers // weight
        batches[weight] = mean_se(_monthly_wait_batches(rep))
    (w1, se1), (w8, se8) = batches[1], batches[8]
    assert abs(w1 - w8) <= Z * math.hypot(se1, se8), (batches, wq)
    for est, se in batches.values():
        assert abs(est - wq) <= Z * se, (batches, wq)
    assert se1 < 0.1 * wq and se8 < 0.1 * wq, (batches, wq)  # tight enough to mean something


def test_utilisation_is_over_the_real_headcount():
    """4 offices of 3 at weight 2 (2 simulated offices of 3): the recorded utilisation is the
    offered load over the 12 real staff."""
    offices, staff, weight, mean_days, rho = 4, 3, 2, 0.5, 0.6
    arrivals_per_day = rho * offices * staff / mean_days
    d = erlang_dict(
        servers=staff,
        arrivals_per_day=arrivals_per_day,
        mean_days=mean_days,
        years=1,
        replicas=1,
    )
    d["processes"]["record_weight"] = weight
    d["processes"]["bank"]["offices"] = offices
    scenario = make_scenario(d)
    rep = run_replica(scenario, 11, 0)
    assert rep.officers.capacity == offices * staff // weight
    util = float(rep.measures.staff_utilisation.sel(party="bank").isel(year=0))
    n = len(rep.log)  # simulated arrivals; busy time is a compound-Poisson sum of services
    se = math.sqrt(n * 2 * mean_days**2) / (offices * staff / weight * DAYS_PER_YEAR)
    assert abs(util - rho) <= Z * se, (util, rho, se)


def test_offices_reserved_for_a_segment_serve_only_it():
    d = process_dict(applications_per_year=2000, officers=2, offices=4, mean_days=0.5)
    d["processes"]["bank"]["assignment"] = "by_segment"
    d["processes"]["bank"]["segment_offices"] = {"sme": 1}
    rep = run_replica(make_scenario(d), 5, 0)
    busy = [sum(o.busy_area.values()) for o in rep.officers.offices]
    assert busy[0] > 0 and busy[1:] == [0.0, 0.0, 0.0], busy
    d["processes"]["bank"]["assignment"] = "random"
    d["processes"]["bank"].pop("segment_offices")
    rep = run_replica(make_scenario(d), 5, 0)
    assert all(sum(o.busy_area.values()) > 0 for o in rep.officers.offices)


class _IdleStaff:
    def utilisation(self, year: int) -> float:
        return 0.0


def test_approvals_are_recorded_by_applied_and_booked_segment():
    """A hand-made log at weight 2: credit applications approved on credit terms, routed
    to a guarantee, rejected; a direct guarantee application. The approved PD of each
    segment is that of the loans booked in it."""
    d = process_dict(coverage=0.8)
    credit = dict(d["segments"]["sme"], scheme="bank_only", tags=["credit"])
    d["segments"]["credit"] = credit
    d["schemes"]["bank_only"] = {"coverage": 0.0}
    d["processes"]["demand"]["credit"] = dict(d["processes"]["demand"]["sme"], routes_to="sme")
    scenario = make_scenario(d)
    sme, cr = list(scenario.segments).index("sme"), list(scenario.segments).index("credit")

    rows = [  # applied, booked, PD, status
        (cr, cr, 0.01, APPROVED),
        (cr, sme, 0.05, APPROVED),
        (cr, sme, 0.07, APPROVED),
        (cr, -1, 0.20, REJECTED),
        (sme, sme, 0.03, APPROVED),
    ]
    applied, booked_in, pd, status = (np.array(column) for column in zip(*rows, strict=True))
    log = LogColumns(
        renewal=np.zeros(5, dtype=bool),
        applied=applied,
        arrival=np.full(5, 10.0),
        pd=pd,
        amount=np.full(5, 1e6),
        id_hi=np.zeros(5, dtype=np.uint32),
        id_lo=np.zeros(5, dtype=np.uint32),
        status=status.astype(np.int8),
        segment=booked_in,
        decided=np.full(5, 11.0),
    )
    m = process_run._measures(scenario, log, 2, _IdleStaff(), None).to_dataset().isel(year=0)
    assert float(m.approvals.sel(segment="credit")) == 6  # by the segment applied to
    assert float(m.approvals.sel(segment="sme")) == 2
    booked = m.booked_approvals
    assert float(booked.sel(applied_segment="credit", segment="credit")) == 2
    assert float(booked.sel(applied_segment="credit", segment="sme")) == 4
    assert float(booked.sel(applied_segment="sme", segment="sme")) == 2
    assert float(booked.sel(applied_segment="sme", segment="credit")) == 0
    np.testing.assert_array_equal(
        booked.sum("segment").values, m.approvals.sel(segment=booked.applied_segment).values
    )
    assert float(m.approved_pd_mean.sel(segment="credit")) == pytest.approx(0.01)
    assert float(m.approved_pd_mean.sel(segment="sme")) == pytest.approx(0.05)  # .05 .07 .03


def test_expected_claims_include_renewed_loans():
    """100 guaranteed loans of PD 0.12 (a grid grade), 12 months, renewing at rate 0.5 while
    lending continues (3 years): each generation's survivors renew, by hand."""
    d = process_dict(years=3, coverage=0.8, guarantor_reviewers=1)
    d["segments"]["sme"]["renewal"] = {"rate": 0.5}
    d["horizon"]["runoff_months"] = 24
    scenario = make_scenario(d)
    grade = int(np.argmin(np.abs(PD_GRID - 0.12)))
    pd = float(PD_GRID[grade])
    book = LoanBook(
        id_lo=np.zeros(1, dtype=np.uint32),
        id_hi=np.zeros(1, dtype=np.uint32),
        segment=np.zeros(1, dtype=np.int32),
        grade=np.array([grade], dtype=np.int32),
        month=np.zeros(1, dtype=np.int32),
        tenor=np.array([12], dtype=np.int32),
        n_loans=np.array([100], dtype=np.int64),
        amount=np.array([1e6]),
        initial=np.zeros(1, dtype=bool),
    )
    approved_share = np.array([0.8])  # the bank approved 80% of renewal applications
    expected = process_run.expected_claims(scenario, "guarantor", book, None, approved_share)
    alive = [100.0]
    for _ in range(2):  # renewals at months 12 and 24; none at 36, when lending has stopped
        alive.append(alive[-1] * (1 - pd) * 0.5 * 0.8)
    by_hand = np.concatenate([np.full(12, n * pd / 12) for n in alive])
    np.testing.assert_allclose(expected[:36], by_hand, rtol=1e-12)
    np.testing.assert_allclose(expected[36:], 0.0, atol=1e-12)


def test_expected_claims_of_the_other_book_follow_each_replicas_renewal_share():
    """The other book's part of the expected claims is kept for the next replica in the
    process: a replica whose bank approved another share of renewals gets its own (as
    computed afresh), not the one kept."""
    d = process_dict(years=3, coverage=0.8, guarantor_reviewers=1)
    d["segments"]["sme"]["renewal"] = {"rate": 0.5}
    scenario = make_scenario(d)
    other = LoanBook(
        id_lo=np.zeros(2, dtype=np.uint32),
        id_hi=np.zeros(2, dtype=np.uint32),
        segment=np.zeros(2, dtype=np.int32),
        grade=np.zeros(2, dtype=np.int32),
        month=np.array([0, 5], dtype=np.int32),
        tenor=np.array([12, 12], dtype=np.int32),
        n_loans=np.array([100, 40], dtype=np.int64),
        amount=np.full(2, 1e6),
        initial=np.zeros(2, dtype=bool),
    )

    def claims(share: float) -> np.ndarray:
        return process_run.expected_claims(scenario, "guarantor", None, other, np.array([share]))

    first, second = claims(0.8), claims(0.2)
    process_run._other_claims.clear()
    np.testing.assert_array_equal(second, claims(0.2))
    assert not np.array_equal(first, second)
    process_run._other_claims.clear()
    np.testing.assert_array_equal(first, claims(0.8))


def _little_case(name: str) -> dict:
    if name == "mmc":
        return erlang_dict(servers=3, arrivals_per_day=2.1, mean_days=1.0, years=2, replicas=1)
    # abandonment in both queues, three visits, guarantor review and renewal applications
    d = process_dict(
        years=3,
        applications_per_year=1.4 * DAYS_PER_YEAR,
        officers=4,
        mean_days=0.8,
        visits=3,
        patience_days=4.0,
        coverage=0.8,
        guarantor_reviewers=1,
        replicas=1,
    )
    d["segments"]["sme"]["renewal"] = {"rate": 1.0}
    return d


@pytest.mark.parametrize("case", ["mmc", "abandonment"])
def test_littles_law_on_simulated_queues(case):
    """Time-average number waiting = arrival rate to the queue x mean wait (L = lambda W).

    The areas come from the resources' own monitors, the waits from the applicants' log
    (those who gave up count with the time they waited). Every queue has emptied by the
    end of the run, so over the whole run the law is an identity: only bookkeeping errors
    (a missed state change, a wrong queue length, a lost wait) break it.
    """
    scenario = make_scenario(_little_case(case))
    visits = scenario.processes.bank.visits
    rep = run_replica(scenario, 99, 0)
    officer_waits, reviewer_waits = [], []
    for o in rep.log:
        if o.applicant.renewal:
            officer_waits += o.waits
        else:
            officer_waits += o.waits[:visits]
            reviewer_waits += o.waits[visits:]
    statuses = {o.status for o in rep.log}
    if case == "abandonment":
        assert "abandoned" in statuses and any(o.applicant.renewal for o in rep.log)
        assert any(o.status == "abandoned" and len(o.waits) > visits for o in rep.log), (
            "nobody gave up in the reviewers' queue"
        )
        assert any(o.status == "abandoned" and 1 < len(o.waits) <= visits for o in rep.log), (
            "nobody gave up at a later visit"
        )
    queues = [(rep.officers, officer_waits)]
    if rep.reviewers is not None:
        queues.append((rep.reviewers, reviewer_waits))
    for staff, waits in queues:
        horizon = (max(staff.queue_area) + 1) * DAYS_PER_YEAR  # the queues are empty after
        time_average = sum(staff.queue_area.values()) / horizon
        arrival_rate = len(waits) / horizon
        mean_wait = float(np.mean(waits))
        assert time_average > 0.05
        assert time_average == pytest.approx(arrival_rate * mean_wait, rel=1e-6), (
            case,
            time_average,
            arrival_rate,
            mean_wait,
        )


# --------------------------------------------------------------------------- decisions


def test_more_coverage_approves_more_and_riskier_first_time_borrowers():
    """Adverse selection: the less of the loss the bank keeps, the more it approves, and
    the higher the mean true PD of what it approves (score noise fixed)."""
    rates, pds, ses = [], [], []
    for coverage in (0.0, 0.5, 0.8):
        scenario = make_scenario(
            process_dict(applications_per_year=3000, coverage=coverage, score_noise=0.8)
        )
        rep = run_replica(scenario, 7, 0)
        rate, pd_mean, se, _ = approval_stats(rep)
        measures = rep.measures.sel(segment="sme").sum("year")
        assert float(measures.approvals / measures.applications) == pytest.approx(rate)
        assert float(
            rep.measures.approved_pd_mean.sel(segment="sme").isel(year=0)
        ) == pytest.approx(pd_mean)
        rates.append(rate)
        pds.append(pd_mean)
        ses.append(se)
    for lo in range(2):
        assert rates[lo + 1] > rates[lo] + 0.05, rates
        assert pds[lo + 1] > pds[lo] + Z * math.hypot(ses[lo], ses[lo + 1]), (pds, ses)


def _approval_rate(noise: float, loan_rate: float):
    scenario = make_scenario(
        process_dict(applications_per_year=3000, score_noise=noise, loan_rate=loan_rate)
    )
    return approval_stats(run_replica(scenario, 11, 0))


def _rate_for_approval(noise: float, target: float, tolerance: float):
    """Bisect the loan rate (the bank's margin) until the approval rate hits ``target``."""
    lo, hi = 0.0351, 0.3  # margin ~0: nobody; 0.3: nearly everybody
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        stats_ = _approval_rate(noise, mid)
        if abs(stats_[0] - target) <= tolerance:
            return mid, stats_
        lo, hi = (mid, hi) if stats_[0] < target else (lo, mid)
    raise AssertionError(f"no loan rate gives approval rate {target} at noise {noise}")


@pytest.mark.slow
def test_sharper_score_selects_safer_loans_at_the_same_approval_rate():
    target, tolerance = 0.5, 0.004
    _, (rate_sharp, pd_sharp, se_sharp, _) = _rate_for_approval(0.3, target, tolerance)
    _, (rate_noisy, pd_noisy, se_noisy, _) = _rate_for_approval(1.5, target, tolerance)
    assert abs(rate_sharp - rate_noisy) <= 2 * tolerance
    assert pd_sharp + Z * math.hypot(se_sharp, se_noisy) < pd_noisy, (pd_sharp, pd_noisy)


def test_more_staff_shortens_waits_and_reduces_abandonment():
    out = {}
    for officers in (2, 5):
        scenario = make_scenario(
            process_dict(
                years=2,
                applications_per_year=1.6 * 365,
                officers=officers,
                mean_days=0.5,
                visits=2,
                patience_days=3.0,
            )
        )
        rep = run_replica(scenario, 5, 0)
        waits = np.concatenate([o.waits for o in rep.log])
        gave_up = np.array([o.status == "abandoned" for o in rep.log])
        m = rep.measures.sum("year").sel(segment="sme")
        assert float(m.abandoned) == gave_up.sum()
        out[officers] = (
            waits.mean(),
            waits.std(ddof=1) / math.sqrt(len(waits)),
            gave_up.mean(),
            len(gave_up),
            float(rep.measures.decision_days_mean.sel(segment="sme").mean()),
        )
    few, many = out[2], out[5]
    assert many[0] + Z * math.hypot(few[1], many[1]) < few[0], out
    p = 0.5 * (few[2] + many[2])
    assert many[2] + Z * math.sqrt(p * (1 - p) * (1 / few[3] + 1 / many[3])) < few[2], out
    assert many[4] < few[4], out


def test_renewal_of_a_routed_loan_is_screened():
    """An applicant the bank declines on one segment's terms and lends to on another's
    (routes_to) comes back for renewal at maturity like any other borrower."""
    d = process_dict(years=2, applications_per_year=300, coverage=0.8, replicas=1)
    d["segments"]["sme"]["renewal"] = {"rate": 1.0}
    credit = dict(d["segments"]["sme"], scheme="bank_only", tags=["credit", "first_time"])
    credit.pop("renewal")
    d["segments"]["credit"] = credit
    d["schemes"]["bank_only"] = {"coverage": 0.0}
    d["processes"]["demand"] = {"credit": dict(d["processes"]["demand"]["sme"], routes_to="sme")}
    scenario = make_scenario(d)
    sme = list(scenario.segments).index("sme")
    rep = run_replica(scenario, 3, 0)
    routed = [o for o in rep.log if not o.applicant.renewal and o.segment == sme]
    renewals = [o for o in rep.log if o.applicant.renewal]
    assert routed and renewals
    assert all(
        o.applicant.segment == sme and o.status in ("approved", "rejected") for o in renewals
    )
    assert 0 < rep.renewal_share[sme] <= 1


def _applications(d: dict, **changes) -> float:
    rep = run_replica(make_scenario(d, **changes), 3, 0)
    return float(rep.measures.applications.sum())


def test_lower_all_in_price_raises_applications():
    elasticity, base_rate, apps = 1.5, 0.045, 2000.0
    d = process_dict(applications_per_year=apps, elasticity=elasticity, loan_rate=base_rate)
    subsidy = {"share_of_lpr": 0.5, "max_amount_per_firm": 5e6, "tags": ["first_time"]}
    base = _applications(d)
    subsidised = _applications(d, **{"policy.interest_subsidy": subsidy})
    cheaper = _applications(d, **{"processes.demand.sme.loan_rate": 0.035})
    inelastic = process_dict(applications_per_year=apps, elasticity=0.0)
    assert _applications(inelastic, **{"policy.interest_subsidy": subsidy}) == _applications(
        inelastic
    )
    lpr = make_scenario(d).policy.lpr
    for count, price in ((subsidised, base_rate - 0.5 * lpr), (cheaper, 0.035)):
        expected = (price / base_rate) ** -elasticity
        se = (count / base) * math.sqrt(1 / count + 1 / base)  # Poisson counts
        assert count > base
        assert count / base == pytest.approx(expected, abs=Z * se), (count, base, expected)


# --------------------------------------------------------------------------- weights


WEIGHT_REPLICAS = 16


def _weighted_run(weight: int, seed: int, paths: int, monkeypatch):
    """Results and book replicas of the same scenario at record weight ``weight``."""
    d = process_dict(
        applications_per_year=3000,
        officers=10,
        offices=10,
        mean_days=0.2,
        coverage=0.8,
        replicas=WEIGHT_REPLICAS,
        record_weight=weight,
        sigma=0.3,
    )
    d["segments"]["sme"]["correlation"] = 0.05
    scenario = make_scenario(d)
    captured = []

    def capture(*args, **kwargs):
        captured.append(run_processes(*args, **kwargs))
        return captured[-1]

    monkeypatch.setattr(engine_inputs, "run_processes", capture)
    ds = gs.simulate(scenario, paths=paths, seed=seed)
    return scenario, ds, captured[0].books


@pytest.mark.slow
def test_record_weight_preserves_totals_and_loss_distribution(monkeypatch):
    """At weight w arrivals and offices are simulated at 1/w and each record stands for w
    loans, which default independently: expected totals, mean loss and the 99% loss
    quantile match weight 1 within the run's sampling error."""
    seed, paths, weight, lgd = 4242, 4000, 10, 0.5
    replicas = WEIGHT_REPLICAS
    runs = {w: _weighted_run(w, seed, paths, monkeypatch) for w in (1, weight)}
    path_replica = np.arange(paths) % replicas

    def book_variance(books, per_record):
        # each replica is a compound-Poisson sum over records: Var = sum of squares
        return sum(float(np.sum(per_record(b) ** 2)) for b in books) / replicas**2

    for name, per_record in (
        ("count", lambda b: b.n_loans.astype(float)),
        ("amount", lambda b: b.n_loans * b.amount),
    ):
        values = [
            float(runs[w][1]["loans_" + name].sum(("year", "segment")).mean("path"))
            for w in (1, weight)
        ]
        book_mean = [np.mean([per_record(b).sum() for b in runs[w][2]]) for w in (1, weight)]
        assert values == pytest.approx(book_mean, rel=1e-12)  # results = books
        se = math.sqrt(sum(book_variance(runs[w][2], per_record) for w in (1, weight)))
        assert abs(values[0] - values[1]) <= Z * se, (name, values, se)
    assert all(np.all(b.n_loans == weight) for b in runs[weight][2])
    apps = [float(runs[w][1].applications.sum()) for w in (1, weight)]
    assert abs(apps[0] - apps[1]) <= Z * math.sqrt(
        sum(w * a / replicas for w, a in zip((1, weight), apps, strict=True))
    ), apps  # Var = w x count / R

    def expected_loss(b):  # per record: loans x PD of its grade x LGD x amount
        return b.n_loans * PD_GRID[b.grade] * lgd * b.amount

    losses = [runs[w][1].credit_loss.sum(("year", "segment")).values for w in (1, weight)]
    book_var = [book_variance(runs[w][2], expected_loss) for w in (1, weight)]
    book_el = [np.mean([expected_loss(b).sum() for b in runs[w][2]]) for w in (1, weight)]
    # given the books, paths are independent; their variance within each replica
    path_var = [
        sum(
            np.var(loss[path_replica == r], ddof=1) * np.sum(path_replica == r)
            for r in range(replicas)
        )
        / paths**2
        for loss in losses
    ]
    mean_loss = [float(loss.mean()) for loss in losses]
    se_mean = math.sqrt(sum(book_var) + sum(path_var))
    assert abs(mean_loss[0] - mean_loss[1]) <= Z * se_mean, (mean_loss, se_mean)
    assert mean_loss[0] == pytest.approx(book_el[0], rel=0.25)  # the proxy is of the right size

    # 99% quantile: paired bootstrap over paths (same path = same systematic factors),
    # stratified by replica, plus the books' noise scaled to the quantile
    q = [float(np.quantile(loss, 0.99)) for loss in losses]
    rng = np.random.default_rng(0)
    strata = [np.flatnonzero(path_replica == r) for r in range(replicas)]
    diffs = []
    for _ in range(300):
        idx = np.concatenate([rng.choice(s, len(s)) for s in strata])
        diffs.append(np.quantile(losses[0][idx], 0.99) - np.quantile(losses[1][idx], 0.99))
    se_q = math.sqrt(
        np.var(diffs)
        + sum((qq / el) ** 2 * v for qq, el, v in zip(q, book_el, book_var, strict=True))
    )
    assert abs(q[0] - q[1]) <= Z * se_q, (q, se_q)
    assert q[0] > 1.5 * mean_loss[0]  # a real tail, not the mean again


# --------------------------------------------------------------------------- books


R = 3
SEED = 31337


@pytest.fixture(scope="module")
def process_results():
    """A guaranteed segment with queues, a guarantor review and 3 book replicas."""
    d = process_dict(
        years=2,
        applications_per_year=400,
        officers=3,
        mean_days=1.0,
        visits=2,
        patience_days=20.0,
        coverage=0.8,
        guarantor_reviewers=2,
        replicas=R,
        sigma=0.6,
    )
    scenario = make_scenario(d)
    ds = gs.simulate(scenario, paths=4 * R, seed=SEED)
    reps = [run_replica(scenario, SEED, r) for r in range(R)]
    return scenario, ds, reps


def test_results_carry_the_process_measures(process_results):
    scenario, ds, reps = process_results
    assert ds.attrs["book_replicas"] == R
    assert ds.attrs["lending_source"] == "processes"
    for name in (
        "applications",
        "approvals",
        "rejections",
        "abandoned",
        "decision_days_mean",
        "approved_pd_mean",
    ):
        assert ds[name].dims == ("year", "segment"), name
        assert ds[name].attrs["units"] and ds[name].attrs["long_name"], name
        replica_mean = np.mean([rep.measures[name].values for rep in reps], axis=0)
        np.testing.assert_allclose(ds[name].values, replica_mean, rtol=1e-12, err_msg=name)
    assert ds.booked_approvals.dims == ("year", "applied_segment", "segment")
    assert ds.booked_approvals.attrs["units"] and ds.booked_approvals.attrs["long_name"]
    np.testing.assert_allclose(
        ds.booked_approvals.sum("segment").values, ds.approvals.values, rtol=1e-12
    )
    assert ds.staff_utilisation.dims == ("year", "party")
    assert ds.staff_utilisation.attrs["units"] == "1"
    assert ds.staff_utilisation.attrs["long_name"]
    util = ds.staff_utilisation.sel(year=scenario.years[0])
    assert 0 < float(util.sel(party="bank")) < 1 and 0 < float(util.sel(party="guarantor")) < 1
    first = ds.sel(year=scenario.years[0], segment="sme")
    assert float(first.abandoned) > 0 and float(first.rejections) > 0
    assert float(first.applications) == pytest.approx(
        float(first.approvals + first.rejections + first.abandoned)
    )  # all decided within the year
    assert 0 < float(first.decision_days_mean) < 60
    assert 0 < float(first.approved_pd_mean) < 0.2


def test_book_totals_reconcile_with_results_per_replica(process_results):
    """Path p uses replica p mod R: its new loans are exactly that replica's records."""
    scenario, ds, reps = process_results
    years = np.array(scenario.years)
    books = []
    for r, rep in enumerate(reps):
        book = rep.book
        assert np.all(book.n_loans == 1) and not book.initial.any()
        year = book.month // 12
        count = np.bincount(year, weights=book.n_loans, minlength=len(years))
        amount = np.bincount(year, weights=book.n_loans * book.amount, minlength=len(years))
        paths = ds.path.values[ds.path.values % R == r]
        sel = ds.sel(path=paths, segment="sme")
        assert float(sel.unmet_demand_amount.sum()) == 0.0  # nothing rationed
        np.testing.assert_array_equal(sel.loans_count.values, np.tile(count, (len(paths), 1)))
        np.testing.assert_allclose(
            sel.loans_amount.values, np.tile(amount, (len(paths), 1)), rtol=1e-12
        )
        # approvals in the measures are the book's records (counted by arrival year)
        assert float(rep.measures.approvals.sum()) == book.n_loans.sum()
        books.append(count)
    assert not np.array_equal(books[0], books[1])  # the replicas differ: book noise enters
    np.testing.assert_allclose(
        ds.loans_count.sum("segment").mean("path").values, np.mean(books, axis=0), rtol=1e-12
    )


def test_same_seed_same_book(process_results):
    scenario, _, reps = process_results
    again = run_replica(scenario, SEED, 1)
    for field in (
        "id_lo",
        "id_hi",
        "segment",
        "grade",
        "month",
        "tenor",
        "n_loans",
        "amount",
        "initial",
    ):
        np.testing.assert_array_equal(
            getattr(again.book, field), getattr(reps[1].book, field), err_msg=field
        )
    assert again.measures.equals(reps[1].measures)
    other = run_replica(scenario, SEED + 1, 1)
    assert not np.array_equal(other.book.id_lo, again.book.id_lo)


def test_one_changed_decision_leaves_other_records_unchanged(monkeypatch):
    """Reject one approved applicant: every other record keeps its id, amount and grade.

    Its skipped guarantor review changes others' waits (nobody gives up here, so only
    their decision days can move), never their draws.
    """
    d = process_dict(
        years=2,
        applications_per_year=400,
        officers=3,
        mean_days=1.0,
        visits=2,
        patience_days=None,
        coverage=0.8,
        guarantor_reviewers=1,
        replicas=1,
        sigma=0.6,
    )
    scenario = make_scenario(d)
    base = run_replica(scenario, SEED, 0)
    approved = [o for o in base.log if o.status == "approved" and not o.applicant.renewal]
    target = approved[len(approved) // 3].applicant
    target_id = (target.id_hi, target.id_lo)
    screen = process_run._screen

    def screen_rejecting_target(drawn, applied, rules):
        booked_in, approves, renewal_pd = screen(drawn, applied, rules)
        target = (drawn["id_hi"] == target_id[0]) & (drawn["id_lo"] == target_id[1])
        booked_in[target] = -1  # the bank declines it on every product
        return booked_in, approves, renewal_pd

    monkeypatch.setattr(process_run, "_screen", screen_rejecting_target)
    changed = run_replica(scenario, SEED, 0)

    def records(book):
        return {
            (int(h), int(lo), float(a), int(g))
            for h, lo, a, g in zip(book.id_hi, book.id_lo, book.amount, book.grade, strict=True)
        }

    before, after = records(base.book), records(changed.book)
    assert (int(target.id_hi), int(target.id_lo)) in {r[:2] for r in before}
    assert after == before - {r for r in before if r[:2] == target_id}
    # the applicants' draws (arrival, PD, amount, the bank's score) are unchanged too
    by_id = {
        (o.applicant.id_hi, o.applicant.id_lo): o.applicant
        for o in base.log
        if not o.applicant.renewal
    }
    assert len(changed.log) == len(base.log)
    for o in changed.log:
        if o.applicant.renewal:
            continue
        a, b = o.applicant, by_id[(o.applicant.id_hi, o.applicant.id_lo)]
        assert (a.arrival, a.pd, a.amount, a.bank_seen_pd) == (
            b.arrival,
            b.pd,
            b.amount,
            b.bank_seen_pd,
        )
    # the months of the other records may move only through queueing
    month_before = {
        (int(h), int(lo)): int(m)
        for h, lo, m in zip(base.book.id_hi, base.book.id_lo, base.book.month, strict=True)
    }
    for h, lo, m in zip(changed.book.id_hi, changed.book.id_lo, changed.book.month, strict=True):
        assert abs(int(m) - month_before[(int(h), int(lo))]) <= 1
    assert pytest.approx(365 / 12) == DAYS_PER_MONTH


# --------------------------------------------------------------------------- events


def _events(env: Clock) -> int:
    """The events scheduled on ``env`` so far (SimPy numbers them as it schedules them;
    at the end of a run every one has been processed)."""
    return next(env._eid)


@pytest.mark.parametrize(
    ("patience", "reviewers", "renewal", "most"),
    [
        (None, None, False, 1.01),
        (30.0, None, False, 1.1),
        (30.0, 50, False, 2.1),
        (None, None, True, 1.01),
    ],
)
def test_events_per_application(monkeypatch, patience, reviewers, renewal, most):
    """Each application is a service time (1 event; its arrival is not an event, nor a
    renewal's, which waits in the clock's line of its tenor); a patience timer only when
    it has to wait; 1 more at the guarantor's review. Here the staff are rarely all busy,
    so the counts are close to those floors."""
    d = process_dict(
        years=2 if renewal else 1,
        applications_per_year=2000,
        officers=50,
        patience_days=patience,
        coverage=0.8 if reviewers else 0.0,
        guarantor_reviewers=reviewers,
        replicas=1,
    )
    if renewal:
        d["segments"]["sme"]["renewal"] = {"rate": 1.0}
    envs: list = []

    def clock():
        envs.append(Clock())
        return envs[-1]

    monkeypatch.setattr(process_run, "Clock", clock)
    rep = run_replica(make_scenario(d), 7, 0)
    reviewed = sum(len(o.waits) > 1 for o in rep.log)
    renewals = sum(o.applicant.renewal for o in rep.log)
    per_application = _events(envs[0]) / len(rep.log)
    assert len(rep.log) > 1500 and (reviewed > 500) == bool(reviewers)
    assert (renewals > 500) == renewal
    assert per_application <= most, (per_application, reviewed / len(rep.log))


def test_the_clock_is_advanced_to_an_arrival_after_the_events_due_by_then():
    """``Clock.advance_to(t)`` processes the events due at or before ``t``, none after, and
    leaves the clock at exactly ``t``, so an arrival's requests start on its own day."""
    env = Clock()
    seen: list = []
    for delay in (0.5, 1.0, 1.0 + 2**-40, 3.0):
        env.timeout(delay).callbacks.append(lambda _, d=delay: seen.append((d, env.now)))
    env.advance_to(1.0)
    assert seen == [(0.5, 0.5), (1.0, 1.0)] and env.now == 1.0
    env.advance_to(2.9)
    assert seen[-1] == (1.0 + 2**-40, 1.0 + 2**-40) and env.now == 2.9
    env.run()
    assert seen[-1] == (3.0, 3.0)


def test_the_clock_brings_in_its_lines_arrivals_in_order_of_time_among_the_events():
    """``Clock.arrive_later``: each arrival at now + its delay, in order of time with the
    events and the other lines' arrivals, also one that an event puts in a line and that is
    due before ``advance_to``'s time; the clock reads the arrival's time when it comes."""
    env = Clock()
    seen: list = []

    def note(what):
        seen.append((what, env.now))

    def event_then_line(_):
        note("event 1.0")
        env.arrive_later(0.5, note, "line after event")  # due 1.5 < 2.0 below

    env.arrive_later(2.0, note, "line 2.0")
    env.arrive_later(0.25, note, "line 0.25")
    env.timeout(1.0).callbacks.append(event_then_line)
    env.timeout(1.75).callbacks.append(lambda _: note("event 1.75"))
    env.advance_to(1.9)
    assert seen == [
        ("line 0.25", 0.25),
        ("event 1.0", 1.0),
        ("line after event", 1.5),
        ("event 1.75", 1.75),
    ]
    assert env.now == 1.9
    env.timeout(0.5).callbacks.append(lambda _: note("event 2.4"))
    env.run_out()
    assert seen[-2:] == [("line 2.0", 2.0), ("event 2.4", 2.4)] and env.now == 2.4
