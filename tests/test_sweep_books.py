"""The institution books' cache (guarantee_sim/sweep/books.py, processes/books_key.py): a
design that changes only what the processes do not read (a pool's contribution) reuses the
books, and gets the numbers a run without the cache gets; one that changes what they read
(the fee, the coverage) does not."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import guarantee_sim as gs
from guarantee_sim.engine import books_key_of, simulate
from guarantee_sim.sweep import evaluate_points

ROOT = Path(__file__).resolve().parent.parent
HANGZHOU = ROOT / "scenarios" / "hangzhou_2021_2023.yaml"
SMALL = ["processes.replicas=1"]  # one book replica: one run of the processes per design


def key(*overrides: str) -> str | None:
    return books_key_of(gs.load_scenario(HANGZHOU, overrides=[*SMALL, *overrides]), 11)


def test_the_books_key_holds_what_the_processes_read_and_nothing_else():
    base = key()
    assert base is not None
    # not read by the processes: the same books
    assert key("parties.gov_pool.annual_contribution=1.0e8") == base
    assert key("parties.guarantor.net_assets=9.0e9") == base
    assert key("parties.guarantor.leverage_cap=8") == base
    # read: the fee and the coverage drive approvals, the seed the draws
    assert key("parties.guarantor.fee_rate=0.005") != base
    assert key("schemes.national_20_20_20_40.coverage=0.7") != base
    assert books_key_of(gs.load_scenario(HANGZHOU, overrides=SMALL), 12) != base
    # lending from volumes: no processes, no books
    assert (
        books_key_of(gs.load_scenario(ROOT / "scenarios" / "county_guarantee_2021.yaml"), 1) is None
    )


def test_a_design_that_changes_only_a_pool_reuses_the_books_and_their_numbers(tmp_path):
    points = [
        {"parties.gov_pool.annual_contribution": 1.0e8},
        {"parties.gov_pool.annual_contribution": 2.0e8},
    ]
    for p in points:
        p["processes.replicas"] = 1
    cached = evaluate_points(HANGZHOU, points, paths=4, seed=11, summaries=False, books=tmp_path)
    assert len(list(tmp_path.glob("*.pkl"))) == 1  # one run of the processes for both
    fresh = simulate(
        gs.load_scenario(
            HANGZHOU, overrides=[*SMALL, "parties.gov_pool.annual_contribution=2.0e8"]
        ),
        paths=4,
        seed=11,
        workers=1,
    )
    for name in fresh.data_vars:
        float_ = fresh[name].dtype.kind == "f"
        assert np.array_equal(cached[1][name].values, fresh[name].values, equal_nan=float_), name
    # and the pool's contribution did change the run: the books are not all of it
    assert not np.array_equal(cached[0].fiscal_cost.values, cached[1].fiscal_cost.values)
