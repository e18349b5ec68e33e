"""Sweeps: an experiment's grid gives the results one numeric dimension per lever.

Checked here on the compact scenario of ``tests/invalid/_valid_minimal.yaml`` (lending from
volumes, a fraction of a second a run): the lever coordinates are numbers that ``sel`` and
``plot`` use, with units and labels in their attrs; a grid crossed with named variants has
both dimensions; two levers whose keys end alike keep their own dimensions (the names of
earlier versions came from the key's last part and collided); a grid point the scenario
refuses stops the experiment before anything runs, and ``validate`` says so; a per-year
key is a lever like any other; the labels reach the comparison, the command line and the
brief; and the sweep's numbers at a grid point are bit for bit those of a plain run with
that setting and seed (common random numbers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import run_main

import guarantee_sim.engine
from guarantee_sim import load_scenario, simulate
from guarantee_sim.config import ScenarioError
from guarantee_sim.experiments import comparison_table, load_experiment, run_experiment
from guarantee_sim.reporting import build_brief, render_markdown
from guarantee_sim.reporting.sweeps import sweep_figures, sweep_measures, sweep_table
from guarantee_sim.reporting.tables import cost_table
from guarantee_sim.results import lever_dims, stack_levers

HERE = Path(__file__).resolve().parent
BASE = HERE / "invalid" / "_valid_minimal.yaml"
CROSSED_INVALID = HERE / "invalid_experiments" / "grid_point_invalid_with_variant.yaml"
PATHS, SEED = 16, 11

FEE = """\
  - name: guarantor_fee
    key: parties.guarantor.fee_rate
    values: [0.005, 0.01]
    label: {zh: 担保费率, en: guarantee fee}
    units: 1/year
"""
DOWNTURN = """\
  - name: downturn
    key: macro.downturn_z.2021
    values: [0, 1.5, 3]
    label: {zh: 2021年下行冲击, en: downturn shift in 2021}
    units: "1"
"""
#: a per-year lever sets one year of a by-year mapping: the base must have the mapping (the
#: minimal scenario leaves ``macro.downturn_z`` out; Hangzhou's has ``downturn_z: {}``)
BY_YEAR = "overrides:\n  macro.downturn_z: {}\n"
VARIANTS = """\
variants:
  baseline: {label: {zh: 基准方案, en: baseline}}
  no_scheme: {schemes.guaranteed.coverage: 0.0}
"""


def experiment(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\nbase: {BASE}\n{body}", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sweeps")


@pytest.fixture(scope="module")
def fee_sweep(folder):
    """A grid-only sweep of the guarantee fee."""
    return run_experiment(experiment(folder, "fees", "grid:\n" + FEE), paths=PATHS, seed=SEED)


@pytest.fixture(scope="module")
def crossed(folder):
    """Two named variants crossed with a 2 x 3 grid: 12 runs."""
    body = VARIANTS + "counterfactual: no_scheme\n" + BY_YEAR + "grid:\n" + FEE + DOWNTURN
    path = experiment(folder, "crossed", body)
    return run_experiment(path, paths=PATHS, seed=SEED)


def test_lever_coordinates_are_numeric_selectable_and_described(fee_sweep):
    ds = fee_sweep
    assert "scenario" not in ds.dims  # no named variants: the grid's dims only
    assert lever_dims(ds) == ["guarantor_fee"]
    assert ds.guarantor_fee.dtype == np.float64
    assert ds.guarantor_fee.values.tolist() == [0.005, 0.01]
    assert ds["loss"].dims[:2] == ("guarantor_fee", "path")
    point = ds.sel(guarantor_fee=0.01)
    assert point.sizes["path"] == PATHS and "guarantor_fee" not in point.dims
    assert ds.guarantor_fee.attrs == {
        "units": "1/year",
        "long_name": "guarantee fee",
        "label_zh": "担保费率",
        "label_en": "guarantee fee",
        "lever_key": "parties.guarantor.fee_rate",
    }
    # the fee moves the guarantor's fee income, path by path, in proportion
    income = ds.fee_income.sel(party="guarantor").sum("year")
    np.testing.assert_allclose(
        income.sel(guarantor_fee=0.01), 2 * income.sel(guarantor_fee=0.005), rtol=1e-12
    )


def test_the_results_metrics_and_a_plot_work_over_a_lever(fee_sweep):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = fee_sweep
    for metric in (
        ds.gs.depletion_probability(),
        ds.gs.insolvency_probability(),
        ds.gs.loss_summary()["var_99"],
        ds.gs.value_at_risk(),
        ds.gs.expected_shortfall(),
        ds.gs.fiscal_cost_per_lending(),
    ):
        assert "guarantor_fee" in metric.dims
    attained = ds.gs.target_attainment()
    np.testing.assert_array_equal(
        (attained >= 1).mean("path").transpose(*ds.target_probability.dims),
        ds.target_probability,
    )
    lines = ds.target_probability.plot.line(x="guarantor_fee")
    np.testing.assert_array_equal(lines[0].get_xdata(), [0.005, 0.01])
    plt.close("all")


def test_a_grid_crossed_with_named_variants_has_both_dims(crossed):
    ds = crossed
    assert ds["loss"].dims[:4] == ("scenario", "guarantor_fee", "downturn", "path")
    assert dict(ds.sizes)["scenario"] == 2
    assert ds.sizes["guarantor_fee"] == 2 and ds.sizes["downturn"] == 3
    assert list(ds.scenario.values) == ["baseline", "no_scheme"]
    assert ds.downturn.dtype.kind in "if" and ds.downturn.values.tolist() == [0, 1.5, 3]
    # the counterfactual is measured at every grid point
    extra = ds.additional_borrowers.sel(scenario="no_scheme")
    assert float(np.abs(extra).max()) == 0.0
    assert ds.fiscal_cost_per_additional_borrower.dims == ("scenario", "guarantor_fee", "downturn")
    # one design per (variant, grid point) in the comparison's table
    assert len(comparison_table(ds)) == 12
    flat = stack_levers(ds)
    assert flat.sizes["scenario"] == 12
    # [0, 1.5, 3] is a float coordinate: 0 is written 0.0, as in the run's progress
    assert str(flat.scenario.values[0]) == "baseline, guarantor_fee=0.005,downturn=0.0"
    assert flat.variant.values.tolist() == ["baseline"] * 6 + ["no_scheme"] * 6
    # each design is measured against the counterfactual at its own grid point
    assert str(flat.counterfactual_design.values[4]) == "no_scheme, guarantor_fee=0.01,downturn=1.5"
    costs = cost_table(flat).set_index("design")
    design = "baseline, guarantor_fee=0.01,downturn=1.5"
    assert costs.loc[design, "counterfactual"] == "no_scheme, guarantor_fee=0.01,downturn=1.5"
    extra = crossed.fiscal_cost.sum("year").sel(guarantor_fee=0.01, downturn=1.5)
    extra = float((extra.sel(scenario="baseline") - extra.sel(scenario="no_scheme")).mean())
    assert costs.loc[design, "extra_fiscal_cost_mean"] == pytest.approx(extra, rel=1e-12)


def test_a_per_year_lever_moves_only_its_year(crossed):
    """``macro.downturn_z.2021`` shifts 2021's factor: more defaults in 2021's loans."""
    base = crossed.sel(scenario="baseline", guarantor_fee=0.01)
    defaults = base.defaults_count.sum(["segment", "year", "path"])
    assert float(defaults.sel(downturn=0)) < float(defaults.sel(downturn=1.5))
    assert float(defaults.sel(downturn=1.5)) < float(defaults.sel(downturn=3))
    # the year factors are drawn alike: the shift is the only difference
    np.testing.assert_array_equal(
        base.year_factor.sel(downturn=0).values, base.year_factor.sel(downturn=3).values
    )
    assert "downturn_z:\n    '2021': 3.0\n" in str(base.scenario_yaml.sel(downturn=3).values)


def test_levers_whose_keys_end_alike_keep_their_own_dimensions(tmp_path):
    """Two fee rates (the guarantor's and the re-guarantor's): the names of earlier
    versions came from the last key part, 'fee_rate' twice, and one replaced the other."""
    body = (
        "grid:\n"
        + FEE
        + (
            "  - name: fund_fee\n    key: parties.fund.fee_rate\n    values: [0.0, 0.002, 0.004]\n"
            "    label: {zh: 再担保费率, en: re-guarantee fee}\n    units: 1/year\n"
        )
    )
    ds = run_experiment(experiment(tmp_path, "two_fees", body), paths=4, seed=SEED)
    assert lever_dims(ds) == ["guarantor_fee", "fund_fee"]
    assert ds.sizes["guarantor_fee"] == 2 and ds.sizes["fund_fee"] == 3
    for g in (0.005, 0.01):
        for f in (0.0, 0.002, 0.004):
            fee = ds.fee_income.sel(guarantor_fee=g, fund_fee=f).sum(["year", "path"])
            reguarantee = float(ds.reguarantee_fees.sel(guarantor_fee=g, fund_fee=f).sum())
            assert (reguarantee > 0) == (f > 0), (g, f)
            assert float(fee.sel(party="fund")) == pytest.approx(reguarantee, rel=1e-9)
    income = ds.fee_income.sel(party="guarantor", fund_fee=0.0).sum(["year", "path"])
    assert float(income.sel(guarantor_fee=0.01)) == pytest.approx(
        2 * float(income.sel(guarantor_fee=0.005)), rel=1e-12
    )


def test_an_invalid_grid_point_is_refused_before_anything_runs(monkeypatch, capsys):
    """The fee of 2% is valid without the cap ('no_cap', validated first) and refused in
    'capped': nothing may run, and `validate` must say the same."""

    def ran(*args, **kwargs):
        raise AssertionError("a run started before every grid point was validated")

    monkeypatch.setattr(guarantee_sim.engine, "simulate", ran)
    with pytest.raises(ScenarioError) as info:
        run_experiment(CROSSED_INVALID, paths=4)
    text = str(info.value)
    assert f"{CROSSED_INVALID}, line 16, key 'grid.0.values.1'" in text
    assert "grid point 'capped, guarantor_fee=0.02' is not a valid scenario" in text
    rc, out, err = run_main("validate", CROSSED_INVALID)
    assert rc == 2 and out == ""
    assert err.startswith(f"error: {CROSSED_INVALID}, line 16, key 'grid.0.values.1'")
    assert "exceeds the policy fee cap" in err


@pytest.mark.parametrize(
    "variant, at, overrides",
    [
        (None, {"guarantor_fee": 0.01}, ["parties.guarantor.fee_rate=0.01"]),
        (
            "no_scheme",
            {"guarantor_fee": 0.005, "downturn": 1.5},
            [
                "macro.downturn_z={}",
                "schemes.guaranteed.coverage=0.0",
                "parties.guarantor.fee_rate=0.005",
                "macro.downturn_z.2021=1.5",
            ],
        ),
    ],
    ids=["grid-only", "crossed-per-year"],
)
def test_a_grid_point_is_bit_for_bit_the_plain_run(variant, at, overrides, fee_sweep, crossed):
    """Common random numbers: the sweep's numbers at a point are a plain run's with the same
    setting and seed, to the last bit."""
    ds = (fee_sweep if variant is None else crossed.sel(scenario=variant)).sel(at)
    plain = simulate(load_scenario(BASE, overrides=overrides), paths=PATHS, seed=SEED)
    compared = [v for v in plain.data_vars if v in ds]
    assert len(compared) >= 40
    for name in compared:
        np.testing.assert_array_equal(
            ds[name].transpose(*plain[name].dims).values, plain[name].values, err_msg=name
        )


def test_labels_reach_the_table_the_command_line_and_the_brief(crossed, fee_sweep, folder):
    flat = stack_levers(crossed)
    assert str(flat.variant_label_zh.values[0]) == "基准方案, 担保费率 0.005, 2021年下行冲击 0.0"
    assert str(flat.variant_label_en.values[-1]) == ""  # no label: named by its changes
    table = sweep_table(fee_sweep)
    assert table["guarantor_fee"].tolist() == [0.005, 0.01]
    p = sweep_measures(fee_sweep)["p"].sel(measure="target:borrowers")
    np.testing.assert_array_equal(p.values, fee_sweep.target_probability.sel(target="borrowers"))
    assert table["target:borrowers p"].tolist() == p.values.tolist()
    figures = sweep_figures(crossed, "en")
    assert sorted(figures) == ["sweep_downturn", "sweep_guarantor_fee"]
    figure, caption = figures["sweep_guarantor_fee"]
    assert "guarantee fee (%/year)" in caption
    assert len(figure.axes) == 6  # 2 variants x 3 downturns
    assert figure.axes[0].get_xlabel() == "guarantee fee (%/year)"
    assert figure.axes[0].get_title() == "baseline, downturn shift in 2021 0.0"
    brief = build_brief(crossed, "en")
    assert {"sweep_guarantor_fee", "sweep_downturn", "sweep_frontier"} <= set(brief.figures)
    assert len(brief.tables["sweep_frontier"]) == 12  # 12 designs, one target
    from guarantee_sim.reporting.brief import _designs_renamed, design_names

    renamed = _designs_renamed(stack_levers(crossed), design_names(stack_levers(crossed), "en"))
    assert (
        str(renamed.scenario.values[0])
        == "baseline, guarantee fee 0.005, downturn shift in 2021 0.0"
    )
    assert "sweep" in brief.tables and len(brief.tables["sweep"]) == 12
    text = render_markdown(brief)
    assert "guarantee fee (%/year)" in text and "baseline, guarantee fee 0.005" in text
    # the command line: write, then reprint it with the sweep's table
    out = folder / "crossed.nc"
    from guarantee_sim.results import write_netcdf

    write_netcdf(crossed, out)
    rc, printed, err = run_main("summarize", out)
    assert rc == 0, err
    printed = " ".join(printed.split())
    assert "Sweep: probabilities at each grid point" in printed
    assert "guarantee" in printed and "P(borrowers" in printed  # headings wrap at 80
    assert "guarantor_fee=0.01,downturn=3.0" in printed  # 12 designs: each compared
    rc, printed, err = run_main("summarize", out, "--format", "json")
    assert rc == 0, err
    import json

    rows = json.loads(printed)["sweep"]
    assert len(rows) == 12 and rows[-1]["scenario"] == "no_scheme"
    assert (rows[-1]["guarantor_fee"], rows[-1]["downturn"]) == (0.01, 3.0)


def test_lever_names_the_results_use_are_refused_before_xarray_is_imported(fee_sweep, crossed):
    """``validate`` must not import xarray, so the names a lever may not take are written
    out in experiments.RESULT_NAMES: they must cover every name the results use."""
    from guarantee_sim.experiments import RESULT_NAMES
    from guarantee_sim.results.dataset import COORD_META, VARIABLE_META

    used = {*COORD_META, *VARIABLE_META}
    for ds in (fee_sweep, crossed, stack_levers(crossed)):
        used |= {str(n) for n in (*ds.dims, *ds.coords, *ds.data_vars)}
    used -= {"guarantor_fee", "downturn"}
    missing = sorted(used - RESULT_NAMES)
    assert not missing, f"add to guarantee_sim.experiments.RESULT_NAMES: {missing}"


def test_a_set_of_a_levers_key_is_refused_not_ignored(tmp_path):
    """The grid point's value is applied after ``--set``: the --set would never be used."""
    path = experiment(tmp_path, "fees", "grid:\n" + FEE)
    rc, out, err = run_main("validate", path, "--set", "parties.guarantor.fee_rate=0.007")
    assert rc == 2 and out == ""
    assert "--set parties.guarantor.fee_rate=0.007" in err
    assert "the grid's lever 'guarantor_fee' sets 'parties.guarantor.fee_rate'" in err
    rc, _, err = run_main("validate", path, "--set", "parties.guarantor.net_assets=2e8")
    assert rc == 0, err


def test_a_labelled_variant_sets_its_overrides_under_set(tmp_path):
    """The long form ``{label: {zh, en}, set: {...}}``: its overrides come from ``set``,
    each cited at its own line; a short-form variant's are the mapping itself."""
    body = (
        "variants:\n"
        "  cheap:\n"
        "    label: {zh: 低费率, en: low fee}\n"
        "    set:\n"
        "      parties.guarantor.fee_rate: 0.005\n"
        "  plain: {segments.sme.lgd: 0.4}\n"
    )
    path = experiment(tmp_path, "labelled", body)
    loaded = load_experiment(path)
    assert loaded.changes("cheap") == {"parties.guarantor.fee_rate": 0.005}
    assert loaded.variant_label("cheap") == {"zh": "低费率", "en": "low fee"}
    assert loaded.variant_label("plain") == {}
    located = loaded.located_overrides()
    assert [(o.key, o.value, o.line) for o in located["cheap"]] == [
        ("parties.guarantor.fee_rate", 0.005, 7)
    ]
    assert loaded.variant_overrides() == {
        "cheap": {"parties.guarantor.fee_rate": 0.005},
        "plain": {"segments.sme.lgd": 0.4},
    }


def test_public_cost_and_outcome_metrics_over_levers_are_each_grid_point_s(crossed):
    """Over a sweep's levers (and named variants) every public-cost and outcome metric
    gives, at each grid point, what it gives on that point's results alone."""
    from guarantee_sim.results import cost
    from guarantee_sim.results.outcomes import design_outcomes

    metrics = {
        "public_cost_pv": cost.public_cost_pv,
        "zero_subsidy_fee": cost.zero_subsidy_fee,
        "years_to_exhaustion": cost.years_to_exhaustion,
        "break_even_fee": cost.break_even_fee,
        "design_outcomes": lambda ds: design_outcomes(ds, intervals=True),
    }
    dims = ["scenario", *lever_dims(crossed)]
    assert len(dims) == 3
    for name, metric in metrics.items():
        whole = metric(crossed)
        for at in ({"scenario": 0, "guarantor_fee": 1, "downturn": 2},
                   {"scenario": 1, "guarantor_fee": 0, "downturn": 1}):  # fmt: skip
            alone = metric(crossed.isel(at))
            for var in alone.data_vars:
                got = whole[var].isel(at).transpose(*alone[var].dims)
                np.testing.assert_allclose(got.values, alone[var].values, err_msg=f"{name}.{var}")
