"""The outcomes a design is judged by (results/outcomes.py), on hand-built results."""

import numpy as np
import pytest

from guarantee_sim.results.outcomes import OUTCOMES, design_outcomes, path_outcomes
from guarantee_sim.testing import results_dataset, with_path_weights, with_replicas

M = 1e6
PARTIES = {"bank": "bank", "guarantor": "guarantor", "pool": "pool"}


def _four_paths():
    """Four paths, two years; the events by hand:
    path 0: target met (150 of 100), nothing bad;
    path 1: target missed (50), the pool runs dry in 2022;
    path 2: target met exactly (100), the guarantor's capital is exhausted in 2021;
    path 3: target missed (0), lending refused in 2022."""
    lending = np.array([[[100.0], [50.0]], [[50.0], [0.0]], [[40.0], [60.0]], [[0.0], [0.0]]])
    ds = results_dataset(
        years=[2021, 2022],
        segments={"sme": ["guaranteed"]},
        parties=PARTIES,
        loans_amount=lending * M,
        loss={"guarantor": [[1 * M, 1 * M], [2 * M, 2 * M], [0.0, 8 * M], [0.0, 0.0]]},
        pool_depleted={"pool": [[0, 0], [0, 1], [0, 0], [0, 0]]},
        capital_exhausted={"guarantor": [[0, 0], [0, 0], [1, 0], [0, 0]]},
        unmet_demand_amount=np.array([[[0.0], [0.0]]] * 3 + [[[0.0], [5 * M]]]),
        public_cost=[[10 * M, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]],
        targets={
            "lending": {
                "metric": "loans_amount",
                "tags": ["guaranteed"],
                "kind": "flow",
                "from_year": 2021,
                "to_year": 2022,
                "value": 100 * M,
            }
        },
    )
    ds.attrs["discount_rate"] = 0.05
    return ds


def test_each_outcome_by_hand():
    out = design_outcomes(_four_paths())
    assert list(out.data_vars) == list(OUTCOMES)
    assert float(out.target_probability.sel(target="lending")) == 0.5  # paths 0 and 2
    # 10 m in the first year, mid-year: 10 m / 1.05**0.5, one path in four
    assert float(out.public_cost_pv) == pytest.approx(10 * M / 1.05**0.5 / 4)
    assert float(out.pool_depletion_probability) == 0.25
    assert float(out.guarantor_insolvency_probability) == 0.25
    assert float(out.leverage_cap_probability) == 0.25
    # total guarantor losses 2, 4, 8, 0 m: the 99% quantile interpolates 4 -> 8 at h = 2.97
    assert float(out.guarantor_loss_var99) == pytest.approx((4 + 0.97 * 4) * M)
    assert out.public_cost_pv.attrs["units"] == "CNY"


def test_path_weights_enter_every_outcome():
    """Importance sampling: weights 0.5, 0.5, 1.5, 1.5 (mean 1) move every share."""
    out = design_outcomes(with_path_weights(_four_paths(), [0.5, 0.5, 1.5, 1.5]))
    assert float(out.target_probability.sel(target="lending")) == pytest.approx(0.5)  # .5+1.5
    assert float(out.pool_depletion_probability) == pytest.approx(0.125)
    assert float(out.guarantor_insolvency_probability) == pytest.approx(0.375)
    assert float(out.public_cost_pv) == pytest.approx(0.5 * 10 * M / 1.05**0.5 / 4)


def test_intervals_bracket_the_estimate_and_name_their_method():
    ds = with_replicas(_four_paths(), 2)
    out = design_outcomes(ds, intervals=True)
    for name in OUTCOMES:
        low, mid, high = (out[name + s].values for s in ("_low", "", "_high"))
        assert np.all(low <= mid) and np.all(mid <= high), name
        assert out.attrs[f"{name}_method"], name
    assert "2 book replicas" in out.attrs["public_cost_pv_method"]


def test_no_pool_means_no_depletion():
    ds = results_dataset(
        years=[2021],
        segments={"sme": ["guaranteed"]},
        parties={"bank": "bank", "guarantor": "guarantor"},
        paths=3,
    )
    ds.attrs["discount_rate"] = 0.0
    per_path = path_outcomes(ds)
    assert not per_path.pool_depleted.any()
    assert "target_met" not in per_path
    assert "target_probability" not in design_outcomes(ds)
