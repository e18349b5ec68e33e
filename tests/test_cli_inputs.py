"""Inputs the command line must refuse, or warn about, in one clear message and exit 2.

The promise (issue 13): a user's mistake gets one message naming file, line and key and a
non-zero exit, never a traceback; ``validate`` catches whatever ``run`` would refuse; nothing
absurd runs silently (a warning, an error with ``--strict``). Every corpus file is run through
``main(argv)`` here, so a fuzz corpus can reuse :func:`clean_refusal`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from test_cli import listing, no_simulation, run_main

from guarantee_sim.results import write_netcdf

HERE = Path(__file__).resolve().parent
INVALID = sorted(p for p in (HERE / "invalid").glob("*.yaml") if not p.name.startswith("_"))
ABSURD = sorted((HERE / "absurd").glob("*.yaml"))
EXPERIMENTS = sorted(p for p in (HERE / "invalid_experiments").glob("*.yaml") if p.name[0] != "_")
GOOD = HERE / "invalid" / "_valid_minimal.yaml"


def clean_refusal(rc: int, err: str) -> list[str]:
    """What is wrong with a refusal: [] when exit 2, one ``error:`` message, no traceback."""
    wrong = []
    if rc != 2:
        wrong.append(f"exit status {rc}, expected 2")
    if not err.startswith("error: "):
        wrong.append("stderr does not begin with 'error: '")
    if "Traceback" in err:
        wrong.append("a traceback")
    if err.count("error: ") != 1:
        wrong.append(f"{err.count('error: ')} 'error:' messages")
    return wrong


@pytest.mark.parametrize("path", INVALID + EXPERIMENTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_validate_refuses_every_invalid_file_cleanly(path):
    rc, out, err = run_main("validate", path)
    assert not clean_refusal(rc, err), err
    assert str(path) in err and out == ""


@pytest.mark.parametrize(
    "name",
    [
        "limit_loans_per_month",  # "negative dimensions are not allowed" / ids overflow
        "limit_loans_after_growth",  # 21 s, 2.2 GB, then a ValueError naming no key
        "limit_initial_book",  # "Maximum allowed dimension exceeded"
        "grade_weights_overflow",  # ZeroDivisionError
        "limit_applicants",  # "cannot convert float NaN to integer"
        "process_pd_too_small",  # brentq: "f(a) and f(b) must have different signs"
        "patience_too_long",  # never ended
        "number_nan",  # ran, exit 0, 17x the defaults
        "number_inf",  # ran, exit 0, no loans
        "bool_as_number",  # ran with lgd 1.0
    ],
)
def test_run_refuses_what_failed_or_ran_silently_before_simulating(name, monkeypatch, tmp_path):
    no_simulation(monkeypatch)
    out = tmp_path / "out" / "r.nc"
    rc, _, err = run_main("run", HERE / "invalid" / f"{name}.yaml", "--out", out)
    assert not clean_refusal(rc, err), err
    assert not out.parent.exists()


# --------------------------------------------------------------------------- warnings


@pytest.mark.parametrize("path", ABSURD, ids=lambda p: p.stem)
def test_validate_prints_each_warning_once_and_strict_refuses(path):
    rc, out, err = run_main("validate", path)
    assert rc == 0 and "valid scenario" in " ".join(out.split())
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"warning: {path}, line "), err
    rc, out, err = run_main("validate", "--strict", path)
    assert not clean_refusal(rc, err), err
    assert "an error with --strict" in err


def test_run_prints_the_warning_before_simulating_and_strict_stops_it(tmp_path):
    path = HERE / "absurd" / "lgd_tiny.yaml"
    out = tmp_path / "r.nc"
    rc, _, err = run_main("run", path, "--paths", 4, "--out", out)
    assert rc == 0 and out.is_file()
    assert err.count("warning: ") == 1 and "key 'segments.sme.lgd'" in err
    rc, _, err = run_main("run", "--strict", path, "--paths", 4, "--out", tmp_path / "s.nc")
    assert not clean_refusal(rc, err) and not (tmp_path / "s.nc").exists()


def test_a_warning_from_an_override_cites_it():
    rc, _, err = run_main("validate", GOOD, "--set", "parties.guarantor.net_assets=0")
    assert rc == 0
    assert "--set parties.guarantor.net_assets=0, key 'parties.guarantor.net_assets'" in err


def test_an_experiment_warns_once_for_its_base_file(tmp_path):
    """Every variant validates the base scenario: its warning is printed once, not per
    variant; a variant's own implausible value is cited at its line."""
    experiment = tmp_path / "e.yaml"
    experiment.write_text(
        f"name: e\nbase: {HERE / 'absurd' / 'lgd_tiny.yaml'}\nvariants:\n  a: {{}}\n  b: {{}}\n"
        "  c: {segments.sme.correlation: 0.9}\n",
        encoding="utf-8",
    )
    rc, out, err = run_main("validate", experiment)
    assert rc == 0 and "valid experiment" in " ".join(out.split())
    assert err.count("key 'segments.sme.lgd'") == 1
    assert f"warning: {experiment}, line 6, key 'segments.sme.correlation'" in err


# --------------------------------------------------------------------------- experiments


@pytest.mark.parametrize("path", sorted((HERE.parent / "experiments").glob("*.yaml")), ids=str)
def test_validate_an_experiment_checks_every_variant_without_running(path, monkeypatch):
    """`validate` on an experiment said 'Extra inputs are not permitted'."""
    no_simulation(monkeypatch)
    rc, out, err = run_main("validate", path)
    assert rc == 0 and err == ""
    out = " ".join(out.split())  # rich wraps long lines
    assert "valid experiment" in out and "runs of" in out and "every one validated" in out


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_validate_refuses_a_device(device):
    if not Path(device).exists():
        pytest.skip(f"no {device}")
    rc, _, err = run_main("validate", device)
    assert not clean_refusal(rc, err) and "not a regular file" in err


def test_validate_refuses_a_fifo_without_blocking(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    fifo = tmp_path / "s.yaml"
    os.mkfifo(fifo)
    result: list = []
    worker = threading.Thread(target=lambda: result.append(run_main("validate", fifo)))
    worker.start()
    worker.join(20)
    if worker.is_alive():
        with open(fifo, "wb"):
            pass
        worker.join(10)
        pytest.fail("validate blocked on a FIFO")
    rc, _, err = result[0]
    assert not clean_refusal(rc, err) and "named pipe" in err


@pytest.mark.slow  # writes a brief with its figures
def test_summarize_and_brief_refuse_results_without_paths(tmp_path):
    """0 paths gave an xarray error naming no file."""
    import guarantee_sim as gs

    ds = gs.simulate(gs.load_scenario(GOOD), paths=2)
    empty = write_netcdf(ds.isel(path=slice(0, 0)), tmp_path / "empty.nc")
    for argv in (["summarize", empty], ["brief", empty, "--out", tmp_path / "b"]):
        rc, _, err = run_main(*argv)
        assert not clean_refusal(rc, err), err
        assert f"{empty}: the results have 0 paths" in err
    assert listing(tmp_path) == ["empty.nc"]


def test_brief_checks_its_folder_before_any_work(tmp_path):
    """A brief to a folder it cannot write failed after 16 s of work."""
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    missing_results = tmp_path / "missing.nc"  # never opened: the folder is checked first
    rc, _, err = run_main("brief", missing_results, "--out", blocker / "brief")
    assert not clean_refusal(rc, err), err
    assert f"--out {blocker / 'brief'}" in err and "is a file" in err
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        rc, _, err = run_main("brief", missing_results, "--out", locked / "brief")
        assert not clean_refusal(rc, err) and "is not writable" in err


def test_run_and_compare_say_which_command_a_file_needs(monkeypatch):
    no_simulation(monkeypatch)
    experiment = HERE.parent / "experiments" / "county_fee_and_coverage.yaml"
    rc, _, err = run_main("run", experiment)
    assert not clean_refusal(rc, err) and f"guarantee-sim compare {experiment}" in err
    rc, _, err = run_main("compare", GOOD)
    assert not clean_refusal(rc, err) and f"guarantee-sim run {GOOD}" in err
