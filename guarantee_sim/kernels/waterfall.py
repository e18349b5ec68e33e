"""The loss-sharing waterfall: who takes which share of a month's defaults, and when cash moves.

Every share is a share of the *loan's* loss (exposure x LGD). Each party's share of the
month's defaults is decided at once on the state of that moment, pro rata, so the result
does not depend on the order of loans:

* a pool takes nothing while its circuit breaker is tripped, and at most its uncommitted
  balance (balance - shares taken but not yet paid); a pool that is asked while its
  breaker is not tripped and cannot pay all of it is *depleted* that year
  (``pool_depleted``), a different event from the breaker (``pool_breaker_tripped``);
* a re-guarantor takes nothing above its annual compensation-rate cap, on its basis:
  covered defaults this year / covered balance (``defaults_over_balance``), or its
  compensations this year / covered guarantees released this year
  (``payouts_over_released``); the month that crosses the cap is shared pro rata;
* a guarantor takes losses up to its loss-absorbing capital (net assets + compensation
  reserve) and nothing once insolvent;
* what a party does not take goes to its fallback (a later party, the bank or
  ``unabsorbed``). Parties are decided in an order where fallback targets come later.

Cash follows after each party's lag (a distribution over months when the claim handlers'
process sets it); recoveries (1 - LGD of what it paid) return evenly
over the segment's recovery profile. ``unabsorbed`` has no cash flows.

:func:`allocate_losses`, once a month:

1. :func:`_ask_shares`: each party is asked its share of each segment's defaulted exposure
   (``Scratch.asked``), each loan on the terms of its contract class (coverage and split
   of the year it was written), and the exposure in segments each party covers is summed;
2. parties in ``Parties.order``, each by :func:`_decide_party`: a segment it may not take
   goes to its fallback, it takes the fraction it can (:func:`_take_fraction`) and passes
   the rest on, its payouts and recoveries are scheduled (:func:`_schedule_cash`), and
   its loss is charged (a guarantor's to its compensation reserve first);
3. what reached ``unabsorbed`` is its loss; the covered defaults count towards the year's
   compensation rates.
"""

from __future__ import annotations

import numpy as np

from ..philox import jit
from .layout import (
    DEFAULTS_OVER_BALANCE,
    GUARANTOR,
    LOSS,
    NO_REFCOUNT,
    PAYOUT,
    POOL,
    POOL_DEPLETED,
    RECOVERY,
    REGUARANTOR,
    SHORTFALL,
)


@jit(**NO_REFCOUNT)
def _move_cash(month, now, y, p, amount, variable, due, kind, state, out):
    """Pay or receive ``amount`` at ``month``: now if due this month, else schedule it."""
    if amount == 0.0:
        return
    if month != now:
        if month < due.shape[0]:
            due[month, p] += amount
        return
    out.party[variable, y, p] += amount
    if kind == POOL:
        if variable == PAYOUT:
            state.pool_balance[p] -= amount
            state.pool_committed[p] -= amount
        else:
            state.pool_balance[p] += amount


@jit(**NO_REFCOUNT)
def _take_fraction(p, y, kind, exposure, loss, party, state, scratch):
    """Share (0..1) of its asked losses the party can take this month (year ``y``)."""
    if kind == POOL:
        return _pool_fraction(p, exposure, state)
    if kind == REGUARANTOR:
        return _reguarantor_fraction(p, y, exposure, party, state, scratch)
    if kind == GUARANTOR:
        return _guarantor_fraction(p, loss, state)
    return 1.0  # the bank always takes what reaches it


@jit(**NO_REFCOUNT)
def _pool_fraction(p, exposure, state):
    """Nothing while the breaker is tripped, else up to the uncommitted balance."""
    if state.tripped[p]:
        return 0.0
    available = state.pool_balance[p] - state.pool_committed[p]
    return min(max(available / exposure, 0.0), 1.0)


@jit(**NO_REFCOUNT)
def _reguarantor_fraction(p, y, exposure, party, state, scratch):
    """Up to the compensation-rate cap (year ``y``'s), on the party's basis and the year so
    far.

    Defaults over balance: this month's covered defaults count against cap x covered
    balance. Payouts over released: the exposure it is asked to compensate counts against
    cap x covered guarantees released this year (this month's defaults included).
    """
    cap = party.compensation_cap[y, p]
    if cap == np.inf:
        return 1.0
    if party.compensation_basis[p] == DEFAULTS_OVER_BALANCE:
        asked = scratch.covered_now[p]
        room = cap * state.covered_base[p] - state.covered_defaults[p]
    else:
        asked = exposure
        room = cap * state.covered_released[p] - state.compensated[p]
    if asked <= 0.0:
        return 1.0
    return min(max(room / asked, 0.0), 1.0)


@jit(**NO_REFCOUNT)
def _guarantor_fraction(p, loss, state):
    """Up to the loss-absorbing capital (net assets + compensation reserve)."""
    capacity = state.net_assets[p] + state.comp_reserve[p]
    if loss <= 0.0:
        return 1.0 if capacity > 0.0 else 0.0
    return min(max(capacity / loss, 0.0), 1.0)


@jit(**NO_REFCOUNT)
def allocate_losses(now, y, seg, party, ledger, state, scratch, out):
    """Share this month's defaults (``ledger.default_amount[now]``, CNY of exposure by
    segment) among the parties; the steps are in the module docstring."""
    if not _ask_shares(ledger.default_amount[now], party, scratch):
        return
    n_party = party.kind.shape[0]
    for i in range(n_party):
        _decide_party(party.order[i], now, y, seg, party, ledger, state, scratch, out)
    asked = scratch.asked
    for s in range(asked.shape[1]):
        out.party[LOSS, y, n_party] += asked[n_party, s] * seg.lgd[s]  # unabsorbed
    for p in range(n_party):
        state.covered_defaults[p] += scratch.covered_now[p]


@jit(**NO_REFCOUNT)
def _ask_shares(default_amount, party, scratch):
    """Each party's share of each segment's defaulted exposure (``default_amount[s, c]``, by
    contract class: each on its class's terms); False if nothing defaulted."""
    asked = scratch.asked
    covered_now = scratch.covered_now
    asked[:] = 0.0
    covered_now[:] = 0.0
    any_default = False
    n_class = default_amount.shape[1]
    for s in range(default_amount.shape[0]):
        exposure = 0.0
        for c in range(n_class):
            exposure += default_amount[s, c]
        if exposure <= 0.0:
            continue
        any_default = True
        for p in range(party.kind.shape[0]):
            share = 0.0
            for c in range(n_class):
                share += party.share[s, c, p] * default_amount[s, c]
            asked[p, s] = share
            if party.covers[s, p] > 0.0:
                covered_now[p] += exposure
    return any_default


@jit(**NO_REFCOUNT)
def _decide_party(p, now, y, seg, party, ledger, state, scratch, out):
    """Party ``p`` takes what it can of what it is asked; the rest goes to its fallback."""
    kind = party.kind[p]
    fallback = party.fallback[p]
    asked = scratch.asked
    exposure = 0.0
    loss = 0.0
    refused = 0.0
    for s in range(asked.shape[1]):
        if asked[p, s] > 0.0 and party.eligible[p, s] == 0.0:
            # a segment the party does not cover: its share goes straight on
            refused += asked[p, s] * seg.lgd[s]
            asked[fallback, s] += asked[p, s]
            asked[p, s] = 0.0
        exposure += asked[p, s]
        loss += asked[p, s] * seg.lgd[s]
    take = (
        _take_fraction(p, y, kind, exposure, loss, party, state, scratch) if exposure > 0.0 else 1.0
    )
    taken_loss = 0.0
    for s in range(asked.shape[1]):
        exposure_asked = asked[p, s]
        if exposure_asked <= 0.0:
            continue
        taken = take * exposure_asked
        if taken < exposure_asked:
            asked[fallback, s] += exposure_asked - taken
            refused += (exposure_asked - taken) * seg.lgd[s]
        if taken <= 0.0:
            continue
        taken_loss += taken * seg.lgd[s]
        _schedule_cash(p, kind, s, taken, now, y, seg, party, ledger, state, out)
    if kind == POOL:
        state.pool_committed[p] += take * exposure
        if take < 1.0 and not state.tripped[p]:
            out.party[POOL_DEPLETED, y, p] = 1.0  # its balance, not its breaker, fell short
    elif kind == GUARANTOR:
        # losses are charged to the compensation reserve first, then to net assets
        from_reserve = min(state.comp_reserve[p], taken_loss)
        state.comp_reserve[p] -= from_reserve
        state.net_assets[p] -= taken_loss - from_reserve
    elif kind == REGUARANTOR:
        state.net_assets[p] -= taken_loss
        state.compensated[p] += take * exposure
    out.party[LOSS, y, p] += taken_loss
    out.party[SHORTFALL, y, p] += refused


@jit(**NO_REFCOUNT)
def _schedule_cash(p, kind, s, taken, now, y, seg, party, ledger, state, out):
    """Party ``p``'s payouts on ``taken`` CNY of exposure after its lags, and the recoveries
    (1 - LGD of each payout) spread over the segment's recovery profile."""
    spread = seg.recovery_spread[s]
    for lag in range(party.lag_weights.shape[1]):
        share = party.lag_weights[p, lag]
        if share == 0.0:
            continue
        paid = taken * share
        paid_month = now + lag
        _move_cash(paid_month, now, y, p, paid, PAYOUT, ledger.payout_due, kind, state, out)
        per_month = paid * (1.0 - seg.lgd[s]) / spread
        first = paid_month + seg.recovery_lag[s]
        for m in range(spread):
            _move_cash(
                first + m, now, y, p, per_month, RECOVERY, ledger.recovery_due, kind, state, out
            )
