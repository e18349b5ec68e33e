"""Speed of the SimPy institution processes: events per second, and a Hangzhou-size run.

    python benchmarks/processes.py                 # record weights 20 and 10 (a few minutes)
    python benchmarks/processes.py --full          # also weight 1: every applicant simulated

For each record weight w it runs one book replica of scenarios/hangzhou_2021_2023.yaml
(applications arrive at 1/w of their real number, offices are 1/w of their real number,
each at its full staff)
and reports simulated applications, SimPy events processed, wall time and events per
second. It then times a whole `guarantee-sim run` of the scenario as shipped. Numbers
are measured, never asserted; write them into benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import simpy

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "hangzhou_2021_2023.yaml"


class _CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it processes."""

    processed = 0

    def step(self):
        _CountingEnvironment.processed += 1
        return super().step()


def time_replica(weight: int) -> dict:
    from guarantee_sim import configure_numba_cache, load_scenario

    configure_numba_cache()  # before the processes' jitted draws are imported
    from guarantee_sim.processes import institutions, run

    scenario = load_scenario(SCENARIO, overrides=[f"processes.record_weight={weight}"])
    run.simpy.Environment = _CountingEnvironment  # count events in every env the run makes
    institutions.simpy.Environment = _CountingEnvironment
    _CountingEnvironment.processed = 0
    start = time.perf_counter()
    replica = run.run_replica(scenario, scenario.simulation.seed, 0)
    seconds = time.perf_counter() - start
    applications = sum(1 for o in replica.log if not o.applicant.renewal)
    return {
        "weight": weight,
        "simulated applications": applications,
        "applications represented": applications * weight,
        "events": _CountingEnvironment.processed,
        "seconds": seconds,
        "events/s": _CountingEnvironment.processed / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="also simulate every applicant")
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SimPy {simpy.__version__}"
    )
    weights = [20, 10] + ([1] if args.full else [])
    print(
        f"{'weight':>7} {'applications':>14} {'represented':>12} {'events':>11} "
        f"{'seconds':>8} {'events/s':>10}"
    )
    for w in weights:
        r = time_replica(w)
        print(
            f"{r['weight']:>7} {r['simulated applications']:>14,} "
            f"{r['applications represented']:>12,} {r['events']:>11,} "
            f"{r['seconds']:>8.1f} {r['events/s']:>10,.0f}"
        )
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "guarantee_sim.cli",
            "run",
            str(SCENARIO),
            "--out",
            "/tmp/hangzhou_benchmark.nc",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(
        f"guarantee-sim run {SCENARIO.name} as shipped (kernels cached): "
        f"{time.perf_counter() - start:.1f} s wall"
    )


if __name__ == "__main__":
    main()
