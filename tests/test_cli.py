"""The command line: exit codes, messages on stderr, nothing written on a mistake, results file.

Runs ``guarantee_sim.cli.main`` in-process and, once for each of validate and run, the
``guarantee-sim`` console script in a subprocess. Simulations use the compact scenario
``tests/invalid/_valid_minimal.yaml`` with ``--paths 20`` (about a second once the Numba
kernels are compiled or cached).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from helpers import run_main
from rich.console import Console

import guarantee_sim
import guarantee_sim.engine
from guarantee_sim import load_scenario, scenario_from_dict
from guarantee_sim.cli import main
from guarantee_sim.results import write_netcdf

HERE = Path(__file__).resolve().parent
INVALID = HERE / "invalid"
GOOD = INVALID / "_valid_minimal.yaml"
FEE_ABOVE_CAP = INVALID / "fee_above_cap.yaml"
SHIPPED = sorted((HERE.parent / "scenarios").glob("*.yaml"))
SCRIPT = Path(sys.executable).with_name("guarantee-sim")
if not SCRIPT.exists():  # pytest run by an interpreter outside the venv
    SCRIPT = Path(shutil.which("guarantee-sim") or SCRIPT)
PATHS = 20
SEED = 7  # the seed in _valid_minimal.yaml


def run_script(*argv, cwd) -> subprocess.CompletedProcess:
    if not SCRIPT.exists():
        pytest.skip("the guarantee-sim console script is not installed")
    env = dict(os.environ, COLUMNS="100")
    return subprocess.run(
        [str(SCRIPT), *map(str, argv)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
        timeout=300,
    )


def loss_table(text: str) -> str:
    """The 'Loss over the run by party' table, title to bottom border."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "Loss over the run by party" in line)
    end = next(i for i in range(start, len(lines)) if lines[i].lstrip().startswith("└"))
    return "\n".join(lines[start : end + 1])


def no_simulation(monkeypatch):
    """Make any simulation fail loudly: a mistake must be reported before simulating."""

    def simulate(*args, **kwargs):
        raise AssertionError("simulate() was called although the run must fail first")

    monkeypatch.setattr(guarantee_sim.engine, "simulate", simulate)


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --------------------------------------------------------------------------- validate


def test_validate_good_file(capsys):
    assert main(["validate", str(GOOD)]) == 0
    captured = capsys.readouterr()
    assert "valid scenario" in captured.out and "minimal" in captured.out
    assert captured.err == ""


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_validate_shipped_scenarios(path, capsys):
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "name",
    [
        "unknown_key_nested",
        "duplicate_key",
        "fee_above_cap",
        "yaml_syntax",
        "top_level_list",
        "not_utf8",
    ],
)
def test_validate_bad_file(name, capsys):
    path = INVALID / f"{name}.yaml"
    assert main(["validate", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ")
    assert str(path) in captured.err
    assert "Traceback" not in captured.err
    assert "valid scenario" not in captured.out


def test_validate_reports_every_problem_of_the_file(capsys):
    assert main(["validate", str(INVALID / "fee_above_cap.yaml")]) == 2
    err = capsys.readouterr().err
    assert "parties.guarantor.fee_rate" in err and "policy fee cap 0.01" in err


def test_validate_missing_file(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert "nope.yaml" in err and "not found" in err


def test_validate_bad_override(capsys):
    rc = main(["validate", str(GOOD), "--set", "parties.guarantor.fee_rate=abc"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "--set parties.guarantor.fee_rate=abc" in err
    assert "key 'parties.guarantor.fee_rate'" in err


def test_validate_fee_cap_switched_off_by_override(capsys):
    rc = main(["validate", str(FEE_ABOVE_CAP), "--set", "policy.fee_cap.enabled=false"])
    assert rc == 0, capsys.readouterr().err


@pytest.mark.slow
def test_console_script_validate(tmp_path):
    good = run_script("validate", GOOD, cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert "valid scenario" in good.stdout
    bad = run_script("validate", INVALID / "unknown_key_nested.yaml", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ")
    assert "parties.guarantor.claim_lag_month" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert listing(tmp_path) == []


# --------------------------------------------------------------------------- run: mistakes


@pytest.mark.parametrize("how", ["file", "override"])
@pytest.mark.parametrize("where", ["out", "default"])
def test_run_fee_above_cap_writes_nothing(how, where, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the default output folder is ./results
    no_simulation(monkeypatch)
    argv = ["run", str(FEE_ABOVE_CAP if how == "file" else GOOD), "--paths", "20"]
    if how == "override":
        argv += ["--set", "parties.guarantor.fee_rate=0.02"]
    if where == "out":
        (tmp_path / "out").mkdir()
        argv += ["--out", str(tmp_path / "out" / "r.nc")]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "parties.guarantor.fee_rate" in captured.err
    assert "policy fee cap" in captured.err
    if how == "override":
        assert "--set parties.guarantor.fee_rate=0.02" in captured.err
    assert "Traceback" not in captured.err
    assert listing(tmp_path) == (["out"] if where == "out" else [])


@pytest.mark.slow
def test_console_script_run_fee_above_cap(tmp_path):
    out = tmp_path / "r.nc"
    proc = run_script(
        "run",
        GOOD,
        "--paths",
        20,
        "--set",
        "parties.guarantor.fee_rate=0.02",
        "--out",
        out,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "policy fee cap" in proc.stderr
    assert "--set parties.guarantor.fee_rate=0.02" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert listing(tmp_path) == []


def test_run_bad_paths_option_names_the_option(tmp_path, monkeypatch, capsys):
    """``--paths 0`` is the user's option, not a ``--set`` they typed: name ``--paths``."""
    no_simulation(monkeypatch)
    assert main(["run", str(GOOD), "--paths", "0", "--out", str(tmp_path / "r.nc")]) == 2
    err = capsys.readouterr().err
    assert "simulation.paths" in err and "greater than or equal to 1" in err
    assert "--paths 0" in err, err
    assert listing(tmp_path) == []


def test_run_out_is_a_folder(tmp_path, monkeypatch, capsys):
    no_simulation(monkeypatch)
    assert main(["run", str(GOOD), "--paths", "20", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and str(tmp_path) in err
    assert listing(tmp_path) == []


def unwritable_out(tmp_path) -> Path:
    """An --out whose parent cannot be a folder: it is a regular file."""
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file, not a folder\n")
    return blocker / "r.nc"


def test_run_unwritable_out_is_a_clear_error(tmp_path, capsys):
    out = unwritable_out(tmp_path)
    assert main(["run", str(GOOD), "--paths", "20", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert str(out) in err, f"the message should name the --out file: {err!r}"
    assert listing(tmp_path) == ["not_a_folder"]


def test_run_unwritable_out_fails_before_simulating(tmp_path, monkeypatch, capsys):
    """A results location that cannot be written is known before a long simulation."""
    no_simulation(monkeypatch)
    out = unwritable_out(tmp_path)
    assert main(["run", str(GOOD), "--paths", "20", "--out", str(out)]) == 2
    assert str(out) in capsys.readouterr().err
    assert listing(tmp_path) == ["not_a_folder"]


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write into a read-only folder"
)
def test_run_read_only_folder_is_a_clear_error(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert main(["run", str(GOOD), "--paths", "20", "--out", str(folder / "r.nc")]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and str(folder / "r.nc") in err
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


# --------------------------------------------------------------------------- run: results


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """One real run of the compact scenario into a folder that does not exist yet."""
    root = tmp_path_factory.mktemp("run")
    out = root / "results" / "nested" / "minimal.nc"
    rc, stdout, stderr = run_main("run", GOOD, "--paths", PATHS, "--out", out)
    return {"rc": rc, "out": out, "stdout": stdout, "stderr": stderr, "root": root}


def test_run_writes_the_results_file(results):
    assert results["rc"] == 0, results["stderr"]
    assert results["stderr"] == ""
    out = results["out"]
    assert out.is_file()  # the missing parent folders were created
    assert str(out) in results["stdout"].replace("\n", "")
    assert listing(out.parent) == [out.name]  # no temporary file left beside it


def test_results_file_mode_respects_umask(results):
    """The file is created like any other file (mkstemp's private 0600 must not stick)."""
    umask = os.umask(0)
    os.umask(umask)
    mode = results["out"].stat().st_mode & 0o777
    assert mode == 0o666 & ~umask, f"results file mode {oct(mode)}, expected {oct(0o666 & ~umask)}"


def test_results_open_with_xarray_and_carry_metadata(results):
    with xr.open_dataset(results["out"]) as ds:
        assert ds.sizes["path"] == PATHS
        assert list(ds.year.values) == [2021, 2022, 2023]
        assert "party" in ds.dims and "segment" in ds.dims
        for name, var in ds.data_vars.items():
            assert var.attrs.get("units"), f"{name} has no units"
            assert var.attrs.get("long_name"), f"{name} has no long_name"
        assert int(ds.attrs["seed"]) == SEED
        assert ds.attrs["scenario"] == "minimal"
        stored = yaml.safe_load(ds.attrs["scenario_yaml"])
    # the stored YAML is the scenario that was run: it validates and equals it
    expected = load_scenario(GOOD, overrides=[f"simulation.paths={PATHS}"])
    assert scenario_from_dict(stored, source="scenario_yaml") == expected


def test_results_coordinates_are_described(results):
    """Coordinates are variables of the NetCDF file too: each needs a long_name, and the
    numeric ones units (CF conventions), so the file explains itself outside the package."""
    missing = []
    with xr.open_dataset(results["out"]) as ds:
        for name, var in ds.coords.items():
            if not var.attrs.get("long_name"):
                missing.append(f"{name}: long_name")
            if np.issubdtype(var.dtype, np.number) and not var.attrs.get("units"):
                missing.append(f"{name}: units")
    assert not missing, "coordinates without metadata: " + ", ".join(missing)


def test_summarize_prints_the_same_loss_table(results, capsys):
    assert main(["summarize", str(results["out"])]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert loss_table(captured.out) == loss_table(results["stdout"])
    for party in ("bank", "guarantor", "fund", "unabsorbed"):
        assert re.search(rf"\b{party}\b", loss_table(captured.out))
    # the rest of the summary is the same too (run adds only the 'written to' line)
    assert captured.out.strip() in results["stdout"]


@pytest.mark.slow
def test_console_script_summarize(results):
    proc = run_script("summarize", results["out"], cwd=results["root"])
    assert proc.returncode == 0, proc.stderr
    assert "Loss over the run by party" in proc.stdout


def test_summarize_missing_file(tmp_path, capsys):
    assert main(["summarize", str(tmp_path / "nope.nc")]) == 2
    err = capsys.readouterr().err
    assert "nope.nc" in err and "no such results file" in err


def test_summarize_not_netcdf(capsys):
    assert main(["summarize", str(GOOD)]) == 2
    err = capsys.readouterr().err
    assert str(GOOD) in err and "not a readable results file" in err
    assert "Traceback" not in err


def test_summarize_netcdf_that_is_not_a_results_file(tmp_path, capsys):
    """A valid NetCDF file from elsewhere is the user's mistake too: a message, not a
    KeyError traceback."""
    other = tmp_path / "other.nc"
    xr.Dataset({"a": ("x", [1.0, 2.0])}).to_netcdf(other, engine="h5netcdf")
    try:
        rc = main(["summarize", str(other)])
    except Exception as exc:
        pytest.fail(f"summarize raised {type(exc).__name__}: {exc}")
    assert rc == 2
    err = capsys.readouterr().err
    assert str(other) in err and "results file" in err


# --------------------------------------------------------------------------- atomic write


def _failing_to_netcdf(exc):
    """A Dataset.to_netcdf that writes part of the file, then fails."""

    def to_netcdf(self, path=None, *args, **kwargs):
        Path(path).write_bytes(b"\x89HDF\r\n\x1a\n partial")
        raise exc

    return to_netcdf


@pytest.mark.parametrize(
    "exc",
    [OSError(28, "No space left on device"), RuntimeError("HDF5 error"), KeyError("bug")],
    ids=["disk_full", "hdf5", "programming_error"],
)
def test_write_netcdf_leaves_no_partial_file(exc, tmp_path, monkeypatch):
    """Whatever stops the writer (it runs in a child process), one OSError naming it."""
    target = tmp_path / "r.nc"
    target.write_bytes(b"previous results")
    monkeypatch.setattr(xr.Dataset, "to_netcdf", _failing_to_netcdf(exc))
    with pytest.raises(OSError, match=re.escape(str(exc).strip("'"))):
        write_netcdf(xr.Dataset({"a": ("x", [1.0])}), target)
    assert listing(tmp_path) == ["r.nc"]  # no temporary file left
    assert target.read_bytes() == b"previous results"  # the old file is untouched


def test_run_failing_write_leaves_nothing(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "out"
    folder.mkdir()
    monkeypatch.setattr(
        xr.Dataset, "to_netcdf", _failing_to_netcdf(OSError(28, "No space left on device"))
    )
    assert main(["run", str(GOOD), "--paths", "20", "--out", str(folder / "r.nc")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "No space left on device" in err
    assert "Traceback" not in err
    assert listing(folder) == []


# --------------------------------------------------------------------------- tables that fit


def _printed(width: int, draw) -> list[str]:
    buffer = io.StringIO()
    draw(Console(file=buffer, width=width, markup=False, emoji=False))
    return buffer.getvalue().splitlines()


def _cropped(lines: list[str]) -> list[str]:
    """Table lines whose right border is missing: rich cut the table at the width."""
    body = [line.rstrip() for line in lines if line.startswith(("┏", "┃", "┡", "│", "└"))]
    return [line for line in body if not line.endswith(("┓", "┃", "┩", "│", "┘"))]


def test_numbers_are_never_cut_at_80_columns():
    """Long labels and long numbers at 80 columns: the labels wrap or shorten, every
    number is printed whole (it printed "150,000,0…") and no table is cropped."""
    from rich.table import Table

    from guarantee_sim.cli import _print_table

    numbers = ["150,000,000,000", "82.0%–100.0%", "1,204.38 to 1,224.73", "400,000,000,000"]

    def draw(console):
        table = Table(title="wide")
        table.add_column("label")
        for heading in ("value", "range", "interval", "another value"):
            table.add_column(heading, justify="right")
        table.add_row("a label far too long to fit " * 3, *numbers)
        _print_table(console, table)

    lines = _printed(80, draw)
    text = "\n".join(lines)
    assert not _cropped(lines)
    for number in numbers:  # whole, or wrapped only between words
        assert all(word in text for word in number.split()), number


def test_comparison_uses_the_width_for_designs(monkeypatch):
    import guarantee_sim.experiments
    from guarantee_sim.cli import print_comparison

    designs = {f"design_{i}": {"lending": 1.5e12, "P(target)": 0.5} for i in range(6)}
    monkeypatch.setattr(guarantee_sim.experiments, "comparison_table", lambda ds: designs)
    ds = xr.Dataset(coords={"path": [0, 1]}, attrs={"experiment": "e", "question": "q"})

    def tables(width):
        lines = _printed(width, lambda console: print_comparison(ds, console))
        assert not _cropped(lines)
        assert "1,500,000.00" in "\n".join(lines)
        return sum(line.startswith("┏") for line in lines)

    assert tables(80) > tables(200) == 1


# --------------------------------------------------------------------------- for scripts


def test_summarize_json_holds_every_table_of_the_brief(results, capsys):
    from guarantee_sim.cli import TABLES
    from guarantee_sim.reporting.tables import all_tables

    assert main(["summarize", str(results["out"]), "--format", "json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)  # stdout is the data and nothing else
    with xr.open_dataset(results["out"]) as ds:
        expected = all_tables(ds)
    assert list(data) == list(TABLES) == list(expected)
    assert len(data["targets"]) == len(expected["targets"])
    assert data["losses"][0]["mean"] == pytest.approx(float(expected["losses"]["mean"][0]))


def test_run_csv_prints_one_table_and_only_data_on_stdout(tmp_path):
    out = tmp_path / "r.nc"
    rc, stdout, stderr = run_main(
        "run", GOOD, "--paths", PATHS, "--out", out, "--format", "csv", "--table", "losses"
    )
    assert rc == 0, stderr
    table = pd.read_csv(io.StringIO(stdout))
    assert "unabsorbed" in set(table["party"]) and {"mean", "var_99"} <= set(table.columns)
    assert f"results written to {out}" in stderr.replace("\n", "")


def test_csv_without_a_table_is_refused_before_any_work(tmp_path):
    rc, stdout, stderr = run_main(
        "run", GOOD, "--paths", PATHS, "--out", tmp_path / "r.nc", "--format", "csv"
    )
    assert rc == 2 and stdout == ""
    assert "--format csv prints one table: name it with --table" in stderr
    assert listing(tmp_path) == []


def test_quiet_run_prints_nothing_and_writes(tmp_path):
    out = tmp_path / "r.nc"
    rc, stdout, stderr = run_main("run", GOOD, "--paths", PATHS, "--out", out, "--quiet")
    assert (rc, stdout, stderr) == (0, "", "")
    assert out.is_file()
