"""Shared fixtures: small scenarios built as dicts, so each test states what it changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from guarantee_sim.config import scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def base_scenario_dict() -> dict:
    """A small one-segment guaranteed book: bank, one guarantor, 1 year of lending.

    100 loans of 1 m CNY a year (sigma 0: every loan exactly 1 m), PD 2%, LGD 50%,
    coverage 80% to the guarantor, which has ample capital. No re-guarantee, no pool.
    """
    return {
        "name": "test_base",
        "horizon": {"start_year": 2021, "origination_years": 1, "runoff_months": 24},
        "simulation": {"paths": 200, "seed": 12345, "granularity": "loan", "block_size": 64},
        "segments": {
            "sme": {
                "label": "小微企业",
                "tags": ["guaranteed", "first_time"],
                "pd": {"mean": 0.02},
                "lgd": 0.5,
                "recovery": {"lag_months": 1, "spread_months": 3},
                "correlation": 0.1,
                "loan_size": {"median": 1.0e6, "sigma": 0.0, "cap": 1.0e7},
                "tenor_months": 12,
                "lending": {"count_per_year": 120},
                "scheme": "guaranteed",
            }
        },
        "parties": {
            "bank": {"kind": "bank"},
            "guarantor": {
                "kind": "guarantor",
                "public": True,
                "net_assets": 1.0e9,
                "fee_rate": 0.01,
                "claim_lag_months": 2,
                "operating_cost_rate": 0.0,
            },
        },
        "schemes": {"guaranteed": {"coverage": 0.8, "split": {"guarantor": 1.0}}},
    }


def make_scenario(data: dict | None = None, **changes):
    """Validate ``data`` (default: the base dict) after applying dotted-key ``changes``.

    ``make_scenario(**{"parties.guarantor.fee_rate": 0.005})``; the changes go through the
    same override parser as ``--set`` (a text value is read as YAML).
    """
    data = data if data is not None else base_scenario_dict()
    return scenario_from_dict(data, source="<test>", overrides=changes)


@pytest.fixture
def base_dict() -> dict:
    return base_scenario_dict()


@pytest.fixture(scope="module")
def dask_client():
    """A LocalCluster of 2 worker processes (1 Numba thread each), one per test module
    that asks for it (the sweep's and the analyses' identity tests), closed with the
    module: a client's threads left running would make any later fork (the results
    writer, the book replicas' workers) unsafe."""
    from distributed import Client

    from guarantee_sim.sweep.runner import local_cluster

    cluster = local_cluster(2)
    with Client(cluster) as client:
        yield client
    cluster.close()
