"""Every shipped scenario and experiment validates and runs, at a reduced scale.

Reduced scale is the documented override (README, "Shipped scenarios and experiments"):

    --set simulation.paths=20 --set processes.replicas=1

(the ``processes.*`` key only for scenarios with a ``processes`` section). Scenarios run
through the command line exactly so; an experiment gets the same keys under its
``overrides:`` (applied to every variant) in a temporary copy, because ``guarantee-sim
compare`` has no ``--set``. The processes keep each scenario's shipped record weight,
already the coarsest its offices allow (a weight must divide every office count), and
run one book replica; the whole file takes a few minutes once the Numba kernels are
compiled or cached.

Also checked here: each calibrated scenario cites its seed document; the money of every
run is conserved; the no-scheme counterfactual of the Hangzhou 2021-2023 experiments
approves fewer first-time borrowers than the base; a fee-only variant leaves every path's
defaults identical (common random numbers) when capital does not bind; the Guangdong
experiment's variant ``after`` is exactly ``scenarios/guangdong_2012_after.yaml``; a larger
pool in the pool sweep runs dry on no more paths than a smaller one.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from helpers import run_main

from guarantee_sim import load_scenario, simulate
from guarantee_sim.config import read_yaml
from guarantee_sim.experiments import load_experiment, run_experiment, variant_scenarios
from guarantee_sim.results import stack_levers

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
#: the comparisons and sweeps (run by ``compare``), and the design searches (``design``)
EXPERIMENTS = sorted(
    p for p in (ROOT / "experiments").glob("*.yaml") if load_experiment(p).design is None
)
DESIGNS = sorted(
    p for p in (ROOT / "experiments").glob("*.yaml") if load_experiment(p).design is not None
)
SEEDS = ROOT.parent / "shared" / "seeds"
HANGZHOU_2021 = ROOT / "scenarios" / "hangzhou_2021_2023.yaml"
FEE_COVERAGE = ROOT / "experiments" / "hangzhou_2021_2023_fee_coverage.yaml"
PATHS = 20
REDUCED = {"simulation.paths": PATHS}
REDUCED_PROCESSES = {"processes.replicas": 1}
#: seed documents of the calibrated scenarios (the county example is not a calibration)
SEED_OF = {
    "hangzhou_2011_2015.yaml": "000_12ab950163121e34.txt",
    "hangzhou_2018_2020.yaml": "001_e8c595c90316b646.txt",
    "hangzhou_zhuanjingtexin_2025.yaml": "002_689bce03f6061737.txt",
    "guangdong_2012_before.yaml": "003_73cde27a95bda8b0.txt",
    "guangdong_2012_after.yaml": "003_73cde27a95bda8b0.txt",
    "hangzhou_2021_2023.yaml": "004_2b902a7bc69c622f.txt",
}


def reduced_overrides(scenario_path: Path) -> dict:
    """The documented reduced-scale override for this scenario file."""
    data, _ = read_yaml(scenario_path)
    return {**REDUCED, **(REDUCED_PROCESSES if "processes" in data else {})}


def reduced_experiment(path: Path, tmp_path: Path, **extra) -> Path:
    """A copy of experiment ``path`` with the reduced-scale keys under ``overrides:``."""
    data, _ = read_yaml(path)
    base = (path.parent / data["base"]).resolve()
    data["base"] = str(base)
    data["paths"] = PATHS
    data["overrides"] = {**data.get("overrides", {}), **reduced_overrides(base), **extra}
    copy = tmp_path / path.name
    copy.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return copy


def assert_money_conserved(ds: xr.Dataset) -> None:
    """Per path and year, the parties' losses (unabsorbed included) equal the credit loss."""
    credit_loss = ds["credit_loss"].sum("segment")
    shared = ds["loss"].sum("party")
    np.testing.assert_allclose(shared.values, credit_loss.values, rtol=1e-9, atol=1.0)


def first_time_borrowers(ds: xr.Dataset) -> xr.DataArray:
    chosen = [
        s
        for s, t in zip(ds.segment.values, ds.segment_tags.values, strict=True)
        if "first_time" in str(t).split(",")
    ]
    return ds["borrowers"].sel(segment=chosen).sum(["segment", "year"])


# --------------------------------------------------------------------------- scenarios


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
@pytest.mark.slow
def test_scenario_runs_at_reduced_scale(path, tmp_path):
    out = tmp_path / f"{path.stem}.nc"
    sets = [a for k, v in reduced_overrides(path).items() for a in ("--set", f"{k}={v}")]
    rc, stdout, stderr = run_main("run", path, *sets, "--out", out)
    assert rc == 0, stderr
    assert "results written to" in stdout
    with xr.open_dataset(out) as opened:
        ds = opened.load()
    assert ds.sizes["path"] == PATHS
    assert float(ds["loans_amount"].sum()) > 0
    assert_money_conserved(ds)
    scenario = load_scenario(path)
    if scenario.targets:
        assert set(ds.target.values) == set(scenario.targets)
        assert np.all((ds.target_probability >= 0) & (ds.target_probability <= 1))


@pytest.mark.parametrize("name", sorted(SEED_OF))
def test_calibrated_scenario_cites_its_seed(name):
    path = ROOT / "scenarios" / name
    seed = SEED_OF[name]
    assert (SEEDS / seed).is_file() or not SEEDS.is_dir(), f"no seed file {seed}"
    scenario = load_scenario(path)
    assert any(seed in source for source in scenario.sources), f"{name}: sources do not name {seed}"
    text = path.read_text(encoding="utf-8")
    comments = "\n".join(line for line in text.splitlines() if "#" in line)
    assert seed in comments, f"{name}: no comment names {seed}"
    assert "PARAM:" in text and "ASSUMPTION" in text
    for t_name, target in scenario.targets.items():
        assert target.label, f"{name}: target {t_name} has no label saying how it is read"


def test_default_hangzhou_scenario_is_modest():
    """The README's default run must finish in under a minute on 2 cores."""
    scenario = load_scenario(HANGZHOU_2021)
    assert scenario.simulation.paths <= 2000
    assert scenario.simulation.granularity == "cohort"
    assert scenario.lending_source == "processes"
    pr = scenario.processes
    offices = [pr.bank.offices, pr.guarantor.offices, pr.claims.offices]
    assert pr.record_weight == math.gcd(*offices)  # as coarse as the offices allow
    applications = sum(d.applications_per_year for d in scenario.processes.demand.values())
    assert applications >= 100_000  # the full city, not a scaled-down one


def test_guangdong_after_is_the_experiment_variant():
    variants = variant_scenarios(ROOT / "experiments" / "guangdong_2012_reguarantee.yaml")
    after = load_scenario(ROOT / "scenarios" / "guangdong_2012_after.yaml")
    before = load_scenario(ROOT / "scenarios" / "guangdong_2012_before.yaml")
    metadata = {"name", "label", "description", "sources"}
    assert variants["after"].model_dump(exclude=metadata) == after.model_dump(exclude=metadata)
    assert variants["before"].model_dump() == before.model_dump()


# --------------------------------------------------------------------------- experiments


@pytest.fixture(scope="module")
def experiment_results(tmp_path_factory):
    """Every shipped experiment at reduced scale, run once for the tests below."""
    tmp = tmp_path_factory.mktemp("experiments")
    return {path.stem: run_experiment(reduced_experiment(path, tmp)) for path in EXPERIMENTS}


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
@pytest.mark.slow
def test_experiment_runs_at_reduced_scale(path, experiment_results):
    ds = stack_levers(experiment_results[path.stem])  # a grid's points as designs
    experiment = load_experiment(path)
    assert list(ds.scenario.values) == list(experiment.variant_overrides())
    assert ds.sizes["path"] == PATHS
    for name in ds.scenario.values:
        assert_money_conserved(ds.sel(scenario=name))


@pytest.mark.parametrize("path", DESIGNS, ids=lambda p: p.stem)
@pytest.mark.slow
def test_design_runs_at_reduced_scale(path, tmp_path):
    """Each shipped design search at reduced scale: a design chosen (or the closest one),
    re-estimated on the fresh seed, every evaluated design within the bounds."""
    from guarantee_sim.analysis.design import solve_design

    ds = solve_design(reduced_experiment(path, tmp_path))
    assert ds.attrs["fresh_seed"] != ds.attrs["seed"]
    assert ds.sizes["evaluation"] == ds.attrs["n_evaluations"]
    assert (ds.lever_value >= ds.lever_lower).all() and (ds.lever_value <= ds.lever_upper).all()


@pytest.mark.slow
def test_a_larger_pool_runs_dry_on_no_more_paths(experiment_results):
    """The pool sweep: the contribution changes no approval and no default (common random
    numbers), only what the pool can pay, so a path on which the larger pool runs dry is
    one on which every smaller pool does too."""
    ds = experiment_results["hangzhou_2021_2023_pool_sweep"]
    assert ds.pool_contribution.values.tolist() == [1.5e8, 3.0e8, 6.0e8]
    assert ds.pool_contribution.attrs["units"] == "CNY/year"
    dry = ds.gs.depleted_paths().sel(party="gov_pool")
    for small, large in ((1.5e8, 3.0e8), (3.0e8, 6.0e8)):
        assert bool((dry.sel(pool_contribution=large) <= dry.sel(pool_contribution=small)).all())
        np.testing.assert_array_equal(
            ds.credit_loss.sel(pool_contribution=large), ds.credit_loss.sel(pool_contribution=small)
        )
    p = ds.gs.depletion_probability().sel(party="gov_pool")
    assert float(p.sel(pool_contribution=1.5e8)) >= float(p.sel(pool_contribution=6.0e8))


@pytest.mark.parametrize(
    "path", [p for p in EXPERIMENTS if load_experiment(p).counterfactual], ids=lambda p: p.stem
)
@pytest.mark.slow
def test_no_scheme_counterfactual_approves_fewer_first_time_borrowers(path, experiment_results):
    ds = experiment_results[path.stem]
    cf = load_experiment(path).counterfactual
    borrowers = first_time_borrowers(ds)
    assert float(borrowers.sel(scenario="baseline").mean()) > float(
        borrowers.sel(scenario=cf).mean()
    )
    assert float(ds["additional_borrowers"].sel(scenario="baseline").mean()) > 0
    assert float(ds["additional_borrowers"].sel(scenario=cf).mean()) == 0
    # the processes agree: fewer first-time applications approved without the scheme
    first_time = [s for s in ds.segment.values if s.startswith("first_time")]
    approvals = ds["approvals"].sel(segment=first_time).sum(["segment", "year"])
    assert float(approvals.sel(scenario="baseline")) > float(approvals.sel(scenario=cf))
    cost = ds["fiscal_cost_per_additional_borrower"].sel(scenario="baseline")
    assert np.isfinite(float(cost)) and float(cost) > 0


# --------------------------------------------------------------------------- common random numbers


def _defaults_identical(base: xr.Dataset, variant: xr.Dataset) -> None:
    for name in ("defaults_count", "default_amount", "credit_loss"):
        np.testing.assert_array_equal(base[name].values, variant[name].values, err_msg=name)
    assert float(np.abs(base["fee_income"] - variant["fee_income"]).sum()) > 0


@pytest.mark.slow
def test_fee_variant_keeps_defaults_with_processes():
    """Hangzhou 2021-2023, variant fee_0_5pct of the fee/coverage experiment.

    With lending from the processes a fee also moves the book (demand responds to the
    all-in price, the guarantor's approvals to the fee), so the book is held fixed here:
    no price response, a guarantor that approves whatever the bank passes on, and
    capital that cannot bind. Then every path's defaults must be identical.
    """
    variants = load_experiment(FEE_COVERAGE).variant_overrides()
    fixed_book = {
        **reduced_overrides(HANGZHOU_2021),
        "processes.guarantor.mandate_loss_rate": 0.5,  # above any PD x LGD x kept share
        "parties.guarantor.net_assets": 1.0e13,
    }
    for demand in load_scenario(HANGZHOU_2021).processes.demand:
        fixed_book[f"processes.demand.{demand}.price_elasticity"] = 0.0
    runs = {}
    for name in ("baseline", "fee_0_5pct"):
        scenario = load_scenario(HANGZHOU_2021, overrides={**variants[name], **fixed_book})
        runs[name] = simulate(scenario, paths=PATHS)
    assert float(runs["baseline"]["unmet_demand_amount"].sum()) == 0
    assert float(runs["fee_0_5pct"]["unmet_demand_amount"].sum()) == 0
    _defaults_identical(runs["baseline"], runs["fee_0_5pct"])


def test_fee_variant_keeps_defaults_with_volumes():
    """Hangzhou 2011-2015 (lending from volumes): 2% instead of 2.5%, ample capital."""
    path = ROOT / "scenarios" / "hangzhou_2011_2015.yaml"
    ample = {**reduced_overrides(path), "parties.guarantor.net_assets": 1.0e10}
    base = simulate(load_scenario(path, overrides=ample), paths=PATHS)
    cheaper = simulate(
        load_scenario(path, overrides={**ample, "parties.guarantor.fee_rate": 0.02}), paths=PATHS
    )
    assert float(base["unmet_demand_amount"].sum()) == 0
    _defaults_identical(base, cheaper)


# ------------------------------------------------------------- cohorts of weighted records


@pytest.mark.slow  # the default scenario's processes at their shipped weight (~6 s)
def test_cohorts_keep_process_record_weights():
    """Loans approved by the processes all reach the kernels (no rationing here). Demand
    held fixed: with it following the cycle each path keeps its own share of the book (the
    processes report counts per mean demand), so 5 paths' mean is off by their mean D."""
    overrides = {
        **reduced_overrides(HANGZHOU_2021),
        "parties.guarantor.net_assets": 1.0e13,
        "macro.demand_elasticity": 0.0,
    }
    ds = simulate(load_scenario(HANGZHOU_2021, overrides=overrides), paths=5)
    fed = ["first_time_credit", "first_time_guaranteed", "credit"]
    approved = float(ds["approvals"].sel(segment=fed).sum())
    borrowers = float(ds["borrowers"].sel(segment=fed).sum(["segment", "year"]).mean())
    assert borrowers == pytest.approx(approved, rel=0.02)
