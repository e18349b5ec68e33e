"""Speed of the SimPy institution processes: events per second, and a Hangzhou-size run.

    python benchmarks/processes.py                 # record weights 20 and 10 (a few minutes)
    python benchmarks/processes.py --full          # also weight 1: every applicant simulated

For each record weight w it runs one book replica of scenarios/hangzhou_2021_2023.yaml
as `simulate` runs it (replica 0's drawn decision parameters; applications arrive at
1/w of their real number at the demand ceiling, offices are 1/w of their real number,
each at its full staff) and reports simulated applications, SimPy events processed (per
application, renewal applications included), wall and CPU time, and events per CPU
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


def _replica_inputs(weight: int):
    """Replica 0 of the scenario at record weight ``weight`` as ``simulate`` runs it: its
    drawn decision parameters, and the volume book that adds to the claims."""
    from guarantee_sim import load_scenario
    from guarantee_sim.engine import parameters
    from guarantee_sim.engine.inputs import build_volume_book

    given = load_scenario(SCENARIO, overrides=[f"processes.record_weight={weight}"])
    decided = parameters.decision_parameters(given)
    scenario = parameters.central_scenario(given)
    seed = scenario.simulation.seed
    if decided:
        values = parameters.draw_replica_values(decided, seed, scenario.processes.replicas)
        scenario = parameters.replica_scenarios(scenario, decided, values)[0]
    volumes = build_volume_book(scenario, seed, skip=scenario.process_fed_segments())
    return scenario, seed, volumes


def time_replica(weight: int) -> dict:
    from guarantee_sim import configure_numba_cache

    configure_numba_cache()  # before the processes' jitted draws are imported
    from guarantee_sim.processes import run

    scenario, seed, volumes = _replica_inputs(weight)
    run.simpy.Environment = _CountingEnvironment  # count events in every env the run makes
    _CountingEnvironment.processed = 0
    start, cpu = time.perf_counter(), time.process_time()
    replica = run.run_replica(scenario, seed, 0, volumes)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    applications = sum(1 for o in replica.log if not o.applicant.renewal)
    return {
        "weight": weight,
        "simulated applications": applications,
        "with renewals": len(replica.log),
        "applications represented": applications * weight,
        "events": _CountingEnvironment.processed,
        "seconds": seconds,
        "cpu seconds": cpu,
        "events/s": _CountingEnvironment.processed / cpu,
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
        f"{'weight':>7} {'applications':>14} {'w. renewals':>12} {'represented':>12} "
        f"{'events':>11} {'events/appl.':>12} {'wall s':>8} {'CPU s':>8} {'events/CPU s':>12}"
    )
    time_replica(weights[0])  # compiles the draws' kernels if the cache is cold
    for w in weights:
        r = time_replica(w)
        print(
            f"{r['weight']:>7} {r['simulated applications']:>14,} {r['with renewals']:>12,} "
            f"{r['applications represented']:>12,} {r['events']:>11,} "
            f"{r['events'] / r['with renewals']:>12.2f} {r['seconds']:>8.1f} "
            f"{r['cpu seconds']:>8.1f} {r['events/s']:>12,.0f}"
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
            "-q",
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
