"""The loan book: the contract between the institution processes and the engine.

A :class:`LoanBook` lists records of identical loans with stable ids. The engine builds one
from a scenario's volumes (:mod:`guarantee_sim.engine.volumes`), the institution processes
build one from the applications they approve, and the engine turns either into kernel
arrays. This module is a leaf: it imports nothing of the package.

Stable ids
----------
Every record has a 64-bit id, two uint32 words, that never depends on a position in an
array: the kernels key a record's random draws by it, so adding a segment, a month of
lending or one more approved loan leaves every other record's draws unchanged. This module
is the only place the layout is written down; use :func:`pack_id` and :func:`unpack_id`.

========  =======  ======================================================================
word      bits     field
========  =======  ======================================================================
id_hi     31       :data:`COHORT_FLAG`: the record is a cohort of loans
id_hi     30       :data:`PROCESS_FLAG`: the institution processes approved the loan
id_hi     0-30     :func:`segment_hash` of the segment name (31 bits)
id_lo     20-31    origination month (12 bits); :data:`INITIAL_MONTH` for the initial book
id_lo     0-19     the loan's number within its month, or for a cohort
                   grade (5 bits) << 15 | size band (5 bits) << 10 | tenor in months (10 bits)
========  =======  ======================================================================

Bit 30 is shared: the process flag is OR-ed onto a 31-bit hash, so a segment whose hash
has bit 30 set looks like a process record. The layout is kept as it is because ids are
the counters of the random draws: changing it would change every result.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

MONTH_SHIFT = 20  #: id_lo = month << MONTH_SHIFT | number
NUMBER_LIMIT = 1 << MONTH_SHIFT  #: loans (or applicants) a month must be fewer than this
NUMBER_MASK = NUMBER_LIMIT - 1
MONTH_MASK = 0xFFF
INITIAL_MONTH = 0xFFF  #: the month field of initial-book records (they live in month 0)
SEGMENT_MASK = 0x7FFFFFFF
PROCESS_FLAG = 0x40000000
COHORT_FLAG = 0x80000000
# a cohort's number field: grade << GRADE_SHIFT | size band << BAND_SHIFT | tenor
GRADE_SHIFT, GRADE_BITS = 15, 5
BAND_SHIFT, BAND_BITS = 10, 5
TENOR_BITS = 10


@dataclass(frozen=True)
class LoanBook:
    """Loans as records, initial book first, then new lending sorted by origination month.

    All arrays have one entry per record. Money in CNY (per loan), months counted from
    January of the start year.
    """

    id_lo: np.ndarray
    id_hi: np.ndarray
    segment: np.ndarray
    grade: np.ndarray
    month: np.ndarray
    tenor: np.ndarray
    n_loans: np.ndarray
    amount: np.ndarray
    initial: np.ndarray  # bool: part of the book at the start, not new lending

    def __len__(self) -> int:
        return len(self.amount)

    @property
    def n_initial(self) -> int:
        return int(self.initial.sum())

    @classmethod
    def from_records(
        cls, records: Iterable[Mapping[str, Any]], *, segments: Sequence[str] | None = None
    ) -> LoanBook:
        """A book from one mapping per record: hand-made books for tests and benchmarks.

        Each record gives ``segment`` (index into the scenario's segments), ``month``
        (origination month; 0 for the initial book), ``tenor`` (months) and ``amount`` (CNY
        per loan), and may give ``grade`` (0), ``n_loans`` (1), ``initial`` (False) and its
        stable id ``id_hi``, ``id_lo``. Records without an id get one from :func:`pack_id`:
        the :func:`segment_hash` of the segment's name when ``segments`` names them (else the
        segment index stands for the hash), the month (:data:`INITIAL_MONTH` for the initial
        book) and the record's number among its segment's records of that month, in the
        order given. Either every record gives an id or none does.

        The records are ordered as the engine expects: the initial book first, then by
        origination month; records of one month keep their order.

        >>> book = LoanBook.from_records(
        ...     [{"segment": 0, "month": 2, "tenor": 12, "amount": 1e6},
        ...      {"segment": 0, "month": 0, "tenor": 12, "amount": 2e6, "n_loans": 5}],
        ...     segments=["sme"])
        >>> book.month.tolist(), book.n_loans.tolist(), len(book)
        ([0, 2], [5, 1], 2)
        >>> ids = unpack_id(book.id_hi, book.id_lo)
        >>> int(ids.month[1]), int(book.id_hi[0]) == segment_hash("sme")
        (2, True)
        """
        rows = [dict(r) for r in records]
        with_id = ["id_hi" in r and "id_lo" in r for r in rows]
        if any(with_id) and not all(with_id):
            raise ValueError("LoanBook.from_records: give id_hi and id_lo for every record or none")
        initial = np.array([bool(r.get("initial", False)) for r in rows], dtype=bool)
        month = np.array([int(r["month"]) for r in rows], dtype=np.int32)
        segment = np.array([int(r["segment"]) for r in rows], dtype=np.int32)
        if rows and all(with_id):
            id_hi = np.array([r["id_hi"] for r in rows], dtype=np.uint32)
            id_lo = np.array([r["id_lo"] for r in rows], dtype=np.uint32)
        else:
            hashes = [segment_hash(segments[s]) if segments else int(s) for s in segment]
            id_month = np.where(initial, INITIAL_MONTH, month)
            seen: dict[tuple[int, int], int] = {}
            number = np.empty(len(rows), dtype=np.int64)
            for i, key in enumerate(zip(segment.tolist(), id_month.tolist(), strict=True)):
                number[i] = seen.get(key, 0)
                seen[key] = number[i] + 1
            id_hi, id_lo = pack_id(np.array(hashes, dtype=np.int64), id_month, number)
        order = np.lexsort((month, ~initial))  # initial first, then month; stable
        book = cls(
            id_lo=id_lo,
            id_hi=id_hi,
            segment=segment,
            grade=np.array([int(r.get("grade", 0)) for r in rows], dtype=np.int32),
            month=month,
            tenor=np.array([int(r["tenor"]) for r in rows], dtype=np.int32),
            n_loans=np.array([int(r.get("n_loans", 1)) for r in rows], dtype=np.int64),
            amount=np.array([float(r["amount"]) for r in rows], dtype=np.float64),
            initial=initial,
        )
        return cls(**{name: getattr(book, name)[order] for name in cls.__dataclass_fields__})


class StableId(NamedTuple):
    """The fields of stable record ids (arrays, or scalars for scalar ids)."""

    segment_hash: np.ndarray  # 31 bits; bit 30 is also the process flag
    month: np.ndarray  # INITIAL_MONTH for the initial book
    number: np.ndarray  # number within the month, or a cohort's packed fields
    process: np.ndarray  # bool
    cohort: np.ndarray  # bool


def segment_hash(name: str) -> int:
    """Stable 31-bit hash of a segment name (the high word of its record ids).

    >>> segment_hash("sme") < 2**31
    True
    """
    return zlib.crc32(name.encode("utf-8")) & SEGMENT_MASK


def pack_id(segment_hash, month, number, *, process=False, cohort=False):
    """Stable ids ``(id_hi, id_lo)`` as uint32 arrays from their fields (arrays broadcast).

    ``month`` is the origination month, or :data:`INITIAL_MONTH` for the initial book;
    ``number`` the loan's number within the month (< :data:`NUMBER_LIMIT`), or
    :func:`cohort_number` for a cohort record.

    >>> hi, lo = pack_id(segment_hash("sme"), 3, 7)
    >>> int(lo) == 3 << MONTH_SHIFT | 7
    True
    >>> int(unpack_id(hi, lo).month), int(unpack_id(hi, lo).number)
    (3, 7)
    """
    h = np.asarray(segment_hash, dtype=np.int64)
    m = np.asarray(month, dtype=np.int64)
    n = np.asarray(number, dtype=np.int64)
    _check("segment hash", h, SEGMENT_MASK)
    _check("month", m, MONTH_MASK)
    _check("number within the month", n, NUMBER_MASK)
    flags = np.where(process, PROCESS_FLAG, 0) | np.where(cohort, COHORT_FLAG, 0)
    shape = np.broadcast_shapes(h.shape, m.shape, n.shape, flags.shape)
    id_hi = np.broadcast_to(h | flags, shape).astype(np.uint32)
    id_lo = np.broadcast_to((m << MONTH_SHIFT) | n, shape).astype(np.uint32)
    return id_hi, id_lo


def unpack_id(id_hi, id_lo) -> StableId:
    """The fields of stable ids: the inverse of :func:`pack_id`.

    ``pack_id(*unpack_id(hi, lo)[:3], process=.., cohort=..)`` gives ``(hi, lo)`` back.
    """
    hi = np.asarray(id_hi, dtype=np.int64)
    lo = np.asarray(id_lo, dtype=np.int64)
    return StableId(
        segment_hash=hi & SEGMENT_MASK,
        month=(lo >> MONTH_SHIFT) & MONTH_MASK,
        number=lo & NUMBER_MASK,
        process=(hi & PROCESS_FLAG) != 0,
        cohort=(hi & COHORT_FLAG) != 0,
    )


def cohort_number(grade, band, tenor):
    """The number field of a cohort record: grade, loan-size band and tenor (months)."""
    g = np.asarray(grade, dtype=np.int64)
    b = np.asarray(band, dtype=np.int64)
    t = np.asarray(tenor, dtype=np.int64)
    _check("cohort grade", g, (1 << GRADE_BITS) - 1)
    _check("cohort size band", b, (1 << BAND_BITS) - 1)
    _check("cohort tenor", t, (1 << TENOR_BITS) - 1)
    return (g << GRADE_SHIFT) | (b << BAND_SHIFT) | t


def cohort_fields(number) -> tuple:
    """``(grade, band, tenor)`` of a cohort record's number field."""
    n = np.asarray(number, dtype=np.int64)
    return (
        (n >> GRADE_SHIFT) & ((1 << GRADE_BITS) - 1),
        (n >> BAND_SHIFT) & ((1 << BAND_BITS) - 1),
        n & ((1 << TENOR_BITS) - 1),
    )


def _check(what: str, values: np.ndarray, largest: int) -> None:
    if values.size and (values.min() < 0 or values.max() > largest):
        raise ValueError(
            f"stable ids: {what} out of range 0..{largest} "
            f"(got {int(values.min())}..{int(values.max())})"
        )
