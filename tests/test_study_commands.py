"""Each command told the kind of file it was given, and the sensitivity brief's words.

A sensitivity study (``base`` and a ``sensitivity:`` section) given to ``compare``,
``sweep``, ``design`` or ``run`` is named as a study with the command to use, and an
experiment or a scenario given to ``sensitivity`` likewise (before, the generic schema
error of the wrong kind of file). A key both varied by a study parameter and fixed by the
study's ``overrides:`` is refused with file, line and key. The sensitivity brief names a
target by its label (zh) or its id in words (en), as the other briefs do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, run_main

from guarantee_sim.analysis.sensitivity import Parameter, plan_study, sensitivity_dataset
from guarantee_sim.config import ScenarioError
from guarantee_sim.reporting import build_brief, render_markdown
from guarantee_sim.results.sensitivity import with_target_labels

COUNTY = ROOT / "scenarios" / "county_guarantee_2021.yaml"
STUDY = "name: s\nbase: {base}\npaths: 10\nseed: 3\n{extra}sensitivity:\n  method: morris\n  n: 2\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["compare", "sweep", "design", "run"])
def test_a_study_given_to_another_command_is_named_with_the_command_to_use(tmp_path, command):
    study = write(tmp_path, "study.yaml", STUDY.format(base=COUNTY, extra=""))
    rc, _, err = run_main(command, study)
    assert rc == 2
    assert "is a sensitivity study" in err and f"guarantee-sim sensitivity {study}" in err


@pytest.mark.parametrize(
    "text, said",
    [
        ("name: e\nbase: {base}\nvariants: {{a: {{}}}}\n", "is an experiment file"),
        ("name: e\nbase: {base}\ndesign: {{}}\n", "guarantee-sim design"),
    ],
)
def test_an_experiment_given_to_sensitivity_is_named_with_the_command_to_use(tmp_path, text, said):
    path = write(tmp_path, "experiment.yaml", text.format(base=COUNTY))
    rc, _, err = run_main("sensitivity", path)
    assert rc == 2 and said in err and "not a sensitivity study" in err


def test_a_scenario_given_to_sensitivity_is_named(tmp_path):
    rc, _, err = run_main("sensitivity", COUNTY)
    assert rc == 2 and "is a scenario file" in err and f"guarantee-sim run {COUNTY}" in err


@pytest.mark.parametrize(
    "extra, parameters",
    [
        # a parameter of the study's own, and the same key in overrides
        ("overrides:\n  segments.first_time.pd.mean: 0.03\n",
         "  parameters:\n    - {name: pd, key: segments.first_time.pd.mean, min: 0.01, "
         "max: 0.05}\n"),
        # a whole section overridden, a key inside it varied
        ("overrides:\n  segments.first_time.pd: {mean: 0.03}\n",
         "  parameters:\n    - {name: pd, key: segments.first_time.pd.mean, min: 0.01, "
         "max: 0.05}\n"),
    ],
)  # fmt: skip
def test_a_key_both_varied_and_overridden_is_refused(tmp_path, extra, parameters):
    text = STUDY.format(base=COUNTY, extra=extra) + parameters
    path = write(tmp_path, "study.yaml", text)
    with pytest.raises(ScenarioError) as err:
        plan_study(path)
    said = str(err.value)
    assert "study.yaml" in said and "line 6" in said
    assert "key 'overrides.segments.first_time.pd" in said and "not both" in said
    rc, _, printed = run_main("validate", path)  # validate catches it too
    assert rc == 2 and "not both" in printed


def _study(target_labels: bool, indices=None):
    outputs = ["target_probability.first_time_borrowers", "public_cost_pv"]
    lgd = Parameter(
        name="lgd",
        keys=("segments.first_time.lgd",),
        units="1",
        label_zh="违约损失率",
        label_en="LGD",
        distributions=(None,),
        low=0.3,
        high=0.6,
        whole=(False,),
    )
    ds = sensitivity_dataset(
        method="sobol",
        params=[lgd],
        outputs=outputs,
        quantiles=np.zeros((3, 1)),
        y=np.zeros((3, 2)),
        indices=np.full((2, 1, 4), 0.5) if indices is None else indices,
        attrs={"runs": 0, "n_paths": 10, "n_base_samples": 8, "study": "s", "seed": 1},
    )
    return with_target_labels(ds, {"first_time_borrowers": "新增首贷户"}) if target_labels else ds


@pytest.mark.parametrize(
    "lang, labelled, said",
    [
        ("zh", True, "达成 新增首贷户 的概率"),
        ("en", True, "P(first time borrowers reached)"),
        ("en", False, "P(first time borrowers reached)"),  # a study written before labels
    ],
)
def test_the_sensitivity_brief_names_targets_by_label(lang, labelled, said):
    text = render_markdown(build_brief(_study(labelled), lang))
    assert said in text and "first_time_borrowers" not in text


def test_a_study_s_results_carry_its_targets_labels(tmp_path, monkeypatch):
    """run_study records each target output's label (the scenario's wording) beside it."""
    import xarray as xr

    from guarantee_sim.analysis.sensitivity import run_study

    text = STUDY.format(base=COUNTY, extra="") + (
        "  outputs: [target_probability.first_time_borrowers, public_cost_pv]\n"
    )
    plan = plan_study(write(tmp_path, "study.yaml", text))

    def evaluate(base, points, *, paths, seed, on_point=None, **_):  # no simulation: one each
        return [
            xr.Dataset(
                {"target_probability": ("target", [0.1 * k]), "public_cost_pv": float(k)},
                coords={"target": ["first_time_borrowers"]},
            )
            for k, _ in enumerate(points)
        ]

    monkeypatch.setattr("guarantee_sim.analysis.sensitivity.evaluate_points", evaluate)
    ds = run_study(plan)
    assert ds.output_target_label.values.tolist() == ["新增首贷户（户）", ""]


@pytest.mark.parametrize(
    "lang, mark, said",
    [("en", "(not resolved)", "Not resolved at this size"), ("zh", "（未能分辨）", "未能分辨")],
)
def test_indices_of_noise_are_marked_not_resolved(lang, mark, said):
    """The full-size county study's P(首贷户 target) got ST = 2.3 ± 1.9: an output that moves
    by a few paths' worth over the sample. Its row is marked and a paragraph says why; an
    output whose total index is known to ± 0.1 is not."""
    indices = np.array([[[2.4, 2.0, 2.3, 1.9]], [[0.9, 0.1, 0.95, 0.1]]])  # S1, ±, ST, ±
    text = render_markdown(build_brief(_study(True, indices), lang))
    rows = [line for line in text.splitlines() if line.startswith("|")]
    noisy = [r for r in rows if "2.30 ± 1.90" in r]
    clear = [r for r in rows if "0.95 ± 0.10" in r]
    assert len(noisy) == 1 and mark in noisy[0]
    assert len(clear) == 1 and mark not in clear[0]
    assert said in text.replace(mark, "")


def test_summarize_reprints_a_study_s_indices_and_refuses_json(tmp_path):
    """``summarize`` of a sensitivity study's file printed a traceback (it read the file
    as a run's: no ``path`` dimension); it reprints the indices the study printed, and
    ``--format json`` (a run's or a comparison's tables) is refused by name."""
    from guarantee_sim.results.io import write_netcdf

    indices = np.array([[[2.4, 2.0, 2.3, 1.9]], [[0.9, 0.1, 0.95, 0.1]]])  # S1, ±, ST, ±
    path = write_netcdf(_study(True, indices), tmp_path / "study.nc")
    rc, out, err = run_main("summarize", path)
    assert rc == 0, err
    assert "lgd" in out and "0.95±0.1" in out and "2.3±1.9" in out
    assert "not resolved at this size" in out and "first_time_borrowers" in out
    rc, out, err = run_main("summarize", path, "--format", "json")
    assert rc == 2 and "a sensitivity study's results" in err and "guarantee-sim brief" in err
    assert "Traceback" not in err
