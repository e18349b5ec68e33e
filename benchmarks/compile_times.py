"""A first run's compilation, kernel by kernel: the cold-run table (issue 10 §4).

    python -m benchmarks.compile_times [SCENARIO] [--paths N] [--workers N]

Runs ``guarantee_sim.simulate()`` of a scenario (default: the default scenario as shipped)
in this process with an empty Numba cache (a fresh temporary ``NUMBA_CACHE_DIR``, set
before Numba is imported), listening to Numba's ``numba:compile`` events, and prints per
jitted function: how many signatures it compiled, the CPU seconds inside its compilation
(*inclusive*: a caller's time includes its callees' compiled from inside it) and its own
(*self*: inclusive minus the callees'). CPU seconds are this thread's (``thread_time``), so
the table reads the same on a loaded machine; the other threads wait on Numba's compile
lock. Functions compiled only in forked workers (the institution processes' draws with
``--workers`` > 1) are not seen here: the default, ``--workers 1``, compiles everything in
this process. Ends with the whole ``simulate()``'s CPU and wall seconds and the load.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCENARIO = ROOT / "scenarios" / "hangzhou_2021_2023.yaml"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(DEFAULT_SCENARIO))
    parser.add_argument("--paths", type=int, default=None)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if "numba" in sys.modules:
        raise SystemExit("run in a fresh interpreter: Numba is already imported")
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="gs-cold-")

    from numba.core import event

    inclusive: dict[str, float] = defaultdict(float)
    own: dict[str, float] = defaultdict(float)
    stack: list[list] = []  # [name, start, callees' time]

    class Listener(event.Listener):
        def on_start(self, ev):
            stack.append([_name(ev.data["dispatcher"]), time.thread_time(), 0.0])

        def on_end(self, ev):
            name, start, callees = stack.pop()
            spent = time.thread_time() - start
            inclusive[name] += spent
            own[name] += spent - callees
            if stack:
                stack[-1][2] += spent

    import guarantee_sim as gs

    scenario = gs.load_scenario(args.scenario)
    cpu, wall = time.process_time(), time.perf_counter()
    with event.install_listener("numba:compile", Listener()):
        gs.simulate(scenario, paths=args.paths, workers=args.workers)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall

    signatures = _signatures()
    print("| kernel | signatures | compile CPU s (inclusive) | own |")
    print("| --- | ---: | ---: | ---: |")
    for name in sorted(inclusive, key=inclusive.get, reverse=True):
        print(
            f"| `{name}` | {signatures.get(name, '?')} | {inclusive[name]:.1f} | {own[name]:.1f} |"
        )
    print(f"total compilation (own times summed): {sum(own.values()):.1f} s CPU")
    print(f"whole simulate(): {cpu:.1f} s CPU (this process), {wall:.1f} s wall")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"functions compiled more than once: {[n for n, s in signatures.items() if s > 1]}")


def _name(dispatcher) -> str:
    module = dispatcher.py_func.__module__.removeprefix("guarantee_sim.")
    return f"{module}.{dispatcher.py_func.__name__}"


def _signatures() -> dict[str, int]:
    """Compiled signatures of every jitted function of the package now loaded."""
    from numba.core.registry import CPUDispatcher

    found = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("guarantee_sim"):
            continue
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher) and value.py_func.__module__ == name:
                found[_name(value)] = len(value.signatures)
    return found


if __name__ == "__main__":
    main()
