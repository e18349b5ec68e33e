"""The generator alone: the hot loop's Philox4x32-10 blocks and nothing else.

The yardstick of issue 10 §1: the fastest correct Philox4x32-10 Numba runs here, drawing
the words the kernel draws (one block per loan-window: counter (id_lo, id_hi,
generation << 16 | year, ``PURPOSE_DEFAULT``), key (seed, path)), in the same blocks of
paths and at the same thread count as the kernel. Both variants use
``philox4x32_10_inlined``, the package's one implementation of the cipher (rounds in
registers, inlined so the loop over loans vectorises across loans), which the kernel draws
through ``philox4x32_10_batch``:

* ``registers``: the words folded into a per-path sum as they are made (nothing stored):
  the fastest, so the yardstick;
* ``batch``: ``philox4x32_10_batch`` over chunks of 256 records, its words stored and then
  folded, as the kernel's record loop draws them (what storing the words costs).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from guarantee_sim.book import LoanBook
from guarantee_sim.kernels.factors import PURPOSE_DEFAULT
from guarantee_sim.philox import jit, philox4x32_10_batch, philox4x32_10_inlined

from .numpy_reference import philox_numpy
from .workloads import BLOCK_SIZE, SEED


@jit(parallel=True)
def philox_registers(seed, first_path, id_lo, id_hi, gen_year, purpose, out):
    """Each path's blocks (prange over paths, all loans per path), the four words folded
    into ``out[path]`` so nothing is optimised away."""
    for i in prange(out.shape[0]):
        path = first_path + i
        acc = np.uint64(0)
        for r in range(id_lo.shape[0]):
            w0, w1, w2, w3 = philox4x32_10_inlined(
                id_lo[r], id_hi[r], gen_year, purpose, seed, path
            )
            acc += (np.uint64(w0) ^ np.uint64(w1)) + (np.uint64(w2) ^ np.uint64(w3))
        out[i] = acc


@jit(parallel=True)
def philox_batch(seed, first_path, id_lo, id_hi, gen_year, purpose, out):
    """The same blocks through the batch cipher, 256 records at a time, words stored."""
    for i in prange(out.shape[0]):
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


VARIANTS = {"registers": philox_registers, "batch": philox_batch}


def run_generator(variant: str, book: LoanBook, out: np.ndarray, seed: int = SEED) -> None:
    """Every path of ``out``'s blocks for every loan of ``book``, in the kernel's blocks."""
    kernel = VARIANTS[variant]
    args = (book.id_lo, book.id_hi, np.int64(0), np.int64(PURPOSE_DEFAULT))
    for first in range(0, out.shape[0], BLOCK_SIZE):
        kernel(np.uint32(seed), first, *args, out[first : first + BLOCK_SIZE])


def expected_fold(book: LoanBook, path: int, seed: int = SEED) -> int:
    """Path ``path``'s folded words by the NumPy cipher: what the generator must give."""
    w = philox_numpy(
        book.id_lo.astype(np.uint64), book.id_hi.astype(np.uint64), 0, PURPOSE_DEFAULT, seed, path
    )
    return int(np.sum((w[0] ^ w[1]) + (w[2] ^ w[3]), dtype=np.uint64))
