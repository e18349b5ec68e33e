"""Scenario models of the institutions' processes (SimPy): demand, screening, review, claims.

Time in the processes is in calendar days (a month is 365/12 days); rates per year.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import Field, model_validator

from .types import Frozen, Share, fail
from .values import Number, Uncertain

Noise = Annotated[float, Field(ge=0.0, le=5.0)]

#: claims take at most this many months of processing on top of the claim lag
MAX_PROCESSING_MONTHS = 6
#: longest mean patience, days (10 years). The simulation runs until the last applicant's
#: patience would have run out, and its staff records are kept year by year, so a patience of
#: 1e30 days never ended; for applicants who never give up, write null.
MAX_PATIENCE_DAYS = 3650.0


class ServiceTime(Frozen):
    mean_days: Number[float] = Field(
        gt=0.0, le=365.0, description="mean time one visit takes, days"
    )
    cv: Number[float] = Field(
        1.0,
        gt=0.0,
        le=5.0,
        description="coefficient of variation; 1 gives an "
        "exponential time, other values a lognormal with that mean and cv",
    )


class BankProcess(Frozen):
    officers: Number[int] = Field(
        ge=1, le=1_000_000, description="loan officers screening applications"
    )
    service: ServiceTime
    visits: Number[int] = Field(
        2, ge=1, le=10, description="visits an application needs (最多跑一次: 1)"
    )
    days_between_visits: Number[float] = Field(3.0, ge=0.0, le=60.0)
    patience_days: Number[float] | None = Field(
        30.0,
        gt=0.0,
        le=MAX_PATIENCE_DAYS,
        description="mean time an applicant waits in a queue before giving up "
        "(exponential); null: nobody gives up",
    )
    score_noise: Uncertain[Noise] = Field(
        0.8, description="sd of the noise on the logit of the PD the bank sees"
    )
    credit_data_sharing: Number[Share] = Field(
        0.0, description="share of the score noise removed by credit-information sharing"
    )
    funding_cost: Number[float] = Field(
        0.025, ge=0.0, le=0.2, description="bank's cost of funds, /year"
    )
    operating_cost: Number[float] = Field(0.01, ge=0.0, le=0.2, description="cost of a loan, /year")


class GuarantorProcess(Frozen):
    party: str = Field("guarantor", description="the guarantor these reviewers work for")
    reviewers: Number[int] = Field(ge=1, le=1_000_000)
    service: ServiceTime
    score_noise: Uncertain[Noise] = Field(0.6)
    mandate_loss_rate: Number[float] = Field(
        0.01,
        ge=0.0,
        le=0.5,
        description="expected loss a year, as a share of the amount guaranteed, that its "
        "policy mandate tolerates beyond its fees and subsidies net of its costs: it "
        "guarantees when PD x LGD x its kept share <= fee + fee subsidy paid to it + this - "
        "operating cost and re-guarantee fees (per CNY guaranteed a year); 0 for a "
        "commercial guarantor whose income must cover expected loss and cost. Default "
        "ASSUMPTION: 1%, a quarter of the National Fund's 4% compensation-rate cap",
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


class ClaimsProcess(Frozen):
    party: str = Field("guarantor", description="the guarantor whose claims are handled")
    handlers: Number[int] = Field(ge=1, le=100_000)
    service: ServiceTime


class SegmentDemand(Frozen):
    applications_per_year: Uncertain[Annotated[float, Field(gt=0.0)]] = Field(
        description="applications in the first year at the reference price"
    )
    growth: Uncertain[Annotated[float, Field(gt=-1.0, le=5.0)]] = Field(
        0.0, description="yearly growth of applications"
    )
    seasonality: list[Number[Annotated[float, Field(gt=0.0)]]] | None = Field(
        None,
        min_length=12,
        max_length=12,
        description="relative arrival rate by calendar month (normalised to mean 1)",
    )
    loan_rate: Number[float] = Field(0.045, gt=0.0, le=0.3, description="loan interest rate, /year")
    price_elasticity: Uncertain[Annotated[float, Field(ge=0.0, le=20.0)]] = Field(
        1.0,
        description="applications scale as (all-in price / reference price) ** -elasticity",
    )
    reference_price: Number[float] = Field(
        gt=0.0,
        le=0.5,
        description="all-in price (rate + fee - "
        "subsidies, /year) at which applications_per_year holds",
    )
    pd_dispersion: Uncertain[Annotated[float, Field(ge=0.0, le=4.0)]] = Field(
        0.8,
        description="sd of the logit of true "
        "PD across applicants (logit-normal around the segment mean)",
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
    replicas: int = Field(4, ge=1, le=1000, description="book replicas; path p uses p mod R")
    record_weight: int = Field(
        1,
        ge=1,
        le=100_000,
        description="each simulated applicant stands for this many "
        "identical ones; arrivals and staff are simulated at 1/weight of their size",
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
