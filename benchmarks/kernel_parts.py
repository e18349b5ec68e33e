"""Where the default run's kernel time goes, by part: a probe kernel run with parts cut off.

    python -m benchmarks.kernel_parts [--paths 400] [--rounds 5]   # from the repository's root

Issue 10 §1: profile the kernel on the default run (``scenarios/hangzhou_2021_2023.yaml``,
cohort granularity, its institution processes' books) before attacking a part. One thread,
CPU seconds (``time.process_time``), median of interleaved rounds, parameters at their
centres. :func:`_probe` is ``portfolio.simulate_path``'s steps, the same functions in the
same order, stopped after a given stage; each stage's time minus the previous one's is the
cost of its part:

1. setup: ``path_segments``, ``start_path`` (year factors, default thresholds, the ledger);
2. the monthly steps (waterfall, pools, capital, accruals), each month's standard lending
   booked in aggregate, no record originated;
3. demand thinning (``origination.thin_month``: a binomial per new record);
4. records: each chunk's first Philox blocks and the screen (``_screen``);
5. records: the general path (``_originate_record``: default counts by binomial inversion,
   their month split, renewals, booking), which makes the whole kernel.

At stage 5 the probe is the production kernel; the script checks that it gives the same
outputs bit for bit, so the probe cannot drift from the kernel unnoticed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from guarantee_sim.engine.parameters import path_parameters
from guarantee_sim.kernels import origination as orig
from guarantee_sim.kernels import portfolio as port
from guarantee_sim.kernels.layout import POOL, UNMET_DEMAND, Outputs, PathParameters
from guarantee_sim.kernels.waterfall import allocate_losses
from guarantee_sim.philox import jit

from .workloads import SEED, full_model, outputs, threads

SETUP, MONTHLY, THINNING, SCREEN, GENERAL = range(1, 6)
STAGES = {
    SETUP: "setup (start_path)",
    MONTHLY: "monthly steps, lending in aggregate",
    THINNING: "demand thinning",
    SCREEN: "records: batch cipher and screen",
    GENERAL: "records: general path",
}


@jit()
def _probe(stage, seed, book, fixed_seg, party, macro, settings, params, out):
    for i in range(out.segment.shape[0]):
        pp = PathParameters(
            params.pd_scale[i], params.rho[i], params.lgd[i], params.recovery_lag[i]
        )
        o = Outputs(out.segment[i], out.party[i], out.year[i])
        replica = i % book.n_initial.shape[0]
        seg = port.path_segments(fixed_seg, pp)
        draws, ledger, state, scratch = port.start_path(
            seed, i, book, seg, party, macro, settings, pp.pd_scale
        )
        port._record_demand(draws, macro, o)
        if stage == SETUP:
            continue
        for now in range(settings.months):
            y = now // 12
            port._apply_scheduled_changes(now, ledger)
            if now % 12 == 0:
                port._open_year(now, y, party, settings, ledger, state, o)
            port._move_due_cash(now, y, party, ledger, state, o)
            port._check_breakers(now, y, party, ledger, state, o)
            if now == 0 and stage >= SCREEN:
                first = book.replica_start[replica]
                last = first + book.n_initial[replica]
                _records(
                    stage, first, last, now < 0, now, book, seg, settings, draws, ledger, scratch, o
                )
            if now < settings.origination_months:
                _lend(
                    stage,
                    now,
                    replica,
                    book,
                    seg,
                    party,
                    settings,
                    draws,
                    ledger,
                    state,
                    scratch,
                    o,
                )
            port._track_covered_base(now, party, ledger, state)
            port._record_credit_loss(now, y, seg, ledger, o)
            allocate_losses(now, y, seg, party, ledger, state, scratch, o)
            port._accrue(y, party, settings, ledger, state, o)
            if now % 12 == 11 or now == settings.months - 1:
                port._close_year(now, y, party, ledger, state, o)
                port._public_cash(y, party, o)
            port._mark_exhausted(y, party, state, o)


@jit()
def _lend(stage, now, replica, book, seg, party, settings, draws, ledger, state, scratch, out):
    """``portfolio._lend`` with thinning from THINNING and records from SCREEN on."""
    y = now // 12
    first = book.month_start[replica, now]
    last = book.month_start[replica, now + 1]
    if scratch.kept.shape[0] > 0 and stage >= THINNING:
        orig.thin_month(first, last, now, book, draws, scratch)
        new_amount = scratch.demand
        counts, amounts = scratch.standard_count, scratch.standard_amount
        subsidised = scratch.standard_subsidised
    else:
        new_amount = book.new_amount[replica, now]
        counts, amounts = book.standard_count[replica, now], book.standard_amount[replica, now]
        subsidised = book.standard_subsidised[replica, now]
    admitted = scratch.admitted
    port.admitted_shares(new_amount, now, seg, party, settings, ledger, state, scratch, out)
    for s in range(admitted.shape[0]):
        refused = 0.0
        for b in range(new_amount.shape[1]):
            refused += new_amount[s, b]
        out.segment[UNMET_DEMAND, y, s] += refused * (1.0 - admitted[s])
    orig.book_standard_lending(counts, amounts, subsidised, now, seg, admitted, ledger, out)
    if stage >= SCREEN:
        _records(
            stage, first, last, now >= 0, now, book, seg, settings, draws, ledger, scratch, out
        )
    port._record_origination_leverage(new_amount, now, admitted, party, ledger, state, out)
    for p in range(party.kind.shape[0]):
        if party.kind[p] == POOL and party.npl_breaker[y, p] != np.inf:
            state.eligible_history[now, p] = max(
                state.eligible_history[now, p],
                port._balance_where(ledger.balance, party.eligible[p]),
            )


@jit()
def _records(stage, first, last, is_new, now, book, seg, settings, draws, ledger, scratch, out):
    """``origination.originate_records``, its general path from GENERAL on; the shares
    admitted are this month's (new lending), or 1 (the initial book)."""
    shares = scratch.admitted if is_new else scratch.whole
    words = scratch.words
    chunk = words[0].shape[0]
    for chunk_first in range(first, last, chunk):
        n_chunk = min(chunk, last - chunk_first)
        orig.philox4x32_10_batch(
            book.id_lo, book.id_hi, chunk_first, n_chunk, now // 12, orig.PURPOSE_DEFAULT,
            draws.seed, draws.path, words[0], words[1], words[2], words[3],
        )  # fmt: skip
        n_pending = orig._screen(
            first, chunk_first, n_chunk, is_new, now, shares, book, seg, settings, draws, scratch
        )
        if stage < GENERAL:
            continue
        for i in range(n_pending):
            r = scratch.pending[i]
            column = r - chunk_first
            scale = shares[book.segment[r]]
            if book.fast_window[r] >= 0:
                orig._fast_default(r, column, now, scale, book, seg, settings, ledger, scratch, out)
            else:
                orig._originate_record(
                    r, column, is_new, now, scale, book, seg, settings, draws, ledger, scratch, out
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, default=400, help="paths per timed call")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    args = parser.parse_args(argv)
    threads(1)
    paths = args.paths
    inputs = full_model("default-cohort").inputs
    params = path_parameters([], np.empty((paths, 0)), inputs.segments)
    bundles = (inputs.book, inputs.segments, inputs.parties, inputs.macro, inputs.settings)
    print(f"load average at start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")

    def run(stage: int) -> Outputs:
        out = outputs(inputs, paths)
        for block in out:
            block[:] = 0.0  # as simulate_block zeroes them
        if stage == 0:
            port.simulate_paths(np.uint32(SEED), 0, *bundles, params, out)
        else:
            _probe(stage, np.uint32(SEED), *bundles, params, out)
        return out

    stages = [*STAGES, 0]  # 0: the production kernel (simulate_paths)
    same = all(
        np.array_equal(a, b, equal_nan=True) for a, b in zip(run(GENERAL), run(0), strict=True)
    )  # also compiles
    times: dict[int, list[float]] = {stage: [] for stage in stages}
    for _ in range(args.rounds):
        for stage in stages:
            start = time.process_time()
            run(stage)
            times[stage].append(time.process_time() - start)
    print(f"\nthe default run's kernel, 1 thread, {paths} paths, CPU ms per path (median):")
    before = 0.0
    total = statistics.median(times[0])
    for stage, name in STAGES.items():
        med = statistics.median(times[stage])
        part = med - before
        print(f"  {name:38s} {1e3 * part / paths:6.3f}  ({part / total:4.0%})")
        before = med
    spread = [round(1e3 * t / paths, 3) for t in times[0]]
    print(f"  {'the kernel (simulate_paths)':38s} {1e3 * total / paths:6.3f}  rounds {spread}")
    print(f"  the probe at its last stage is the kernel, bit for bit: {same}")
    print(f"load average at end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
