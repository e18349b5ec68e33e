"""The processes' log of applications, held as columns.

One row per application: the new applications first, numbered as they are drawn (segment
by segment, month by month), then the renewal applications in the order they arrive. What
the draws fix (ids, arrival, PDs, amount, what the bank saw) is written a month's block
at a time from the draws' arrays; what the queues decide (status, segment lent on, day)
is written into preallocated ``array.array`` columns as it happens (an item assignment
from Python costs no object); the waits go to a :class:`~.queues.WaitLog`. About 60 bytes
an application, where an object per application (its applicant, outcome and list of
waits) cost about a kilobyte — at record weight 1 that was most of a run's memory.

``columns()`` gives the arrays the run reads; iterating gives one :class:`Record` per
application (tests and inspection; not used by the run).
"""

from __future__ import annotations

import itertools
import math
from array import array
from typing import NamedTuple

import numpy as np

from .queues import WaitLog

STATUSES = ("pending", "approved", "rejected", "abandoned")
PENDING, APPROVED, REJECTED, ABANDONED = range(4)


class LogColumns(NamedTuple):
    """A log's outcomes as arrays, one entry per application (renewals included)."""

    renewal: np.ndarray  # bool
    applied: np.ndarray  # segment applied in
    arrival: np.ndarray  # day
    pd: np.ndarray  # true annual PD
    amount: np.ndarray  # CNY
    id_hi: np.ndarray
    id_lo: np.ndarray
    status: np.ndarray  # index into STATUSES
    segment: np.ndarray  # segment of the loan, -1 when not approved
    decided: np.ndarray  # day


class LoggedApplicant(NamedTuple):
    """An application as the log holds it (a renewal carries its firm's first loan's ids,
    PD, amount and bank's view)."""

    id_hi: int
    id_lo: int
    segment: int  # applied in (a renewal: the segment its loan was lent on)
    arrival: float  # day
    pd: float  # true annual PD
    amount: float  # CNY
    bank_seen_pd: float  # the PD the bank's score suggested at the first application
    bank_pd: float  # a renewal's: the bank's posterior of the current PD; NaN otherwise
    renewal: bool


class Record(NamedTuple):
    """What happened to one application."""

    applicant: LoggedApplicant
    status: str  # one of STATUSES
    segment: int  # segment of the loan, -1 when not approved
    decided: float  # day (NaN while pending)
    waits: list  # days waited, per queue joined, in order


class ProcessLog:
    """The log of ``n`` new applications and the renewal applications they lead to."""

    def __init__(self, n: int):
        self.n = n
        # fixed by the draws, written a month's block at a time
        self.applied = np.zeros(n, dtype=np.int16)
        self.arrival = np.zeros(n)
        self.pd = np.zeros(n)
        self.amount = np.zeros(n)
        self.id_hi = np.zeros(n, dtype=np.uint32)
        self.id_lo = np.zeros(n, dtype=np.uint32)
        self.bank_seen_pd = np.zeros(n)
        self.renewal_pd = np.full(n, np.nan)
        # decided by the queues
        self.status = array("b", bytes(n))  # PENDING
        self.segment = array("h", [-1]) * n
        self.decided = array("d", [math.nan]) * n
        # renewal applications, as they arrive: the new application whose loan renews
        self.parent = array("q")
        self.renewal_arrival = array("d")
        self.renewal_status = array("b")
        self.renewal_segment = array("h")
        self.renewal_decided = array("d")
        self.waits = WaitLog()  # by row number (a renewal's: n + its number)

    def write_block(self, start: int, applied: int, drawn: dict[str, np.ndarray]) -> None:
        """Rows ``start, start + 1, ...``: new applications to segment ``applied`` with
        the drawn columns ``drawn`` (names of this log's columns)."""
        stop = start + len(drawn["arrival"])
        self.applied[start:stop] = applied
        for name, values in drawn.items():
            getattr(self, name)[start:stop] = values

    def add_renewal(self, parent: int, day: float) -> int:
        """A renewal application of row ``parent``'s loan arriving on ``day``: its row."""
        self.parent.append(parent)
        self.renewal_arrival.append(day)
        self.renewal_status.append(PENDING)
        self.renewal_segment.append(-1)
        self.renewal_decided.append(math.nan)
        return self.n + len(self.parent) - 1

    def decide(self, row: int, status: int, segment: int, day: float) -> None:
        """Row ``row``'s application ends with ``status`` on ``day``, lent on ``segment``."""
        if row < self.n:
            self.status[row], self.segment[row], self.decided[row] = status, segment, day
        else:
            j = row - self.n
            self.renewal_status[j] = status
            self.renewal_segment[j] = segment
            self.renewal_decided[j] = day

    def __len__(self) -> int:
        return self.n + len(self.parent)

    def columns(self) -> LogColumns:
        """Every row's outcome as arrays: the new applications, then the renewals."""
        parent = np.frombuffer(self.parent, dtype=np.int64)
        segment = np.frombuffer(self.segment, dtype=np.int16)
        n_renewals = len(parent)

        def both(first: np.ndarray, renewals: np.ndarray, dtype) -> np.ndarray:
            return np.concatenate([first, renewals]).astype(dtype, copy=False)

        return LogColumns(
            renewal=np.concatenate([np.zeros(self.n, bool), np.ones(n_renewals, bool)]),
            applied=both(self.applied, segment[parent], np.int64),
            arrival=both(self.arrival, np.frombuffer(self.renewal_arrival), np.float64),
            pd=both(self.pd, self.pd[parent], np.float64),
            amount=both(self.amount, self.amount[parent], np.float64),
            id_hi=both(self.id_hi, self.id_hi[parent], np.uint32),
            id_lo=both(self.id_lo, self.id_lo[parent], np.uint32),
            status=both(
                np.frombuffer(self.status, dtype=np.int8),
                np.frombuffer(self.renewal_status, dtype=np.int8),
                np.int8,
            ),
            segment=both(segment, np.frombuffer(self.renewal_segment, dtype=np.int16), np.int64),
            decided=both(
                np.frombuffer(self.decided), np.frombuffer(self.renewal_decided), np.float64
            ),
        )

    def waits_by_row(self) -> list[list[float]]:
        """The days each row waited, per queue joined, in order."""
        rows = np.frombuffer(self.waits.of, dtype=np.int64)
        days = np.frombuffer(self.waits.days)
        order = np.argsort(rows, kind="stable")
        bounds = np.searchsorted(rows[order], np.arange(len(self) + 1))
        ordered = days[order].tolist()
        return [ordered[a:b] for a, b in itertools.pairwise(bounds.tolist())]

    def __iter__(self):
        c = self.columns()
        parent = np.frombuffer(self.parent, dtype=np.int64)
        seen = np.concatenate([self.bank_seen_pd, self.bank_seen_pd[parent]]).tolist()
        bank_pd = np.concatenate([np.full(self.n, np.nan), self.renewal_pd[parent]]).tolist()
        waits = self.waits_by_row()
        rows = zip(
            c.id_hi.tolist(),
            c.id_lo.tolist(),
            c.applied.tolist(),
            c.arrival.tolist(),
            c.pd.tolist(),
            c.amount.tolist(),
            seen,
            bank_pd,
            c.renewal.tolist(),
            c.status.tolist(),
            c.segment.tolist(),
            c.decided.tolist(),
            waits,
            strict=True,
        )
        for *applicant, status, segment, decided, waited in rows:
            yield Record(LoggedApplicant(*applicant), STATUSES[status], segment, decided, waited)
