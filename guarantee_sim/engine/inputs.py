"""Turn a validated Scenario and a LoanBook into the kernels' arrays.

Everything that is the same on every path is computed here once: PD grades as normal
quantiles, normalised factor loadings, the scheme tables by (segment, term class, party)
and the order in which the waterfall decides parties' shares.

Policy that changes by year (``config/schema.py``): contract terms (fee, coverage, split)
follow a loan's origination year. Origination years with the same terms form one *contract
class*; the tables' loan-size band axis is the term-class axis ``class * NB + band``, so a
balance carries its terms and the kernels' loops over (segment, band) are unchanged. With
no per-year contract term there is one class and the tables are the loan-size bands.
Calendar-year policy (LPR, subsidies, pool contributions, caps) is an array by year.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from ..book import LoanBook
from ..config.schema import BaselSME, Guarantor, Scenario
from ..config.values import in_year
from ..kernels.factors import demand_ceiling
from ..kernels.layout import (
    DEFAULTS_OVER_BALANCE,
    KIND_CODES,
    PAYOUTS_OVER_RELEASED,
    Book,
    Macro,
    Parties,
    Segments,
    Settings,
)
from ..kernels.origination import mark_fast_windows
from ..processes.books_key import books_key
from ..processes.run import PD_GRID, ProcessResults, run_processes
from ..processes.workers import ReplicasUnderWay
from .analytic import basel_sme_correlation
from .volumes import (
    build_volume_book,
    group_into_cohorts,
    group_replicas_into_cohorts,
    merge_books,
)

#: ``memo(key, compute)``: the processes' results cached under ``key`` (``simulate``'s books)
BooksMemo = Callable[[str, Callable[[], ProcessResults]], ProcessResults]


class BooksInMemory:
    """A ``books`` memo for :func:`~guarantee_sim.engine.simulate` that keeps the last
    ``entries`` keys' process results in this process (the least recently used go first).

    For analyses that run many designs one after another in one process (the design
    solver, a sensitivity study): designs that change only what the institution processes
    do not read (a pool's contribution, caps, capital) run the processes once. A sweep on a
    cluster shares books through files instead (``guarantee_sim.sweep``).
    """

    def __init__(self, entries: int = 2):
        self.entries = int(entries)
        self._kept: dict[str, ProcessResults] = {}
        self.hits = 0

    def __call__(self, key: str, compute: Callable[[], ProcessResults]) -> ProcessResults:
        if key in self._kept:
            self.hits += 1
            self._kept[key] = self._kept.pop(key)  # now the most recently used
            return self._kept[key]
        result = compute()
        self._kept[key] = result
        while len(self._kept) > self.entries:
            del self._kept[next(iter(self._kept))]
        return result


@dataclass(frozen=True)
class KernelInputs:
    book: Book
    segments: Segments
    parties: Parties
    macro: Macro
    settings: Settings
    loan_books: list  # LoanBook per replica, as the kernels see them
    band_edges: np.ndarray
    party_names: list[str]
    process: ProcessResults | None = None


def band_edges(scenario: Scenario) -> np.ndarray:
    """Upper bounds (CNY) of the loan-size bands the scheme tables and cohorts use."""
    edges = set(scenario.simulation.cohort_size_bands)
    for p in scenario.parties.values():
        if isinstance(p, Guarantor):
            edges.update(b.max_amount for b in p.bands() if b.max_amount is not None)
            edges.update(w.max_amount for w in p.liability_weights if w.max_amount is not None)
    return np.array(sorted(edges), dtype=np.float64)


def build_inputs(
    scenario: Scenario,
    seed: int,
    book: LoanBook | None = None,
    replica_scenarios: list[Scenario] | None = None,
    on_replica: Callable[[int], None] | None = None,
    workers: int | None = None,
    books_memo: BooksMemo | None = None,
    meanwhile: Callable[[], None] | None = None,
    started: tuple[LoanBook, ReplicasUnderWay] | None = None,
) -> KernelInputs:
    """All kernel inputs for ``scenario``.

    Lending comes from ``book`` when given, else from the institution processes (one book
    per replica, replica r run with ``replica_scenarios[r]`` when given: its drawn decision
    parameters) when ``lending_source`` is ``processes``, else from the volumes.
    ``on_replica(1)`` is called after each replica's processes (progress); the replicas
    run in ``workers`` processes (``processes.workers``; None: one per CPU). ``books_memo``,
    when given, caches the processes' results by :func:`~guarantee_sim.processes.books_key`.
    ``meanwhile()``, when given, runs in this process while the processes' workers run
    (``processes.workers.map_replicas``), if they run at all. ``started``: the volume
    book and the replicas of these processes, already started (``engine/early.py``).
    """
    edges = band_edges(scenario)
    classes = contract_classes(scenario, edges)
    process = None
    if book is not None:
        books = [book]
    elif scenario.lending_source == "processes":
        if started is not None:
            volumes, under_way = started
        else:
            volumes = build_volume_book(scenario, seed, skip=scenario.process_fed_segments())
            under_way = None

        def run() -> ProcessResults:
            return run_processes(
                scenario,
                seed,
                volumes,
                replica_scenarios,
                on_replica,
                workers,
                meanwhile,
                under_way,
            )

        if books_memo is None:
            process = run()
        else:
            process = books_memo(books_key(scenario, seed, volumes, replica_scenarios), run)
        if scenario.simulation.granularity == "cohort":  # the volume book grouped once
            books = group_replicas_into_cohorts(volumes, process.books, edges)
        else:
            books = [merge_books(volumes, replica) for replica in process.books]
    else:
        books = [build_volume_book(scenario, seed)]
    if scenario.simulation.granularity == "cohort" and process is None:
        books = [group_into_cohorts(b, edges) for b in books]
    parties, names = _parties(scenario, classes, process)
    kernel_book = _stack_books(scenario, books, edges, classes.of_year)
    segments = _segments(scenario, process)
    settings = _settings(scenario, classes.of_year, len(edges) + 1)
    mark_fast_windows(kernel_book, segments, settings)
    return KernelInputs(
        book=kernel_book,
        segments=segments,
        parties=parties,
        macro=_macro(scenario),
        settings=settings,
        loan_books=books,
        band_edges=edges,
        party_names=names,
        process=process,
    )


def _stack_books(
    scenario: Scenario, books: list, edges: np.ndarray, class_of_year: np.ndarray
) -> Book:
    """Stack replica books into the kernels' Book; path p uses replica p mod len(books)."""
    parts = [_book(scenario, b, edges, class_of_year) for b in books]
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in books])]).astype(np.int64)

    def cat(field):
        return np.concatenate([getattr(p, field) for p in parts])

    return Book(
        id_lo=cat("id_lo"),
        id_hi=cat("id_hi"),
        segment=cat("segment"),
        grade=cat("grade"),
        month=cat("month"),
        tenor=cat("tenor"),
        n_loans=cat("n_loans"),
        amount=cat("amount"),
        band=cat("band"),
        subsidised=cat("subsidised"),
        replica_start=offsets,
        n_initial=cat("n_initial"),
        month_start=np.stack(
            [p.month_start + off for p, off in zip(parts, offsets[:-1], strict=True)]
        ),
        new_amount=np.stack([p.new_amount for p in parts]),
        standard=cat("standard"),
        standard_count=np.stack([p.standard_count for p in parts]),
        standard_amount=np.stack([p.standard_amount for p in parts]),
        standard_subsidised=np.stack([p.standard_subsidised for p in parts]),
        fast_window=np.full(offsets[-1], -1, dtype=np.int32),  # set by mark_fast_windows
    )


def _book(scenario: Scenario, book: LoanBook, edges: np.ndarray, class_of_year) -> Book:
    """One replica's records as kernel arrays (month_start relative to the replica).

    A record's ``band`` is its term class (the contract class of its origination year, the
    first year's for the initial book) times NB plus its loan-size band.
    """
    horizon = scenario.horizon
    n_seg = len(scenario.segments)
    n_size = len(edges) + 1
    n_band = n_size * (int(class_of_year.max()) + 1)
    contract_year = np.minimum(book.month // 12, horizon.origination_years - 1)
    size = np.searchsorted(edges, book.amount, side="left")
    band = (size + n_size * class_of_year[contract_year]).astype(np.int32)
    subsidised = np.minimum(book.amount, _subsidy_caps(scenario)[contract_year])
    origination_months = horizon.origination_years * 12
    new = ~book.initial
    if np.any(np.diff(book.month[new]) < 0) or np.any(book.initial[book.n_initial :]):
        raise ValueError("the book must list the initial book first, then months in order")
    if np.any(book.month[new] >= origination_months):
        raise ValueError("new lending after the origination years")
    # renewals keep the first loan's tenor horizon: every loan must end inside the run
    if len(book) and np.max(book.month + book.tenor) > horizon.months:
        raise ValueError(
            "loans in the book mature after the last simulated month; "
            "lengthen horizon.runoff_months"
        )
    counts = np.bincount(book.month[new], minlength=horizon.months + 1)
    month_start = book.n_initial + np.concatenate([[0], np.cumsum(counts)])[: horizon.months + 1]
    new_amount = np.zeros((max(origination_months, 1), n_seg, n_band))
    np.add.at(
        new_amount,
        (book.month[new], book.segment[new], band[new]),
        book.amount[new] * book.n_loans[new],
    )
    tenors = np.array([seg.tenor_months for seg in scenario.segments.values()])
    standard = new & (book.tenor == tenors[book.segment])
    standard_count = np.zeros((max(origination_months, 1), n_seg))
    standard_amount = np.zeros_like(new_amount)
    standard_subsidised = np.zeros_like(standard_count)
    where = (book.month[standard], book.segment[standard])
    np.add.at(standard_count, where, book.n_loans[standard])
    np.add.at(
        standard_amount, (*where, band[standard]), book.amount[standard] * book.n_loans[standard]
    )
    np.add.at(standard_subsidised, where, subsidised[standard] * book.n_loans[standard])
    return Book(
        id_lo=book.id_lo,
        id_hi=book.id_hi,
        segment=book.segment,
        grade=book.grade,
        month=book.month,
        tenor=book.tenor,
        n_loans=book.n_loans,
        amount=book.amount,
        band=band,
        subsidised=subsidised.astype(np.float64),
        replica_start=np.array([0, len(book)], dtype=np.int64),
        n_initial=np.array([book.n_initial], dtype=np.int64),
        month_start=month_start.astype(np.int64),
        new_amount=new_amount,
        standard=standard,
        standard_count=standard_count,
        standard_amount=standard_amount,
        standard_subsidised=standard_subsidised,
        fast_window=np.full(len(book), -1, dtype=np.int32),
    )


def grade_pds(scenario: Scenario) -> list[list[float]]:
    """Annual PD of each grade of each segment (the PD grid for process-fed segments)."""
    fed = scenario.process_fed_segments()
    return [
        list(PD_GRID) if name in fed else seg.pd.grade_pds()[0]
        for name, seg in scenario.segments.items()
    ]


def _segments(scenario: Scenario, process: ProcessResults | None) -> Segments:
    segs = list(scenario.segments.values())
    names = list(scenario.segments)
    pd_table = grade_pds(scenario)
    n_grade = max(len(pds) for pds in pd_table)
    factors = scenario.macro.factors
    corr = _factor_correlation(scenario)
    pd_inverse = np.full((len(segs), n_grade), np.nan)
    rho = np.empty(len(segs))
    loadings = np.zeros((len(segs), len(factors)))
    subsidy = scenario.policy.interest_subsidy
    for i, seg in enumerate(segs):
        pds = pd_table[i]
        pd_inverse[i, : len(pds)] = ndtri(pds)
        if isinstance(seg.correlation, BaselSME):
            rho[i] = basel_sme_correlation(seg.pd.mean, seg.correlation.sales_eur_m)
        else:
            rho[i] = seg.correlation
        raw = np.zeros(len(factors))
        for f, value in (seg.loadings or {factors[0]: 1.0}).items():
            raw[factors.index(f)] = value
        loadings[i] = raw / np.sqrt(raw @ corr @ raw)
    renew_into = np.array(
        [
            names.index(s.renewal.into) if s.renewal and s.renewal.into else i
            for i, s in enumerate(segs)
        ],
        dtype=np.int32,
    )
    # a renewed loan takes the grade of its new segment nearest its PD (log scale); at the
    # first renewal (the firm's second loan) its PD is first seasoned (renewal.seasoning)
    renew_grade = np.zeros((2, len(segs), n_grade), dtype=np.int32)
    for i, s in enumerate(segs):
        target = np.log(pd_table[renew_into[i]])
        seasoning = s.renewal.seasoning if s.renewal else 1.0
        for g, pd in enumerate(pd_table[i]):
            renew_grade[0, i, g] = int(np.argmin(np.abs(target - np.log(pd * seasoning))))
            renew_grade[1, i, g] = int(np.argmin(np.abs(target - np.log(pd))))
    renew_rate = [s.renewal.rate if s.renewal else 0.0 for s in segs]
    if process is not None:
        renew_rate = [process.renew_rate.get(n, r) for n, r in zip(names, renew_rate, strict=True)]
    priority = sorted(range(len(segs)), key=lambda i: (segs[i].guarantee_priority, i))
    rank = np.empty(len(segs), dtype=np.int32)
    rank[priority] = np.arange(len(segs))
    return Segments(
        pd_inverse=pd_inverse,
        rho=rho,
        loadings=loadings,
        lgd=np.array([s.lgd for s in segs]),
        recovery_lag=np.array([s.recovery.lag_months for s in segs], dtype=np.int32),
        recovery_spread=np.array([s.recovery.spread_months for s in segs], dtype=np.int32),
        tenor=np.array([s.tenor_months for s in segs], dtype=np.int32),
        renew_rate=np.array(renew_rate, dtype=np.float64),
        renew_into=renew_into,
        renew_grade=renew_grade,
        subsidy_eligible=np.array(
            [1.0 if subsidy and set(subsidy.tags) & set(s.tags) else 0.0 for s in segs]
        ),
        priority_rank=rank,
    )


def _factor_correlation(scenario: Scenario) -> np.ndarray:
    k = len(scenario.macro.factors)
    c = scenario.macro.correlation
    return np.eye(k) if c is None else np.asarray(c, dtype=np.float64)


def _macro(scenario: Scenario) -> Macro:
    corr = _factor_correlation(scenario)
    try:
        root = np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        # a singular matrix (perfectly correlated factors) is valid: take a lower-triangular
        # root of its eigen-decomposition, which is what the kernel's loop expects
        values, vectors = np.linalg.eigh(corr)
        root = _lower_root(vectors @ np.diag(np.sqrt(np.clip(values, 0, None))))
    years = scenario.years
    return Macro(
        chol=np.ascontiguousarray(root),
        persistence=float(scenario.macro.persistence),
        downturn_z=np.array([scenario.macro.downturn_z.get(y, 0.0) for y in years]),
        pd_multiplier=np.array([scenario.macro.pd_multiplier.get(y, 1.0) for y in years]),
        demand_elasticity=float(scenario.macro.demand_elasticity),
        demand_ceiling=demand_ceiling(scenario.macro.demand_elasticity),
        shift=np.zeros((len(years), root.shape[0])),  # plain Monte Carlo (engine/tail.py)
    )


def _lower_root(root: np.ndarray) -> np.ndarray:
    """A lower-triangular L with L L' = root root' (QR of root')."""
    _, r = np.linalg.qr(root.T)
    return r.T


def _settings(scenario: Scenario, class_of_year: np.ndarray, n_size: int) -> Settings:
    policy = scenario.policy
    subsidy = policy.interest_subsidy
    rate = [
        in_year(subsidy.share_of_lpr, y) * in_year(policy.lpr, y) if subsidy else 0.0
        for y in scenario.years
    ]
    return Settings(
        months=scenario.horizon.months,
        origination_months=scenario.horizon.origination_years * 12,
        n_years=scenario.horizon.n_years,
        priority=1 if scenario.policy.rationing == "priority" else 0,
        interest_subsidy_rate=np.array(rate, dtype=np.float64),
        subsidy_to_guarantor=_subsidy_to_guarantor(scenario),
        n_size_bands=n_size,
        term_class=class_of_year.astype(np.int32),
        subsidy_cap=_subsidy_caps(scenario),
    )


def _subsidy_caps(scenario: Scenario) -> np.ndarray:
    """CNY of a loan eligible for the interest subsidy, by its contract (origination) year
    (0 without a subsidy)."""
    subsidy = scenario.policy.interest_subsidy
    return np.array(
        [
            in_year(subsidy.max_amount_per_firm, y) if subsidy is not None else 0.0
            for y in scenario.origination_years
        ],
        dtype=np.float64,
    )


def _subsidy_to_guarantor(scenario: Scenario) -> int:
    """1 when fee subsidies are paid to the guarantors (or there are none), 0 to borrowers."""
    fee_subsidy = scenario.policy.fee_subsidy
    return 0 if fee_subsidy is not None and fee_subsidy.paid_to == "borrower" else 1


def resolution_order(scenario: Scenario) -> list[str]:
    """Parties in the order the waterfall decides them: every fallback target comes later.

    The bank, which always pays, is last.
    """
    names = [n for n in scenario.parties if n != "bank"]
    order: list[str] = []
    remaining = list(names)
    while remaining:
        for name in remaining:
            # a party is ready when no undecided party falls back to it
            if not any(
                getattr(scenario.parties[o], "fallback", None) == name
                for o in remaining
                if o != name
            ):
                order.append(name)
                remaining.remove(name)
                break
        else:  # pragma: no cover - the schema rejects cycles
            raise ValueError("party fallbacks form a cycle")
    return [*order, "bank"]


def _lag_weights(scenario: Scenario, process: ProcessResults | None) -> np.ndarray:
    """Share of each party's payout made L months after a default.

    A party's own lag; for a guarantor whose claims the processes handle, its claim lag
    plus the processing months the claim handlers achieve.
    """
    lags = [p.payout_lag for p in scenario.parties.values()]
    extra = process.claim_lag if process is not None else {}
    width = max(lags) + 1 + max((len(w) for w in extra.values()), default=0)
    weights = np.zeros((len(lags), width))
    for i, (name, lag) in enumerate(zip(scenario.parties, lags, strict=True)):
        if name in extra:
            weights[i, lag : lag + len(extra[name])] = extra[name]
        else:
            weights[i, lag] = 1.0
    return weights


def _parties(
    scenario: Scenario, classes: ContractClasses, process: ProcessResults | None = None
) -> tuple[Parties, list[str]]:
    names = list(scenario.parties)
    index = {n: i for i, n in enumerate(names)}
    terms = _stack_classes(classes.terms)
    terms["fee_subsidy"] = _fee_subsidy(scenario, classes.terms, terms.pop("subsidised_fee"))
    parties = Parties(
        kind=np.array([KIND_CODES[p.kind] for p in scenario.parties.values()], dtype=np.int32),
        lag_weights=_lag_weights(scenario, process),
        fallback=_fallbacks(scenario, index),
        order=np.array([index[n] for n in resolution_order(scenario)], dtype=np.int32),
        public=np.array([1.0 if p.public else 0.0 for p in scenario.parties.values()]),
        net_assets=_net_assets(scenario),
        leverage_cap=_by_year(scenario, "leverage_cap", np.inf),
        compensation_cap=_by_year(scenario, "compensation_rate_cap", np.inf),
        compensation_basis=np.array(
            [
                PAYOUTS_OVER_RELEASED
                if getattr(p, "compensation_rate_basis", "") == "payouts_over_released"
                else DEFAULTS_OVER_BALANCE
                for p in scenario.parties.values()
            ],
            dtype=np.int32,
        ),
        pool_contribution=_by_year(scenario, "annual_contribution", 0.0),
        lending_multiple=_by_year(scenario, "max_lending_multiple", np.inf),
        npl_breaker=_by_year(scenario, "npl_circuit_breaker", np.inf),
        eligible=_eligible(scenario, terms["covers"]),
        unearned_reserve=_per_party(scenario, "unearned_fee_reserve", 0.0),
        comp_reserve_rate=_per_party(scenario, "compensation_reserve_rate", 0.0),
        comp_reserve_cap=_per_party(scenario, "compensation_reserve_cap", 0.0),
        initial_outstanding=_per_party(scenario, "initial_outstanding", 0.0, scale_by_count=True),
        initial_runoff=_per_party(scenario, "initial_runoff_months", 1).astype(np.int32),
        injection=_injections(scenario),
        **terms,
    )
    return parties, names


@dataclass(frozen=True)
class ContractClasses:
    """Origination years grouped by their contract terms (fee, coverage, split).

    ``of_year[k]``: the class of the k-th origination year; ``terms[c]``: the scheme tables
    of class c (:func:`_scheme_terms` of its first year).
    """

    of_year: np.ndarray
    terms: list[dict[str, np.ndarray]]


def contract_classes(scenario: Scenario, edges: np.ndarray) -> ContractClasses:
    """Group the origination years into contract classes: years whose terms are equal share
    one, so a scenario without per-year contract terms has one class."""
    index = {n: i for i, n in enumerate(scenario.parties)}
    uppers = [*edges, np.inf]
    terms: list[dict[str, np.ndarray]] = []
    of_year = []
    for year in scenario.origination_years:
        these = _scheme_terms(scenario, index, uppers, year)
        same = (
            c
            for c, other in enumerate(terms)
            if all(np.array_equal(these[k], other[k], equal_nan=True) for k in these)
        )
        c = next(same, len(terms))
        if c == len(terms):
            terms.append(these)
        of_year.append(c)
    return ContractClasses(np.array(of_year, dtype=np.int64), terms)


def _stack_classes(terms: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The classes' tables side by side: per-band tables [S, C*NB, P] (index c*NB + b),
    ``share`` and ``guaranteed`` [S, C, P]; ``covers`` [S, P] where any class covers."""
    out = {k: np.concatenate([t[k] for t in terms], axis=1) for k in terms[0]}
    for k in ("share", "guaranteed"):
        out[k] = np.stack([t[k] for t in terms], axis=1)
    out["covers"] = np.max([t["covers"] for t in terms], axis=0)
    return out


def _fee_subsidy(
    scenario: Scenario, terms: list[dict[str, np.ndarray]], subsidised_fee: np.ndarray
) -> np.ndarray:
    """Budget subsidy per CNY of loan per year [Y, S, C*NB, P]: the calendar year's rate on
    guarantees (of any contract class) whose fee is at most that year's ``max_fee_rate``;
    paid to the borrowers, at most their fee."""
    subsidy = scenario.policy.fee_subsidy
    out = np.zeros((len(scenario.years), *subsidised_fee.shape))
    if subsidy is None:
        return out
    for y, year in enumerate(scenario.years):
        eligible = subsidised_fee <= in_year(subsidy.max_fee_rate, year) + 1e-12
        rate = in_year(subsidy.rate, year)
        if subsidy.paid_to == "borrower":  # it lowers their fee, never below zero (their price)
            out[y][eligible] = np.minimum(rate, subsidised_fee[eligible])
        else:
            out[y][eligible] = rate
    return out


def _scheme_terms(
    scenario: Scenario, index: dict[str, int], uppers: list[float], year: int
) -> dict[str, np.ndarray]:
    """What each scheme makes of each party on guarantees written in ``year``, per segment
    (and loan-size band).

    ``share`` of a loan's loss, whether it ``covers`` the segment, the share it
    ``guaranteed``, and per band its ``fee``, ``cost`` and ``liability`` weight, and the
    guarantor's fee where a fee subsidy could apply (``subsidised_fee``, NaN elsewhere).
    A re-guarantor's fee is a cost of its scheme's guarantor (also kept apart in
    ``reguarantee_fee``).
    """
    scenario = scenario.as_of(year)
    n_seg, n_band, n_party = len(scenario.segments), len(uppers), len(index)
    terms = {name: np.zeros((n_seg, n_party)) for name in ("share", "covers", "guaranteed")}
    for name in ("fee", "cost", "reguarantee_fee", "liability"):
        terms[name] = np.zeros((n_seg, n_band, n_party))
    terms["subsidised_fee"] = np.full((n_seg, n_band, n_party), np.nan)
    share, covers, guaranteed = terms["share"], terms["covers"], terms["guaranteed"]
    for s, seg in enumerate(scenario.segments.values()):
        scheme = scenario.schemes[seg.scheme]
        share[s, index["bank"]] = 1.0 - scheme.coverage
        if scheme.coverage == 0:
            continue
        guarantor = next((n for n in scheme.split if scenario.parties[n].kind == "guarantor"), None)
        for name, proportion in scheme.split.items():
            p = index[name]
            share[s, p] = scheme.coverage * proportion
            covers[s, p] = 1.0
            party = scenario.parties[name]
            if party.kind == "guarantor":
                guaranteed[s, p] = scheme.coverage  # liable to the bank for the covered part
                _guarantor_bands(terms, s, p, party, scheme.coverage, uppers, year)
                continue
            guaranteed[s, p] = scheme.coverage * proportion
            if party.kind == "reguarantor":
                # the schema: a scheme with a re-guarantor has a guarantor, which pays its fee
                assert guarantor is not None
                terms["liability"][s, :, p] = scheme.coverage * proportion
                terms["fee"][s, :, p] = party.fee_rate * scheme.coverage * proportion
                fee = party.fee_rate * scheme.coverage * proportion
                terms["cost"][s, :, index[guarantor]] += fee
                terms["reguarantee_fee"][s, :, index[guarantor]] += fee
    return terms


def _guarantor_bands(
    terms: dict[str, np.ndarray],
    s: int,
    p: int,
    party: Guarantor,
    coverage: float,
    uppers: list[float],
    year: int,
) -> None:
    """A guarantor's fee, cost, liability weight and subsidised fee in each loan-size band."""
    for b, upper in enumerate(uppers):
        rate = party.fee_for(upper, year)
        terms["fee"][s, b, p] = rate  # on the loan amount
        terms["cost"][s, b, p] += party.operating_cost_rate * coverage
        terms["liability"][s, b, p] = coverage * party.liability_weight_for(upper)
        terms["subsidised_fee"][s, b, p] = rate


def _per_party(
    scenario: Scenario, attr: str, default: float, scale_by_count: bool = False
) -> np.ndarray:
    """Each party's ``attr`` (``default`` for a party without one); per guarantor times
    their count with ``scale_by_count``."""
    values = []
    for p in scenario.parties.values():
        v = getattr(p, attr, None)
        v = default if v is None else v
        if scale_by_count and p.kind == "guarantor":
            v = v * p.count
        values.append(v)
    return np.array(values, dtype=np.float64)


def _by_year(scenario: Scenario, attr: str, default: float) -> np.ndarray:
    """Each party's ``attr`` in each calendar year [Y, P] (``default`` where it has none)."""
    return np.array(
        [
            [
                default if (v := getattr(p, attr, None)) is None else in_year(v, year)
                for p in scenario.parties.values()
            ]
            for year in scenario.years
        ],
        dtype=np.float64,
    )


def _net_assets(scenario: Scenario) -> np.ndarray:
    """Net assets at the start: all guarantors of a party together, a pool's balance."""
    net_assets = _per_party(scenario, "net_assets", 0.0, scale_by_count=True)
    for i, p in enumerate(scenario.parties.values()):
        if p.kind == "pool":
            net_assets[i] = p.initial_balance
    return net_assets


def _eligible(scenario: Scenario, covers: np.ndarray) -> np.ndarray:
    """Per party and segment, 1 where it may take a share: a pool covers the segments its
    schemes name, or fewer; every other party all."""
    seg_names = list(scenario.segments)
    eligible = np.ones((len(scenario.parties), len(seg_names)))
    for i, p in enumerate(scenario.parties.values()):
        if p.kind == "pool":
            listed = p.eligible_segments or seg_names
            eligible[i] = [
                covers[s, i] if name in listed else 0.0 for s, name in enumerate(seg_names)
            ]
    return eligible


def _injections(scenario: Scenario) -> np.ndarray:
    """Capital injected into each party, per year of the horizon."""
    years = scenario.years
    injection = np.zeros((len(years), len(scenario.parties)))
    for i, p in enumerate(scenario.parties.values()):
        for year, amount in getattr(p, "capital_injections", {}).items():
            injection[years.index(year), i] = amount
    return injection


def _fallbacks(scenario: Scenario, index: dict[str, int]) -> np.ndarray:
    """Index of the party that takes each party's refused share; ``n_party`` (the last,
    unabsorbed) for the bank and for parties whose fallback is ``unabsorbed``."""
    n_party = len(index)
    return np.array(
        [
            n_party
            if getattr(p, "fallback", "unabsorbed") == "unabsorbed"
            else index[p.fallback]
            if p.kind != "bank"
            else n_party
            for p in scenario.parties.values()
        ],
        dtype=np.int32,
    )
