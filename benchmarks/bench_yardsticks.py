"""The hot loop's two yardsticks (issue 10 §1), on the hot loop's loans and seed: the plain
NumPy reference of the same computation, and the generator alone."""

from __future__ import annotations

import numpy as np

from .generator import VARIANTS, expected_fold, run_generator
from .numpy_reference import numpy_reference
from .workloads import SEED, SIZES, TINY, hot_inputs, threads


class NumpyReference:
    """``numpy_reference.numpy_reference`` on ``SIZES["numpy_paths"]`` paths x the hot
    loop's loans, one thread (NumPy's ufuncs do not thread). ``plain``: one expression per
    cipher round, NumPy allocating the temporaries (the way most people write it);
    ``inplace``: preallocated buffers and ``out=`` ufuncs. ``chunk``: elements (paths x
    loans) per vectorised step (tiny mode: 2^16 only); the ratio table takes the fastest."""

    params = (("plain", "inplace"), (2**16,) if TINY else (2**16, 2**18, 2**20))
    param_names = ("variant", "chunk")

    def setup(self, variant, chunk):
        self.inputs, self.book = hot_inputs(SIZES["hot_loans"])
        self.paths = np.arange(SIZES["numpy_paths"], dtype=np.int64)
        self.chunk_paths = max(1, chunk // len(self.book))
        self.inplace = variant == "inplace"
        self.draws = len(self.book) * len(self.paths)
        # the jitted per-path thresholds are compiled or loaded here, not timed
        numpy_reference(self.inputs, self.book, SEED, self.paths[:1], 1, self.inplace)

    def time_reference(self, variant, chunk):
        numpy_reference(self.inputs, self.book, SEED, self.paths, self.chunk_paths, self.inplace)

    def peakmem_reference(self, variant, chunk):
        numpy_reference(self.inputs, self.book, SEED, self.paths, self.chunk_paths, self.inplace)


class Generator:
    """The hot loop's Philox4x32-10 blocks alone (``generator.py``): the same keys,
    counters, blocks of paths and threads as ``HotLoop``. ``registers`` is the yardstick
    (the fastest); ``batch`` stores the words as the kernel's batch cipher does."""

    params = (tuple(VARIANTS), (1, 2))
    param_names = ("variant", "threads")
    timeout = 600  # compiling the two parallel loops on a cold cache

    def setup(self, variant, n_threads):
        self.threads = threads(n_threads)
        _, self.book = hot_inputs(SIZES["hot_loans"])
        self.out = np.zeros(SIZES["hot_paths"], dtype=np.uint64)
        self.draws = len(self.book) * len(self.out)
        run_generator(variant, self.book, self.out[:2])
        # the words it draws are the kernel's: path 1's fold equals the NumPy cipher's
        if int(self.out[1]) != expected_fold(self.book, 1):
            raise AssertionError(f"generator {variant!r} drew other words than the kernel's")

    def time_generator(self, variant, n_threads):
        run_generator(variant, self.book, self.out)

    def peakmem_generator(self, variant, n_threads):
        run_generator(variant, self.book, self.out)
