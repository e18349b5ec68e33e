"""Every mistake in an experiment file names the file, the line and the dotted key.

The invalid experiments live in ``tests/invalid_experiments/``, with the header of the
scenario corpus (``tests/test_validation.py``): ``# INVALID:``, ``# expect-key:``,
``# expect-message:`` and the marker ``# <- error`` on the offending line. Experiment-level
errors used to name neither key nor line (and echo the whole experiment); a variant named
like a grid point replaced it silently, and a grid key without values ended in a traceback.
Every grid point of every named variant is validated (``grid_point_invalid_with_variant``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_validation import _where_problems, expectations

from guarantee_sim.config import ScenarioError
from guarantee_sim.experiments import is_experiment, load_experiment, variant_scenarios

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "invalid_experiments"
INVALID = sorted(p for p in CORPUS.glob("*.yaml") if not p.name.startswith("_"))
SHIPPED = sorted((HERE.parent / "experiments").glob("*.yaml"))


def experiment_error(path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        variant_scenarios(path, load_experiment(path))
    return info.value


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_experiment_names_file_key_line_and_problem(path):
    exp = expectations(path)
    err = experiment_error(path)
    message = str(err)
    wrong = _where_problems(err, message, path, exp)
    wrong += [f"message does not contain {t!r}" for t in exp["messages"] if t not in message]
    if "{'name':" in message:
        wrong.append("message echoes the whole experiment as the offending value")
    assert not wrong, f"{path.name}:\n  - " + "\n  - ".join(wrong) + f"\n--- message:\n{message}"


@pytest.mark.parametrize("path", [*SHIPPED, CORPUS / "_valid.yaml"], ids=lambda p: p.name)
def test_shipped_experiments_validate(path):
    assert variant_scenarios(path, load_experiment(path))


def test_the_corpus_covers_the_experiment_level_errors():
    names = {p.stem for p in INVALID}
    assert {
        "no_variants",
        "grid_value_twice",
        "grid_old_form",
        "grid_name_taken",
        "grid_name_twice",
        "grid_key_twice",
        "grid_key_in_variant",
        "grid_value_not_number",
        "grid_point_invalid_with_variant",
        "counterfactual_grid_point",
        "variant_label_malformed",
        "grid_without_values",
        "counterfactual_unknown",
        "base_missing",
        "base_is_an_experiment",
        "base_not_a_scenario",
        "base_not_yaml",
        "variant_invalid",
        "variant_unknown_key",
        "grid_value_invalid",
    } <= names


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"name": "x", "base": "s.yaml", "variants": {}}, True),
        ({"name": "x", "base": "s.yaml", "horizon": {}, "segments": {}}, False),
        ({"name": "x", "horizon": {}}, False),
    ],
)
def test_an_experiment_is_told_from_a_scenario(data, expected):
    assert is_experiment(data) is expected


def test_a_base_that_is_not_a_scenario_is_named_by_its_keys_not_its_values(tmp_path):
    """A base pointing at a settings file printed its token in 'Extra inputs (got ...)'."""
    err = experiment_error(CORPUS / "base_not_a_scenario.yaml")
    assert "do-not-echo" not in str(err) and "api_token" in str(err)
    # a scenario with one top-level key too many is refused the same way: names only
    scenario = (HERE / "invalid" / "_valid_minimal.yaml").read_text(encoding="utf-8")
    (tmp_path / "base.yml").write_text(scenario + "password: hunter2\n", encoding="utf-8")
    (tmp_path / "e.yaml").write_text("name: e\nbase: base.yml\nvariants: {a: {}}\n")
    err = experiment_error(tmp_path / "e.yaml")
    assert "top-level keys no scenario has (password)" in str(err)
    assert "hunter2" not in str(err)
