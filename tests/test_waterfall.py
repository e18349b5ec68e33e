"""Known-answer cases for the loss-sharing waterfall (DESIGN §4, §6).

Each case is small enough to compute by hand: a custom loan book of a few loans of 1 m CNY
whose defaults are forced (grade PD 0.999 times a pd_multiplier of 20, capped by the
kernels at 0.999999 a year, so a loan alive all year defaults but for a 1e-6 chance) or
prevented (pd_multiplier 1e-9). Asset correlation is 0, so the year factor plays no part.
Every case first asserts the defaults it relies on (read from the outputs), then checks the
hand-computed shares, and each mechanism is shown to bind by a control run in which it
does not.

Notation in the comments: m = 1e6 CNY; "exposure" is EAD, "loss" is EAD x LGD.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_scenario

import guarantee_sim as gs
from guarantee_sim.book import LoanBook, pack_id

M = 1.0e6
SEED = 99
REL = 1e-9

BAD, SAFE = 1, 0  # grades of the "sme" segment below


def book_of(records) -> LoanBook:
    """records: (segment, grade, month, tenor, amount, n) -> n single-loan records."""
    rows = []
    for segment, grade, month, tenor, amount, n in records:
        for _ in range(n):
            rows.append((month, segment, grade, tenor, amount))
    rows.sort(key=lambda r: r[0])
    id_hi, id_lo = pack_id(77, [r[0] for r in rows], np.arange(len(rows)))
    return LoanBook.from_records(
        {"month": m, "segment": seg, "grade": g, "tenor": t, "amount": a, "id_hi": hi, "id_lo": lo}
        for (m, seg, g, t, a), hi, lo in zip(rows, id_hi, id_lo, strict=True)
    )


def segment(scheme: str, *, lgd=0.5, tenor=24, rec_lag=1, rec_spread=2, two_grades=False):
    """rho = 0; PD 0.999, or grades {SAFE: PD 2e-9, BAD: PD 0.999} (mean 0.5)."""
    pd = (
        {
            "mean": 0.5,
            "grades": [{"relative_pd": 1e-7, "weight": 1}, {"relative_pd": 50.0, "weight": 1}],
        }
        if two_grades
        else {"mean": 0.999}
    )
    return {
        "tags": ["guaranteed"],
        "pd": pd,
        "lgd": lgd,
        "recovery": {"lag_months": rec_lag, "spread_months": rec_spread},
        "correlation": 0.0,
        "loan_size": {"median": M, "sigma": 0.0, "cap": 1e8},
        "tenor_months": tenor,
        "lending": {"count_per_year": 1},
        "scheme": scheme,
    }


def guarantor(net_assets=1e9, fallback="bank", **extra):
    g = {
        "kind": "guarantor",
        "public": True,
        "net_assets": net_assets,
        "fee_rate": 0.01,
        "claim_lag_months": 2,
        "fallback": fallback,
    }
    g.update(extra)
    return g


def run(data, book, paths=1):
    return gs.simulate(make_scenario(data), paths=paths, seed=SEED, book=book)


def val(ds, var, party=None, year=None, path=0):
    da = ds[var].isel(path=path)
    if party is not None:
        da = da.sel(party=party)
    da = da.sel(year=year) if year is not None else da.sum("year")
    return float(da.sum())


def close(actual, expected, scale=M):
    assert actual == pytest.approx(expected, rel=REL, abs=REL * scale)


# --------------------------------------------------------------------------- re-guarantor cap


def reguarantee_dict(provincial_cap, provincial_fallback):
    """Scheme 20/20/20/40-like: coverage 0.8, split guarantor 0.5, provincial 0.25,
    national 0.25 (each takes 0.4, 0.2, 0.2 of a loan's loss; the bank keeps 0.2).

    Book (all originated Jan 2021, tenor 24): one SAFE loan of 75 m and five BAD loans of
    1 m. Nothing defaults in 2021 (pd_multiplier 1e-9); in 2022 (pd_multiplier 20) the five
    BAD loans default, whatever their months. The provincial re-guarantor's base for 2022 is
    therefore the covered balance on 1 Jan 2022: 75 + 5 = 80 m.
    """
    return {
        "name": "reguarantee_cap",
        "horizon": {"start_year": 2021, "origination_years": 1, "runoff_months": 36},
        "simulation": {"paths": 1, "seed": SEED},
        "macro": {"pd_multiplier": {2021: 1e-9, 2022: 20.0}},
        "segments": {"sme": segment("national", two_grades=True)},
        "parties": {
            "bank": {"kind": "bank"},
            "guarantor": guarantor(),
            "provincial": {
                "kind": "reguarantor",
                "compensation_rate_cap": provincial_cap,
                "lag_months": 3,
                "fallback": provincial_fallback,
            },
            "national": {
                "kind": "reguarantor",
                "compensation_rate_cap": None,
                "lag_months": 1,
                "fallback": "bank",
            },
        },
        "schemes": {
            "national": {
                "coverage": 0.8,
                "split": {"guarantor": 0.5, "provincial": 0.25, "national": 0.25},
            }
        },
    }


REGUARANTEE_BOOK = [(0, SAFE, 0, 24, 75 * M, 1), (0, BAD, 0, 24, 1 * M, 5)]

# 2022: exposure 5 m, credit loss 5 m x 0.5 = 2.5 m.
# Own shares: bank 0.2 x 2.5 = 0.5 m; guarantor 0.4 x 2.5 = 1.0 m; national 0.2 x 2.5 = 0.5 m;
# provincial is asked 0.2 x 2.5 = 0.5 m.
# Provincial cap 4%: it shares covered defaults up to 0.04 x 80 m = 3.2 m of the 5 m, i.e.
# 3.2 / 5 = 64% of its demand (the month that crosses the cap is pro rata):
#   provincial loss      = 0.2 x 3.2 m x 0.5 = 0.32 m   (payout 0.2 x 3.2 = 0.64 m)
#   provincial shortfall = 0.2 x 1.8 m x 0.5 = 0.18 m   -> to its fallback.
# Its compensation rate for 2022 is 5 / 80 = 0.0625.
BASE_LOSSES = {"bank": 0.5 * M, "guarantor": 1.0 * M, "national": 0.5 * M, "unabsorbed": 0.0}
PROVINCIAL_LOSS, PROVINCIAL_SHORTFALL = 0.32 * M, 0.18 * M


@pytest.mark.parametrize("fallback", ["guarantor", "bank", "unabsorbed", "national"])
def test_reguarantor_cap_binds_and_refused_share_goes_to_fallback(fallback):
    data = reguarantee_dict(0.04, fallback)
    ds = run(data, book_of(REGUARANTEE_BOOK))
    # preconditions: exactly the five bad loans default, all in 2022
    assert val(ds, "defaults_count", year=2021) == 0
    assert val(ds, "defaults_count", year=2022) == 5
    assert val(ds, "defaults_count") == 5
    close(val(ds, "credit_loss", year=2022), 2.5 * M)

    close(val(ds, "loss", "provincial", 2022), PROVINCIAL_LOSS)
    close(val(ds, "shortfall", "provincial", 2022), PROVINCIAL_SHORTFALL)
    close(val(ds, "payout", "provincial"), 0.64 * M)
    close(val(ds, "recovery", "provincial"), 0.32 * M)
    close(val(ds, "compensation_rate", "provincial", 2022), 0.0625, scale=1)
    expected = dict(BASE_LOSSES)
    expected[fallback] += PROVINCIAL_SHORTFALL  # the fallback party's extra loss
    for party, amount in expected.items():
        close(val(ds, "loss", party, 2022), amount)
        close(val(ds, "loss", party), amount)  # and nothing in any other year
    for party in ["bank", "guarantor", "national"]:
        assert val(ds, "shortfall", party) == 0.0
    close(val(ds, "loss", year=2022), 2.5 * M)


def test_reguarantor_cap_on_payouts_over_released_decides_otherwise():
    """The regulator's basis (监管口径): compensations this year / covered guarantees
    released this year, both at the provincial's share 0.8 x 0.25 = 0.2 of each loan.

    Nothing matures in 2022 (the 75 m SAFE loan runs to January 2023): the only releases
    are the defaults themselves. In the first month with defaults d, released = 0.2 d and
    the provincial is asked 0.2 d, so it takes 0.04 x 0.2 d / 0.2 d = 4% of it; every
    later month again adds 0.04 x 0.2 d of room for 0.2 d asked: it takes 4% of its share
    of every 2022 default. Loss 0.04 x 0.5 m = 0.02 m, shortfall 0.48 m (to the
    guarantor), and its compensation rate is exactly the cap, 0.04. On the default basis
    the same cap lets it take 64% (0.32 m): the two bases decide differently.
    """
    data = reguarantee_dict(0.04, "guarantor")
    data["parties"]["provincial"]["compensation_rate_basis"] = "payouts_over_released"
    ds = run(data, book_of(REGUARANTEE_BOOK))
    assert val(ds, "defaults_count", year=2022) == 5
    close(val(ds, "loss", "provincial"), 0.02 * M)
    close(val(ds, "shortfall", "provincial", 2022), 0.48 * M)
    close(val(ds, "loss", "guarantor"), 1.0 * M + 0.48 * M)
    close(val(ds, "payout", "provincial"), 0.04 * M)
    close(val(ds, "compensation_rate", "provincial", 2022), 0.04, scale=1)
    # national (no cap, default basis) is untouched
    close(val(ds, "loss", "national"), 0.5 * M)


def test_compensation_rate_on_payouts_over_released_counts_maturities():
    """No cap: the rate is reported on the party's basis. 2022: it compensates all it is
    asked, 0.2 x 5 m, against 0.2 x 5 m released: rate 1. 2023: nothing defaults and the
    75 m loan matures (0.2 x 75 m released, nothing compensated): rate 0. 2021: nothing
    released, no rate (NaN)."""
    data = reguarantee_dict(None, "guarantor")
    data["parties"]["provincial"]["compensation_rate_basis"] = "payouts_over_released"
    ds = run(data, book_of(REGUARANTEE_BOOK))
    close(val(ds, "compensation_rate", "provincial", 2022), 1.0, scale=1)
    close(val(ds, "compensation_rate", "provincial", 2023), 0.0, scale=1)
    rate_2021 = ds.compensation_rate.sel(party="provincial", year=2021).isel(path=0)
    assert np.isnan(float(rate_2021))
    close(val(ds, "compensation_rate", "national", 2022), 5 / 80, scale=1)


def test_reguarantor_without_cap_takes_its_full_share():
    """Control: no cap -> provincial takes 0.2 x 2.5 m = 0.5 m, nothing falls back."""
    ds = run(reguarantee_dict(None, "guarantor"), book_of(REGUARANTEE_BOOK))
    assert val(ds, "defaults_count", year=2022) == 5
    close(val(ds, "loss", "provincial"), 0.5 * M)
    assert val(ds, "shortfall", "provincial") == 0.0
    for party, amount in BASE_LOSSES.items():
        close(val(ds, "loss", party), amount)


def test_reguarantor_cap_above_the_years_rate_does_not_bind():
    """Cap 7% > 5 / 80 = 6.25%: provincial takes its full 0.5 m."""
    ds = run(reguarantee_dict(0.07, "unabsorbed"), book_of(REGUARANTEE_BOOK))
    close(val(ds, "loss", "provincial"), 0.5 * M)
    assert val(ds, "loss", "unabsorbed") == 0.0


# --------------------------------------------------------------------------- pool running empty


def pool_dict(balance, **pool_extra):
    """Credit loans with a pool: coverage 0.5, split pool 1 (pool takes half of each loss).

    Five BAD loans of 1 m, originated Jan 2021 with tenor 12, all default in 2021. The pool
    pays at once (lag 0); recoveries come 12 months after a payout, i.e. in 2022, so none
    refill the pool while it is being drawn.
    """
    pool = {"kind": "pool", "initial_balance": balance, "lag_months": 0, "fallback": "bank"}
    pool.update(pool_extra)
    return {
        "name": "pool_empty",
        "horizon": {"start_year": 2021, "origination_years": 1, "runoff_months": 36},
        "simulation": {"paths": 1, "seed": SEED},
        "macro": {"pd_multiplier": {2021: 20.0}},
        "segments": {"credit": segment("credit_pool", tenor=12, rec_lag=12, rec_spread=1)},
        "parties": {"bank": {"kind": "bank"}, "pool": pool},
        "schemes": {"credit_pool": {"coverage": 0.5, "split": {"pool": 1.0}}},
    }


POOL_BOOK = [(0, 0, 0, 12, 1 * M, 5)]


def test_pool_runs_empty_pays_exactly_its_balance_rest_to_fallback():
    # Exposure 5 m, credit loss 2.5 m. Pool is asked for exposure 0.5 x 5 = 2.5 m
    # (loss 1.25 m) but holds 1.0 m: it pays exactly 1.0 m, loss 1.0 x 0.5 = 0.5 m;
    # shortfall (2.5 - 1.0) x 0.5 = 0.75 m goes to the bank, whose loss is its own
    # 0.5 x 2.5 = 1.25 m plus 0.75 m = 2.0 m. Balance at end-2021: 0; the recovery
    # 1.0 x (1 - 0.5) = 0.5 m arrives in 2022.
    ds = run(pool_dict(1.0 * M), book_of(POOL_BOOK))
    assert val(ds, "defaults_count", year=2021) == 5
    close(val(ds, "credit_loss", year=2021), 2.5 * M)
    close(val(ds, "payout", "pool"), 1.0 * M)
    close(val(ds, "payout", "pool", 2021), 1.0 * M)
    close(val(ds, "loss", "pool", 2021), 0.5 * M)
    close(val(ds, "shortfall", "pool", 2021), 0.75 * M)
    close(val(ds, "loss", "bank", 2021), 2.0 * M)
    assert val(ds, "loss", "unabsorbed") == 0.0
    close(val(ds, "capital", "pool", 2021), 0.0)
    close(val(ds, "recovery", "pool", 2022), 0.5 * M)
    close(val(ds, "capital", "pool", 2022), 0.5 * M)
    # its balance fell short with no breaker: depleted in 2021, never tripped
    assert val(ds, "pool_depleted", "pool", 2021) == 1.0
    assert val(ds, "pool_depleted", "pool", 2022) == 0.0  # not asked again
    assert val(ds, "pool_breaker_tripped", "pool") == 0.0
    assert float(gs.results.depletion_probability(ds).sel(party="pool")) == 1.0
    assert float(gs.results.breaker_probability(ds).sel(party="pool")) == 0.0


def test_pool_with_enough_balance_takes_its_full_share():
    """Control: balance 10 m -> pool pays 2.5 m, loss 1.25 m, bank 1.25 m, no shortfall."""
    ds = run(pool_dict(10.0 * M), book_of(POOL_BOOK))
    assert val(ds, "defaults_count", year=2021) == 5
    close(val(ds, "payout", "pool"), 2.5 * M)
    close(val(ds, "loss", "pool"), 1.25 * M)
    close(val(ds, "loss", "bank"), 1.25 * M)
    assert val(ds, "shortfall", "pool") == 0.0
    close(val(ds, "capital", "pool", 2021), 7.5 * M)
    assert val(ds, "pool_depleted", "pool") == 0.0


def test_pool_committed_but_unpaid_shares_count_against_its_balance():
    """Same as the empty-pool case but the pool pays 6 months after a default: what it
    has promised and not yet paid still limits what it can take (exposure 1.0 m in all)."""
    ds = run(pool_dict(1.0 * M, lag_months=6), book_of(POOL_BOOK))
    assert val(ds, "defaults_count", year=2021) == 5
    close(val(ds, "payout", "pool"), 1.0 * M)
    close(val(ds, "loss", "pool", 2021), 0.5 * M)
    close(val(ds, "shortfall", "pool", 2021), 0.75 * M)
    close(val(ds, "loss", "bank", 2021), 2.0 * M)


# --------------------------------------------------------------------------- circuit breaker


def breaker_dict(breaker):
    """Credit loans with a pool of 100 m (never short), coverage 0.5 split pool 1.

    Book: batch A, 50 loans of 1 m lent in Dec 2021 for one month (their only window is
    Dec 2021, where each defaults with 1 - (1e-6)^(1/12) = 68%); batch B, 20 loans of 1 m
    lent in Jan 2022 for 12 months (all default in 2022). The breaker (threshold 10%) is
    evaluated at the start of each month on the previous 12 months.
    """
    data = pool_dict(100.0 * M)
    data["name"] = "pool_breaker"
    data["horizon"]["origination_years"] = 2
    data["macro"] = {"pd_multiplier": {2021: 20.0, 2022: 20.0}}
    data["segments"]["credit"].update(recovery={"lag_months": 1, "spread_months": 1})
    data["parties"]["pool"]["npl_circuit_breaker"] = breaker
    return data


BREAKER_BOOK = [(0, 0, 11, 1, 1 * M, 50), (0, 0, 12, 12, 1 * M, 20)]


def test_circuit_breaker_trips_after_bad_period_and_pool_takes_nothing_after():
    ds = run(breaker_dict(0.10), book_of(BREAKER_BOOK))
    k_a = val(ds, "defaults_count", year=2021)  # A's defaults, all in December 2021
    assert 6 <= k_a <= 42  # (37 with this seed)
    assert val(ds, "defaults_count", year=2022) == 20  # all of B
    # 2021: at the start of December no eligible loan has defaulted in the past year, so
    # the pool takes its share: 0.5 x k_A m x 0.5 = 0.25 k_A m; the bank the same.
    close(val(ds, "loss", "pool", 2021), 0.25 * k_a * M)
    close(val(ds, "loss", "bank", 2021), 0.25 * k_a * M)
    assert val(ds, "shortfall", "pool", 2021) == 0.0
    # 2022: every month's 12-month window contains December 2021, so NPL >= k_A m, while
    # the highest eligible balance in any window is at most 50 m (A's month):
    # NPL rate >= k_A / (50 + k_A) >= 6 / 56 = 10.7% > 10% -> tripped all year. The pool
    # takes nothing: credit loss 20 x 0.5 = 10 m; pool shortfall 0.5 x 10 = 5 m; the bank
    # takes all 10 m.
    close(val(ds, "credit_loss", year=2022), 10.0 * M)
    assert val(ds, "loss", "pool", 2022) == 0.0
    close(val(ds, "shortfall", "pool", 2022), 5.0 * M)
    close(val(ds, "loss", "bank", 2022), 10.0 * M)
    assert val(ds, "loss", "unabsorbed") == 0.0
    # the pool still had 100 m - 0.5 k_A m: it was the breaker, not the balance
    assert val(ds, "capital", "pool", 2021) > 50 * M
    assert val(ds, "pool_breaker_tripped", "pool", 2021) == 0.0
    assert val(ds, "pool_breaker_tripped", "pool", 2022) == 1.0
    assert val(ds, "pool_depleted", "pool") == 0.0
    # the metrics keep the two events apart
    assert float(gs.results.breaker_probability(ds).sel(party="pool")) == 1.0
    assert float(gs.results.depletion_probability(ds).sel(party="pool")) == 0.0


def test_without_breaker_pool_takes_its_share_in_the_following_year():
    """Control: same book, no breaker -> pool loss 2022 = 0.5 x 10 m = 5 m."""
    ds = run(breaker_dict(None), book_of(BREAKER_BOOK))
    assert val(ds, "defaults_count", year=2022) == 20
    close(val(ds, "loss", "pool", 2022), 5.0 * M)
    close(val(ds, "loss", "bank", 2022), 5.0 * M)
    assert val(ds, "shortfall", "pool") == 0.0


def test_breaker_above_the_npl_rate_does_not_trip():
    """Threshold 0.9, above the NPL rate in every month.

    In any month of 2022 the window holds k_A m of December defaults plus b <= 20 m of B's
    earlier defaults; the highest eligible balance in the window is at least A's December
    balance net of its defaults, 50 - k_A m (and B's balance once B is lent). NPL rate
    <= (k_A + b) / ((50 - k_A) + k_A + b) <= (k_A + 20) / 70 = 57 / 70 = 81% < 90% for
    k_A = 37 (any k_A <= 42). So the pool never trips and takes all of its 2022 share,
    0.5 x 10 m = 5 m.

    (Counting A's December balance before its same-month defaults, 50 m, the rate is lower
    still. A breaker whose "highest balance in the window" omits December 2021, because
    A's loans were lent after December's start-of-month snapshot and gone before
    January's, sees k_A / (k_A + 0) = 100% in January 2022 and wrongly refuses the shares
    of B's January defaults.)
    """
    ds = run(breaker_dict(0.9), book_of(BREAKER_BOOK))
    k_a = val(ds, "defaults_count", year=2021)
    assert 6 <= k_a <= 42
    assert val(ds, "defaults_count", year=2022) == 20
    assert val(ds, "shortfall", "pool") == 0.0
    close(val(ds, "loss", "pool", 2022), 5.0 * M)
    close(val(ds, "loss", "bank", 2022), 5.0 * M)


# --------------------------------------------------------------------------- insolvency


def insolvency_dict(net_assets, fallback):
    """Coverage 0.8, split guarantor 1. Ten BAD loans of 1 m lent Jan 2021 for 12 months,
    all default in 2021. No fees, costs or reserves, so the guarantor's loss-absorbing
    capital is exactly its initial net assets. Leverage: 10 m x 0.8 x 0.75 = 6 m of
    weighted liability <= 10 x 1 m, so nothing is rationed."""
    return {
        "name": "insolvency",
        "horizon": {"start_year": 2021, "origination_years": 1, "runoff_months": 36},
        "simulation": {"paths": 1, "seed": SEED},
        "macro": {"pd_multiplier": {2021: 20.0}},
        "segments": {"sme": segment("guaranteed", tenor=12)},
        "parties": {
            "bank": {"kind": "bank"},
            "guarantor": guarantor(
                net_assets,
                fallback,
                fee_rate=0.0,
                operating_cost_rate=0.0,
                unearned_fee_reserve=0.0,
                compensation_reserve_rate=0.0,
            ),
        },
        "schemes": {"guaranteed": {"coverage": 0.8, "split": {"guarantor": 1.0}}},
    }


INSOLVENCY_BOOK = [(0, 0, 0, 12, 1 * M, 10)]


def test_insolvent_guarantor_shortfall_is_unabsorbed():
    # Credit loss 10 m x 0.5 = 5 m. Bank keeps 0.2 x 5 = 1 m. Guarantor is asked
    # 0.8 x 5 = 4 m but has 1 m: loss 1 m (payout 2 m, recovery 1 m), shortfall 3 m,
    # which its fallback (unabsorbed) carries. Year-end net assets 1 - 1 = 0.
    ds = run(insolvency_dict(1.0 * M, "unabsorbed"), book_of(INSOLVENCY_BOOK))
    assert val(ds, "defaults_count", year=2021) == 10
    assert val(ds, "unmet_demand_amount") == 0.0
    close(val(ds, "loss", "guarantor", 2021), 1.0 * M)
    close(val(ds, "shortfall", "guarantor", 2021), 3.0 * M)
    close(val(ds, "loss", "unabsorbed", 2021), 3.0 * M)
    close(val(ds, "loss", "bank", 2021), 1.0 * M)
    close(val(ds, "payout", "guarantor"), 2.0 * M)
    close(val(ds, "recovery", "guarantor"), 1.0 * M)
    close(val(ds, "capital", "guarantor", 2021), 0.0)
    close(val(ds, "loss", year=2021), 5.0 * M)
    # net assets reached zero in 2021 and stayed there
    assert val(ds, "capital_exhausted", "guarantor", 2021) == 1.0
    assert val(ds, "capital_exhausted", "guarantor", 2024) == 1.0


def test_solvent_guarantor_leaves_nothing_unabsorbed():
    """Control, otherwise identical: net assets 1e9 -> guarantor 4 m, unabsorbed exactly 0."""
    ds = run(insolvency_dict(1e9, "unabsorbed"), book_of(INSOLVENCY_BOOK))
    assert val(ds, "defaults_count", year=2021) == 10
    close(val(ds, "loss", "guarantor"), 4.0 * M)
    assert val(ds, "shortfall", "guarantor") == 0.0
    assert val(ds, "loss", "unabsorbed") == 0.0
    close(val(ds, "capital", "guarantor", 2021), 1e9 - 4.0 * M, scale=1e9)
    assert val(ds, "capital_exhausted", "guarantor") == 0.0


def test_insolvent_guarantor_falling_back_to_bank():
    """Fallback bank: the bank carries 1 m + 3 m = 4 m, unabsorbed stays 0."""
    ds = run(insolvency_dict(1.0 * M, "bank"), book_of(INSOLVENCY_BOOK))
    assert val(ds, "defaults_count", year=2021) == 10
    close(val(ds, "loss", "guarantor"), 1.0 * M)
    close(val(ds, "shortfall", "guarantor"), 3.0 * M)
    close(val(ds, "loss", "bank"), 4.0 * M)
    assert val(ds, "loss", "unabsorbed") == 0.0


# --------------------------------------------------------------------------- fallback chains


def test_pool_falls_back_to_guarantor_then_guarantor_to_unabsorbed():
    """4321-like chain: coverage 0.8, split guarantor 0.5, pool 0.5; pool (0.4 of each loss)
    falls back to the guarantor, which falls back to unabsorbed.

    Ten BAD loans of 1 m, all default in 2021: credit loss 5 m. Bank 0.2 x 5 = 1 m.
    Pool (balance 0.6 m, lag 0, recoveries only in 2022) is asked exposure 0.4 x 10 = 4 m:
    pays 0.6 m, loss 0.3 m, shortfall 3.4 m x 0.5 = 1.7 m -> guarantor. Guarantor (1.5 m of
    capital) is asked 0.4 x 5 + 1.7 = 3.7 m: loss 1.5 m, shortfall 2.2 m -> unabsorbed.
    Check: 1 + 0.3 + 1.5 + 2.2 = 5 m.
    """
    data = insolvency_dict(1.5 * M, "unabsorbed")
    data["segments"]["sme"]["recovery"] = {"lag_months": 12, "spread_months": 1}
    data["parties"]["pool"] = {
        "kind": "pool",
        "initial_balance": 0.6 * M,
        "lag_months": 0,
        "fallback": "guarantor",
    }
    data["schemes"]["guaranteed"]["split"] = {"guarantor": 0.5, "pool": 0.5}
    ds = run(data, book_of(INSOLVENCY_BOOK))
    assert val(ds, "defaults_count", year=2021) == 10
    close(val(ds, "loss", "bank"), 1.0 * M)
    close(val(ds, "payout", "pool"), 0.6 * M)
    close(val(ds, "loss", "pool"), 0.3 * M)
    close(val(ds, "shortfall", "pool"), 1.7 * M)
    close(val(ds, "loss", "guarantor"), 1.5 * M)
    close(val(ds, "shortfall", "guarantor"), 2.2 * M)
    close(val(ds, "loss", "unabsorbed"), 2.2 * M)
    close(val(ds, "loss"), 5.0 * M)


def test_losses_recognised_in_default_year_even_when_paid_next_year():
    """Guarantor claim lag 2: a December default is paid in February; the loss still
    belongs to the default year (checked on the solvent insolvency_dict case, 1 path)."""
    data = insolvency_dict(1e9, "unabsorbed")
    data["parties"]["guarantor"]["claim_lag_months"] = 11
    ds = run(data, book_of(INSOLVENCY_BOOK))
    assert val(ds, "defaults_count", year=2021) == 10
    close(val(ds, "loss", "guarantor", 2021), 4.0 * M)
    assert val(ds, "loss", "guarantor", 2022) == 0.0
    # lag 11 from defaults in months 0..11: payouts fall in months 11..22, some in 2022
    close(val(ds, "payout", "guarantor"), 8.0 * M)
    assert val(ds, "payout", "guarantor", 2022) > 0.0
