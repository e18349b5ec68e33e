"""Loan books built from a scenario's lending volumes, merged, or grouped into cohorts.

Lending comes from the scenario's volumes here; the institution processes (SimPy) can
hand the engine any other :class:`~guarantee_sim.book.LoanBook` with the same columns
instead. Record ids follow the stable layout of :mod:`guarantee_sim.book`, so adding a
segment or a month of lending never changes the ids, and so the random draws, of other
records.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
from scipy.special import ndtr

from ..book import (
    BAND_BITS,
    GRADE_BITS,
    INITIAL_MONTH,
    NUMBER_LIMIT,
    TENOR_BITS,
    LoanBook,
    cohort_fields,
    cohort_number,
    pack_id,
    segment_hash,
    unpack_id,
)
from ..config.schema import InitialBook, Lending, LoanSize, Scenario, Segment
from ..kernels.factors import demand_ceiling
from .parameters import central_scenario


def capped_lognormal_mean(size: LoanSize) -> float:
    """E[min(X, cap)] for X lognormal with the given median and shape, CNY."""
    mu, sigma = np.log(size.median), size.sigma
    if size.cap is None:
        return float(np.exp(mu + sigma**2 / 2))
    if sigma == 0:
        return float(min(size.median, size.cap))
    c = np.log(size.cap)
    below = np.exp(mu + sigma**2 / 2) * ndtr((c - mu - sigma**2) / sigma)
    return float(below + size.cap * ndtr(-(c - mu) / sigma))  # sf(x) = cdf(-x)


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


def build_volume_book(
    scenario: Scenario, seed: int, skip: Collection[str] = frozenset()
) -> LoanBook:
    """One record per loan from the scenario's lending volumes and initial books.

    Segments in ``skip`` (fed by the institution processes) get no volume lending. New
    lending is at the demand ceiling (``kernels.factors.demand_ceiling``: the volumes
    themselves when demand does not follow the credit cycle). Drawn parameters (a PD
    level given as a distribution) are taken at their centre, as the lenders see them.
    """
    scenario = central_scenario(scenario)  # idempotent: simulate() has centred it already
    ceiling = demand_ceiling(scenario.macro.demand_elasticity)
    parts: list[dict] = [_records(0, [], 0, [], [], [], [], False)]
    for s, (name, seg) in enumerate(scenario.segments.items()):
        if seg.initial_book is not None:
            parts.append(_initial_records(seed, s, name, seg, seg.initial_book))
    for s, (name, seg) in enumerate(scenario.segments.items()):
        if seg.lending is None or name in skip:
            continue
        for year in range(scenario.horizon.origination_years):
            parts.append(_year_records(seed, s, name, seg, seg.lending, year, ceiling))
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
    return {
        "id_lo": np.asarray(id_lo, dtype=np.uint32),
        "id_hi": np.full(n, id_hi, dtype=np.uint32),
        "segment": np.full(n, s, dtype=np.int32),
        "grade": np.asarray(grade, dtype=np.int32),
        "month": np.asarray(month, dtype=np.int32),
        "tenor": np.broadcast_to(np.asarray(tenor, dtype=np.int32), (n,)).copy(),
        "n_loans": np.ones(n, dtype=np.int64),
        "amount": np.asarray(amount, dtype=np.float64),
        "initial": np.full(n, initial, dtype=bool),
    }


def _year_records(
    seed: int, s: int, name: str, seg: Segment, lending: Lending, year: int, ceiling: float
) -> dict:
    """The loans segment ``seg`` (index ``s``) makes in origination year ``year`` at demand
    ``ceiling`` times its volume."""
    # at the demand ceiling: each path keeps its share of these loans (factors.py)
    growth = (1.0 + lending.growth) ** year * ceiling
    mean_size = capped_lognormal_mean(seg.loan_size)
    if lending.count_per_year is not None:
        count = lending.count_per_year * growth
    else:
        assert lending.amount_per_year is not None  # the schema: one of the two at least
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
    if per_month.max(initial=0) >= NUMBER_LIMIT:
        raise ValueError(
            f"segment {name!r}: more than {NUMBER_LIMIT} loans in a month; use granularity: cohort"
        )
    id_hi, id_lo = pack_id(segment_hash(name), months, number)
    return _records(id_hi, id_lo, s, grades, months, seg.tenor_months, amounts, False)


def _initial_records(seed: int, s: int, name: str, seg: Segment, book: InitialBook) -> dict:
    """The loans of segment ``seg`` outstanding at the start."""
    n = max(1, round(book.outstanding_amount / capped_lognormal_mean(seg.loan_size)))
    rng = _rng(seed, name, 0, 0)
    amounts = _draw_amounts(rng, seg.loan_size, n)
    amounts *= book.outstanding_amount / amounts.sum()
    grades = _draw_grades(rng, seg, n)
    tenor = 1 + np.arange(n) % book.remaining_tenor_months  # maturities spread evenly
    # initial records live in month 0 but carry INITIAL_MONTH in their id
    id_hi, id_lo = pack_id(segment_hash(name), INITIAL_MONTH, np.arange(n))
    return _records(id_hi, id_lo, s, grades, np.zeros(n), tenor, amounts, True)


# Bit widths of the cohort key's fields, most significant first: initial-or-new (1), month,
# segment, grade, size band, tenor. Month, grade, band and tenor have the widths of the
# stable ids (a cohort's id holds them), so a book the ids accept always fits; 49 bits.
_KEY_FIELDS = (
    ("new lending flag", 1),
    ("month", 12),
    ("segment", 16),
    ("cohort grade", GRADE_BITS),
    ("cohort size band", BAND_BITS),
    ("cohort tenor", TENOR_BITS),
)


def _cohort_key(new, month, segment, grade, band, tenor) -> np.ndarray:
    """One int64 per record whose order is the lexicographic order of its fields."""
    key = np.zeros(np.shape(month), dtype=np.int64)
    fields = (new, month, segment, grade, band, tenor)
    for (what, bits), field in zip(_KEY_FIELDS, fields, strict=True):
        values = np.asarray(field, dtype=np.int64)
        if values.size and (values.min() < 0 or values.max() >= 1 << bits):
            raise ValueError(
                f"cohorts: {what} out of range 0..{(1 << bits) - 1} "
                f"(got {int(values.min())}..{int(values.max())})"
            )
        key = (key << bits) | values
    return key


def group_into_cohorts(book: LoanBook, band_edges: np.ndarray) -> LoanBook:
    """Merge loans of the same segment, grade, size band, month and tenor into one record.

    A cohort record carries the number of loans and their mean amount; the kernels draw its
    default counts as conditional binomials. Cohorts come initial book first, then by
    month, segment, grade, size band and tenor.
    """
    band = np.searchsorted(band_edges, book.amount, side="left")
    keys = _cohort_key(~book.initial, book.month, book.segment, book.grade, band, book.tenor)
    # one 1-D sort of packed keys: ~30x faster than np.unique(axis=0) over a 6-column table
    unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    # records may already stand for several loans (the processes' record weight)
    n_loans = np.rint(np.bincount(inverse, weights=book.n_loans, minlength=len(unique))).astype(
        np.int64
    )
    total = np.bincount(inverse, weights=book.amount * book.n_loans, minlength=len(unique))
    member_hi = np.zeros(len(unique), dtype=np.uint32)
    member_hi[inverse] = book.id_hi  # a member's segment hash and process flag
    member = unpack_id(member_hi, 0)
    initial = book.initial[first]
    month = book.month[first].astype(np.int64)
    grade = book.grade[first].astype(np.int64)
    tenor = book.tenor[first].astype(np.int64)
    id_hi, id_lo = pack_id(
        member.segment_hash,
        np.where(initial, INITIAL_MONTH, month),
        cohort_number(grade, band[first], tenor),
        process=member.process,
        cohort=True,
    )
    return LoanBook(
        id_lo=id_lo,
        id_hi=id_hi,
        segment=book.segment[first].astype(np.int32),
        grade=grade.astype(np.int32),
        month=month.astype(np.int32),
        tenor=tenor.astype(np.int32),
        n_loans=n_loans,
        amount=total / n_loans,
        initial=initial.astype(bool),
    )


def group_replicas_into_cohorts(
    shared: LoanBook, replicas: list[LoanBook], band_edges: np.ndarray
) -> list[LoanBook]:
    """``group_into_cohorts(merge_books(shared, r))`` for each replica book ``r``, grouping
    the ``shared`` book (the volume-fed lending every replica has) once.

    When no cohort has members in both books (process-fed segments lend only through the
    processes, and their initial book is never new lending), the cohorts of the merged book
    are those of each book, interleaved in cohort order, with the same sums (a cohort's
    members keep their order). Otherwise the merged book is grouped as a whole.
    """
    common = group_into_cohorts(shared, band_edges)
    common_key = _key_of_cohorts(common)
    grouped = []
    for replica in replicas:
        own = group_into_cohorts(replica, band_edges)
        key = np.concatenate([common_key, _key_of_cohorts(own)])
        order = np.argsort(key, kind="stable")
        if np.any(key[order[1:]] == key[order[:-1]]):  # a cohort in both books
            grouped.append(group_into_cohorts(merge_books(shared, replica), band_edges))
            continue
        grouped.append(
            LoanBook(
                **{
                    k: np.concatenate([getattr(common, k), getattr(own, k)])[order]
                    for k in LoanBook.__dataclass_fields__
                }
            )
        )
    return grouped


def _key_of_cohorts(cohorts: LoanBook) -> np.ndarray:
    """The cohort key of each record of a grouped book (size band read from its id)."""
    grade, band, tenor = cohort_fields(unpack_id(cohorts.id_hi, cohorts.id_lo).number)
    return _cohort_key(~cohorts.initial, cohorts.month, cohorts.segment, grade, band, tenor)
