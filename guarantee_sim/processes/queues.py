"""Staff as FIFO queues on a SimPy clock that keep time-weighted statistics of themselves.

``MonitoredResource`` integrates the number waiting and the number busy over time (by
calendar year), so utilisation and mean queue length come from the simulated queues
themselves, not from the applicants' logs — which is what makes Little's law a check.

It is ``simpy.Resource``'s first-come-first-served queue of identical servers, without
its request and release events: a request granted at once starts its service timer
there, a release hands the server straight to the head of the queue, and an applicant
out of patience leaves the queue. The times of every wait, service and change of state
are those of ``simpy.Resource`` (which grants and releases through events processed at
the same simulated time), so the numbers are the same, with two events per service (its
timer, and a patience timer only for those who wait) instead of four.
"""

from __future__ import annotations

import math
from array import array
from collections import defaultdict, deque
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

import numpy as np
import simpy
from simpy.core import NORMAL
from simpy.events import Timeout

DAYS_PER_YEAR = 365.0
DAYS_PER_MONTH = DAYS_PER_YEAR / 12.0


class Clock(simpy.Environment):
    """A SimPy environment that arrivals are brought into without an event each.

    Arrival times are known before they happen, so there is no need to schedule them as
    timeouts on SimPy's heap: :meth:`advance_to` processes every event due by the next new
    arrival and sets the clock to it, and the arrival's requests are made there, at exactly
    its day. Arrivals known only during the run but in order of time, such as the renewal
    applications of loans of one tenor (each comes one tenor after its loan was decided, and
    decisions come in order of time), wait in first-in-first-out lines of their own
    (:meth:`arrive_later`), and :meth:`advance_to` brings them in at their times among the
    events. That keeps SimPy's heap to the timers of the staff and the applicants waiting
    (a few per office) instead of a year of pending renewals.

    Ties of continuous times (they do not happen in practice): an event due at the very
    instant of a new arrival is processed before it; a line's arrival is brought in before
    an event due at the same instant (as the timeout it replaces, scheduled earlier, was).

    The loop of :meth:`advance_to` is SimPy's ``Environment.step`` written out (the
    events here are timeouts that succeed), one function call fewer per event.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lines: dict[float, deque] = {}  # by delay: (due, fn, arg), due in order
        self._next_due = math.inf  # the earliest due of the lines' heads

    def arrive_later(self, delay: float, fn: Callable, arg) -> None:
        """``fn(arg)`` at now + ``delay`` (no event): a line per delay, so in order."""
        due = self._now + delay
        line = self._lines.get(delay)
        if line is None:
            line = self._lines[delay] = deque()
        line.append((due, fn, arg))
        self._next_due = min(self._next_due, due)

    def _bring_in_next(self) -> None:
        """Set now to the earliest due of the lines and call its arrival."""
        due = self._next_due
        nxt = math.inf
        head = None
        for line in self._lines.values():
            if line:
                if head is None and line[0][0] == due:
                    head = line.popleft()
                if line and line[0][0] < nxt:
                    nxt = line[0][0]
        assert head is not None
        self._next_due = nxt
        self._now = due
        head[1](head[2])

    def advance_to(self, at: float) -> None:
        """Process the events and the lines' arrivals due at or before ``at`` (not before
        now), in order of time, then set now to ``at``."""
        queue = self._queue
        while True:
            due = self._next_due
            head = queue[0][0] if queue else math.inf
            if head <= at and head < due:
                self._now, _, _, event = heappop(queue)
                callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
                for callback in callbacks:
                    callback(event)
                if not event._ok and not hasattr(event, "_defused"):  # as Environment.step
                    raise event._value
            elif due <= at:
                self._bring_in_next()
            else:
                break
        self._now = at

    def run_out(self) -> None:
        """Process everything left, the lines' arrivals and the events, in order of time;
        now is then the time of the last."""
        queue = self._queue
        while queue or self._next_due < math.inf:
            self.advance_to(min(queue[0][0], self._next_due) if queue else self._next_due)


#: a SimPy event without its ``__init__`` (:meth:`MonitoredResource.request` sets what
#: ``Timer.__init__`` sets, without the call)
_new_event = object.__new__


class Timer(Timeout):
    """A SimPy ``Timeout`` of ``delay`` that calls ``callback(event)`` when it is due,
    scheduled as ``Environment.schedule`` schedules (the same heap entry) without the
    calls in between: the staff's service times and the applicants' patience."""

    # a service's client and what to tell it when the service ends (MonitoredResource)
    then: Callable[[Any, bool], None]
    client: Any
    # every Timer succeeds with no value: class attributes, not two stores per timer
    _ok = True
    _value = None

    def __init__(self, env: simpy.Environment, delay: float, callback: Callable) -> None:
        self.env = env
        self.callbacks = [callback]
        self._delay = delay
        heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), self))


class WaitLog:
    """The days each client waited in a queue, as two growing columns: the client's
    number (``of``) and the days (``days``), one entry per request in the order the waits
    end (a client has one entry per queue it joined). About 16 bytes a wait, where a list
    per client cost over a hundred."""

    __slots__ = ("days", "of")

    def __init__(self) -> None:
        self.of = array("q")
        self.days = array("d")

    def __len__(self) -> int:
        return len(self.of)


class _Waiting:
    """A client in a queue: when it came, what it needs, who it is, who to tell."""

    __slots__ = ("client", "left", "service_days", "since", "then", "who")

    def __init__(self, since: float, service_days: float, who: int, then: Callable, client):
        self.since = since
        self.service_days = service_days
        self.who = who
        self.then = then
        self.client = client
        self.left = False  # gave up, or was served


class MonitoredResource:
    """``capacity`` staff serving one FIFO queue on ``env``'s clock, recording the areas
    under its queue-length and busy curves; the clients' waits go to ``waits``."""

    __slots__ = (
        "_busy_area",
        "_busy_areas",
        "_done",
        "_env",
        "_last_busy",
        "_last_queue",
        "_last_time",
        "_queue",
        "_queue_area",
        "_queue_areas",
        "_wait_days",
        "_wait_of",
        "_year",
        "_year_end",
        "busy",
        "capacity",
        "waiting",
        "waits",
    )

    def __init__(self, env: simpy.Environment, capacity: int, waits: WaitLog | None = None):
        self._env = env
        self.capacity = capacity
        self.waits = WaitLog() if waits is None else waits
        # bound once: made on every request otherwise
        self._wait_of, self._wait_days = self.waits.of.append, self.waits.days.append
        self._done = self._service_ends
        self.busy = 0  # staff serving
        self._queue: deque[_Waiting] = deque()  # who waits, first first (some may have left)
        self.waiting = 0  # who waits and has not left
        self._last_time = env.now
        self._year_end = DAYS_PER_YEAR  # end of the calendar year of _last_time
        self._last_queue = 0
        self._last_busy = 0
        # areas by year (waiting x days, busy staff x days): the years before that of
        # _last_time in the dicts, its year in two floats (no lookup in the common case)
        self._queue_areas: dict[int, float] = defaultdict(float)
        self._busy_areas: dict[int, float] = defaultdict(float)
        self._year = 0
        self._queue_area = 0.0
        self._busy_area = 0.0

    @property
    def queue_area(self) -> dict[int, float]:
        """By year: applicants waiting x days (up to the last change of state)."""
        return self._areas(self._queue_areas, self._queue_area)

    @property
    def busy_area(self) -> dict[int, float]:
        """By year: busy staff x days (up to the last change of state)."""
        return self._areas(self._busy_areas, self._busy_area)

    def _areas(self, past: dict[int, float], current: float) -> dict[int, float]:
        areas = dict(past)
        if current or self._last_time > self._year * DAYS_PER_YEAR:
            areas[self._year] = current
        return areas

    def observe(self) -> None:
        """Add the areas since the last change, then remember the current state."""
        self._advance(self._env.now)
        self._remember()

    def _advance(self, now: float) -> None:
        """Add the areas under the remembered state from the last change until ``now``."""
        t = self._last_time
        if t >= now:
            return
        if now <= self._year_end:  # the common case: still the same calendar year
            self._queue_area += (now - t) * self._last_queue
            self._busy_area += (now - t) * self._last_busy
        else:  # into a later year: one piece per year, the years before now's closed
            queue_areas, busy_areas = self._queue_areas, self._busy_areas
            queue_areas[self._year] = self._queue_area
            busy_areas[self._year] = self._busy_area
            while t < now:
                year = int(t // DAYS_PER_YEAR)
                end = min(now, (year + 1) * DAYS_PER_YEAR)
                queue_areas[year] += (end - t) * self._last_queue
                busy_areas[year] += (end - t) * self._last_busy
                t = end
            self._year = int(now // DAYS_PER_YEAR)
            self._queue_area = queue_areas.pop(self._year, 0.0)
            self._busy_area = busy_areas.pop(self._year, 0.0)
            self._year_end = (self._year + 1) * DAYS_PER_YEAR
        self._last_time = now

    def _remember(self) -> None:
        self._last_queue = self.waiting
        self._last_busy = self.busy

    def request(
        self,
        service_days: float,
        patience_days: float | None,
        who: int,
        then: Callable[[Any, bool], None],
        client: object = None,
    ) -> None:
        """Client ``who`` queues from now (served at once when one of the staff is free),
        then ``then(client, served)``; see :func:`serve`."""
        env = self._env
        now = env._now
        t = self._last_time
        if t < now:  # _advance(now), its common case (the same year) written out
            if now <= self._year_end:
                # adding (now - t) x 0 leaves an area as it is: not added (most queues are
                # empty, many offices idle)
                if self._last_queue:
                    self._queue_area += (now - t) * self._last_queue
                if self._last_busy:
                    self._busy_area += (now - t) * self._last_busy
                self._last_time = now
            else:
                self._advance(now)
        busy = self.busy
        if busy < self.capacity:  # the common case: no wait, nothing to queue
            self.busy = self._last_busy = busy + 1  # _remember (no one more waits)
            self._wait_of(who)
            self._wait_days(0.0)  # now - now
            service = _new_event(Timer)  # Timer(env, service_days, self._done), inline
            service.env = env
            service.callbacks = [self._done]
            service._delay = service_days
            service.then = then
            service.client = client
            heappush(env._queue, (now + service_days, NORMAL, next(env._eid), service))
            return
        waiting = _Waiting(now, service_days, who, then, client)
        self._queue.append(waiting)
        self.waiting += 1
        if patience_days is not None:
            Timer(env, patience_days, lambda _: self._give_up(waiting))
        self._remember()

    def _serve(self, who: _Waiting, now: float) -> None:
        """``who`` is with one of the staff from ``now`` on (the staff are counted busy)."""
        who.left = True
        self._wait_of(who.who)
        self._wait_days(now - who.since)
        service = Timer(self._env, who.service_days, self._done)
        service.then = who.then
        service.client = who.client

    def _service_ends(self, service: Timer) -> None:
        """A service ends (its timer, whose ``then`` and ``client`` are the client's): the
        staff member is released, the head of the queue, if any, served next, then the
        client is told."""
        now = self._env._now
        t = self._last_time
        if t < now:  # _advance(now), its common case written out (as in request)
            if now <= self._year_end:
                if self._last_queue:
                    self._queue_area += (now - t) * self._last_queue
                if self._last_busy:
                    self._busy_area += (now - t) * self._last_busy
                self._last_time = now
            else:
                self._advance(now)
        queue = self._queue
        while queue and queue[0].left:  # those who gave up
            queue.popleft()
        if queue:
            self.waiting -= 1
            self._serve(queue.popleft(), now)
        else:
            self.busy -= 1
        self._last_queue = self.waiting  # _remember()
        self._last_busy = self.busy
        service.then(service.client, True)

    def _give_up(self, who: _Waiting) -> None:
        """``who``'s patience ran out: it leaves the queue, unless it is being served."""
        if who.left:
            return
        self._advance(self._env.now)
        who.left = True
        self.waiting -= 1
        self._remember()
        self._wait_of(who.who)
        self._wait_days(self._env.now - who.since)
        who.then(who.client, False)

    def utilisation(self, year: int) -> float:
        """Busy staff-days / available staff-days in calendar year ``year`` (0-based)."""
        return self.busy_area.get(year, 0.0) / (self.capacity * DAYS_PER_YEAR)


def serve(
    env: simpy.Environment,
    staff: MonitoredResource,
    service_days: float,
    patience_days: float | None,
    who: int,
    then: Callable[[Any, bool], None],
    client: object = None,
) -> None:
    """Client ``who`` queues for one of ``staff`` from now, is served, then
    ``then(client, served)``.

    The days waited go to ``staff.waits`` under ``who``. A client with finite patience
    leaves the queue when it runs out (``then(client, False)`` at that moment). Events:
    the service time; a patience timer only when no one of the staff is free.
    """
    assert staff._env is env  # one clock
    staff.request(service_days, patience_days, who, then, client)


class OfficeQueues:
    """An institution's simulated offices, each its own ``MonitoredResource`` of full staff.

    ``blocks`` gives the simulated offices of each assignment block (the segments with
    offices of their own, then the shared rest); ``block_of`` maps a segment to its block.
    An arrival joins office ``floor(u * n)`` of its block's ``n``, so arrivals spread
    uniformly and a block of n offices gets 1/n of its arrivals each. The offices write
    their clients' waits to one ``waits``.
    """

    def __init__(
        self,
        env: simpy.Environment,
        blocks: list[int],
        staff: int,
        block_of,
        waits: WaitLog | None = None,
    ):
        self.blocks = blocks
        self.block_of = block_of
        self.first = [sum(blocks[:b]) for b in range(len(blocks))]
        self.waits = WaitLog() if waits is None else waits
        self.offices = [MonitoredResource(env, staff, self.waits) for _ in range(sum(blocks))]

    def pick(self, segment: int, uniform: float) -> MonitoredResource:
        """The office an arrival of ``segment`` with office uniform ``uniform`` joins."""
        b = self.block_of(segment)
        return self.offices[self.first[b] + min(int(uniform * self.blocks[b]), self.blocks[b] - 1)]

    def numbers(self, segment: int, uniforms: np.ndarray) -> np.ndarray:
        """Numbers in ``offices`` of the offices that arrivals of ``segment`` with office
        uniforms ``uniforms`` join: :meth:`pick`'s, for many arrivals at once."""
        b = self.block_of(segment)
        n = self.blocks[b]
        return self.first[b] + np.minimum((uniforms * n).astype(np.int64), n - 1)

    @property
    def capacity(self) -> int:
        """Simulated headcount (the real one / record weight)."""
        return sum(int(o.capacity) for o in self.offices)

    def observe(self) -> None:
        for office in self.offices:
            office.observe()

    def utilisation(self, year: int) -> float:
        """Busy staff-days / available staff-days over all offices in year ``year``."""
        busy = sum(o.busy_area.get(year, 0.0) for o in self.offices)
        return busy / (self.capacity * DAYS_PER_YEAR)

    @property
    def queue_area(self) -> dict[int, float]:
        """By year: applicants waiting x days, summed over the offices."""
        total: dict[int, float] = defaultdict(float)
        for office in self.offices:
            for year, area in office.queue_area.items():
                total[year] += area
        return total
