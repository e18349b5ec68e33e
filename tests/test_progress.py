"""Progress by phases (issue 12 §2): the institutions one step per book replica, the paths
one step per path, compiling named only when the kernels will compile; the same phases in
Jupyter through tqdm, and every design of a comparison named in its phases."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
from conftest import make_scenario
from helpers import ROOT
from process_scenarios import process_dict

from guarantee_sim.engine import simulate
from guarantee_sim.engine.progress import (
    COMPILING,
    INSTITUTIONS,
    PATHS,
    Prefixed,
    Silent,
    as_progress,
    needs_compiling,
)
from guarantee_sim.experiments import run_experiment


@pytest.fixture(scope="module")
def county():
    return make_scenario()  # volume-fed: lending from the scenario's volumes


class Recorder:
    """Every phase with its total and the steps it advanced."""

    def __init__(self):
        self.phases: list[list] = []  # [description, total, steps]

    def phase(self, description, total=None):
        self.phases.append([description, total, 0])

    def advance(self, steps=1):
        self.phases[-1][2] += steps


def test_a_process_fed_run_reports_each_replica_then_each_path():
    scenario = make_scenario(process_dict(applications_per_year=200, replicas=3))
    seen = Recorder()
    simulate(scenario, paths=10, seed=1, block_size=4, progress=seen)
    names = [p[0] for p in seen.phases]
    assert names[0] == INSTITUTIONS
    assert seen.phases[0][1:] == [3, 3]  # three replicas, each one step
    assert names[-1] == PATHS
    assert set(names[1:]) <= {COMPILING, PATHS}
    assert seen.phases[-1][1] == 10
    # every path counted once, whichever phase its block fell in (the first block may
    # run while the kernels compile)
    assert sum(p[2] for p in seen.phases[1:]) == 10


def test_a_volume_fed_run_has_no_institutions_phase(county):
    seen = Recorder()
    simulate(county, paths=6, seed=1, block_size=4, progress=seen)
    assert INSTITUTIONS not in [p[0] for p in seen.phases]
    assert sum(p[2] for p in seen.phases) == 6
    # the kernels are compiled by now: one paths phase, not a second one after the first
    # block (a tqdm bar left behind at 0/6 in Jupyter)
    assert seen.phases == [[PATHS, 6, 6]]


def test_the_progress_does_not_change_the_numbers(county):
    quiet = simulate(county, paths=6, seed=3)
    shown = simulate(county, paths=6, seed=3, progress=Recorder())
    assert quiet.loss.equals(shown.loss)


def test_compiling_is_named_only_when_a_kernel_has_nothing_compiled_or_cached(tmp_path):
    plain_python = SimpleNamespace()  # NUMBA_DISABLE_JIT: no signatures at all
    assert not needs_compiling(plain_python)
    assert not needs_compiling(SimpleNamespace(signatures=["(int64,)"]))
    index = tmp_path / "kernel.nbi"

    def dispatcher():
        cache_file = SimpleNamespace(_index_path=str(index))
        return SimpleNamespace(signatures=[], _cache=SimpleNamespace(_cache_file=cache_file))

    assert needs_compiling(dispatcher())  # no cache on disk: it will compile
    index.write_bytes(b"")
    assert not needs_compiling(dispatcher())  # cached: it loads
    assert needs_compiling(SimpleNamespace(signatures=[]))  # jitted without a cache


def test_true_shows_tqdm_bars_and_none_shows_nothing(county, capsys):
    simulate(county, paths=6, seed=1, progress=True)
    shown = capsys.readouterr().err
    assert PATHS in shown and "6/6" in shown
    simulate(county, paths=6, seed=1, progress=None)
    assert capsys.readouterr().err == ""
    assert isinstance(as_progress(False), Silent)


def test_a_comparison_names_each_design_in_its_phases():
    seen = Recorder()
    experiment = ROOT / "experiments" / "county_fee_and_coverage.yaml"
    ds = run_experiment(experiment, paths=4, seed=1, progress=seen)
    designs = [str(s) for s in ds.scenario.values]
    for i, name in enumerate(designs, start=1):
        prefix = f"{name} ({i}/{len(designs)}): "
        mine = [p for p in seen.phases if p[0].startswith(prefix)]
        assert mine and mine[-1][0] == prefix + PATHS
        assert sum(p[2] for p in mine) == 4


def test_prefixed_passes_steps_through():
    seen = Recorder()
    shown = Prefixed(seen, "a: ")
    shown.phase(PATHS, 5)
    shown.advance(2)
    assert seen.phases == [["a: paths", 5, 2]]


@pytest.mark.skipif(os.name != "posix", reason="a pseudo-terminal")
def test_the_command_line_shows_the_phases(tmp_path):
    """Run under a pseudo-terminal (Rich hides progress when output is not a terminal)."""
    import pty
    import subprocess
    import sys

    primary, secondary = pty.openpty()
    command = [
        sys.executable, "-m", "guarantee_sim.cli", "run",
        str(ROOT / "scenarios" / "county_guarantee_2021.yaml"),
        "--paths", "20", "--out", str(tmp_path / "c.nc"),
    ]  # fmt: skip
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    proc = subprocess.Popen(command, stdout=secondary, stderr=secondary, env=env, cwd=tmp_path)
    os.close(secondary)
    out = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(timeout=300) == 0
    text = out.decode("utf-8", "replace")
    # the phases by name (how far a bar got depends on when Rich last refreshed: 10 a second)
    assert PATHS in text and "/20" in text
    assert "writing" in text
