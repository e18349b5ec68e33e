"""Scenario models of the institutions' processes (SimPy): demand, screening, review, claims.

Time in the processes is in calendar days (a month is 365/12 days); rates per year.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from .types import Frozen, Share, fail
from .values import Number, Uncertain

Noise = Annotated[float, Field(ge=0.0, le=5.0, json_schema_extra={"unit": "1"})]

#: claims take at most this many months of processing on top of the claim lag
MAX_PROCESSING_MONTHS = 6
#: longest mean patience, days (10 years). The simulation runs until the last applicant's
#: patience would have run out, and its staff records are kept year by year, so a patience of
#: 1e30 days never ended; for applicants who never give up, write null.
MAX_PATIENCE_DAYS = 3650.0


#: the single-number staff keys that ``offices`` and ``staff_per_office`` replaced
OLD_STAFF_KEYS = {"bank": "officers", "guarantor": "reviewers", "claims": "handlers"}


class Offices(Frozen):
    """Staff sitting in offices; each office is its own queue (M/M/c, c = staff_per_office).

    ``assignment`` says which office an arrival joins: ``random`` (uniformly among all
    offices) or ``by_segment`` (the segments in ``segment_offices`` have that many offices
    of their own, in the order written; every other segment joins the remaining offices
    uniformly at random). A bank assigns by the segment applied to, the guarantor's
    reviewers by the segment the loan would be booked in.
    """

    offices: Number[int] = Field(
        ge=1,
        le=100_000,
        description="offices (branches); each is its own queue",
        json_schema_extra={"unit": "1"},
    )
    staff_per_office: Number[int] = Field(
        ge=1,
        le=10_000,
        description="staff serving one office's queue",
        json_schema_extra={"unit": "1"},
    )
    assignment: Literal["random", "by_segment"] = Field(
        "random",
        description="random: each arrival joins an office drawn uniformly; by_segment: "
        "the segments in segment_offices have offices of their own, the others share "
        "the remaining offices",
    )
    segment_offices: dict[str, Annotated[int, Field(ge=1)]] | None = Field(
        None,
        description="by_segment: offices reserved for each listed segment's arrivals; "
        "fewer in all than `offices`, the rest serving every other segment",
        json_schema_extra={"unit": "1"},
    )

    @model_validator(mode="before")
    @classmethod
    def _old_staff_key(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in OLD_STAFF_KEYS.values():
                if key in data:
                    n = data[key]
                    message = (
                        f"`{key}` was replaced by `offices` and `staff_per_office` (each office "
                        f"is its own queue): {key}: {n} as one pooled queue is offices: 1, "
                        f"staff_per_office: {n}; in k branches it is offices: k, "
                        f"staff_per_office: {n}/k"
                    )
                    fail([((key,), message, data[key])])
        return data

    @model_validator(mode="after")
    def _assignment(self) -> Offices:
        by_segment = self.assignment == "by_segment"
        if by_segment and not self.segment_offices:
            fail([(("segment_offices",), "by_segment needs segment_offices", None)])
        if not by_segment and self.segment_offices is not None:
            message = "only with assignment: by_segment (or remove segment_offices)"
            fail([(("segment_offices",), message, self.segment_offices)])
        if self.segment_offices and sum(self.segment_offices.values()) >= self.offices:
            total = sum(self.segment_offices.values())
            message = (
                f"reserves {total} of {self.offices} offices; at most {self.offices - 1}, "
                "so that the other segments have an office"
            )
            fail([(("segment_offices",), message, self.segment_offices)])
        return self

    @property
    def staff(self) -> int:
        """Real headcount."""
        return self.offices * self.staff_per_office

    def blocks(self) -> list[int]:
        """Offices per assignment block: each listed segment's, then the shared rest."""
        reserved = list((self.segment_offices or {}).values())
        return [*reserved, self.offices - sum(reserved)]


class ServiceTime(Frozen):
    mean_days: Number[float] = Field(
        gt=0.0,
        le=365.0,
        description="mean time one visit takes, days",
        json_schema_extra={"unit": "day"},
    )
    cv: Number[float] = Field(
        1.0,
        gt=0.0,
        le=5.0,
        description="coefficient of variation; 1 gives an "
        "exponential time, other values a lognormal with that mean and cv",
        json_schema_extra={"unit": "1"},
    )


class BankProcess(Offices):
    """Loan officers (in branches) screening applications, and renewals at maturity.

    A renewal is screened as an existing borrower: on the bank's posterior mean of the
    firm's current PD given its prior (the segment applied in), the score it saw at the
    first application and the loan repaid without a default over its tenor, times the
    segment's ``renewal.seasoning``. No fresh score at renewal: the score's noise is what
    the bank's information misses about the firm, which persists (``credit_data_sharing``
    removes a share of it); the repayment record is the new information.
    """

    service: ServiceTime
    visits: Number[int] = Field(
        2,
        ge=1,
        le=10,
        description="visits an application needs (最多跑一次: 1)",
        json_schema_extra={"unit": "1"},
    )
    days_between_visits: Number[float] = Field(
        3.0,
        ge=0.0,
        le=60.0,
        description="days between an applicant's visits",
        json_schema_extra={"unit": "day"},
    )
    patience_days: Number[float] | None = Field(
        30.0,
        gt=0.0,
        le=MAX_PATIENCE_DAYS,
        description="mean time an applicant waits in a queue before giving up "
        "(exponential); null: nobody gives up",
        json_schema_extra={"unit": "day"},
    )
    score_noise: Uncertain[Noise] = Field(
        0.8,
        description="sd of the noise on the logit of the PD the bank sees; a distribution "
        "is drawn once per book replica",
    )
    credit_data_sharing: Number[Share] = Field(
        0.0, description="share of the score noise removed by credit-information sharing"
    )
    funding_cost: Number[float] = Field(
        0.025,
        ge=0.0,
        le=0.2,
        description="bank's cost of funds, /year",
        json_schema_extra={"unit": "1/year"},
    )
    operating_cost: Number[float] = Field(
        0.01,
        ge=0.0,
        le=0.2,
        description="cost of a loan, /year",
        json_schema_extra={"unit": "1/year"},
    )


class GuarantorProcess(Offices):
    """The guarantor's reviewers (in offices) doing due diligence."""

    party: str = Field("guarantor", description="the guarantor these reviewers work for")
    service: ServiceTime
    score_noise: Uncertain[Noise] = Field(
        0.6,
        description="sd of the noise on the logit of the PD the guarantor sees; a "
        "distribution is drawn once per book replica",
    )
    mandate_loss_rate: Uncertain[float] = Field(
        0.01,
        ge=0.0,
        le=0.5,
        description="expected loss a year, as a share of the amount guaranteed, that its "
        "policy mandate tolerates beyond its fees and subsidies net of its costs: it "
        "guarantees when PD x LGD x its kept share <= fee + fee subsidy paid to it + this - "
        "operating cost and re-guarantee fees (per CNY guaranteed a year); 0 for a "
        "commercial guarantor whose income must cover expected loss and cost; a "
        "distribution is drawn once per book replica. Default ASSUMPTION: 1%, a quarter of "
        "the National Fund's 4% compensation-rate cap",
        json_schema_extra={"unit": "1/year"},
    )

    @model_validator(mode="before")
    @classmethod
    def _retired_keys(cls, data):
        if isinstance(data, dict) and "risk_appetite" in data:
            fail(
                [
                    (
                        ("risk_appetite",),
                        "risk_appetite (expected loss <= appetite x fee) is replaced by "
                        "mandate_loss_rate: the expected loss a year, as a share of the amount "
                        "guaranteed, the guarantor tolerates beyond its fee and subsidy net of "
                        "its costs (e.g. 0.01 for a policy guarantor, 0.0 for a commercial "
                        "one; see CHANGELOG)",
                        data["risk_appetite"],
                    )
                ]
            )
        return data


class ClaimsProcess(Offices):
    """The guarantor's claim handlers (in offices); claims join an office at random."""

    party: str = Field("guarantor", description="the guarantor whose claims are handled")
    service: ServiceTime

    @model_validator(mode="after")
    def _random_only(self) -> ClaimsProcess:
        if self.assignment != "random":
            fail(
                [
                    (
                        ("assignment",),
                        "claims join an office at random (allowed: random)",
                        self.assignment,
                    )
                ]
            )
        return self


class SegmentDemand(Frozen):
    applications_per_year: Uncertain[Annotated[float, Field(gt=0.0)]] = Field(
        description="applications in the first year at the reference price",
        json_schema_extra={"unit": "1/year"},
    )
    growth: Uncertain[Annotated[float, Field(gt=-1.0, le=5.0)]] = Field(
        0.0, description="yearly growth of applications", json_schema_extra={"unit": "1/year"}
    )
    seasonality: list[Number[Annotated[float, Field(gt=0.0)]]] | None = Field(
        None,
        min_length=12,
        max_length=12,
        description="relative arrival rate by calendar month (normalised to mean 1)",
        json_schema_extra={"unit": "1"},
    )
    loan_rate: Number[float] = Field(
        0.045,
        gt=0.0,
        le=0.3,
        description="loan interest rate, /year",
        json_schema_extra={"unit": "1/year"},
    )
    price_elasticity: Uncertain[Annotated[float, Field(ge=0.0, le=20.0)]] = Field(
        1.0,
        description="applications scale as (all-in price / reference price) ** -elasticity",
        json_schema_extra={"unit": "1"},
    )
    reference_price: Number[float] = Field(
        gt=0.0,
        le=0.5,
        description="all-in price (rate + fee - "
        "subsidies, /year) at which applications_per_year holds",
        json_schema_extra={"unit": "1/year"},
    )
    pd_dispersion: Uncertain[Annotated[float, Field(ge=0.0, le=4.0)]] = Field(
        0.8,
        description="sd of the logit of true "
        "PD across applicants (logit-normal around the segment mean)",
        json_schema_extra={"unit": "1"},
    )
    routes_to: str | None = Field(
        None,
        description="segment whose terms the bank offers "
        "when it declines on this segment's (e.g. a guarantee)",
    )

    @model_validator(mode="after")
    def _seasonality_sums(self) -> SegmentDemand:
        if self.seasonality is not None and not math.isfinite(sum(self.seasonality)):
            message = "rates are relative (normalised to mean 1): their sum must be a finite number"
            fail([(("seasonality",), message, self.seasonality)])
        return self


class Processes(Frozen):
    replicas: int = Field(
        4,
        ge=1,
        le=1000,
        description="book replicas; path p uses p mod R",
        json_schema_extra={"unit": "1"},
    )
    record_weight: int = Field(
        1,
        ge=1,
        le=100_000,
        description="each simulated applicant stands for this many "
        "identical ones; arrivals and offices are simulated at 1/weight of their number, "
        "each office at its full staff, so the weight must divide every office count",
        json_schema_extra={"unit": "1"},
    )
    bank: BankProcess
    guarantor: GuarantorProcess | None = None
    claims: ClaimsProcess | None = None
    demand: dict[str, SegmentDemand] = Field(
        min_length=1, description="segments whose lending comes from the processes"
    )

    @model_validator(mode="after")
    def _no_self_route(self) -> Processes:
        for name, d in self.demand.items():
            if d.routes_to == name:
                raise ValueError(f"demand.{name}.routes_to: a segment cannot route to itself")
        return self

    @model_validator(mode="after")
    def _weight_divides_offices(self) -> Processes:
        """A weight that splits an office would change its queue: refuse it."""
        counts = {
            f"{name}.{key}": n
            for name in ("bank", "guarantor", "claims")
            if (staff := getattr(self, name)) is not None
            for key, n in (("offices", staff.offices), *_reserved(staff))
        }
        w = self.record_weight
        if any(n % w for n in counts.values()):
            common = math.gcd(*counts.values())
            allowed = [d for d in range(1, common + 1) if common % d == 0]
            listed = ", ".join(f"{k} {n}" for k, n in counts.items())
            message = (
                f"must divide every office count ({listed}), so that each simulated office "
                f"has its full staff and arrivals (allowed: {allowed})"
            )
            fail([(("record_weight",), message, w)])
        return self


def _reserved(staff: Offices) -> list[tuple[str, int]]:
    return [(f"segment_offices.{s}", n) for s, n in (staff.segment_offices or {}).items()]
