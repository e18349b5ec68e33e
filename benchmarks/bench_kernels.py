"""The Monte Carlo kernel called directly on built inputs: the hot loop, the full model at
loan and cohort granularity, and its working memory.

Each benchmark's ``setup`` builds the inputs and calls the kernel once on two paths, so
compiling (or loading the compiled kernels from the cache) is never timed.
"""

from __future__ import annotations

import gc

from .workloads import (
    FULL_MODEL,
    SIZES,
    full_model,
    hot_inputs,
    outputs,
    run_kernel,
    threads,
)

#: a cold Numba cache compiles the kernels in the first setup: 1-2 minutes of CPU
COMPILE_TIMEOUT = 900


class HotLoop:
    """``simulate_block`` on the hot-loop scenario (``workloads.hot_scenario``): single
    loans originated in month 0 with tenor 12, bank only, no renewals; one Philox block
    per loan and path. ``SIZES["hot_loans"]`` loans x ``SIZES["hot_paths"]`` paths in blocks
    of 250, at 1 and 2 Numba threads."""

    params = (1, 2)
    param_names = ("threads",)
    timeout = COMPILE_TIMEOUT

    def setup(self, n_threads):
        self.threads = threads(n_threads)
        self.inputs, self.book = hot_inputs(SIZES["hot_loans"])
        run_kernel(self.inputs, outputs(self.inputs, 2))
        self.out = outputs(self.inputs, SIZES["hot_paths"])
        self.draws = len(self.book) * SIZES["hot_paths"]  # loan-path-years

    def time_kernel(self, n_threads):
        run_kernel(self.inputs, self.out)

    def peakmem_kernel(self, n_threads):
        run_kernel(self.inputs, self.out)


class FullModel:
    """``simulate_block`` on a shipped scenario's inputs as ``simulate()`` builds them
    (parameters at their centres): the county scenario at loan and cohort granularity, the
    default scenario (Hangzhou, its institution processes run once in ``setup_cache``) at
    cohort granularity; ``SIZES["full_paths"]`` paths on 2 threads."""

    params = tuple(FULL_MODEL)
    param_names = ("case",)
    timeout = COMPILE_TIMEOUT

    def setup_cache(self):
        return {case: full_model(case) for case in FULL_MODEL}

    setup_cache.timeout = COMPILE_TIMEOUT

    def setup(self, built, case):
        threads(2)
        self.model = built[case]
        run_kernel(self.model.inputs, outputs(self.model.inputs, 2))
        self.out = outputs(self.model.inputs, SIZES["full_paths"])

    def time_kernel(self, built, case):
        run_kernel(self.model.inputs, self.out)

    def peakmem_kernel(self, built, case):
        run_kernel(self.model.inputs, self.out)


class KernelMemory:
    """Growth of the process's peak resident memory over the kernel calls alone (output
    arrays allocated and touched beforehand), county scenario at loan granularity: issue
    10's "kernels' working memory flat in paths" is the same number at both path counts."""

    params = SIZES["memory_paths"]
    param_names = ("paths",)
    timeout = COMPILE_TIMEOUT
    unit = "bytes"
    rounds = 1  # a count of bytes, the same every time

    def setup(self, paths):
        threads(2)
        self.inputs = full_model("county-loan").inputs
        run_kernel(self.inputs, outputs(self.inputs, 2))
        self.out = outputs(self.inputs, paths)

    def track_peak_growth(self, paths):
        gc.collect()
        base = _rss_after_peak_reset()
        run_kernel(self.inputs, self.out)
        return (_status_kb("VmHWM") - base) * 1024


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _rss_after_peak_reset() -> int:
    """Reset the peak (VmHWM) to the current RSS where Linux allows it (>= 4.0) and return
    the base to measure growth from: the RSS, or the old peak if it could not be reset."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return _status_kb("VmHWM")
    return _status_kb("VmRSS")
