"""The lenders' decision parameters drawn per book replica (issue 9, part A).

The bank's and the guarantor's score noise and the guarantor's mandate may be
distributions: each book replica draws them once (counter-based: seed, replica, name), its
lenders act on the draw, and every path carries its replica's value in ``parameter_value``.
Policy levers never take a distribution. Fewer book replicas than the intervals' minimum
draw the decision parameters too few times: ``validate`` and ``run`` warn.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import yaml
from conftest import base_scenario_dict, make_scenario
from helpers import run_main
from process_scenarios import process_dict

import guarantee_sim as gs
from guarantee_sim.config import ScenarioError, ScenarioWarning
from guarantee_sim.config.plausibility import MIN_REPLICAS
from guarantee_sim.engine.parameters import (
    central_scenario,
    decision_parameters,
    draw_replica_values,
    replica_scenarios,
)
from guarantee_sim.processes.run import run_processes, run_replica
from guarantee_sim.results.intervals import MIN_CLUSTERS

MANDATE = "processes.guarantor.mandate_loss_rate"
BANK_NOISE = "processes.bank.score_noise"
GUARANTOR_NOISE = "processes.guarantor.score_noise"
DRAWN = {
    MANDATE: {"dist": "uniform", "min": 0.0, "max": 0.04},
    BANK_NOISE: {"dist": "lognormal", "median": 0.8, "sd": 0.4, "max": 3.0},
}


def guaranteed(replicas: int = 4, **changes):
    """Process-fed lending through the bank and the guarantor's review (coverage 80%)."""
    d = process_dict(
        coverage=0.8, guarantor_reviewers=20, replicas=replicas, applications_per_year=300
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)  # few replicas: tested below
        return make_scenario(d, **changes)


def _same(a, b, skip=()):
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:
        if name not in skip:
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def test_each_replica_draws_once_and_its_paths_carry_its_draw():
    ds = gs.simulate(guaranteed(**DRAWN), paths=12, seed=3)
    assert list(ds.parameter.values) == [BANK_NOISE, MANDATE]
    assert list(ds.parameter_drawn_per.values) == ["replica", "replica"]
    assert list(ds.parameter_units.values) == ["1", "1/year"]
    np.testing.assert_array_equal(ds.parameter_centre.values, [0.8, 0.02])
    pv = ds.parameter_value
    for r in range(4):
        on_r = pv.isel(path=np.flatnonzero(ds.replica.values == r))
        assert (on_r == on_r.isel(path=0)).all()  # one draw per replica
    assert len(np.unique(pv.sel(parameter=MANDATE).values)) == 4  # replicas differ
    assert ((pv.sel(parameter=MANDATE) >= 0) & (pv.sel(parameter=MANDATE) <= 0.04)).all()


def test_replica_r_runs_the_processes_at_its_draws():
    """The identity that makes the draws mean something: replica r of the uncertain run is
    the fixed-value run of replica r at r's drawn values, record for record."""
    s = guaranteed(**DRAWN)
    params = decision_parameters(s)
    values = draw_replica_values(params, seed=5, replicas=4)
    central = central_scenario(s)
    books = run_processes(central, 5, None, replica_scenarios(central, params, values)).books
    for r in (0, 3):
        fixed = guaranteed(**{BANK_NOISE: float(values[r, 0]), MANDATE: float(values[r, 1])})
        alone = run_replica(fixed, 5, r).book
        for field in ("id_lo", "id_hi", "segment", "grade", "month", "amount"):
            np.testing.assert_array_equal(getattr(books[r], field), getattr(alone, field))
    # ... and the draws matter: replicas at their centre approve other applicants
    at_centre = run_processes(central, 5, None).books
    assert any(len(a) != len(b) for a, b in zip(books, at_centre, strict=True))


def test_a_higher_drawn_mandate_approves_more_of_the_same_applicants():
    """Common random numbers within a replica: the same applicants, a mandate drawn higher
    than another replica's value run on that replica approves at least as many."""
    s = guaranteed(**{MANDATE: DRAWN[MANDATE]})
    params = decision_parameters(s)
    values = draw_replica_values(params, seed=5, replicas=4)[:, 0]
    low, high = int(np.argmin(values)), int(np.argmax(values))
    assert values[high] - values[low] > 0.01
    central = central_scenario(s)
    at = {
        v: len(run_replica(replica_scenarios(central, params, np.array([[v]]))[0], 5, 0).book)
        for v in (values[low], values[high])
    }
    assert at[values[high]] > at[values[low]]


def test_decision_draws_do_not_depend_on_blocks_and_are_common_to_variants():
    s = guaranteed(**DRAWN)
    one = gs.simulate(s, paths=8, seed=21, block_size=1)
    five = gs.simulate(s, paths=8, seed=21, block_size=5)
    _same(one, five)
    cheaper = gs.simulate(
        guaranteed(**DRAWN, **{"parties.guarantor.fee_rate": 0.005}), paths=8, seed=21
    )
    np.testing.assert_array_equal(one.parameter_value.values, cheaper.parameter_value.values)
    # the draws depend on the name, the replica and the seed only: more replicas keep them
    six = gs.simulate(guaranteed(replicas=6, **DRAWN), paths=6, seed=21)
    np.testing.assert_array_equal(six.parameter_value.values[:4], one.parameter_value.values[:4])


def test_decision_draws_do_not_share_the_per_path_streams():
    """A decision parameter and a per-path one of the same group name do not draw the
    same uniform: the replica's stream has a key and a purpose of its own."""
    group = {"group": "state"}
    s = guaranteed(
        **{
            MANDATE: {"dist": "uniform", "min": 0.0, "max": 0.5, **group},
            "segments.sme.lgd": {"dist": "uniform", "min": 0.0, "max": 1.0, **group},
        }
    )
    ds = gs.simulate(s, paths=4, seed=2)
    pv = ds.parameter_value
    u_mandate = pv.sel(parameter=MANDATE).values / 0.5
    assert not np.allclose(u_mandate, pv.sel(parameter="segments.sme.lgd").values)


def test_a_degenerate_decision_distribution_is_the_fixed_run_bit_for_bit():
    fixed = gs.simulate(guaranteed(), paths=8, seed=13)
    degenerate = guaranteed(
        **{
            MANDATE: {"dist": "normal", "mean": 0.01, "sd": 0, "min": 0, "max": 0.5},
            BANK_NOISE: {"dist": "lognormal", "median": 0.8, "sd": 0, "max": 5},
            GUARANTOR_NOISE: {"dist": "normal", "mean": 0.6, "sd": 0, "min": 0, "max": 5},
        }
    )
    ds = gs.simulate(degenerate, paths=8, seed=13)
    _same(fixed, ds, skip=("parameter_value",))
    assert ds.sizes["parameter"] == 3


def test_volume_lending_draws_no_decision_parameter():
    """Without the processes lending, the lenders' parameters decide nothing: not drawn."""
    d = process_dict(coverage=0.8, guarantor_reviewers=20)
    d["lending_source"] = "volumes"
    d["segments"]["sme"]["lending"] = {"count_per_year": 50}
    ds = gs.simulate(make_scenario(d, **{MANDATE: DRAWN[MANDATE]}), paths=3, seed=1)
    assert ds.sizes["parameter"] == 0


# --------------------------------------------------------------------------- refusals


LEVERS = {
    "parties.guarantor.fee_rate": "a policy lever may vary by year but is never uncertain",
    "schemes.guaranteed.coverage": "a policy lever may vary by year but is never uncertain",
    "parties.guarantor.leverage_cap": "a policy lever may vary by year but is never uncertain",
    "parties.guarantor.net_assets": "it is not an uncertain parameter",
    "policy.lpr": "a policy lever may vary by year but is never uncertain",
}


@pytest.mark.parametrize("key", list(LEVERS))
def test_a_policy_lever_given_a_distribution_is_a_clean_error(key, tmp_path):
    d = base_scenario_dict()
    d["policy"] = {"lpr": 0.0385}
    node = d
    *parents, last = key.split(".")
    for name in parents:
        node = node[name]
    node[last] = {"dist": "uniform", "min": 0.005, "max": 0.01}
    path = tmp_path / "lever.yaml"
    path.write_text(yaml.safe_dump(d, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        gs.load_scenario(path)
    err = info.value
    assert err.key == key and err.path == str(path) and err.line is not None
    assert LEVERS[key] in str(err) and "distribution is not allowed" in str(err)
    line = path.read_text(encoding="utf-8").splitlines()[err.line - 1]
    assert last in line


def test_credit_data_sharing_is_a_lever_not_an_uncertain_parameter():
    d = process_dict(coverage=0.8, guarantor_reviewers=20)
    d["processes"]["bank"]["credit_data_sharing"] = {"dist": "uniform", "min": 0, "max": 0.5}
    with pytest.raises(ScenarioError) as info:
        make_scenario(d)
    assert info.value.key == "processes.bank.credit_data_sharing"


# --------------------------------------------------------------------------- too few replicas


def test_the_minimum_of_replicas_is_the_intervals_minimum():
    assert MIN_REPLICAS == MIN_CLUSTERS


def _warnings_of(replicas: int, **changes) -> list[ScenarioWarning]:
    d = process_dict(coverage=0.8, guarantor_reviewers=20, replicas=replicas)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ScenarioWarning)
        make_scenario(d, **changes)
    return [w.message for w in caught if issubclass(w.category, ScenarioWarning)]


def test_few_replicas_with_uncertain_decision_parameters_warn():
    [warning] = _warnings_of(4, **{MANDATE: DRAWN[MANDATE]})
    assert warning.key == "processes.replicas" and warning.value == 4
    assert MANDATE in str(warning) and "too few draws" in str(warning)
    assert _warnings_of(MIN_REPLICAS, **{MANDATE: DRAWN[MANDATE]}) == []
    assert _warnings_of(4) == []  # nothing uncertain: nothing to represent


def test_validate_prints_the_warning(tmp_path):
    d = process_dict(coverage=0.8, guarantor_reviewers=20, replicas=3)
    d["processes"]["guarantor"]["mandate_loss_rate"] = DRAWN[MANDATE]
    path = tmp_path / "few.yaml"
    path.write_text(yaml.safe_dump(d, allow_unicode=True, sort_keys=False), encoding="utf-8")
    rc, out, err = run_main("validate", path)
    assert rc == 0
    assert "warning:" in out + err and "processes.replicas" in out + err
