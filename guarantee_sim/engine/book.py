"""The loan book: records of identical loans with stable ids, built from a scenario's volumes.

Lending comes from the scenario's volumes here; the institution processes (SimPy) can
hand the engine any other ``LoanBook`` with the same columns instead.

Record ids are stable: the high word is a hash of the segment name, the low word packs
the origination month and the loan's number within that month (or, for cohorts, its
grade and size band). Adding a segment or a month of lending therefore never changes the
ids, and so the random draws, of other records.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..config.schema import LoanSize, Scenario, Segment

MONTH_SHIFT = 20  # low word: month << 20 | number within month (< 2**20 loans a month)
COHORT_FLAG = 0x80000000


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


def segment_hash(name: str) -> int:
    """Stable 31-bit hash of a segment name (the high word of its record ids)."""
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


def capped_lognormal_mean(size: LoanSize) -> float:
    """E[min(X, cap)] for X lognormal with the given median and shape, CNY."""
    mu, sigma = np.log(size.median), size.sigma
    if size.cap is None:
        return float(np.exp(mu + sigma**2 / 2))
    if sigma == 0:
        return float(min(size.median, size.cap))
    c = np.log(size.cap)
    below = np.exp(mu + sigma**2 / 2) * stats.norm.cdf((c - mu - sigma**2) / sigma)
    return float(below + size.cap * stats.norm.sf((c - mu) / sigma))


def _draw_amounts(rng: np.random.Generator, size: LoanSize, n: int) -> np.ndarray:
    amounts = size.median * np.exp(size.sigma * rng.standard_normal(n))
    return np.minimum(amounts, size.cap) if size.cap is not None else amounts


def _draw_grades(rng: np.random.Generator, segment: Segment, n: int) -> np.ndarray:
    _, weights = segment.pd.grade_pds()
    return rng.choice(len(weights), size=n, p=weights).astype(np.int32)


def _spread_over_months(total: float, months: int) -> np.ndarray:
    """Integer counts per month that add up to round(total), spread as evenly as possible."""
    cumulative = np.rint(total * np.arange(months + 1) / months).astype(np.int64)
    return np.diff(cumulative)


def _rng(seed: int, segment_name: str, purpose: int, year: int) -> np.random.Generator:
    return np.random.default_rng([seed, segment_hash(segment_name), purpose, year])


def build_volume_book(scenario: Scenario, seed: int, skip: set[str] = frozenset()) -> LoanBook:
    """One record per loan from the scenario's lending volumes and initial books.

    Segments in ``skip`` (fed by the institution processes) get no volume lending.
    """
    parts: list[dict] = [_records(0, [], 0, [], [], [], [], False)]
    for s, (name, seg) in enumerate(scenario.segments.items()):
        if seg.initial_book is not None:
            parts.append(_initial_records(seed, s, name, seg))
    for s, (name, seg) in enumerate(scenario.segments.items()):
        if seg.lending is None or name in skip:
            continue
        for year in range(scenario.horizon.origination_years):
            parts.append(_year_records(seed, s, name, seg, year))
    return _sorted(LoanBook(**{k: np.concatenate([p[k] for p in parts]) for k in parts[0]}))


def _sorted(book: LoanBook) -> LoanBook:
    """Initial book first, then new lending by origination month (stable)."""
    order = np.lexsort((np.arange(len(book)), book.month, ~book.initial))
    return LoanBook(**{k: getattr(book, k)[order] for k in LoanBook.__dataclass_fields__})


def merge_books(*books: LoanBook) -> LoanBook:
    """One book holding the records of all ``books``, in the order the kernels need."""
    return _sorted(
        LoanBook(
            **{
                k: np.concatenate([getattr(b, k) for b in books])
                for k in LoanBook.__dataclass_fields__
            }
        )
    )


def _records(id_hi, id_lo, s, grade, month, tenor, amount, initial) -> dict:
    n = len(amount)
    return dict(
        id_lo=np.asarray(id_lo, dtype=np.uint32),
        id_hi=np.full(n, id_hi, dtype=np.uint32),
        segment=np.full(n, s, dtype=np.int32),
        grade=np.asarray(grade, dtype=np.int32),
        month=np.asarray(month, dtype=np.int32),
        tenor=np.broadcast_to(np.asarray(tenor, dtype=np.int32), (n,)).copy(),
        n_loans=np.ones(n, dtype=np.int64),
        amount=np.asarray(amount, dtype=np.float64),
        initial=np.full(n, initial, dtype=bool),
    )


def _year_records(seed: int, s: int, name: str, seg: Segment, year: int) -> dict:
    lending = seg.lending
    growth = (1.0 + lending.growth) ** year
    mean_size = capped_lognormal_mean(seg.loan_size)
    if lending.count_per_year is not None:
        count = lending.count_per_year * growth
    else:
        count = lending.amount_per_year * growth / mean_size
    per_month = _spread_over_months(count, 12)
    n = int(per_month.sum())
    rng = _rng(seed, name, 1, year)
    amounts = _draw_amounts(rng, seg.loan_size, n)
    if lending.count_per_year is not None and lending.amount_per_year is not None and n:
        # both given: keep the shape of the size distribution, match the year's total
        amounts *= lending.amount_per_year * growth / amounts.sum()
    grades = _draw_grades(rng, seg, n)
    months = np.repeat(12 * year + np.arange(12), per_month)
    number = np.concatenate([np.arange(k) for k in per_month])
    if per_month.max(initial=0) >= 2**MONTH_SHIFT:
        raise ValueError(
            f"segment {name!r}: more than {2**MONTH_SHIFT} loans in a month; "
            "use granularity: cohort"
        )
    id_lo = (months.astype(np.int64) << MONTH_SHIFT) | number
    return _records(segment_hash(name), id_lo, s, grades, months, seg.tenor_months, amounts, False)


def _initial_records(seed: int, s: int, name: str, seg: Segment) -> dict:
    book = seg.initial_book
    n = max(1, int(round(book.outstanding_amount / capped_lognormal_mean(seg.loan_size))))
    rng = _rng(seed, name, 0, 0)
    amounts = _draw_amounts(rng, seg.loan_size, n)
    amounts *= book.outstanding_amount / amounts.sum()
    grades = _draw_grades(rng, seg, n)
    tenor = 1 + np.arange(n) % book.remaining_tenor_months  # maturities spread evenly
    # initial records live in "month" 0 but carry the top bit of the month field in their id
    id_lo = (np.int64(0xFFF) << MONTH_SHIFT) | np.arange(n)
    return _records(segment_hash(name), id_lo, s, grades, np.zeros(n), tenor, amounts, True)


def group_into_cohorts(book: LoanBook, band_edges: np.ndarray) -> LoanBook:
    """Merge loans of the same segment, grade, size band, month and tenor into one record.

    A cohort record carries the number of loans and their mean amount; the kernels draw its
    default counts as conditional binomials.
    """
    band = np.searchsorted(band_edges, book.amount, side="left")
    keys = np.stack(
        [~book.initial, book.month, book.segment, book.grade, band, book.tenor], axis=1
    ).astype(np.int64)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    # records may already stand for several loans (the processes' record weight)
    n_loans = np.rint(np.bincount(inverse, weights=book.n_loans, minlength=len(unique))).astype(
        np.int64
    )
    total = np.bincount(inverse, weights=book.amount * book.n_loans, minlength=len(unique))
    id_hi = np.zeros(len(unique), dtype=np.uint32)
    id_hi[inverse] = book.id_hi
    initial = unique[:, 0] == 0
    tenor = unique[:, 5]
    month = unique[:, 1]
    # low word: month (12 bits) | grade (5) | size band (5) | tenor (10)
    id_lo = (
        (np.where(initial, 0xFFF, month) << MONTH_SHIFT)
        | (unique[:, 3] << 15)
        | (unique[:, 4] << 10)
        | tenor
    )
    return LoanBook(
        id_lo=id_lo.astype(np.uint32),
        id_hi=id_hi | np.uint32(COHORT_FLAG),
        segment=unique[:, 2].astype(np.int32),
        grade=unique[:, 3].astype(np.int32),
        month=month.astype(np.int32),
        tenor=tenor.astype(np.int32),
        n_loans=n_loans,
        amount=total / n_loans,
        initial=initial,
    )
