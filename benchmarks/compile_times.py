"""A first run's compilation, kernel by kernel: the cold-run table (issue 10 §4).

    python -m benchmarks.compile_times [SCENARIO] [--paths N] [--workers N]

Runs ``guarantee_sim.simulate()`` of a scenario (default: the default scenario as shipped)
in this process with an empty Numba cache (a fresh temporary ``NUMBA_CACHE_DIR``, set
before Numba is imported), listening to Numba's ``numba:compile`` events, and prints per
jitted function: how many signatures it compiled, the CPU seconds inside its compilation
(*inclusive*: a caller's time includes its callees' compiled from inside it) and its own
(*self*: inclusive minus the callees'), the part of
its own time spent inside LLVM (llvmlite's calls, timed by Numba's ``numba:llvm_lock``
events: optimisation and machine code), Numba's compiler passes (own time) and writing
the cache entries. CPU seconds are this thread's (``thread_time``), so
the table reads the same on a loaded machine; the other threads wait on Numba's compile
lock. Functions compiled only in forked workers (the institution processes' draws with
``--workers`` > 1) are not seen here: the default, ``--workers 1``, compiles everything in
this process. Ends with the whole ``simulate()``'s CPU and wall seconds and the load.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCENARIO = ROOT / "scenarios" / "hangzhou_2021_2023.yaml"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(DEFAULT_SCENARIO))
    parser.add_argument("--paths", type=int, default=None)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", help="also write the results (to compare them across runs)")
    parser.add_argument("--cache", help="the empty NUMBA_CACHE_DIR to fill (default: a new one)")
    parser.add_argument(
        "--warm", type=int, default=0, help="then time the path kernel in N warm simulate()s"
    )
    parser.add_argument(
        "--callee-opt",
        type=int,
        default=None,
        help="experiment: LLVM's optimisation level for functions compiled as callees "
        "(the top-level functions keep NUMBA_OPT)",
    )
    args = parser.parse_args(argv)
    if "numba" in sys.modules:
        raise SystemExit("run in a fresh interpreter: Numba is already imported")
    os.environ["NUMBA_CACHE_DIR"] = args.cache or tempfile.mkdtemp(prefix="gs-cold-")

    recorder = _Recorder(args.callee_opt)
    import guarantee_sim as gs

    scenario = gs.load_scenario(args.scenario)
    cpu, wall = time.process_time(), time.perf_counter()
    with recorder.listening():
        results = gs.simulate(scenario, paths=args.paths, workers=args.workers)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if args.out:
        results.to_netcdf(args.out)

    recorder.print_table(_signatures())
    if args.warm:
        seconds = [_kernel_cpu(gs, scenario, args) for _ in range(args.warm)]
        listed = ", ".join(f"{x:.2f}" for x in seconds)
        print(f"warm path kernel, CPU s of all threads: {listed} (median {median(seconds):.2f})")
    if os.environ.get("NUMBA_LLVM_PASS_TIMINGS", "0") not in ("", "0"):
        print("LLVM's own timings, summed over every compiled library (s):")
        print(", ".join(f"{k} {v:.1f}" for k, v in _llvm_phases().items()))
    print(f"whole simulate(): {cpu:.1f} s CPU (this process), {wall:.1f} s wall")
    print(f"NUMBA_OPT: {os.environ.get('NUMBA_OPT', '3 (default)')}")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


class _Recorder:
    """CPU seconds of the compiling thread, per jitted function, per Numba pass, in LLVM."""

    def __init__(self, callee_opt: int | None = None) -> None:
        self.callee_opt = callee_opt
        self.inclusive: dict[str, float] = defaultdict(float)
        self.own: dict[str, float] = defaultdict(float)
        self.llvm: dict[str, float] = defaultdict(float)  # own time inside llvmlite's calls
        self.saving = 0.0  # writing cache entries
        self.passes: dict[str, float] = defaultdict(float)  # own time per Numba pass
        self.stack: list[list] = []  # [function, start, callees' time]
        self.pass_stack: list[list] = []  # [pass, start, nested passes' time]
        self.in_llvm: list[float] = []  # start of the LLVM call under way (not nested)

    @contextlib.contextmanager
    def listening(self):
        from numba.core import caching, config, event

        recorder = self

        class Compiles(event.Listener):
            def on_start(self, ev):
                recorder.stack.append([_name(ev.data["dispatcher"]), time.thread_time(), 0.0])
                if recorder.callee_opt is not None and len(recorder.stack) == 2:
                    recorder.top_opt, config.OPT = config.OPT, recorder.callee_opt

            def on_end(self, ev):
                if recorder.callee_opt is not None and len(recorder.stack) == 2:
                    config.OPT = recorder.top_opt
                name, spent = recorder._close(recorder.stack)
                recorder.inclusive[name] += spent[0]
                recorder.own[name] += spent[1]

        class Passes(event.Listener):
            def on_start(self, ev):
                name = ev.data["name"].split(" [")[0]
                recorder.pass_stack.append([name, time.thread_time(), 0.0])

            def on_end(self, ev):
                name, spent = recorder._close(recorder.pass_stack)
                recorder.passes[name] += spent[1]

        # every llvmlite call takes Numba's LLVM lock; one thread compiles at a time (the
        # compiler lock), whichever thread's call got there first
        class Llvm(event.Listener):
            def on_start(self, ev):
                recorder.in_llvm.append(time.thread_time())

            def on_end(self, ev):
                if recorder.in_llvm:
                    where = recorder.stack[-1][0] if recorder.stack else "(outside)"
                    recorder.llvm[where] += time.thread_time() - recorder.in_llvm.pop()

        save_overload = caching.Cache.save_overload

        def timed_save(cache, sig, data):
            start = time.thread_time()
            save_overload(cache, sig, data)
            recorder.saving += time.thread_time() - start

        caching.Cache.save_overload = timed_save  # type: ignore[method-assign]
        try:
            with (
                event.install_listener("numba:compile", Compiles()),
                event.install_listener("numba:run_pass", Passes()),
                event.install_listener("numba:llvm_lock", Llvm()),
            ):
                yield
        finally:
            caching.Cache.save_overload = save_overload  # type: ignore[method-assign]

    @staticmethod
    def _close(stack: list[list]) -> tuple[str, tuple[float, float]]:
        """Pop the innermost frame: its name, (inclusive, own) seconds; charge its parent."""
        name, start, nested = stack.pop()
        spent = time.thread_time() - start
        if stack:
            stack[-1][2] += spent
        return name, (spent, spent - nested)

    def print_table(self, signatures: dict[str, int]) -> None:
        print("| function | signatures | compile CPU s (inclusive) | own | own in LLVM |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name in sorted(self.inclusive, key=self.inclusive.__getitem__, reverse=True):
            print(
                f"| `{name}` | {signatures.get(name, '?')} | {self.inclusive[name]:.1f}"
                f" | {self.own[name]:.1f} | {self.llvm[name]:.1f} |"
            )
        in_llvm = sum(v for k, v in self.llvm.items() if k in self.own)
        print(f"total compilation (own times summed): {sum(self.own.values()):.1f} s CPU")
        outside = self.llvm["(outside)"]
        print(f"of which inside LLVM: {in_llvm:.1f} s; LLVM outside them: {outside:.1f} s")
        print(f"writing cache entries (after each compilation): {self.saving:.1f} s")
        top = sorted(self.passes.items(), key=lambda kv: -kv[1])[:6]
        print("Numba passes, own CPU s (LLVM included):", ", ".join(f"{k} {v:.1f}" for k, v in top))
        print(f"functions compiled more than once: {[n for n, s in signatures.items() if s > 1]}")


def _name(dispatcher) -> str:
    module = dispatcher.py_func.__module__.removeprefix("guarantee_sim.")
    return f"{module}.{dispatcher.py_func.__name__}"


def _kernel_cpu(gs, scenario, args) -> float:
    """CPU seconds (all threads) of the path kernel's calls in one warm ``simulate()``."""
    from guarantee_sim.kernels import portfolio

    kernel = portfolio.simulate_paths
    spent: list[float] = []

    def timed(*arguments):
        start = time.thread_time()
        kernel(*arguments)
        spent.append(time.thread_time() - start)

    portfolio.simulate_paths = timed
    try:
        gs.simulate(scenario, paths=args.paths, workers=args.workers)
    finally:
        portfolio.simulate_paths = kernel
    return sum(spent)


def _llvm_phases() -> dict[str, float]:
    """LLVM's phases (function passes, module passes, machine code) summed over the
    compiled libraries of the package's functions (``NUMBA_LLVM_PASS_TIMINGS=1``)."""
    phases: dict[str, float] = defaultdict(float)
    for dispatcher in _package_dispatchers():
        for overload in dispatcher.overloads.values():
            # an overload loaded from the cache has no metadata (and was not compiled here)
            for timing in (overload.metadata or {}).get("llvm_pass_timings") or ():
                phase = timing.name.split(" [")[0]
                if phase.startswith("Function passes"):
                    phase = "Function passes"
                phases[phase] += timing.timings.get_total_time() or 0.0
    return dict(phases)


def _signatures() -> dict[str, int]:
    """Compiled signatures of every jitted function of the package now loaded."""
    return {_name(d): len(d.signatures) for d in _package_dispatchers()}


def _package_dispatchers():
    """Every jitted function of the package now loaded, once (in the module defining it)."""
    from numba.core.registry import CPUDispatcher

    for name, module in list(sys.modules.items()):
        if not name.startswith("guarantee_sim"):
            continue
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher) and value.py_func.__module__ == name:
                yield value


if __name__ == "__main__":
    main()
