"""The console script's quick exit (``cli.console_main``): after ``run`` the process ends
with ``os._exit`` once everything is written and flushed, skipping Python's teardown; the
output, the results file and the exit status are those of ``sys.exit(main())``.

Each case runs a fresh interpreter standing in for the console script, with an atexit
handler that says whether the teardown ran.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
GOOD = ROOT / "tests" / "invalid" / "_valid_minimal.yaml"
TORN_DOWN = "interpreter torn down"

#: the console script as installed before (``sys.exit(main())``) and now
SCRIPTS = {
    "main": "import sys; from guarantee_sim.cli import main; sys.exit(main())",
    "console_main": "from guarantee_sim.cli import console_main; console_main()",
    # main() leaving its last words in stdout's buffer (a pipe's: flushed by nobody else)
    "console_main, last words": "import sys, guarantee_sim.cli as cli; main = cli.main; "
    "cli.main = lambda: (main(), sys.stdout.write('last words'))[0]; cli.console_main()",
}


def script(entry: str, *argv, cwd: Path) -> subprocess.CompletedProcess:
    """``guarantee-sim argv`` through ``entry``, with an atexit handler that prints
    :data:`TORN_DOWN` on stderr when Python's shutdown runs."""
    code = (
        "import atexit, sys; "
        f"atexit.register(lambda: print({TORN_DOWN!r}, file=sys.stderr)); "
        f"sys.argv[0] = 'guarantee-sim'; {SCRIPTS[entry]}"
    )
    env = dict(os.environ, COLUMNS="100", PYTHONPATH=str(ROOT))
    env.pop("PYTHONUNBUFFERED", None)  # stdout to a pipe buffered, as users have it
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, argv)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
        timeout=300,
    )


def test_run_ends_at_once_with_the_same_output_file_and_status(tmp_path):
    # file names of one length: the "results written to" line wraps alike at 100 columns
    out = {"main": tmp_path / "before.nc", "console_main": tmp_path / "after_.nc"}
    ran = {
        entry: script(entry, "run", GOOD, "--paths", "20", "--out", out[entry], cwd=tmp_path)
        for entry in ("main", "console_main")
    }
    before, now = ran["main"], ran["console_main"]
    assert before.returncode == now.returncode == 0, now.stderr
    assert TORN_DOWN in before.stderr
    assert TORN_DOWN not in now.stderr  # the teardown was skipped
    # every line printed (stdout is a pipe: block-buffered, lost unless flushed)
    assert "Loss over the run by party" in now.stdout
    assert now.stdout.replace("after_.nc", "before.nc") == before.stdout
    assert now.stderr == before.stderr.replace(TORN_DOWN + "\n", "")
    with (
        xr.open_dataset(out["main"]) as a,
        xr.open_dataset(out["console_main"]) as b,
    ):
        xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["after_.nc", "before.nc"]


@pytest.mark.parametrize(
    ("argv", "status"),
    [
        (["run", "missing.yaml"], 2),  # a user's mistake, before anything runs
        (["run", GOOD, "--paths", "0"], 2),
    ],
)
def test_a_failing_run_exits_with_its_status_and_message(tmp_path, argv, status):
    before = script("main", *argv, cwd=tmp_path)
    now = script("console_main", *argv, cwd=tmp_path)
    assert before.returncode == now.returncode == status
    assert now.stderr.startswith("error: ")
    assert now.stderr == before.stderr.replace(TORN_DOWN + "\n", "")
    assert list(tmp_path.iterdir()) == []


def test_what_main_wrote_last_is_flushed_before_the_process_ends(tmp_path):
    ran = script("console_main, last words", "run", GOOD, "--paths", "20", "-q", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "last words"
    assert TORN_DOWN not in ran.stderr


def test_other_commands_end_as_python_does(tmp_path):
    now = script("console_main", "validate", GOOD, cwd=tmp_path)
    assert now.returncode == 0, now.stderr
    assert "valid scenario" in now.stdout
    assert TORN_DOWN in now.stderr
