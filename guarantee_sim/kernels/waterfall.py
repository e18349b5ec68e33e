"""The loss-sharing waterfall: who takes which share of a month's defaults, and when cash moves.

Every share is a share of the *loan's* loss (exposure x LGD). Each party's share of the
month's defaults is decided at once on the state of that moment, pro rata, so the result
does not depend on the order of loans:

* a pool takes nothing while its circuit breaker is tripped, and at most its uncommitted
  balance (balance - shares taken but not yet paid);
* a re-guarantor takes nothing above its annual compensation-rate cap (covered defaults
  this year / covered balance); the month that crosses the cap is shared pro rata;
* a guarantor takes losses up to its loss-absorbing capital (net assets + compensation
  reserve) and nothing once insolvent;
* what a party does not take goes to its fallback (a later party, the bank or
  ``unabsorbed``). Parties are decided in an order where fallback targets come later.

Cash follows after each party's lag (a distribution over months when the claim handlers'
process sets it); recoveries (1 - LGD of what it paid) return evenly
over the segment's recovery profile. ``unabsorbed`` has no cash flows.
"""

from __future__ import annotations

import numpy as np

from ..philox import jit
from .layout import GUARANTOR, LOSS, PAYOUT, POOL, RECOVERY, REGUARANTOR, SHORTFALL


@jit()
def _move_cash(
    month, now, y, p, amount, variable, due, kind, pool_balance, pool_committed, party_out
):
    """Pay or receive ``amount`` at ``month``: now if due this month, else schedule it."""
    if amount == 0.0:
        return
    if month != now:
        if month < due.shape[0]:
            due[month, p] += amount
        return
    party_out[variable, y, p] += amount
    if kind == POOL:
        if variable == PAYOUT:
            pool_balance[p] -= amount
            pool_committed[p] -= amount
        else:
            pool_balance[p] += amount


@jit()
def _take_fraction(  # noqa: PLR0911 (a jitted branch table, one return per case)
    p,
    kind,
    exposure,
    loss,
    party,
    net_assets,
    comp_reserve,
    pool_balance,
    pool_committed,
    tripped,
    covered_defaults,
    covered_base,
    covered_now,
):
    """Share (0..1) of its demanded losses the party can take this month."""
    if kind == POOL:
        if tripped[p]:
            return 0.0
        available = pool_balance[p] - pool_committed[p]
        return min(max(available / exposure, 0.0), 1.0)
    if kind == REGUARANTOR:
        cap = party.compensation_cap[p]
        if cap == np.inf or covered_now[p] <= 0.0:
            return 1.0
        room = cap * covered_base[p] - covered_defaults[p]
        return min(max(room / covered_now[p], 0.0), 1.0)
    if kind == GUARANTOR:
        capacity = net_assets[p] + comp_reserve[p]
        if loss <= 0.0:
            return 1.0 if capacity > 0.0 else 0.0
        return min(max(capacity / loss, 0.0), 1.0)
    return 1.0  # the bank always takes what reaches it


@jit()
def allocate_losses(  # noqa: C901, PLR0912, PLR0915 (a jitted loop nest: split it in a kernel change, not in a lint pass)
    now,
    y,
    default_amount,
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
):
    """Share this month's defaults (CNY of exposure by segment) among the parties."""
    n_seg = default_amount.shape[0]
    n_party = party.kind.shape[0]
    unabsorbed = n_party
    demand[:] = 0.0
    covered_now = np.zeros(n_party)
    any_default = False
    for s in range(n_seg):
        exposure = default_amount[s]
        if exposure <= 0.0:
            continue
        any_default = True
        for p in range(n_party):
            demand[p, s] = party.share[s, p] * exposure
            if party.covers[s, p] > 0.0:
                covered_now[p] += exposure
    if not any_default:
        return

    for i in range(n_party):
        p = party.order[i]
        kind = party.kind[p]
        fallback = party.fallback[p]
        exposure = 0.0
        loss = 0.0
        refused = 0.0
        for s in range(n_seg):
            if demand[p, s] > 0.0 and party.eligible[p, s] == 0.0:
                # a segment the party does not cover: its share goes straight on
                refused += demand[p, s] * seg.lgd[s]
                demand[fallback, s] += demand[p, s]
                demand[p, s] = 0.0
            exposure += demand[p, s]
            loss += demand[p, s] * seg.lgd[s]
        if exposure > 0.0:
            take = _take_fraction(
                p,
                kind,
                exposure,
                loss,
                party,
                net_assets,
                comp_reserve,
                pool_balance,
                pool_committed,
                tripped,
                covered_defaults,
                covered_base,
                covered_now,
            )
        else:
            take = 1.0
        taken_loss = 0.0
        for s in range(n_seg):
            asked = demand[p, s]
            if asked <= 0.0:
                continue
            taken = take * asked
            if taken < asked:
                demand[fallback, s] += asked - taken
                refused += (asked - taken) * seg.lgd[s]
            if taken <= 0.0:
                continue
            taken_loss += taken * seg.lgd[s]
            spread = seg.recovery_spread[s]
            for lag in range(party.lag_weights.shape[1]):
                share = party.lag_weights[p, lag]
                if share == 0.0:
                    continue
                paid = taken * share
                paid_month = now + lag
                _move_cash(
                    paid_month,
                    now,
                    y,
                    p,
                    paid,
                    PAYOUT,
                    payout_due,
                    kind,
                    pool_balance,
                    pool_committed,
                    party_out,
                )
                per_month = paid * (1.0 - seg.lgd[s]) / spread
                first = paid_month + seg.recovery_lag[s]
                for k in range(spread):
                    _move_cash(
                        first + k,
                        now,
                        y,
                        p,
                        per_month,
                        RECOVERY,
                        recovery_due,
                        kind,
                        pool_balance,
                        pool_committed,
                        party_out,
                    )
        if kind == POOL:
            pool_committed[p] += take * exposure
        elif kind == GUARANTOR:
            # losses are charged to the compensation reserve first, then to net assets
            from_reserve = min(comp_reserve[p], taken_loss)
            comp_reserve[p] -= from_reserve
            net_assets[p] -= taken_loss - from_reserve
        elif kind == REGUARANTOR:
            net_assets[p] -= taken_loss
        party_out[LOSS, y, p] += taken_loss
        party_out[SHORTFALL, y, p] += refused

    for s in range(n_seg):
        party_out[LOSS, y, unabsorbed] += demand[unabsorbed, s] * seg.lgd[s]
    for p in range(n_party):
        covered_defaults[p] += covered_now[p]
