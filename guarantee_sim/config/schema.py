"""The scenario schema: typed, frozen models of everything a scenario YAML may say.

Units everywhere: money in CNY, rates as decimals per year, times in months unless a key
says ``years``. Chinese names go in ``label`` fields, never in keys.

The models only describe and check; turning them into kernel arrays is the engine's job.

Numbers follow one grammar (``values.py``): a plain number, a per-year mapping
``{2021: 0.01, 2022: 0.008}``, a distribution ``{dist: lognormal, median: ..., sd: ...,
min: ..., max: ...}``, or any of these with its source ``{value: 0.035, source: "PARAM:
annual PD, first-time borrower"}``. Every number that describes the economy may carry its
source (not the horizon, the simulation settings, target years or priorities); the engine
uses the number. Policy levers may vary by year but are never uncertain; behavioural and
credit parameters may be uncertain. The keys that take more than a number (annotated
``Yearly[...]`` or ``Uncertain[...]``; ``tests/test_values.py`` checks this table)::

    segments.<name>.pd.mean                          uncertain
    segments.<name>.lgd                              uncertain
    segments.<name>.correlation                      uncertain
    segments.<name>.recovery.lag_months              uncertain
    segments.<name>.lending.count_per_year           uncertain
    segments.<name>.lending.amount_per_year          uncertain
    segments.<name>.lending.growth                   uncertain
    processes.bank.score_noise                       uncertain
    processes.guarantor.score_noise                  uncertain
    processes.guarantor.mandate_loss_rate            uncertain
    processes.demand.<name>.applications_per_year    uncertain
    processes.demand.<name>.growth                   uncertain
    processes.demand.<name>.price_elasticity         uncertain
    processes.demand.<name>.pd_dispersion            uncertain
    parties.<guarantor>.fee_rate                     per year
    parties.<guarantor>.fee_bands[].rate             per year
    parties.<guarantor>.leverage_cap                 per year
    parties.<reguarantor>.fee_rate                   per year
    parties.<reguarantor>.compensation_rate_cap      per year
    parties.<pool>.annual_contribution               per year
    parties.<pool>.max_lending_multiple              per year
    parties.<pool>.npl_circuit_breaker               per year
    schemes.<name>.coverage                          per year
    schemes.<name>.split.<name>                      per year
    policy.lpr                                       per year
    policy.fee_cap.bands[].rate                      per year
    policy.interest_subsidy.share_of_lpr             per year
    policy.interest_subsidy.max_amount_per_firm      per year
    policy.fee_subsidy.rate                          per year
    policy.fee_subsidy.max_fee_rate                  per year

A per-year value gives the value from each year it lists until the next one listed, so
``{2021: 0.01, 2022: 0.008}`` is a fee cut from 2022 kept to the end; its first year must
be the horizon's first year and every year inside the horizon. When a year's value applies:

* contract terms (a guarantor's or re-guarantor's fee, a scheme's coverage and split, an
  interest subsidy's ``max_amount_per_firm``) are fixed when a guarantee is written, so
  they follow the loan's origination year for its whole life; a renewal is a new contract
  and takes the terms of its renewal year; the initial book (written before the horizon)
  takes the first year's;
* everything else (LPR and the interest subsidy's ``share_of_lpr``, the fee subsidy,
  pool contributions, leverage and compensation-rate caps, lending multiples, circuit
  breakers) applies by calendar year, to every loan alive in it;
* the policy fee cap applies to guarantees written in a year: from
  ``policy.fee_cap.from_year`` on (every year when it is null), at that year's rates.

Distributions are parsed and checked (values inside the key's bounds). The engine draws
the kernel-side ones per path (:data:`SIMULATED_DISTRIBUTIONS`: a segment's PD level, LGD,
asset correlation and recovery lag, the lag rounded to whole months) and the lenders'
decision parameters once per book replica (:data:`DECISION_DISTRIBUTIONS`: score noise and
the guarantor's mandate, which that replica's lenders act on); ``engine/parameters.py``,
DESIGN §4. A distribution on any other key is refused with a message naming the issue that
will simulate it (:data:`NOT_SIMULATED`). The institution processes (the lenders) and every
non-random use of a per-path key see its centre (:attr:`~.values.Distribution.centre`): the
lenders do not know the path's state of the world. A sourced plain number is simulated now.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import (
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
    model_validator,
)

from .limits import MAX_GRADE_PD, limit_problems
from .processes import MAX_PROCESSING_MONTHS, Processes
from .types import MAX_MONEY, Frozen, Money, Share, fail, unlike
from .values import (
    Distribution,
    Number,
    PerYear,
    Sourced,
    Uncertain,
    Yearly,
    in_year,
    iter_shapes,
    source_of,
)

Rate = Annotated[float, Field(ge=0.0, le=1.0, json_schema_extra={"unit": "1/year"})]
Months = Annotated[int, Field(ge=0, le=600, json_schema_extra={"unit": "month"})]
Probability = Annotated[float, Field(gt=0.0, lt=1.0, json_schema_extra={"unit": "1/year"})]
Positive = Annotated[float, Field(gt=0.0)]
# a PD's share after seasoning
Seasoning = Annotated[float, Field(gt=0.0, le=1.0, json_schema_extra={"unit": "1"})]
Growth = Annotated[float, Field(gt=-1.0, le=5.0, json_schema_extra={"unit": "1/year"})]
Correlation = Annotated[float, Field(ge=0.0, lt=1.0, json_schema_extra={"unit": "1"})]

FALLBACK_SINKS = ("bank", "unabsorbed")


# --------------------------------------------------------------------------- horizon, macro


class Horizon(Frozen):
    start_year: int = Field(
        ge=1990,
        le=2100,
        description="first calendar year simulated",
        json_schema_extra={"unit": "year"},
    )
    origination_years: int = Field(
        ge=1,
        le=30,
        description="years in which new loans are made",
        json_schema_extra={"unit": "year"},
    )
    runoff_months: Months = Field(
        description="months simulated after the last origination so late loans can default, "
        "be paid out and recover inside the results"
    )

    @property
    def months(self) -> int:
        return self.origination_years * 12 + self.runoff_months

    @property
    def n_years(self) -> int:
        return math.ceil(self.months / 12)


class ImportanceSampling(Frozen):
    """Importance sampling of the credit cycle toward a loss tail (DESIGN §5, engine/tail.py).

    The yearly factor shocks are drawn with a mean shift chosen for the scenario, toward
    the tail of ``party``'s loss over the run (the total of every party's loss when
    omitted); each path carries its likelihood ratio, ``path_weight``, and every metric
    uses it, so the run estimates the same quantities as plain Monte Carlo with far less
    noise in the tail (VaR, ES, the probability of rare losses) and more in the body.
    """

    party: str | None = Field(
        None,
        description="the party whose loss tail to sample (a party of the scenario); the "
        "total loss over every party when omitted",
    )
    level: float = Field(
        0.999,
        ge=0.9,
        le=0.9999,
        description="the tail aimed at: the shift is the mean shock of the draws whose "
        "large-pool loss is beyond this quantile",
        json_schema_extra={"unit": "1"},
    )


class Simulation(Frozen):
    paths: int = Field(
        1000, ge=1, le=10_000_000, description="Monte Carlo paths", json_schema_extra={"unit": "1"}
    )
    seed: int = Field(
        20211231,
        ge=0,
        lt=2**32,
        description="random seed: the same seed gives the same results",
        json_schema_extra={"unit": "1"},
    )
    granularity: Literal["loan", "cohort"] = Field(
        "loan",
        description="loan: one record per loan (or per record_weight loans); cohort: loans "
        "alike in segment, month, grade and size band grouped, defaults drawn per cohort",
    )
    block_size: int = Field(
        256,
        ge=1,
        le=1_000_000,
        description="paths per kernel call",
        json_schema_extra={"unit": "1"},
    )
    cohort_size_bands: list[Money] = Field(
        default=[1e6, 5e6],
        description="upper bounds (CNY) of loan-size bands that split cohorts; "
        "used when granularity is cohort",
    )
    importance_sampling: ImportanceSampling | None = Field(
        None,
        description="sample the credit cycle toward a loss tail ({party: guarantor}; "
        "`run --tail`); every metric then weighs the paths by `path_weight`",
    )


class Macro(Frozen):
    factors: list[str] = Field(
        default=["economy"], min_length=1, description="names of the systematic factors"
    )
    correlation: list[list[Number[float]]] | None = Field(
        None,
        description="correlation matrix of the factors' innovations; identity if omitted",
        json_schema_extra={"unit": "1"},
    )
    persistence: Number[float] = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="AR(1) coefficient phi of each factor, year to year",
        json_schema_extra={"unit": "1"},
    )
    downturn_z: dict[int, Number[float]] = Field(
        default_factory=dict,
        description="calendar year -> shift of every factor towards default, in standard "
        "deviations (positive is worse)",
        json_schema_extra={"unit": "1"},
    )
    pd_multiplier: dict[int, Number[Annotated[float, Field(gt=0.0, le=20.0)]]] = Field(
        default_factory=dict,
        description="calendar year -> multiplier on every segment's PD",
        json_schema_extra={"unit": "1"},
    )
    demand_elasticity: Number[float] = Field(
        0.0,
        ge=0.0,
        le=2.0,
        description="beta: each path's new lending in a segment and year is scaled by "
        "D = exp(beta * x - beta**2 / 2), x the segment's factor of the year (N(0, 1), "
        "low in bad years; the downturn shift is not included), so E[D] = 1 and a "
        "one-s.d. bad year cuts new lending by about 100 * beta percent. Volume- and "
        "process-fed lending alike: the book is built at D at +3.5 s.d. and each path keeps "
        "each loan with probability D / that ceiling. 0 (default): demand does not vary",
        json_schema_extra={"unit": "1"},
    )

    @model_validator(mode="after")
    def _check_correlation(self) -> Macro:
        k = len(self.factors)
        if len(set(self.factors)) != k:
            fail([(("factors",), f"factor names must be unique, got {self.factors}", self.factors)])
        if self.correlation is None:
            return self
        c = self.correlation
        at = ("correlation",)
        if len(c) != k or any(len(row) != k for row in c):
            fail([(at, f"must be a {k}x{k} matrix (one row per factor)", c)])
        for i in range(k):
            if abs(c[i][i] - 1.0) > 1e-12:
                fail([((*at, i, i), "the diagonal must be 1", c[i][i])])
            for j in range(k):
                if abs(c[i][j] - c[j][i]) > 1e-12 or abs(c[i][j]) > 1:
                    fail([((*at, i, j), "must be symmetric with entries in [-1, 1]", c[i][j])])
        import numpy as np

        smallest = float(np.linalg.eigvalsh(np.asarray(c)).min())
        if smallest < -1e-10:
            fail([(at, f"must be positive semi-definite (smallest eigenvalue {smallest:.3g})", c)])
        return self


# --------------------------------------------------------------------------- segments


class Grade(Frozen):
    relative_pd: Number[float] = Field(
        gt=0.0,
        le=50.0,
        description="PD of the grade / segment mean PD",
        json_schema_extra={"unit": "1"},
    )
    weight: Number[float] = Field(
        gt=0.0,
        description="share of the segment's loans in this grade (weights are normalised)",
        json_schema_extra={"unit": "1"},
    )


class ProbabilityOfDefault(Frozen):
    mean: Uncertain[Probability] = Field(description="annual PD, averaged over grades")
    grades: list[Grade] = Field(
        default_factory=lambda: [Grade(relative_pd=1.0, weight=1.0)],
        min_length=1,
        max_length=32,
        description="grade distribution; relative PDs are rescaled so the weighted mean is `mean`",
    )

    @model_validator(mode="after")
    def _weights_sum(self) -> ProbabilityOfDefault:
        """Grade weights are relative: their sum must be a number (1e308 twice is not).

        A grade PD above the cap is a warning (``plausibility``): the cap lowers the mean.
        """
        if not math.isfinite(sum(g.weight for g in self.grades)):
            fail(
                [
                    (
                        ("grades",),
                        "grade weights are relative shares: their sum must be a finite number "
                        "(write them as shares or counts of a sensible size)",
                        [g.weight for g in self.grades],
                    )
                ]
            )
        return self

    def capped_mean(self) -> float | None:
        """The mean PD the engine simulates when the grade cap binds (None when it does not)."""
        pds, weights = self._grade_pds()
        if max(pds) <= MAX_GRADE_PD:
            return None
        return sum(w * min(pd, MAX_GRADE_PD) for w, pd in zip(weights, pds, strict=True))

    def _grade_pds(self) -> tuple[list[float], list[float]]:
        total = sum(g.weight for g in self.grades)
        weights = [g.weight / total for g in self.grades]
        scale = self.mean / sum(
            w * g.relative_pd for w, g in zip(weights, self.grades, strict=True)
        )
        return [g.relative_pd * scale for g in self.grades], weights

    def grade_pds(self) -> tuple[list[float], list[float]]:
        """Annual PD and share of each grade, with the weighted mean equal to ``mean``."""
        pds, weights = self._grade_pds()
        return [min(pd, MAX_GRADE_PD) for pd in pds], weights


class BaselSME(Frozen):
    basel_sme: Literal[True] = Field(
        True, description="the Basel SME correlation formula from the segment's PD and sales"
    )
    sales_eur_m: Number[float] = Field(
        5.0,
        gt=0.0,
        le=1e6,  # EUR 1 trillion, more than any firm's sales; Basel reads anything above 50 as 50
        description="annual sales in EUR m as Basel defines them (bounded to 5-50)",
        json_schema_extra={"unit": "EUR m"},
    )


def _correlation_form(value) -> str:
    """A segment's correlation is a number (of any shape) or ``{basel_sme: true, ...}``."""
    basel = isinstance(value, BaselSME) or (isinstance(value, dict) and "basel_sme" in value)
    return "BaselSME" if basel else "number"


class RecoveryProfile(Frozen):
    lag_months: Uncertain[Months] = Field(
        12,
        description="months from the payout to the first recovery; a distribution is drawn "
        "per path and rounded to the nearest month (halves up)",
    )
    spread_months: Number[int] = Field(
        24,
        ge=1,
        le=240,
        description="recoveries arrive evenly over this many months",
        json_schema_extra={"unit": "month"},
    )


class LoanSize(Frozen):
    median: Number[float] = Field(
        gt=0.0,
        le=MAX_MONEY,
        description="median loan amount, CNY",
        json_schema_extra={"unit": "CNY"},
    )
    sigma: Number[float] = Field(
        0.8,
        ge=0.0,
        le=3.0,
        description="lognormal shape (sd of log amount)",
        json_schema_extra={"unit": "1"},
    )
    cap: Number[float] | None = Field(
        10e6,
        gt=0.0,
        le=MAX_MONEY,
        description="largest amount, CNY (10 m for 普惠 loans); null for none",
        json_schema_extra={"unit": "CNY"},
    )


class Lending(Frozen):
    count_per_year: Uncertain[Positive] | None = Field(
        None, description="new loans per year", json_schema_extra={"unit": "1/year"}
    )
    amount_per_year: Uncertain[Positive] | None = Field(
        None, description="new lending per year, CNY", json_schema_extra={"unit": "CNY/year"}
    )
    growth: Uncertain[Growth] = Field(0.0, description="yearly growth of volumes")

    @model_validator(mode="after")
    def _count_or_amount(self) -> Lending:
        if self.count_per_year is None and self.amount_per_year is None:
            fail([(("count_per_year",), "give count_per_year, amount_per_year or both", None)])
        return self


class InitialBook(Frozen):
    outstanding_amount: Number[Money] = Field(description="balance outstanding at the start, CNY")
    remaining_tenor_months: Number[int] = Field(
        ge=1,
        le=240,
        description="maturities spread evenly over 1..this many months",
        json_schema_extra={"unit": "month"},
    )


class Renewal(Frozen):
    rate: Number[Share] = Field(
        description="share of maturing performing loans renewed (无还本续贷)"
    )
    into: str | None = Field(
        None, description="segment the renewed loans belong to (default: the same segment)"
    )
    seasoning: Number[Seasoning] = Field(
        1.0,
        description="seasoning: a firm's PD from its second loan on (its first renewal) as "
        "a share of its PD at its first loan, e.g. an existing borrower's PD over a "
        "first-time borrower's; 1: it keeps its PD (later renewals always keep it); the "
        "bank's renewal screening prices it",
    )


class Segment(Frozen):
    label: str = Field("", description="name shown in tables, figures and briefs (zh or en)")
    tags: list[str] = Field(
        default_factory=list, description="tags targets and subsidies select segments by"
    )
    pd: ProbabilityOfDefault
    lgd: Uncertain[Share] = Field(description="loss given default, share of exposure at default")
    recovery: RecoveryProfile = RecoveryProfile()
    correlation: Annotated[
        Annotated[Uncertain[Correlation], Tag("number")] | Annotated[BaselSME, Tag("BaselSME")],
        Discriminator(_correlation_form),
    ] = Field(0.10, description="asset correlation, or {basel_sme: true, sales_eur_m: S}")
    loadings: dict[str, Number[float]] | None = Field(
        None,
        description="factor -> loading; normalised to unit variance; default first factor",
        json_schema_extra={"unit": "1"},
    )
    loan_size: LoanSize
    tenor_months: Number[int] = Field(
        12, ge=1, le=120, description="loan term", json_schema_extra={"unit": "month"}
    )
    lending: Lending | None = Field(
        None, description="new lending from volumes; omit for a segment fed only by renewals"
    )
    initial_book: InitialBook | None = None
    renewal: Renewal | None = None
    scheme: str = Field(description="name of the scheme that shares this segment's losses")
    guarantee_priority: int = Field(
        0,
        ge=0,
        description="rationing order when capacity is short (lower is served first; "
        "used only when policy.rationing is 'priority')",
        json_schema_extra={"unit": "1"},
    )


# --------------------------------------------------------------------------- parties


class FeeBand(Frozen):
    max_amount: Number[float] | None = Field(
        None,
        gt=0.0,
        le=MAX_MONEY,
        description="upper bound of the band (CNY per borrower); null = no bound",
        json_schema_extra={"unit": "CNY"},
    )
    rate: Yearly[Rate] = Field(description="fee, share of the guaranteed amount per year")


class LiabilityWeight(Frozen):
    max_amount: Number[float] | None = Field(
        None,
        gt=0.0,
        le=MAX_MONEY,
        description="upper bound of the band (CNY per borrower); null = any",
        json_schema_extra={"unit": "CNY"},
    )
    weight: Number[Share] = Field(description="weight of the guarantees in this band")


Fallback = str  # a party name, "bank" or "unabsorbed"; checked against the parties
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9_]*$")


class PartyBase(Frozen):
    label: str = Field("", description="name shown in tables, figures and briefs (zh or en)")
    public: bool = Field(False, description="owned by government; its losses are public losses")

    @property
    def payout_lag(self) -> int:
        """Months from a default to this party's payout (the bank writes off at once)."""
        return getattr(self, "claim_lag_months", getattr(self, "lag_months", 0))


class Bank(PartyBase):
    kind: Literal["bank"] = Field(description="a lender: keeps what it does not pass on")


class Guarantor(PartyBase):
    kind: Literal["guarantor"] = Field(description="a guarantee company (融资担保机构)")
    policy: bool = Field(True, description="政府性融资担保: bound by the policy fee cap")
    count: Number[int] = Field(
        1,
        ge=1,
        le=100_000,
        description="identical guarantors sharing the book",
        json_schema_extra={"unit": "1"},
    )
    net_assets: Number[Money] = Field(description="net assets of ONE guarantor at the start, CNY")
    leverage_cap: Yearly[float] = Field(
        10.0,
        gt=0.0,
        le=100.0,
        description="max liability / net assets",
        json_schema_extra={"unit": "1"},
    )
    liability_weights: list[LiabilityWeight] = Field(
        default_factory=lambda: [
            LiabilityWeight(max_amount=5e6, weight=0.75),
            LiabilityWeight(max_amount=None, weight=1.0),
        ],
        description="weights of the 2018 measurement rules by loan size",
    )
    fee_rate: Yearly[Rate] | None = Field(None, description="one fee for all loan sizes")
    fee_bands: list[FeeBand] | None = Field(None, description="fees by loan-size band")
    claim_lag_months: Number[Months] = Field(2, description="months from a default to the payout")
    operating_cost_rate: Number[Rate] = Field(
        0.005, description="operating cost, share of guarantees outstanding per year"
    )
    unearned_fee_reserve: Number[Share] = Field(
        0.5, description="share of the year's fee income held"
    )
    compensation_reserve_rate: Number[Share] = Field(
        0.01, description="added each year, share of year-end guarantee balance"
    )
    compensation_reserve_cap: Number[Share] = Field(
        0.10, description="compensation reserve stops growing at this share of the balance"
    )
    initial_outstanding: Number[Money] = Field(
        0.0,
        description="guarantees of ONE guarantor outside the modelled segments at the "
        "start (count towards leverage, run off linearly, not loss-modelled), CNY",
    )
    initial_runoff_months: Number[int] = Field(
        12,
        ge=1,
        le=240,
        description="the initial guarantees run off linearly over this many months",
        json_schema_extra={"unit": "month"},
    )
    capital_injections: dict[int, Number[Money]] = Field(
        default_factory=dict, description="calendar year -> injection into ALL guarantors, CNY"
    )
    fallback: Fallback = Field("bank", description="who takes its share when it is insolvent")

    @model_validator(mode="after")
    def _one_fee(self) -> Guarantor:
        if (self.fee_rate is None) == (self.fee_bands is None):
            fail(
                [
                    (
                        ("fee_bands" if self.fee_bands is not None else "fee_rate",),
                        "give exactly one of fee_rate and fee_bands",
                        self.fee_rate,
                    )
                ]
            )
        if self.fee_bands is not None:
            _check_bands([b.max_amount for b in self.fee_bands], "fee_bands")
        _check_bands([w.max_amount for w in self.liability_weights], "liability_weights")
        return self

    def bands(self) -> list[FeeBand]:
        if self.fee_bands is not None:
            return list(self.fee_bands)
        return [FeeBand(max_amount=None, rate=self.fee_rate)]

    def fee_for(self, amount: float, year: int) -> float:
        """Fee rate (per year) on a guarantee of ``amount`` CNY written in ``year``."""
        return in_year(_band_of(self.bands(), amount).rate, year)

    def liability_weight_for(self, amount: float) -> float:
        """Weight of a guarantee of ``amount`` CNY in the leverage measure (2018 rules)."""
        return _band_of(self.liability_weights, amount).weight


class Reguarantor(PartyBase):
    kind: Literal["reguarantor"] = Field(
        description="a re-guarantor (provincial group, National Financing Guarantee Fund)"
    )
    net_assets: Number[Money] = Field(0.0, description="net assets at the start, CNY")
    fee_rate: Yearly[Rate] = Field(0.005, description="fee per year on the risk it bears")
    compensation_rate_cap: Yearly[Rate] | None = Field(
        0.04,
        description="stops sharing once this year's compensation rate (on "
        "compensation_rate_basis) reaches this; null for no cap",
    )
    compensation_rate_basis: Literal["defaults_over_balance", "payouts_over_released"] = Field(
        "defaults_over_balance",
        description="defaults_over_balance: covered defaults this year / covered balance at "
        "the start of the year or the highest since (100% of each loan); "
        "payouts_over_released (监管口径 代偿率): the exposure it compensates this year / "
        "covered guarantees released this year (matured, renewed into a new contract or "
        "defaulted), both at its own share (coverage x proportion of each loan); the "
        "selected basis drives the cap and is what compensation_rate reports",
    )
    lag_months: Number[Months] = Field(3, description="months from a default to its reimbursement")
    fallback: Fallback = Field("guarantor", description="who takes its share above the cap")


class Pool(PartyBase):
    kind: Literal["pool"] = Field(description="a government risk-compensation pool")
    public: bool = Field(True, description="owned by government (a pool is, by default)")
    initial_balance: Number[Money] = Field(description="balance at the start, CNY")
    annual_contribution: Yearly[Money] = Field(
        0.0, description="budget top-up each origination year"
    )
    eligible_segments: list[str] | None = Field(
        None, description="segments it covers; default all whose scheme names it"
    )
    max_lending_multiple: Yearly[float] | None = Field(
        None,
        gt=0.0,
        description="eligible balance outstanding <= this x pool balance; null for no limit",
        json_schema_extra={"unit": "1"},
    )
    npl_circuit_breaker: Yearly[Rate] | None = Field(
        None,
        description="stops taking shares while eligible loans' NPL rate is above this; "
        "null for none",
    )
    lag_months: Number[Months] = Field(3, description="months from a default to the pool's payout")
    fallback: Fallback = Field("bank", description="who takes its share when it cannot pay")


Party = Annotated[Bank | Guarantor | Reguarantor | Pool, Field(discriminator="kind")]


def _band_of(bands, amount: float):
    """The first band whose max_amount is at least ``amount`` (the last is unbounded)."""
    return next(b for b in bands if b.max_amount is None or amount <= b.max_amount)


def _check_bands(bounds: list[float | None], name: str) -> None:
    finite = [b for b in bounds if b is not None]
    if (
        finite != sorted(finite)
        or len(set(finite)) != len(finite)
        or bounds[-1] is not None
        or bounds.count(None) != 1
    ):
        fail(
            [
                (
                    (name,),
                    "bands must be in increasing order of max_amount, the last one "
                    "unbounded (max_amount: null)",
                    bounds,
                )
            ]
        )


# --------------------------------------------------------------------------- schemes, policy


class Scheme(Frozen):
    label: str = Field("", description="name shown in tables, figures and briefs (zh or en)")
    coverage: Yearly[Share] = Field(description="share of each loan's loss the bank passes on")
    split: dict[str, Yearly[Annotated[float, Field(ge=0.0)]]] = Field(
        default_factory=dict,
        description="party -> proportion of the covered part",
        json_schema_extra={"unit": "1"},
    )

    @model_validator(mode="after")
    def _split_sums_to_one(self) -> Scheme:
        """In every year a value changes, the proportions sum to 1 where coverage is > 0."""
        changes = sorted({y for v in (self.coverage, *self.split.values()) for y in _years_of(v)})
        for year in changes or [0]:  # no per-year value: any year
            total = sum(in_year(v, year) for v in self.split.values())
            if in_year(self.coverage, year) > 0 and abs(total - 1.0) > 1e-9:
                where = f" in {year}" if changes else ""
                fail(
                    [
                        (
                            ("split",),
                            f"proportions must sum to 1{where}, got {unlike(total, 1.0)}",
                            self.split,
                        )
                    ]
                )
        return self

    def at(self, year: int) -> tuple[float, dict[str, float]]:
        """Coverage and split of guarantees written in ``year``."""
        return in_year(self.coverage, year), {n: in_year(v, year) for n, v in self.split.items()}


class FeeCap(Frozen):
    enabled: bool = Field(
        True, description="the 2019 rule (国办发〔2019〕6号); switch off for earlier regimes"
    )
    from_year: int | None = Field(
        None,
        ge=1990,
        le=2100,
        description="first year whose new guarantees it caps (e.g. 2019, or a year inside "
        "the horizon for the cap switching on mid-horizon); null: every year",
        json_schema_extra={"unit": "year"},
    )
    bands: list[FeeBand] = Field(
        default_factory=lambda: [FeeBand(max_amount=5e6, rate=0.01), FeeBand(rate=0.015)]
    )

    @model_validator(mode="after")
    def _ordered(self) -> FeeCap:
        _check_bands([b.max_amount for b in self.bands], "bands")
        return self

    def applies_in(self, year: int) -> bool:
        """Whether it caps the fees of guarantees written in ``year``."""
        return self.enabled and (self.from_year is None or year >= self.from_year)


class InterestSubsidy(Frozen):
    share_of_lpr: Yearly[Share] = Field(description="budget pays this share of the LPR")
    max_amount_per_firm: Yearly[Money] = Field(description="on at most this much of each loan, CNY")
    tags: list[str] = Field(description="segments with any of these tags are eligible")


class FeeSubsidy(Frozen):
    rate: Yearly[Rate] = Field(
        description="budget pays this share of the guaranteed loan amount per year"
    )
    max_fee_rate: Yearly[Rate] = Field(
        0.01, description="only on guarantees with a fee at most this"
    )
    paid_to: Literal["guarantor", "borrower"] = Field(
        "guarantor",
        description="guarantor (降费奖补): borrowers pay the stated fee, the guarantor "
        "earns fee + subsidy; borrower: the borrowers' all-in price falls by the subsidy, "
        "the guarantor earns the fee only",
    )


class Policy(Frozen):
    lpr: Yearly[Rate] = Field(0.0385, description="loan prime rate, per year")
    fee_cap: FeeCap = FeeCap()
    interest_subsidy: InterestSubsidy | None = None
    fee_subsidy: FeeSubsidy | None = None
    rationing: Literal["pro_rata", "priority"] = Field(
        "pro_rata",
        description="when guarantee capacity is short: pro_rata cuts every segment alike; "
        "priority serves segments by guarantee_priority",
    )
    discount_rate: Number[Rate] = Field(
        0.026,
        description="rate per year at which yearly flows are discounted to the start of the "
        "first year (mid-year convention) for present values of public cost, fiscal cost and "
        "break-even fees; default: the 10-year government bond yield, about 2.6% at end-2023 "
        "(PARAMETERS.md, 'discount rate for present values (public cost)': ChinaBond curve, "
        "plausible 1.5-3.5%)",
    )


#: what a target counts, in the segments carrying its tags (DESIGN §5)
TARGET_METRICS = {
    "loans_count": "loans booked in the segments, renewals included",
    "loans_amount": "CNY of loans booked in the segments, renewals included",
    "outstanding_amount": "year-end balance of the segments (a stock)",
    "borrowers": "firms counted once, at their first loan in the run (renewals excluded)",
    "cohort_loans_count": "loans to firms whose first loan is in the segments, their "
    "renewals included wherever they are booked",
    "cohort_loans_amount": "CNY of loans to firms whose first loan is in the segments, "
    "their renewals included wherever they are booked",
}


class Target(Frozen):
    """A plan target and the count it uses.

    ``borrowers`` counts a firm once, at its first loan (a 户 target such as 新增首贷户);
    the ``cohort_`` metrics follow the firms of the segments' first loans through their
    renewals, also those booked ``into`` another segment (a cumulative-lending target such
    as 累计对首贷户发放贷款); ``loans_count`` / ``loans_amount`` count what is booked in
    the segments, whoever borrows.
    """

    label: str = Field("", description="the plan's wording of the target (zh or en)")
    metric: Literal[
        "loans_count",
        "loans_amount",
        "outstanding_amount",
        "borrowers",
        "cohort_loans_count",
        "cohort_loans_amount",
    ] = Field(
        description="what the target counts: "
        + "; ".join(f"{k}: {v}" for k, v in TARGET_METRICS.items())
    )
    tags: list[str] = Field(
        default_factory=list, description="count segments carrying all of these tags"
    )
    kind: Literal["flow", "stock"] = Field(
        description="flow: summed over the period; stock: year-end value in the last year"
    )
    from_year: int = Field(
        description="first year of the target's period", json_schema_extra={"unit": "year"}
    )
    to_year: int = Field(
        description="last year of the target's period", json_schema_extra={"unit": "year"}
    )
    value: Number[float] = Field(
        gt=0.0,
        le=MAX_MONEY,
        description="loans, borrowers or CNY to reach; at most 1e15 (no plan's is near it)",
        json_schema_extra={"unit": "1 or CNY (as metric)"},
    )

    @model_validator(mode="after")
    def _period(self) -> Target:
        if self.to_year < self.from_year:
            fail([(("to_year",), f"must not be before from_year {self.from_year}", self.to_year)])
        stock = self.metric == "outstanding_amount"
        if stock != (self.kind == "stock"):
            wanted = "stock" if stock else "flow"
            fail(
                [(("kind",), f"metric {self.metric} is a {wanted}: set kind: {wanted}", self.kind)]
            )
        return self


# --------------------------------------------------------------------------- scenario


class Scenario(Frozen):
    name: str = Field(
        pattern=r"^[a-z0-9_\-]+$", description="short id: results/<name>.nc, tables, briefs"
    )
    label: str = Field("", description="title of the scenario in tables and briefs (zh or en)")
    description: str = Field("", description="what the scenario represents, for the brief")
    sources: list[str] = Field(default_factory=list, description="seed files and references")
    horizon: Horizon
    simulation: Simulation = Simulation()
    macro: Macro = Macro()
    segments: dict[str, Segment] = Field(min_length=1)
    parties: dict[str, Party] = Field(min_length=1)
    schemes: dict[str, Scheme] = Field(min_length=1)
    policy: Policy = Policy()
    targets: dict[str, Target] = Field(default_factory=dict)
    lending_source: Literal["volumes", "processes"] = Field(
        "volumes",
        description="volumes: segments' `lending`; processes: the SimPy "
        "institutions decide lending for the segments in `processes.demand`",
    )
    processes: Processes | None = None
    # sources written as tagged comments in the file (config/sources.py), set by
    # load_scenario; keys changed by an override are left out
    _comment_sources: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("segments", "parties", "schemes", "targets", mode="before")
    @classmethod
    def _snake_case_keys(cls, value, info):
        if isinstance(value, dict):
            fail(
                [
                    ((key,), f"key {key!r} must be snake_case ASCII (put Chinese in `label`)", key)
                    for key in value
                    if not SNAKE_CASE.match(str(key))
                ]
            )
        return value

    @model_validator(mode="after")
    def _cross_references(self) -> Scenario:
        problems = [*_reference_problems(self), *_value_problems(self)]
        # what the engine could not simulate, once the scenario is consistent
        fail(problems or list(limit_problems(self)))
        return self

    def value_sources(self) -> dict[str, str]:
        """Dotted key -> source: every value given as ``{value: ..., source: ...}``, and
        every key the file's comments tag (``# PARAM: ...``, config/sources.py)."""
        given = {
            ".".join(map(str, loc)): source
            for loc, value in iter_shapes(self)
            if (source := source_of(value)) is not None
        }
        return {**self._comment_sources, **given}

    # convenience views used by the engine
    @property
    def years(self) -> list[int]:
        return [self.horizon.start_year + i for i in range(self.horizon.n_years)]

    @property
    def origination_years(self) -> list[int]:
        """Years in which guarantees are written: the contract years."""
        return self.years[: self.horizon.origination_years]

    def as_of(self, year: int) -> Scenario:
        """This scenario with every per-year value replaced by its value in ``year``
        (for views that quote one number per key, e.g. the first year's terms)."""
        return _resolve(self, year)

    def process_fed_segments(self) -> set[str]:
        """Segments whose lending the processes decide (applied for, or routed to)."""
        if self.lending_source != "processes" or self.processes is None:
            return set()
        demand = self.processes.demand
        return set(demand) | {d.routes_to for d in demand.values() if d.routes_to}


def _reference_problems(s: Scenario):
    """Problems that span sections, each as (location, message, offending value).

    The checks run in the order of the file's sections, so the first problem reported is the
    first one a reader meets.
    """
    kinds = {name: p.kind for name, p in s.parties.items()}
    yield from _party_name_problems(kinds)
    yield from _macro_year_problems(s)
    for seg_name, seg in s.segments.items():
        yield from _segment_problems(s, seg_name, seg)
    yield from _scheme_problems(s, kinds)
    yield from _party_problems(s, kinds)
    yield from _subsidy_problems(s)
    yield from _process_problems(s, kinds)
    yield from _fallback_cycle_problems(s)
    yield from _target_problems(s)
    yield from _tail_problems(s)


def _horizon_span(s: Scenario) -> str:
    return f"{s.years[0]}-{s.years[-1]}"


def _segment_tags(s: Scenario) -> list[str]:
    return sorted({t for seg in s.segments.values() for t in seg.tags})


def _party_name_problems(kinds: dict):
    if "bank" not in kinds:
        yield (
            ("parties",),
            "there must be exactly one bank, named 'bank' (kind: bank)",
            sorted(kinds),
        )
    for name, kind in kinds.items():
        if kind == "bank" and name != "bank":
            yield ("parties", name), "the bank party must be named 'bank'", name
    if "unabsorbed" in kinds:
        yield (
            ("parties", "unabsorbed"),
            "'unabsorbed' is reserved for what no party could pay; choose another name",
            "unabsorbed",
        )


def _macro_year_problems(s: Scenario):
    for field, mapping in (
        ("downturn_z", s.macro.downturn_z),
        ("pd_multiplier", s.macro.pd_multiplier),
    ):
        for y in mapping:
            if y not in s.years:
                yield ("macro", field, y), f"year {y} is outside the horizon {_horizon_span(s)}", y


def _segment_problems(s: Scenario, seg_name: str, seg: Segment):
    at: tuple[str, ...] = ("segments", seg_name)
    if seg.scheme not in s.schemes:
        yield (
            (*at, "scheme"),
            f"unknown scheme {seg.scheme!r} (allowed: {sorted(s.schemes)})",
            seg.scheme,
        )
    for f in seg.loadings or {}:
        if f not in s.macro.factors:
            yield (
                (*at, "loadings", f),
                f"unknown factor {f!r} (allowed: {s.macro.factors})",
                f,
            )
    if seg.loadings is not None and all(v == 0 for v in seg.loadings.values()):
        yield (*at, "loadings"), "at least one loading must be non-zero", seg.loadings
    into = seg.renewal.into if seg.renewal is not None else None
    if into is not None and into not in s.segments:
        yield (
            (*at, "renewal", "into"),
            f"unknown segment {into!r} (allowed: {sorted(s.segments)})",
            into,
        )
    fed_by_processes = seg_name in s.process_fed_segments()
    renewed_into = any(
        o.renewal is not None and (o.renewal.into or n) == seg_name for n, o in s.segments.items()
    )
    fed = (
        seg.lending is not None or seg.initial_book is not None or fed_by_processes or renewed_into
    )
    if not fed:
        yield (
            at,
            "nothing feeds this segment: give lending, an initial_book, "
            "renewals into it, or processes.demand",
            seg_name,
        )
    life = max(seg.tenor_months, seg.initial_book.remaining_tenor_months if seg.initial_book else 0)
    # a drawn recovery lag counts at the top of its support: every path must recover inside
    longest = life + _max_lag(s) + _longest(seg.recovery.lag_months) + seg.recovery.spread_months
    if s.horizon.runoff_months < longest:
        yield (
            ("horizon", "runoff_months"),
            f"{s.horizon.runoff_months} months is too "
            f"short for segment {seg_name!r}: its last loans need life + payout lag + "
            f"recovery lag + spread = {longest} months to default and recover inside "
            f"the results (allowed: >= {longest})",
            s.horizon.runoff_months,
        )


def _scheme_problems(s: Scenario, kinds: dict):
    for sch_name, sch in s.schemes.items():
        at = ("schemes", sch_name, "split")
        for party in sch.split:
            if party not in kinds:
                yield (*at, party), f"unknown party {party!r} (allowed: {sorted(kinds)})", party
            elif kinds[party] == "bank":
                yield (*at, party), "the bank keeps 1 - coverage; do not list it", party
        guarantors = [p for p in sch.split if kinds.get(p) == "guarantor"]
        if len(guarantors) > 1:
            yield at, f"at most one guarantor per scheme, got {guarantors}", guarantors
        reg = [p for p in sch.split if kinds.get(p) == "reguarantor"]
        if reg and not guarantors:
            yield at, f"re-guarantors {reg} need a guarantor in the scheme", reg


def _party_problems(s: Scenario, kinds: dict):
    for name, p in s.parties.items():
        fb = getattr(p, "fallback", None)
        if fb is not None and fb not in kinds and fb not in FALLBACK_SINKS:
            yield (
                ("parties", name, p.kind, "fallback"),
                f"unknown party {fb!r} (allowed: {[*sorted(kinds), 'unabsorbed']})",
                fb,
            )
        if p.kind == "bank" and p.public:
            yield (
                ("parties", name, p.kind, "public"),
                "the bank is the private lender: public cost counts what the public sector "
                "pays it (allowed: false)",
                True,
            )
        if p.kind == "pool" and not p.public:
            yield (
                ("parties", name, p.kind, "public"),
                "a risk-compensation pool is budget money and always public (allowed: true)",
                False,
            )
        if p.kind == "pool" and p.eligible_segments is not None:
            for i, eligible in enumerate(p.eligible_segments):
                if eligible not in s.segments:
                    yield (
                        ("parties", name, p.kind, "eligible_segments", i),
                        f"unknown segment {eligible!r} (allowed: {sorted(s.segments)})",
                        eligible,
                    )
        if p.kind == "guarantor":
            yield from _fee_cap_problems(name, p, s)
            for y in p.capital_injections:
                if y not in s.years:
                    yield (
                        ("parties", name, p.kind, "capital_injections", y),
                        f"year {y} is outside the horizon {_horizon_span(s)}",
                        y,
                    )


def _subsidy_problems(s: Scenario):
    subsidy = s.policy.interest_subsidy
    if subsidy is None:
        return
    all_tags = _segment_tags(s)
    for i, tag in enumerate(subsidy.tags):
        if tag not in all_tags:
            yield (
                ("policy", "interest_subsidy", "tags", i),
                f"no segment carries tag {tag!r} (allowed: {all_tags})",
                tag,
            )


def _fallback_cycle_problems(s: Scenario):
    cycle = _fallback_cycle(s)
    if cycle:
        first = s.parties[cycle[0]]
        yield (
            ("parties", cycle[0], first.kind, "fallback"),
            f"fallbacks form a cycle: {' -> '.join(cycle)}",
            getattr(first, "fallback", None),
        )


def _tail_problems(s: Scenario):
    tail = s.simulation.importance_sampling
    if tail is not None and tail.party is not None and tail.party not in s.parties:
        yield (
            ("simulation", "importance_sampling", "party"),
            f"unknown party {tail.party!r} (allowed: {sorted(s.parties)}, or omit it for "
            "the total loss)",
            tail.party,
        )


def _target_problems(s: Scenario):
    for t_name, t in s.targets.items():
        for field in ("from_year", "to_year"):
            year = getattr(t, field)
            if year not in s.years:
                yield (
                    ("targets", t_name, field),
                    f"year {year} is outside the horizon {_horizon_span(s)}",
                    year,
                )
        chosen = [n for n, seg in s.segments.items() if set(t.tags) <= set(seg.tags)]
        if not chosen:
            yield (
                ("targets", t_name, "tags"),
                f"no segment carries all of {t.tags} (tags in use: {_segment_tags(s)})",
                t.tags,
            )
        elif t.metric in ("borrowers", "cohort_loans_count", "cohort_loans_amount"):
            yield from _first_loan_problems(s, t_name, t, chosen)


def _first_loan_problems(s: Scenario, t_name: str, t: Target, chosen: list[str]):
    """A firm-based metric needs first loans in the segments it counts: segments fed only
    by renewals from elsewhere have none (their firms belong to another cohort)."""
    fed = s.process_fed_segments()
    first = [
        n
        for n in chosen
        if s.segments[n].lending is not None
        or n in fed
        or (t.metric != "borrowers" and s.segments[n].initial_book is not None)
    ]
    if not first:
        kind = "new first loans" if t.metric == "borrowers" else "first loans or an initial book"
        yield (
            ("targets", t_name, "metric"),
            f"{t.metric} counts firms by the segment of their first loan, and no segment "
            f"carrying {t.tags} ({chosen}) has {kind}: they take only renewals from other "
            "segments, whose firms count in their own segments' cohorts (allowed here: "
            "loans_count, loans_amount, outstanding_amount)",
            t.metric,
        )


def _process_problems(s: Scenario, kinds: dict):
    if s.lending_source == "processes" and s.processes is None:
        yield (
            ("lending_source",),
            "is 'processes' but there is no processes section",
            s.lending_source,
        )
    if s.processes is None:
        return
    pr = s.processes
    for name, demand in pr.demand.items():
        if name not in s.segments:
            yield (
                ("processes", "demand", name),
                f"unknown segment (allowed: {sorted(s.segments)})",
                name,
            )
        if demand.routes_to is not None and demand.routes_to not in s.segments:
            yield (
                ("processes", "demand", name, "routes_to"),
                f"unknown segment {demand.routes_to!r} (allowed: {sorted(s.segments)})",
                demand.routes_to,
            )
    for name in sorted(s.process_fed_segments() & set(s.segments)):
        seg = s.segments[name]
        for key in ("lending", "initial_book"):
            if getattr(seg, key) is not None:
                yield (
                    ("segments", name, key),
                    "the processes decide this segment's lending "
                    f"(processes.demand); remove {key} or the demand",
                    key,
                )
    yield from _office_problems(s)
    for section in ("guarantor", "claims"):
        proc = getattr(pr, section)
        if proc is not None and kinds.get(proc.party) != "guarantor":
            guarantors = [n for n, k in kinds.items() if k == "guarantor"]
            yield (
                ("processes", section, "party"),
                f"{proc.party!r} is not a guarantor (allowed: {guarantors})",
                proc.party,
            )


def _office_problems(s: Scenario):
    """Offices reserved for a segment name a segment of the scenario."""
    assert s.processes is not None
    for section in ("bank", "guarantor"):
        staff = getattr(s.processes, section)
        for name in (staff.segment_offices or {}) if staff is not None else {}:
            if name not in s.segments:
                yield (
                    ("processes", section, "segment_offices", name),
                    f"unknown segment (allowed: {sorted(s.segments)})",
                    name,
                )


#: shapes the schema accepts but the engine does not simulate yet, and the issue that will
NOT_SIMULATED = {
    Distribution: "a distribution is recognised for this key but not simulated yet (issue "
    "'Uncertainty that reaches the targets'); give one number",
}


#: the lenders' decision parameters: drawn once per book replica, not per path
DECISION_DISTRIBUTIONS = (
    ("processes", "bank", "score_noise"),
    ("processes", "guarantor", "score_noise"),
    ("processes", "guarantor", "mandate_loss_rate"),
)

#: keys whose distributions the engine draws (``location`` patterns, ``*`` a segment): per
#: path, and the decision parameters per book replica
SIMULATED_DISTRIBUTIONS = (
    ("segments", "*", "pd", "mean"),
    ("segments", "*", "lgd"),
    ("segments", "*", "correlation"),
    ("segments", "*", "recovery", "lag_months"),
    *DECISION_DISTRIBUTIONS,
)


def is_simulated_distribution(loc: tuple) -> bool:
    """Whether a distribution at ``loc`` (a key's location) is drawn by the engine."""
    return any(
        len(loc) == len(p) and all(w in ("*", k) for w, k in zip(p, loc, strict=True))
        for p in SIMULATED_DISTRIBUTIONS
    )


def _value_problems(s: Scenario):
    """Per-year values name years of the horizon, starting with its first; shapes not
    simulated yet are refused."""
    years = s.years
    for loc, value in iter_shapes(s):
        sourced = isinstance(value, Sourced)
        inner = value.value if sourced else value
        if isinstance(inner, PerYear):
            at = (*loc, "value") if sourced else loc
            span = f"{years[0]}-{years[-1]}"
            for year in inner.years:
                if year not in years:
                    yield (*at, year), f"year {year} is outside the horizon {span}", year
            first = inner.years[0]
            if first > years[0] and first in years:
                yield (
                    (*at, first),
                    f"a per-year value must start at the horizon's first year {years[0]} "
                    "(each year's value holds until the next year given; allowed: add "
                    f"{years[0]}: <value>)",
                    inner.to_data(),
                )
        if type(inner) in NOT_SIMULATED and not (
            isinstance(inner, Distribution) and is_simulated_distribution(loc)
        ):
            yield loc, NOT_SIMULATED[type(inner)], value.to_data()


def _years_of(value) -> list[int]:
    """The years a per-year value (plain or sourced) lists; none for a number."""
    inner = value.value if isinstance(value, Sourced) else value
    return inner.years if isinstance(inner, PerYear) else []


def _resolve(value, year: int):
    """``value`` with every per-year value inside it replaced by its value in ``year``."""
    if isinstance(value, (PerYear, Sourced)) and not isinstance(
        getattr(value, "value", None), Distribution
    ):
        return in_year(value, year)
    if isinstance(value, Frozen):
        update = {n: _resolve(getattr(value, n), year) for n in type(value).model_fields}
        return value.model_copy(update=update)
    if isinstance(value, dict):
        return {k: _resolve(v, year) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, year) for v in value]
    return value


def _longest(value) -> int:
    """The largest number of months a lag may take: a distribution's ``max`` (a bounded key's
    distribution always has one; draws are clipped to it, then rounded to whole months)."""
    inner = value.value if isinstance(value, Sourced) else value
    if isinstance(inner, Distribution):
        assert inner.max is not None  # values.py: a key bounded above needs max
        return int(inner.max)
    return int(value)


def _max_lag(s: Scenario) -> int:
    """Longest lag from a default to a party's payout (every lag counts from the default)."""
    processing = MAX_PROCESSING_MONTHS if s.processes and s.processes.claims else 0
    return max(p.payout_lag for p in s.parties.values()) + processing


def _fee_cap_problems(name: str, g: Guarantor, s: Scenario):
    """A policy guarantor's fee in a loan-size band may not exceed the lowest cap it overlaps,
    in each year whose new guarantees the cap applies to (the fee and the cap of that year).

    One problem per band: the first year it exceeds the cap.
    """
    cap = s.policy.fee_cap
    if not g.policy:
        return
    years = [y for y in s.origination_years if cap.applies_in(y)]
    lower = 0.0
    for i, band in enumerate(g.bands()):
        upper = math.inf if band.max_amount is None else band.max_amount
        for year in years:
            binding = _binding_cap(cap, lower, upper, year)
            fee = in_year(band.rate, year)
            if binding is None or fee <= binding[0] + 1e-12:
                continue
            at: tuple = (
                ("parties", name, g.kind, "fee_rate")
                if g.fee_rate is not None
                else ("parties", name, g.kind, "fee_bands", i, "rate")
            )
            given = [y for y in _years_of(band.rate) if y <= year]
            if given:  # a per-year fee: point at the entry in force that year
                at = (*at, *(("value",) if isinstance(band.rate, Sourced) else ()), given[-1])
            since = "" if cap.from_year is None else f" in force from {cap.from_year}"
            yield (
                at,
                f"fee {unlike(fee, binding[0])} on guarantees written in {year} up to "
                f"{_fmt_amount(upper)} CNY exceeds the policy fee cap {binding[0]:g}{since} "
                f"for guarantees up to {_fmt_amount(binding[1])} CNY (国办发〔2019〕6号; "
                f"allowed in {year}: <= {binding[0]:g}; for a scenario before 2019 set "
                "policy.fee_cap.enabled: false or policy.fee_cap.from_year, for a "
                "commercial guarantor policy: false)",
                band.rate if not given else fee,
            )
            break
        lower = upper


def _binding_cap(cap: FeeCap, lower: float, upper: float, year: int):
    """(rate, upper bound) of the lowest cap band in ``year`` overlapping (lower, upper]."""
    cap_lower, binding = 0.0, None
    for cap_band in cap.bands:
        cap_upper = math.inf if cap_band.max_amount is None else cap_band.max_amount
        rate = in_year(cap_band.rate, year)
        if cap_lower < upper and lower < cap_upper and (binding is None or rate < binding[0]):
            binding = (rate, cap_upper)
        cap_lower = cap_upper
    return binding


def _fmt_amount(x: float) -> str:
    return "any amount" if math.isinf(x) else f"{x:,.0f}"


def _fallback_cycle(s: Scenario) -> list[str]:
    for start in s.parties:
        seen = [start]
        node = start
        while True:
            p = s.parties.get(node)
            nxt = getattr(p, "fallback", None) if p is not None else None
            if nxt is None or nxt in FALLBACK_SINKS or nxt not in s.parties:
                break
            if nxt in seen:
                return [*seen[seen.index(nxt) :], nxt]
            seen.append(nxt)
            node = nxt
    return []
