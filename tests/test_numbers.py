"""Every number in a scenario is a finite number, never a boolean, and YAML 1.2 reads it.

NaN and infinity passed wherever a key had no bounds (``macro.correlation: [[.nan]]`` gave 17
times the defaults; ``count_per_year: .inf`` made no loans) and YAML booleans were read as 1
and 0. Here every number of the shipped scenarios is replaced by each of them at once, and
each must be refused at its own key.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mutations import NOT_NUMBERS, dotted, expect_clean_error, numeric_leaves, problem_keys

from guarantee_sim import Scenario
from guarantee_sim.config import ScenarioError, load_scenario, read_yaml
from guarantee_sim.config.loader import model_from_dict

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "tests/invalid/_valid_minimal.yaml", *sorted((ROOT / "scenarios").glob("*.yaml"))]


def _replace_all(node, value):
    if isinstance(node, dict):
        return {k: _replace_all(v, value) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_all(v, value) for v in node]
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return value
    return node


@pytest.mark.parametrize("text", list(NOT_NUMBERS))
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_number_refuses_booleans_nan_and_infinity(path, text):
    value, words = NOT_NUMBERS[text]
    data, lines = read_yaml(path)
    leaves = [dotted(p) for p in numeric_leaves(data)]
    with pytest.raises(ScenarioError) as info:
        model_from_dict(_replace_all(data, value), Scenario, source=str(path), lines=lines)
    named = set(problem_keys(info.value))
    assert not [k for k in leaves if k not in named], f"{text} accepted at these keys"
    assert all(words in p for p in info.value.problems if "key '" in p), info.value.problems


@pytest.mark.parametrize("text", ["true", ".nan", ".inf"])
def test_a_set_override_is_refused_at_its_key(text):
    path = ROOT / "tests/invalid/_valid_minimal.yaml"
    key = "parties.guarantor.fee_rate"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides=[f"{key}={text}"])
    assert not expect_clean_error(info.value, str(path), key, NOT_NUMBERS[text][1])
    assert f"--set {key}={text}" in str(info.value)


@pytest.mark.parametrize(
    "override",
    [
        "parties.guarantor.fee_rate={2021: true}",  # per-year value
        "segments.sme.lgd={value: .nan, source: x}",  # sourced value
        "macro.downturn_z={2021: .inf}",  # mapping of numbers
        "simulation.cohort_size_bands=[1.0e6, .inf]",  # list of numbers
        "segments.sme.lgd={dist: beta, alpha: true, beta: 2, min: 0, max: 1}",  # a shape
        "segments.sme.lgd={dist: uniform, min: 0.1, max: .nan}",  # a distribution's bound
    ],
)
def test_inside_the_value_grammar_too(override):
    with pytest.raises(ScenarioError, match=r"finite number|not true/false"):
        load_scenario(ROOT / "tests/invalid/_valid_minimal.yaml", overrides=[override])


def test_integers_stay_fine_floats_and_integral_floats_fine_integers():
    """Strict types must not break ``fee_rate: 1``-style integers or ``paths: 1e3``."""
    s = load_scenario(
        ROOT / "tests/invalid/_valid_minimal.yaml",
        overrides=["parties.guarantor.fee_rate=0", "simulation.paths=1e3", "segments.sme.lgd=1"],
    )
    assert s.parties["guarantor"].fee_rate == 0.0 and s.simulation.paths == 1000
    assert s.segments["sme"].lgd == 1.0
    assert not isinstance(s.simulation.paths, bool)


def test_booleans_stay_booleans_where_a_boolean_is_asked():
    s = load_scenario(
        ROOT / "tests/invalid/_valid_minimal.yaml", overrides=["policy.fee_cap.enabled=false"]
    )
    assert s.policy.fee_cap.enabled is False


# --------------------------------------------------------------------------- YAML 1.2


def _minimal_with(tmp_path, old: str, new: str) -> Path:
    text = (ROOT / "tests/invalid/_valid_minimal.yaml").read_text(encoding="utf-8")
    assert text.count(old) == 1
    path = tmp_path / "scenario.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "written, read",
    [("024", 24), ("0o30", 24), ("0x18", 24), ("24.0", 24), ("2.4e1", 24)],
)
def test_yaml_1_2_integers(tmp_path, written, read):
    """YAML 1.1 read 024 as 20 (octal); YAML 1.2 reads it as 24, and 0o30 as octal."""
    path = _minimal_with(tmp_path, "  runoff_months: 24 ", f"  runoff_months: {written} ")
    assert load_scenario(path).horizon.runoff_months == read


@pytest.mark.parametrize("written", ["1:00", "yes", "on", "24 months"])
def test_yaml_1_1_forms_are_not_numbers(tmp_path, written):
    """1:00 was 60 and yes/on were true in YAML 1.1; in 1.2 they are text, so an error."""
    path = _minimal_with(tmp_path, "  runoff_months: 24 ", f"  runoff_months: {written} ")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.key == "horizon.runoff_months" and info.value.line == 9
