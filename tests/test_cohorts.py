"""Grouping loans into cohorts: against a plain dict-based grouping, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from guarantee_sim.book import (
    INITIAL_MONTH,
    LoanBook,
    cohort_number,
    pack_id,
    segment_hash,
    unpack_id,
)
from guarantee_sim.engine.volumes import (
    group_into_cohorts,
    group_replicas_into_cohorts,
    merge_books,
)

EDGES = np.array([2e5, 1e6, 5e6, np.inf])
SEGMENTS = ["micro", "sme", "agri"]


def random_book(rng, n, segments=(0, 1, 2), process=False, initial_share=0.2) -> LoanBook:
    """Records with few distinct keys (so cohorts have many members) and weights > 1."""
    segment = rng.choice(np.asarray(segments), n).astype(np.int32)
    initial = rng.random(n) < initial_share
    month = np.where(initial, 0, rng.integers(0, 12, n)).astype(np.int32)
    hashes = np.array([segment_hash(s) for s in SEGMENTS])[segment]
    number = np.arange(n) % 1000
    id_hi, id_lo = pack_id(hashes, np.where(initial, INITIAL_MONTH, month), number, process=process)
    book = LoanBook(
        id_lo=id_lo,
        id_hi=id_hi,
        segment=segment,
        grade=rng.integers(0, 4, n).astype(np.int32),
        month=month,
        tenor=rng.choice([6, 12, 36], n).astype(np.int32),
        n_loans=rng.choice([1, 20], n).astype(np.int64),
        amount=np.exp(rng.normal(np.log(1e6), 1.2, n)),
        initial=initial,
    )
    return merge_books(book)  # the engine's order: initial first, then by month


def dict_grouping(book: LoanBook, edges: np.ndarray) -> dict:
    """The cohorts of ``book`` as plain Python: key -> (loans, amount sum, id_hi).

    Sums run over the records in book order, as ``np.bincount`` adds them; a cohort keeps
    the id_hi of its last record.
    """
    band = np.searchsorted(edges, book.amount, side="left")
    groups: dict = {}
    for i in range(len(book)):
        key = (
            int(not book.initial[i]),
            int(book.month[i]),
            int(book.segment[i]),
            int(book.grade[i]),
            int(band[i]),
            int(book.tenor[i]),
        )
        loans, total, _ = groups.get(key, (0.0, 0.0, 0))
        n = float(book.n_loans[i])
        groups[key] = (loans + n, total + float(book.amount[i]) * n, int(book.id_hi[i]))
    return groups


def expected_cohorts(book: LoanBook, edges: np.ndarray) -> LoanBook:
    groups = dict_grouping(book, edges)
    keys = sorted(groups)
    new, month, segment, grade, band, tenor = (np.array(c) for c in zip(*keys, strict=True))
    loans = np.rint([groups[k][0] for k in keys]).astype(np.int64)
    total = np.array([groups[k][1] for k in keys])
    member = unpack_id(np.array([groups[k][2] for k in keys], dtype=np.uint32), 0)
    initial = new == 0
    id_hi, id_lo = pack_id(
        member.segment_hash,
        np.where(initial, INITIAL_MONTH, month),
        cohort_number(grade, band, tenor),
        process=member.process,
        cohort=True,
    )
    return LoanBook(
        id_lo=id_lo,
        id_hi=id_hi,
        segment=segment.astype(np.int32),
        grade=grade.astype(np.int32),
        month=month.astype(np.int32),
        tenor=tenor.astype(np.int32),
        n_loans=loans,
        amount=total / loans,
        initial=initial,
    )


def assert_books_identical(got: LoanBook, want: LoanBook) -> None:
    """Every field equal bit for bit, with its dtype."""
    for name in LoanBook.__dataclass_fields__:
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name, strict=True)
        assert a.tobytes() == b.tobytes(), name


@pytest.mark.parametrize("seed", [1, 2])
def test_grouping_equals_a_plain_dict_grouping(seed):
    book = random_book(np.random.default_rng(seed), 20_000)
    cohorts = group_into_cohorts(book, EDGES)
    assert 100 < len(cohorts) < len(book) // 4  # cohorts with many members
    assert_books_identical(cohorts, expected_cohorts(book, EDGES))
    assert cohorts.n_loans.sum() == book.n_loans.sum()


def test_grouping_an_empty_book():
    empty = merge_books(random_book(np.random.default_rng(0), 0))
    assert len(group_into_cohorts(empty, EDGES)) == 0


def test_a_field_out_of_range_is_refused():
    book = random_book(np.random.default_rng(3), 50)
    wide = LoanBook(**{**book.__dict__, "segment": np.full(len(book), 1 << 16, dtype=np.int32)})
    with pytest.raises(ValueError, match="segment out of range"):
        group_into_cohorts(wide, EDGES)


def test_grouping_the_shared_book_once_gives_the_merged_books_cohorts():
    """The volume book (segments 0, 2 and every initial book) grouped once, then merged
    with each replica's cohorts (segment 1's new lending), equals grouping each merged book;
    a replica that shares a cohort with the volume book is grouped as a whole."""
    rng = np.random.default_rng(7)
    shared = random_book(rng, 8_000, segments=(0, 2))
    replicas = [random_book(rng, 3_000, segments=(1,), process=True, initial_share=0) for _ in "ab"]
    overlapping = random_book(rng, 2_000, segments=(0, 1), initial_share=0.3)
    replicas.append(overlapping)
    got = group_replicas_into_cohorts(shared, replicas, EDGES)
    assert len(got) == len(replicas)
    for replica, cohorts in zip(replicas, got, strict=True):
        assert_books_identical(cohorts, group_into_cohorts(merge_books(shared, replica), EDGES))
