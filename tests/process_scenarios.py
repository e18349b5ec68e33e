"""Scenario dicts whose lending comes from the institution processes (``lending_source:
processes``), for tests/test_processes.py. Each builder returns a plain dict, so a test
states what it changes; ``conftest.make_scenario`` validates it.
"""

from __future__ import annotations

import copy

from conftest import base_scenario_dict

DAYS_PER_YEAR = 365.0


def process_dict(
    *,
    years: int = 1,
    applications_per_year: float = 500.0,
    officers: int = 50,
    offices: int = 1,
    mean_days: float = 0.2,
    cv: float = 1.0,
    visits: int = 1,
    patience_days=None,
    score_noise: float = 0.8,
    coverage: float = 0.0,
    replicas: int = 2,
    record_weight: int = 1,
    elasticity: float = 0.0,
    loan_rate: float = 0.045,
    pd_mean: float = 0.02,
    pd_dispersion: float = 0.8,
    sigma: float = 0.0,
    guarantor_reviewers=None,
    reviewer_offices: int = 1,
) -> dict:
    """One process-fed segment ``sme`` (first-time borrowers, no renewals).

    ``coverage`` is the share of each loan's loss passed to the guarantor (the bank keeps
    ``1 - coverage``); without ``guarantor_reviewers`` the processes have no guarantor
    review, so coverage acts only through the bank's approval rule and the price does not
    include a fee. Constant arrival rate (growth 0, no seasonality). ``officers`` and
    ``guarantor_reviewers`` are the staff of each of ``offices`` / ``reviewer_offices``
    offices (one office: one pooled queue).
    """
    d = copy.deepcopy(base_scenario_dict())
    d["name"] = "test_processes"
    d["horizon"] = {"start_year": 2021, "origination_years": years, "runoff_months": 24}
    seg = d["segments"]["sme"]
    seg.pop("lending")
    seg["pd"] = {"mean": pd_mean}
    seg["loan_size"] = {"median": 1.0e6, "sigma": sigma, "cap": 1.0e7}
    seg["scheme"] = "scheme"
    d["schemes"] = (
        {"scheme": {"coverage": coverage, "split": {"guarantor": 1.0}}}
        if coverage > 0
        else {"scheme": {"coverage": 0.0}}
    )
    d["lending_source"] = "processes"
    d["processes"] = {
        "replicas": replicas,
        "record_weight": record_weight,
        "bank": {
            "offices": offices,
            "staff_per_office": officers,
            "service": {"mean_days": mean_days, "cv": cv},
            "visits": visits,
            "days_between_visits": 3.0,
            "patience_days": patience_days,
            "score_noise": score_noise,
            "credit_data_sharing": 0.0,
            "funding_cost": 0.025,
            "operating_cost": 0.01,
        },
        "demand": {
            "sme": {
                "applications_per_year": applications_per_year,
                "growth": 0.0,
                "seasonality": None,
                "loan_rate": loan_rate,
                "price_elasticity": elasticity,
                "reference_price": 0.045,
                "pd_dispersion": pd_dispersion,
            }
        },
    }
    if guarantor_reviewers is not None:
        d["processes"]["guarantor"] = {
            "offices": reviewer_offices,
            "staff_per_office": guarantor_reviewers,
            "service": {"mean_days": 1.0},
            "score_noise": 0.6,
            "mandate_loss_rate": 0.01,
        }
    return d


def erlang_dict(
    *, servers: int, arrivals_per_day: float, mean_days: float, years: int, replicas: int
) -> dict:
    """The bank's screening queue as an M/M/c queue.

    Poisson arrivals at a constant rate, one visit, exponential service (cv 1), nobody
    gives up, no guarantor review (the decision comes after the single visit, so
    approval does not affect the queue).
    """
    return process_dict(
        years=years,
        applications_per_year=arrivals_per_day * DAYS_PER_YEAR,
        officers=servers,
        mean_days=mean_days,
        cv=1.0,
        visits=1,
        patience_days=None,
        replicas=replicas,
    )
