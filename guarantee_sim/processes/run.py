"""Run the institution processes once per book replica and hand the engine its inputs.

Output per replica: the approved loan book (records of weight ``record_weight``), the
operational measures (applications, approvals by the segment applied to and the segment
booked in, rejections, abandonment, decision times, mean true PD of approved loans by
booked segment, staff utilisation over the real headcount), the renewal approval share and
the claim-lag distribution the claim handlers achieve.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import simpy
from scipy import special

from ..book import NUMBER_LIMIT, LoanBook, pack_id, segment_hash
from ..config import limits
from ..config.processes import MAX_PROCESSING_MONTHS, Offices, Processes
from ..config.schema import Guarantor, Reguarantor, Scenario
from ..config.values import in_year
from ..kernels.factors import demand_ceiling
from . import decisions
from .draws import BANK_OFFICE, N_COLUMNS, REVIEW_OFFICE, applicant_draws, monthly_uniform
from .institutions import Applicant, Desks, Rules, poisson_count, simulate_claims
from .log import STATUSES, LogColumns, ProcessLog
from .measures import Measures, stacked
from .queues import DAYS_PER_MONTH, Clock, OfficeQueues
from .workers import ReplicasUnderWay, map_replicas, replica_workers, start_replicas

if TYPE_CHECKING:  # pragma: no cover - annotations only; xarray is imported where it is used
    import xarray as xr

# PD grades of process-fed segments: one grid for all, fine enough that rounding a
# true PD to its grade moves the portfolio's mean PD by well under 1%.
PD_GRID = np.exp(np.linspace(np.log(0.001), np.log(0.6), 28))
CLAIMS_STREAM = zlib.crc32(b"claims") & 0x3FFFFFFF


@dataclass(frozen=True)
class ProcessResults:
    books: list  # LoanBook per replica: the records the processes approved
    renew_rate: dict  # segment -> renewal rate used by the kernels
    claim_lag: dict  # guarantor -> probabilities of 0..MAX_PROCESSING_MONTHS extra months
    measures: xr.Dataset  # dims replica, year, segment / party


def _processes_of(scenario: Scenario) -> Processes:
    """The scenario's processes section; only scenarios that have one run the processes."""
    if scenario.processes is None:
        raise ValueError(f"scenario {scenario.name!r} has no processes section")
    return scenario.processes


def grade_of(pd: np.ndarray) -> np.ndarray:
    """Index of the nearest PD_GRID grade on the log scale."""
    edges = np.sqrt(PD_GRID[1:] * PD_GRID[:-1])
    return np.searchsorted(edges, pd).astype(np.int32)


def service_times(mean_days: float, cv: float, uniforms: np.ndarray) -> np.ndarray:
    """Service times by inversion: exponential when cv == 1, else lognormal (mean, cv)."""
    from scipy.special import ndtri

    if cv == 1.0:
        return -mean_days * np.log1p(-uniforms)
    sigma2 = math.log1p(cv * cv)
    return np.exp(math.log(mean_days) - sigma2 / 2 + math.sqrt(sigma2) * ndtri(uniforms))


class _Terms:
    """Per origination year k and segment s, the contract terms of a loan applied for in
    that year: what the bank keeps (``kept[k][s]``), what the guarantor keeps, earns and
    pays.

    The guarantor's terms are per CNY guaranteed per year, as in the kernels' accounts
    (``engine/inputs.py``): the fee and the fee subsidy are charged on the loan amount,
    so per CNY guaranteed they are divided by the coverage; its cost is its operating cost
    plus the re-guarantee fees it pays on the re-guarantors' shares.
    """

    def __init__(self, scenario: Scenario):
        pr = _processes_of(scenario)
        self.names = list(scenario.segments)
        self.years = scenario.origination_years
        gname = pr.guarantor.party if pr.guarantor else None
        self.guarantor: Guarantor | None = None
        if gname:
            party = scenario.parties[gname]
            assert party.kind == "guarantor"  # the schema: the reviewers work for a guarantor
            self.guarantor = party
        self.kept: list[list[float]] = []
        self.own_share: list[list[float]] = []
        self.coverage: list[list[float]] = []
        self.guarantor_kept: list[list[float]] = []  # of the guaranteed loss, after re-guarantee
        self.guarantor_cost: list[list[float]] = []  # per CNY guaranteed per year
        operating = self.guarantor.operating_cost_rate if self.guarantor else 0.0
        for year in self.years:
            kept, own_share, coverages, guarantor_kept, cost = [], [], [], [], []
            for seg in scenario.segments.values():
                coverage, split = scenario.schemes[seg.scheme].at(year)
                own = split.get(gname, 0.0) if gname else 0.0
                reguarantee = 0.0  # the fees it pays its re-guarantors, per CNY guaranteed
                for name, proportion in split.items():
                    party = scenario.parties[name]
                    if isinstance(party, Reguarantor):
                        reguarantee += in_year(party.fee_rate, year) * proportion
                kept.append(1.0 - coverage)
                own_share.append(coverage * own)
                coverages.append(coverage)
                guarantor_kept.append(own)
                cost.append(operating + reguarantee)
            self.kept.append(kept)
            self.own_share.append(own_share)
            self.coverage.append(coverages)
            self.guarantor_kept.append(guarantor_kept)
            self.guarantor_cost.append(cost)
        # the guarantor reviews a segment's applications if it shares its loans in any year
        self.needs_guarantor = [
            any(own[s] > 0.0 for own in self.own_share) for s in range(len(self.names))
        ]
        subsidy = scenario.policy.fee_subsidy
        self.subsidy_to_guarantor = (
            subsidy if subsidy is not None and subsidy.paid_to == "guarantor" else None
        )

    def year_of(self, day: float) -> int:
        """Index k of the origination year of an application arriving on ``day``."""
        return min(int(day // (DAYS_PER_MONTH * 12)), len(self.years) - 1)

    def fee(self, amount: float, k: int) -> float:
        return 0.0 if self.guarantor is None else self.guarantor.fee_for(amount, self.years[k])

    def guarantor_income(self, amount: float, s: int, k: int) -> tuple[float, float]:
        """(fee, fee subsidy paid to the guarantor) per CNY guaranteed per year, on a
        guarantee written in origination year ``k``."""
        fee = self.fee(amount, k)
        subsidy, year = self.subsidy_to_guarantor, self.years[k]
        paid = (
            in_year(subsidy.rate, year)
            if subsidy is not None and fee <= in_year(subsidy.max_fee_rate, year) + 1e-12
            else 0.0
        )
        coverage = self.coverage[k][s]
        return (fee / coverage, paid / coverage) if coverage > 0 else (0.0, 0.0)

    def guarantor_incomes(
        self, amounts: np.ndarray, s: int, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`guarantor_income` of each of ``amounts`` at once (the same numbers)."""
        n = len(amounts)
        coverage = self.coverage[k][s]
        if self.guarantor is None or coverage <= 0:
            return np.zeros(n), np.zeros(n)
        year = self.years[k]
        bands = self.guarantor.bands()  # a fee band: the first whose max_amount holds it
        tops = np.array([math.inf if b.max_amount is None else b.max_amount for b in bands])
        rates = np.array([in_year(b.rate, year) for b in bands])
        fee = rates[np.searchsorted(tops, amounts, side="left")]
        subsidy = self.subsidy_to_guarantor
        if subsidy is None:
            paid = np.zeros(n)
        else:
            capped = fee <= in_year(subsidy.max_fee_rate, year) + 1e-12
            paid = np.where(capped, in_year(subsidy.rate, year), 0.0)
        return fee / coverage, paid / coverage


def all_in_price(scenario: Scenario, terms: _Terms, name: str, k: int) -> float:
    """Loan rate + guarantee fee - interest and fee subsidies, per year, for a segment
    applying in origination year ``k`` (that year's terms and policy): the price
    ``config.limits.all_in_price`` defines, which validation checks the demand against.

    A fee subsidy lowers the price only when it is paid to the borrower; paid to the
    guarantor (the default) it is the guarantor's income and the borrower pays the fee.
    """
    return limits.all_in_price(scenario, name, terms.years[k])


def bank_noise(scenario: Scenario) -> float:
    """The sd of the bank's score noise: credit-information sharing removes a share of it."""
    bank = _processes_of(scenario).bank
    return float(bank.score_noise) * (1.0 - bank.credit_data_sharing)


@dataclass(frozen=True)
class ReplicaRun:
    """Everything one run of the processes produced, including its log and its staff."""

    book: LoanBook
    measures: xr.Dataset | Measures  # a Dataset from run_replica; arrays inside a worker
    renewal_share: np.ndarray  # by segment: share of surviving firms' renewals approved
    claim_lag: dict
    log: ProcessLog | None  # every application's outcome; None once only the results are kept
    officers: OfficeQueues | None  # None once only the results are kept (run_processes)
    reviewers: OfficeQueues | None


@dataclass(frozen=True)
class _Kept:
    """What the engine needs of a replica, as a worker sends it back: no log, no staff
    (a replica's log at record weight 1 is most of a run's memory), and the measures as
    arrays (the worker has no xarray: ``measures.py``)."""

    book: LoanBook
    measures: Measures
    renewal_share: np.ndarray
    claim_lag: dict


def start_processes(
    scenario: Scenario,
    seed: int,
    other_book: LoanBook | None = None,
    replica_scenarios: list[Scenario] | None = None,
    workers: int | None = None,
) -> ReplicasUnderWay | None:
    """Fork the workers of ``run_processes(scenario, seed, other_book, replica_scenarios,
    workers=workers)`` and start its replicas now; pass the result to that call as
    ``under_way`` to collect them. None when the replicas would run in this process (one
    worker or one replica): then there is nothing to start.

    What the workers need is imported by then (this module's imports and the applicants'
    jitted draws); xarray and the kernels need not be, and this process may import them
    while the workers run (the CLI does).
    """
    pr = _processes_of(scenario)
    n_workers = replica_workers(pr.replicas, workers)
    if n_workers <= 1 or pr.replicas <= 1:
        return None
    _before_fork()
    job = _replica_job(scenario, seed, other_book, replica_scenarios)
    return start_replicas(job, pr.replicas, n_workers)


def _replica_job(
    scenario: Scenario,
    seed: int,
    other_book: LoanBook | None,
    replica_scenarios: list[Scenario] | None,
) -> Callable[[int], _Kept]:
    """Replica r's run, as ``run_processes`` keeps it."""
    given = replica_scenarios or [scenario] * _processes_of(scenario).replicas

    def one(r: int) -> _Kept:
        run = _replica_run(given[r], seed, r, other_book)
        assert isinstance(run.measures, Measures)  # _replica_run's are arrays
        return _Kept(run.book, run.measures, run.renewal_share, run.claim_lag)

    return one


def run_processes(
    scenario: Scenario,
    seed: int,
    other_book: LoanBook | None = None,
    replica_scenarios: list[Scenario] | None = None,
    on_replica: Callable[[int], None] | None = None,
    workers: int | None = None,
    meanwhile: Callable[[], None] | None = None,
    under_way: ReplicasUnderWay | None = None,
) -> ProcessResults:
    """Simulate the institutions ``processes.replicas`` times; replica r runs
    ``replica_scenarios[r]`` when given (its drawn decision parameters), else ``scenario``;
    ``on_replica(1)`` after each (progress).

    The replicas run in ``workers`` forked processes (``workers.replica_workers``: None
    is one per CPU, 1 is this process); the results do not depend on it. ``meanwhile()``
    runs in this process while they work (``workers.map_replicas``). ``under_way``: the
    same call's replicas already started by :func:`start_processes` (then ``workers`` is
    not read); they are collected here.
    """
    pr = _processes_of(scenario)
    if under_way is None:
        under_way = start_processes(scenario, seed, other_book, replica_scenarios, workers)
    if under_way is not None:
        replicas = under_way.collect(on_replica, meanwhile)
    else:  # one worker: here, one after another
        job = _replica_job(scenario, seed, other_book, replica_scenarios)
        replicas = map_replicas(job, pr.replicas, 1, on_replica, meanwhile)
    books = [rep.book for rep in replicas]
    measures = stacked([rep.measures for rep in replicas])
    shares = np.stack([rep.renewal_share for rep in replicas])
    asked = ~np.isnan(shares)
    renew_share = np.where(
        asked.any(axis=0),
        np.where(asked, shares, 0).sum(axis=0) / np.maximum(asked.sum(axis=0), 1),
        np.nan,
    )
    renew_rate = {}
    for s, (name, seg) in enumerate(scenario.segments.items()):
        if seg.renewal is not None:
            share = renew_share[s]
            renew_rate[name] = seg.renewal.rate * (1.0 if np.isnan(share) else share)
    lags: dict = {}
    for rep in replicas:
        for g, weights in rep.claim_lag.items():
            lags.setdefault(g, []).append(weights)
    claim_lag = {g: np.mean(w, axis=0) for g, w in lags.items()}
    return ProcessResults(
        books=books, renew_rate=renew_rate, claim_lag=claim_lag, measures=measures
    )


def _before_fork() -> None:
    """What every worker would otherwise do once for itself, done here before they fork so
    that they inherit it: compile the applicants' jitted draws (or load them from the
    cache; the signatures of every call in this module: int64 arguments, float64 rows).
    The workers make no xarray objects (``measures.py``)."""
    applicant_draws(0, 0, 0, 0, 0, np.empty((0, N_COLUMNS)))
    monthly_uniform(0, 0, 0, 0, 0)


def run_replica(
    scenario: Scenario, seed: int, replica: int, other_book: LoanBook | None = None
) -> ReplicaRun:
    """One run of the institutions: the book replica ``replica`` and what produced it.

    ``other_book`` (lending not decided by the processes) adds to the expected claims.
    """
    run = _replica_run(scenario, seed, replica, other_book)
    return dataclasses.replace(run, measures=run.measures.to_dataset())


def _replica_run(
    scenario: Scenario, seed: int, replica: int, other_book: LoanBook | None
) -> ReplicaRun:
    """:func:`run_replica` with its measures as arrays (``measures.py``), as a worker
    makes them."""
    pr = _processes_of(scenario)
    weight = pr.record_weight
    n_months = scenario.horizon.origination_years * 12
    terms = _Terms(scenario)

    env = Clock()
    counts = _application_counts(scenario, seed, replica, terms, n_months)
    log = ProcessLog(int(counts.sum()))
    officers = _offices(env, pr.bank, weight, terms.names, log)
    reviewers = _offices(env, pr.guarantor, weight, terms.names, log) if pr.guarantor else None
    prior = _bank_prior(scenario)
    rules = _rules(scenario, terms, n_months, prior)
    desks = Desks(env, officers, reviewers, rules, log)
    with _collector_paused():
        arrivals = _arrivals(scenario, seed, replica, terms, counts, prior, rules, log, officers)
        desks.feed(arrivals)
    officers.observe()
    if reviewers is not None:
        reviewers.observe()

    columns = log.columns()
    book = _book(scenario, columns, weight, n_months)
    measures = _at_mean_demand(_measures(scenario, columns, weight, officers, reviewers), scenario)
    tenor_years = np.array([seg.tenor_months / 12.0 for seg in scenario.segments.values()])
    renewal_share = _renewal_share(columns, tenor_years)
    lag_weights, handlers = _claims(scenario, seed, replica, book, other_book, renewal_share)
    if handlers is not None and pr.claims is not None:
        _add_claim_handlers(measures, pr.claims.party, handlers, reviewers, scenario)
    return ReplicaRun(
        book=book,
        measures=measures,
        renewal_share=renewal_share,
        claim_lag=lag_weights,
        log=log,
        officers=officers,
        reviewers=reviewers,
    )


@contextmanager
def _collector_paused():
    """Python's cyclic garbage collector off while a replica runs.

    A replica allocates millions of small objects that stay alive until it ends (the log,
    the queued processes), so every collection walks them all for nothing (-31% CPU at
    record weight 10); they hold no reference cycles worth collecting meanwhile.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _offices(
    env: simpy.Environment, staff: Offices, weight: int, names: list, log: ProcessLog
) -> OfficeQueues:
    """``staff``'s offices at 1/``weight`` of their number, each at full staff (the schema
    checks that the weight divides every office count), writing waits to ``log``."""
    reserved = list(staff.segment_offices or {})
    rest = len(reserved)
    block = [reserved.index(n) if n in reserved else rest for n in names]
    return OfficeQueues(
        env,
        [n // weight for n in staff.blocks()],
        staff.staff_per_office,
        block.__getitem__,
        log.waits,
    )


def _bank_prior(scenario: Scenario) -> dict[int, tuple[float, float]]:
    """By demand segment index: the logit-normal population of its applicants, (mu, sigma)."""
    pr = _processes_of(scenario)
    names = list(scenario.segments)
    return {
        names.index(n): (
            decisions.logit_location(scenario.segments[n].pd.mean, d.pd_dispersion),
            float(d.pd_dispersion),
        )
        for n, d in pr.demand.items()
    }


def _rules(
    scenario: Scenario, terms: _Terms, n_months: int, prior: dict[int, tuple[float, float]]
) -> Rules:
    """The bank's and the guarantor's decision rules and the terms of each segment.

    Both act on their posterior mean PD (``decisions`` module doc): the bank's prior is
    the population of the segment the applicant applied in (its price segment), the
    guarantor's that population given what the bank decided on the way to it.
    """
    pr = _processes_of(scenario)
    names = terms.names
    segs = list(scenario.segments.values())
    bank = pr.bank
    guarantor = pr.guarantor
    noise_bank = bank_noise(scenario)
    noise_guarantor = float(guarantor.score_noise) if guarantor is not None else 0.0
    break_evens = _bank_break_evens(scenario, terms)

    def break_even(applied: int, s: int, k: int) -> float:
        return break_evens[applied, s, k]

    windows: dict[tuple[int, int, int], decisions.Window] = {}

    def window(applied: int, s: int, k: int) -> decisions.Window:
        """The bank's decision on an applicant who applied in ``applied`` in origination
        year ``k`` and reaches the guarantor on segment ``s``'s terms: approved on them,
        declined first if routed."""
        if (applied, s, k) not in windows:
            table = decisions.posterior_table(*prior[applied], noise_bank)
            hi = decisions.bank_score_threshold(table, break_even(applied, s, k))
            lo = (
                decisions.bank_score_threshold(table, break_even(applied, applied, k))
                if applied != s
                else -math.inf
            )
            windows[applied, s, k] = decisions.Window(lo, hi, noise_bank)
        return windows[applied, s, k]

    def guarantor_ok(applied: int, group: dict[str, np.ndarray], s: int) -> np.ndarray:
        """The guarantor's decisions on a ``group`` of applicants who applied in segment
        ``applied`` (its prior), reviewed on segment ``s``'s terms, all at once (each
        origination year through one table). ``group``: columns of ``_screen``."""
        assert guarantor is not None  # only segments whose scheme has the reviewers' guarantor
        out = np.zeros(len(group["year"]), dtype=bool)
        for k in np.unique(group["year"]).tolist():
            members = group["year"] == k
            table = decisions.posterior_table(
                *prior[applied], noise_guarantor, window(applied, s, k)
            )
            fee, subsidy = terms.guarantor_incomes(group["amount"][members], s, k)
            out[members] = decisions.guarantor_approves(
                posterior_pds(table, special.logit(group["guarantor_seen_pd"][members])),
                segs[s].lgd,
                terms.guarantor_kept[k][s],
                fee,
                subsidy,
                guarantor.mandate_loss_rate,
                terms.guarantor_cost[k][s],
            )
        return out

    def renewal_pds(applied: int, group: dict[str, np.ndarray], s: int) -> np.ndarray:
        """The bank's posterior mean of the current PD of a ``group`` of applicants who
        applied in segment ``applied`` (its prior), lent on segment ``s``'s terms, when
        their loans come up for renewal: its first score, the loan's tenor repaid without
        a default, times ``s``'s seasoning (``decisions`` module doc)."""
        seg = segs[s]
        assert seg.renewal is not None  # only loans of segments that renew
        years = seg.tenor_months / 12.0
        table = decisions.posterior_table(*prior[applied], noise_bank, survived_years=years)
        seen = group["bank_seen_pd"]
        return seg.renewal.seasoning * posterior_pds(table, special.logit(seen))

    visits = bank.visits
    routes_to = [pr.demand[n].routes_to if n in pr.demand else None for n in names]
    return Rules(
        visits=visits,
        days_between_visits=bank.days_between_visits / _clock(scenario),
        renewal_ok=_renewal_rule(break_evens, len(terms.years)),
        break_even=_break_even_table(break_evens, len(names), len(terms.years)),
        guarantor_ok=guarantor_ok,
        renewal_pds=renewal_pds,
        needs_guarantor=terms.needs_guarantor,
        routes_to=[names.index(r) if r else -1 for r in routes_to],
        tenor_days=[seg.tenor_months * DAYS_PER_MONTH for seg in segs],
        renews_into=[
            (names.index(seg.renewal.into) if seg.renewal.into else s)
            if seg.renewal is not None
            else -1
            for s, seg in enumerate(segs)
        ],
        origination_days=n_months * DAYS_PER_MONTH,
    )


def _bank_break_evens(scenario: Scenario, terms: _Terms) -> dict[tuple[int, int, int], float]:
    """The bank's break-even PD by (segment applied in: its loan rate, segment lent on: its
    loss share and LGD, origination year index)."""
    pr = _processes_of(scenario)
    names = terms.names
    segs = list(scenario.segments.values())
    bank = pr.bank
    return {
        (names.index(n), s, k): decisions.bank_break_even_pd(
            segs[s].lgd, terms.kept[k][s], d.loan_rate, bank.funding_cost, bank.operating_cost
        )
        for n, d in pr.demand.items()
        for s in range(len(segs))
        for k in range(len(terms.years))
    }


def _renewal_rule(
    break_evens: dict[tuple[int, int, int], float], n_years: int
) -> Callable[[int, int, float, float], bool]:
    """The bank's decision on a renewal lent on segment ``s``'s terms, asked for on
    ``day`` by a firm that first applied in segment ``applied``: its posterior PD
    (``bank_pd``: the parent's ``Applicant.renewal_pd``) at most the break-even of that
    year. Called for every renewal, so ``_Terms.year_of`` is inline."""
    year_days, last_year = DAYS_PER_MONTH * 12, n_years - 1

    def renewal_ok(applied: int, s: int, day: float, bank_pd: float) -> bool:
        k = min(int(day // year_days), last_year)
        return bool(break_evens[applied, s, k] >= bank_pd)

    return renewal_ok


def _break_even_table(
    break_evens: dict[tuple[int, int, int], float], n_segments: int, n_years: int
) -> np.ndarray:
    """``break_evens`` as an array [applied, lent on, year]; NaN (approves no one) where
    no one applies."""
    table = np.full((n_segments, n_segments, n_years), np.nan)
    for key, value in break_evens.items():
        table[key] = value
    return table


def _application_counts(
    scenario: Scenario, seed: int, replica: int, terms: _Terms, n_months: int
) -> np.ndarray:
    """Simulated applications ``[demand segment, month]``: the demand at the segment's
    all-in price, times the demand ceiling (each path of the kernels keeps its share of the
    loans, ``kernels.factors``), over the record weight, as a Poisson count."""
    pr = _processes_of(scenario)
    ceiling = demand_ceiling(scenario.macro.demand_elasticity)
    counts = np.zeros((len(pr.demand), n_months), dtype=np.int64)
    for i, (name, demand) in enumerate(pr.demand.items()):
        prices = [all_in_price(scenario, terms, name, k) for k in range(len(terms.years))]
        hash_ = segment_hash(name)
        for m in range(n_months):
            rate = decisions.application_rate(
                demand.applications_per_year,
                demand.growth,
                m // 12,
                demand.seasonality,
                m % 12,
                prices[m // 12],
                demand.reference_price,
                demand.price_elasticity,
            )
            counts[i, m] = poisson_count(
                rate * ceiling / pr.record_weight, monthly_uniform(seed, replica, hash_, m, 0)
            )
            if counts[i, m] >= NUMBER_LIMIT:
                raise ValueError(
                    f"processes.demand.{name}: {counts[i, m]:,} simulated applicants in "
                    "one month is more than the ids hold; raise "
                    "processes.record_weight"
                )
    return counts


#: most applicants of one demand segment drawn at once (:func:`_segment_arrivals`): a
#: year of the default run's at record weight 20, about a month's at weight 1
BATCH_APPLICANTS = 16_384


def _arrivals(
    scenario: Scenario,
    seed: int,
    replica: int,
    terms: _Terms,
    counts: np.ndarray,
    prior: dict[int, tuple[float, float]],
    rules: Rules,
    log: ProcessLog,
    officers: OfficeQueues,
) -> Iterator[list[Applicant]]:
    """Each month's applicants in order of arrival, ``counts[i, m]`` of demand segment i in
    month m, each with its draws and its bank office of ``officers``; their rows of
    ``log`` written.

    Applicants are numbered segment by segment, month by month (their rows in the log);
    ties in arrival keep that order. Their screening is decided here (:func:`_screen`).
    """
    pr = _processes_of(scenario)
    names = list(pr.demand)
    first = np.cumsum(np.concatenate([[0], counts.ravel()]))[:-1].reshape(counts.shape)
    noise = bank_noise(scenario)
    segments = [
        _segment_arrivals(
            scenario,
            (seed, replica),
            name,
            terms.names.index(name),
            counts[i],
            int(first[i, 0]),
            decisions.posterior_table(*prior[terms.names.index(name)], noise),
            officers,
            rules,
            log,
        )
        for i, name in enumerate(names)
    ]
    for m in range(counts.shape[1]):
        month: list[Applicant] = []  # in order of their rows
        days: list[np.ndarray] = []
        for i in range(len(names)):
            if counts[i, m] == 0:
                continue
            applicants, arrival = next(segments[i])
            month.extend(applicants)
            days.append(arrival)
        if month:  # by arrival, ties by row (a stable sort of rows in order)
            order = np.argsort(np.concatenate(days), kind="stable")
            yield [month[k] for k in order.tolist()]


def _segment_arrivals(
    scenario: Scenario,
    key: tuple[int, int],
    name: str,
    s: int,
    counts: np.ndarray,
    start: int,
    bank_table: decisions.PosteriorTable,
    officers: OfficeQueues,
    rules: Rules,
    log: ProcessLog,
) -> Iterator[tuple[list[Applicant], np.ndarray]]:
    """Demand segment ``name``'s applicants (index ``s``), ``counts[m]`` in month m, rows
    ``start, start + 1, ...`` of ``log``: for each month that has any, its applicants and
    their arrival days, in order of their rows.

    They are drawn and screened for several months at once (up to
    :data:`BATCH_APPLICANTS`: NumPy's work per call is the same per applicant, its
    overhead per call is not), the batch's rows of the log written then; a month's
    :class:`Applicant` objects are made only when the month comes."""
    months = np.flatnonzero(counts).tolist()
    while months:
        batch = [months.pop(0)]
        size = int(counts[batch[0]])
        while months and size + int(counts[months[0]]) <= BATCH_APPLICANTS:
            size += int(counts[months[0]])
            batch.append(months.pop(0))
        sizes = [int(counts[m]) for m in batch]
        columns, drawn = _batch_applicants(
            scenario, key, name, s, batch, sizes, bank_table, start, officers, rules
        )
        log.write_block(start, s, drawn)
        start += size
        at = 0
        for count in sizes:
            rows = slice(at, at + count)
            at += count
            applicants = list(map(Applicant, *(column[rows] for column in columns)))
            yield applicants, drawn["arrival"][rows]


def _screen(
    drawn: dict[str, np.ndarray], applied: int, rules: Rules
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bank's and the guarantor's decisions on a block of new applicants to segment
    ``applied``, which depend on their draws and their arrival year only, not on the
    queues, all at once: the segment the bank would lend on (``booked_in``: the one applied
    to, or where it is routed when declined there; -1 when it declines), for a loan that
    needs a guarantee, the guarantor's decision (``guarantor_approves``), and for a loan
    that renews, the bank's posterior PD at its renewal (``renewal_pd``, NaN otherwise).

    ``drawn``: the block's columns (``bank_pd``, the bank's posterior PD; ``arrival``, ...).
    The queues decide when the decisions are made, and whether (an applicant may give up).
    """
    n = len(drawn["arrival"])
    year_days, last_year = DAYS_PER_MONTH * 12, rules.break_even.shape[2] - 1
    year = np.minimum((drawn["arrival"] // year_days).astype(np.int64), last_year)
    bank_pd = drawn["bank_pd"]
    break_even = rules.break_even[applied]  # [lent on, year]
    booked_in = np.where(break_even[applied, year] >= bank_pd, applied, -1)
    routed = rules.routes_to[applied]
    if routed >= 0:  # declined: offered another product in the same meeting
        offered = (booked_in < 0) & (break_even[routed, year] >= bank_pd)
        booked_in[offered] = routed
    approves = np.zeros(n, dtype=bool)
    renewal_pd = np.full(n, np.nan)
    group = {**drawn, "year": year}
    for s in np.unique(booked_in[booked_in >= 0]).tolist():
        members = booked_in == s
        if rules.needs_guarantor[s] or rules.renews_into[s] >= 0:
            of_s = {name: column[members] for name, column in group.items()}
        if rules.needs_guarantor[s]:
            approves[members] = rules.guarantor_ok(applied, of_s, s)
        if rules.renews_into[s] >= 0:  # what the bank will know at the loan's renewal
            renewal_pd[members] = rules.renewal_pds(applied, of_s, s)
    return booked_in, approves, renewal_pd


def _batch_applicants(
    scenario: Scenario,
    key: tuple[int, int],
    name: str,
    s: int,
    months: list[int],
    counts: list[int],
    bank_table: decisions.PosteriorTable,
    start: int,
    officers: OfficeQueues,
    rules: Rules,
) -> tuple[list[list], dict[str, np.ndarray]]:
    """The applicants of segment ``name`` (index ``s``) in ``months``, ``counts[j]`` in
    ``months[j]``, rows ``start, start + 1, ...`` of the log: their bank office of
    ``officers``, true PD, amount, the PDs the bank and the guarantor see, the bank's
    posterior PD (``bank_table``: its prior is segment ``s``'s applicants), patience and
    service times, all computed at once (each applicant's numbers are those of its own
    draws alone); then the fields of an :class:`Applicant` each, as lists of Python
    values in the order of its fields, for the queues, and the columns the log keeps.
    ``key``: (seed, replica)."""
    seed, replica = key
    pr = _processes_of(scenario)
    bank = pr.bank
    visits = bank.visits
    seg = scenario.segments[name]
    demand = pr.demand[name]
    noise_bank = bank_noise(scenario)
    noise_guarantor = pr.guarantor.score_noise if pr.guarantor else 0.0
    hash_ = segment_hash(name)
    count = sum(counts)
    month = np.repeat(np.array(months, dtype=np.int64), counts)
    ends = np.cumsum(counts)
    number = np.arange(count) - np.repeat(ends - counts, counts)  # within its month
    id_hi, id_lo = pack_id(hash_, month, number, process=True)
    u = np.empty((count, N_COLUMNS))
    for m, n, end in zip(months, counts, ends.tolist(), strict=True):
        applicant_draws(seed, replica, hash_, m, n, u[end - n : end])
    pd = decisions.true_pd(seg.pd.mean, demand.pd_dispersion, u[:, 1])
    size = seg.loan_size
    amount = size.median * np.exp(size.sigma * u[:, 2])
    if size.cap is not None:
        amount = np.minimum(amount, size.cap)
    seen_bank = decisions.observed_pd(pd, noise_bank, u[:, 3])
    seen_guarantor = decisions.observed_pd(pd, noise_guarantor, u[:, 4])
    patience = -bank.patience_days * np.log1p(-u[:, 5]) if bank.patience_days is not None else None
    service = service_times(bank.service.mean_days, bank.service.cv, u[:, 6 : 6 + visits])
    extra = (
        service_times(pr.guarantor.service.mean_days, pr.guarantor.service.cv, u[:, 6 + visits])
        if pr.guarantor
        else np.zeros(count)
    )
    renewal_service = service_times(bank.service.mean_days, bank.service.cv, u[:, 7 + visits])
    clock = _clock(scenario)  # queue times at the demand ceiling (see _clock)
    if patience is not None:
        patience = patience / clock
    service, extra, renewal_service = service / clock, extra / clock, renewal_service / clock
    services = np.concatenate([service, extra[:, None], renewal_service[:, None]], axis=1)
    bank_pd = posterior_pds(bank_table, special.logit(seen_bank))
    arrival = (month + u[:, 0]) * DAYS_PER_MONTH
    drawn = {
        "id_hi": id_hi,
        "id_lo": id_lo,
        "arrival": arrival,
        "pd": pd,
        "amount": amount,
        "bank_seen_pd": seen_bank,
    }
    booked_in, approves, renewal_pd = _screen(
        {**drawn, "bank_pd": bank_pd, "guarantor_seen_pd": seen_guarantor}, s, rules
    )
    # Python values (floats: the clock's times stay floats), in Applicant's field order
    columns = [
        range(start, start + count),
        [s] * count,
        arrival.tolist(),
        [None] * count if patience is None else patience.tolist(),
        services.tolist(),  # rows of Python floats
        officers.numbers(s, u[:, BANK_OFFICE]).tolist(),
        u[:, REVIEW_OFFICE].tolist(),
        renewal_pd.tolist(),
        booked_in.tolist(),
        approves.tolist(),
    ]
    drawn["renewal_pd"] = renewal_pd
    return columns, drawn


def posterior_pds(table: decisions.PosteriorTable, scores: np.ndarray) -> np.ndarray:
    """``table(score)`` for each score, as the same call on one score at a time gives it.

    Scores the table covers go through its spline at once (evaluated point by point, so
    the same numbers); the rare ones beyond it are computed one by one.
    """
    inside = (scores >= table.lo) & (scores <= table.hi)
    out = np.empty(len(scores))
    out[inside] = table(scores[inside])
    for i in np.flatnonzero(~inside):
        out[i] = table(scores[i])
    return out


def _add_claim_handlers(
    measures: Measures,
    party: str,
    handlers: OfficeQueues,
    reviewers: OfficeQueues | None,
    scenario: Scenario,
) -> None:
    """Fold the claim handlers into the guarantor's staff utilisation (headcount-weighted:
    every simulated office has its full staff, so simulated headcounts are the real ones
    over the record weight)."""
    util = measures["staff_utilisation"]  # (year, party), changed in place
    column = measures.coords["party"].index(party)
    years = measures.coords["year"]
    extra = np.array([handlers.utilisation(y - scenario.horizon.start_year) for y in years])
    reviewer_capacity = reviewers.capacity if reviewers is not None else 0
    combined = (util[:, column] * reviewer_capacity + extra * handlers.capacity) / (
        reviewer_capacity + handlers.capacity
    )
    util[:, column] = combined


def _book(scenario: Scenario, log: LogColumns, weight: int, n_months: int) -> LoanBook:
    approved = (log.status == STATUSES.index("approved")) & ~log.renewal
    segs = list(scenario.segments.values())
    n = int(approved.sum())
    month = np.minimum(log.decided[approved] // DAYS_PER_MONTH, n_months - 1).astype(np.int32)
    segment = log.segment[approved].astype(np.int32)
    id_lo = log.id_lo[approved]
    id_hi = log.id_hi[approved]
    order = np.lexsort((id_lo, id_hi, month))
    tenor = np.array([s.tenor_months for s in segs], dtype=np.int32)
    return LoanBook(
        id_lo=id_lo[order],
        id_hi=id_hi[order],
        segment=segment[order],
        grade=grade_of(log.pd[approved])[order],
        month=month[order],
        tenor=tenor[segment][order],
        n_loans=np.full(n, weight, dtype=np.int64),
        amount=log.amount[approved][order],
        initial=np.zeros(n, dtype=bool),
    )


def _clock(scenario: Scenario) -> float:
    """How much faster the applicants' queues run at the demand ceiling D_hi.

    Applicants arrive at D_hi times the demand (``kernels.factors``); their service times,
    patience and days between visits are divided by D_hi too. A queue whose arrival,
    service and abandonment rates are all multiplied by D_hi is the same queue with time
    running D_hi times faster: in steady state each applicant waits, gives up and is
    decided with the chances of the mean demand, and waits are 1 / D_hi of its waits. So
    the paths, which keep 1 / D_hi of the applicants on average, are not lent from
    congested queues (without this the default run's first-time borrowers fell 6% with a
    5x abandonment). 1.0 when demand does not follow the credit cycle.
    """
    return demand_ceiling(scenario.macro.demand_elasticity)


#: measures that count applicants: simulated at the demand ceiling, reported per unit demand
COUNT_MEASURES = ("applications", "approvals", "booked_approvals", "rejections", "abandoned")


def _at_mean_demand(measures: Measures, scenario: Scenario) -> Measures:
    """The measures of the mean demand from queues run at the ceiling D_hi (:func:`_clock`):
    counts divided by D_hi, decision days times D_hi (the clock ran D_hi times faster);
    staff utilisation is the mean demand's as it is. What thinning still leaves out: a
    path's queues do not respond to its own demand D (they are the mean demand's), and the
    claim handlers work at the claim volume of the D_hi book (``tests/test_demand.py``)."""
    ceiling = _clock(scenario)
    if ceiling == 1.0:
        return measures
    for name in COUNT_MEASURES:  # in place
        measures[name][...] /= ceiling
    measures["decision_days_mean"][...] *= ceiling
    return measures


def _renewal_share(log: LogColumns, tenor_years: np.ndarray) -> np.ndarray:
    """Share of renewal applications the bank approved among the firms that survive to
    ask, by the parent loan's segment (``tenor_years``: each segment's tenor).

    The processes draw no defaults, so every loan asks; in the kernels only those that
    survived their tenor do, and they renew at this share. So each application counts with
    its firm's chance of surviving, ``(1 - PD)^tenor`` at its true first-loan PD, as the
    kernels draw it.
    """
    n_seg = len(tenor_years)
    segment = log.applied[log.renewal]
    survival = (1.0 - log.pd[log.renewal]) ** tenor_years[segment]
    asked = np.bincount(segment, weights=survival, minlength=n_seg)
    approved = log.status[log.renewal] == STATUSES.index("approved")
    granted = np.bincount(segment[approved], weights=survival[approved], minlength=n_seg)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(asked > 0, granted / np.where(asked > 0, asked, 1.0), np.nan)


def _measures(scenario: Scenario, log: LogColumns, weight: int, officers, reviewers) -> Measures:
    """Counts by arrival year and the segment applied to; approvals also by the segment the
    loan is booked in (a declined credit application offered a guarantee is booked in the
    guarantee's segment), and the approved loans' mean PD by booked segment.

    ``log``: the log's columns. Sums run in the log's order (``bincount`` adds its
    weights in order).
    """
    columns = log
    years = scenario.years
    names = list(scenario.segments)
    shape = (len(years), len(names))
    first = ~columns.renewal
    y = (columns.arrival[first] // (DAYS_PER_MONTH * 12)).astype(np.int64)
    s = columns.applied[first]
    status = columns.status[first]
    booked_in = columns.segment[first]
    cell = y * len(names) + s  # (year, segment applied) flattened

    def by_cell(mask, values=None, index=cell, size=shape[0] * shape[1]):
        w = None if values is None else values[mask]
        return np.bincount(index[mask], weights=w, minlength=size).astype(np.float64)

    approved = status == STATUSES.index("approved")
    count = {
        "applications": by_cell(np.ones(len(cell), dtype=bool)).reshape(shape) * weight,
        "approvals": by_cell(approved).reshape(shape) * weight,
        "rejections": by_cell(status == STATUSES.index("rejected")).reshape(shape) * weight,
        "abandoned": by_cell(status == STATUSES.index("abandoned")).reshape(shape) * weight,
    }
    booked_cell = cell * len(names) + booked_in  # year, applied, booked
    booked = by_cell(approved, index=booked_cell, size=shape[0] * shape[1] * len(names))
    booked = booked.reshape(len(years), len(names), len(names)) * weight
    pd_cell = y * len(names) + booked_in  # by booked segment
    pd_sum = by_cell(approved, columns.pd[first], index=pd_cell).reshape(shape)
    decided_mask = approved | (status == STATUSES.index("rejected"))
    waited = columns.decided[first] - columns.arrival[first]
    days = by_cell(decided_mask, waited).reshape(shape)
    decided = by_cell(decided_mask).reshape(shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        decision_days = days / decided
        approved_pd = pd_sum / (booked.sum(axis=1) / weight)
    parties = [*scenario.parties, "unabsorbed"]
    util = np.full((len(years), len(parties)), np.nan)
    for i in range(len(years)):
        util[i, parties.index("bank")] = officers.utilisation(i)
        if reviewers is not None:
            guarantor = _processes_of(scenario).guarantor
            assert guarantor is not None  # reviewers work for the processes' guarantor
            util[i, parties.index(guarantor.party)] = reviewers.utilisation(i)
    coords = {"year": years, "segment": names, "applied_segment": names}
    data: dict[str, tuple] = {k: (("year", "segment"), v) for k, v in count.items()}
    data["booked_approvals"] = (("year", "applied_segment", "segment"), booked)
    data["decision_days_mean"] = (("year", "segment"), decision_days)
    data["approved_pd_mean"] = (("year", "segment"), approved_pd)
    data["staff_utilisation"] = (("year", "party"), util)
    return Measures(data, coords={**coords, "party": parties})


def _claims(
    scenario: Scenario,
    seed: int,
    replica: int,
    book: LoanBook,
    other_book,
    renewal_share: np.ndarray,
):
    """Claim-lag distribution of the guarantor's handlers at the expected claim volume
    (:func:`expected_claims`), Poisson month by month."""
    pr = _processes_of(scenario)
    claims = pr.claims
    if claims is None:
        return {}, None
    gname = claims.party
    n_months = scenario.horizon.months
    expected = expected_claims(scenario, gname, book, other_book, renewal_share)
    weight = pr.record_weight
    counts = np.array(
        [
            poisson_count(expected[m] / weight, monthly_uniform(seed, replica, CLAIMS_STREAM, m, 1))
            for m in range(n_months)
        ]
    )
    total = int(counts.sum())
    u = np.empty((max(total, 1), N_COLUMNS))
    applicant_draws(seed, replica, CLAIMS_STREAM, 0, max(total, 1), u)

    def service(mean, uniform):
        return float(service_times(mean, claims.service.cv, np.array([uniform]))[0])

    lags, staff = simulate_claims(
        counts,
        claims.offices // weight,
        claims.staff_per_office,
        claims.service.mean_days,
        (u[:, 0], u[:, 6], u[:, BANK_OFFICE]),
        service,
    )
    months = np.minimum(np.rint(lags / DAYS_PER_MONTH).astype(int), MAX_PROCESSING_MONTHS)
    weights = np.bincount(months, minlength=MAX_PROCESSING_MONTHS + 1).astype(np.float64)
    weights = weights / weights.sum() if weights.sum() > 0 else np.eye(MAX_PROCESSING_MONTHS + 1)[0]
    return {gname: weights}, staff


def expected_claims(
    scenario: Scenario, party: str, book: LoanBook, other_book, renewal_share: np.ndarray
) -> np.ndarray:
    """Expected defaults a month of loans whose scheme gives ``party`` a share (real loans).

    Every guaranteed default the kernels will draw counts, renewed loans included: the
    loans performing at maturity renew at the segment's renewal rate (times the share of
    surviving firms' renewal applications this replica's bank approved, ``renewal_share``)
    while lending continues, into the renewal segment, keeping their PD (times the parent
    segment's ``renewal.seasoning`` at the first renewal, as in the kernels). A loan
    defaults at its annual PD / 12 a month over its life (the volume is what matters, not
    its exact timing).
    """
    segs = list(scenario.segments.values())
    covered = np.array(
        [
            party in scenario.schemes[s.scheme].split
            and any(scenario.schemes[s.scheme].at(y)[0] > 0 for y in scenario.origination_years)
            for s in segs
        ]
    )
    n_months = scenario.horizon.months
    grades = max(len(s.pd.grades) for s in segs)
    own_pd = np.zeros((len(segs), grades))  # PD of each (segment, grade) of the volume book
    for i, seg in enumerate(segs):
        pds = seg.pd.grade_pds()[0]
        own_pd[i, : len(pds)] = pds
    renew_rate, renew_into = _renewal_terms(scenario, renewal_share)
    seasoning = np.array([s.renewal.seasoning if s.renewal else 1.0 for s in segs])
    tenor = np.array([s.tenor_months for s in segs])
    months = (n_months, scenario.horizon.origination_years * 12)
    terms = (covered, renew_rate, renew_into, seasoning, tenor)
    # a month's defaults, as a difference array: each loan's +monthly at its start and
    # -monthly at its end, added in this order (as np.add.at would add them one by one)
    at: list[np.ndarray] = []
    add: list[np.ndarray] = []
    if book is not None and len(book):
        _add_generations(at, add, book, PD_GRID[book.grade], terms, months)
    if other_book is not None and len(other_book):
        key = (months, *(np.asarray(t).tobytes() for t in (*terms, own_pd)))
        if _other_claims.get("book") is not other_book or _other_claims.get("key") != key:
            other_at: list[np.ndarray] = []
            other_add: list[np.ndarray] = []
            pd = own_pd[other_book.segment, other_book.grade]
            _add_generations(other_at, other_add, other_book, pd, terms, months)
            _other_claims.update(book=other_book, key=key, at=other_at, add=other_add)
        at += _other_claims["at"]
        add += _other_claims["add"]
    if not at:
        return np.zeros(n_months)
    # bincount adds its weights in order into zeros: the sums of the adds one by one
    expected = np.bincount(np.concatenate(at), np.concatenate(add), minlength=n_months + 1)
    return np.cumsum(expected)[:n_months]


#: the other book's part of :func:`expected_claims`, the same for every replica of a run
#: (the book and what it depends on, ``key``): kept for the next replica in this process
_other_claims: dict = {}


def _add_generations(
    at: list[np.ndarray],
    add: list[np.ndarray],
    book: LoanBook,
    pd: np.ndarray,
    terms: tuple,
    months: tuple[int, int],
) -> None:
    """Append to ``at`` (months) and ``add`` (expected defaults a month) each generation
    of ``book``'s covered loans (PD ``pd``), then of their renewals, as
    :func:`expected_claims` counts them: ``+monthly`` at each loan's start month,
    ``-monthly`` at its end. ``terms``: per segment, covered, renewal rate, renewed into,
    seasoning, tenor; ``months``: the horizon's and the origination's."""
    covered, renew_rate, renew_into, seasoning, tenor = terms
    n_months, origination_months = months
    n, in_seg = book.n_loans.astype(np.float64), book.segment
    start, end = book.month, np.minimum(book.month + book.tenor, n_months)
    first = True
    while len(n):  # one generation: the loans, then their renewals
        mask = covered[in_seg]
        monthly = n[mask] * pd[mask] / 12.0
        at += [start[mask], end[mask]]
        add += [monthly, -monthly]
        # those ending after lending stops renew no more (their numbers not needed)
        go = end < origination_months
        n, pd, in_seg, start, end = n[go], pd[go], in_seg[go], start[go], end[go]
        n = n * (1.0 - pd) ** ((end - start) / 12.0) * renew_rate[in_seg]
        if first:  # the firms' second loan: seasoned
            pd, first = pd * seasoning[in_seg], False
        go = n > 0
        n, pd, in_seg, start = n[go], pd[go], renew_into[in_seg[go]], end[go]
        end = np.minimum(start + tenor[in_seg], n_months)


def _renewal_terms(scenario: Scenario, renewal_share: np.ndarray):
    """Per segment: the share of loans performing at maturity that renew, and into which
    segment (what the kernels get: the scenario's rate times the bank's approval share)."""
    names = list(scenario.segments)
    rate = np.zeros(len(names))
    into = np.arange(len(names))
    for s, seg in enumerate(scenario.segments.values()):
        if seg.renewal is not None:
            share = renewal_share[s]
            rate[s] = seg.renewal.rate * (1.0 if np.isnan(share) else share)
            into[s] = names.index(seg.renewal.into) if seg.renewal.into else s
    return rate, into
