"""A sweep's timeline, printed: ``python -m benchmarks.sweep_timeline WORKERS [--paths N]``.

The county experiment as ``benchmarks.sweep_speedup`` runs it (a warm-up sweep on the
cluster first), then once more with every task's worker, start and end on the cluster
(``distributed.get_task_stream``) and the client's phases (plan, open the store, combine,
write ``result``) with their CPU: where the serial part and the last round's imbalance
are. Seconds from the start of ``run_sweep``; on a loaded machine the structure (what
overlaps what, what runs after the last task) still shows, the lengths do not.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from .bench_sweep import EXPERIMENT

PHASES = (
    "plan_sweep", "open_store", "choose_shift", "combine_store", "complete_draft", "write_result",
)  # fmt: skip


def _timed(module, name: str, phases: list, start: list[float]) -> None:
    fn = getattr(module, name)

    @functools.wraps(fn)
    def timed(*args, **kwargs):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn(*args, **kwargs)
        now = time.perf_counter()
        phases.append((name, wall - start[0], now - start[0], time.process_time() - cpu))
        return out

    setattr(module, name, timed)


def main() -> None:
    from distributed import Client, get_task_stream

    from guarantee_sim.sweep import runner

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workers", type=int)
    parser.add_argument("--paths", type=int, default=1000)
    args = parser.parse_args()
    phases: list = []
    start = [0.0]
    for name in PHASES:
        _timed(runner, name, phases, start)
    folder = Path(tempfile.mkdtemp(prefix="guarantee_sim_sweep_timeline_"))

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    try:
        with runner.local_cluster(args.workers) as cluster, Client(cluster) as client:
            runner.run_sweep(
                EXPERIMENT, store=folder / "warm.zarr", paths=args.paths, client=client
            )
            phases.clear()
            before = client.run(cpu)
            with get_task_stream(client) as stream:
                start[0], epoch, here = time.perf_counter(), time.time(), time.process_time()
                runner.run_sweep(
                    EXPERIMENT, store=folder / "run.zarr", paths=args.paths, client=client
                )
                wall, here = time.perf_counter() - start[0], time.process_time() - here
            after = client.run(cpu)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(
        f"{args.workers} worker(s), {args.paths:,} paths: {wall:.1f} s wall, client CPU "
        f"{here:.2f} s, load average {os.getloadavg()[0]:.1f}"
    )
    for worker in after:
        print(f"  worker {worker}: {after[worker] - before[worker]:.2f} s CPU")
    for name, begin, end, seconds in phases:
        print(f"  client {name:14s} {begin:7.2f} -> {end:7.2f}  ({seconds:.2f} s CPU)")
    runs = [
        (span["start"] - epoch, span["stop"] - epoch, task["worker"], str(task["key"]))
        for task in stream.data
        for span in task["startstops"]
        if span["action"] == "compute"
    ]
    for begin, end, worker, key in sorted(runs):
        span = f"{begin:7.2f} -> {end:7.2f}  ({end - begin:.2f} s)"
        print(f"  task {key[:44]:44s} {worker[-6:]:>6s} {span}")
    # where a worker waited: from the start to the end of run_sweep, minus its tasks
    for worker in sorted({w for _, _, w, _ in runs}):
        spans = [(b, e) for b, e, w, _ in runs if w == worker]
        busy = sum(e - b for b, e in spans)
        last = max(e for _, e in spans)
        print(
            f"  worker {worker[-6:]}: tasks {busy:.2f} s, idle {wall - busy:.2f} s "
            f"(of which after its last task {wall - last:.2f} s)"
        )


if __name__ == "__main__":
    main()
