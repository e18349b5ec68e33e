"""Same seed, same results (DESIGN §3, §6).

Draws come from Philox keyed by (seed, path) with counters built from stable ids, so results
must not depend on the thread count, the path blocking, the number of paths, the JIT, or on
parts of the scenario that do not touch a record's defaults (fees, other segments).

The thread-count and JIT checks run in subprocesses (Numba reads NUMBA_NUM_THREADS and
NUMBA_DISABLE_JIT at import); they rebuild the same cases by importing this module.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import base_scenario_dict, make_scenario

import guarantee_sim as gs
from guarantee_sim.config import ScenarioWarning

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
COUNTY = ROOT / "scenarios" / "county_guarantee_2021.yaml"


# --------------------------------------------------------------------------- cases


def rich_scenario_dict() -> dict:
    """A tiny scenario that exercises most of the kernels.

    Two correlated AR(1) factors with a downturn and a PD multiplier, two grades, lognormal
    sizes across the size bands, renewals, an initial book, a re-guarantor with a binding
    compensation-rate cap, a pool with a circuit breaker and a lending multiple, a thinly
    capitalised guarantor with a leverage cap, fee bands and a target.
    """
    d = base_scenario_dict()
    d["name"] = "test_rich"
    d["horizon"] = {"start_year": 2021, "origination_years": 2, "runoff_months": 30}
    d["simulation"]["block_size"] = 3
    d["macro"] = {
        "factors": ["economy", "property"],
        "correlation": [[1.0, 0.5], [0.5, 1.0]],
        "persistence": 0.4,
        "downturn_z": {2022: 1.0},
        "pd_multiplier": {2021: 1.5},
    }
    sme = d["segments"]["sme"]
    sme["pd"] = {
        "mean": 0.15,
        "grades": [{"relative_pd": 0.5, "weight": 0.5}, {"relative_pd": 1.5, "weight": 0.5}],
    }
    sme["loan_size"] = {"median": 2.0e6, "sigma": 0.9, "cap": 1.0e7}
    sme["lending"] = {"count_per_year": 14, "growth": 0.2}
    sme["renewal"] = {"rate": 0.7}
    sme["scheme"] = "national"
    d["segments"]["credit"] = {
        "tags": ["credit"],
        "pd": {"mean": 0.2},
        "lgd": 0.6,
        "recovery": {"lag_months": 2, "spread_months": 4},
        "correlation": 0.15,
        "loadings": {"economy": 0.5, "property": 1.0},
        "loan_size": {"median": 0.8e6, "sigma": 0.5, "cap": 1.0e7},
        "tenor_months": 6,
        "lending": {"count_per_year": 10},
        "initial_book": {"outstanding_amount": 6.0e6, "remaining_tenor_months": 6},
        "scheme": "credit_pool",
    }
    d["parties"] = {
        "bank": {"kind": "bank"},
        "guarantor": {
            "kind": "guarantor",
            "public": True,
            "net_assets": 4.0e6,
            "leverage_cap": 5.0,
            "fee_bands": [{"max_amount": 5.0e6, "rate": 0.01}, {"rate": 0.015}],
            "claim_lag_months": 2,
            "operating_cost_rate": 0.005,
            "fallback": "bank",
        },
        "provincial": {
            "kind": "reguarantor",
            "public": True,
            "fee_rate": 0.004,
            "compensation_rate_cap": 0.04,
            "lag_months": 3,
            "fallback": "guarantor",
        },
        "gov_pool": {
            "kind": "pool",
            "initial_balance": 1.0e6,
            "annual_contribution": 5.0e5,
            "max_lending_multiple": 10.0,
            "npl_circuit_breaker": 0.1,
            "lag_months": 3,
            "fallback": "bank",
        },
    }
    d["schemes"] = {
        "national": {"coverage": 0.8, "split": {"guarantor": 0.5, "provincial": 0.5}},
        "credit_pool": {"coverage": 0.5, "split": {"gov_pool": 1.0}},
    }
    d["targets"] = {
        "borrowers": {
            "metric": "borrowers",
            "tags": ["first_time"],
            "kind": "flow",
            "from_year": 2021,
            "to_year": 2022,
            "value": 20,
        }
    }
    return d


def county(granularity: str = "cohort"):
    s = gs.load_scenario(COUNTY)
    return s.model_copy(
        update={"simulation": s.simulation.model_copy(update={"granularity": granularity})}
    )


def thread_cases() -> dict:
    """name -> Dataset, for the thread-count comparison (several blocks, several threads)."""
    return {
        "base_loan": gs.simulate(
            make_scenario(**{"segments.sme.lending.count_per_year": 300}),
            paths=48,
            seed=4242,
            block_size=20,
        ),
        "rich_cohort": gs.simulate(
            make_scenario(rich_scenario_dict(), **{"simulation.granularity": "cohort"}),
            paths=48,
            seed=4242,
            block_size=20,
        ),
        "county_cohort": gs.simulate(county("cohort"), paths=32, seed=4242, block_size=13),
        "drawn_parameters": gs.simulate(drawn_parameters(), paths=24, seed=4242, block_size=7),
    }


def drawn_parameters():
    """Process-fed lending whose lenders' decision parameters are drawn per book replica and
    whose PD level and recovery lag are drawn per path (issue 9 A)."""
    from process_scenarios import process_dict

    d = process_dict(coverage=0.8, guarantor_reviewers=20, replicas=3)
    d["processes"]["guarantor"]["mandate_loss_rate"] = {"dist": "uniform", "min": 0, "max": 0.04}
    d["processes"]["bank"]["score_noise"] = {
        "dist": "lognormal",
        "median": 0.8,
        "sd": 0.4,
        "max": 3,
    }
    d["segments"]["sme"]["pd"]["mean"] = {
        "dist": "lognormal",
        "median": 0.02,
        "sd": 0.3,
        "max": 0.2,
    }
    d["segments"]["sme"]["recovery"]["lag_months"] = {"dist": "uniform", "min": 0, "max": 6}
    d["simulation"]["block_size"] = 7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)  # 3 replicas: too few, on purpose
        return make_scenario(d)


def nojit_cases() -> dict:
    """name -> Dataset, tiny enough to run as plain Python."""
    tiny = {"segments.sme.lending.count_per_year": 12, "segments.sme.pd.mean": 0.3}
    large_cohorts = {
        "segments.sme.lending.count_per_year": 24_000,
        "segments.sme.pd.mean": 0.3,
        "simulation.granularity": "cohort",
    }
    return {
        "tiny_loan": gs.simulate(make_scenario(**tiny), paths=4, seed=5, block_size=3),
        "tiny_cohort": gs.simulate(
            make_scenario(**tiny, **{"simulation.granularity": "cohort"}),
            paths=4,
            seed=5,
            block_size=3,
        ),
        # 2000 loans a month at PD 30%: binomials beyond the exact-inversion limit
        "large_cohort": gs.simulate(make_scenario(**large_cohorts), paths=2, seed=5),
        "rich_loan": gs.simulate(make_scenario(rich_scenario_dict()), paths=3, seed=5),
        "rich_cohort": gs.simulate(
            make_scenario(rich_scenario_dict(), **{"simulation.granularity": "cohort"}),
            paths=3,
            seed=5,
        ),
        "county_cohort": gs.simulate(county("cohort"), paths=2, seed=5),
    }


def _strip(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    ds.attrs.pop("created", None)
    return ds


def _write(cases: dict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, ds in cases.items():
        _strip(ds).to_netcdf(folder / f"{name}.nc", engine="h5netcdf")


def _read(path: Path) -> xr.Dataset:
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()


_CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    import numba
    import test_reproducibility as t
    expected_threads, no_jit = {threads!r}, {no_jit!r}
    assert numba.config.DISABLE_JIT == no_jit, numba.config.DISABLE_JIT
    if expected_threads is not None:
        assert numba.get_num_threads() == expected_threads, numba.get_num_threads()
    t._write(t.{cases}(), Path({out!r}))
""")


def _start_child(
    cases: str, out: Path, *, threads: int | None = None, no_jit: bool = False
) -> subprocess.Popen:
    env = {
        k: v for k, v in os.environ.items() if k not in ("NUMBA_NUM_THREADS", "NUMBA_DISABLE_JIT")
    }
    if threads is not None:
        env["NUMBA_NUM_THREADS"] = str(threads)
    if no_jit:
        env["NUMBA_DISABLE_JIT"] = "1"
    code = _CHILD.format(
        tests=str(TESTS), threads=threads, no_jit=no_jit, cases=cases, out=str(out)
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait(child: subprocess.Popen) -> None:
    try:
        output, _ = child.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        child.kill()
        output, _ = child.communicate()
        pytest.fail(f"subprocess timed out:\n{output}")
    assert child.returncode == 0, output


# --------------------------------------------------------------------------- threads, JIT


@pytest.mark.slow
def test_same_seed_bit_identical_across_thread_counts(tmp_path):
    # in-process first: compiles (or loads) the kernels and fills Numba's cache for the
    # children
    _write(thread_cases(), tmp_path / "inprocess")
    children = {
        n: _start_child("thread_cases", tmp_path / f"threads{n}", threads=n) for n in (1, 2)
    }
    for child in children.values():
        _wait(child)
    for name in ("base_loan", "rich_cohort", "county_cohort", "drawn_parameters"):
        reference = _read(tmp_path / "threads1" / f"{name}.nc")
        assert float(reference.defaults_count.sum()) > 0
        xr.testing.assert_identical(reference, _read(tmp_path / "threads2" / f"{name}.nc"))
        xr.testing.assert_identical(reference, _read(tmp_path / "inprocess" / f"{name}.nc"))


@pytest.mark.slow
def test_kernels_give_the_same_numbers_without_the_jit(tmp_path):
    jitted = nojit_cases()
    _wait(_start_child("nojit_cases", tmp_path, no_jit=True))
    for name, ds in jitted.items():
        plain = _read(tmp_path / f"{name}.nc")
        assert float(ds.defaults_count.sum()) > 0, name
        assert set(plain.data_vars) == set(ds.data_vars)
        for var in ds.data_vars:
            if not np.issubdtype(ds[var].dtype, np.number):  # text (attainment_variance_note)
                np.testing.assert_array_equal(plain[var].values, ds[var].values)
                continue
            np.testing.assert_allclose(
                plain[var].values, ds[var].values, rtol=1e-12, atol=0, err_msg=f"{name}: {var}"
            )
        for var in ("defaults_count", "default_amount", "loans_count"):
            np.testing.assert_array_equal(
                plain[var].values, ds[var].values, err_msg=f"{name}: {var}"
            )


# --------------------------------------------------------------------------- in process


@pytest.mark.parametrize("granularity", ["loan", "cohort"])
def test_block_size_does_not_change_results(granularity):
    scenario = make_scenario(rich_scenario_dict(), **{"simulation.granularity": granularity})
    paths = 50
    reference = _strip(gs.simulate(scenario, paths=paths, seed=99, block_size=paths))
    assert float(reference.defaults_count.sum()) > 0
    for block_size in (1, 7, 64):
        other = _strip(gs.simulate(scenario, paths=paths, seed=99, block_size=block_size))
        xr.testing.assert_identical(reference, other)


@pytest.mark.parametrize("case", ["rich_loan", "county_cohort"])
def test_paths_do_not_depend_on_the_number_of_paths(case):
    scenario = make_scenario(rich_scenario_dict()) if case == "rich_loan" else county("cohort")
    few = gs.simulate(scenario, paths=50, seed=31, block_size=16)
    many = gs.simulate(scenario, paths=120, seed=31, block_size=16)
    per_path = [v for v in few.data_vars if "path" in few[v].dims]
    assert "defaults_count" in per_path and "loss" in per_path
    for var in per_path:
        xr.testing.assert_identical(few[var], many[var].isel(path=slice(0, 50)))


@pytest.mark.parametrize("granularity", ["loan", "cohort"])
def test_fee_change_keeps_every_default(granularity):
    """Common random numbers: a variant that changes only the fee has the same defaults."""
    changes = {
        "segments.sme.lending.count_per_year": 240,
        "simulation.granularity": granularity,
        "segments.sme.pd.mean": 0.05,
    }
    base = gs.simulate(make_scenario(**changes), paths=200, seed=8)
    cheap = gs.simulate(
        make_scenario(**changes, **{"parties.guarantor.fee_rate": 0.005}), paths=200, seed=8
    )
    # the variant is real (fees halve) and nothing binds (no lending refused)
    np.testing.assert_allclose(
        cheap.fee_income.sel(party="guarantor").values,
        0.5 * base.fee_income.sel(party="guarantor").values,
        rtol=1e-9,
    )
    for ds in (base, cheap):
        assert float(ds.unmet_demand_amount.sum()) == 0.0
        assert float(ds.shortfall.sel(party=["guarantor", "bank"]).sum()) == 0.0
        assert float(ds.loss.sel(party="unabsorbed").sum()) == 0.0
    assert float(base.defaults_count.sum()) > 0
    for var in ("defaults_count", "default_amount", "credit_loss", "loans_count"):
        np.testing.assert_array_equal(base[var].values, cheap[var].values, err_msg=var)


@pytest.mark.parametrize("granularity", ["loan", "cohort"])
@pytest.mark.parametrize("position", ["after", "before"])
def test_adding_a_segment_keeps_the_other_segments_defaults(granularity, position):
    """Stable ids: a new segment (before or after in the file) leaves sme's draws alone."""
    changes = {
        "segments.sme.lending.count_per_year": 240,
        "simulation.granularity": granularity,
        "segments.sme.pd.mean": 0.05,
    }
    one = base_scenario_dict()
    two = base_scenario_dict()
    credit = {
        "tags": ["credit"],
        "pd": {"mean": 0.04},
        "lgd": 0.6,
        "correlation": 0.15,
        "recovery": {"lag_months": 1, "spread_months": 3},
        "loan_size": {"median": 0.8e6, "sigma": 0.5, "cap": 1.0e7},
        "tenor_months": 12,
        "lending": {"count_per_year": 150},
        "scheme": "credit_pool",
    }
    segments = (
        {"sme": two["segments"]["sme"], "credit": credit}
        if position == "after"
        else {"credit": credit, "sme": two["segments"]["sme"]}
    )
    two["segments"] = segments
    two["parties"]["gov_pool"] = {"kind": "pool", "initial_balance": 1.0e9}
    two["schemes"]["credit_pool"] = {"coverage": 0.3, "split": {"gov_pool": 1.0}}
    a = gs.simulate(make_scenario(one, **changes), paths=200, seed=8)
    b = gs.simulate(make_scenario(two, **changes), paths=200, seed=8)
    assert list(b.segment.values) == list(segments)
    assert float(b.defaults_count.sel(segment="credit").sum()) > 0
    assert float(a.defaults_count.sum()) > 0
    for var in ("defaults_count", "default_amount", "credit_loss", "loans_count"):
        np.testing.assert_array_equal(
            a[var].sel(segment="sme").values, b[var].sel(segment="sme").values, err_msg=var
        )


def test_different_seeds_give_different_results():
    scenario = make_scenario(**{"segments.sme.lending.count_per_year": 240})
    a = gs.simulate(scenario, paths=100, seed=1)
    b = gs.simulate(scenario, paths=100, seed=2)
    same_seed = gs.simulate(scenario, paths=100, seed=1)
    xr.testing.assert_identical(_strip(a), _strip(same_seed))
    for var in ("defaults_count", "default_amount", "credit_loss", "loss"):
        assert not np.array_equal(a[var].values, b[var].values), var
    # not merely shifted paths: the per-path default counts differ on most paths
    differ = (
        a.defaults_count.sum(["year", "segment"]).values
        != b.defaults_count.sum(["year", "segment"]).values
    )
    assert differ.mean() > 0.5


def test_the_fast_path_gives_the_general_paths_numbers(monkeypatch):
    """``Book.fast_window`` only decides how a record is screened and booked: with no record
    on the fast path (every default screened and booked by the general path) every number
    is the same, bit for bit. Tenor 3 puts most of the book in one calendar year (fast),
    the months from November on in two (the scalar screen), and a high PD makes defaults
    on the fast path common."""
    from guarantee_sim.engine import inputs

    scenario = make_scenario(
        **{"segments.sme.tenor_months": 3, "segments.sme.pd.mean": 0.2, "simulation.paths": 40}
    )
    on_fast_path = inputs.build_inputs(scenario, 11).book.fast_window >= 0
    assert 0 < on_fast_path.sum() < len(on_fast_path)
    fast = gs.simulate(scenario, seed=11)
    monkeypatch.setattr(inputs, "mark_fast_windows", lambda book, segments, settings: None)
    general = gs.simulate(scenario, seed=11)
    assert float(fast["defaults_count"].sum()) > 100
    for name in fast.data_vars:
        np.testing.assert_array_equal(fast[name].values, general[name].values, err_msg=name)
