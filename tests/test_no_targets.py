"""A scenario without targets keeps the results contract: an empty ``target`` dimension.

Both Guangdong scenarios have no plan targets. Their results must still carry
``target_attainment`` (path, target) and ``target_probability`` (target) with zero targets,
survive a NetCDF round trip, and every report must say there are none rather than fail.
"""

from __future__ import annotations

import pytest
import xarray as xr
from helpers import run_main

import guarantee_sim as gs
from guarantee_sim.results.io import read_results, write_netcdf

SCENARIO = "scenarios/guangdong_2012_after.yaml"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    scenario = gs.load_scenario(SCENARIO)
    assert not scenario.targets
    ds = gs.simulate(scenario, paths=8)
    path = tmp_path_factory.mktemp("no_targets") / "r.nc"
    write_netcdf(ds, path)
    return ds, path


def test_empty_target_dimension(results):
    ds, _ = results
    assert ds.sizes["target"] == 0
    assert ds["target_attainment"].dims == ("path", "target")
    assert ds["target_attainment"].shape == (8, 0)
    assert ds["target_probability"].dims == ("target",)
    for coord in ("target_label", "target_value", "target_from_year"):
        assert ds[coord].sizes["target"] == 0


def test_round_trip_keeps_the_empty_dimension(results):
    ds, path = results
    back = read_results(path)
    assert back.sizes["target"] == 0
    xr.testing.assert_equal(back["target_attainment"], ds["target_attainment"])


def test_summarize_says_there_are_no_targets(results):
    _, path = results
    rc, out, err = run_main("summarize", path)
    assert rc == 0, err
    assert "Targets" not in out
