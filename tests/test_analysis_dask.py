"""The analyses on Dask: sensitivity indices, the design answer and calibration estimates
are the same, bit for bit, in this process and on a LocalCluster of 2 workers (one for
the module, conftest.py), at a tiny size; and a point's outcomes are a plain run's at its
seed. Also the commands' launch lines and the ``experimental`` namespace.

About 25 s of CPU on a free core, most of it the cluster's start and its workers' import.
"""

from __future__ import annotations

import copy
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import base_scenario_dict

ROOT = Path(__file__).resolve().parents[1]
COUNTY = ROOT / "scenarios" / "county_guarantee_2021.yaml"


def assert_same_data(a: xr.Dataset, b: xr.Dataset) -> None:
    """Every data variable and coordinate bit for bit (NaN where NaN); attrs aside (the
    compute times and the cluster's size differ)."""
    assert set(a.variables) == set(b.variables)
    for name in a.variables:
        x, y = a[name], b[name]
        assert x.dims == y.dims and x.dtype == y.dtype, name
        if x.dtype.kind in "fc":
            assert np.array_equal(x.values, y.values, equal_nan=True), name
        else:
            assert np.array_equal(x.values, y.values), name


# --------------------------------------------------------------------------- sensitivity


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """Sobol N = 2 over two of the county scenario's keys: 8 runs of 8 paths."""
    path = tmp_path_factory.mktemp("study") / "study.yaml"
    path.write_text(
        f"name: tiny\nbase: {COUNTY}\npaths: 8\nseed: 5\n"
        "sensitivity:\n  method: sobol\n  n: 2\n  resamples: 20\n  parameters:\n"
        "    - {name: fee, key: parties.guarantor.fee_rate, min: 0.004, max: 0.01}\n"
        "    - {name: capital, key: parties.guarantor.net_assets, min: 2.0e7, max: 3.0e8}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.slow  # the module's LocalCluster (a few seconds to start) and 16 runs
def test_sensitivity_here_and_on_two_workers_is_the_same(study, dask_client, tmp_path):
    import guarantee_sim as gs
    from guarantee_sim.analysis.sensitivity import plan_study, points, run_study, sample
    from guarantee_sim.results.outcomes import design_outcomes

    plan = plan_study(study)
    done: list[int] = []
    here = run_study(plan, on_point=done.append)
    there = run_study(plan, client=dask_client, books=tmp_path / "books")
    assert done == list(range(plan.runs)) == list(range(8))
    assert_same_data(here, there)
    assert here.attrs["dask_workers"] == 0 and there.attrs["dask_workers"] == 2
    # and a point's outputs are a plain run's at the study's seed (a seed lost on the way
    # to the tasks would change both alike)
    spec = plan.study.sensitivity
    point = points(plan.params, sample(spec.method, spec.n, len(plan.params), plan.seed))[3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = gs.simulate(gs.load_scenario(COUNTY, overrides=point), paths=8, seed=5)
    cost = float(design_outcomes(plain).public_cost_pv)
    assert float(here.point_output.sel(output="public_cost_pv").isel(point=3)) == cost


# --------------------------------------------------------------------------- design


@pytest.mark.slow  # the module's LocalCluster and two searches of 6 designs
def test_the_design_here_and_on_two_workers_is_the_same(tmp_path, dask_client):
    from guarantee_sim.analysis.design import solve_design

    path = tmp_path / "design.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: county_capital
            base: {COUNTY}
            paths: 8
            design:
              levers:
                - name: guarantor_capital
                  key: parties.guarantor.net_assets
                  lower: 2.0e7
                  upper: 3.0e8
                  step: 1.0e7
                  label: {{zh: 担保机构净资产, en: guarantor's net assets}}
                  units: CNY
              constraints:
                - {{outcome: guarantor_insolvency_probability, at_most: 0.2}}
              search: {{grid_points: 3, refine_rounds: 1}}
            """
        ),
        encoding="utf-8",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        here = solve_design(path)
        there = solve_design(path, client=dask_client, books=str(tmp_path / "books"))
    assert_same_data(here, there)
    assert here.attrs["best_evaluation"] == there.attrs["best_evaluation"]
    assert here.attrs["status"] == there.attrs["status"]
    assert int(here.sizes["evaluation"]) >= 4  # the grid and a refinement round ran
    assert "target_label" in here.coords  # what the figure names the targets by


# --------------------------------------------------------------------------- calibration


@pytest.mark.slow  # the module's LocalCluster and two fits of ~20 evaluations
def test_calibration_here_and_on_two_workers_is_the_same(dask_client):
    from guarantee_sim.analysis.calibration import calibrate, simulate_moments
    from guarantee_sim.analysis.observed import Observed

    scenario = copy.deepcopy(base_scenario_dict())
    scenario["horizon"]["origination_years"] = 2
    truth = {"segments.sme.lending.count_per_year": 120.0, "segments.sme.pd.mean": 0.02}
    moments = [
        {"name": "loans_2021", "variable": "loans_count", "select": {"year": 2021}},
        {"name": "defaults", "variable": "defaults_count"},
        {"name": "credit_loss", "variable": "credit_loss"},
    ]
    bounds = [
        {"key": k, "lower": v / 2, "upper": v * 2, "start": v * 1.3} for k, v in truth.items()
    ]

    def observed(values) -> Observed:
        given = [
            {**m, "value": float(v), "se": 0.05 * abs(float(v)) + 1.0, "source": "illustrative"}
            for m, v in zip(moments, values, strict=True)
        ]
        return Observed(name="t", parameters=bounds, moments=given)

    at_truth = simulate_moments(
        scenario, truth, observed([1.0] * 3).moments, paths=100, seed=7
    ).mean
    here = calibrate(scenario, observed(at_truth), paths=100, seed=8)
    there = calibrate(scenario, observed(at_truth), paths=100, seed=8, client=dask_client)
    assert_same_data(here, there)
    assert here.attrs["evaluations"] == there.attrs["evaluations"]
    assert there.attrs["dask_workers"] == 2


# --------------------------------------------------------------------------- the namespace


def test_the_experimental_namespace_names_the_unsettled_apis():
    import guarantee_sim.experimental as ex
    from guarantee_sim.analysis import calibration, design, sensitivity
    from guarantee_sim.sweep import evaluate_points

    assert "may change" in (ex.__doc__ or "")
    assert ex.evaluate_points is evaluate_points
    assert ex.run_study is sensitivity.run_study and ex.plan_study is sensitivity.plan_study
    assert ex.solve_design is design.solve_design and ex.calibrate is calibration.calibrate
    assert set(ex.__all__) <= set(dir(ex))


def test_the_analysis_commands_take_the_sweeps_cluster_options():
    from guarantee_sim.cli import _parser

    parser = _parser()
    for argv in (
        ["sweep", "e.yaml"],
        ["design", "e.yaml"],
        ["sensitivity", "s.yaml"],
        ["calibrate", "s.yaml", "--observed", "o.yaml"],
    ):
        args = parser.parse_args([*argv, "--scheduler", "tcp://h:8786", "--workers", "3"])
        assert (args.scheduler, args.workers, args.books) == ("tcp://h:8786", 3, None)


@pytest.mark.slow  # the module's LocalCluster
def test_an_analysis_on_a_cluster_counts_its_workers_cpu(dask_client):
    """The analyses' ``cpu_seconds`` counted the client's process only: a study run on a
    cluster said a few seconds for minutes of the workers' CPU."""
    import time

    from guarantee_sim.analysis.distributed import cpu_by_process, cpu_used

    before, here = cpu_by_process(dask_client), time.process_time()
    dask_client.submit(sum, range(40_000_000), pure=False).result()  # ~1 s on a worker
    used = cpu_used(before, cpu_by_process(dask_client))
    assert used >= 0.3 + (time.process_time() - here)
    assert set(cpu_by_process(dask_client)) == {"", *dask_client.scheduler_info()["workers"]}
