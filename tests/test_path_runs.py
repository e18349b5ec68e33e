"""How ``simulate_block`` hands a block's paths to its threads (``_PathRuns``): every path
exactly once, whatever the threads' timing, so the thread count changes no number
(``test_reproducibility`` checks the numbers themselves)."""

from __future__ import annotations

import itertools
import threading

import pytest

from guarantee_sim.kernels.portfolio import _PathRuns


def _all_runs(runs: _PathRuns) -> list[tuple[int, int]]:
    taken = []
    while (run := runs.take()) is not None:
        taken.append(run)
    return taken


@pytest.mark.parametrize("paths", [1, 3, 4, 5, 17, 250, 1001])
@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_runs_cover_every_path_once_in_order(paths, threads):
    taken = _all_runs(_PathRuns(paths, threads))
    assert taken[0][0] == 0 and taken[-1][1] == paths
    assert all(a[1] == b[0] for a, b in itertools.pairwise(taken))
    sizes = [hi - lo for lo, hi in taken]
    assert all(s >= 1 for s in sizes)
    # shrinking runs, never below the smallest but for the last
    assert all(s >= _PathRuns.SMALLEST for s in sizes[:-1])
    assert sizes == sorted(sizes, reverse=True)


def test_threads_taking_at_once_share_the_paths_exactly():
    runs = _PathRuns(20_000, 8)
    seen = [0] * 20_000
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        while (run := runs.take()) is not None:
            for p in range(*run):
                seen[p] += 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [1] * 20_000
