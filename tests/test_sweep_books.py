"""The institution books' cache (guarantee_sim/sweep/books.py, processes/books_key.py): a
design that changes only what the processes do not read (a pool's contribution) reuses the
books, and gets the numbers a run without the cache gets; one that changes what they read
(the fee, the coverage) does not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import guarantee_sim as gs
from guarantee_sim.engine import books_key_of, simulate
from guarantee_sim.sweep import evaluate_points

ROOT = Path(__file__).resolve().parent.parent
HANGZHOU = ROOT / "scenarios" / "hangzhou_2021_2023.yaml"
SMALL = ["processes.replicas=1"]  # one book replica: one run of the processes per design


def key(*overrides: str) -> str | None:
    return books_key_of(gs.load_scenario(HANGZHOU, overrides=[*SMALL, *overrides]), 11)


def fresh_run(contribution: float):
    """The scenario with the pool's ``contribution``, run without any cache."""
    overrides = [*SMALL, f"parties.gov_pool.annual_contribution={contribution}"]
    return simulate(gs.load_scenario(HANGZHOU, overrides=overrides), paths=4, seed=11, workers=1)


def assert_same_data(expected, actual) -> None:
    """Every data variable of ``expected`` in ``actual``, bit for bit (NaN where NaN)."""
    for name in expected.data_vars:
        float_ = expected[name].dtype.kind == "f"
        assert np.array_equal(expected[name].values, actual[name].values, equal_nan=float_), name


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
    assert_same_data(fresh_run(2.0e8), cached[1])
    # and the pool's contribution did change the run: the books are not all of it
    assert not np.array_equal(cached[0].fiscal_cost.values, cached[1].fiscal_cost.values)


def test_run_books_reuses_an_earlier_runs_books_with_the_same_results(
    tmp_path, monkeypatch, capsys
):
    from guarantee_sim.cli import main
    from guarantee_sim.engine import inputs
    from guarantee_sim.results import open_results

    folder = tmp_path / "books"
    run = ["run", str(HANGZHOU), "--paths", "8", "--set", "processes.replicas=1"]
    run += ["--books", str(folder), "--quiet"]
    pool = ["--set", "parties.gov_pool.annual_contribution=2.0e8"]
    assert main([*run, *pool, "--out", str(tmp_path / "fresh.nc")]) == 0
    assert len(list(folder.glob("*.pkl"))) == 1
    without = ["run", str(HANGZHOU), "--paths", "8", "--set", "processes.replicas=1"]
    assert main([*without, "--quiet", "--out", str(tmp_path / "plain.nc")]) == 0

    def processes_again(*args, **kwargs):
        raise AssertionError("the institution processes ran again")

    monkeypatch.setattr(inputs, "run_processes", processes_again)
    capsys.readouterr()
    # the same scenario with another pool: the processes do not read it
    assert main([*run[:-1], "--out", str(tmp_path / "cached.nc")]) == 0
    said = capsys.readouterr()
    assert "their books came from" in " ".join((said.out + said.err).split())
    plain, cached = open_results(tmp_path / "plain.nc"), open_results(tmp_path / "cached.nc")
    assert_same_data(plain, cached)
    # the fee is read by the processes: not in the folder, so they would run
    with pytest.raises(AssertionError, match="ran again"):
        main([*run, "--set", "parties.guarantor.fee_rate=0.005", "--out", str(tmp_path / "f.nc")])


def test_run_books_in_a_file_is_a_clear_error_before_anything_runs(tmp_path, capsys):
    from guarantee_sim.cli import main

    not_a_folder = tmp_path / "books"
    not_a_folder.write_text("")
    out = tmp_path / "r.nc"
    assert (
        main(
            ["run", str(HANGZHOU), "--paths", "8", "--books", str(not_a_folder), "--out", str(out)]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert f"--books {not_a_folder} is a file" in err and "Traceback" not in err
    assert not out.exists()


def test_compare_runs_the_processes_once_for_designs_that_change_only_a_pool(monkeypatch):
    from guarantee_sim.engine import inputs
    from guarantee_sim.experiments import run_experiment

    calls = []
    real = inputs.run_processes

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(inputs, "run_processes", counted)
    sweep = ROOT / "experiments" / "hangzhou_2021_2023_pool_sweep.yaml"
    ds = run_experiment(sweep, paths=4, seed=11, overrides=SMALL)
    assert len(calls) == 1  # 3 contributions, one set of books
    assert_same_data(fresh_run(6.0e8), ds.sel(pool_contribution=6.0e8))
