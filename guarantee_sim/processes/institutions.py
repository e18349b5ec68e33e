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
from dataclasses import dataclass

import numpy as np
import simpy
from scipy import special

from .log import ABANDONED, APPROVED, REJECTED, ProcessLog
from .queues import DAYS_PER_MONTH, Clock, MonitoredResource, OfficeQueues, Timer, serve


@dataclass(slots=True)
class Applicant:
    """One simulated new applicant (standing for ``weight`` real ones): what the queues
    need of it. What the draws fixed (ids, true PD, amount, the PDs the lenders saw) is in
    its row of the log; its decisions were taken from them a month at a time
    (``run._screen``), so the queues only say when, and whether it stays to hear them."""

    index: int  # its row in the log (ProcessLog)
    segment: int  # the segment it applied in (whose loan rate it pays, also on renewal)
    arrival: float  # day
    patience: float | None  # days
    # days, one per visit (and one for review, one for renewal); Python floats, so the
    # clock's times stay floats (NumPy scalars made every step of the queues slower)
    service: list[float]
    bank_office: int  # number of its bank office (OfficeQueues.offices)
    review_office: float  # uniform choosing its guarantor review office
    # the bank's posterior mean of its current PD when its loan comes up for renewal: its
    # score, the repayment record and seasoning (run._screen, decisions module doc)
    renewal_pd: float
    booked_in: int  # segment the bank lends on if the applicant stays; -1: it declines
    guarantor_approves: bool  # the guarantor's decision when its loan needs one
    visit: int = 0  # the visit to the bank it is at (0, 1, ... Rules.visits - 1)


@dataclass
class Rules:
    """Per segment terms and the staff's parameters the processes need, as plain values."""

    visits: int
    days_between_visits: float
    # the bank's decision on a renewal: (segment applied in at first, segment lent on, day
    # it asks, the bank's posterior PD) -> approved
    renewal_ok: Callable[[int, int, float, float], bool]
    # the bank's break-even PD [segment applied in, segment lent on, origination year]:
    # new applicants are screened on it a month's block at a time (run._screen)
    break_even: np.ndarray
    # (segment applied in, a block's columns, segment lent on) -> each one's decision
    guarantor_ok: Callable[[int, dict, int], np.ndarray]
    # (segment applied in, a block's columns, segment lent on) -> the bank's posterior of
    # each one's current PD at its loan's renewal (Applicant.renewal_pd)
    renewal_pds: Callable[[int, dict, int], np.ndarray]
    needs_guarantor: list  # per segment
    routes_to: list  # per segment, -1 for none
    tenor_days: list  # per segment
    renews_into: list  # per segment, -1 for none
    origination_days: float


class Desks:
    """The bank's officers and the guarantor's reviewers working through applications.

    Each application is a chain of SimPy events whose callbacks move it on, not a process:
    the service time of each visit (a patience timer only while it waits in a queue), the
    same again at the guarantor when its loan needs a guarantee; its arrival is not an
    event (the clock is advanced to it, ``feed``), nor is a renewal's (it waits in the
    clock's line of its tenor, ``Clock.arrive_later``). That is about one event per visit, where
    ``simpy.Resource`` requests need four (the request and the release are events too)
    and a generator process per applicant eight (its start and end, the patience timer
    and the condition ``request | timer`` on every request, the wait until its arrival);
    nothing exists of an applicant before it arrives.

    The queues are ``MonitoredResource``: FIFO with the times of ``simpy.Resource``, left
    when patience runs out; the staff's areas are integrated by the queues themselves.
    """

    def __init__(
        self,
        env: Clock,
        officers: OfficeQueues,
        reviewers: OfficeQueues | None,
        rules: Rules,
        log: ProcessLog,
    ):
        self.env = env
        self.officers = officers
        self.reviewers = reviewers
        self.rules = rules
        self.log = log  # every office writes its waits to the log's (queues.WaitLog)
        # the new applications' outcome columns, written in place (ProcessLog.decide)
        self._status, self._segment, self._decided = log.status, log.segment, log.decided
        self._last_visit = rules.visits - 1

    def feed(self, months: Iterator[list]) -> None:
        """Bring in applicants as they arrive, then run the queues to the end.

        ``months`` gives each month's applicants in order of arrival (ties in the order
        of their ``index``, their row in the log). A month's applicants are made when
        the last of the month before has arrived. An arrival is not an event: the clock
        is advanced to it (:meth:`~.queues.Clock.advance_to`), and applicants arriving on
        the same day arrive together.
        """
        env = self.env
        advance_to = env.advance_to
        heap = env._queue
        requests = [office.request for office in self.officers.offices]
        visited = self._visited_last if self._last_visit == 0 else self._visited
        at = -1.0
        for arrivals in months:
            for a in arrivals:
                if a.arrival != at:
                    at = a.arrival
                    if (heap and heap[0][0] <= at) or env._next_due <= at:
                        advance_to(at)
                    else:  # nothing due before it: advance_to would only set the time
                        env._now = at
                requests[a.bank_office](a.service[0], a.patience, a.index, visited, a)
        env.run_out()

    def _visited(self, a: Applicant, served: bool) -> None:
        """A visit before the last one ended (``served``) or the applicant gave up: it
        comes back after the days between visits."""
        if served:
            Timer(self.env, self.rules.days_between_visits, self._next_visit).client = a
        else:
            self._give_up(a)

    def _next_visit(self, event: Timer) -> None:
        """The applicant of ``event`` meets one of its bank office's officers again."""
        a = event.client
        assert isinstance(a, Applicant)
        a.visit += 1
        visited = self._visited_last if a.visit == self._last_visit else self._visited
        office = self.officers.offices[a.bank_office]
        office.request(a.service[a.visit], a.patience, a.index, visited, a)

    def _visited_last(self, a: Applicant, served: bool) -> None:
        """The last visit ended: the bank's decision (``run._screen`` took it from the
        applicant's draws), then the guarantor's review where the loan needs one."""
        if not served:
            self._give_up(a)
            return
        segment = a.booked_in
        if segment < 0:
            self._decide(a.index, REJECTED, -1)
        elif self.rules.needs_guarantor[segment] and self.reviewers is not None:
            office = self.reviewers.pick(segment, a.review_office)
            office.request(a.service[self.rules.visits], a.patience, a.index, self._reviewed, a)
        else:
            self._approve(a)

    def _reviewed(self, a: Applicant, served: bool) -> None:
        """The guarantor's review ended (``served``) or the applicant gave up waiting."""
        if not served:
            self._give_up(a)
        elif a.guarantor_approves:
            self._approve(a)
        else:
            self._decide(a.index, REJECTED, -1)

    def _give_up(self, a: Applicant) -> None:
        self._decide(a.index, ABANDONED, -1)

    def _decide(self, row: int, status: int, segment: int) -> None:
        """New application ``row`` ends with ``status`` now, lent on ``segment``
        (``ProcessLog.decide``, written out)."""
        self._status[row], self._segment[row] = status, segment
        self._decided[row] = self.env._now

    def _approve(self, a: Applicant) -> None:
        """``a``'s loan on its ``booked_in`` segment's terms is made now; it comes back for
        renewal at maturity while lending continues."""
        segment = a.booked_in
        self._decide(a.index, APPROVED, segment)
        rules = self.rules
        if rules.renews_into[segment] >= 0:
            tenor = rules.tenor_days[segment]
            if self.env._now + tenor < rules.origination_days:
                self.env.arrive_later(tenor, self._renew, a)

    def _renew(self, parent: Applicant) -> None:
        """At maturity the firm asks to renew at the bank office that made the loan; the
        bank re-screens it on the renewal terms as an existing borrower: on its posterior
        of the firm's current PD given the first score, the loan repaid without a default
        and seasoning (``parent.renewal_pd``). No guarantor review. The decision depends
        on the day it asks only, so it is taken now and written when the officer is done.

        Whether the loan is still performing is decided per path in the kernels; here only
        the bank's rule and the officers' time are simulated. The renewal's arrival is not
        an event: it waits in the clock's line of its tenor (``Clock.arrive_later``).
        """
        rules = self.rules
        into = rules.renews_into[parent.booked_in]
        now = self.env._now
        row = self.log.add_renewal(parent.index, now)
        if rules.renewal_ok(parent.segment, into, now, parent.renewal_pd):
            outcome = (row, APPROVED, into)
        else:
            outcome = (row, REJECTED, -1)
        office = self.officers.offices[parent.bank_office]
        office.request(parent.service[rules.visits + 1], None, row, self._renewed, outcome)

    def _renewed(self, outcome: tuple[int, int, int], _served: bool) -> None:
        """A renewal's meeting ended: its decision, taken when it asked, is made now."""
        row, status, segment = outcome
        self.log.decide(row, status, segment, self.env._now)


def claim(
    env: simpy.Environment, arrival: float, service_days: float, handlers: MonitoredResource, k: int
) -> None:
    """Claim ``k``: from ``arrival`` it queues for a handler and is processed (its wait goes
    to ``handlers.waits``)."""
    env.timeout(arrival - env.now).callbacks.append(
        lambda _: serve(env, handlers, service_days, None, k, _processed)
    )


def _processed(_client: object, _served: bool) -> None:
    """A claim is done: nothing to do (its days are its wait plus its service)."""


def simulate_claims(
    monthly_claims: np.ndarray,
    offices: int,
    staff_per_office: int,
    mean_days: float,
    uniforms: tuple[np.ndarray, np.ndarray, np.ndarray],
    service_time,
) -> tuple[np.ndarray, OfficeQueues]:
    """Processing days of claims arriving at ``monthly_claims`` (Poisson, counts per month),
    claim by claim.

    ``uniforms`` give each claim's arrival offset in its month, its service time and
    its office (one of ``offices`` simulated offices, each of ``staff_per_office``).
    """
    uniforms_arrival, uniforms_service, uniforms_office = uniforms
    env = simpy.Environment()
    staff = OfficeQueues(env, [offices], staff_per_office, lambda segment: 0)
    services: list = []
    k = 0
    for month, count in enumerate(monthly_claims):
        for _ in range(int(count)):
            u_arrival = uniforms_arrival[k % len(uniforms_arrival)]
            u_service = uniforms_service[k % len(uniforms_service)]
            u_office = uniforms_office[k % len(uniforms_office)]
            services.append(service_time(mean_days, u_service))
            claim(
                env,
                (month + u_arrival) * DAYS_PER_MONTH,
                services[-1],
                staff.pick(0, u_office),
                k,
            )
            k += 1
    env.run()
    staff.observe()
    wait = np.empty(k)
    wait[np.frombuffer(staff.waits.of, dtype=np.int64)] = np.frombuffer(staff.waits.days)
    return wait + np.asarray(services, dtype=np.float64), staff


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
