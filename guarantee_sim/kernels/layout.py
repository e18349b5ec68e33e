"""Shapes and indices shared by the kernels and the engine: the kernels' only "API".

The kernels take a handful of named tuples of NumPy arrays (Numba compiles them as typed
tuples) and write into output arrays whose first axis indexes the variables below.

Bundles, by who makes them and how long they live:

* the same on every path, built once by the engine (``engine/inputs.py``): :data:`Book`
  (the loan records), :data:`Segments`, :data:`Parties` (terms and scheme tables),
  :data:`Macro`, :data:`Settings`;
* drawn per path by the engine (``engine/parameters.py``), a row per path of a block:
  :data:`PathParameters` (uncertain PD level, LGD, correlation; a path's ``Segments``
  takes its row);
* the results, allocated by the engine: :data:`Outputs` (a leading path axis for a block;
  one path's slice inside :func:`~guarantee_sim.kernels.portfolio.simulate_path`);
* one path's own, made when the path starts and dropped when it ends, so nothing carries
  from one path to the next: :data:`Draws` (its key and the thresholds its factors
  imply), :data:`Ledger` (loan balances and everything scheduled for a later month),
  :data:`PartyState` (the parties' accounts) and :data:`Scratch` (working arrays reused
  every month, no meaning between steps).

Units: money in CNY, time in months (month 0 is January of the first year, year
``y = month // 12``), rates as decimals per year. Shapes: R records, K book replicas,
S segments, G PD grades, NB loan-size bands, P parties (the waterfall's ``unabsorbed`` is
index P of the party axes that have P + 1 entries), F factors, T = ``Settings.months``
months, Y years, V variables.

The "band" axis of the per-CNY tables and the balances is the *term-class* axis: index
``c * NS + b`` for contract class c (origination years with the same contract terms: fee,
coverage, split; ``engine/inputs.py``) and loan-size band b of NS. NB = C * NS; with no
per-year contract term C = 1 and it is the loan-size band.

A kernel takes a few of these bundles, not their arrays one by one. Functions that only
read and write the arrays they are given are compiled with :data:`NO_REFCOUNT`, so passing
a bundle costs no more than passing a scalar, even per record.
"""

from __future__ import annotations

from collections import namedtuple

# Party kinds, as integers for the kernels.
BANK, GUARANTOR, REGUARANTOR, POOL = 0, 1, 2, 3
KIND_CODES = {"bank": BANK, "guarantor": GUARANTOR, "reguarantor": REGUARANTOR, "pool": POOL}

# Per path, year, segment outputs (first axis of ``Outputs.segment``).
SEGMENT_VARIABLES = (
    "loans_count",
    "loans_amount",
    "borrowers",
    "outstanding_amount",
    "defaults_count",
    "default_amount",
    "credit_loss",
    "unmet_demand_amount",
    "demand_multiplier",
    # by the segment of the firm's first loan (its cohort), wherever its renewals are booked
    "cohort_loans_count",
    "cohort_loans_amount",
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
    DEMAND_MULTIPLIER,
    COHORT_LOANS_COUNT,
    COHORT_LOANS_AMOUNT,
) = range(len(SEGMENT_VARIABLES))

# Per path, year, party outputs (first axis of ``Outputs.party``); the last party is unabsorbed.
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
    "pool_depleted",
    "pool_breaker_tripped",
    "fee_subsidy",
    "operating_cost",
    "reguarantee_fees",
    "fee_base",
    "capital_exhausted",
    "leverage_cap_binding",
    "capital_injection",
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
    POOL_DEPLETED,
    POOL_BREAKER_TRIPPED,
    FEE_SUBSIDY,
    OPERATING_COST,
    REGUARANTEE_FEES,
    FEE_BASE,
    CAPITAL_EXHAUSTED,
    LEVERAGE_CAP_BINDING,
    CAPITAL_INJECTION,
) = range(len(PARTY_VARIABLES))

# Per path, year outputs (first axis of ``Outputs.year``).
YEAR_VARIABLES = ("fiscal_cost", "public_cost", "public_operating_cost")
(FISCAL_COST, PUBLIC_COST, PUBLIC_OPERATING_COST) = range(len(YEAR_VARIABLES))

# How a re-guarantor's compensation rate is measured (``Parties.compensation_basis``):
# covered defaults this year / covered balance at the start of the year or highest since,
# or the regulator's: its compensations this year / covered guarantees released this year.
DEFAULTS_OVER_BALANCE, PAYOUTS_OVER_RELEASED = 0, 1

# The loan book: one row per record. Book replicas (from the institution processes) are
# stacked; path p uses replica p mod K. Within a replica the initial book comes first, then
# new lending sorted by origination month. A record stands for ``n_loans`` identical loans.
# (R records over all replicas, K replicas, O = max(origination months, 1).)
Book = namedtuple(
    "Book",
    [
        "id_lo",  # uint32[R] stable record id, low word (Philox counter word 0)
        "id_hi",  # uint32[R] stable record id, high word (counter word 1)
        "segment",  # int32[R] segment index
        "grade",  # int32[R] PD grade index within the segment
        "month",  # int32[R] origination month (0 for the initial book)
        "tenor",  # int32[R] months to maturity from `month`
        "n_loans",  # int64[R] identical loans the record stands for
        "amount",  # float64[R] CNY per loan
        "band",  # int32[R] term class x loan-size band (index into the coefficient tables)
        "subsidised",  # float64[R] CNY per loan eligible for interest subsidy (before tags)
        "replica_start",  # int64[K+1] first record of each book replica
        "n_initial",  # int64[K] initial-book records at the front of each replica
        "month_start",  # int64[K, T+1] first record of each origination month, per replica
        "new_amount",  # float64[K, O, S, NB] new lending demanded, CNY (for rationing)
        # Standard records (new lending with its segment's tenor) are booked in aggregate:
        # the kernel adds a month's lending and schedules its maturity once per segment,
        # so a loan that neither defaults nor renews costs one Philox block and a compare.
        "standard",  # bool[R] new lending with the segment's tenor
        "standard_count",  # float64[K, O, S] loans
        "standard_amount",  # float64[K, O, S, NB] CNY
        "standard_subsidised",  # float64[K, O, S] CNY eligible for interest subsidy
        # int32[R] a record on the fast path (a standard single loan that cannot renew and
        # lives in one calendar year): its one default window as a flat index into
        # Draws.window_threshold, so a chunk of them is screened by one branch-free compare;
        # -1 for every other record (``origination.mark_fast_windows``)
        "fast_window",
    ],
)

# Per-segment parameters.
Segments = namedtuple(
    "Segments",
    [
        "pd_inverse",  # float64[S, G] Phi^-1(annual PD); NaN for unused grades
        "rho",  # float64[S] asset correlation
        "loadings",  # float64[S, F] normalised so each segment factor is N(0, 1)
        "lgd",  # float64[S] loss given default, share of the exposure
        "recovery_lag",  # int32[S] months from payout to first recovery
        "recovery_spread",  # int32[S] months over which recoveries arrive
        "tenor",  # int32[S] months, of new loans and of renewals into the segment
        "renew_rate",  # float64[S] share of loans performing at maturity that renew
        "renew_into",  # int32[S] segment a renewed loan joins
        # int32[2, S, G] grade a renewed loan takes in its new segment: [0] at the record's
        # first renewal (its firms' second loan: seasoned), [1] at later ones
        "renew_grade",
        "subsidy_eligible",  # float64[S] 1.0 if the interest subsidy applies
        "priority_rank",  # int32[S] rank in the rationing order (0 first)
    ],
)

# Per-party parameters and the scheme tables (S segments, NB term-class bands, C contract
# classes, P parties). Rates are decimals per year, "per CNY of loan" tables multiply a
# balance in CNY. Contract terms are by class; caps and contributions by calendar year.
Parties = namedtuple(
    "Parties",
    [
        "kind",  # int32[P] BANK, GUARANTOR, REGUARANTOR or POOL
        "lag_weights",  # float64[P, L] share of a payout made L months after the default
        "fallback",  # int32[P] index of the party taking a refused share; P = unabsorbed
        "order",  # int32[P] order in which shares are decided (fallback targets later)
        "public",  # float64[P] 1.0 for government-owned parties
        "net_assets",  # float64[P] CNY, initial net assets (all `count` guarantors) or
        # a pool's initial balance
        "leverage_cap",  # float64[Y, P] weighted liability / net assets; inf where none
        "compensation_cap",  # float64[Y, P] cap on the compensation rate in year y; inf for none
        "compensation_basis",  # int32[P] DEFAULTS_OVER_BALANCE or PAYOUTS_OVER_RELEASED
        "pool_contribution",  # float64[Y, P] CNY in year y (paid in origination years)
        "lending_multiple",  # float64[Y, P] eligible balance / pool balance; inf where none
        "npl_breaker",  # float64[Y, P] NPL rate that trips a pool's breaker; inf where none
        "eligible",  # float64[P, S] 1.0 where the party may take the segment's share
        "unearned_reserve",  # float64[P] share of the year's fee income held back
        "comp_reserve_rate",  # float64[P] share of the year-end guarantees added a year
        "comp_reserve_cap",  # float64[P] reserve cap, share of the year-end guarantees
        "initial_outstanding",  # float64[P] off-model guarantees at the start, CNY
        "initial_runoff",  # int32[P] months over which they run off linearly
        "injection",  # float64[Y, P] CNY of capital injected at the start of year y
        "share",  # float64[S, C, P] share of a loan's loss (bank: 1 - coverage)
        "covers",  # float64[S, P] 1.0 where the party's scheme covers the segment (in any
        # contract class)
        "fee",  # float64[S, NB, P] fee income per CNY of loan per year
        "cost",  # float64[S, NB, P] fees paid and operating cost per CNY of loan per year
        "reguarantee_fee",  # float64[S, NB, P] the part of `cost` paid as re-guarantee fees
        "fee_subsidy",  # float64[Y, S, NB, P] budget fee subsidy on the party's guarantees per
        # CNY of loan in calendar year y (paid to the guarantor or to its borrowers: Settings)
        "liability",  # float64[S, NB, P] weighted liability per CNY of loan (leverage)
        "guaranteed",  # float64[S, C, P] unweighted covered exposure per CNY of loan
    ],
)

Macro = namedtuple(
    "Macro",
    [
        "chol",  # float64[F, F] Cholesky factor of the innovation correlation
        "persistence",  # float64 scalar AR(1) phi of the yearly factors
        "downturn_z",  # float64[Y] shift of year y's factors, in standard deviations
        "pd_multiplier",  # float64[Y] multiplier of year y's conditional PDs
        "demand_elasticity",  # float64 scalar beta: D = exp(beta x - beta**2 / 2) (factors.py)
        "demand_ceiling",  # float64 scalar D_hi, the demand the book was built at (1 at beta 0)
        "shift",  # float64[Y, F] mean shift of year y's independent factor shocks (importance
        # sampling, factors.draw_shifted_factors); zeros for plain Monte Carlo
    ],
)

Settings = namedtuple(
    "Settings",
    [
        "months",  # int, total months simulated, T
        "origination_months",  # int, months with new lending and renewals
        "n_years",  # int, Y = ceil(T / 12)
        "priority",  # int, 1 to ration by priority order, 0 pro rata
        "interest_subsidy_rate",  # float64[Y] per year on the subsidised balance (share x LPR)
        "subsidy_to_guarantor",  # int, 1: fee subsidies are the guarantor's income; 0: the
        # borrowers' (their price falls, the guarantor earns the fee only)
        "n_size_bands",  # int, NS loan-size bands per contract class
        "term_class",  # int32[O/12] contract class of each origination year
        "subsidy_cap",  # float64[O/12] CNY of a loan written in the year eligible for the
        # interest subsidy (0 without one)
    ],
)

# The results, allocated by the engine: indexed [path, variable, ...] for a block of paths
# and [variable, ...] for one path. A party variable that a kind of party does not have
# (the bank's capital, unabsorbed's cash flows) is left at 0 here; the results assembly
# sets it to NaN (``results/dataset.py``).
Outputs = namedtuple(
    "Outputs",
    [
        "segment",  # float64[V, Y, S] SEGMENT_VARIABLES by year and segment
        "party",  # float64[V, Y, P+1] PARTY_VARIABLES by year and party (last: unabsorbed)
        "year",  # float64[V, Y] YEAR_VARIABLES by year
    ],
)

# Uncertain parameters (``engine/parameters.py``), one row per path of a block: each path
# draws its state of the world before its first month. Where nothing is uncertain the rows
# hold the fixed values (pd_scale 1, Segments' rho, lgd and recovery_lag), so the run is
# unchanged.
PathParameters = namedtuple(
    "PathParameters",
    [
        "pd_scale",  # float64[N, S] multiplier of the segment's conditional PDs
        "rho",  # float64[N, S] asset correlation (replaces Segments.rho on the path)
        "lgd",  # float64[N, S] loss given default (replaces Segments.lgd on the path)
        "recovery_lag",  # int32[N, S] months payout -> first recovery (replaces Segments')
    ],
)

# One path's random draws: the Philox key and the default thresholds its factors imply.
Draws = namedtuple(
    "Draws",
    [
        "seed",  # uint32 scalar: key word 0, the run's seed
        "path",  # int64 scalar: key word 1, the path index
        "factors",  # float64[Y, F] systematic factor values (each N(0, 1))
        "probability",  # float64[S, G, Y, 12] P(default within n+1 months of year y | factors)
        "threshold",  # uint32[S, G, Y, 12] the same as a bound for a raw 32-bit word
        "window_threshold",  # uint32[S * G * Y * 12] the same memory, flat (Book.fast_window)
        "keep",  # float64[Y, S] share of year y's new lending the path keeps, min(D, D_hi)/D_hi
    ],
)

# One path's loans: balances now and every change already scheduled for a later month.
# A record's whole life is drawn when it is originated, so its defaults and maturity are
# written here at once; the month loop then only applies what falls due.
Ledger = namedtuple(
    "Ledger",
    [
        "balance",  # float64[S, NB] CNY of loans alive this month
        "subsidy_balance",  # float64[S] CNY of alive loans eligible for interest subsidy
        "balance_change",  # float64[T+1, S, NB] CNY joining (+) or leaving (-) at month t
        "subsidy_change",  # float64[T+1, S] the same for the subsidised balance
        "default_amount",  # float64[T, S, C] CNY of exposure defaulting in month t, by
        # contract class (the waterfall shares it on the class's terms)
        "default_count",  # float64[T, S] loans defaulting in month t (by admitted share)
        "released",  # float64[T+1, S, NB] CNY of loans leaving the balance (maturing,
        # renewed into a new contract, or defaulting) at month t, by term-class band
        "payout_due",  # float64[T, P] CNY each party pays in month t (scheduled payouts)
        "recovery_due",  # float64[T, P] CNY each party recovers in month t
    ],
)

# One path's parties: their accounts and this year's counters, by party.
PartyState = namedtuple(
    "PartyState",
    [
        "net_assets",  # float64[P] CNY, guarantors and re-guarantors (0 for pools)
        "pool_balance",  # float64[P] CNY, pools (0 for others)
        "pool_committed",  # float64[P] CNY of shares a pool took and has not yet paid
        "comp_reserve",  # float64[P] CNY, a guarantor's compensation reserve
        "unearned_reserve",  # float64[P] CNY, a guarantor's unearned-fee reserve
        "year_fees",  # float64[P] CNY of fee income so far this year
        "covered_defaults",  # float64[P] CNY of covered loans defaulted so far this year
        "covered_base",  # float64[P] CNY, covered balance at year start or highest since
        "compensated",  # float64[P] CNY of exposure a re-guarantor took so far this year
        "covered_released",  # float64[P] CNY of covered guarantees released so far this
        # year, at the party's guaranteed share
        "tripped",  # bool[P] a pool's circuit breaker is tripped this month
        "eligible_history",  # float64[T, P] CNY, a pool's highest eligible balance in month t
    ],
)

# One path's working arrays, reused every month; nothing in them carries meaning from one
# step to the next (each step sets what it reads).
Scratch = namedtuple(
    "Scratch",
    [
        "admitted",  # float64[S] share of this month's new lending admitted, by segment
        "whole",  # float64[S] ones: the initial book is never rationed
        "capacity_use",  # float64[S] CNY of a party's capacity each segment's demand uses
        "asked",  # float64[P+1, S] CNY of defaulted exposure whose loss party p is asked to take
        "covered_now",  # float64[P] CNY of this month's defaults in segments p covers
        "month_defaults",  # int64[12] loans of a record defaulting in each month of a window
        "words",  # uint32[4, 256] first Philox blocks of a chunk of records
        "pending",  # int64[256] records of the chunk that take the general path
        "loans",  # int64[256] loans each pending record of the chunk starts with on this path
        # Demand thinning (``origination.thin_month``), set each origination month when
        # demand follows the credit cycle; ``kept`` is empty otherwise (and the book's own
        # month aggregates are used):
        "kept",  # int64[M] loans the path keeps of each record of the month (M: the most
        # new records in any month of any replica)
        "demand",  # float64[S, NB] CNY of new lending demanded this month, thinned
        "standard_count",  # float64[S] the month's thinned standard lending: loans
        "standard_amount",  # float64[S, NB] CNY
        "standard_subsidised",  # float64[S] CNY eligible for interest subsidy
    ],
)

# JIT flags of every kernel that only reads and writes the arrays it is given (it allocates
# none and returns none): no reference counting. Numba otherwise increments and decrements
# an atomic count on every array of every bundle argument at each call (its pruning of
# these pairs fails in functions with calls or several exits), and the counts of the book's
# arrays are shared by the threads. With bundles passed per record, that made the hot loop
# 4-10x slower; without the counting a call costs what a call with scalars costs. The
# arrays stay alive because the caller that allocated them (simulate_path, the engine)
# holds them. ``_nrt`` is Numba's (private, long-standing) switch; this is the one place it
# is named.
NO_REFCOUNT = {"_nrt": False}
