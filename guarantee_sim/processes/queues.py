"""Staff as SimPy resources that keep time-weighted statistics of their own queues.

``MonitoredResource`` integrates the number waiting and the number busy over time (by
calendar year), so utilisation and mean queue length come from the simulated queues
themselves, not from the applicants' logs — which is what makes Little's law a check.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import simpy
from simpy.resources.resource import Request

DAYS_PER_YEAR = 365.0
DAYS_PER_MONTH = DAYS_PER_YEAR / 12.0


class MonitoredRequest(Request):
    """A request whose cancellation (an applicant giving up) is seen by the monitor."""

    resource: MonitoredResource

    def cancel(self) -> None:
        self.resource._advance()
        super().cancel()
        self.resource._remember()


class MonitoredResource(simpy.Resource):
    """A ``simpy.Resource`` recording the areas under its queue-length and busy curves."""

    def request(self) -> MonitoredRequest:
        """Ask for one of the staff (what ``simpy.Resource.request`` does, monitored)."""
        return MonitoredRequest(self)

    def __init__(self, env: simpy.Environment, capacity: int):
        super().__init__(env, capacity)
        self._last_time = env.now
        self._year_end = DAYS_PER_YEAR  # end of the calendar year of _last_time
        self._last_queue = 0
        self._last_busy = 0
        self.queue_area: dict[int, float] = defaultdict(float)  # by year: waiting x days
        self.busy_area: dict[int, float] = defaultdict(float)  # by year: busy staff x days

    def observe(self) -> None:
        """Add the areas since the last change, then remember the current state."""
        self._advance()
        self._remember()

    def _advance(self) -> None:
        """Add the areas under the remembered state from the last change until now."""
        now = self._env.now
        t = self._last_time
        if t >= now:
            return
        if now <= self._year_end:  # the common case: still the same calendar year
            year = int(t // DAYS_PER_YEAR)
            self.queue_area[year] += (now - t) * self._last_queue
            self.busy_area[year] += (now - t) * self._last_busy
        else:
            while t < now:
                year = int(t // DAYS_PER_YEAR)
                end = min(now, (year + 1) * DAYS_PER_YEAR)
                self.queue_area[year] += (end - t) * self._last_queue
                self.busy_area[year] += (end - t) * self._last_busy
                t = end
            self._year_end = (int(now // DAYS_PER_YEAR) + 1) * DAYS_PER_YEAR
        self._last_time = now

    def _remember(self) -> None:
        self._last_queue = len(self.put_queue)
        self._last_busy = len(self.users)

    # each state change: the areas up to it under the old state, then the new state (with
    # an empty queue of requests, or of releases, there is nothing to trigger: no change)
    def _trigger_put(self, get_event):
        if self.put_queue:
            self._advance()
            super()._trigger_put(get_event)
            self._remember()

    def _trigger_get(self, put_event):
        if self.get_queue:
            self._advance()
            super()._trigger_get(put_event)
            self._remember()

    def utilisation(self, year: int) -> float:
        """Busy staff-days / available staff-days in calendar year ``year`` (0-based)."""
        return self.busy_area.get(year, 0.0) / (self.capacity * DAYS_PER_YEAR)


def serve(
    env: simpy.Environment,
    staff: MonitoredResource,
    service_days: float,
    patience_days: float | None,
    waits: list,
    then: Callable[[bool], None],
) -> None:
    """Queue for one of ``staff`` from now, be served, then ``then(served)``.

    The days waited go to ``waits``. An applicant with finite patience leaves the queue
    when it runs out (``then(False)`` at that moment). Events: the request, the service
    time and the release; a patience timer only when no one of the staff is free.
    """
    request = staff.request()
    start = env.now

    def granted(_event) -> None:
        waits.append(env.now - start)
        env.timeout(service_days).callbacks.append(done)

    def done(_event) -> None:
        staff.release(request)
        then(True)

    def out_of_patience(_event) -> None:
        if not request.triggered:
            request.cancel()
            waits.append(env.now - start)
            then(False)

    request.callbacks.append(granted)
    if patience_days is not None and not request.triggered:
        env.timeout(patience_days).callbacks.append(out_of_patience)


class OfficeQueues:
    """An institution's simulated offices, each its own ``MonitoredResource`` of full staff.

    ``blocks`` gives the simulated offices of each assignment block (the segments with
    offices of their own, then the shared rest); ``block_of`` maps a segment to its block.
    An arrival joins office ``floor(u * n)`` of its block's ``n``, so arrivals spread
    uniformly and a block of n offices gets 1/n of its arrivals each.
    """

    def __init__(self, env: simpy.Environment, blocks: list[int], staff: int, block_of):
        self.blocks = blocks
        self.block_of = block_of
        self.first = [sum(blocks[:b]) for b in range(len(blocks))]
        self.offices = [MonitoredResource(env, staff) for _ in range(sum(blocks))]

    def pick(self, segment: int, uniform: float) -> MonitoredResource:
        """The office an arrival of ``segment`` with office uniform ``uniform`` joins."""
        b = self.block_of(segment)
        return self.offices[self.first[b] + min(int(uniform * self.blocks[b]), self.blocks[b] - 1)]

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
