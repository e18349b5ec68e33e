"""The institutions as SimPy processes (plain generator functions), one run per book replica.

Applicants arrive by segment and month; each queues for a bank loan officer for each
visit its application needs, may give up waiting, is screened on a noisy score, may be
offered another segment's terms (e.g. a guarantee) when declined, and goes through the
guarantor's review where its scheme has a guarantor. Approved loans come back for
renewal (无还本续贷) at maturity while lending continues, at the branch that made the
loan. Claim handlers work through claims at the expected claim volume, which gives the
claim-lag distribution.

Staff sit in offices, each its own queue. Arrivals and offices are simulated at
1/record_weight of their real number, each office at its full staff, so every simulated
office sees its real arrival rate; every simulated applicant stands for ``record_weight``
identical ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import simpy
from scipy import stats

from .queues import DAYS_PER_MONTH, MonitoredResource, OfficeQueues, serve


@dataclass(slots=True)
class Applicant:
    """One simulated applicant (standing for ``weight`` real ones)."""

    id_hi: int
    id_lo: int
    segment: int  # the segment it applied in
    arrival: float  # day
    pd: float  # true annual PD
    amount: float  # CNY requested
    bank_seen_pd: float  # PD the bank sees (its noise is the applicant's own)
    guarantor_seen_pd: float
    patience: float | None  # days
    service: np.ndarray  # days, one per visit (and one for review, one for renewal)
    renewal: bool = False
    priced_in: int = -1  # segment whose loan rate it pays (where it applied); -1: `segment`
    bank_office: float = 0.0  # uniform choosing its bank office
    review_office: float = 0.0  # uniform choosing its guarantor review office
    bank_pd: float = np.nan  # the bank's posterior mean PD given its score (run.posterior_pds)

    @property
    def price_segment(self) -> int:
        return self.segment if self.priced_in < 0 else self.priced_in


@dataclass(slots=True)
class Outcome:
    """What happened to one applicant; the model's log."""

    applicant: Applicant
    status: str = "pending"  # approved, rejected, abandoned
    segment: int = -1  # segment of the loan, when approved
    decided: float = np.nan  # day of the decision
    waits: list = field(default_factory=list)  # days waited per queue


@dataclass
class Rules:
    """Per segment terms and the staff's parameters the processes need, as plain values."""

    visits: int
    days_between_visits: float
    bank_ok: Callable[[Applicant, int], bool]  # (applicant, segment) -> bool
    guarantor_ok: Callable[[Applicant, int], bool]  # (applicant, segment) -> bool
    needs_guarantor: list  # per segment
    routes_to: list  # per segment, -1 for none
    tenor_days: list  # per segment
    renews_into: list  # per segment, -1 for none
    origination_days: float
    review_service: Callable[[Applicant], float]  # applicant -> days
    renewal_service: Callable[[Applicant], float]  # applicant -> days


def application(
    env: simpy.Environment,
    applicant: Applicant,
    officers: OfficeQueues,
    reviewers: OfficeQueues | None,
    rules: Rules,
    log: list,
):
    """One application from arrival to decision.

    The applicant is screened at the bank office of the segment it applies to; a loan
    needing a guarantee is reviewed at the guarantor's office of the segment it would be
    booked in.
    """
    outcome = Outcome(applicant)
    log.append(outcome)
    yield env.timeout(max(applicant.arrival - env.now, 0.0))
    branch = officers.pick(applicant.segment, applicant.bank_office)
    for visit in range(rules.visits):
        served, waited = yield from serve(env, branch, applicant.service[visit], applicant.patience)
        outcome.waits.append(waited)
        if not served:
            outcome.status, outcome.decided = "abandoned", env.now
            return
        if visit < rules.visits - 1:
            yield env.timeout(rules.days_between_visits)
    segment = applicant.segment
    if not rules.bank_ok(applicant, segment) and rules.routes_to[segment] >= 0:
        segment = rules.routes_to[segment]  # offered another product in the same meeting
    approved = rules.bank_ok(applicant, segment)
    if approved and rules.needs_guarantor[segment] and reviewers is not None:
        served, waited = yield from serve(
            env,
            reviewers.pick(segment, applicant.review_office),
            rules.review_service(applicant),
            applicant.patience,
        )
        outcome.waits.append(waited)
        if not served:
            outcome.status, outcome.decided = "abandoned", env.now
            return
        approved = rules.guarantor_ok(applicant, segment)
    outcome.decided = env.now
    outcome.status = "approved" if approved else "rejected"
    outcome.segment = segment if approved else -1
    if approved and rules.renews_into[segment] >= 0:
        env.process(renewal(env, applicant, segment, branch, rules, log))


def renewal(
    env: simpy.Environment,
    parent: Applicant,
    segment: int,
    branch: MonitoredResource,
    rules: Rules,
    log: list,
):
    """At maturity the firm asks to renew at ``branch``, the bank office that made the
    loan; the bank re-screens it on the renewal terms.

    Whether the loan is still performing is decided per path in the kernels; here only
    the bank's rule and the officers' time are simulated.
    """
    maturity = env.now + rules.tenor_days[segment]
    if maturity >= rules.origination_days:
        return
    yield env.timeout(rules.tenor_days[segment])
    into = rules.renews_into[segment]
    applicant = Applicant(
        id_hi=parent.id_hi,
        id_lo=parent.id_lo,
        segment=segment,
        arrival=env.now,
        pd=parent.pd,
        amount=parent.amount,
        bank_seen_pd=parent.bank_seen_pd,
        guarantor_seen_pd=parent.guarantor_seen_pd,
        patience=None,
        service=parent.service,
        renewal=True,
        priced_in=parent.price_segment,
        bank_office=parent.bank_office,
        review_office=parent.review_office,
        bank_pd=parent.bank_pd,
    )
    outcome = Outcome(applicant)
    log.append(outcome)
    _served, waited = yield from serve(env, branch, rules.renewal_service(applicant), None)
    outcome.waits.append(waited)
    outcome.decided = env.now
    ok = rules.bank_ok(applicant, into)
    outcome.status = "approved" if ok else "rejected"
    outcome.segment = into if ok else -1


def claim(
    env: simpy.Environment,
    arrival: float,
    service_days: float,
    handlers: MonitoredResource,
    lags: list,
):
    """One claim: queue for a handler, be processed; record the days it took."""
    yield env.timeout(arrival - env.now)
    _, waited = yield from serve(env, handlers, service_days, None)
    lags.append(waited + service_days)


def simulate_claims(
    monthly_claims: np.ndarray,
    offices: int,
    staff_per_office: int,
    mean_days: float,
    uniforms: tuple[np.ndarray, np.ndarray, np.ndarray],
    service_time,
) -> tuple[np.ndarray, OfficeQueues]:
    """Processing days of claims arriving at ``monthly_claims`` (Poisson, counts per month).

    ``uniforms`` give each claim's arrival offset in its month, its service time and
    its office (one of ``offices`` simulated offices, each of ``staff_per_office``).
    """
    uniforms_arrival, uniforms_service, uniforms_office = uniforms
    env = simpy.Environment()
    staff = OfficeQueues(env, [offices], staff_per_office, lambda segment: 0)
    lags: list = []
    k = 0
    for month, count in enumerate(monthly_claims):
        for _ in range(int(count)):
            u_arrival = uniforms_arrival[k % len(uniforms_arrival)]
            u_service = uniforms_service[k % len(uniforms_service)]
            u_office = uniforms_office[k % len(uniforms_office)]
            env.process(
                claim(
                    env,
                    (month + u_arrival) * DAYS_PER_MONTH,
                    service_time(mean_days, u_service),
                    staff.pick(0, u_office),
                    lags,
                )
            )
            k += 1
    env.run()
    staff.observe()
    return np.asarray(lags, dtype=np.float64), staff


def poisson_count(mean: float, uniform: float) -> int:
    """A Poisson count by inversion (monotone in the uniform: common random numbers)."""
    return int(stats.poisson.ppf(uniform, mean)) if mean > 0 else 0
