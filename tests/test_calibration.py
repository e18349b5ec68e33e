"""Calibration by simulated moments (analysis/calibration.py): parameters used to simulate
"observed" data are recovered within 2 standard errors, rank-deficient problems are caught
and named, and a bad observed file is reported with file, line and key.

The scenario is the suite's volume-fed base (one segment, 120 loans of 1 m a year, PD 2%,
LGD 50%, coverage 80% to the guarantor) over two years: an evaluation costs ~0.1 s.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import xarray as xr
from conftest import base_scenario_dict

from guarantee_sim.analysis.calibration import calibrate, identify, simulate_moments
from guarantee_sim.analysis.observed import Observed, load_observed
from guarantee_sim.config import ScenarioError

TRUTH = {
    "segments.sme.lending.count_per_year": 120.0,
    "segments.sme.pd.mean": 0.02,
    "segments.sme.lgd": 0.5,
}
MOMENTS = [
    {"name": "loans_2021", "variable": "loans_count", "select": {"year": 2021}},
    {"name": "loans_2022", "variable": "loans_count", "select": {"year": 2022}},
    {"name": "defaults", "variable": "defaults_count"},
    {"name": "credit_loss", "variable": "credit_loss"},
    {"name": "payout", "variable": "payout", "select": {"party": "guarantor"}},
]
PATHS = 1000


def _scenario() -> dict:
    d = copy.deepcopy(base_scenario_dict())
    d["horizon"]["origination_years"] = 2
    return d


def _observed(values, ses, parameters, moments=MOMENTS) -> Observed:
    moments = [
        {**m, "value": float(v), "se": float(s), "source": "illustrative"}
        for m, v, s in zip(moments, values, ses, strict=True)
    ]
    return Observed(name="test", parameters=parameters, moments=moments)


def _bounds(truth: dict) -> list[dict]:
    """Bounds from half to double the truth; start 30% above it."""
    return [
        {"key": k, "lower": v * 0.5, "upper": v * 2.0, "start": v * 1.3} for k, v in truth.items()
    ]


@pytest.fixture(scope="module")
def fitted() -> xr.Dataset:
    """Observed: the simulated moments at the truth (seed 7) plus a 2% measurement error
    drawn once; fitted at another seed (8), so the paths differ (the simulation's own noise)
    as well as the measurement."""
    scenario, parameters = _scenario(), _bounds(TRUTH)
    placeholder = _observed([1.0] * len(MOMENTS), [1.0] * len(MOMENTS), parameters)
    at_truth = simulate_moments(scenario, TRUTH, placeholder.moments, paths=PATHS, seed=7)
    measurement = 0.02 * np.abs(at_truth.mean)
    noise = np.random.default_rng(2026).normal(0.0, measurement)
    ses = np.sqrt(measurement**2 + np.diag(at_truth.path_cov) / PATHS)
    observed = _observed(at_truth.mean + noise, ses, parameters)
    return calibrate(scenario, observed, paths=PATHS, seed=8)


def test_three_parameters_recovered_within_two_standard_errors(fitted):
    for key, truth in TRUTH.items():
        row = fitted.sel(parameter=key)
        estimate, se = float(row.estimate), float(row.std_error)
        span = float(row.upper - row.lower)
        assert abs(estimate - truth) <= 2 * se, (key, estimate, truth, se)
        assert 0 < se < 0.25 * span, (key, se, span)  # informative, not absurdly wide
        assert int(row.identified) == 1
    assert int(fitted.jacobian_rank) == 3
    assert int(fitted.j_df) == 2 and np.isfinite(float(fitted.j_statistic))


def test_fit_reports_each_moment(fitted):
    assert fitted.sizes == {"parameter": 3, "moment": len(MOMENTS)}
    residual = (fitted.simulated - fitted.observed) / np.sqrt(
        fitted.observed_se**2 + fitted.simulated_se**2
    )
    np.testing.assert_allclose(fitted.standardised_residual, residual, rtol=1e-9)
    assert np.all(np.abs(fitted.standardised_residual) < 3)
    for name in fitted.data_vars:
        assert {"units", "long_name"} <= set(fitted[name].attrs), name


def test_jacobian_known_directions(fitted):
    """Loans depend on the count alone; credit loss rises with PD and LGD; the payout
    (cash for defaults, before recoveries) does not depend on LGD."""
    g = fitted.jacobian
    count, pd_key, lgd = TRUTH
    assert float(g.sel(moment="loans_2021", parameter=pd_key)) == 0.0
    assert float(g.sel(moment="loans_2021", parameter=count)) > 0.0
    assert float(g.sel(moment="credit_loss", parameter=pd_key)) > 0.0
    assert float(g.sel(moment="credit_loss", parameter=lgd)) > 0.0
    assert float(g.sel(moment="payout", parameter=lgd)) == 0.0


def _refusal(parameters: dict, moments=MOMENTS) -> str:
    scenario = _scenario()
    values = {"loans_2021": 120.0, "loans_2022": 120.0, "defaults": 4.8}
    values |= {"credit_loss": 2.4e6, "payout": 3.9e6}
    ses = {"loans_2021": 5.0, "loans_2022": 5.0, "defaults": 0.2}
    ses |= {"credit_loss": 1e5, "payout": 1e5}
    names = [m["name"] for m in moments]
    observed = _observed(
        [values[n] for n in names], [ses[n] for n in names], _bounds(parameters), moments
    )
    with pytest.raises(ScenarioError) as err:
        calibrate(scenario, observed, paths=200, seed=3, source="obs.yaml")
    return str(err.value)


def test_parameter_no_moment_depends_on_is_refused():
    message = _refusal({**TRUTH, "parties.guarantor.operating_cost_rate": 0.005})
    assert "do not identify parties.guarantor.operating_cost_rate " in message
    assert "obs.yaml" in message and "parameters.3.key" in message
    for key in TRUTH:
        assert key not in message.split("identify")[1].split("at the start")[0]


def test_parameters_entering_only_as_a_product_are_refused():
    """With every loan exactly its median (sigma 0) the guarantor's payout is
    coverage x median x defaults, and no other moment depends on either (credit loss,
    which depends on the median alone, is left out): only their product is identified."""
    message = _refusal(
        {
            "segments.sme.lending.count_per_year": 120.0,
            "schemes.guaranteed.coverage": 0.4,
            "segments.sme.loan_size.median": 1.0e6,
        },
        [m for m in MOMENTS if m["name"] != "credit_loss"],
    )
    named = message.split("identify")[1].split("at the start")[0]
    assert "schemes.guaranteed.coverage" in named and "segments.sme.loan_size.median" in named
    assert "count_per_year" not in named


def test_identify_by_hand():
    j = np.array([[1.0, 2.0, 0.0], [2.0, 4.0 + 1e-9, 0.0], [0.0, 0.0, 3.0]])
    found = identify(j, ["a", "b", "c"])
    assert found.rank == 2 and found.unidentified == ("a", "b")
    assert found.condition > 1e8
    full = identify(np.eye(2) * [2.0, 1.0], ["x", "y"])
    assert (full.rank, full.condition, full.unidentified) == (2, 2.0, ())


# ---------------------------------------------------------------- the observed file

GOOD = """\
name: t
parameters:
  - key: segments.sme.pd.mean
    lower: 0.01
    upper: 0.04
    start: 0.02
moments:
  - name: defaults
    variable: defaults_count
    value: 4.8
    se: 0.2
    source: illustrative
"""


def _error(tmp_path, text: str, scenario: dict | None = None) -> ScenarioError:
    path = tmp_path / "observed.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as err:
        observed, lines = load_observed(path)
        calibrate(
            scenario or _scenario(), observed, paths=20, seed=1, source=str(path), lines=lines
        )
    return err.value


@pytest.mark.parametrize(
    ("change", "line", "key", "says"),
    [
        (("    se: 0.2\n", ""), 8, "moments.0.se", "give exactly one of se"),
        (("defaults_count", "defaults"), 9, "moments.0.variable", "unknown results variable"),
        (("    start: 0.02", "    start: 0.05"), 6, "parameters.0.start", "must lie in"),
        (("segments.sme.pd.mean", "segments.sme.pd.level"), 3, "parameters.0.key", "level"),
        (
            ("    value: 4.8", "    select: {tags: [credit]}\n    value: 4.8"),
            10,
            "moments.0.select.tags.0",
            "no segment has this tag",
        ),
        (
            ("    value: 4.8", "    select: {year: 2030}\n    value: 4.8"),
            10,
            "moments.0.select.year",
            "outside the scenario's years",
        ),
        (("defaults_count", "payout"), 8, "moments.0.select", "select a party"),  # the moment
        (("defaults_count", "approvals"), 9, "moments.0.variable", "lending_source: processes"),
    ],
)
def test_bad_observed_file_names_file_line_key(tmp_path, change, line, key, says):
    err = _error(tmp_path, GOOD.replace(*change))
    text = str(err)
    assert str(tmp_path / "observed.yaml") in text
    assert f"line {line}" in text, text
    assert f"key '{key}'" in text, text
    assert says in text, text


def test_fewer_moments_than_parameters_refused(tmp_path):
    extra = GOOD.replace(
        "moments:",
        "  - key: segments.sme.lgd\n    lower: 0.2\n    upper: 0.9\n    start: 0.5\nmoments:",
    )
    assert "1 moments cannot identify 2 parameters" in str(_error(tmp_path, extra))


def test_cli_calibrates_and_writes(tmp_path, capsys):
    """End to end: one parameter, exactly identified, from a scenario file; the calibrated
    scenario written beside it loads with the fitted value and keeps the base's comments."""
    import yaml

    from guarantee_sim.cli import main
    from guarantee_sim.config import load_scenario

    scenario = tmp_path / "scenario.yaml"
    text = yaml.safe_dump(_scenario(), sort_keys=False, allow_unicode=True)
    scenario.write_text("# the suite's base: one segment\n" + text, encoding="utf-8")
    observed = tmp_path / "observed.yaml"
    observed.write_text(GOOD, encoding="utf-8")
    out, fitted = tmp_path / "fit.nc", tmp_path / "fitted.yaml"
    argv = ["calibrate", str(scenario), "--observed", str(observed), "--paths", "200"]
    assert main([*argv, "--seed", "5", "--out", str(out), "--write-scenario", str(fitted)]) == 0
    printed = " ".join(capsys.readouterr().out.split())  # as read, whatever the wrapping
    assert "Calibration: fitted parameters" in printed and "exactly identified" in printed
    assert "3 to 124 evaluations" in printed  # said before launch: 2 k + 1, 4 k + (k + 1) 60
    with xr.open_dataset(out) as ds:
        assert ds.sizes == {"parameter": 1, "moment": 1}
        assert abs(float(ds.simulated[0]) - 4.8) < 0.05  # the fit hits an exact moment
        estimate = float(ds.estimate.sel(parameter="segments.sme.pd.mean"))
    written = fitted.read_text(encoding="utf-8")
    assert written.startswith("# Calibrated by guarantee-sim calibrate")
    assert str(observed) in written and "# the suite's base: one segment" in written
    got, base = load_scenario(fitted), load_scenario(scenario)
    assert got.segments["sme"].pd.mean == estimate != base.segments["sme"].pd.mean
    assert got.model_copy(update={"segments": base.segments}) == base  # nothing else moved
    assert main([*argv, "--parameters", "segments.sme.lgd"]) == 2
    assert "not among the parameters" in capsys.readouterr().err


def test_shipped_observed_file_is_valid_for_its_scenario():
    """Every parameter's start and bounds load into the Hangzhou scenario, every moment is
    one it produces, and every value cites the seed (004) or says it is illustrative."""
    from guarantee_sim.analysis.calibration import _checked_scenario

    path = "experiments/observed/hangzhou_2021_2023.yaml"
    observed, lines = load_observed(path)
    scenario = "scenarios/hangzhou_2021_2023.yaml"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no implausible value at the start
        _checked_scenario(scenario, observed, observed.parameters, path, lines)
    assert len(observed.moments) > len(observed.parameters)  # over-identified: a J statistic
    for moment in observed.moments:
        assert moment.source.startswith(("004, ", "illustrative")), moment.source


def test_weights_without_standard_errors_warn_and_give_no_j(tmp_path):
    """Weights instead of standard errors: relative residuals, a warning, no J statistic,
    and standard errors from the paths' own spread (the observed as one path)."""
    from guarantee_sim.analysis.calibration import CalibrationWarning

    text = GOOD.replace("    se: 0.2\n", "    weight: 1\n").replace(
        "    source: illustrative\n",
        "    source: illustrative\n  - name: loss\n    variable: credit_loss\n"
        "    value: 2.4e6\n    weight: 1\n    source: illustrative\n",
    )
    path = tmp_path / "observed.yaml"
    path.write_text(text, encoding="utf-8")
    observed, lines = load_observed(path)
    with pytest.warns(CalibrationWarning, match="no standard errors"):
        ds = calibrate(_scenario(), observed, paths=200, seed=1, source=str(path), lines=lines)
    assert np.isnan(float(ds.j_statistic)) and int(ds.j_df) == 1
    assert np.isnan(ds.observed_se).all()
    # one history of 240 loans says little about a 2% PD under a credit cycle: a wide SE
    se = float(ds.std_error.sel(parameter="segments.sme.pd.mean"))
    assert 0.002 < se < 0.05


def test_estimate_on_its_bound_is_said(tmp_path):
    """Defaults of 4.8 need a PD near 2%; bounds of 0.5-1.2% put the estimate on the upper
    one, where the standard error does not apply."""
    from guarantee_sim.analysis.calibration import CalibrationWarning

    text = GOOD.replace("lower: 0.01", "lower: 0.005").replace("upper: 0.04", "upper: 0.012")
    path = tmp_path / "observed.yaml"
    path.write_text(text.replace("start: 0.02", "start: 0.008"), encoding="utf-8")
    observed, lines = load_observed(path)
    with pytest.warns(CalibrationWarning, match="at its upper bound"):
        ds = calibrate(_scenario(), observed, paths=200, seed=1, source=str(path), lines=lines)
    assert float(ds.estimate[0]) == pytest.approx(0.012, abs=1e-4)
