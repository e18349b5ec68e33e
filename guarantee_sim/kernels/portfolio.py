"""One Monte Carlo path of the whole system, month by month, and the block driver.

:func:`simulate_path` is the steps below, each a named function taking a few bundles
(``layout.py``). It starts the path (:func:`path_segments`: the segments with the path's
drawn parameters; :func:`start_path`: the year factors and the default thresholds they
imply, an empty ledger, the parties' opening accounts), then each month:

1. :func:`_apply_scheduled_changes`: loans that matured or defaulted earlier leave the
   balance, loans starting now join it;
2. :func:`_open_year` (January): capital injections, pool contributions, the year's
   counters reset;
3. :func:`_move_due_cash`: payouts and recoveries scheduled for this month move;
4. :func:`_check_breakers`: whether each pool's circuit breaker is tripped (and so
   whether it tripped in the year);
5. month 0: the initial book is originated (``origination.originate_records``);
6. :func:`_lend` (origination months): when demand follows the credit cycle, the path
   keeps its share of the month's lending (``origination.thin_month``); new lending is
   rationed by guarantor leverage and
   pool lending caps (:func:`admitted_shares`), what is refused is unmet demand, and what
   is admitted is originated, each record's whole life (defaults, renewals) drawn at once
   from its own counter-based stream;
7. :func:`_track_covered_base`: the bases of the re-guarantors' compensation rates (the
   covered balance; the covered guarantees released so far this year);
8. :func:`_record_credit_loss` and ``waterfall.allocate_losses``: this month's defaults
   are shared out by the waterfall;
9. :func:`_accrue`: fees, costs and subsidies accrue on loans alive in the month;
10. :func:`_close_year` (December and the last month): reserves are set, the year's
    state is recorded and the public sector's net cash flow is consolidated
    (:func:`_public_cash`);
11. :func:`_mark_exhausted`: whether each party's net assets are at or below zero at the
    month's end.

A path is computed by one thread, always in the same order, so results do not depend on
the thread count or on how paths are blocked (:func:`simulate_block`). Money is in CNY,
time in months, rates per year. The kernels write 0 where a kind of party has no such
variable (the bank's capital, unabsorbed's cash flows); the results assembly sets NaN.
Only :func:`simulate_block`, :func:`simulate_path` and :func:`start_path` allocate; every
step borrows the bundles it is given (``layout.NO_REFCOUNT``).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from ..philox import jit
from .factors import conditional_thresholds, demand_keep, draw_shifted_factors
from .layout import (
    BANK,
    CAPITAL,
    CAPITAL_EXHAUSTED,
    CAPITAL_INJECTION,
    COMPENSATION_RATE,
    CREDIT_LOSS,
    DEFAULTS_OVER_BALANCE,
    DEMAND_MULTIPLIER,
    FEE_BASE,
    FEE_INCOME,
    FEE_SUBSIDY,
    FISCAL_COST,
    GUARANTEE_OUTSTANDING,
    GUARANTOR,
    LEVERAGE,
    LEVERAGE_CAP_BINDING,
    MAX_ORIGINATION_LEVERAGE,
    NO_REFCOUNT,
    OPERATING_COST,
    OUTSTANDING,
    PAYOUT,
    POOL,
    POOL_BREAKER_TRIPPED,
    PUBLIC_COST,
    PUBLIC_OPERATING_COST,
    RECOVERY,
    REGUARANTEE_FEES,
    REGUARANTOR,
    UNMET_DEMAND,
    Draws,
    Ledger,
    Outputs,
    PartyState,
    PathParameters,
    Scratch,
    Segments,
)
from .origination import book_standard_lending, originate_records, thin_month
from .waterfall import allocate_losses


def simulate_block(seed, first_path, book, seg, party, macro, settings, params, out):
    """Simulate paths ``first_path .. first_path + len(out.segment) - 1`` in parallel.

    ``params`` (PathParameters) and ``out`` hold the block's rows (a leading path axis);
    the outputs are zeroed here and each path writes only its own slice, so which thread
    runs a path changes no number. ``numba.get_num_threads()`` threads take runs of paths
    from a shared queue (:class:`_PathRuns`) and call :func:`simulate_paths` on each (it
    releases the GIL). Not a ``prange``: a parallel kernel took a third of a first run's
    compilation (26 of 87 s CPU) for the same loop.
    """
    n = out.segment.shape[0]
    out.segment[:] = 0.0
    out.party[:] = 0.0
    out.year[:] = 0.0
    threads = min(numba.get_num_threads(), n)
    runs = _PathRuns(n, threads)

    def run() -> None:
        while (taken := runs.take()) is not None:
            lo, hi = taken
            simulate_paths(
                seed,
                first_path + lo,
                book,
                seg,
                party,
                macro,
                settings,
                PathParameters(
                    params.pd_scale[lo:hi],
                    params.rho[lo:hi],
                    params.lgd[lo:hi],
                    params.recovery_lag[lo:hi],
                ),
                Outputs(out.segment[lo:hi], out.party[lo:hi], out.year[lo:hi]),
            )

    if threads <= 1:
        run()
        return
    with ThreadPoolExecutor(threads - 1) as pool:
        others = [pool.submit(run) for _ in range(1, threads)]
        run()  # this thread does its share (and compiles the kernel on a first run)
        for other in others:
            other.result()


class _PathRuns:
    """Runs of paths ``[lo, hi)`` of a block handed to threads in decreasing sizes
    (guided scheduling): half of what is left shared among the threads, at least
    :attr:`SMALLEST` paths. Paths differ in cost (defaults, renewals), so equal halves
    left one thread waiting for the other at every block's end (10-20% of the kernel's
    time in the default run); the shrinking runs finish together, and each call of
    :func:`simulate_paths` (about 45 microseconds to pass the book) stays rare.

    >>> runs = _PathRuns(40, 2)
    >>> [runs.take() for _ in range(9)]  # doctest: +NORMALIZE_WHITESPACE
    [(0, 10), (10, 18), (18, 24), (24, 28), (28, 32), (32, 36), (36, 40), None, None]
    """

    SMALLEST = 4

    def __init__(self, paths: int, threads: int):
        self.paths, self.threads, self.next = paths, threads, 0
        self.lock = threading.Lock()

    def take(self) -> tuple[int, int] | None:
        """The next run of paths, or None when every path is taken."""
        with self.lock:
            lo = self.next
            if lo >= self.paths:
                return None
            left = self.paths - lo
            size = max(-(-left // (2 * self.threads)), self.SMALLEST)
            self.next = min(lo + size, self.paths)
            return lo, self.next


@jit(nogil=True)
def simulate_paths(seed, first_path, book, seg, party, macro, settings, params, out):
    """Simulate paths ``first_path ..`` into ``out`` (rows of zeros, a leading path axis),
    one after another; ``params`` holds their rows of PathParameters."""
    for i in range(out.segment.shape[0]):
        simulate_path(
            seed,
            first_path + i,
            book,
            seg,
            party,
            macro,
            settings,
            PathParameters(
                params.pd_scale[i], params.rho[i], params.lgd[i], params.recovery_lag[i]
            ),
            Outputs(out.segment[i], out.party[i], out.year[i]),
        )


# inlined into simulate_paths, its one caller: compiled on its own, the whole kernel was
# optimised and turned into machine code once more on a first run
@jit(inline="always")
def simulate_path(seed, path, book, fixed_seg, party, macro, settings, params, out):
    """Simulate one path into ``out`` (its year-level Outputs); the steps are in the module
    docstring. ``params`` is the path's row of PathParameters: its correlation, LGD
    and recovery lag replace the segments' fixed ones, its PD level scales the default
    thresholds."""
    replica = path % book.n_initial.shape[0]
    seg = path_segments(fixed_seg, params)
    draws, ledger, state, scratch = start_path(
        seed, path, book, seg, party, macro, settings, params.pd_scale
    )
    _record_demand(draws, macro, out)
    n_months = settings.months
    for now in range(n_months):
        y = now // 12
        _apply_scheduled_changes(now, ledger)
        if now % 12 == 0:
            _open_year(now, y, party, settings, ledger, state, out)
        _move_due_cash(now, y, party, ledger, state, out)
        _check_breakers(now, y, party, ledger, state, out)
        if now == 0:
            first = book.replica_start[replica]
            last = first + book.n_initial[replica]
            whole = scratch.whole
            # the initial book: not new lending (a literal is typed as a plain bool by
            # _numba_cache.jit, so this and _lend's True compile one originate_records)
            originate_records(
                first, last, False, now, whole, book, seg, settings, draws, ledger, scratch, out
            )
        if now < settings.origination_months:
            _lend(now, replica, book, seg, party, settings, draws, ledger, state, scratch, out)
        _track_covered_base(now, party, ledger, state)
        _record_credit_loss(now, y, seg, ledger, out)
        allocate_losses(now, y, seg, party, ledger, state, scratch, out)
        _accrue(y, party, settings, ledger, state, out)
        if now % 12 == 11 or now == n_months - 1:
            _close_year(now, y, party, ledger, state, out)
            _public_cash(y, party, out)
        _mark_exhausted(y, party, state, out)


@jit()
def path_segments(seg, params):
    """The segments as one path sees them: its drawn correlation, LGD and recovery lag."""
    return Segments(
        seg.pd_inverse,
        params.rho,
        seg.loadings,
        params.lgd,
        params.recovery_lag,
        seg.recovery_spread,
        seg.tenor,
        seg.renew_rate,
        seg.renew_into,
        seg.renew_grade,
        seg.subsidy_eligible,
        seg.priority_rank,
    )


@jit()
def start_path(seed, path, book, seg, party, macro, settings, pd_scale):
    """The path's draws, an empty ledger, the parties' opening accounts and scratch arrays."""
    n_months = settings.months
    n_years = settings.n_years
    n_seg, n_grade = seg.pd_inverse.shape
    n_band = book.new_amount.shape[3]
    n_class = party.share.shape[1]
    n_party = party.kind.shape[0]

    factors = np.empty((n_years, macro.chol.shape[0]))
    draw_shifted_factors(seed, path, macro.chol, macro.persistence, macro.shift, factors)
    probability = np.empty((n_seg, n_grade, n_years, 12))
    window_threshold = np.empty(n_seg * n_grade * n_years * 12, dtype=np.uint32)
    threshold = window_threshold.reshape((n_seg, n_grade, n_years, 12))
    conditional_thresholds(
        factors,
        seg.loadings,
        seg.rho,
        seg.pd_inverse,
        macro.downturn_z,
        macro.pd_multiplier,
        pd_scale,
        probability,
        threshold,
    )
    keep = np.empty((n_years, n_seg))
    demand_keep(factors, seg.loadings, macro.demand_elasticity, macro.demand_ceiling, keep)
    draws = Draws(seed, path, factors, probability, threshold, window_threshold, keep)

    ledger = Ledger(
        np.zeros((n_seg, n_band)),
        np.zeros(n_seg),
        np.zeros((n_months + 1, n_seg, n_band)),
        np.zeros((n_months + 1, n_seg)),
        np.zeros((n_months, n_seg, n_class)),
        np.zeros((n_months, n_seg)),
        np.zeros((n_months + 1, n_seg, n_band)),
        np.zeros((n_months, n_party)),
        np.zeros((n_months, n_party)),
    )

    net_assets = party.net_assets.copy()
    pool_balance = np.zeros(n_party)
    for p in range(n_party):
        if party.kind[p] == POOL:
            pool_balance[p] = party.net_assets[p]
            net_assets[p] = 0.0
    state = PartyState(
        net_assets,
        pool_balance,
        np.zeros(n_party),
        np.zeros(n_party),
        np.zeros(n_party),
        np.zeros(n_party),
        np.zeros(n_party),
        np.zeros(n_party),
        np.zeros(n_party),
        np.zeros(n_party),
        np.zeros(n_party, dtype=np.bool_),
        np.zeros((n_months, n_party)),
    )

    scratch = Scratch(
        np.ones(n_seg),
        np.ones(n_seg),
        np.zeros(n_seg),
        np.zeros((n_party + 1, n_seg)),
        np.zeros(n_party),
        np.zeros(12, dtype=np.int64),
        np.empty((4, 256), dtype=np.uint32),
        np.empty(256, dtype=np.int64),
        np.empty(256, dtype=np.int64),
        np.empty(_largest_month(book, settings) if macro.demand_elasticity != 0.0 else 0, np.int64),
        np.zeros((n_seg, n_band)),
        np.zeros(n_seg),
        np.zeros((n_seg, n_band)),
        np.zeros(n_seg),
    )
    return draws, ledger, state, scratch


@jit(**NO_REFCOUNT)
def _largest_month(book, settings):
    """The most new records in one origination month of any replica."""
    largest = 0
    for k in range(book.month_start.shape[0]):
        for m in range(settings.origination_months):
            largest = max(largest, book.month_start[k, m + 1] - book.month_start[k, m])
    return largest


@jit(**NO_REFCOUNT)
def _record_demand(draws, macro, out):
    """The path's demand multiplier of each year and segment, ``min(D, D_hi)``."""
    for y in range(draws.keep.shape[0]):
        for s in range(draws.keep.shape[1]):
            out.segment[DEMAND_MULTIPLIER, y, s] = draws.keep[y, s] * macro.demand_ceiling


@jit(**NO_REFCOUNT)
def _apply_scheduled_changes(now, ledger):
    """Loans scheduled to join or leave the balance this month do so."""
    n_seg, n_band = ledger.balance.shape
    for s in range(n_seg):
        ledger.subsidy_balance[s] += ledger.subsidy_change[now, s]
        for b in range(n_band):
            ledger.balance[s, b] += ledger.balance_change[now, s, b]


@jit(**NO_REFCOUNT)
def _open_year(now, y, party, settings, ledger, state, out):
    """January: capital injections and pool contributions; the year's counters restart.

    Both are budget outlays (fiscal cost); a public cost only when the party is private
    (a pool is public: its contribution stays inside the public sector).
    """
    for p in range(party.kind.shape[0]):
        injection = party.injection[y, p]
        if injection != 0.0:
            state.net_assets[p] += injection
            out.party[CAPITAL_INJECTION, y, p] += injection
            out.year[FISCAL_COST, y] += injection
            if party.public[p] == 0.0:
                out.year[PUBLIC_COST, y] += injection
        if party.kind[p] == POOL and now < settings.origination_months:
            state.pool_balance[p] += party.pool_contribution[y, p]
            out.year[FISCAL_COST, y] += party.pool_contribution[y, p]
        state.covered_defaults[p] = 0.0
        state.compensated[p] = 0.0
        state.covered_released[p] = 0.0
        state.covered_base[p] = _balance_where(ledger.balance, party.covers[:, p])
        state.year_fees[p] = 0.0


@jit(**NO_REFCOUNT)
def _move_due_cash(now, y, party, ledger, state, out):
    """Payouts and recoveries scheduled for this month move (a pool's balance with them)."""
    for p in range(party.kind.shape[0]):
        paid = ledger.payout_due[now, p]
        recovered = ledger.recovery_due[now, p]
        out.party[PAYOUT, y, p] += paid
        out.party[RECOVERY, y, p] += recovered
        if party.kind[p] == POOL:
            state.pool_balance[p] += recovered - paid
            state.pool_committed[p] -= paid


@jit(**NO_REFCOUNT)
def _check_breakers(now, y, party, ledger, state, out):
    """Whether each pool's circuit breaker is tripped at the start of the month (and so,
    in ``pool_breaker_tripped``, whether it was in any month of the year).

    It looks at its eligible loans' NPL rate: defaults of the last 12 months over (those
    defaults + the highest eligible balance in those months), so a book that runs off does
    not trip it by shrinking.
    """
    y = now // 12
    for p in range(party.kind.shape[0]):
        if party.kind[p] != POOL or party.npl_breaker[y, p] == np.inf:
            continue
        npl = 0.0
        for s in range(ledger.balance.shape[0]):
            if party.eligible[p, s] > 0.0:
                for m in range(max(0, now - 12), now):
                    for c in range(ledger.default_amount.shape[2]):
                        npl += ledger.default_amount[m, s, c]
        alive = _balance_where(ledger.balance, party.eligible[p])
        state.eligible_history[now, p] = alive
        for m in range(max(0, now - 12), now):
            alive = max(alive, state.eligible_history[m, p])
        state.tripped[p] = npl > 0.0 and npl > party.npl_breaker[y, p] * (alive + npl)
        if state.tripped[p]:
            out.party[POOL_BREAKER_TRIPPED, y, p] = 1.0


@jit(**NO_REFCOUNT)
def _lend(now, replica, book, seg, party, settings, draws, ledger, state, scratch, out):
    """This month's new lending: rationed, booked, originated, and its leverage recorded."""
    y = now // 12
    first = book.month_start[replica, now]
    last = book.month_start[replica, now + 1]
    if scratch.kept.shape[0] > 0:  # demand follows the credit cycle: the path's share
        thin_month(first, last, now, book, draws, scratch)
        new_amount = scratch.demand
        counts, amounts = scratch.standard_count, scratch.standard_amount
        subsidised = scratch.standard_subsidised
    else:
        new_amount = book.new_amount[replica, now]  # CNY demanded, by segment and band
        counts, amounts = book.standard_count[replica, now], book.standard_amount[replica, now]
        subsidised = book.standard_subsidised[replica, now]
    admitted = scratch.admitted
    admitted_shares(new_amount, now, seg, party, settings, ledger, state, scratch, out)
    for s in range(admitted.shape[0]):
        refused = 0.0
        for b in range(new_amount.shape[1]):
            refused += new_amount[s, b]
        out.segment[UNMET_DEMAND, y, s] += refused * (1.0 - admitted[s])
    book_standard_lending(counts, amounts, subsidised, now, seg, admitted, ledger, out)
    is_new = now >= 0  # True as a value, not the literal (see simulate_path)
    originate_records(
        first,
        last,
        is_new,
        now,
        admitted,
        book,
        seg,
        settings,
        draws,
        ledger,
        scratch,
        out,
    )
    _record_origination_leverage(new_amount, now, admitted, party, ledger, state, out)
    # the breaker's denominator also sees loans lent this month
    for p in range(party.kind.shape[0]):
        if party.kind[p] == POOL and party.npl_breaker[y, p] != np.inf:
            state.eligible_history[now, p] = max(
                state.eligible_history[now, p], _balance_where(ledger.balance, party.eligible[p])
            )


@jit(**NO_REFCOUNT)
def _record_origination_leverage(new_amount, now, admitted, party, ledger, state, out):
    """A guarantor's leverage right after new guarantees, in months it made any."""
    y = now // 12
    n_seg, n_band = new_amount.shape
    for p in range(party.kind.shape[0]):
        if party.kind[p] != GUARANTOR or state.net_assets[p] <= 0.0:
            continue
        granted = 0.0
        for s in range(n_seg):
            for b in range(n_band):
                granted += new_amount[s, b] * admitted[s] * party.liability[s, b, p]
        if granted > 0.0:
            lev = (
                _weighted_balance(ledger.balance, party.liability, p)
                + _initial_guarantees(party, p, now)
            ) / state.net_assets[p]
            out.party[MAX_ORIGINATION_LEVERAGE, y, p] = max(
                out.party[MAX_ORIGINATION_LEVERAGE, y, p], lev
            )


@jit(**NO_REFCOUNT)
def admitted_shares(new_amount, now, seg, party, settings, ledger, state, scratch, out):
    """Share of this month's new lending admitted in each segment, into ``scratch.admitted``.

    A guarantor admits new guarantees up to its leverage cap (weighted liability /
    net assets), a pool up to its lending multiple; pro rata across segments, or in the
    scenario's priority order. A segment gets the smallest share any of its parties allows.
    A guarantor whose cap rationed anything is flagged in ``leverage_cap_binding``.
    """
    admitted = scratch.admitted
    use = scratch.capacity_use
    y = now // 12
    for s in range(admitted.shape[0]):
        admitted[s] = 1.0
    for p in range(party.kind.shape[0]):
        kind = party.kind[p]
        if kind == GUARANTOR and party.leverage_cap[y, p] < np.inf:
            room = _guarantor_room(new_amount, now, p, party, ledger, state, use)
        elif kind == POOL and party.lending_multiple[y, p] < np.inf:
            room = _pool_room(new_amount, now, p, party, ledger, state, use)
        else:
            continue
        if kind == GUARANTOR and use.sum() > max(room, 0.0):
            out.party[LEVERAGE_CAP_BINDING, now // 12, p] = 1.0
        _ration(max(room, 0.0), use, seg, settings, admitted)


@jit(**NO_REFCOUNT)
def _guarantor_room(new_amount, now, p, party, ledger, state, use):
    """Weighted liability guarantor ``p`` may still add; ``use[s]``: what segment s asks."""
    n_seg, n_band = new_amount.shape
    room = party.leverage_cap[now // 12, p] * max(state.net_assets[p], 0.0)
    room -= _weighted_balance(ledger.balance, party.liability, p)
    room -= _initial_guarantees(party, p, now)
    for s in range(n_seg):
        d = 0.0
        for b in range(n_band):
            d += new_amount[s, b] * party.liability[s, b, p]
        use[s] = d
    return room


@jit(**NO_REFCOUNT)
def _pool_room(new_amount, now, p, party, ledger, state, use):
    """Eligible lending pool ``p`` may still back; ``use[s]``: what segment s asks."""
    n_seg, n_band = new_amount.shape
    room = party.lending_multiple[now // 12, p] * max(state.pool_balance[p], 0.0)
    for s in range(n_seg):
        d = 0.0
        if party.eligible[p, s] > 0.0:
            for b in range(n_band):
                room -= ledger.balance[s, b]
                d += new_amount[s, b]
        use[s] = d
    return room


@jit(**NO_REFCOUNT)
def _ration(room, use, seg, settings, admitted):
    """Admit ``use`` within ``room``: in priority order, or pro rata across segments."""
    n_seg = use.shape[0]
    if settings.priority == 1:
        for rank in range(n_seg):
            for s in range(n_seg):
                if seg.priority_rank[s] != rank or use[s] <= 0.0:
                    continue
                share = 1.0 if use[s] <= room else room / use[s]
                room -= share * use[s]
                admitted[s] = min(admitted[s], share)
    else:
        total = use.sum()
        if total > room:
            share = room / total
            for s in range(n_seg):
                if use[s] > 0.0:
                    admitted[s] = min(admitted[s], share)


@jit(**NO_REFCOUNT)
def _track_covered_base(now, party, ledger, state):
    """The compensation-rate bases. Defaults over balance: covered balance at the start of
    the year, or the highest balance reached since, so a book still being built is not
    capped at 0. Payouts over released: covered guarantees released so far this year (loans
    that matured, renewed or defaulted, this month's included), at the party's guaranteed
    share."""
    for p in range(party.kind.shape[0]):
        state.covered_base[p] = max(
            state.covered_base[p], _balance_where(ledger.balance, party.covers[:, p])
        )
        # at the guaranteed share of each contract class
        state.covered_released[p] += _guarantee_balance(ledger.released[now], party.guaranteed, p)


@jit(**NO_REFCOUNT)
def _record_credit_loss(now, y, seg, ledger, out):
    """Credit loss (exposure x LGD) of this month's defaults, by segment."""
    for s in range(seg.lgd.shape[0]):
        exposure = 0.0
        for c in range(ledger.default_amount.shape[2]):
            exposure += ledger.default_amount[now, s, c]
        out.segment[CREDIT_LOSS, y, s] += exposure * seg.lgd[s]


@jit(**NO_REFCOUNT)
def _accrue(y, party, settings, ledger, state, out):
    """Fees, costs and subsidies for the month on loans alive in it.

    A fee subsidy is a budget outlay either way; it is the guarantor's income only when
    paid to the guarantor (when paid to the borrowers it lowered their price instead, in
    the processes). Budget cash to private parties and borrowers is a public cost; public
    guarantors' operating costs are counted apart.
    """
    balance = ledger.balance
    for p in range(party.kind.shape[0]):
        kind = party.kind[p]
        fee = _weighted_balance(balance, party.fee, p) / 12.0
        cost = _weighted_balance(balance, party.cost, p) / 12.0
        reguarantee = _weighted_balance(balance, party.reguarantee_fee, p) / 12.0
        subsidy = _weighted_balance(balance, party.fee_subsidy[y], p) / 12.0
        out.party[FEE_INCOME, y, p] += fee
        out.party[OPERATING_COST, y, p] += cost - reguarantee
        out.party[REGUARANTEE_FEES, y, p] += reguarantee
        state.year_fees[p] += fee
        out.year[FISCAL_COST, y] += subsidy
        to_guarantor = settings.subsidy_to_guarantor == 1
        if not (to_guarantor and party.public[p] == 1.0):
            out.year[PUBLIC_COST, y] += subsidy
        if party.public[p] == 1.0:
            out.year[PUBLIC_OPERATING_COST, y] += cost - reguarantee
        if kind == GUARANTOR:
            out.party[FEE_BASE, y, p] += _balance_where(balance, party.covers[:, p]) / 12.0
        elif kind == REGUARANTOR:
            out.party[FEE_BASE, y, p] += _guarantee_balance(balance, party.guaranteed, p) / 12.0
        if kind in (GUARANTOR, REGUARANTOR):
            if to_guarantor:
                out.party[FEE_SUBSIDY, y, p] += subsidy
                state.net_assets[p] += fee - cost + subsidy
            else:
                state.net_assets[p] += fee - cost
    for s in range(ledger.subsidy_balance.shape[0]):
        interest = ledger.subsidy_balance[s] * settings.interest_subsidy_rate[y] / 12.0
        out.year[FISCAL_COST, y] += interest
        out.year[PUBLIC_COST, y] += interest


@jit(**NO_REFCOUNT)
def _public_cash(y, party, out):
    """The year's public cost, completed: the public parties' cash with private parties.

    Budget outlays to private parties and borrowers were added as they were paid
    (:func:`_open_year`, :func:`_accrue`). Here each public party adds what it paid out
    (payouts for defaults, re-guarantee fees) and takes off what it received from outside
    the budget (recoveries, guarantee and re-guarantee fees). Summing over every public
    party makes the transfers between two public parties cancel (a public guarantor's
    re-guarantee fee to a public re-guarantor is + for one and - for the other). The bank
    is private (the schema refuses a public bank): every share of a loan's loss is, in the
    end, paid to it.
    """
    for p in range(party.kind.shape[0]):
        if party.public[p] == 0.0:
            continue
        out.year[PUBLIC_COST, y] += (
            out.party[PAYOUT, y, p]
            - out.party[RECOVERY, y, p]
            + out.party[REGUARANTEE_FEES, y, p]
            - out.party[FEE_INCOME, y, p]
        )


@jit(**NO_REFCOUNT)
def _mark_exhausted(y, party, state, out):
    """Flag a guarantor or re-guarantor whose net assets are at or below zero this month end."""
    for p in range(party.kind.shape[0]):
        kind = party.kind[p]
        if (kind in (GUARANTOR, REGUARANTOR)) and state.net_assets[p] <= 0.0:
            out.party[CAPITAL_EXHAUSTED, y, p] = 1.0


@jit(**NO_REFCOUNT)
def _close_year(now, y, party, ledger, state, out):
    """Year end: set reserves, record balances, capital, leverage and compensation rates.

    Only for parties that have them: the bank has no capital and a pool no leverage; those
    entries stay 0 and become NaN in the results assembly.
    """
    balance = ledger.balance
    n_seg, n_band = balance.shape
    for s in range(n_seg):
        total = 0.0
        for b in range(n_band):
            total += balance[s, b]
        out.segment[OUTSTANDING, y, s] = max(total, 0.0)
    for p in range(party.kind.shape[0]):
        kind = party.kind[p]
        if kind == BANK:
            continue
        guaranteed = _guarantee_balance(balance, party.guaranteed, p)
        if kind == GUARANTOR:
            guaranteed += _initial_guarantees(party, p, now + 1)
            _set_reserves(p, guaranteed, party, state)
        out.party[GUARANTEE_OUTSTANDING, y, p] = guaranteed
        if kind == POOL:
            out.party[CAPITAL, y, p] = state.pool_balance[p]
            continue
        net_assets = state.net_assets[p]
        out.party[CAPITAL, y, p] = net_assets
        liability = _weighted_balance(balance, party.liability, p)
        if kind == GUARANTOR:
            liability += _initial_guarantees(party, p, now + 1)
        out.party[LEVERAGE, y, p] = liability / net_assets if net_assets > 0 else np.inf
        if party.compensation_basis[p] == DEFAULTS_OVER_BALANCE:
            rate = _ratio(state.covered_defaults[p], state.covered_base[p])
        else:
            rate = _ratio(state.compensated[p], state.covered_released[p])
        out.party[COMPENSATION_RATE, y, p] = rate


@jit(**NO_REFCOUNT)
def _ratio(numerator, base):
    return numerator / base if base > 0 else np.nan


@jit(**NO_REFCOUNT)
def _set_reserves(p, guaranteed, party, state):
    """A guarantor's year-end reserves, charged to its net assets."""
    # Unearned-fee reserve: a share of the year's fee income, re-set each year.
    target = party.unearned_reserve[p] * state.year_fees[p]
    state.net_assets[p] -= target - state.unearned_reserve[p]
    state.unearned_reserve[p] = target
    # Compensation reserve: a share of the year-end balance, until it reaches a cap; what
    # stands above the cap of a smaller balance is released (差额提取: the reserve is kept
    # at most at the cap, so a book that runs off returns it to net assets).
    cap = party.comp_reserve_cap[p] * guaranteed
    add = min(party.comp_reserve_rate[p] * guaranteed, cap - state.comp_reserve[p])
    state.comp_reserve[p] += add
    state.net_assets[p] -= add


# one specialisation for a party's row (C-contiguous) and column (strided) of a mask
@jit("(float64[:, ::1], float64[:])", **NO_REFCOUNT)
def _balance_where(balance, mask):
    """Balance of the segments where ``mask[s] > 0`` (those a party covers, or may take)."""
    total = 0.0
    for s in range(balance.shape[0]):
        if mask[s] > 0.0:
            for b in range(balance.shape[1]):
                total += balance[s, b]
    return total


@jit(**NO_REFCOUNT)
def _weighted_balance(balance, table, p):
    """Balance weighted by ``table[s, b, p]`` (fee, cost or liability per CNY of loan)."""
    total = 0.0
    for s in range(balance.shape[0]):
        for b in range(balance.shape[1]):
            total += balance[s, b] * table[s, b, p]
    return max(total, 0.0)  # a run-off balance may sit a rounding error below zero


@jit(**NO_REFCOUNT)
def _guarantee_balance(balance, guaranteed, p):
    """Covered exposure party ``p`` is liable for (``guaranteed[s, c, p]`` per CNY of loan
    of contract class c, whose bands are ``balance[s, c * NS : (c + 1) * NS]``)."""
    n_class = guaranteed.shape[1]
    n_size = balance.shape[1] // n_class
    total = 0.0
    for s in range(balance.shape[0]):
        for c in range(n_class):
            row = 0.0
            for b in range(c * n_size, (c + 1) * n_size):
                row += balance[s, b]
            total += row * guaranteed[s, c, p]
    return max(total, 0.0)


@jit(**NO_REFCOUNT)
def _initial_guarantees(party, p, month):
    """Off-model guarantees at the start, running off linearly."""
    left = 1.0 - month / party.initial_runoff[p]
    return party.initial_outstanding[p] * max(left, 0.0)
