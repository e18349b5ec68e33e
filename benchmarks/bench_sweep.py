"""A sweep on Dask (``guarantee_sim.sweep``): the county experiment's 3 designs on a
LocalCluster of 1 and 2 workers (1 Numba thread each), against the sequential
``compare`` (``run_experiment``) in this process; the peak memory of a worker.

The speedup and the numbers of one machine: ``python -m benchmarks.sweep_speedup``
(benchmarks/README.md, "Sweeps on Dask")."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from guarantee_sim.experiments import run_experiment

from .workloads import TINY

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENT = ROOT / "experiments" / "county_fee_and_coverage.yaml"  # 3 designs, volumes
PATHS = 8 if TINY else 2000
TIMEOUT = 1800


def worker_peak_mb(client) -> float:
    """The largest peak resident memory of the client's workers, MB (Linux: ru_maxrss KB)."""
    import resource

    peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return max(peaks.values()) / 1024


class Sweep:
    """``run_sweep`` of the county experiment on a LocalCluster of ``workers`` processes;
    each round writes a fresh store (the books cache: none, lending is from volumes)."""

    # CI's smoke run (tiny): one cluster of 2 workers, one round, no warm-up (~10 s)
    params = (2,) if TINY else (1, 2)
    param_names = ("workers",)
    timeout = TIMEOUT
    rounds = 1
    repeat = 1 if TINY else (1, 3, 60.0)

    def setup(self, workers):
        from distributed import Client

        from guarantee_sim.sweep.runner import local_cluster

        self.cluster = local_cluster(workers)
        self.client = Client(self.cluster)
        self.folder = Path(tempfile.mkdtemp(prefix="guarantee_sim_sweep_bench_"))
        if not TINY:
            self._run("warm")  # workers load the kernels; not timed

    def teardown(self, workers):
        self.client.close()
        self.cluster.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, name: str):
        from guarantee_sim.sweep import run_sweep

        store = self.folder / f"{name}.zarr"
        shutil.rmtree(store, ignore_errors=True)
        return run_sweep(EXPERIMENT, store=store, paths=PATHS, client=self.client)

    def time_sweep(self, workers):
        self._run("timed")

    def track_worker_peak_memory_mb(self, workers):
        self._run("tracked")
        return worker_peak_mb(self.client)

    track_worker_peak_memory_mb.unit = "MB"  # type: ignore[attr-defined]


class SequentialCompare:
    """The same designs by ``run_experiment`` in this process (``compare``), at Numba's
    thread count (``NUMBA_NUM_THREADS``; 2 on the reference machine)."""

    timeout = TIMEOUT
    rounds = 1
    repeat = (1, 3, 60.0)

    def setup(self):
        run_experiment(EXPERIMENT, paths=PATHS)  # kernels loaded; not timed

    def time_compare(self):
        run_experiment(EXPERIMENT, paths=PATHS)

    def peakmem_compare(self):
        run_experiment(EXPERIMENT, paths=PATHS)
