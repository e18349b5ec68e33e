"""The shipped scenarios draw their state of the world (issue 9 A: "the shipped scenarios
give ranges").

Every segment of every shipped scenario gives its PD level, LGD, recovery lag and asset
correlation as a distribution (drawn per path), except a correlation from the Basel SME
formula (:data:`BASEL_EXCEPTION`); each distribution's mean, as the engine draws it (inverse
CDF, truncation, whole months for the lag), is the number the scenario was calibrated at
(:data:`CALIBRATED`), which is also what the lenders and every fixed use of the key see
(:func:`central_scenario`). The decision parameters are drawn only with enough book
replicas, and the Guangdong pair draws one state of the world. Policy levers cannot be
drawn at all: the schema refuses a distribution on any key the engine does not simulate
(``config/schema.py``, ``NOT_SIMULATED``; tests/test_values.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SCENARIOS

from guarantee_sim import load_scenario
from guarantee_sim.config.plausibility import MIN_REPLICAS
from guarantee_sim.config.schema import BaselSME
from guarantee_sim.config.values import Distribution, central
from guarantee_sim.engine.parameters import (
    central_scenario,
    decision_parameters,
    draw_values,
    inverse_cdf,
    uncertain_parameters,
)
from guarantee_sim.experiments import variant_scenarios

BASEL = "basel"
#: The correlation may stay the Basel SME formula's: it is a function of the segment's PD
#: (and firm size) that PARAMETERS.md cites, computed from the PD centre; drawing it would
#: replace the formula by a number. Every other correlation is drawn.
BASEL_EXCEPTION = "Basel SME formula: a function of the PD centre and sales, not an estimate"

#: The calibrated centre of each segment's (PD mean, LGD, recovery lag in months,
#: correlation): the fixed numbers the scenarios shipped before they drew them, quoted in
#: their comments. A shifted distribution moves its mean away from these.
CALIBRATED = {
    "county_guarantee_2021": {
        "first_time": (0.035, 0.80, 12, BASEL),
        "credit": (0.03, 0.65, 12, 0.10),
        "existing": (0.02, 0.75, 12, 0.10),
        "renewal": (0.025, 0.75, 12, 0.10),
    },
    "guangdong_2012_before": {
        "bank_loan": (0.035, 0.45, 12, BASEL),
        "guaranteed": (0.035, 0.80, 12, BASEL),
    },
    "guangdong_2012_after": {
        "bank_loan": (0.035, 0.45, 12, BASEL),
        "guaranteed": (0.035, 0.80, 12, BASEL),
    },
    "hangzhou_2011_2015": {"guaranteed_sme": (0.03, 0.80, 12, BASEL)},
    "hangzhou_2018_2020": {
        "bank_loan": (0.035, 0.45, 12, BASEL),
        "guaranteed": (0.035, 0.80, 12, BASEL),
        "credit": (0.04, 0.65, 12, 0.10),
    },
    "hangzhou_2021_2023": {
        "first_time_credit": (0.05, 0.65, 12, BASEL),
        "first_time_guaranteed": (0.05, 0.80, 12, BASEL),
        "credit": (0.045, 0.65, 12, 0.10),
        "existing": (0.02, 0.45, 12, 0.10),
        "renewal": (0.025, 0.45, 12, 0.10),
    },
    "hangzhou_zhuanjingtexin_2025": {
        "provincial_loan": (0.025, 0.60, 12, BASEL),
        "provincial_guaranteed": (0.025, 0.80, 12, BASEL),
        "national_loan": (0.015, 0.60, 12, BASEL),
        "innovative_loan": (0.035, 0.65, 12, BASEL),
    },
}
FILES = sorted(SCENARIOS.glob("*.yaml"))
#: uniforms at the midpoints of n equal cells: the mean of f(U) to O(1/n**2) for smooth f
MIDPOINTS = (np.arange(20_000) + 0.5) / 20_000


def test_every_shipped_scenario_has_its_calibration_here():
    assert {p.stem for p in FILES} == set(CALIBRATED)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_the_kernel_side_state_of_the_world_is_drawn(path):
    """PD level, LGD, recovery lag and (unless Basel) correlation of every segment are
    distributions, each in a group shared by all segments (one state per path)."""
    s = load_scenario(path)
    assert set(s.segments) == set(CALIBRATED[path.stem])
    for name, seg in s.segments.items():
        keys = {
            "pd.mean": seg.pd.mean,
            "lgd": seg.lgd,
            "recovery.lag_months": seg.recovery.lag_months,
        }
        if isinstance(seg.correlation, BaselSME):
            assert CALIBRATED[path.stem][name][3] == BASEL, (name, BASEL_EXCEPTION)
        else:
            keys["correlation"] = seg.correlation
        for key, value in keys.items():
            inner = getattr(value, "value", value)
            assert isinstance(inner, Distribution), f"{path.stem}: {name}.{key} is fixed"
    groups = {p.field: set() for p in uncertain_parameters(s)}
    for p in uncertain_parameters(s):
        groups[p.field].add(p.group)
    assert groups and all(g != {""} and len(g) == 1 for g in groups.values()), groups


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_each_draws_mean_is_the_calibrated_centre_the_lenders_see(path):
    """The mean of the drawn values (the engine's inverse CDF over the uniforms, clipped;
    the lag rounded to whole months) is the calibrated number to 1e-4 relative (0.01 month
    for the lag), and so is the value the lenders see (the scenario's centre)."""
    s = load_scenario(path)
    seen = central_scenario(s).segments
    calibrated = CALIBRATED[path.stem]
    names = list(s.segments)
    for p in uncertain_parameters(s):
        name = names[p.segment]
        pd_, lgd, lag, rho = calibrated[name]
        seg = seen[name]
        target, lenders_see = {
            "pd_scale": (pd_, seg.pd.mean),
            "lgd": (lgd, seg.lgd),
            "recovery_lag": (lag, seg.recovery.lag_months),
            "rho": (rho, seg.correlation),
        }[p.field]
        assert central(lenders_see) == pytest.approx(target, rel=1e-12), p.key
        x = inverse_cdf(p.distribution, MIDPOINTS)
        if p.field == "recovery_lag":
            assert np.floor(x + 0.5).mean() == pytest.approx(target, abs=0.01), p.key
        else:
            assert x.mean() == pytest.approx(target, rel=1e-4), p.key


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_decision_parameters_are_drawn_only_with_enough_replicas(path):
    s = load_scenario(path)
    if decision_parameters(s):
        assert s.processes.replicas >= MIN_REPLICAS


def test_the_guangdong_pair_draws_one_state_of_the_world():
    """Before, after and every variant of the experiment comparing them draw the same
    values on every path (same groups and distributions): their differences are paired."""
    before = load_scenario(SCENARIOS / "guangdong_2012_before.yaml")
    after = load_scenario(SCENARIOS / "guangdong_2012_after.yaml")
    experiment = SCENARIOS.parent / "experiments" / "guangdong_2012_reguarantee.yaml"
    reference = uncertain_parameters(before)
    values = draw_values(reference, before.simulation.seed, 0, 200)
    assert np.ptp(values, axis=0).min() > 0
    for s in [after, *variant_scenarios(experiment).values()]:
        params = uncertain_parameters(s)
        assert [(p.key, p.distribution) for p in params] == [
            (p.key, p.distribution) for p in reference
        ]
        np.testing.assert_array_equal(draw_values(params, s.simulation.seed, 0, 200), values)
