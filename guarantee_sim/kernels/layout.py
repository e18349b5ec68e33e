"""Shapes and indices shared by the kernels and the engine: the kernels' only "API".

The kernels take a handful of named tuples of NumPy arrays (Numba compiles them as typed
tuples) and write into output arrays whose first axis indexes the variables below.
"""

from __future__ import annotations

from collections import namedtuple

# Party kinds, as integers for the kernels.
BANK, GUARANTOR, REGUARANTOR, POOL = 0, 1, 2, 3
KIND_CODES = {"bank": BANK, "guarantor": GUARANTOR, "reguarantor": REGUARANTOR, "pool": POOL}

# Per path, year, segment outputs (first axis of ``segment_out``).
SEGMENT_VARIABLES = (
    "loans_count",
    "loans_amount",
    "borrowers",
    "outstanding_amount",
    "defaults_count",
    "default_amount",
    "credit_loss",
    "unmet_demand_amount",
)
(
    LOANS_COUNT,
    LOANS_AMOUNT,
    BORROWERS,
    OUTSTANDING,
    DEFAULTS_COUNT,
    DEFAULT_AMOUNT,
    CREDIT_LOSS,
    UNMET_DEMAND,
) = range(len(SEGMENT_VARIABLES))

# Per path, year, party outputs (first axis of ``party_out``); the last party is unabsorbed.
PARTY_VARIABLES = (
    "payout",
    "recovery",
    "loss",
    "shortfall",
    "fee_income",
    "capital",
    "guarantee_outstanding",
    "leverage",
    "max_origination_leverage",
    "compensation_rate",
)
(
    PAYOUT,
    RECOVERY,
    LOSS,
    SHORTFALL,
    FEE_INCOME,
    CAPITAL,
    GUARANTEE_OUTSTANDING,
    LEVERAGE,
    MAX_ORIGINATION_LEVERAGE,
    COMPENSATION_RATE,
) = range(len(PARTY_VARIABLES))

# Per path, year outputs.
YEAR_VARIABLES = ("fiscal_cost",)
(FISCAL_COST,) = range(len(YEAR_VARIABLES))

# The loan book: one row per record. Book replicas (from the institution processes) are
# stacked; path p uses replica p mod R. Within a replica the initial book comes first, then
# new lending sorted by origination month. A record stands for ``n_loans`` identical loans.
Book = namedtuple(
    "Book",
    [
        "id_lo",  # uint32[R] stable record id, low word
        "id_hi",  # uint32[R] stable record id, high word
        "segment",  # int32[R]
        "grade",  # int32[R]
        "month",  # int32[R] origination month (0 for the initial book)
        "tenor",  # int32[R] months to maturity from `month`
        "n_loans",  # int64[R]
        "amount",  # float64[R] CNY per loan
        "band",  # int32[R] loan-size band (index into the coefficient tables)
        "subsidised",  # float64[R] CNY per loan eligible for interest subsidy (before tags)
        "replica_start",  # int64[R+1] first record of each book replica
        "n_initial",  # int64[R] initial-book records at the front of each replica
        "month_start",  # int64[R, T+1] first record of each origination month, per replica
        "new_amount",  # float64[R, T, S, NB] new lending demanded, CNY (for rationing)
        # Standard records (new lending with its segment's tenor) are booked in aggregate:
        # the kernel adds a month's lending and schedules its maturity once per segment,
        # so a loan that neither defaults nor renews costs one Philox block and a compare.
        "standard",  # bool[R] new lending with the segment's tenor
        "standard_count",  # float64[R, T, S] loans
        "standard_amount",  # float64[R, T, S, NB] CNY
        "standard_subsidised",  # float64[R, T, S] CNY eligible for interest subsidy
    ],
)

# Per-segment parameters.
Segments = namedtuple(
    "Segments",
    [
        "pd_inverse",  # float64[S, G] Phi^-1(annual PD); NaN for unused grades
        "rho",  # float64[S] asset correlation
        "loadings",  # float64[S, F] normalised so each segment factor is N(0, 1)
        "lgd",  # float64[S]
        "recovery_lag",  # int32[S] months from payout to first recovery
        "recovery_spread",  # int32[S] months over which recoveries arrive
        "tenor",  # int32[S]
        "renew_rate",  # float64[S]
        "renew_into",  # int32[S]
        "renew_grade",  # int32[S, G] grade a renewed loan takes in its new segment
        "subsidy_eligible",  # float64[S] 1.0 if the interest subsidy applies
        "priority_rank",  # int32[S] rank in the rationing order (0 first)
    ],
)

# Per-party parameters and the scheme tables (S segments, NB bands, P parties).
Parties = namedtuple(
    "Parties",
    [
        "kind",  # int32[P]
        "lag_weights",  # float64[P, L] share of a payout made L months after the default
        "fallback",  # int32[P] index of the party taking a refused share; P = unabsorbed
        "order",  # int32[P] order in which shares are decided (fallback targets later)
        "public",  # float64[P] 1.0 for government-owned parties
        "net_assets",  # float64[P] initial net assets (all `count` guarantors), CNY
        "leverage_cap",  # float64[P] inf where none
        "compensation_cap",  # float64[P] inf where none
        "pool_contribution",  # float64[P] per origination year, CNY
        "lending_multiple",  # float64[P] inf where none
        "npl_breaker",  # float64[P] inf where none
        "eligible",  # float64[P, S] 1.0 where the party may take the segment's share
        "unearned_reserve",  # float64[P]
        "comp_reserve_rate",  # float64[P]
        "comp_reserve_cap",  # float64[P]
        "initial_outstanding",  # float64[P] off-model guarantees, CNY
        "initial_runoff",  # int32[P] months
        "injection",  # float64[Y, P] CNY
        "share",  # float64[S, P] share of a loan's loss (bank: 1 - coverage)
        "covers",  # float64[S, P] 1.0 where the party's scheme covers the segment
        "fee",  # float64[S, NB, P] fee income per CNY of loan per year
        "cost",  # float64[S, NB, P] fees paid and operating cost per CNY of loan per year
        "fee_subsidy",  # float64[S, NB, P] budget subsidy received per CNY of loan per year
        "liability",  # float64[S, NB, P] weighted liability per CNY of loan (leverage)
        "guaranteed",  # float64[S, P] unweighted covered exposure per CNY of loan
    ],
)

Macro = namedtuple(
    "Macro",
    [
        "chol",  # float64[F, F] Cholesky factor of the innovation correlation
        "persistence",  # float64 scalar AR(1) phi (as array of shape ())
        "downturn_z",  # float64[Y]
        "pd_multiplier",  # float64[Y]
    ],
)

Settings = namedtuple(
    "Settings",
    [
        "months",  # total months simulated, T
        "origination_months",  # months with new lending and renewals
        "n_years",  # Y
        "priority",  # 1 to ration by priority order, 0 pro rata
        "interest_subsidy_rate",  # share of LPR x LPR, per year
    ],
)
