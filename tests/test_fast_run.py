"""What keeps the default run fast without changing a number (issue 10, section 4).

* Poisson counts by inversion are ``scipy.stats.poisson.ppf``'s, computed without
  importing ``scipy.stats`` (half a second of every run).
* The decisions' root search and cubic spline are SciPy's, bit for bit, without importing
  ``scipy.optimize`` and ``scipy.interpolate`` (``tests/test_scipy_light.py``).
* The kernels a run calls load from Numba's cache ahead of their first call
  (``engine/warm.py``), without compiling anything.
* ``guarantee-sim run`` (its summary tables included) imports none of the heavy modules it
  does not use: ``scipy.stats``, Matplotlib, Dask, the reports (checked in a fresh
  interpreter), neither does the child process that writes its results file (xarray's
  write asks for a Dask scheduler: ``_no_dask.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import fresh_python
from scipy import stats

from guarantee_sim.processes.institutions import poisson_count


def test_poisson_counts_are_scipys():
    rng = np.random.default_rng(11)
    means = np.concatenate(
        [10.0 ** rng.uniform(-4, 5, 4000), [1e-9, 0.5, 1.0, 2.0, 37.0, 1e4, 2.5e5]]
    )
    uniforms = np.concatenate([rng.uniform(0, 1, 4000), [1e-12, 0.5, 1 - 1e-12, 2**-33]])
    for mean in means:
        for u in uniforms[rng.integers(0, len(uniforms), 3)]:
            assert poisson_count(float(mean), float(u)) == int(stats.poisson.ppf(u, mean)), (
                mean,
                u,
            )
    # at the Poisson's own CDF values the count is the least k with P(N <= k) >= u
    for mean in (0.3, 4.0, 120.0):
        for k in (0, 1, 3, int(mean), int(mean) + 5):
            u = float(stats.poisson.cdf(k, mean))
            assert poisson_count(mean, u) == int(stats.poisson.ppf(u, mean)) == k
    assert poisson_count(0.0, 0.7) == 0
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        poisson_count(3.0, 1.0)


RUN = """
import atexit, contextlib, gc, io, json, sys
measured = "coverage" in sys.modules  # a coverage measurement of this test run started it
from guarantee_sim.cli import main
from guarantee_sim.results import io as results_io
write = results_io._write

def write_and_list(ds, tmp):  # in the writing child: what it had imported once it wrote
    failure = write(ds, tmp)
    with open({out!r} + ".writer.json", "w") as f:
        json.dump(sorted(sys.modules), f)
    return failure

results_io._write = write_and_list
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["run", "scenarios/hangzhou_2021_2023.yaml", "--paths", "4", "--set",
                 "processes.replicas=1", "--out", {out!r}])
unfrozen = gc.get_freeze_count()
atexit._run_exitfuncs()  # what the interpreter runs on exit, before its last collections
print(json.dumps({{"code": code, "modules": sorted(sys.modules), "measured": measured,
                  "unfrozen": unfrozen,
                  "frozen_at_exit": gc.get_freeze_count(),
                  "writer": json.load(open({out!r} + ".writer.json"))}}))
"""


#: what ``run`` needs none of: each costs 0.3-1 s of CPU to import (Dask through xarray's
#: check for Dask arrays, once per forked worker too: guarantee_sim/_no_dask.py)
NOT_IMPORTED_BY_RUN = (
    "scipy.stats",
    "matplotlib",
    "dask",
    "distributed",
    "jinja2",
    "SALib",
    "zarr",
    "guarantee_sim.reporting.brief",  # the summary needs only reporting.tables
    "guarantee_sim.reporting.plots",
    "guarantee_sim.sweep",
    "guarantee_sim.analysis.sensitivity",
    "guarantee_sim.experiments",  # its models (20-40 ms): run reads config.kinds instead
    "h5py",  # 40 ms: it reads results files (their checksums); netCDF4 writes them
    # 0.15-0.2 s: the decisions' root search and spline are processes/scipy_light.py's
    "scipy.optimize",
    "scipy.interpolate",
)


@pytest.mark.slow  # a fresh interpreter that runs the processes and the kernels
def test_a_run_imports_none_of_the_heavy_modules_it_does_not_use(tmp_path):
    out = fresh_python(RUN.format(out=str(tmp_path / "r.nc")), timeout=600)
    assert out["code"] == 0
    assert [m for m in NOT_IMPORTED_BY_RUN if m in out["modules"]] == []
    assert "netCDF4" in out["writer"]  # the list is the writer's, after its write
    assert [m for m in NOT_IMPORTED_BY_RUN if m in out["writer"]] == []
    # Numba imports coverage (85 ms) for a feature that is off: hidden (_numba_cache.py)
    assert out["measured"] or "coverage" not in out["modules"]
    # the collector as it was after main() returns; everything frozen at exit, so that
    # the interpreter's last collections skip the run's objects (about 1 s of wall)
    assert out["unfrozen"] == 0
    assert out["frozen_at_exit"] > 100_000


def test_xarray_without_dask_is_restored_for_later_dask_users():
    import sys

    import xarray as xr
    from xarray.backends import locks, writers
    from xarray.namedarray import pycompat, utils

    from guarantee_sim._no_dask import xarray_without_dask

    cache = pycompat._cached_duck_array_modules
    asked = (locks.get_dask_scheduler, writers.get_dask_scheduler)
    before = (utils.is_dask_collection, cache.get("dask"), *asked)
    with xarray_without_dask():
        ds = xr.Dataset({"x": ("p", np.arange(3.0))})
        assert xr.concat([ds, ds], dim="p").x.size == 6
    assert (utils.is_dask_collection, cache.get("dask"), *asked) == before
    if "dask" in sys.modules:  # the test session imported it: the block left it all alone
        import dask.array as da

        assert utils.is_dask_collection(da.zeros(2))


WRITE = """
import json, sys
from pathlib import Path
import numpy as np, xarray as xr
from guarantee_sim._no_dask import xarray_without_dask
from guarantee_sim.results.io import _write, read_results
from xarray.backends import locks, writers
asked = lambda: [locks.get_dask_scheduler, writers.get_dask_scheduler]
before = asked()
with xarray_without_dask():
    ds = xr.Dataset({{"loss": (("path", "year"), np.arange(6.0).reshape(3, 2))}},
                    coords={{"path": [0, 1, 2], "year": [2021, 2022]}})
    failure = _write(ds, Path({out!r}))  # what write_netcdf's child runs, here
imported = [m for m in ("dask", "distributed") if m in sys.modules]
print(json.dumps({{"failure": failure, "dask": imported, "restored": asked() == before,
                  "same": bool(read_results({out!r}).identical(ds))}}))
"""


def test_writing_results_imports_no_dask(tmp_path):
    """xarray's NetCDF write imports dask and dask.distributed to ask which scheduler is
    active (0.5-0.7 s of CPU in the run's writing child); without Dask none is. After the
    block, xarray asks as before (a fresh interpreter: in this one Dask may be imported,
    and then the block leaves xarray alone)."""
    out = fresh_python(WRITE.format(out=str(tmp_path / "r.nc")), timeout=120)
    assert out == {"failure": None, "dask": [], "restored": True, "same": True}


LOAD = """
import json, numba
from guarantee_sim.engine.warm import RUN_KERNELS, load_cached
compiled = lambda: [len(d.signatures) for d in RUN_KERNELS]
before = compiled()
loaded = load_cached()
print(json.dumps({"before": before, "loaded": loaded, "after": compiled(),
                  "indexed": [len(d._cache._cache_file._load_index()) for d in RUN_KERNELS]}))
"""


@pytest.mark.slow  # a fresh interpreter, after a run has filled the kernels' cache
def test_the_run_kernels_load_from_the_cache_before_their_first_call(tmp_path):
    fresh_python(RUN.format(out=str(tmp_path / "r.nc")), timeout=600)  # fills the cache
    out = fresh_python(LOAD)
    assert out["before"] == [0, 0, 0, 0]
    assert out["loaded"] == sum(out["after"]) >= len(out["after"])
    assert all(n >= 1 for n in out["after"])
    # only what the cache holds: nothing compiled
    assert all(a <= i for a, i in zip(out["after"], out["indexed"], strict=True))
