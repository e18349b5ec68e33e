"""Faults and interruption: SIGINT/SIGTERM in every phase, nothing half-written left behind.

Subprocess tests signal ``guarantee-sim run`` and ``compare`` while they simulate (they
wait for the scenario's warning line on stderr, printed after validation, so a cold Numba
cache only makes the simulation phase start later) and SIGKILL a writer mid-write;
in-process tests send the signal to the test's own process at a chosen moment (during the
write, during the brief, during a comparison), through monkeypatched library functions,
not hooks in the program. Also: stale temporary files, ``--out`` that is not a regular
file, and the folders ``--out`` needs made only when writing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xarray as xr
from helpers import run_main

from guarantee_sim.results import write_netcdf
from guarantee_sim.results.io import deferred_signals

HERE = Path(__file__).resolve().parent
GOOD = HERE / "invalid" / "_valid_minimal.yaml"
EXPERIMENT = HERE / "invalid_experiments" / "_valid.yaml"
SCRIPT = Path(sys.executable).with_name("guarantee-sim")
if not SCRIPT.exists():  # pytest run by an interpreter outside the venv
    SCRIPT = Path(shutil.which("guarantee-sim") or SCRIPT)
#: a value validation warns about, so that a line on stderr marks the end of validation
WARN = "parties.guarantor.net_assets=1e14"
PREVIOUS = b"previous results"


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _assert_interrupted(rc: int, err: str, signum: int, kept: str = "nothing written"):
    assert rc == 128 + signum
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if not line.startswith("warning: ")]
    assert lines == [f"interrupted ({signal.Signals(signum).name}): {kept}"]


# --------------------------------------------------------------------------- subprocess


@pytest.mark.parametrize(
    ("command", "signum"),
    [("run", signal.SIGINT), ("run", signal.SIGTERM), ("compare", signal.SIGINT)],
    ids=["run-SIGINT", "run-SIGTERM", "compare-SIGINT"],
)
@pytest.mark.slow  # a console script in a subprocess, signalled while it simulates
def test_signalled_while_simulating(command, signum, tmp_path):
    if not SCRIPT.exists():
        pytest.skip("the guarantee-sim console script is not installed")
    out = tmp_path / "r.nc"
    out.write_bytes(PREVIOUS)
    source = GOOD if command == "run" else EXPERIMENT
    argv = [str(SCRIPT), command, str(source), "--paths", "200000", "--set", WARN]
    argv += ["--out", str(out)]
    with subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=dict(os.environ, COLUMNS="100"),
    ) as proc:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # validated; now importing, compiling or simulating
        assert first.startswith("warning: "), first
        time.sleep(1.0)
        assert proc.poll() is None, "the run ended before the signal"
        proc.send_signal(signum)
        try:
            stdout, rest = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    _assert_interrupted(proc.returncode, rest, signum)
    assert "Traceback" not in stdout
    assert listing(tmp_path) == ["r.nc"]  # no temporary file
    assert out.read_bytes() == PREVIOUS


# --------------------------------------------------------------------------- in-process


def _signalling_to_netcdf(signum):
    """A Dataset.to_netcdf that gets ``signum`` half way through and, as h5py may in its C
    callbacks, swallows an exception raised there, then finishes the file."""
    original = xr.Dataset.to_netcdf

    cli_process = os.getpid()  # the write runs in a child: the signal goes to the CLI

    def to_netcdf(self, path=None, *args, **kwargs):
        Path(path).write_bytes(b"\x89HDF\r\n\x1a\n partial")
        try:
            os.kill(cli_process, signum)
            time.sleep(0.05)  # delivered here if it were not held back
        except BaseException:
            pass
        return original(self, path, *args, **kwargs)

    return to_netcdf


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_run_signalled_while_writing(signum, tmp_path, monkeypatch):
    """An interrupt mid-write is never swallowed: exit 130/143, the previous file intact."""
    out = tmp_path / "r.nc"
    out.write_bytes(PREVIOUS)
    monkeypatch.setattr(xr.Dataset, "to_netcdf", _signalling_to_netcdf(signum))
    rc, _, err = run_main("run", GOOD, "--paths", 20, "--out", out)
    _assert_interrupted(rc, err, signum)
    assert listing(tmp_path) == ["r.nc"]
    assert out.read_bytes() == PREVIOUS


@pytest.mark.parametrize("command", ["run", "compare"])
def test_interrupt_swallowed_while_simulating_still_stops(command, tmp_path, monkeypatch):
    """Numba's compiler calls back into Python through ctypes, which prints and ignores an
    exception raised there: a Ctrl-C landing in it must still stop the run before the
    write (exit 130, nothing written), not let it finish with exit 0."""
    import guarantee_sim.engine
    import guarantee_sim.experiments

    def swallowing(original):
        def wrapper(*args, **kwargs):
            with contextlib.suppress(BaseException):  # as a ctypes callback would
                signal.raise_signal(signal.SIGINT)  # to this thread: delivered here
            return original(*args, **kwargs)

        return wrapper

    module, name = (
        (guarantee_sim.engine, "simulate")
        if command == "run"
        else (guarantee_sim.experiments, "run_experiment")
    )
    monkeypatch.setattr(module, name, swallowing(getattr(module, name)))
    source = GOOD if command == "run" else EXPERIMENT
    rc, _, err = run_main(command, source, "--paths", 10, "--out", tmp_path / "r.nc")
    _assert_interrupted(rc, err, signal.SIGINT)
    assert listing(tmp_path) == []


def _as_if_in_llvmlite(source: str) -> dict:
    """``source`` run as if it were llvmlite's code: the frames of LLVM's ctypes callbacks
    into Numba while it compiles or loads a kernel."""
    import llvmlite

    filename = str(Path(llvmlite.__file__).parent / "binding" / "as_if_callback.py")
    namespace: dict = {}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


def test_a_signal_inside_an_llvm_callback_stops_the_run_at_its_next_progress_report(
    tmp_path, monkeypatch
):
    """Raised inside LLVM's ctypes callback, the Interrupted would be printed ("Exception
    ignored on calling ctypes callback function", a traceback) and dropped, and the run
    would go on to its last block (CI: compare-SIGINT ran 120 s past its Ctrl-C). It is
    kept, and raised at the run's next progress report."""
    import guarantee_sim.engine
    from guarantee_sim import cli

    dropped: list[BaseException] = []
    callback = _as_if_in_llvmlite(
        "def callback(dropped):\n"
        "    try:\n"
        "        signal.raise_signal(signal.SIGINT)  # to this thread: delivered here\n"
        "        sum(range(1000))\n"
        "    except BaseException as e:  # what ctypes does with it\n"
        "        dropped.append(e)\n"
        "import signal\n"
    )["callback"]
    reports: list[str] = []
    original_simulate = guarantee_sim.engine.simulate

    def compiling_then_simulating(*args, **kwargs):
        callback(dropped)
        reports.append("simulating")
        return original_simulate(*args, **kwargs)

    monkeypatch.setattr(guarantee_sim.engine, "simulate", compiling_then_simulating)
    rc, _, err = run_main("run", GOOD, "--paths", 10, "--out", tmp_path / "r.nc")
    assert dropped == []
    assert reports == ["simulating"]
    _assert_interrupted(rc, err, signal.SIGINT)
    assert listing(tmp_path) == []

    # and at the next report, not at the end of the run: the first phase raises
    cli._received.clear()
    with cli._stopping_on_signals():
        callback(dropped)
        assert dropped == []
        phases = cli._Phases(cli._progress_bar(cli.Console(), quiet=True))
        with pytest.raises(cli.Interrupted):
            phases.phase("paths", 10)
    cli._received.clear()


def test_handlers_restored_after_main(tmp_path):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    rc, _, _ = run_main("validate", GOOD)
    assert rc == 0
    assert {s: signal.getsignal(s) for s in before} == before


def test_compare_interrupted(tmp_path, monkeypatch):
    import guarantee_sim.experiments

    def interrupted(*args, **kwargs):
        signal.raise_signal(signal.SIGINT)  # to this thread: delivered before it returns
        raise AssertionError("the signal was not delivered")

    monkeypatch.setattr(guarantee_sim.experiments, "run_experiment", interrupted)
    rc, _, err = run_main("compare", EXPERIMENT, "--paths", 10, "--out", tmp_path / "c.nc")
    _assert_interrupted(rc, err, signal.SIGINT)
    assert listing(tmp_path) == []


@pytest.fixture(scope="module")
def results_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("results") / "run.nc"
    rc, _, err = run_main("run", GOOD, "--paths", 20, "--out", path)
    assert rc == 0, err
    return path


@pytest.mark.slow  # writes a brief with its figures
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_brief_signalled_while_writing(signum, results_file, tmp_path, monkeypatch):
    from guarantee_sim.reporting import brief

    original = brief._write_files

    def write_files(*args, **kwargs):
        written = original(*args, **kwargs)
        signal.raise_signal(signum)  # to this thread: delivered before it returns
        return written

    monkeypatch.setattr(brief, "_write_files", write_files)
    rc, _, err = run_main("brief", results_file, "--lang", "en", "--out", tmp_path / "b")
    _assert_interrupted(rc, err, signum)
    assert listing(tmp_path) == []  # neither the brief nor its temporary folder


def test_interrupt_after_the_write_names_the_file(results_file, tmp_path, monkeypatch):
    """Interrupted after the results were written: exit 130, and the message says so."""
    from guarantee_sim import cli

    original = cli.Console.print

    def interrupted_print(self, *args, **kwargs):
        if args and str(args[0]).startswith("results written"):
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    out = tmp_path / "r.nc"
    monkeypatch.setattr(cli.Console, "print", interrupted_print)
    monkeypatch.setattr(cli, "print_summary", lambda ds, console: None)
    rc, _, err = run_main("run", GOOD, "--paths", 20, "--out", out)
    _assert_interrupted(rc, err, signal.SIGINT, kept=f"{out} written")
    assert listing(tmp_path) == ["r.nc"]


def test_deferred_signals_hold_back_until_asked():
    # Python's own SIGINT handler, whatever this process inherited: a shell starts
    # background jobs with SIGINT ignored, and then there is nothing to deliver to
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _deferred_then_delivered()
    finally:
        signal.signal(signal.SIGINT, previous)


def _deferred_then_delivered():
    with pytest.raises(KeyboardInterrupt), deferred_signals() as signals:
        # to this thread, delivered before it returns (a signal to the process may reach
        # another thread, e.g. Numba's, and come late on a busy machine)
        signal.raise_signal(signal.SIGINT)  # held back: not raised here
        reached = True
        signals.raise_pending()
        reached = False
    assert reached


# --------------------------------------------------------------------------- stale temporaries


def _dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temporary_file_named_with_the_pid(tmp_path, monkeypatch):
    """Named with the pid of the process that owns the write (the file itself is written
    by a child, which the owner waits for)."""
    original = xr.Dataset.to_netcdf
    seen = tmp_path.parent / f"{tmp_path.name}.seen"  # the child writes what it was given

    def to_netcdf(self, path=None, *args, **kwargs):
        seen.write_text(Path(path).name)
        return original(self, path, *args, **kwargs)

    monkeypatch.setattr(xr.Dataset, "to_netcdf", to_netcdf)
    write_netcdf(xr.Dataset({"a": ("x", [1.0])}), tmp_path / "r.nc")
    name = seen.read_text()
    assert name.startswith(f".r.nc.{os.getpid()}.") and name.endswith(".tmp")
    assert listing(tmp_path) == ["r.nc"]


def test_stale_temporaries_of_dead_writers_removed(tmp_path):
    dead, live = _dead_pid(), os.getpid()
    stale_file = tmp_path / f".r.nc.{dead}.abc123_x.tmp"
    stale_file.write_bytes(b"partial")
    stale_folder = tmp_path / f".r.nc.{dead}.qwerty.tmp"  # as a brief's, a folder
    (stale_folder / "figures").mkdir(parents=True)
    (stale_folder / "figures" / "a.png").write_bytes(b"png")
    kept = [
        tmp_path / f".r.nc.{live}.abc123_x.tmp",  # a live (concurrent) writer's
        tmp_path / f".other.nc.{dead}.abc123_x.tmp",  # another file's
        tmp_path / ".r.nc.abc123_x.tmp",  # no pid: not ours to judge
        tmp_path / "r.nc.notes",
    ]
    for path in kept:
        path.write_bytes(b"keep")
    write_netcdf(xr.Dataset({"a": ("x", [1.0])}), tmp_path / "r.nc")
    assert not stale_file.exists() and not stale_folder.exists()
    assert all(path.read_bytes() == b"keep" for path in kept)
    assert listing(tmp_path) == sorted(["r.nc", *(p.name for p in kept)])


@pytest.mark.slow  # writes a brief with its figures
def test_stale_brief_folder_removed(results_file, tmp_path):
    dead = _dead_pid()
    stale = tmp_path / f".b.{dead}.abcdefgh.tmp"
    (stale / "tables").mkdir(parents=True)
    rc, _, err = run_main("brief", results_file, "--lang", "en", "--out", tmp_path / "b")
    assert rc == 0, err
    assert listing(tmp_path) == ["b"]


_KILLED_WRITER = """
import sys, time
from pathlib import Path
import xarray as xr
from guarantee_sim.results import write_netcdf

def to_netcdf(self, path=None, *args, **kwargs):
    Path(path).write_bytes(b"partial")
    print("writing", flush=True)
    time.sleep(600)

xr.Dataset.to_netcdf = to_netcdf
write_netcdf(xr.Dataset({"a": ("x", [1.0])}), sys.argv[1])
"""


def test_sigkill_mid_write_cleaned_by_the_next_write(tmp_path):
    """SIGKILL cannot be handled: the temporary file stays, named with the dead writer's
    pid, and the next write of the same file removes it."""
    out = tmp_path / "r.nc"
    out.write_bytes(PREVIOUS)
    with subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(out)], stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "writing"
        proc.kill()
        proc.wait(timeout=30)
    assert listing(tmp_path) == sorted(["r.nc", f".r.nc.{proc.pid}.{_random(tmp_path)}.tmp"])
    assert out.read_bytes() == PREVIOUS
    write_netcdf(xr.Dataset({"a": ("x", [1.0])}), out)
    assert listing(tmp_path) == ["r.nc"]


def _random(folder: Path) -> str:
    """The random part of the one temporary file in ``folder``."""
    (name,) = [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    return name.split(".")[-2]


# --------------------------------------------------------------------------- --out


def _special_out(kind: str, folder: Path) -> Path:
    if kind == "dev_null":
        return Path(os.devnull)
    path = folder / kind
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "broken_link":
        path.symlink_to(folder / "nowhere")
    elif kind == "link_to_dev_null":
        path.symlink_to(os.devnull)
    return path


SPECIAL = ["dev_null", "fifo", "folder", "broken_link", "link_to_dev_null"]


def _no_simulation(monkeypatch):
    import guarantee_sim.engine
    import guarantee_sim.experiments

    def fail(*args, **kwargs):
        raise AssertionError("simulated before checking --out")

    monkeypatch.setattr(guarantee_sim.engine, "simulate", fail)
    monkeypatch.setattr(guarantee_sim.experiments, "run_experiment", fail)


def _assert_refused(rc: int, err: str, *words: str) -> None:
    assert rc == 2
    assert err.startswith("error: --out ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err


@pytest.mark.parametrize("kind", SPECIAL)
def test_run_refuses_out_that_is_not_a_regular_file(kind, tmp_path, monkeypatch):
    if kind == "dev_null" and not Path(os.devnull).is_char_device():
        pytest.skip("no character device /dev/null")
    out = _special_out(kind, tmp_path)
    before = listing(tmp_path)
    _no_simulation(monkeypatch)
    rc, _, err = run_main("run", GOOD, "--paths", 20, "--out", out)
    _assert_refused(rc, err, str(out))
    assert listing(tmp_path) == before
    if kind == "fifo":
        assert out.is_fifo()


@pytest.mark.parametrize("kind", ["fifo", "dev_null"])
def test_compare_and_brief_refuse_special_out(kind, results_file, tmp_path, monkeypatch):
    out = _special_out(kind, tmp_path)
    _no_simulation(monkeypatch)
    rc, _, err = run_main("compare", EXPERIMENT, "--paths", 10, "--out", out)
    _assert_refused(rc, err, str(out), "not a regular file")
    rc, _, err = run_main("brief", results_file, "--out", out)
    _assert_refused(rc, err, str(out))


@pytest.mark.parametrize("empty", ["", " "])
def test_empty_out_is_an_error(empty, results_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _no_simulation(monkeypatch)
    for argv in (
        ("run", GOOD, "--paths", 20),
        ("compare", EXPERIMENT, "--paths", 10),
        ("brief", results_file),
    ):
        rc, _, err = run_main(*argv, "--out", empty)
        _assert_refused(rc, err, "is empty")
    assert listing(tmp_path) == []


# --------------------------------------------------------------------------- folders of --out


def test_run_failing_after_validation_leaves_no_folder(tmp_path, monkeypatch):
    import guarantee_sim.engine

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(guarantee_sim.engine, "simulate", interrupted)
    rc, _, err = run_main("run", GOOD, "--paths", 20, "--out", tmp_path / "new" / "sub" / "r.nc")
    _assert_interrupted(rc, err, signal.SIGINT)
    assert listing(tmp_path) == []


def test_run_failing_write_removes_the_folders_it_made(tmp_path, monkeypatch):
    def disk_full(self, path=None, *args, **kwargs):
        Path(path).write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", disk_full)
    rc, _, err = run_main("run", GOOD, "--paths", 20, "--out", tmp_path / "new" / "sub" / "r.nc")
    assert rc == 2 and err.startswith("error: ") and "No space left" in err
    assert listing(tmp_path) == []


@pytest.mark.slow  # writes a brief with its figures
def test_brief_failing_write_removes_the_folders_it_made(results_file, tmp_path, monkeypatch):
    from guarantee_sim.reporting import brief

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(brief, "_write_files", disk_full)
    rc, _, err = run_main("brief", results_file, "--lang", "en", "--out", tmp_path / "a" / "b")
    assert rc == 2 and "No space left" in err
    assert listing(tmp_path) == []


def test_written_results_keep_the_folders_made_for_them(tmp_path):
    out = tmp_path / "new" / "sub" / "r.nc"
    write_netcdf(xr.Dataset({"a": ("x", [1.0])}), out)
    assert listing(out.parent) == ["r.nc"]


# SIGKILL of compare and brief while they write: the writer dies as if killed from outside
# at that moment (compare's file is written by a forked child, which kills its parent)
_KILLED_COMMAND = """
import os, signal, sys
from pathlib import Path
import xarray as xr
from guarantee_sim.cli import main
from guarantee_sim.reporting import brief

def to_netcdf(self, path=None, *args, **kwargs):  # in the forked child that writes
    Path(path).write_bytes(b"partial")
    os.kill(os.getppid(), signal.SIGKILL)
    os._exit(1)

def write_files(the_brief, folder):
    (folder / "tables").mkdir(parents=True, exist_ok=True)
    (folder / "tables" / "losses.csv").write_text("partial")
    os.kill(os.getpid(), signal.SIGKILL)

xr.Dataset.to_netcdf = to_netcdf
brief._write_files = write_files
main(sys.argv[1:])
"""


def _killed(*argv) -> int:
    """Run the command in a subprocess that is SIGKILLed while writing; its pid."""
    with subprocess.Popen(
        [sys.executable, "-c", _KILLED_COMMAND, *map(str, argv)],
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        _, err = proc.communicate(timeout=600)
    assert proc.returncode == -signal.SIGKILL, err
    return proc.pid


@pytest.mark.slow  # a comparison in a subprocess, then one in this process
def test_compare_killed_mid_write_keeps_the_previous_file_and_the_next_cleans(tmp_path):
    out = tmp_path / "c.nc"
    out.write_bytes(PREVIOUS)
    pid = _killed("compare", EXPERIMENT, "--paths", 5, "--out", out)
    assert listing(tmp_path) == sorted(["c.nc", f".c.nc.{pid}.{_random(tmp_path)}.tmp"])
    assert out.read_bytes() == PREVIOUS
    rc, _, err = run_main("compare", EXPERIMENT, "--paths", 5, "--out", out)
    assert rc == 0, err
    assert listing(tmp_path) == ["c.nc"] and out.read_bytes() != PREVIOUS


@pytest.mark.slow  # writes a brief with its figures
def test_brief_killed_mid_write_keeps_the_previous_brief_and_the_next_cleans(
    results_file, tmp_path
):
    out = tmp_path / "b"
    out.mkdir()
    (out / "brief.md").write_bytes(PREVIOUS)
    pid = _killed("brief", results_file, "--lang", "en", "--out", out)
    (stale,) = [p.name for p in tmp_path.iterdir() if p.name != "b"]
    assert stale.startswith(f".b.{pid}.") and stale.endswith(".tmp")
    assert listing(out) == ["brief.md"] and (out / "brief.md").read_bytes() == PREVIOUS
    rc, _, err = run_main("brief", results_file, "--lang", "en", "--out", out)
    assert rc == 0, err
    assert listing(tmp_path) == ["b"] and (out / "brief.md").read_bytes() != PREVIOUS
