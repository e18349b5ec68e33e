"""What the engine can simulate, checked when a scenario is validated.

``validate`` must refuse, at the key, whatever ``run`` would refuse later (after seconds or
minutes of work, with a message naming no key). The engine's limits live in modules the
configuration may not import (it is a leaf: no ``book``, ``processes`` or ``engine``, and
``validate`` imports no SciPy or Numba), so this module restates each limit as a constant
and derives from the scenario the count the engine would meet. ``tests/test_limits.py``
asserts that every constant equals the engine's own (or that the engine behaves as stated
at the bound), so the two cannot drift apart.

=====================  =====================================================================
limit                  where the engine has it
=====================  =====================================================================
:data:`NUMBER_LIMIT`   ``book.NUMBER_LIMIT``: a record id holds a loan's (or applicant's)
                       number within its segment and month in 20 bits, so fewer than
                       1,048,576 loans a month per segment, and at most that many records in
                       a segment's initial book
:data:`BAND_LIMIT`     ``1 << book.BAND_BITS``: a cohort id holds its loan-size band in 5 bits
:data:`LOGIT_BRACKET`  ``processes.decisions.logit_location`` searches the logit of a
                       demand segment's PD in [-40, 40]
:data:`MAX_GRADE_PD`   grade PDs above it are capped (:meth:`ProbabilityOfDefault.grade_pds`)
:func:`demand_ceiling` ``kernels.factors.demand_ceiling``: new lending (volumes and
                       applicants) is simulated at this multiple of the demand when demand
                       follows the credit cycle (``macro.demand_elasticity``)
=====================  =====================================================================

Volumes are deterministic: the loans of each month are counted exactly as
``engine/volumes.py`` counts them (the mean loan size of a capped lognormal here uses
``math.erfc`` where the engine uses SciPy; they agree to the last bits or so, which matters
only for a count within one loan of the limit). The institution processes draw a Poisson
number of applicants each month: the expected number ``lam`` is checked with the safety
factor :data:`POISSON_SAFETY`: ``lam * POISSON_SAFETY < NUMBER_LIMIT``. Near the limit
(``lam`` ≈ 1,000,000, a standard deviation of 1,000) 5% is 50 standard deviations, and the
uniforms behind the draws stop at 1 - 2**-33, where the Poisson quantile is about 6.4
standard deviations above ``lam``: a scenario ``validate`` accepts cannot exceed the limit in
``run``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .types import MAX_MONEY
from .values import central, in_year

if TYPE_CHECKING:  # pragma: no cover
    from .schema import LoanSize, Scenario, Segment

NUMBER_LIMIT = 1 << 20  #: == book.NUMBER_LIMIT
BAND_LIMIT = 1 << 5  #: == 1 << book.BAND_BITS: loan-size bands a cohort id can tell apart
LOGIT_BRACKET = 40.0  #: processes.decisions.logit_location searches [-40, 40]
#: a demand segment's mean PD must stay this far from 0 and 1: at the widest dispersion (4)
#: E[expit(-40 + 4 Z)] is about 1.3e-14, so the root search has a sign change with room
PROCESS_PD_MARGIN = 1e-9
MAX_GRADE_PD = 0.999  #: grade PDs are capped here (the conditional PD must stay below 1)
POISSON_SAFETY = 1.05  #: expected applicants a month x this must stay below NUMBER_LIMIT
DEMAND_CEILING_Z = 3.5  #: == kernels.factors.DEMAND_CEILING_Z


def demand_ceiling(s: Scenario) -> float:
    """The multiple of the demand the book is built at (``kernels.factors.demand_ceiling``)."""
    beta = float(s.macro.demand_elasticity)
    return math.exp(beta * DEMAND_CEILING_Z - 0.5 * beta * beta)


Problem = tuple[tuple, str, Any]  # (location, message, offending value)


def limit_problems(s: Scenario) -> Iterator[Problem]:
    """Everything in ``s`` the engine could not simulate, located at the key to change."""
    fed = s.process_fed_segments()
    for name, seg in s.segments.items():
        if seg.lending is not None and name not in fed:
            yield from _volume_problems(s, name, seg)
        if seg.initial_book is not None:
            yield from _initial_book_problems(name, seg)
    if s.processes is not None and s.lending_source == "processes":
        for name in s.processes.demand:
            yield from _demand_problems(s, name)
    if s.simulation.granularity == "cohort":
        yield from _band_problems(s)


def capped_lognormal_mean(size: LoanSize) -> float:
    """E[min(X, cap)] for X lognormal with the given median and shape, CNY.

    The same formula as ``engine.volumes.capped_lognormal_mean``, without SciPy.
    """
    median, sigma, cap = float(size.median), float(size.sigma), size.cap
    if cap is None:
        return median * math.exp(sigma**2 / 2)
    if sigma == 0:
        return min(median, float(cap))
    mu, c = math.log(median), math.log(cap)
    below = median * math.exp(sigma**2 / 2) * _normal_cdf((c - mu - sigma**2) / sigma)
    return below + cap * _normal_cdf(-(c - mu) / sigma)


def _normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def monthly_counts(total: float) -> list[int]:
    """Loans in each month when ``total`` a year is spread over 12 months.

    ``engine.volumes._spread_over_months``: rounded cumulative counts, differenced.
    """
    cumulative = [round(total * k / 12) for k in range(13)]
    return [b - a for a, b in itertools.pairwise(cumulative)]


def most_in_a_month(total: float) -> float:
    """The largest monthly count when ``total`` a year is spread over 12 months."""
    return max(monthly_counts(total)) if math.isfinite(total) else math.inf


def _volume_problems(s: Scenario, name: str, seg: Segment) -> Iterator[Problem]:
    lending = seg.lending
    assert lending is not None
    at = ("segments", name, "lending")
    mean_size = capped_lognormal_mean(seg.loan_size)
    count, amount = lending.count_per_year, lending.amount_per_year
    by_count = count is not None
    base_key = "count_per_year" if by_count else "amount_per_year"
    for year in range(s.horizon.origination_years):
        growth = (1.0 + lending.growth) ** year * demand_ceiling(s)
        if count is not None:  # as engine.volumes._year_records computes it
            total = count * growth
        elif amount is not None and mean_size > 0:
            total = amount * growth / mean_size
        else:
            total = math.inf
        most = most_in_a_month(total)
        if most < NUMBER_LIMIT:
            continue
        how = (
            f"count_per_year {lending.count_per_year:g}"
            if by_count
            else f"amount_per_year {lending.amount_per_year:g} / mean loan {_money(mean_size)} CNY"
        )
        if year:
            how += f" x (1 + growth {lending.growth:g}) ** {year}"
        if s.macro.demand_elasticity:
            how += f" x demand ceiling {demand_ceiling(s):.3g}"
        key = (*at, base_key) if year == 0 else (*at, "growth")
        yield (
            key,
            f"segment {name!r} would make {_count(most)} loans in a month of "
            f"{s.horizon.start_year + year} ({how}, spread over 12 months); the loan ids hold "
            f"fewer than {NUMBER_LIMIT:,} loans a month per segment (allowed: fewer; lower "
            "the volume or the growth, or split the segment)",
            getattr(lending, key[-1]),
        )
        return
    if count is not None and amount is not None:
        size = amount / count
        if size > MAX_MONEY:  # both given: the loans are scaled to the amount
            yield (
                (*at, "amount_per_year"),
                f"amount_per_year / count_per_year makes loans of {size:.3g} CNY on average "
                f"(allowed: at most {MAX_MONEY:g} CNY a loan)",
                lending.amount_per_year,
            )


def _initial_book_problems(name: str, seg: Segment) -> Iterator[Problem]:
    book = seg.initial_book
    assert book is not None
    mean_size = capped_lognormal_mean(seg.loan_size)
    loans = book.outstanding_amount / mean_size if mean_size > 0 else math.inf
    if not math.isfinite(loans) or round(loans) > NUMBER_LIMIT:
        yield (
            ("segments", name, "initial_book", "outstanding_amount"),
            f"the initial book would hold {_count(loans)} loans (outstanding_amount / mean "
            f"loan {_money(mean_size)} CNY); the loan ids hold at most {NUMBER_LIMIT:,} in a "
            "segment's initial book (allowed: a smaller balance or larger loans)",
            book.outstanding_amount,
        )


def all_in_price(s: Scenario, name: str, year: int) -> float:
    """Loan rate + guarantee fee - interest and fee subsidies, per year, for a demand segment
    applying in ``year`` (that year's terms and policy).

    The price at which the processes' applications respond (``processes.run.all_in_price``
    calls this one).
    """
    assert s.processes is not None
    seg = s.segments[name]
    demand = s.processes.demand[name]
    price = demand.loan_rate
    gname = s.processes.guarantor.party if s.processes.guarantor else None
    scheme = s.schemes[seg.scheme]
    coverage, split = scheme.at(year)
    share = coverage * split.get(gname, 0.0) if gname else 0.0
    policy = s.policy
    guarantor = s.parties.get(gname) if gname else None
    if share > 0.0 and guarantor is not None and guarantor.kind == "guarantor":
        fee = guarantor.fee_for(seg.loan_size.median, year)
        price += fee
        fee_subsidy = policy.fee_subsidy  # lowers the price only when paid to the borrower
        if (
            fee_subsidy is not None
            and fee_subsidy.paid_to == "borrower"
            and fee <= in_year(fee_subsidy.max_fee_rate, year)
        ):
            price -= min(in_year(fee_subsidy.rate, year), fee)
    subsidy = policy.interest_subsidy
    if subsidy is not None and set(subsidy.tags) & set(seg.tags):
        price -= in_year(subsidy.share_of_lpr, year) * in_year(policy.lpr, year)
    return price


def expected_applicants(s: Scenario, name: str, month: int) -> float:
    """Expected simulated applicants of demand segment ``name`` in origination ``month``.

    ``processes.decisions.application_rate`` times the demand ceiling, divided by the
    record weight.
    """
    assert s.processes is not None
    d = s.processes.demand[name]
    season = 1.0
    if d.seasonality is not None:
        season = d.seasonality[month % 12] / (sum(d.seasonality) / 12.0)
    year = s.origination_years[min(month // 12, s.horizon.origination_years - 1)]
    price = all_in_price(s, name, year)
    response = (max(price, 1e-6) / d.reference_price) ** (-d.price_elasticity)
    try:
        growth = (1.0 + d.growth) ** (month // 12)
    except OverflowError:  # pragma: no cover - growth <= 5 over <= 30 years stays finite
        return math.inf
    rate = d.applications_per_year / 12.0 * growth * season * response
    return rate * demand_ceiling(s) / s.processes.record_weight


def _demand_problems(s: Scenario, name: str) -> Iterator[Problem]:
    assert s.processes is not None
    at = ("processes", "demand", name)
    months = s.horizon.origination_years * 12
    for month in range(months):
        lam = expected_applicants(s, name, month)
        if math.isfinite(lam) and lam * POISSON_SAFETY < NUMBER_LIMIT:
            continue
        key = "applications_per_year" if month < 12 else "growth"
        weight = s.processes.record_weight
        yield (
            (*at, key),
            f"the processes would simulate about {_count(lam)} applicants of {name!r} in "
            f"month {month % 12 + 1} of {s.horizon.start_year + month // 12} (applications "
            f"at the all-in price x demand ceiling {demand_ceiling(s):.3g}, / record_weight "
            f"{weight}); the ids hold fewer than "
            f"{NUMBER_LIMIT:,} a month, and a Poisson draw needs {POISSON_SAFETY:g}x room "
            f"(allowed: below {NUMBER_LIMIT / POISSON_SAFETY:,.0f} expected; raise "
            "processes.record_weight, which must divide every office count, or lower the "
            "demand)",
            getattr(s.processes.demand[name], key),
        )
        break
    # the processes draw around the centre of an uncertain mean
    mean = central(s.segments[name].pd.mean) if name in s.segments else None
    if mean is not None and not PROCESS_PD_MARGIN <= mean <= 1 - PROCESS_PD_MARGIN:
        yield (
            ("segments", name, "pd", "mean"),
            f"the institution processes draw applicants' PDs around this mean and need it "
            f"between {PROCESS_PD_MARGIN:g} and 1 - {PROCESS_PD_MARGIN:g}",
            mean,
        )


def band_edges(s: Scenario) -> set[float]:
    """The loan-size band edges of the scheme tables and cohorts (``engine.inputs``)."""
    edges = set(s.simulation.cohort_size_bands)
    for p in s.parties.values():
        if p.kind == "guarantor":
            edges.update(b.max_amount for b in p.bands() if b.max_amount is not None)
            edges.update(w.max_amount for w in p.liability_weights if w.max_amount is not None)
    return edges


def _band_problems(s: Scenario) -> Iterator[Problem]:
    edges = band_edges(s)
    if len(edges) + 1 > BAND_LIMIT:
        yield (
            ("simulation", "cohort_size_bands"),
            f"cohorts would need {len(edges) + 1} loan-size bands (these bounds, the fee "
            "bands' and the liability weights' max_amount); a cohort id holds at most "
            f"{BAND_LIMIT} (allowed: fewer bounds, or granularity: loan)",
            sorted(edges),
        )


def _count(x: float) -> str:
    return "infinitely many" if not math.isfinite(x) else f"{x:,.0f}" if x < 1e15 else f"{x:.3g}"


def _money(x: float) -> str:
    return f"{x:,.0f}" if 1 <= x < 1e15 else f"{x:.3g}"
