"""The sweep's speedup, printed: ``python -m benchmarks.sweep_speedup [--paths N]``.

The county experiment (3 designs, lending from volumes) as a sweep on a LocalCluster of 1
and of 2 workers (1 Numba thread each, tasks of a quarter of the paths), and as the
sequential ``compare`` (``run_experiment``) in this process at 2 Numba threads; each after
a warm-up run (kernels loaded). Wall time, the CPU time of the workers (or this process),
the client's CPU time (the plan, the scheduler and the combine: the serial part), the
speedup 1 -> 2 workers, and the largest worker's peak memory. Run it on free cores:
on a loaded machine the wall times measure the load.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from .bench_sweep import EXPERIMENT, worker_peak_mb


def _cpu(client) -> float:
    usage = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF))
    return sum(u.ru_utime + u.ru_stime for u in usage.values())


def sweep(workers: int, paths: int, folder: Path) -> tuple[float, float, float, float]:
    from distributed import Client

    from guarantee_sim.sweep import run_sweep
    from guarantee_sim.sweep.runner import local_cluster

    with local_cluster(workers) as cluster, Client(cluster) as client:
        run_sweep(EXPERIMENT, store=folder / f"warm{workers}.zarr", paths=paths, client=client)
        cpu, here = _cpu(client), time.process_time()
        start = time.perf_counter()
        run_sweep(EXPERIMENT, store=folder / f"run{workers}.zarr", paths=paths, client=client)
        wall = time.perf_counter() - start
        here = time.process_time() - here  # the client's: plan, scheduler, combine
        return wall, _cpu(client) - cpu, here, worker_peak_mb(client)


def compare(paths: int) -> tuple[float, float]:
    from guarantee_sim.experiments import run_experiment

    run_experiment(EXPERIMENT, paths=paths)
    cpu, start = time.process_time(), time.perf_counter()
    run_experiment(EXPERIMENT, paths=paths)
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=2000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="guarantee_sim_sweep_speedup_"))
    try:
        print(f"load average before: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
        rows = {w: sweep(w, args.paths, folder) for w in (1, 2)}
        wall, cpu = compare(args.paths)
        print(f"county_fee_and_coverage, 3 designs x {args.paths:,} paths")
        for w, (t, c, here, peak) in rows.items():
            print(
                f"  sweep, {w} worker(s): {t:7.1f} s wall, {c:7.1f} s CPU (workers), "
                f"{here:5.1f} s CPU (client), peak {peak:.0f} MB"
            )
        print(f"  compare, 2 threads:  {wall:7.1f} s wall, {cpu:7.1f} s CPU")
        print(f"  speedup 1 -> 2 workers: {rows[1][0] / rows[2][0]:.2f}x")
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
