"""Where the hot loop's time goes: the cipher, the screen, a default's booking, each path.

    python -m benchmarks.hot_loop_probe [--paths 500] [--rounds 5]   # from the repository's root

Issue 10 §1 asks, where a hot-loop target is not met, for what limits it, measured. One
thread, CPU seconds (``time.process_time``), median of interleaved rounds:

* the cipher alone, ns per Philox block, over the hot loop's counters in chunks of 256 as
  the kernel draws them: ``philox4x32_10_batch`` into the rows of one (4, 256) array (the
  kernel's ``Scratch.words``), the same into four separate arrays (structure of arrays), and
  ``philox4x32_10_inlined`` folded as made (the generator yardstick's loop, nothing stored);
* the production kernel (``simulate_block``) on the hot-loop scenario at its PD (3%) and at
  0.1%, each at 20,000 and 200 loans: the slope is the cost of a record, the intercept the
  fixed work of a path, and the difference between the two PDs, per default drawn, the cost
  of a default (screened, then booked by ``origination._fast_default``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from guarantee_sim.kernels.factors import PURPOSE_DEFAULT
from guarantee_sim.kernels.layout import DEFAULTS_COUNT
from guarantee_sim.philox import jit, philox4x32_10_batch, philox4x32_10_inlined

from .workloads import SEED, hot_inputs, outputs, run_kernel, threads

CHUNK = 256


@jit()
def _batch_rows(id_lo, id_hi, first_path, n_paths, words):
    acc = np.uint64(0)
    for path in range(first_path, first_path + n_paths):
        for first in range(0, id_lo.shape[0], CHUNK):
            n = min(CHUNK, id_lo.shape[0] - first)
            philox4x32_10_batch(
                id_lo, id_hi, first, n, 0, PURPOSE_DEFAULT, SEED, path,
                words[0], words[1], words[2], words[3],
            )  # fmt: skip
            acc += np.uint64(words[0, 0])  # a use, so the cipher is not optimised away
    return acc


@jit()
def _batch_soa(id_lo, id_hi, first_path, n_paths, x0, x1, x2, x3):
    acc = np.uint64(0)
    for path in range(first_path, first_path + n_paths):
        for first in range(0, id_lo.shape[0], CHUNK):
            n = min(CHUNK, id_lo.shape[0] - first)
            philox4x32_10_batch(
                id_lo, id_hi, first, n, 0, PURPOSE_DEFAULT, SEED, path, x0, x1, x2, x3
            )
            acc += np.uint64(x0[0])
    return acc


@jit()
def _registers(id_lo, id_hi, first_path, n_paths):
    acc = np.uint64(0)
    for path in range(first_path, first_path + n_paths):
        for r in range(id_lo.shape[0]):
            w0, w1, w2, w3 = philox4x32_10_inlined(
                id_lo[r], id_hi[r], 0, PURPOSE_DEFAULT, SEED, path
            )
            acc += (np.uint64(w0) ^ np.uint64(w1)) + (np.uint64(w2) ^ np.uint64(w3))
    return acc


def _cpu(call, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.process_time()
        call()
        times.append(time.process_time() - start)
    return times


def _fmt(times: list[float], scale: float, unit: str) -> str:
    med, lo, hi = (scale * x for x in (statistics.median(times), min(times), max(times)))
    return f"{med:8.2f} {unit} ({lo:.2f}-{hi:.2f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, default=500, help="paths per timed call")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    args = parser.parse_args(argv)
    threads(1)
    paths, rounds = args.paths, args.rounds
    print(f"load average at start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")

    _, book = hot_inputs(20_000)
    id_lo, id_hi, n = book.id_lo, book.id_hi, len(book)
    rows = np.empty((4, CHUNK), dtype=np.uint32)
    soa = [np.empty(CHUNK, dtype=np.uint32) for _ in range(4)]
    ciphers = {
        "batch, rows of one array (the kernel)": lambda: _batch_rows(id_lo, id_hi, 0, paths, rows),
        "batch, four arrays (structure of arrays)": lambda: _batch_soa(
            id_lo, id_hi, 0, paths, *soa
        ),
        "inlined, folded as made (the yardstick)": lambda: _registers(id_lo, id_hi, 0, paths),
    }
    kernels = {}
    for pd in (0.03, 0.001):
        for loans in (20_000, 200):
            inputs, _ = hot_inputs(loans, pd)
            out = outputs(inputs, paths)
            kernels[pd, loans] = (inputs, out)
    for call in ciphers.values():
        call()  # compile
    for inputs, out in kernels.values():
        run_kernel(inputs, out, SEED)
    times: dict[object, list[float]] = {key: [] for key in [*ciphers, *kernels]}
    for _ in range(rounds):
        for key, call in ciphers.items():
            times[key] += _cpu(call, 1)
        for key, (inputs, out) in kernels.items():
            times[key] += _cpu(lambda i=inputs, o=out: run_kernel(i, o, SEED), 1)

    print(f"\nthe cipher alone, 1 thread, {n:,} counters x {paths} paths, CPU time per block:")
    for key in ciphers:
        print(f"  {key:44s} {_fmt(times[key], 1e9 / (n * paths), 'ns')}")
    print(f"\nthe hot-loop kernel, 1 thread, {paths} paths, CPU time per path:")
    per_record = {}
    for pd in (0.03, 0.001):
        big, small = (statistics.median(times[pd, k]) / paths for k in (20_000, 200))
        per_record[pd] = (big - small) / (20_000 - 200)
        fixed = small - 200 * per_record[pd]
        print(
            f"  PD {pd:5.1%}: 20,000 loans {_fmt(times[pd, 20_000], 1e6 / paths, 'us')}; "
            f"{per_record[pd] * 1e9:.2f} ns a record, {fixed * 1e6:.1f} us fixed a path"
        )
    defaults = {
        pd: float(np.mean(kernels[pd, 20_000][1].segment[:, DEFAULTS_COUNT].sum(axis=(1, 2))))
        for pd in (0.03, 0.001)
    }
    extra = (per_record[0.03] - per_record[0.001]) * 20_000 / (defaults[0.03] - defaults[0.001])
    print(
        f"  defaults a path: {defaults[0.03]:.0f} at 3%, {defaults[0.001]:.0f} at 0.1%: "
        f"{extra * 1e9:.0f} ns a default (screen and booking)"
    )
    print(f"load average at end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
