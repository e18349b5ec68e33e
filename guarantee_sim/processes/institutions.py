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

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import simpy
from scipy import special

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
    # the bank's posterior mean of its current PD when its loan comes up for renewal: its
    # score, the repayment record and seasoning (run._screen, decisions module doc)
    renewal_pd: float = np.nan
    booked_in: int = -1  # segment the bank lends on if the applicant stays; -1: it declines
    guarantor_approves: bool = False  # the guarantor's decision when its loan needs one

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
    guarantor_ok: Callable[[list, int], np.ndarray]  # (applicants, segment) -> bool each
    # (applicants, segment lent on) -> the bank's posterior of each one's current PD at
    # its loan's renewal (Applicant.renewal_pd)
    renewal_pds: Callable[[list, int], np.ndarray]
    needs_guarantor: list  # per segment
    routes_to: list  # per segment, -1 for none
    tenor_days: list  # per segment
    renews_into: list  # per segment, -1 for none
    origination_days: float
    review_service: Callable[[Applicant], float]  # applicant -> days
    renewal_service: Callable[[Applicant], float]  # applicant -> days


class Desks:
    """The bank's officers and the guarantor's reviewers working through applications.

    Each application is a chain of SimPy events whose callbacks move it on, not a process:
    its arrival, the service time of each visit (a patience timer only while it waits in
    a queue), the same again at the guarantor when its loan needs a guarantee. That is
    about two events per visit, where ``simpy.Resource`` requests need four (the request
    and the release are events too) and a generator process per applicant eight (its
    start and end, the patience timer and the condition ``request | timer`` on every
    request, the wait until its arrival); nothing exists of an applicant before it
    arrives (``feed``).

    The queues are ``MonitoredResource``: FIFO with the times of ``simpy.Resource``, left
    when patience runs out; the staff's areas are integrated by the queues themselves.
    """

    def __init__(
        self,
        env: simpy.Environment,
        officers: OfficeQueues,
        reviewers: OfficeQueues | None,
        rules: Rules,
        applications: int,
    ):
        self.env = env
        self.officers = officers
        self.reviewers = reviewers
        self.rules = rules
        self.log: list = [None] * applications  # Outcome of application i at log[i]
        self.renewals: list = []  # Outcome of each renewal application, as they arrive

    def feed(self, months: Iterator[list]) -> None:
        """Bring in applicants as they arrive.

        ``months`` gives each month's ``(index, applicant)`` in order of arrival (ties in
        the order of their index, ``index < applications``); applicant ``index``'s outcome
        goes to ``log[index]``. A month's applicants are made when the last of the month
        before has arrived.
        """
        env = self.env
        pending: list = []  # this month's arrivals not yet in, last first
        at = 0

        def next_arrivals(_event=None) -> None:
            nonlocal at
            while pending and pending[-1][1].arrival == at:
                index, applicant = pending.pop()
                self._arrive(index, applicant)
            while not pending:
                arrivals = next(months, None)
                if arrivals is None:
                    return
                pending.extend(reversed(arrivals))
            at = pending[-1][1].arrival
            env.timeout(_delay_until(env.now, at)).callbacks.append(next_arrivals)

        next_arrivals()

    def _arrive(self, index: int, applicant: Applicant) -> None:
        outcome = Outcome(applicant)
        self.log[index] = outcome
        branch = self.officers.pick(applicant.segment, applicant.bank_office)
        self._visit(outcome, branch, 0)

    def _visit(self, outcome: Outcome, branch: MonitoredResource, visit: int) -> None:
        """The applicant's ``visit``-th meeting with one of ``branch``'s officers."""
        a = outcome.applicant

        def visited(served: bool) -> None:
            if not served:
                self._give_up(outcome)
            elif visit < self.rules.visits - 1:
                self.env.timeout(self.rules.days_between_visits).callbacks.append(
                    lambda _: self._visit(outcome, branch, visit + 1)
                )
            else:
                self._screen(outcome, branch)

        branch.request(a.service[visit], a.patience, outcome.waits, visited)

    def _screen(self, outcome: Outcome, branch: MonitoredResource) -> None:
        """The bank's decision (``run._screen`` took it from the applicant's draws), then
        the guarantor's review where the loan needs one."""
        rules, a = self.rules, outcome.applicant
        segment = a.booked_in
        if segment >= 0 and rules.needs_guarantor[segment] and self.reviewers is not None:

            def reviewed(served: bool) -> None:
                if not served:
                    self._give_up(outcome)
                else:
                    self._decide(outcome, branch, segment, a.guarantor_approves)

            office = self.reviewers.pick(segment, a.review_office)
            office.request(rules.review_service(a), a.patience, outcome.waits, reviewed)
        else:
            self._decide(outcome, branch, segment, segment >= 0)

    def _give_up(self, outcome: Outcome) -> None:
        outcome.status, outcome.decided = "abandoned", self.env.now

    def _decide(
        self, outcome: Outcome, branch: MonitoredResource, segment: int, approved: bool
    ) -> None:
        rules = self.rules
        outcome.decided = self.env.now
        outcome.status = "approved" if approved else "rejected"
        outcome.segment = segment if approved else -1
        if approved and rules.renews_into[segment] >= 0:
            maturity = self.env.now + rules.tenor_days[segment]
            if maturity < rules.origination_days:  # renewals only while lending continues
                self.env.timeout(rules.tenor_days[segment]).callbacks.append(
                    lambda _: self._renew(outcome.applicant, segment, branch)
                )

    def _renew(self, parent: Applicant, segment: int, branch: MonitoredResource) -> None:
        """At maturity the firm asks to renew at ``branch``, the bank office that made the
        loan; the bank re-screens it on the renewal terms as an existing borrower: on its
        posterior of the firm's current PD given the first score, the loan repaid without
        a default and seasoning (``parent.renewal_pd``). No guarantor review.

        Whether the loan is still performing is decided per path in the kernels; here only
        the bank's rule and the officers' time are simulated.
        """
        rules = self.rules
        into = rules.renews_into[segment]
        applicant = Applicant(
            id_hi=parent.id_hi,
            id_lo=parent.id_lo,
            segment=segment,
            arrival=self.env.now,
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
            bank_pd=parent.renewal_pd,
        )
        outcome = Outcome(applicant)
        self.renewals.append(outcome)

        def renewed(_served: bool) -> None:
            outcome.decided = self.env.now
            ok = rules.bank_ok(applicant, into)
            outcome.status = "approved" if ok else "rejected"
            outcome.segment = into if ok else -1

        branch.request(rules.renewal_service(applicant), None, outcome.waits, renewed)


def _delay_until(now: float, at: float) -> float:
    """A delay ``d >= 0`` with ``now + d == at`` in floating point, so that an event
    scheduled from ``now`` happens at exactly ``at`` (``at - now`` alone can miss by a bit).
    """
    delay = max(at - now, 0.0)
    while now + delay < at:
        delay = math.nextafter(delay, math.inf)
    while delay > 0.0 and now + delay > at:
        delay = math.nextafter(delay, 0.0)
    return delay


def claim(
    env: simpy.Environment,
    arrival: float,
    service_days: float,
    handlers: MonitoredResource,
    lags: list,
) -> None:
    """One claim: from ``arrival`` queue for a handler, be processed; record the days it
    took in ``lags``."""
    waits: list = []

    def processed(_served: bool) -> None:
        lags.append(waits[0] + service_days)

    env.timeout(arrival - env.now).callbacks.append(
        lambda _: serve(env, handlers, service_days, None, waits, processed)
    )


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
            claim(
                env,
                (month + u_arrival) * DAYS_PER_MONTH,
                service_time(mean_days, u_service),
                staff.pick(0, u_office),
                lags,
            )
            k += 1
    env.run()
    staff.observe()
    return np.asarray(lags, dtype=np.float64), staff


def poisson_count(mean: float, uniform: float) -> int:
    """A Poisson count by inversion (monotone in the uniform: common random numbers).

    The least k with P(N <= k) >= ``uniform`` in (0, 1), computed as
    ``scipy.stats.poisson.ppf`` does (``pdtrik``'s estimate, checked one below), so the
    same counts without importing ``scipy.stats`` (half a second of every run).
    """
    if mean <= 0:
        return 0
    if not 0.0 < uniform < 1.0:
        raise ValueError(f"uniform {uniform!r}: must be strictly between 0 and 1")
    k = math.ceil(special.pdtrik(uniform, mean))
    below = max(k - 1, 0)
    return below if special.pdtr(below, mean) >= uniform else k
