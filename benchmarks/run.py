"""Throughput benchmarks of the Monte Carlo kernels, in one run on one machine.

    python benchmarks/run.py [--quick] [--json FILE]

Prints, with the machine it ran on (cores, NUMBA_NUM_THREADS, versions):

a. hot loop      loan-path draws/s of the production kernel (``simulate_block`` through
                 ``guarantee_sim.simulate``) on a scenario that is only defaults and losses:
                 one segment, loan granularity, every loan originated in month 0 with tenor
                 12, so each (loan, path) is exactly one Philox block; bank only, no
                 renewals. Also at 1 thread.
b. NumPy         the same computation, fully vectorised over (paths chunk x loans) with
                 NumPy uint64 arithmetic; its per-path defaults, default amounts and credit
                 losses are asserted equal to the kernel's, bit for bit.
c. generator     the same Philox4x32-10 blocks (same keys and counters) and nothing else,
                 in an ``@njit(parallel=True)`` loop at the same thread count.
d. full model    loan-path-years/s of ``guarantee_sim.simulate`` on
                 scenarios/county_guarantee_2021.yaml, loan and cohort granularity.
e. memory        peak RSS growth of the kernels at 1,000 and 8,000 paths, same block size
                 (each in a fresh child process).
f. ratios        hot loop / NumPy and hot loop / generator, PASS/FAIL against the targets
                 (issue 10: >= 25x and >= 0.8x on 2 cores). Speed is measured, not
                 asserted: the exit status is 0 whatever the ratios (it is non-zero only if
                 a correctness check fails).

Everything the model computes is imported from ``guarantee_sim`` at run time; nothing of the
kernels is copied here.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import numba
import numpy as np
from numba import njit, prange

import guarantee_sim as gs
from guarantee_sim.book import LoanBook
from guarantee_sim.engine.inputs import build_inputs
from guarantee_sim.engine.parameters import central_scenario
from guarantee_sim.kernels.factors import (
    PURPOSE_DEFAULT,
    conditional_thresholds,
    draw_factors,
)
from guarantee_sim.kernels.layout import (
    CREDIT_LOSS,
    DEFAULT_AMOUNT,
    DEFAULTS_COUNT,
    PARTY_VARIABLES,
    SEGMENT_VARIABLES,
    YEAR_VARIABLES,
    Outputs,
)
from guarantee_sim.philox import philox4x32_10, philox4x32_10_batch, philox4x32_10_inlined

ROOT = Path(__file__).resolve().parents[1]
COUNTY = ROOT / "scenarios" / "county_guarantee_2021.yaml"
SIMULATE_MODULE = sys.modules["guarantee_sim.engine.simulate"]  # where simulate() finds the kernel

TARGET_VS_NUMPY = 25.0  # issue 10 §1, on 2 threads (>= 12x per core)
TARGET_VS_GENERATOR = 0.8


# --------------------------------------------------------------------------- helpers


def machine() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count()
    try:
        load = os.getloadavg()
    except OSError:  # pragma: no cover
        load = (float("nan"),) * 3
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "NUMBA_NUM_THREADS": numba.config.NUMBA_NUM_THREADS,
        "numba_threads_used": numba.get_num_threads(),
        "threading_layer": None,  # filled in after the first parallel call
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "guarantee_sim": gs.__version__,
        # the kernels' imports above already chose the folder; asking again names it
        "numba_cache": str(gs.configure_numba_cache() or "none (compiled in this process)"),
        "load_average_start": [round(x, 2) for x in load],
    }


def best_of(fn, repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), times


@contextmanager
def kernel_timer():
    """Time the kernel calls simulate() makes (wraps the name it looks up at call time)."""
    original = SIMULATE_MODULE.simulate_block
    spent = [0.0]

    def timed(*args):
        t0 = time.perf_counter()
        original(*args)
        spent[0] += time.perf_counter() - t0

    SIMULATE_MODULE.simulate_block = timed
    try:
        yield spent
    finally:
        SIMULATE_MODULE.simulate_block = original


def loan_years(book: LoanBook) -> int:
    """Sum over records of n_loans x calendar-year windows of the record's life (one Philox
    block per loan-year in the kernel), renewal generations excluded."""
    month = book.month.astype(np.int64)
    last = month + book.tenor.astype(np.int64) - 1
    windows = last // 12 - month // 12 + 1
    return int(np.sum(book.n_loans.astype(np.int64) * windows))


def fmt_rate(x: float) -> str:
    if not np.isfinite(x):
        return "n/a"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:7.2f} {unit}/s"
    return f"{x:7.2f}  /s"


# --------------------------------------------------------------------------- a. hot loop


def hot_scenario(block_size: int):
    """Only defaults and losses: one segment, bank only (coverage 0), no renewals.

    Three PD grades (as the shipped scenario has), LGD 0.5; the horizon's run-off is the
    minimum the validator allows, so the month loop around the records is short.
    """
    data = {
        "name": "bench_hot_loop",
        "horizon": {"start_year": 2021, "origination_years": 1, "runoff_months": 13},
        "simulation": {
            "paths": 1000,
            "seed": 20211231,
            "granularity": "loan",
            "block_size": block_size,
        },
        "segments": {
            "sme": {
                "pd": {
                    "mean": 0.03,
                    "grades": [
                        {"relative_pd": 0.5, "weight": 0.3},
                        {"relative_pd": 1.0, "weight": 0.5},
                        {"relative_pd": 2.0, "weight": 0.2},
                    ],
                },
                "lgd": 0.5,
                "recovery": {"lag_months": 0, "spread_months": 1},
                "correlation": 0.1,
                "loan_size": {"median": 1.0e6, "sigma": 0.6, "cap": 1.0e7},
                "tenor_months": 12,
                "lending": {"count_per_year": 12},  # replaced by the custom book
                "scheme": "bank_only",
            }
        },
        "parties": {"bank": {"kind": "bank"}},
        "schemes": {"bank_only": {"coverage": 0.0}},
    }
    return gs.scenario_from_dict(data, source="<benchmarks/run.py hot loop>")


def hot_book(scenario, n_loans: int, seed: int = 1) -> LoanBook:
    """``n_loans`` single loans, all originated in month 0 with tenor 12.

    Amounts are whole CNY (lognormal, median 1 m, capped at 10 m), so sums of defaulted
    amounts are exact in float64 whatever the order of summation; with LGD 0.5 the credit
    loss is exact too, and the NumPy reference can be compared bit for bit.
    """
    rng = np.random.default_rng(seed)
    seg = scenario.segments["sme"]
    _, weights = seg.pd.grade_pds()
    size = seg.loan_size
    amount = np.rint(
        np.minimum(size.median * np.exp(size.sigma * rng.standard_normal(n_loans)), size.cap)
    )
    grade = rng.choice(len(weights), size=n_loans, p=weights)
    # ids: segment "sme", month 0, loan k
    return LoanBook.from_records(
        (
            {"segment": 0, "month": 0, "tenor": 12, "grade": g, "amount": a}
            for g, a in zip(grade, np.maximum(amount, 1.0), strict=True)
        ),
        segments=["sme"],
    )


def bench_hot_loop(scenario, book, paths: int, seed: int, repeat: int) -> dict:
    gs.simulate(scenario, paths=min(paths, 4), seed=seed, book=book)  # compile / load cache
    kernel_times, total_times = [], []
    ds = None
    for _ in range(repeat):
        with kernel_timer() as spent:
            t0 = time.perf_counter()
            ds = gs.simulate(scenario, paths=paths, seed=seed, book=book)
            total_times.append(time.perf_counter() - t0)
        kernel_times.append(spent[0])
    draws = len(book) * paths
    k, t = min(kernel_times), min(total_times)
    return {
        "loans": len(book),
        "paths": paths,
        "draws": draws,
        "block_size": scenario.simulation.block_size,
        "threads": numba.get_num_threads(),
        "kernel_s": k,
        "kernel_s_all": kernel_times,
        "simulate_s": t,
        "simulate_s_all": total_times,
        "rate": draws / k,
        "rate_simulate": draws / t,
        "dataset": ds,
    }


# --------------------------------------------------------------------------- b. NumPy reference

_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_PM0 = np.uint64(0xD2511F53)
_PM1 = np.uint64(0xCD9E8D57)
_PW0 = np.uint64(0x9E3779B9)
_PW1 = np.uint64(0xBB67AE85)


def philox_numpy(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on broadcastable uint64 arrays holding 32-bit values, as most people
    would write it: one expression per round, NumPy allocating the temporaries."""
    x0, x1, x2, x3 = (np.asarray(c, dtype=np.uint64) for c in (c0, c1, c2, c3))
    k0 = np.asarray(k0, dtype=np.uint64)
    k1 = np.asarray(k1, dtype=np.uint64)
    for r in range(10):
        if r:
            k0 = (k0 + _PW0) & _M32
            k1 = (k1 + _PW1) & _M32
        p0 = _PM0 * x0
        p1 = _PM1 * x2
        x0, x1, x2, x3 = (p1 >> _S32) ^ x1 ^ k0, p1 & _M32, (p0 >> _S32) ^ x3 ^ k1, p0 & _M32
    return x0, x1, x2, x3


class PhiloxInPlace:
    """The same cipher with preallocated (chunk, loans) buffers and ``out=`` ufuncs: no
    temporaries, fewer passes over memory. Returns views of its buffers (words 0 and 1)."""

    def __init__(self, shape):
        self.x = [np.empty(shape, dtype=np.uint64) for _ in range(4)]
        self.p0 = np.empty(shape, dtype=np.uint64)
        self.p1 = np.empty(shape, dtype=np.uint64)

    def __call__(self, c0, c1, c2, c3, k0, k1):
        x0, x1, x2, x3 = self.x
        p0, p1 = self.p0, self.p1
        x0[...] = c0
        x1[...] = c1
        x2[...] = c2
        x3[...] = c3
        k0 = np.uint64(k0)
        k1 = np.asarray(k1, dtype=np.uint64)
        for r in range(10):
            if r:
                k0 = (k0 + _PW0) & _M32
                k1 = (k1 + _PW1) & _M32
            np.multiply(x0, _PM0, out=p0)
            np.multiply(x2, _PM1, out=p1)
            # new x0 = hi(p1) ^ x1 ^ k0 (x1 still old), new x1 = lo(p1)
            np.right_shift(p1, _S32, out=x0)
            np.bitwise_xor(x0, x1, out=x0)
            np.bitwise_xor(x0, k0, out=x0)
            np.bitwise_and(p1, _M32, out=x1)
            # new x2 = hi(p0) ^ x3 ^ k1 (x3 still old), new x3 = lo(p0)
            np.right_shift(p0, _S32, out=x2)
            np.bitwise_xor(x2, x3, out=x2)
            np.bitwise_xor(x2, k1, out=x2)
            np.bitwise_and(p0, _M32, out=x3)
        return x0, x1, x2, x3


def path_thresholds(inputs, seed: int, paths: np.ndarray, window: int = 12, year: int = 0):
    """uint64[len(paths), n_grade] default thresholds of segment 0 in ``year`` for a loan
    alive ``window`` months of it, from the jitted factor and threshold helpers (the
    per-path, not per-loan, part of the computation)."""
    seg, macro, n_years = inputs.segments, inputs.macro, inputs.settings.n_years
    n_seg, n_grade = seg.pd_inverse.shape
    factors = np.empty((n_years, macro.chol.shape[0]))
    probability = np.empty((n_seg, n_grade, n_years, 12))
    threshold = np.empty((n_seg, n_grade, n_years, 12), dtype=np.uint32)
    out = np.empty((len(paths), n_grade), dtype=np.uint64)
    for i, path in enumerate(paths):
        draw_factors(np.uint32(seed), int(path), macro.chol, macro.persistence, n_years, factors)
        conditional_thresholds(
            factors,
            seg.loadings,
            seg.rho,
            seg.pd_inverse,
            macro.downturn_z,
            macro.pd_multiplier,
            np.ones(n_seg),  # the PD level: no uncertain parameters here
            probability,
            threshold,
        )
        out[i] = threshold[0, :, year, window - 1]
    return out


def numpy_reference(
    inputs, book: LoanBook, seed: int, paths: np.ndarray, chunk_paths: int, inplace: bool = True
) -> dict:
    """Defaults, default amounts and credit losses of year 0 per path, vectorised over
    (chunk of paths x all loans): Philox words, threshold test on word 0, month of default
    from word 1, default amounts by (path, month), credit loss = sum of months x LGD."""
    lgd = float(inputs.segments.lgd[0])
    id_lo = book.id_lo.astype(np.uint64)[None, :]
    id_hi = book.id_hi.astype(np.uint64)[None, :]
    grade = book.grade.astype(np.intp)
    amount = book.amount
    gen_year = np.uint64(0)  # generation 0, calendar year 0
    purpose = np.uint64(PURPOSE_DEFAULT)
    seed64 = np.uint64(seed & 0xFFFFFFFF)
    n = len(paths)
    count = np.empty(n)
    default_amount = np.empty(n)
    credit_loss = np.empty(n)
    cipher = PhiloxInPlace((chunk_paths, len(book))) if inplace else None
    for lo in range(0, n, chunk_paths):
        hi = min(lo + chunk_paths, n)
        m = hi - lo
        chunk = paths[lo:hi]
        thr = path_thresholds(inputs, seed, chunk)  # (m, grades)
        k1 = chunk.astype(np.uint64)[:, None]
        if inplace:
            if m != cipher.p0.shape[0]:
                cipher = PhiloxInPlace((m, len(book)))
            w0, w1, _, _ = cipher(id_lo, id_hi, gen_year, purpose, seed64, k1)
        else:
            w0, w1, _, _ = philox_numpy(id_lo, id_hi, gen_year, purpose, seed64, k1)
        hit = w0 < thr[:, grade]  # (m, loans) vs per-loan threshold of its grade
        pi, li = np.nonzero(hit)
        month = (w1[pi, li] * np.uint64(12)) >> _S32  # which of the 12 months
        by_month = np.bincount(
            pi * 12 + month.astype(np.intp), weights=amount[li], minlength=m * 12
        ).reshape(m, 12)
        count[lo:hi] = np.bincount(pi, minlength=m)
        default_amount[lo:hi] = by_month.sum(axis=1)
        loss = np.zeros(m)
        for j in range(12):  # as the kernel: month by month, exposure x LGD
            loss += by_month[:, j] * lgd
        credit_loss[lo:hi] = loss
    return {"defaults_count": count, "default_amount": default_amount, "credit_loss": credit_loss}


def check_philox_numpy():
    """Random123 known answers, and agreement with the jitted cipher on random inputs."""
    kat = [
        ((0, 0, 0, 0, 0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((0xFFFFFFFF,) * 6, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ]
    for args, expected in kat:
        got = tuple(int(w) for w in philox_numpy(*args))
        assert got == expected, ("NumPy Philox known answer", args, got)
        assert tuple(int(w) for w in philox4x32_10(*args)) == expected
    rng = np.random.default_rng(3)
    c = rng.integers(0, 2**32, size=(6, 64), dtype=np.uint64)
    ref = np.array([philox4x32_10(*(int(v) for v in c[:, i])) for i in range(64)]).T
    got = np.array(philox_numpy(*c))
    assert np.array_equal(ref, got), "NumPy Philox disagrees with the kernel's"
    cipher = PhiloxInPlace((1, 64))
    got = np.array(
        cipher(
            c[0][None, :],
            c[1][None, :],
            c[2][None, :],
            c[3][None, :],
            17,
            np.full((1, 1), c[5, 0], dtype=np.uint64),
        )
    )[:, 0, :]
    ref = np.array(
        [philox4x32_10(*(int(v) for v in c[:4, i]), 17, int(c[5, 0])) for i in range(64)]
    ).T
    assert np.array_equal(ref, got), "in-place NumPy Philox disagrees with the kernel's"


def bench_numpy(inputs, book, seed, paths: np.ndarray, chunk_candidates, repeat: int) -> dict:
    """Time both NumPy variants at their best chunk size (tuned on a few paths)."""
    results = {}
    for inplace in (False, True):
        name = "inplace" if inplace else "plain"
        tune_paths = paths[: max(8, min(len(paths), 64))]
        tuning = {}
        for elems in chunk_candidates:
            cp = max(1, elems // len(book))
            if cp > len(tune_paths) and tuning:
                continue
            t, _ = best_of(partial(numpy_reference, inputs, book, seed, tune_paths, cp, inplace), 1)
            tuning[cp] = len(tune_paths) * len(book) / t
        cp = max(tuning, key=tuning.get)
        t, times = best_of(partial(numpy_reference, inputs, book, seed, paths, cp, inplace), repeat)
        out = numpy_reference(inputs, book, seed, paths, cp, inplace)
        results[name] = {
            "chunk_paths": cp,
            "chunk_elements": cp * len(book),
            "tuning_rate_by_chunk_paths": tuning,
            "seconds": t,
            "seconds_all": times,
            "paths": len(paths),
            "draws": len(paths) * len(book),
            "rate": len(paths) * len(book) / t,
            "out": out,
        }
    return results


def assert_same_as_kernel(ds, ref: dict, paths: np.ndarray):
    seg = ds.isel(segment=0, year=0).sel(path=paths)
    for name, got in ref.items():
        kernel = seg[name].values
        if not np.array_equal(kernel, got):
            bad = np.flatnonzero(kernel != got)
            raise AssertionError(
                f"NumPy reference differs from the kernel in {name} on "
                f"{len(bad)} paths, e.g. path {paths[bad[0]]}: "
                f"{got[bad[0]]!r} vs {kernel[bad[0]]!r}"
            )
    # the layout indices the kernel wrote them at, for the record
    return {
        "checked_paths": len(paths),
        "variables": [SEGMENT_VARIABLES[i] for i in (DEFAULTS_COUNT, DEFAULT_AMOUNT, CREDIT_LOSS)],
        "total_defaults": float(ref["defaults_count"].sum()),
    }


# --------------------------------------------------------------------------- c. generator alone


@njit(parallel=True, cache=True)
def philox_only(seed, first_path, n_paths, id_lo, id_hi, gen_year, purpose, out):
    """The hot loop's Philox blocks and nothing else: prange over paths, all loans per path,
    the four words folded into a per-path accumulator so nothing is optimised away. The
    cipher is inlined with its rounds in registers, so the compiler vectorises this loop
    across loans: the fastest Philox4x32-10 we found in Numba on the development machine."""
    for i in prange(n_paths):
        path = first_path + i
        acc = np.uint64(0)
        for r in range(id_lo.shape[0]):
            w0, w1, w2, w3 = philox4x32_10_inlined(
                id_lo[r], id_hi[r], gen_year, purpose, seed, path
            )
            acc += (np.uint64(w0) ^ np.uint64(w1)) + (np.uint64(w2) ^ np.uint64(w3))
        out[i] = acc


@njit(parallel=True, cache=True)
def philox_only_batched(seed, first_path, n_paths, id_lo, id_hi, gen_year, purpose, out):
    """The same blocks drawn the way the kernel's record loop draws them: the batch cipher
    (the same inlined cipher, lanes across records) over chunks of 256 records, its words
    stored and then folded as above."""
    for i in prange(n_paths):
        path = first_path + i
        words = np.empty((4, 256), dtype=np.uint32)
        acc = np.uint64(0)
        for first in range(0, id_lo.shape[0], 256):
            n = min(256, id_lo.shape[0] - first)
            philox4x32_10_batch(
                id_lo,
                id_hi,
                first,
                n,
                gen_year,
                purpose,
                seed,
                path,
                words[0],
                words[1],
                words[2],
                words[3],
            )
            for k in range(n):
                acc += (np.uint64(words[0, k]) ^ np.uint64(words[1, k])) + (
                    np.uint64(words[2, k]) ^ np.uint64(words[3, k])
                )
        out[i] = acc


def bench_generator(book, seed, paths: int, block_size: int, repeat: int) -> dict:
    """Philox alone, scalar and batched; the faster one is the generator's rate."""
    results = {}
    for name, kernel in (("scalar", philox_only), ("batched", philox_only_batched)):
        results[name] = _bench_generator(kernel, book, seed, paths, block_size, repeat)
    best = max(results.values(), key=lambda r: r["rate"])
    return {
        **best,
        "scalar_rate": results["scalar"]["rate"],
        "batched_rate": results["batched"]["rate"],
    }


def _bench_generator(kernel, book, seed, paths: int, block_size: int, repeat: int) -> dict:
    out = np.zeros(paths, dtype=np.uint64)
    args = (book.id_lo, book.id_hi, np.int64(0), np.int64(PURPOSE_DEFAULT))
    kernel(np.uint32(seed), 0, 2, *args, out[:2])  # compile

    def run():
        for first in range(0, paths, block_size):  # the same blocks as simulate()
            last = min(first + block_size, paths)
            kernel(np.uint32(seed), first, last - first, *args, out[first:last])

    t, times = best_of(run, repeat)
    # spot check: the folded words of path 0 equal the NumPy cipher's
    w = philox_numpy(
        book.id_lo.astype(np.uint64), book.id_hi.astype(np.uint64), 0, PURPOSE_DEFAULT, seed, 0
    )
    expected = np.sum((w[0] ^ w[1]) + (w[2] ^ w[3]), dtype=np.uint64)
    assert int(out[0]) == int(expected), "generator benchmark folded the wrong words"
    draws = paths * len(book)
    return {
        "paths": paths,
        "draws": draws,
        "seconds": t,
        "seconds_all": times,
        "rate": draws / t,
        "threads": numba.get_num_threads(),
    }


# --------------------------------------------------------------------------- d. full model


def bench_full_model(paths: int, granularity: str, repeat: int) -> dict:
    scenario = gs.load_scenario(COUNTY, overrides=[f"simulation.granularity={granularity}"])
    seed = scenario.simulation.seed
    # the kernels' inputs as simulate() builds them: drawn parameters at their centres
    inputs = build_inputs(central_scenario(scenario), seed)
    books = inputs.loan_books
    n_loans = int(sum(int(b.n_loans.sum()) for b in books) / len(books))
    records = int(sum(len(b) for b in books) / len(books))
    ly = sum(loan_years(b) for b in books) / len(books)
    record_years = sum(loan_years(_one_loan_per_record(b)) for b in books) / len(books)
    gs.simulate(scenario, paths=min(paths, 8), seed=seed)  # compile / load cache
    kernel_times, total_times = [], []
    ds = None
    for _ in range(repeat):
        with kernel_timer() as spent:
            t0 = time.perf_counter()
            ds = gs.simulate(scenario, paths=paths, seed=seed)
            total_times.append(time.perf_counter() - t0)
        kernel_times.append(spent[0])
    k, t = min(kernel_times), min(total_times)
    # Renewals: a renewed loan counts in loans_count but not in borrowers, so per path
    # renewal loans = sum(loans_count - borrowers). Their calendar-year windows are not in
    # the outputs; estimate 1 + (tenor - 1) / 12 each (start month uniform over the year).
    renewals = float((ds.loans_count - ds.borrowers).sum(("year", "segment")).mean("path"))
    tenor_into = _renewal_tenor(scenario)
    renewal_years = renewals * (1.0 + (tenor_into - 1) / 12.0)
    return {
        "granularity": granularity,
        "paths": paths,
        "block_size": scenario.simulation.block_size,
        "records": records,
        "loans": n_loans,
        "loan_years_per_path": ly,
        "record_years_per_path": record_years,
        "renewal_loans_per_path": renewals,
        "renewal_loan_years_per_path_est": renewal_years,
        "kernel_s": k,
        "kernel_s_all": kernel_times,
        "simulate_s": t,
        "simulate_s_all": total_times,
        "rate": ly * paths / k,
        "rate_with_renewals": (ly + renewal_years) * paths / k,
        "rate_simulate": ly * paths / t,
        "record_rate": record_years * paths / k,
    }


def _one_loan_per_record(book: LoanBook) -> LoanBook:
    from dataclasses import replace

    return replace(book, n_loans=np.ones(len(book), dtype=np.int64))


def _renewal_tenor(scenario) -> float:
    tenors = [
        scenario.segments[s.renewal.into or name].tenor_months
        for name, s in scenario.segments.items()
        if s.renewal is not None
    ]
    return float(np.mean(tenors)) if tenors else 12.0


# --------------------------------------------------------------------------- e. memory


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def memory_child(paths: int, block_size: int) -> dict:
    """Run in a fresh process: peak RSS growth of (1) the kernel calls alone, with the
    output arrays allocated and touched beforehand, (2) a whole simulate() call, less the
    size of its three output arrays."""
    from guarantee_sim.engine.parameters import path_parameters
    from guarantee_sim.kernels.portfolio import simulate_block

    scenario = gs.load_scenario(COUNTY)
    seed = scenario.simulation.seed
    gs.simulate(scenario, paths=4, seed=seed, block_size=block_size)  # compile / load cache
    inputs = build_inputs(central_scenario(scenario), seed)
    n_years, n_seg = inputs.settings.n_years, len(scenario.segments)
    n_party = len(inputs.party_names) + 1
    outs = [
        np.ones((paths, len(SEGMENT_VARIABLES), n_years, n_seg)),
        np.ones((paths, len(PARTY_VARIABLES), n_years, n_party)),
        np.ones((paths, len(YEAR_VARIABLES), n_years)),
    ]
    out_bytes = sum(o.nbytes for o in outs)
    gc.collect()
    exact = _reset_peak()
    base = _status_kb("VmRSS") if exact else _status_kb("VmHWM")
    for first in range(0, paths, block_size):
        last = min(first + block_size, paths)
        simulate_block(
            np.uint32(seed),
            first,
            inputs.book,
            inputs.segments,
            inputs.parties,
            inputs.macro,
            inputs.settings,
            path_parameters([], np.empty((last - first, 0)), inputs.segments),
            Outputs(*(o[first:last] for o in outs)),
        )
    kernel_growth = (_status_kb("VmHWM") - base) * 1024
    del outs
    gc.collect()
    exact = _reset_peak() and exact
    base = _status_kb("VmRSS") if exact else _status_kb("VmHWM")
    ds = gs.simulate(scenario, paths=paths, seed=seed, block_size=block_size)
    simulate_growth = (_status_kb("VmHWM") - base) * 1024
    dataset_bytes = int(ds.nbytes)
    return {
        "paths": paths,
        "block_size": block_size,
        "peak_reset": exact,
        "output_bytes": out_bytes,
        "kernel_peak_growth": kernel_growth,
        "simulate_peak_growth": simulate_growth,
        "simulate_growth_minus_outputs": simulate_growth - out_bytes,
        "dataset_bytes": dataset_bytes,
    }


def bench_memory(path_counts, block_size: int) -> list[dict]:
    rows = []
    for paths in path_counts:
        cmd = [
            sys.executable,
            __file__,
            "--memory-child",
            str(paths),
            "--block-size",
            str(block_size),
        ]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=os.environ.copy(), check=False
        )
        if proc.returncode != 0:
            rows.append({"paths": paths, "error": proc.stderr.strip().splitlines()[-1:]})
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return rows


# --------------------------------------------------------------------------- report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--json", type=Path, help="also write all numbers to this file")
    parser.add_argument("--loans", type=int, help="hot loop: loans (default 20000; quick 5000)")
    parser.add_argument("--paths", type=int, help="hot loop: paths (default 2000; quick 400)")
    parser.add_argument("--repeat", type=int, help="timed repetitions, best kept (3; quick 2)")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--block-size", type=int, default=250, help=argparse.SUPPRESS)
    return parser


def _sizes(args: argparse.Namespace) -> dict:
    """Loans, paths and repetitions of each measure, from the options (``--quick``: small)."""
    quick = args.quick
    paths = args.paths or (400 if quick else 2_000)
    return {
        "quick": quick,
        "n_loans": args.loans or (5_000 if quick else 20_000),
        "paths": paths,
        "repeat": args.repeat or (2 if quick else 3),
        "ref_paths": min(paths, 100 if quick else 400),
        "full_paths": 200 if quick else 2_000,
        "memory_paths": (250, 2_000) if quick else (1_000, 8_000),
        "block_size": 250,
        "seed": 20211231,
    }


def _print_machine(info: dict, quick: bool) -> None:
    print(f"guarantee_sim benchmarks{' (quick)' if quick else ''} -- {info['date']}")
    print(
        f"machine: {info['cpu']}; {info['cores']} cores ({info['cores_usable']} usable); "
        f"NUMBA_NUM_THREADS={info['NUMBA_NUM_THREADS']} (using {info['numba_threads_used']}); "
        f"python {info['python']}, numpy {info['numpy']}, numba {info['numba']}; "
        f"load average at start {info['load_average_start']}"
    )
    print(f"numba cache: {info['numba_cache']}")
    print(flush=True)


def _measure(sz: dict, info: dict) -> dict:
    """Measures a. to e., printing a line as each is done."""
    n_loans, paths, repeat, block_size, seed = (
        sz["n_loans"],
        sz["paths"],
        sz["repeat"],
        sz["block_size"],
        sz["seed"],
    )
    # a. hot loop
    scenario = hot_scenario(block_size)
    book = hot_book(scenario, n_loans)
    hot = bench_hot_loop(scenario, book, paths, seed, repeat)
    info["threading_layer"] = numba.threading_layer()
    ds = hot.pop("dataset")
    threads = numba.get_num_threads()
    hot1 = None
    if threads > 1:
        numba.set_num_threads(1)
        try:
            p1 = max(block_size, paths // threads)
            hot1 = bench_hot_loop(scenario, book, p1, seed, max(1, repeat - 1))
            hot1.pop("dataset")
        finally:
            numba.set_num_threads(threads)
    print(
        f"a. hot loop: {n_loans:,} loans x {paths:,} paths, block {block_size}, "
        f"{threads} threads: kernel {hot['kernel_s']:.3f} s (simulate() {hot['simulate_s']:.3f} s)",
        flush=True,
    )

    # b. NumPy reference
    inputs = build_inputs(scenario, seed, book)
    ref_ids = np.arange(sz["ref_paths"], dtype=np.int64)
    numpy_res = bench_numpy(inputs, book, seed, ref_ids, (2**14, 2**16, 2**18, 2**20), repeat)
    checks = {}
    for name, res in numpy_res.items():
        checks[name] = assert_same_as_kernel(ds, res.pop("out"), ref_ids)
    print(
        f"b. NumPy reference: {sz['ref_paths']:,} paths; identical defaults, default amounts and "
        f"credit losses to the kernel's on all of them "
        f"({checks['inplace']['total_defaults']:,.0f} defaults)",
        flush=True,
    )

    # c. generator alone
    gen = bench_generator(book, seed, paths, block_size, repeat)
    print(f"c. Philox alone: {gen['seconds']:.3f} s", flush=True)

    # d. full model
    full_paths = sz["full_paths"]
    full = {
        g: bench_full_model(full_paths, g, repeat if g == "loan" else max(1, repeat - 1))
        for g in ("loan", "cohort")
    }
    print(
        f"d. full model: {full_paths:,} paths, loan {full['loan']['kernel_s']:.2f} s, "
        f"cohort {full['cohort']['kernel_s']:.2f} s",
        flush=True,
    )

    # e. memory
    memory = bench_memory(sz["memory_paths"], block_size)
    print("e. memory: done", flush=True)
    return {
        "hot": hot,
        "hot1": hot1,
        "threads": threads,
        "numpy": numpy_res,
        "checks": checks,
        "gen": gen,
        "full": full,
        "memory": memory,
    }


def _rate_rows(m: dict, n_loans: int) -> list[tuple[str, float, str]]:
    """The rows of the rates table: (measure, rate, notes)."""
    hot, hot1, gen, full = m["hot"], m["hot1"], m["gen"], m["full"]
    rows = [
        (
            "a. hot loop (production kernel)",
            hot["rate"],
            f"{m['threads']} thr; kernel time inside simulate()",
        ),
        (
            "   same, whole simulate() call",
            hot["rate_simulate"],
            "incl. inputs and results Dataset",
        ),
    ]
    if hot1:
        rows.append(("   hot loop at 1 thread", hot1["rate"], f"{hot1['paths']:,} paths"))
    for name in ("plain", "inplace"):
        r = m["numpy"][name]
        rows.append(
            (
                f"b. NumPy reference ({name})",
                r["rate"],
                f"1 thr; chunk {r['chunk_paths']} paths x {n_loans:,} loans",
            )
        )
    rows += [
        (
            "c. Philox4x32-10 alone (same counters)",
            gen["rate"],
            f"{gen['threads']} thr; the faster of scalar {fmt_rate(gen['scalar_rate'])} and "
            f"batched {fmt_rate(gen['batched_rate'])}",
        ),
    ]
    for g in ("loan", "cohort"):
        f = full[g]
        rows.append(
            (
                f"d. full model, {g} ({f['records']:,} records)",
                f["rate"],
                f"loan-path-years/s, renewals excluded; {f['paths']:,} paths",
            )
        )
        rows.append(
            (
                "   incl. renewals (estimated)",
                f["rate_with_renewals"],
                f"+{f['renewal_loans_per_path']:,.0f} renewal loans/path",
            )
        )
        if g == "cohort":
            rows.append(("   cohort records", f["record_rate"], "record-path-years/s"))
    return rows


def _print_rates(rows: list[tuple[str, float, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print()
    print(f"{'measure':{width}}  {'rate':>12}  notes")
    print(f"{'-' * width}  {'-' * 12}  {'-' * 40}")
    for label, rate, note in rows:
        print(f"{label:{width}}  {fmt_rate(rate):>12}  {note}")


def _print_memory(memory: list[dict]) -> None:
    print()
    print("e. working memory (county scenario, loan granularity, block 250, fresh process each):")
    print(
        f"   {'paths':>6}  {'kernel peak RSS growth':>22}  {'simulate() growth - outputs':>27}  "
        f"{'outputs':>9}"
    )
    for m in memory:
        if "error" in m:
            print(f"   {m['paths']:>6}  failed: {m['error']}")
            continue
        print(
            f"   {m['paths']:>6}  {m['kernel_peak_growth'] / 2**10:>19,.0f} kB  "
            f"{m['simulate_growth_minus_outputs'] / 2**10:>24,.0f} kB  "
            f"{m['output_bytes'] / 2**20:>6.1f} MB"
        )


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _print_ratios(m: dict) -> tuple[float, ...]:
    """f.: the ratios against their targets; returns the load average at the end."""
    hot, hot1, gen, numpy_res = m["hot"], m["hot1"], m["gen"], m["numpy"]
    vs_gen = hot["rate"] / gen["rate"]
    print()
    print(f"f. ratios (targets on 2 cores; this run: {m['threads']} threads):")
    for name, label in (
        ("plain", "(plain, as most people write it)"),
        ("inplace", "(tuned, in-place ufuncs)"),
    ):
        r = hot["rate"] / numpy_res[name]["rate"]
        print(
            f"   hot loop / NumPy reference {label:32s} = {r:8.2f}x   "
            f"target >= {TARGET_VS_NUMPY:g}x   {_verdict(r >= TARGET_VS_NUMPY)}"
        )
    print(
        f"   hot loop / Philox alone{'':36s} = {vs_gen:8.3f}x   "
        f"target >= {TARGET_VS_GENERATOR:g}x  {_verdict(vs_gen >= TARGET_VS_GENERATOR)}"
    )
    print(
        f"   (Philox alone / NumPy plain = {gen['rate'] / numpy_res['plain']['rate']:.1f}x, "
        f"/ NumPy tuned = {gen['rate'] / numpy_res['inplace']['rate']:.1f}x: "
        "the most a kernel drawing these blocks could reach)"
    )
    if hot1:
        print(
            f"   per thread: hot loop at 1 thread / NumPy plain = "
            f"{hot1['rate'] / numpy_res['plain']['rate']:.2f}x; "
            f"2-thread / 1-thread hot loop = {hot['rate'] / hot1['rate']:.2f}x"
        )
    mem_ok = [x for x in m["memory"] if "error" not in x]
    if len(mem_ok) == 2:
        grow = mem_ok[1]["kernel_peak_growth"] - mem_ok[0]["kernel_peak_growth"]
        print(
            f"   kernel working memory at {mem_ok[1]['paths']:,} minus at {mem_ok[0]['paths']:,} "
            f"paths = {grow / 2**10:+,.0f} kB "
            f"({_verdict(abs(grow) < 2**20)}: independent of paths, within 1 MB)"
        )
    load = os.getloadavg()
    print(
        f"   load average at end {[round(x, 2) for x in load]} "
        f"(other processes on the machine make every rate lower and noisier)"
    )
    return load


def _results(info: dict, m: dict, load: tuple[float, ...], quick: bool) -> dict:
    """Every number of the run, for ``--json``."""
    hot, numpy_res = m["hot"], m["numpy"]
    return {
        "machine": info,
        "hot_loop": hot,
        "hot_loop_1_thread": m["hot1"],
        "numpy_reference": numpy_res,
        "numpy_check": m["checks"],
        "generator": m["gen"],
        "full_model": m["full"],
        "memory": m["memory"],
        "ratios": {
            "hot_vs_numpy": hot["rate"] / numpy_res["plain"]["rate"],
            "hot_vs_numpy_tuned": hot["rate"] / numpy_res["inplace"]["rate"],
            "hot_vs_generator": hot["rate"] / m["gen"]["rate"],
            "targets": {
                "hot_vs_numpy": TARGET_VS_NUMPY,
                "hot_vs_generator": TARGET_VS_GENERATOR,
            },
        },
        "load_average_end": list(load),
        "quick": quick,
    }


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, args.block_size)))
        return 0
    sizes = _sizes(args)
    info = machine()
    _print_machine(info, sizes["quick"])
    check_philox_numpy()
    measured = _measure(sizes, info)
    _print_rates(_rate_rows(measured, sizes["n_loans"]))
    _print_memory(measured["memory"])
    load = _print_ratios(measured)
    if args.json:
        results = _results(info, measured, load, sizes["quick"])
        args.json.write_text(json.dumps(results, indent=1, default=_json_default))
        print(f"wrote {args.json}")
    return 0


def _json_default(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


if __name__ == "__main__":
    sys.exit(main())
