"""The kernels' on-disk cache: keyed by our sources, no process-wide side effects.

Each check runs in a fresh interpreter, since the cache location is decided once per
process and Numba reads its configuration at import.
"""

from __future__ import annotations

import shutil

import pytest
from helpers import fresh_python

from guarantee_sim import _numba_cache

run = fresh_python  # each check in a fresh interpreter


UNRELATED = """
import json, sys, tempfile, pathlib
folder = pathlib.Path(tempfile.mkdtemp())
(folder / "other_lib.py").write_text(
    "from numba import njit\\n@njit(cache=True)\\ndef twice(x):\\n    return 2 * x\\n"
)
sys.path.insert(0, str(folder))
import guarantee_sim
out = {"numba_after_root_import": "numba" in sys.modules}
import numba
from numba.core import caching
before = (numba.config.CACHE_DIR, list(caching.CompileResultCacheImpl._locator_classes))
import guarantee_sim.kernels.portfolio as portfolio
import guarantee_sim.processes.draws
import other_lib
after = (numba.config.CACHE_DIR, list(caching.CompileResultCacheImpl._locator_classes))
out["numba_config_unchanged"] = before == after
out["ours"] = portfolio.simulate_paths._cache.cache_path
out["theirs"] = other_lib.twice._cache.cache_path
out["chosen"] = str(guarantee_sim.configure_numba_cache())
print(json.dumps(out))
"""


@pytest.mark.slow  # a fresh interpreter that compiles a kernel
def test_importing_the_package_changes_no_numba_state():
    out = run(UNRELATED)
    assert out["numba_after_root_import"] is False
    assert out["numba_config_unchanged"]
    assert out["ours"].startswith(out["chosen"])
    assert f"numba-{_numba_cache.source_hash()}" in out["chosen"]
    assert not out["theirs"].startswith(out["chosen"])  # another library keeps Numba's place


COMPILE = """
import json, warnings
import numpy as np
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    from guarantee_sim import configure_numba_cache, philox
    value = float(philox.u32_to_unit(np.uint32(7)))
print(json.dumps({
    "value": value,
    "cache": type(philox.u32_to_unit._cache).__name__,
    "hits": sum(philox.u32_to_unit.stats.cache_hits.values()),
    "location": str(configure_numba_cache()),
    "warnings": [str(w.message) for w in caught],
}))
"""


@pytest.mark.slow  # a fresh interpreter that compiles a kernel
def test_a_users_numba_cache_dir_is_respected_and_reused(tmp_path):
    first = run(COMPILE, NUMBA_CACHE_DIR=str(tmp_path))
    expected = tmp_path / "guarantee_sim" / f"numba-{_numba_cache.source_hash()}"
    assert first["location"] == str(expected) and first["warnings"] == []
    assert list(expected.rglob("philox.u32_to_unit-*.nbi"))
    second = run(COMPILE, NUMBA_CACHE_DIR=str(tmp_path))
    assert second["hits"] == 1 and second["value"] == first["value"]


@pytest.mark.slow  # a fresh interpreter that compiles a kernel
def test_no_writable_location_warns_once_and_runs_uncached(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")  # nothing can be made below it, even by root
    out = run(COMPILE, NUMBA_CACHE_DIR=str(blocker / "cache"))
    assert out["location"] == "None"
    assert out["cache"] == "NullCache"
    assert out["value"] == 7 * 2.0**-32 + 2.0**-33
    assert len(out["warnings"]) == 1  # one warning however many functions are compiled
    message = out["warnings"][0]
    assert "no writable Numba cache location" in message and "\n" not in message


def test_the_hash_covers_every_jitted_source(tmp_path, monkeypatch):
    for pattern in _numba_cache.JITTED_SOURCES:
        for path in _numba_cache.PACKAGE.glob(pattern):
            target = tmp_path / path.relative_to(_numba_cache.PACKAGE)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    monkeypatch.setattr(_numba_cache, "PACKAGE", tmp_path)
    original = _numba_cache.source_hash()
    assert original == _numba_cache.source_hash()
    for name in ("book.py", "philox.py", "kernels/waterfall.py", "processes/draws.py"):
        path = tmp_path / name
        text = path.read_text()
        path.write_text(text + "\n# edited\n")
        assert _numba_cache.source_hash() != original, name
        path.write_text(text)


def test_every_jitted_module_is_hashed():
    """A module that uses the jit decorator must be in JITTED_SOURCES."""
    hashed = {
        p for pattern in _numba_cache.JITTED_SOURCES for p in _numba_cache.PACKAGE.glob(pattern)
    }
    jitted = {
        p
        for p in _numba_cache.PACKAGE.rglob("*.py")
        if "@jit(" in p.read_text(encoding="utf-8") and p.name != "_numba_cache.py"
    }
    assert jitted <= hashed


@pytest.mark.parametrize("when", ["before", "after"])
def test_an_explicit_cache_dir_must_come_first(tmp_path, when):
    script = f"""
import json
from guarantee_sim import configure_numba_cache
if {when == "after"!r}:
    import guarantee_sim.philox
try:
    location = str(configure_numba_cache({str(tmp_path)!r}))
except RuntimeError as err:
    location = "error: " + str(err)
print(json.dumps({{"location": location}}))
"""
    out = run(script)
    if when == "before":
        assert out["location"] == str(tmp_path / f"numba-{_numba_cache.source_hash()}")
    else:
        assert out["location"].startswith("error: the Numba cache is already")


def test_a_constant_argument_compiles_no_version_of_its_own():
    # Numba types a constant argument as a literal of its value, and compiled a version of
    # the callee per value (philox4x32_10 ten times on a first run); jit types it plainly.
    @_numba_cache.jit()
    def callee(x, kind):
        return x + kind

    @_numba_cache.jit()
    def caller(x):
        return callee(x, 0) + callee(x, 1) + callee(x, 2)

    if not hasattr(caller, "signatures"):
        pytest.skip("NUMBA_DISABLE_JIT")
    assert caller(1.0) == 6.0
    assert len(callee.signatures) == 1


SIGNATURES = """
import json, sys
import guarantee_sim as gs
from numba.core.dispatcher import Dispatcher
gs.simulate(gs.load_scenario("scenarios/county_guarantee_2021.yaml"), paths=4, workers=1)
counts = {}
for name, module in list(sys.modules.items()):
    if name.startswith("guarantee_sim"):
        for value in vars(module).values():
            if isinstance(value, Dispatcher) and value.py_func.__module__ == name:
                counts[f"{name}.{value.py_func.__name__}"] = len(value.signatures)
print(json.dumps(counts))
"""


@pytest.mark.slow  # a fresh interpreter that compiles every kernel (1-2 minutes of CPU)
def test_every_kernel_compiles_one_specialisation(tmp_path):
    # Each specialisation is a whole compilation on a first run; a call site passing a new
    # mix of integer types, or an array of another layout, would add one. An empty cache,
    # since callees of a kernel loaded from the cache are not compiled (nor counted).
    # NUMBA_OPT=0: the specialisations are decided at typing, before LLVM's optimisation,
    # which is most of a first run's compilation (127 -> 92 s for this test here)
    counts = run(SIGNATURES, timeout=1800, NUMBA_CACHE_DIR=str(tmp_path), NUMBA_OPT="0")
    assert counts["guarantee_sim.kernels.origination.originate_records"] == 1  # compiled
    # the batched cipher keeps a version per constant counter word (philox.py says why)
    several = {name: n for name, n in counts.items() if n > 1}
    assert several == {"guarantee_sim.philox.philox4x32_10_batch": 2}
