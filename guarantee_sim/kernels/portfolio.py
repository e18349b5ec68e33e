"""One Monte Carlo path of the whole system, month by month, and the block driver.

Per path: draw the year factors, turn them into default thresholds, then walk the months.
Each month (1) loans that matured or defaulted earlier leave the balance, (2) cash that
was scheduled for this month moves, (3) new lending is rationed by guarantor leverage and
pool lending caps and originated, each record's whole life (defaults, renewals) drawn at
once from its own counter-based stream, (4) this month's defaults are shared out by the
waterfall, (5) fees, costs and subsidies accrue, (6) at year end reserves are set and the
year's state is recorded.

A path is computed by one thread, always in the same order, so results do not depend on
the thread count or on how paths are blocked. Money is in CNY, rates per year. The
kernels leave 0 where a kind of party has no such variable (the bank's capital,
unabsorbed's cash flows); the results assembly sets NaN there.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ..philox import (
    GENERATION_SHIFT,
    binomial_from_uniform,
    jit,
    philox4x32_10,
    philox4x32_10_batch,
    u32_to_unit,
)
from .factors import PURPOSE_DEFAULT, PURPOSE_SPLIT, conditional_thresholds, draw_factors
from .layout import (
    BANK,
    BORROWERS,
    CAPITAL,
    COMPENSATION_RATE,
    CREDIT_LOSS,
    DEFAULT_AMOUNT,
    DEFAULTS_COUNT,
    FEE_INCOME,
    FISCAL_COST,
    GUARANTEE_OUTSTANDING,
    GUARANTOR,
    LEVERAGE,
    LOANS_AMOUNT,
    LOANS_COUNT,
    MAX_ORIGINATION_LEVERAGE,
    OUTSTANDING,
    PAYOUT,
    POOL,
    RECOVERY,
    REGUARANTOR,
    UNMET_DEMAND,
)
from .waterfall import allocate_losses


@jit(inline="always")
def _leave_balance(
    month,
    now,
    seg,
    band,
    amount,
    subsidised,
    balance,
    subsidy_balance,
    balance_change,
    subsidy_change,
):
    """Schedule ``amount`` to leave the balance at ``month`` (now if it is this month)."""
    if month == now:
        balance[seg, band] -= amount
        subsidy_balance[seg] -= subsidised
    else:
        balance_change[month, seg, band] -= amount
        subsidy_change[month, seg] -= subsidised


@jit()
def _split_over_months(count, first, n_months, id_lo, id_hi, gen_year, seed, path, default_count):
    """Spread ``count`` defaults of a record over ``n_months`` months, each equally likely.

    Sequential conditional binomials, one uniform per month from the record's SPLIT stream.
    """
    remaining = count
    w0 = w1 = w2 = w3 = np.uint32(0)
    for j in range(n_months):
        if remaining == 0:
            break
        if j == n_months - 1:
            default_count[first + j] += remaining
            break
        if j % 4 == 0:
            w0, w1, w2, w3 = philox4x32_10(
                id_lo, id_hi, gen_year, PURPOSE_SPLIT + (j // 4) * 256, seed, path
            )
        lane = j % 4
        word = w0 if lane == 0 else w1 if lane == 1 else w2 if lane == 2 else w3
        c = binomial_from_uniform(remaining, 1.0 / (n_months - j), u32_to_unit(word))
        default_count[first + j] += c
        remaining -= c


@jit()
def originate_records(
    first,
    last,
    is_new,
    now,
    shares,
    seed,
    path,
    book,
    seg,
    probability,
    threshold,
    origination_months,
    balance,
    subsidy_balance,
    balance_change,
    subsidy_change,
    default_amount,
    default_count,
    segment_out,
    scratch,
    words,
):
    """Originate records ``first .. last-1`` this month and draw each one's whole life.

    ``shares[s]`` is the admitted share of segment s's new lending (1 for the initial book).
    A record's loans default year by year (one Philox block per record, generation and
    calendar year); survivors at maturity renew into the renewal segment while new lending
    is still being made. Everything a record will do is scheduled now. The loop over
    records lives here, not in the caller, so the arrays cross a call boundary once a
    month rather than once a loan.
    """
    this_year = now // 12
    chunk = words[0].shape[0]
    for chunk_first in range(first, last, chunk):
        n_chunk = min(chunk, last - chunk_first)
        # every record's first Philox block (generation 0, this year), a chunk at a time
        philox4x32_10_batch(
            book.id_lo,
            book.id_hi,
            chunk_first,
            n_chunk,
            this_year,
            PURPOSE_DEFAULT,
            seed,
            path,
            words[0],
            words[1],
            words[2],
            words[3],
        )
        for r in range(chunk_first, chunk_first + n_chunk):
            k = r - chunk_first  # words[:, k] is this record's first Philox block
            s = book.segment[r]
            scale = shares[s]
            if scale <= 0.0:
                continue
            g = book.grade[r]
            if (
                is_new
                and book.standard[r]
                and book.n_loans[r] == 1
                and (now + book.tenor[r] >= origination_months or seg.renew_rate[s] <= 0.0)
            ):
                # Fast path: a booked single loan that cannot renew only matters if it
                # defaults. Check its windows; the general path below uses the same words.
                end = now + book.tenor[r]
                t = min(end, 12 * (this_year + 1))  # the first window is this year's
                survives = words[0, k] >= threshold[s, g, this_year, t - now - 1]
                while survives and t < end:
                    y = t // 12
                    window = min(end, 12 * (y + 1)) - t
                    w0, _, _, _ = philox4x32_10(
                        book.id_lo[r], book.id_hi[r], y, PURPOSE_DEFAULT, seed, path
                    )
                    survives = w0 >= threshold[s, g, y, window - 1]
                    t += window
                if survives:
                    continue
            b = book.band[r]
            id_lo = book.id_lo[r]
            id_hi = book.id_hi[r]
            single = book.n_loans[r] == 1
            per_loan = book.amount[r] * scale
            alive = book.n_loans[r]
            start = now
            tenor = book.tenor[r]
            gen = 0
            # a standard record's lending and maturity were booked with its month's aggregate
            booked = is_new and book.standard[r]
            while True:
                end = start + tenor  # first month no longer alive: maturity
                sub_per_loan = book.subsidised[r] * scale * seg.subsidy_eligible[s]
                if not booked:
                    if is_new or gen > 0:
                        y0 = start // 12
                        segment_out[LOANS_COUNT, y0, s] += alive * scale
                        segment_out[LOANS_AMOUNT, y0, s] += alive * per_loan
                        if gen == 0:
                            segment_out[BORROWERS, y0, s] += alive * scale
                    if start == now:
                        balance[s, b] += alive * per_loan
                        subsidy_balance[s] += alive * sub_per_loan
                    else:
                        balance_change[start, s, b] += alive * per_loan
                        subsidy_change[start, s] += alive * sub_per_loan
                renew_word = np.uint32(0)
                t = start
                while t < end and alive > 0:
                    y = t // 12
                    window = min(end, 12 * (y + 1)) - t
                    gen_year = (gen << GENERATION_SHIFT) | y
                    if gen == 0 and y == this_year:
                        w0, w1, w2 = words[0, k], words[1, k], words[2, k]
                    else:
                        w0, w1, w2, _ = philox4x32_10(
                            id_lo, id_hi, gen_year, PURPOSE_DEFAULT, seed, path
                        )
                    renew_word = w2
                    if single:
                        # the common case: one raw-word comparison, no CDF, no allocation
                        if w0 >= threshold[s, g, y, window - 1]:
                            t += window
                            continue
                        for j in range(window):
                            scratch[j] = 0
                        scratch[(np.uint64(w1) * np.uint64(window)) >> np.uint64(32)] = 1
                    else:
                        for j in range(window):
                            scratch[j] = 0
                        k = binomial_from_uniform(
                            alive, probability[s, g, y, window - 1], u32_to_unit(w0)
                        )
                        _split_over_months(
                            k, 0, window, id_lo, id_hi, gen_year, seed, path, scratch
                        )
                    for j in range(window):
                        c = scratch[j]
                        if c == 0:
                            continue
                        d = t + j
                        amount = c * per_loan
                        default_amount[d, s] += amount
                        default_count[d, s] += c * scale
                        segment_out[DEFAULTS_COUNT, d // 12, s] += c * scale
                        segment_out[DEFAULT_AMOUNT, d // 12, s] += amount
                        _leave_balance(
                            d,
                            now,
                            s,
                            b,
                            amount,
                            c * sub_per_loan,
                            balance,
                            subsidy_balance,
                            balance_change,
                            subsidy_change,
                        )
                        if booked:  # it leaves at default, not with its month's maturities
                            balance_change[end, s, b] += amount
                            subsidy_change[end, s] += c * sub_per_loan
                        alive -= c
                    t += window
                if alive == 0:
                    break
                if not booked:
                    _leave_balance(
                        end,
                        now,
                        s,
                        b,
                        alive * per_loan,
                        alive * sub_per_loan,
                        balance,
                        subsidy_balance,
                        balance_change,
                        subsidy_change,
                    )
                booked = False
                rate = seg.renew_rate[s]
                if end >= origination_months or rate <= 0.0:
                    break
                if single:
                    renewed = 1 if u32_to_unit(renew_word) < rate else 0
                else:
                    renewed = binomial_from_uniform(alive, rate, u32_to_unit(renew_word))
                if renewed == 0:
                    break
                g = seg.renew_grade[s, g]
                s = seg.renew_into[s]
                tenor = seg.tenor[s]
                alive = renewed
                start = end
                gen += 1


@jit()
def _book_standard_lending(
    book,
    replica,
    now,
    y,
    seg,
    admitted,
    balance,
    subsidy_balance,
    balance_change,
    subsidy_change,
    segment_out,
):
    """Add this month's standard lending and schedule its maturity, segment by segment."""
    n_seg, n_band = balance.shape
    for s in range(n_seg):
        share = admitted[s]
        count = book.standard_count[replica, now, s] * share
        if count <= 0.0:
            continue
        end = now + seg.tenor[s]
        segment_out[LOANS_COUNT, y, s] += count
        segment_out[BORROWERS, y, s] += count
        for b in range(n_band):
            amount = book.standard_amount[replica, now, s, b] * share
            segment_out[LOANS_AMOUNT, y, s] += amount
            balance[s, b] += amount
            balance_change[end, s, b] -= amount
        subsidised = book.standard_subsidised[replica, now, s] * share * seg.subsidy_eligible[s]
        subsidy_balance[s] += subsidised
        subsidy_change[end, s] -= subsidised


@jit()
def _balance_where(balance, mask):
    """Balance of the segments where ``mask[s] > 0`` (those a party covers, or may take)."""
    total = 0.0
    for s in range(balance.shape[0]):
        if mask[s] > 0.0:
            for b in range(balance.shape[1]):
                total += balance[s, b]
    return total


@jit()
def _weighted_balance(balance, table, p):
    total = 0.0
    for s in range(balance.shape[0]):
        for b in range(balance.shape[1]):
            total += balance[s, b] * table[s, b, p]
    return max(total, 0.0)  # a run-off balance may sit a rounding error below zero


@jit()
def _guarantee_balance(balance, guaranteed, p):
    total = 0.0
    for s in range(balance.shape[0]):
        row = 0.0
        for b in range(balance.shape[1]):
            row += balance[s, b]
        total += row * guaranteed[s, p]
    return max(total, 0.0)


@jit()
def _initial_guarantees(party, p, month):
    """Off-model guarantees at the start, running off linearly."""
    left = 1.0 - month / party.initial_runoff[p]
    return party.initial_outstanding[p] * max(left, 0.0)


@jit()
def admitted_shares(
    new_amount, now, seg, party, settings, balance, net_assets, pool_balance, admitted
):
    """Share of this month's new lending admitted in each segment.

    A guarantor admits new guarantees up to its leverage cap (weighted liability /
    net assets), a pool up to its lending multiple; pro rata across segments, or in the
    scenario's priority order. A segment gets the smallest share any of its parties allows.
    """
    n_seg, n_band = balance.shape
    n_party = party.kind.shape[0]
    for s in range(n_seg):
        admitted[s] = 1.0
    demand_by_seg = np.zeros(n_seg)
    for p in range(n_party):
        kind = party.kind[p]
        if kind == GUARANTOR and party.leverage_cap[p] < np.inf:
            room = party.leverage_cap[p] * max(net_assets[p], 0.0)
            room -= _weighted_balance(balance, party.liability, p)
            room -= _initial_guarantees(party, p, now)
            for s in range(n_seg):
                d = 0.0
                for b in range(n_band):
                    d += new_amount[s, b] * party.liability[s, b, p]
                demand_by_seg[s] = d
        elif kind == POOL and party.lending_multiple[p] < np.inf:
            room = party.lending_multiple[p] * max(pool_balance[p], 0.0)
            for s in range(n_seg):
                d = 0.0
                if party.eligible[p, s] > 0.0:
                    for b in range(n_band):
                        room -= balance[s, b]
                        d += new_amount[s, b]
                demand_by_seg[s] = d
        else:
            continue
        room = max(room, 0.0)
        if settings.priority == 1:
            for rank in range(n_seg):
                for s in range(n_seg):
                    if seg.priority_rank[s] != rank or demand_by_seg[s] <= 0.0:
                        continue
                    share = 1.0 if demand_by_seg[s] <= room else room / demand_by_seg[s]
                    room -= share * demand_by_seg[s]
                    admitted[s] = min(admitted[s], share)
        else:
            total = demand_by_seg.sum()
            if total > room:
                share = room / total
                for s in range(n_seg):
                    if demand_by_seg[s] > 0.0:
                        admitted[s] = min(admitted[s], share)


@jit()
def simulate_path(seed, path, book, seg, party, macro, settings, segment_out, party_out, year_out):
    """Simulate one path; outputs are year-level aggregates written into the ``*_out`` views."""
    n_months = settings.months
    n_years = settings.n_years
    n_seg = seg.rho.shape[0]
    n_grade = seg.pd_inverse.shape[1]
    n_band = book.new_amount.shape[3]
    n_party = party.kind.shape[0]
    replica = path % book.n_initial.shape[0]

    factors = np.empty((n_years, macro.chol.shape[0]))
    draw_factors(seed, path, macro.chol, macro.persistence, n_years, factors)
    probability = np.empty((n_seg, n_grade, n_years, 12))
    threshold = np.empty((n_seg, n_grade, n_years, 12), dtype=np.uint32)
    conditional_thresholds(
        factors,
        seg.loadings,
        seg.rho,
        seg.pd_inverse,
        macro.downturn_z,
        macro.pd_multiplier,
        probability,
        threshold,
    )

    balance = np.zeros((n_seg, n_band))  # loans alive this month, CNY
    subsidy_balance = np.zeros(n_seg)
    balance_change = np.zeros((n_months + 1, n_seg, n_band))
    subsidy_change = np.zeros((n_months + 1, n_seg))
    default_amount = np.zeros((n_months, n_seg))
    default_count = np.zeros((n_months, n_seg))
    payout_due = np.zeros((n_months, n_party))
    recovery_due = np.zeros((n_months, n_party))

    net_assets = party.net_assets.copy()
    pool_balance = np.zeros(n_party)
    for p in range(n_party):
        if party.kind[p] == POOL:
            pool_balance[p] = party.net_assets[p]
            net_assets[p] = 0.0
    pool_committed = np.zeros(n_party)  # shares taken, not yet paid
    comp_reserve = np.zeros(n_party)
    unearned_reserve = np.zeros(n_party)
    year_fees = np.zeros(n_party)
    covered_defaults = np.zeros(n_party)  # this year, CNY of covered loans defaulted
    covered_base = np.zeros(n_party)
    admitted = np.ones(n_seg)
    whole = np.ones(n_seg)  # the initial book is never rationed
    tripped = np.zeros(n_party, dtype=np.bool_)
    eligible_history = np.zeros((n_months, n_party))
    demand = np.zeros((n_party + 1, n_seg))
    scratch = np.zeros(12, dtype=np.int64)
    words = np.empty((4, 256), dtype=np.uint32)  # first Philox blocks of a chunk of records

    for now in range(n_months):
        y = now // 12
        for s in range(n_seg):
            subsidy_balance[s] += subsidy_change[now, s]
            for b in range(n_band):
                balance[s, b] += balance_change[now, s, b]

        if now % 12 == 0:
            for p in range(n_party):
                injection = party.injection[y, p]
                if injection != 0.0:
                    net_assets[p] += injection
                    year_out[FISCAL_COST, y] += injection
                if party.kind[p] == POOL and now < settings.origination_months:
                    pool_balance[p] += party.pool_contribution[p]
                    year_out[FISCAL_COST, y] += party.pool_contribution[p]
                covered_defaults[p] = 0.0
                covered_base[p] = _balance_where(balance, party.covers[:, p])
                year_fees[p] = 0.0

        for p in range(n_party):
            paid = payout_due[now, p]
            recovered = recovery_due[now, p]
            party_out[PAYOUT, y, p] += paid
            party_out[RECOVERY, y, p] += recovered
            if party.kind[p] == POOL:
                pool_balance[p] += recovered - paid
                pool_committed[p] -= paid

        # A pool's circuit breaker looks at its eligible loans' NPL rate at the start of the
        # month: defaults of the last 12 months over (those defaults + the highest eligible
        # balance in those months), so a book that runs off does not trip it by shrinking.
        for p in range(n_party):
            if party.kind[p] != POOL or party.npl_breaker[p] == np.inf:
                continue
            npl = 0.0
            for s in range(n_seg):
                if party.eligible[p, s] > 0.0:
                    for k in range(max(0, now - 12), now):
                        npl += default_amount[k, s]
            alive = _balance_where(balance, party.eligible[p])
            eligible_history[now, p] = alive
            for k in range(max(0, now - 12), now):
                alive = max(alive, eligible_history[k, p])
            tripped[p] = npl > 0.0 and npl > party.npl_breaker[p] * (alive + npl)

        if now == 0:
            first = book.replica_start[replica]
            originate_records(
                first,
                first + book.n_initial[replica],
                False,
                now,
                whole,
                seed,
                path,
                book,
                seg,
                probability,
                threshold,
                settings.origination_months,
                balance,
                subsidy_balance,
                balance_change,
                subsidy_change,
                default_amount,
                default_count,
                segment_out,
                scratch,
                words,
            )

        if now < settings.origination_months:
            new_amount = book.new_amount[replica, now]
            admitted_shares(
                new_amount, now, seg, party, settings, balance, net_assets, pool_balance, admitted
            )
            for s in range(n_seg):
                refused = 0.0
                for b in range(n_band):
                    refused += new_amount[s, b]
                segment_out[UNMET_DEMAND, y, s] += refused * (1.0 - admitted[s])
            _book_standard_lending(
                book,
                replica,
                now,
                y,
                seg,
                admitted,
                balance,
                subsidy_balance,
                balance_change,
                subsidy_change,
                segment_out,
            )
            originate_records(
                book.month_start[replica, now],
                book.month_start[replica, now + 1],
                True,
                now,
                admitted,
                seed,
                path,
                book,
                seg,
                probability,
                threshold,
                settings.origination_months,
                balance,
                subsidy_balance,
                balance_change,
                subsidy_change,
                default_amount,
                default_count,
                segment_out,
                scratch,
                words,
            )
            for p in range(n_party):
                # leverage right after new guarantees, in months the guarantor made any
                if party.kind[p] != GUARANTOR or net_assets[p] <= 0.0:
                    continue
                granted = 0.0
                for s in range(n_seg):
                    for b in range(n_band):
                        granted += new_amount[s, b] * admitted[s] * party.liability[s, b, p]
                if granted > 0.0:
                    lev = (
                        _weighted_balance(balance, party.liability, p)
                        + _initial_guarantees(party, p, now)
                    ) / net_assets[p]
                    party_out[MAX_ORIGINATION_LEVERAGE, y, p] = max(
                        party_out[MAX_ORIGINATION_LEVERAGE, y, p], lev
                    )
            # the breaker's denominator also sees loans lent this month
            for p in range(n_party):
                if party.kind[p] == POOL and party.npl_breaker[p] != np.inf:
                    eligible_history[now, p] = max(
                        eligible_history[now, p], _balance_where(balance, party.eligible[p])
                    )

        for p in range(n_party):
            # The compensation-rate base: covered balance at the start of the year, or the
            # highest balance reached since, so a book still being built is not capped at 0.
            covered_base[p] = max(covered_base[p], _balance_where(balance, party.covers[:, p]))

        for s in range(n_seg):
            segment_out[CREDIT_LOSS, y, s] += default_amount[now, s] * seg.lgd[s]
        allocate_losses(
            now,
            y,
            default_amount[now],
            seg,
            party,
            demand,
            net_assets,
            comp_reserve,
            pool_balance,
            pool_committed,
            tripped,
            covered_defaults,
            covered_base,
            payout_due,
            recovery_due,
            party_out,
        )

        # Accrual for the month on loans alive in it.
        for p in range(n_party):
            fee = _weighted_balance(balance, party.fee, p) / 12.0
            cost = _weighted_balance(balance, party.cost, p) / 12.0
            subsidy = _weighted_balance(balance, party.fee_subsidy, p) / 12.0
            party_out[FEE_INCOME, y, p] += fee
            year_fees[p] += fee
            year_out[FISCAL_COST, y] += subsidy
            if party.kind[p] == GUARANTOR or party.kind[p] == REGUARANTOR:
                net_assets[p] += fee - cost + subsidy
        for s in range(n_seg):
            year_out[FISCAL_COST, y] += subsidy_balance[s] * settings.interest_subsidy_rate / 12.0

        if now % 12 == 11 or now == n_months - 1:
            _close_year(
                now,
                y,
                balance,
                party,
                net_assets,
                pool_balance,
                comp_reserve,
                unearned_reserve,
                year_fees,
                covered_defaults,
                covered_base,
                segment_out,
                party_out,
            )


@jit()
def _close_year(
    now,
    y,
    balance,
    party,
    net_assets,
    pool_balance,
    comp_reserve,
    unearned_reserve,
    year_fees,
    covered_defaults,
    covered_base,
    segment_out,
    party_out,
):
    """Year end: set reserves, record balances, capital, leverage and compensation rates."""
    n_seg, n_band = balance.shape
    for s in range(n_seg):
        total = 0.0
        for b in range(n_band):
            total += balance[s, b]
        segment_out[OUTSTANDING, y, s] = max(total, 0.0)
    for p in range(party.kind.shape[0]):
        kind = party.kind[p]
        guaranteed = _guarantee_balance(balance, party.guaranteed, p)
        if kind == GUARANTOR:
            guaranteed += _initial_guarantees(party, p, now + 1)
            # Unearned-fee reserve: a share of the year's fee income, re-set each year.
            target = party.unearned_reserve[p] * year_fees[p]
            net_assets[p] -= target - unearned_reserve[p]
            unearned_reserve[p] = target
            # Compensation reserve: a share of the year-end balance, until it reaches a cap.
            add = min(
                party.comp_reserve_rate[p] * guaranteed,
                max(party.comp_reserve_cap[p] * guaranteed - comp_reserve[p], 0.0),
            )
            comp_reserve[p] += add
            net_assets[p] -= add
        if kind == BANK:  # no capital: NaN in the results assembly
            continue
        party_out[GUARANTEE_OUTSTANDING, y, p] = guaranteed
        if kind == POOL:  # no leverage: NaN in the results assembly
            party_out[CAPITAL, y, p] = pool_balance[p]
            continue
        party_out[CAPITAL, y, p] = net_assets[p]
        liability = _weighted_balance(balance, party.liability, p)
        if kind == GUARANTOR:
            liability += _initial_guarantees(party, p, now + 1)
        party_out[LEVERAGE, y, p] = liability / net_assets[p] if net_assets[p] > 0 else np.inf
        base = covered_base[p]
        party_out[COMPENSATION_RATE, y, p] = covered_defaults[p] / base if base > 0 else np.nan


@jit(parallel=True)
def simulate_block(
    seed, first_path, book, seg, party, macro, settings, segment_out, party_out, year_out
):
    """Simulate paths ``first_path .. first_path + len(out) - 1`` in parallel.

    Outputs are zeroed here; each path writes only its own slice.
    """
    n = segment_out.shape[0]
    segment_out[:] = 0.0
    party_out[:] = 0.0
    year_out[:] = 0.0
    for i in prange(n):
        simulate_path(
            seed,
            first_path + i,
            book,
            seg,
            party,
            macro,
            settings,
            segment_out[i],
            party_out[i],
            year_out[i],
        )
