"""The cold-run table's bookkeeping (benchmarks/compile_times.py): own and inclusive time."""

import time

import pytest

from benchmarks.compile_times import _Recorder


def test_a_callers_own_time_leaves_out_its_callees():
    # Numba compiles a callee from inside its caller's compilation: the caller's own time
    # is its inclusive time minus the callees', and frames close innermost first
    now = time.thread_time()
    stack = [["caller", now - 10.0, 0.0], ["callee", now - 4.0, 0.0]]
    name, (inclusive, own) = _Recorder._close(stack)
    assert name == "callee"
    assert inclusive == pytest.approx(4.0, abs=0.5) and own == pytest.approx(4.0, abs=0.5)
    name, (inclusive, own) = _Recorder._close(stack)
    assert name == "caller" and stack == []
    assert inclusive == pytest.approx(10.0, abs=0.5)
    assert own == pytest.approx(6.0, abs=0.5)
