"""The plain NumPy reference of the hot loop, and a NumPy Philox4x32-10 independent of the
package's jitted one.

The hot loop's computation (one Philox block per loan and path, a threshold test, the month
of default, default amounts and credit losses of year 0 per path) written the way most
people would write it in NumPy: vectorised over (chunk of paths x all loans), the only
Python loops over path chunks and the 10 cipher rounds. ``tests/test_numpy_reference.py``
checks it against the kernel bit for bit and the cipher against Random123's known answers;
``bench_yardsticks.NumpyReference`` times it.
"""

from __future__ import annotations

import numpy as np

from guarantee_sim.book import LoanBook
from guarantee_sim.engine.inputs import KernelInputs
from guarantee_sim.kernels.factors import (
    PURPOSE_DEFAULT,
    conditional_thresholds,
    draw_factors,
)

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


def path_thresholds(
    inputs: KernelInputs, seed: int, paths: np.ndarray, window: int = 12, year: int = 0
) -> np.ndarray:
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
    inputs: KernelInputs,
    book: LoanBook,
    seed: int,
    paths: np.ndarray,
    chunk_paths: int,
    inplace: bool = False,
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
