"""The benchmarks' yardsticks are right: the NumPy Philox4x32-10 (independent of the
package's jitted cipher) gives Random123's known answers, and the plain NumPy reference of
the hot loop computes what the kernel computes, bit for bit (benchmarks/README.md)."""

from __future__ import annotations

import numpy as np
import pytest
from test_rng import KAT

import guarantee_sim as gs
from benchmarks.numpy_reference import PhiloxInPlace, numpy_reference, philox_numpy
from benchmarks.workloads import SEED, hot_book, hot_scenario
from guarantee_sim.engine.inputs import build_inputs
from guarantee_sim.philox import philox4x32_10


def _columns(vectors) -> tuple[np.ndarray, ...]:
    """Six uint64 arrays (counter words, key words), one entry per vector."""
    return tuple(np.array(col, dtype=np.uint64) for col in zip(*vectors, strict=True))


def test_numpy_philox_gives_random123_known_answers():
    counters_keys = _columns([(*ctr, *key) for ctr, key, _ in KAT])
    expected = np.array([e for _, _, e in KAT], dtype=np.uint64).T
    assert np.array_equal(np.array(philox_numpy(*counters_keys)), expected)
    # the in-place variant takes one key k0 for all, and k1 per row: one vector at a time
    for i, (ctr, key, want) in enumerate(KAT):
        got = PhiloxInPlace((1, 1))(
            *(np.full((1, 1), c, dtype=np.uint64) for c in ctr),
            key[0],
            np.full((1, 1), key[1], dtype=np.uint64),
        )
        assert tuple(int(w[0, 0]) for w in got) == want, i


def test_numpy_philox_agrees_with_the_kernels_cipher_on_random_inputs():
    rng = np.random.default_rng(3)
    c = rng.integers(0, 2**32, size=(6, 64), dtype=np.uint64)
    jitted = np.array([philox4x32_10(*(int(v) for v in c[:, i])) for i in range(64)]).T
    assert np.array_equal(np.array(philox_numpy(*c)), jitted)


@pytest.mark.parametrize("inplace", [False, True], ids=["plain", "inplace"])
def test_numpy_reference_equals_the_kernel_bit_for_bit(inplace):
    scenario = hot_scenario()
    book = hot_book(scenario, 3_000)
    paths = np.arange(40, dtype=np.int64)
    ds = gs.simulate(scenario, paths=len(paths), seed=SEED, book=book)
    kernel = ds.isel(segment=0, year=0)
    # 16 paths a chunk: two full chunks and a partial one
    ref = numpy_reference(build_inputs(scenario, SEED, book), book, SEED, paths, 16, inplace)
    assert ref["defaults_count"].sum() > 1_000  # PD 3% on 3,000 loans x 40 paths
    for name, values in ref.items():
        np.testing.assert_array_equal(values, kernel[name].values, err_msg=name)
