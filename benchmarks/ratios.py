"""The hot loop's ratio table from one run: hot loop vs NumPy reference vs generator.

    python -m benchmarks.ratios [--rounds 5] [--pipeline]     # from the repository's root

Sets up the asv benchmark classes (``HotLoop``, ``NumpyReference``, ``Generator``,
``FullModel``) as asv does and calls their ``time_*`` methods in interleaved rounds (each
measure once per round, so a change of load hits them all), then prints per measure the
median wall and CPU seconds of the rounds with their spread, throughput in
loan-path-years/s, and the ratios against issue 10's targets. ``--pipeline`` adds cohort
grouping, a process replica and the default run (``bench_pipeline``), in seconds. CPU time
sums the threads, so draws per CPU-second is a per-core rate, the comparable figure on a
loaded machine. Speed is reported, never asserted: the exit status is non-zero only if a
benchmark's setup fails (e.g. the generator no longer draws the kernel's words).
``GUARANTEE_SIM_BENCH=tiny`` selects the small sizes CI uses.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numba
import numpy as np

import guarantee_sim as gs

# the modules, not their classes: asv would find the classes here too and run them twice
from . import bench_kernels, bench_pipeline, bench_yardsticks
from .workloads import SIZES, TINY, renewal_loan_years, threads

TARGET_VS_NUMPY = (12.0, 25.0)  # issue 10 §1: per core, and on 2 threads with both free
TARGET_VS_GENERATOR = 0.8


@dataclass
class Measure:
    """One benchmark at one parameter: what to call, and its timings over the rounds."""

    label: str
    run: object  # the bound time_* method
    args: tuple
    n_threads: int
    draws: float  # loan-path-years of one call
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def take_once(self) -> None:
        threads(self.n_threads)  # the classes' setups set it; another measure may have since
        start, cpu = time.perf_counter(), time.process_time()
        self.run(*self.args)
        self.wall.append(time.perf_counter() - start)
        self.cpu.append(time.process_time() - cpu)

    @property
    def rate(self) -> float:
        return self.draws / statistics.median(self.wall)

    @property
    def cpu_rate(self) -> float:
        return self.draws / statistics.median(self.cpu)


def _measures() -> tuple[dict[str, Measure], dict]:
    """Every measure, set up; and the full model's cases with their benchmark objects."""
    measures: dict[str, Measure] = {}
    for n in (1, 2):
        hot = bench_kernels.HotLoop()
        hot.setup(n)
        measures[f"hot{n}"] = Measure("hot loop (kernel)", hot.time_kernel, (n,), n, hot.draws)
    for variant in ("plain", "inplace"):
        for chunk in bench_yardsticks.NumpyReference.params[1]:
            ref = bench_yardsticks.NumpyReference()
            ref.setup(variant, chunk)
            measures[f"numpy-{variant}-{chunk}"] = Measure(
                f"NumPy reference, {variant}, chunk {chunk:,}",
                ref.time_reference,
                (variant, chunk),
                1,
                ref.draws,
            )
    for variant in ("registers", "batch"):
        for n in (1, 2):
            gen = bench_yardsticks.Generator()
            gen.setup(variant, n)
            measures[f"gen-{variant}{n}"] = Measure(
                f"generator, {variant}", gen.time_generator, (variant, n), n, gen.draws
            )
    full = bench_kernels.FullModel()
    built = full.setup_cache()
    cases = {}
    for case in bench_kernels.FullModel.params:
        bench = bench_kernels.FullModel()
        bench.setup(built, case)
        model = bench.model
        cases[case] = bench
        measures[f"full-{case}"] = Measure(
            f"full model, {case} ({model.records:,.0f} records)",
            bench.time_kernel,
            (built, case),
            2,
            model.loan_years * SIZES["full_paths"],
        )
    return measures, cases


def _pipeline_measures() -> dict[str, Measure]:
    """The rest of a default run, with ``--pipeline``: seconds only (no loan-path-years)."""
    cohorts = bench_pipeline.Cohorts()
    built = cohorts.setup_cache()
    cohorts.setup(built)
    processes = bench_pipeline.Processes()
    processes.setup()
    run = bench_pipeline.DefaultRun()
    run.setup()
    n = numba.config.NUMBA_NUM_THREADS
    return {
        "cohorts": Measure(
            f"group_into_cohorts ({len(cohorts.book):,} records)",
            cohorts.time_group_into_cohorts,
            (built,),
            n,
            np.nan,
        ),
        "replica": Measure("one replica of the processes", processes.time_replica, (), n, np.nan),
        "run": Measure("default run, simulate() in process", run.time_simulate, (), n, np.nan),
    }


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    # the kernels' imports already chose the cache folder; asking again names it
    cache = gs.configure_numba_cache() or "none (compiled in this process)"
    return (
        f"{cpu}; {os.cpu_count()} cores; NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS}, "
        f"layer {numba.threading_layer()}; Python {platform.python_version()}, "
        f"NumPy {np.__version__}, Numba {numba.__version__}; Numba cache {cache}"
    )


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _rate(x: float) -> str:
    if not np.isfinite(x):
        return "      - "
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:7.1f} {unit}"
    return f"{x:7.1f}  "


def _row(m: Measure) -> str:
    wall = f"{statistics.median(m.wall):.4f} ({min(m.wall):.4f}-{max(m.wall):.4f})"
    cpu = f"{statistics.median(m.cpu):.4f}"
    return (
        f"{m.label:44s} {m.n_threads:>3}  {wall:>26}  {cpu:>8}  "
        f"{_rate(m.rate):>9}/s  {_rate(m.cpu_rate):>9}/s"
    )


def _fastest(measures: dict[str, Measure], prefix: str) -> Measure:
    return max((m for k, m in measures.items() if k.startswith(prefix)), key=lambda m: m.rate)


def _print_tables(measures: dict[str, Measure], cases: dict) -> None:
    print(
        f"{'measure':44s} {'thr':>3}  {'wall s: median (min-max)':>26}  {'CPU s':>8}  "
        f"{'per wall s':>11}  {'per CPU s':>11}"
    )
    for m in measures.values():
        print(_row(m))
    print(
        "(rates in loan-path-years; per CPU s: CPU time summed over threads, a per-core rate. "
        "The processes and cohort grouping run on one thread whatever thr says)"
    )
    for case, bench in cases.items():
        m = measures[f"full-{case}"]
        paths = SIZES["full_paths"]
        renewals = renewal_loan_years(bench.model, bench.out) * paths
        seconds = statistics.median(m.wall)
        print(
            f"  {case}: {_rate((m.draws + renewals) / seconds)}/s with renewal generations "
            f"(estimated), {_rate(bench.model.record_years * paths / seconds)}/s record-path-years"
        )


def _print_ratios(measures: dict[str, Measure]) -> None:
    plain = _fastest(measures, "numpy-plain")
    tuned = _fastest(measures, "numpy-inplace")
    print()
    print("ratios (NumPy: its fastest chunk, 1 thread; generator: registers, the fastest):")
    for n in (1, 2):
        hot, gen = measures[f"hot{n}"], measures[f"gen-registers{n}"]
        target = TARGET_VS_NUMPY[n - 1]
        print(
            f"  {n} thread{'s' if n > 1 else ' '}: "
            f"hot loop / NumPy plain {hot.rate / plain.rate:6.2f}x "
            f"(target >= {target:g}x), / NumPy in-place {hot.rate / tuned.rate:6.2f}x; "
            f"hot loop / generator {hot.rate / gen.rate:5.2f}x (target >= {TARGET_VS_GENERATOR}x)"
            f"; per CPU s {hot.cpu_rate / plain.cpu_rate:6.2f}x and "
            f"{hot.cpu_rate / gen.cpu_rate:5.2f}x"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument(
        "--pipeline",
        action="store_true",
        help="also time cohort grouping, a process replica and the default run (seconds)",
    )
    args = parser.parse_args(argv)
    load = _load()
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    measures, cases = _measures()
    if args.pipeline:
        measures.update(_pipeline_measures())
    for _ in range(args.rounds):
        for m in measures.values():
            m.take_once()
    print(f"guarantee_sim ratio table{' (tiny sizes)' if TINY else ''}, {started}")
    print(f"machine: {_machine()}")
    print(
        f"sizes: hot loop {SIZES['hot_loans']:,} loans x {SIZES['hot_paths']:,} paths "
        f"(NumPy {SIZES['numpy_paths']:,} paths), full model {SIZES['full_paths']:,} paths; "
        f"{args.rounds} interleaved rounds"
    )
    print(f"load average (1, 5, 15 min) at start {load}, at end {_load()}")
    print()
    _print_tables(measures, cases)
    _print_ratios(measures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
