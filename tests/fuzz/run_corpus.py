"""Run a fuzz corpus through the command line's ``main(argv)`` and print the figures.

    python tests/fuzz/run_corpus.py --seed 2 --size 900 [--run 20]

Every case is run in this process (``validate``; ``run --paths 3`` for ``--run`` of them)
with a 10 s alarm. An outcome is one of:

* ``clean error``: exit 2 (input) or another non-zero exit, stderr starting ``error:``, no
  ``Traceback``: right for ``invalid``, right for ``absurd``, wrong for ``legal``;
* ``accepted``: exit 0: right for ``legal``; for ``absurd`` right only with a ``warning:``;
  for ``invalid`` "silently accepted";
* ``traceback``: an exception escaped ``main``, or stderr holds a traceback;
* ``hang``: over 10 s.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for ``fuzz``

from fuzz.generate import Case, build_corpus, write_case
from guarantee_sim.cli import main

TIME_LIMIT = 10.0  # seconds a case may take


class _Hang(BaseException):
    """Raised by the alarm; a BaseException so that no ``except Exception`` swallows it."""


@dataclass(frozen=True)
class Outcome:
    case: Case
    command: str
    verdict: str  # clean error | accepted | traceback | hang
    rc: int | None
    stderr: str
    seconds: float

    @property
    def right(self) -> bool:
        """What the case's label asks for."""
        if self.verdict in ("traceback", "hang"):
            return False
        if self.case.label == "invalid":
            return self.verdict == "clean error"
        if self.case.label == "legal":
            return self.verdict == "accepted"
        return self.verdict == "clean error" or "warning:" in self.stderr  # absurd

    def describe(self) -> str:
        head = self.stderr.strip().splitlines()[:2]
        return f"{self.case.name} [{self.case.label}, {self.command}]: {self.verdict} {head}"


def run_case(case: Case, folder: Path, command: str = "validate") -> Outcome:
    path = write_case(case, folder)
    argv = [command, str(path)]
    if command == "run":
        argv += ["--paths", "3", "--out", str(folder / f"{case.name}.nc")]
    out, err = io.StringIO(), io.StringIO()

    def alarm(signum, frame):
        raise _Hang

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    start = time.perf_counter()
    rc = None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(argv)
        stderr = err.getvalue()
        if "Traceback" in stderr:
            verdict = "traceback"
        elif rc == 0:
            verdict = "accepted"
        elif stderr.startswith("error:"):
            verdict = "clean error"
        else:
            verdict = "traceback"  # a non-zero exit without one clean line
    except _Hang:
        verdict, stderr = "hang", err.getvalue()
    except BaseException:  # whatever escapes main is what the corpus counts
        verdict, stderr = "traceback", err.getvalue() + traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return Outcome(case, command, verdict, rc, stderr, time.perf_counter() - start)


def run_corpus(cases: list[Case], runs: int = 0) -> list[Outcome]:
    """Every case through ``validate``; the first ``runs`` invalid ones also through ``run``."""
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        folder = Path(tmp)
        for case in cases:
            outcomes.append(run_case(case, folder))
        for case in [c for c in cases if c.label == "invalid" and not c.experiment][:runs]:
            outcomes.append(run_case(case, folder, "run"))
    return outcomes


def figures(outcomes: list[Outcome]) -> dict[str, int]:
    count = Counter()
    for o in outcomes:
        count["cases"] += 1
        count[f"label {o.case.label}"] += 1
        count[o.verdict] += 1
        if o.case.label == "invalid" and o.verdict == "accepted":
            count["silently accepted invalid"] += 1
        if o.case.label == "absurd":
            warned = o.verdict == "accepted" and "warning:" in o.stderr
            count["absurd warned" if warned else f"absurd {o.verdict}"] += 1
        if o.case.label == "legal" and o.verdict != "accepted":
            count["legal refused"] += 1
        if o.seconds > TIME_LIMIT:
            count["over 10 s"] += 1
    return dict(count)


def main_script(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--size", type=int, default=900)
    parser.add_argument("--run", type=int, default=10, help="invalid cases also given to run")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    outcomes = run_corpus(build_corpus(args.seed, args.size), runs=args.run)
    for key, value in sorted(figures(outcomes).items()):
        print(f"{key:>28}: {value}")
    print(f"{'slowest case, s':>28}: {max(o.seconds for o in outcomes):.2f}")
    print(f"{'total, s':>28}: {time.perf_counter() - start:.0f}")
    wrong = [o for o in outcomes if not o.right]
    for o in wrong:
        print("WRONG", o.describe())
    by_kind = Counter((o.case.kind, o.verdict) for o in outcomes)
    print("by mutation:", dict(sorted(by_kind.items())))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main_script())
