"""Stable record ids: the layout lives in guarantee_sim.book, and every builder uses it.

Ids are the counters of the random draws, so a silent change of the layout changes every
result: the pinned values below fail first.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import make_scenario
from process_scenarios import process_dict

import guarantee_sim
from guarantee_sim import book
from guarantee_sim.book import (
    INITIAL_MONTH,
    NUMBER_LIMIT,
    cohort_fields,
    cohort_number,
    pack_id,
    segment_hash,
    unpack_id,
)

PACKAGE = Path(guarantee_sim.__file__).parent


def test_pack_then_unpack_gives_the_fields_back():
    rng = np.random.default_rng(1)
    n = 10_000
    hashes = rng.integers(0, 2**30, n)  # bit 30 clear: it doubles as the process flag
    month = rng.integers(0, INITIAL_MONTH + 1, n)
    number = rng.integers(0, NUMBER_LIMIT, n)
    process = rng.random(n) < 0.5
    cohort = rng.random(n) < 0.5
    fields = unpack_id(*pack_id(hashes, month, number, process=process, cohort=cohort))
    np.testing.assert_array_equal(fields.segment_hash, hashes | np.where(process, 2**30, 0))
    np.testing.assert_array_equal(fields.month, month)
    np.testing.assert_array_equal(fields.number, number)
    np.testing.assert_array_equal(fields.process, process)
    np.testing.assert_array_equal(fields.cohort, cohort)


def test_unpack_then_pack_gives_any_id_back():
    rng = np.random.default_rng(2)
    hi = rng.integers(0, 2**32, 10_000, dtype=np.uint64).astype(np.uint32)
    lo = rng.integers(0, 2**32, 10_000, dtype=np.uint64).astype(np.uint32)
    f = unpack_id(hi, lo)
    again = pack_id(f.segment_hash, f.month, f.number, process=f.process, cohort=f.cohort)
    np.testing.assert_array_equal(again[0], hi)
    np.testing.assert_array_equal(again[1], lo)
    assert again[0].dtype == again[1].dtype == np.uint32


def test_cohort_number_round_trip():
    grade, band, tenor = np.meshgrid(np.arange(32), np.arange(32), [1, 12, 36, 1023])
    got = cohort_fields(cohort_number(grade, band, tenor))
    for a, b in zip(got, (grade, band, tenor), strict=False):
        np.testing.assert_array_equal(a, b)


def test_the_layout_is_pinned():
    """These words are counters of the shipped scenarios' draws: changing them changes
    every result, so a change of layout must be deliberate."""
    sme = segment_hash("sme")
    assert sme == 0x447D8F26  # CRC32 of the name, top bit cleared
    assert [int(w) for w in pack_id(sme, 5, 7)] == [sme, (5 << 20) | 7]
    assert [int(w) for w in pack_id(sme, INITIAL_MONTH, 3)] == [sme, 0xFFF00003]
    assert int(pack_id(0x123, 0, 0, process=True)[0]) == 0x40000123
    hi, lo = pack_id(sme, 2, cohort_number(4, 1, 12), cohort=True)
    assert [int(hi), int(lo)] == [sme | 0x80000000, (2 << 20) | (4 << 15) | (1 << 10) | 12]


@pytest.mark.parametrize(
    "fields",
    [
        {"segment_hash": 2**31, "month": 0, "number": 0},
        {"segment_hash": 1, "month": INITIAL_MONTH + 1, "number": 0},
        {"segment_hash": 1, "month": 0, "number": NUMBER_LIMIT},
        {"segment_hash": 1, "month": -1, "number": 0},
    ],
)
def test_fields_out_of_range_are_refused(fields):
    with pytest.raises(ValueError, match="out of range"):
        pack_id(**fields)


def test_volume_and_cohort_books_decode_to_their_records():
    from guarantee_sim.engine.inputs import band_edges
    from guarantee_sim.engine.parameters import central_scenario
    from guarantee_sim.engine.volumes import build_volume_book, group_into_cohorts

    # the book is built from the centres of the drawn parameters, as simulate() builds it
    scenario = central_scenario(guarantee_sim.load_scenario("scenarios/county_guarantee_2021.yaml"))
    loans = build_volume_book(scenario, seed=3)
    hashes = np.array([segment_hash(n) for n in scenario.segments])
    f = unpack_id(loans.id_hi, loans.id_lo)
    np.testing.assert_array_equal(f.segment_hash, hashes[loans.segment])
    np.testing.assert_array_equal(f.month, np.where(loans.initial, INITIAL_MONTH, loans.month))
    assert not f.cohort.any() and not f.process.any()
    assert len(set(zip(loans.id_hi.tolist(), loans.id_lo.tolist(), strict=False))) == len(loans)

    edges = band_edges(scenario)
    cohorts = group_into_cohorts(loans, edges)
    f = unpack_id(cohorts.id_hi, cohorts.id_lo)
    grade, band, tenor = cohort_fields(f.number)
    assert f.cohort.all()
    np.testing.assert_array_equal(f.segment_hash, hashes[cohorts.segment])
    np.testing.assert_array_equal(grade, cohorts.grade)
    np.testing.assert_array_equal(band, np.searchsorted(edges, cohorts.amount, side="left"))
    np.testing.assert_array_equal(tenor, cohorts.tenor)


def test_process_books_carry_the_process_flag():
    from guarantee_sim.processes import run_replica

    scenario = make_scenario(process_dict(applications_per_year=300, replicas=1))
    loans = run_replica(scenario, seed=4, replica=0).book
    assert len(loans) > 0
    f = unpack_id(loans.id_hi, loans.id_lo)
    assert f.process.all() and not f.cohort.any()
    assert set(f.segment_hash.tolist()) == {segment_hash("sme") | book.PROCESS_FLAG}


def test_no_other_module_spells_out_the_layout():
    """The shifts and flags are written once (book.py; the counter's generation shift in
    philox.py); builders and the jitted draws use the names. config/limits.py restates the
    limits validation checks (config may not import book); tests/test_limits.py ties them."""
    spelled = re.compile(r"<<\s*(20|16|15|10)\b|0x[48]0000000|0xFFFFF\b|0xFFF\b|2\s*\*\*\s*20")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{i}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name not in ("book.py", "philox.py", "limits.py")
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if spelled.search(line)
    ]
    assert offenders == []


def test_a_volume_book_of_a_scenario_with_drawn_parameters_is_its_centred_book():
    """The county scenario draws its PD level per path; the public ``build_volume_book``
    took the distribution for a number and failed (it now centres, as simulate() does)."""
    from guarantee_sim.engine.parameters import central_scenario
    from guarantee_sim.engine.volumes import build_volume_book

    scenario = guarantee_sim.load_scenario("scenarios/county_guarantee_2021.yaml")
    given = build_volume_book(scenario, seed=3)
    centred = build_volume_book(central_scenario(scenario), seed=3)
    assert len(given) > 0
    for field in ("id_lo", "id_hi", "grade", "month", "amount"):
        np.testing.assert_array_equal(getattr(given, field), getattr(centred, field))
