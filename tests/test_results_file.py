"""The results file: deflated, checksummed per chunk, verified on opening, opened lazily.

A flipped byte in a data chunk must be a clean error naming the variable (it was accepted
silently and ``summarize`` printed garbage); a file from before checksums opens with a
warning; ``open_results`` reads data from disk only when a variable is used.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr
from helpers import run_main

from guarantee_sim import cli
from guarantee_sim.results import open_results, read_results, write_netcdf, writing_netcdf
from guarantee_sim.results.io import PATHS_PER_CHUNK, ResultsWarning
from guarantee_sim.testing import results_dataset

N_PATHS = 2 * PATHS_PER_CHUNK + 10  # three chunks along path
VALID_MINIMAL = Path(__file__).resolve().parent / "invalid" / "_valid_minimal.yaml"


@pytest.fixture
def dataset():
    rng = np.random.default_rng(5)
    return results_dataset(
        years=[2021, 2022, 2023],
        segments={"sme": ["first_time"]},
        parties={"bank": "bank", "guarantor": "guarantor"},
        paths=N_PATHS,
        loss={"guarantor": rng.gamma(2.0, 1e6, size=(N_PATHS, 3)).round(-3)},
    )


def flip_byte(path, variable: str, chunk: int = 1) -> None:
    """Flip one byte in the middle of chunk ``chunk`` of ``variable`` as stored on disk."""
    with h5py.File(path, "r") as f:
        info = f[variable].id.get_chunk_info(chunk)
    with open(path, "r+b") as f:
        f.seek(info.byte_offset + info.size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_every_numeric_variable_is_deflated_and_checksummed(dataset, tmp_path):
    path = write_netcdf(dataset, tmp_path / "r.nc")
    with h5py.File(path, "r") as f:
        for name in ("loss", "capital", "loans_amount", "fiscal_cost"):
            stored = f[name]
            assert stored.fletcher32, name
            assert stored.compression == "gzip", name
            assert stored.chunks[0] == PATHS_PER_CHUNK, name
            assert stored.id.get_num_chunks() == 3, name


def test_round_trip_is_exact(dataset, tmp_path):
    path = write_netcdf(dataset, tmp_path / "r.nc")
    xr.testing.assert_identical(read_results(path), dataset)


def test_a_flipped_byte_is_a_clean_error_naming_the_variable(dataset, tmp_path):
    path = write_netcdf(dataset, tmp_path / "r.nc")
    flip_byte(path, "loss")
    with pytest.raises(ValueError, match=r"'loss' fail their checksum"):
        open_results(path)
    rc, _, err = run_main("summarize", path)
    assert rc != 0
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "corrupt" in lines[0], err


def test_a_file_without_checksums_opens_with_a_warning(dataset, tmp_path):
    path = tmp_path / "old.nc"
    dataset.to_netcdf(path, engine="h5netcdf")  # how files were written before checksums
    with pytest.warns(ResultsWarning, match="no checksums"):
        ds = open_results(path)
    xr.testing.assert_equal(ds.load(), dataset)
    rc, _, err = run_main("summarize", path)
    assert rc == 0
    assert err.startswith("warning:") and "no checksums" in err


def test_open_results_is_lazy_and_read_results_is_loaded(dataset, tmp_path):
    path = write_netcdf(dataset, tmp_path / "r.nc")
    lazy = open_results(path)
    assert not lazy["loss"].variable._in_memory
    total = float(lazy["loss"].sum())  # read when used
    assert total == pytest.approx(float(dataset["loss"].sum()))
    lazy.close()
    assert read_results(path)["loss"].variable._in_memory


def test_a_file_declaring_more_data_than_memory_is_refused_before_reading(tmp_path):
    """A tiny file can declare gigabytes (chunks never written read as zeros)."""
    path = tmp_path / "bomb.nc"
    with h5py.File(path, "w") as f:
        f.create_dataset("loss", shape=(10**6, 10**5), dtype="f8", chunks=(1000, 1000))
    assert path.stat().st_size < 100_000
    with pytest.raises(ValueError, match="GB when loaded, more than half"):
        open_results(path)
    rc, _, err = run_main("summarize", path)
    assert rc == 2 and err.startswith("error:") and "Traceback" not in err


def test_a_write_that_would_fill_the_disk_is_refused_first(dataset, tmp_path, monkeypatch):
    from collections import namedtuple

    from guarantee_sim.results import io

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(io.shutil, "disk_usage", lambda _: usage(10**9, 10**9 - 10**6, 10**6))
    target = tmp_path / "r.nc"
    with pytest.raises(OSError, match="not enough free space"):
        write_netcdf(dataset, target)
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary


def test_a_write_failing_inside_hdf5_is_one_error_and_leaves_nothing(
    dataset, tmp_path, monkeypatch
):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full_disk)
    with pytest.raises(OSError, match=r"writing the results failed .*nothing written"):
        write_netcdf(dataset, tmp_path / "r.nc")
    assert list(tmp_path.iterdir()) == []


FULL_DISK = """
import json, resource, signal
import numpy as np
from pathlib import Path
from guarantee_sim.results import write_netcdf
from guarantee_sim.testing import results_dataset

n = 20000  # a file of about 1.5 MB
values = np.random.default_rng(1).random((n, 8))
ds = results_dataset(years=list(range(2021, 2029)), segments={"sme": []},
                     parties={"bank": "bank", "guarantor": "guarantor"}, paths=n,
                     loss={"guarantor": values})
target = Path(TARGET)
write_netcdf(ds.isel(path=slice(0, 10)), target)  # the previous results, small
# the disk is full after 500 kB: writes beyond fail with EFBIG (the signal is ignored)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (500_000, 500_000))
try:
    write_netcdf(ds, target)
    error = None
except OSError as err:
    error = str(err)
print(json.dumps({"error": error, "left": sorted(p.name for p in target.parent.iterdir())}))
"""


@pytest.mark.slow
def test_a_disk_filling_up_during_the_write_is_one_error(tmp_path):
    """HDF5 crashed the interpreter when the disk filled up mid-write (segfault, 8 of 8
    tries); the write now happens in a child process, and this one reports it."""
    from helpers import fresh_python

    target = tmp_path / "r.nc"
    result = fresh_python(FULL_DISK.replace("TARGET", repr(str(target))))
    assert result["error"] is not None and "writing the results failed" in result["error"]
    assert result["left"] == ["r.nc"]  # the previous results, and no temporary file
    assert read_results(target).sizes["path"] == 10


def small_results(paths: int = 4):
    return results_dataset(
        years=[2021],
        segments={"sme": ["first_time"]},
        parties={"bank": "bank", "guarantor": "guarantor"},
        paths=paths,
    )


@pytest.mark.parametrize(
    "name, text",
    [("sources", "[unclosed"), ("sources", '{"a": 1}'), ("value_sources", "[1, 2]")],
)
def test_stored_json_that_is_not_what_was_written_is_a_clean_error(tmp_path, name, text):
    ds = small_results()
    ds.attrs[name] = text
    path = write_netcdf(ds, tmp_path / "r.nc")
    for command in (("summarize", path), ("brief", path, "--out", tmp_path / "brief")):
        rc, _, err = run_main(*command)
        assert rc == 2 and "Traceback" not in err, err
        assert err.startswith(f"error: {path}: ") and f"its '{name}' is not the JSON" in err
    assert not (tmp_path / "brief").exists()


def test_a_comparison_with_malformed_variant_overrides_is_refused():
    from guarantee_sim.results import check_results

    ds = xr.concat([small_results(), small_results()], dim="scenario")
    ds = ds.assign_coords(scenario=["a", "b"], variant_overrides=("scenario", ["{}", "x=1"]))
    with pytest.raises(ValueError, match="'variant_overrides' is not the JSON dict"):
        check_results(ds)
    check_results(ds.assign_coords(variant_overrides=("scenario", ["{}", '{"x": 1}'])))


@pytest.mark.slow  # writes a brief
def test_stored_scenario_yaml_is_never_parsed(tmp_path):
    """A tag that would run code, in YAML that does not even parse: brief does not read it."""
    ds = small_results()
    marker = tmp_path / "ran"
    ds.attrs["scenario_yaml"] = f"!!python/object/apply:os.system ['touch {marker}']\n: [x\n"
    path = write_netcdf(ds, tmp_path / "r.nc")
    rc, _, err = run_main("brief", path, "--out", tmp_path / "brief")
    assert rc == 0, err
    assert (tmp_path / "brief" / "brief.md").is_file() and not marker.exists()


def test_the_block_runs_while_the_file_is_written_and_finds_it_in_place_after(dataset, tmp_path):
    """``writing_netcdf``: a command makes its summary while a child writes; the file is
    renamed into place only when the block ends, with the data as written."""
    target = tmp_path / "r.nc"
    with writing_netcdf(dataset, target) as writing:
        assert not target.exists()
        writing.wait()
        assert not target.exists()  # written, not yet in place
    xr.testing.assert_identical(read_results(target), dataset)


def test_a_block_that_fails_leaves_no_file_and_no_temporary(dataset, tmp_path):
    target = tmp_path / "r.nc"
    with pytest.raises(ZeroDivisionError), writing_netcdf(dataset, target):
        _ = 1 / 0
    assert list(tmp_path.iterdir()) == []


def test_a_summary_that_fails_leaves_the_results_written(tmp_path, monkeypatch):
    """The run's summary is made while the file is written: a summary that fails still
    leaves the results file in place, as when it was printed after the write."""

    def broken(ds, console):
        raise RuntimeError("the summary failed")

    monkeypatch.setattr(cli, "print_summary", broken)
    out = tmp_path / "r.nc"
    with pytest.raises(RuntimeError, match="the summary failed"):
        run_main("run", VALID_MINIMAL, "--paths", 5, "--out", out)
    assert read_results(out).sizes["path"] == 5
