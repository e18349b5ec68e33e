"""Values a scenario may hold but an analyst almost surely did not mean: warnings.

The schema's bounds say what the model can compute (a PD in (0, 1)); the bounds here say
what is plausible for Chinese SME lending and guarantees (a PD of 0.9999 is computable and
absurd). A value outside them is reported as a warning with its file, line and key, by
``guarantee-sim validate`` and ``run``; ``--strict`` makes them errors. Each bound names the
row of ``PARAMETERS.md`` (or the seed document) it comes from; they are set well outside the
ranges given there, so that a stress scenario does not warn but a slip of the keyboard does,
and no shipped scenario warns (``tests/test_plausibility.py``).

A value of any shape is checked on its support: a per-year value year by year, a
distribution on the values it can take (``min`` to ``max``, or the family's own range).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .limits import MAX_GRADE_PD, capped_lognormal_mean, monthly_counts
from .schema import DECISION_DISTRIBUTIONS
from .values import Distribution, PerYear, Sourced

if TYPE_CHECKING:  # pragma: no cover
    from .schema import Scenario

__all__ = ["BOUNDS", "MIN_REPLICAS", "Bound", "implausible_values"]

#: book replicas below which the intervals are approximate: ``results.intervals.MIN_CLUSTERS``
#: (config may not import results; ``tests/test_uncertain.py`` checks they are equal)
MIN_REPLICAS = 20


@dataclass(frozen=True)
class Bound:
    """Warn when the value at ``key`` is below ``low`` or above ``high``.

    ``key`` is a dotted pattern: ``*`` is any name or index, ``<guarantor>`` (or another
    party kind) any party of that kind.
    """

    key: str
    low: float | None
    high: float | None
    meaning: str  # what the value is, for the message
    source: str  # where the plausible range comes from


P = "PARAMETERS.md"
BOUNDS: tuple[Bound, ...] = (
    Bound(
        "segments.*.pd.mean", 0.001, 0.5, "annual PD",
        f"{P}, credit parameters: annual PD 1-7% (first-time and credit loans), downturn "
        "multiplier up to 3x; 0.1% is a tenth of the lowest, 50% a loan that defaults every "
        "other year",
    ),
    Bound(
        "segments.*.lgd", 0.1, None, "loss given default",
        f"{P}: LGD 45-80% on unsecured loans, 70-90% implied by guarantors' recoveries of "
        "10-30%; below 10% a bank would recover over 90%",
    ),
    Bound(
        "segments.*.correlation", None, 0.3, "asset correlation",
        f"{P}: asset correlation 0.05-0.15; Basel's corporate formula gives at most 0.24",
    ),
    Bound(
        "segments.*.loan_size.median", 1e4, 1e8, "median loan, CNY",
        f"{P}: loan size, median 0.8 m for guaranteed small loans, about 0.17 m per renewal, "
        "capped at 10 m for 普惠 loans; 10,000 CNY is a seventeenth of the smallest, 100 m ten "
        "times the cap",
    ),
    Bound(
        "parties.<guarantor>.net_assets", 1e6, 1e11, "net assets of one guarantor, CNY",
        f"{P}, seed 000: 78 Hangzhou guarantors had 2.967 bn CNY of registered capital, a mean "
        "of 38.04 m; with net assets near 0 the leverage cap stops every guarantee",
    ),
    *(
        Bound(
            key, None, 0.05, "guarantee fee a year",
            f"{P}: guarantee fee 0.5-1% (policy cap 1-1.5%); 2-3% before 2019; Korea up to 3%",
        )
        for key in ("parties.<guarantor>.fee_rate", "parties.<guarantor>.fee_bands.*.rate")
    ),
    Bound(
        "parties.<reguarantor>.fee_rate", None, 0.05, "re-guarantee fee a year",
        f"{P}: the Fund's re-guarantee fee 0.3-0.5% of the risk it bears",
    ),
    Bound(
        "parties.<guarantor>.leverage_cap", None, 20.0, "leverage cap",
        f"{P}: leverage cap 10x, 15x for small-firm guarantors (2017 regulation); Korea 20x",
    ),
    *(
        Bound(
            key, None, 1e12, "CNY",
            f"{P}, seed 004: the largest plan lends 480 bn CNY in three years; 1 trillion "
            "is twice that",
        )
        for key in (
            "parties.<reguarantor>.net_assets",
            "parties.<pool>.initial_balance",
            "parties.<pool>.annual_contribution",
            "parties.<guarantor>.capital_injections.*",
            "segments.*.lending.amount_per_year",
            "segments.*.initial_book.outstanding_amount",
        )
    ),
    Bound(
        "segments.*.lending.growth", None, 1.0, "growth of lending a year",
        f"{P}, seeds 001 and 004: the plans grow lending by tens of percent over three years; "
        "above 100% lending more than doubles every year",
    ),
    Bound(
        "processes.demand.*.growth", None, 1.0, "growth of applications a year",
        f"{P}, seeds 001 and 004 (as lending growth)",
    ),
    Bound(
        "processes.demand.*.loan_rate", 0.01, 0.15, "loan rate a year",
        f"{P}: loan rate 4.5% (3.8-6%); below 1% demand explodes at the all-in price",
    ),
    Bound(
        "processes.guarantor.mandate_loss_rate", None, 0.04,
        "expected loss a guarantor's mandate tolerates a year, share of the amount guaranteed",
        f"{P}: the National Fund stops sharing above a 4% compensation rate a year (5% in "
        "the 2024 plan); a guarantor told to expect losses beyond that on top of its fees "
        "would lose its re-guarantee",
    ),
    Bound(
        "policy.lpr", None, 0.15, "loan prime rate",
        f"{P}: loan rate 4.5% (3.8-6%), above the LPR",
    ),
    Bound(
        "policy.discount_rate", None, 0.08, "discount rate for present values",
        f"{P}: discount rate for present values, the 10-year government bond yield, 1.5-3.5%; "
        "8% is over twice the top",
    ),
    Bound(
        "macro.pd_multiplier.*", None, 6.0, "multiplier on every PD",
        f"{P}: downturn multiplier on PD 2x (1.5-3x); 6x is twice the top",
    ),
    Bound(
        "macro.demand_elasticity", None, 0.5, "change of new lending per s.d. of the factor",
        f"{P}: demand response to the credit cycle, no public Hangzhou figure (an "
        "assumption, 0-0.25: yearly swings of 10-20 points in the growth of inclusive "
        "small-micro lending); 0.5 halves lending in a 1-in-40 bad year",
    ),
    Bound(
        "macro.downturn_z.*", -4.0, 4.0, "shift of the factors, standard deviations",
        f"{P}: asset correlation (Basel ASRF): the 99.9% stress Basel sets capital for is a "
        "shift of 3.09",
    ),
)  # fmt: skip

Warning_ = tuple[tuple, str, Any, str]  # (location, message, value, source)


def implausible_values(s: Scenario) -> Iterator[Warning_]:
    """Every value of ``s`` outside the plausible range of its key (see :data:`BOUNDS`)."""
    kinds = {name: p.kind for name, p in s.parties.items()}
    for loc, value in _numbers(s, ()):
        for bound in BOUNDS:
            if _matches(bound.key, loc, kinds):
                yield from _outside(bound, loc, value)
    yield from _capped_grades(s)
    yield from _fee_free_risk(s)
    yield from _no_loans(s)
    yield from _few_decision_draws(s)


def _capped_grades(s: Scenario) -> Iterator[Warning_]:
    """Grade PDs above the cap: the engine's mean PD is then lower than the one written."""
    fed = s.process_fed_segments()  # their grades are the processes' own PD grid
    for name, seg in s.segments.items():
        pd = seg.pd
        if name in fed or not isinstance(pd.mean, float):
            continue
        capped = pd.capped_mean()
        if capped is None:
            continue
        pds, _ = pd._grade_pds()
        riskiest = max(range(len(pds)), key=pds.__getitem__)
        yield (
            ("segments", name, "pd", "mean"),
            f"the riskiest grade's PD would be {pds[riskiest]:.4g} (grade {riskiest}, "
            f"relative_pd {pd.grades[riskiest].relative_pd:g}); grade PDs are capped at "
            f"{MAX_GRADE_PD}, so the mean PD simulated is {capped:.4g}, not {pd.mean:.4g}",
            pd.mean,
            "the engine: a grade's annual PD is at most 0.999 (ProbabilityOfDefault.grade_pds)",
        )


def _numbers(value: Any, loc: tuple) -> Iterator[tuple[tuple, Any]]:
    """(location, value) for every number, per-year value and distribution under ``value``."""
    if isinstance(value, (PerYear, Distribution, Sourced)):
        yield loc, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _numbers(getattr(value, name), (*loc, name))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, (*loc, key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _numbers(item, (*loc, i))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield loc, value


def _matches(pattern: str, loc: tuple, kinds: dict) -> bool:
    parts = pattern.split(".")
    if len(parts) != len(loc):
        return False
    for i, (part, key) in enumerate(zip(parts, loc, strict=True)):
        if part == "*":
            continue
        if part.startswith("<"):
            if not (i == 1 and loc[0] == "parties" and kinds.get(key) == part[1:-1]):
                return False
        elif part != str(key):
            return False
    return True


def support(value: Any) -> list[tuple[tuple, float]]:
    """The values ``value`` can take, as (location below the key, value) pairs to check.

    A number is itself; a per-year value each year's; a distribution its ``min`` and ``max``,
    or where one is open the end of its family's range (a lognormal's is 0 and infinity);
    a normal or lognormal with ``sd`` 0 only its centre.
    """
    if isinstance(value, Sourced):
        return [(("value", *at), x) for at, x in support(value.value)]
    if isinstance(value, PerYear):
        return [((year,), x) for year, x in value.values]
    if isinstance(value, Distribution) and value.sd == 0.0:
        return [((), value.centre)]  # a point mass: the fixed value
    if isinstance(value, Distribution):
        lowest = (
            value.min if value.min is not None else 0.0 if value.kind == "lognormal" else -math.inf
        )
        highest = value.max if value.max is not None else math.inf
        return [((), lowest), ((), highest)]
    return [((), float(value))]


def _outside(bound: Bound, loc: tuple, value: Any) -> Iterator[Warning_]:
    for below, x in support(value):
        side = (
            f"below {_text(bound.low)}" if bound.low is not None and x < bound.low else
            f"above {_text(bound.high)}" if bound.high is not None and x > bound.high else None
        )  # fmt: skip
        if side is None:
            continue
        reaches = "can reach" if isinstance(getattr(value, "value", value), Distribution) else "is"
        yield (
            (*loc, *below),
            f"implausible {bound.meaning}: {reaches} {_text(x)}, {side}",
            x,
            bound.source,
        )
        return  # one warning per key


def _fee_free_risk(s: Scenario) -> Iterator[Warning_]:
    """A guarantor charging no fee while a scheme passes it the whole loss."""
    for name, party in s.parties.items():
        if party.kind != "guarantor":
            continue
        whole = [
            n
            for n, sch in s.schemes.items()
            if name in sch.split and isinstance(sch.coverage, float) and sch.coverage >= 1.0
        ]
        if not whole:
            continue
        for i, band in enumerate(party.bands()):
            if isinstance(band.rate, float) and band.rate == 0.0:
                key = ("fee_rate",) if party.fee_rate is not None else ("fee_bands", i, "rate")
                yield (
                    ("parties", name, *key),
                    f"implausible: a fee of 0 while scheme {whole[0]!r} passes the bank's whole "
                    "loss on (coverage 1): the guarantor bears the loans' risk for nothing",
                    0.0,
                    f"{P}: guarantee fee 0.8% (0.5-1%); bank share >= 20% (coverage <= 0.8)",
                )
                break


def _few_decision_draws(s: Scenario) -> Iterator[Warning_]:
    """Uncertain decision parameters drawn by too few book replicas: their spread enters the
    results through one draw per replica, so fewer than the intervals' minimum of replicas
    represent it poorly."""
    if s.processes is None or s.lending_source != "processes":
        return
    keys = [".".join(loc) for loc in DECISION_DISTRIBUTIONS if _is_distribution(s, loc)]
    replicas = s.processes.replicas
    if keys and replicas < MIN_REPLICAS:
        yield (
            ("processes", "replicas"),
            f"{replicas} book replicas draw the lenders' decision parameters ({', '.join(keys)}) "
            f"only {replicas} times: their spread is represented by too few draws (the "
            f"intervals need at least {MIN_REPLICAS} replicas and are labelled approximate "
            f"below; allowed: processes.replicas >= {MIN_REPLICAS}, or give them one number)",
            replicas,
            "results.intervals.MIN_CLUSTERS: clusters (book replicas) below which an interval "
            "is approximate",
        )


def _is_distribution(model: Any, loc: tuple) -> bool:
    for name in loc:
        model = getattr(model, name, None)
    inner = model.value if isinstance(model, Sourced) else model
    return isinstance(inner, Distribution)


def _no_loans(s: Scenario) -> Iterator[Warning_]:
    """Lending so small it rounds to no loan at all in its first year."""
    for name, seg in s.segments.items():
        lending = seg.lending
        if lending is None or name in s.process_fed_segments():
            continue
        count, amount = lending.count_per_year, lending.amount_per_year
        if count is not None and isinstance(count, float):
            total, key = count, "count_per_year"
        elif amount is not None and isinstance(amount, float):
            total, key = amount / capped_lognormal_mean(seg.loan_size), "amount_per_year"
        else:
            continue
        if sum(monthly_counts(total)) == 0:
            yield (
                ("segments", name, "lending", key),
                f"implausible: makes no loan in {s.horizon.start_year} ({total:.3g} loans a "
                "year round to none)",
                getattr(lending, key),
                "loans are whole: a year's count is rounded month by month",
            )


def _text(x: float) -> str:
    if math.isinf(x):
        return "infinity" if x > 0 else "-infinity"
    return f"{x:g}" if abs(x) >= 1e6 or x == 0 else f"{x:.6g}"
