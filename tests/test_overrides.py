"""One override parser for ``--set``, experiments and ``make_scenario``; the CLI's errors.

Every way of changing a scenario by dotted key goes through ``config.parse_overrides``:
values are read as YAML exactly like a file's, and a mistake names ``--set`` (or the
experiment file and line that holds the override). ``cli.main`` turns only a user's
mistake (ScenarioError, OSError of the user's files) into a one-line error.
"""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path

import pytest
from conftest import make_scenario

from guarantee_sim import cli
from guarantee_sim.config import (
    Override,
    ScenarioError,
    load_scenario,
    parse_overrides,
    read_yaml,
)
from guarantee_sim.config.loader import parse_override
from guarantee_sim.experiments import load_experiment, variant_scenarios

HERE = Path(__file__).resolve().parent
GOOD = HERE / "invalid" / "_valid_minimal.yaml"
COUNTY = HERE.parent / "experiments" / "county_fee_and_coverage.yaml"


def write(tmp_path, name, text) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def experiment(tmp_path, variants: str) -> Path:
    """An experiment on the compact scenario; ``variants`` is the YAML under ``variants:``."""
    return write(
        tmp_path,
        "experiment.yaml",
        f"name: trial\nbase: {GOOD}\noverrides:\n  segments.sme.lgd: 0.4\nvariants:\n"
        + textwrap.indent(textwrap.dedent(variants), "  "),
    )


# --------------------------------------------------------------------------- the parser


@pytest.mark.parametrize(
    "text, value",
    [
        ("a.b=0.5", 0.5),
        ("a.b=1e8", 1e8),  # YAML 1.2: a float (PyYAML's YAML 1.1 read a string)
        ("a.b=yes", "yes"),  # YAML 1.2: no more yes/no/on/off booleans
        ("a.b=true", True),
        ("a.b={2021: 0.01, 2022: 0.008}", {2021: 0.01, 2022: 0.008}),
        ("a.b=[1, 2]", [1, 2]),
        ("a.b=x=y", "x=y"),
        ("a.b=", None),
        ("a.b=首贷户", "首贷户"),
    ],
)
def test_set_values_are_read_like_a_file(text, value, tmp_path):
    override = parse_override(text)
    assert override.key == "a.b" and override.value == value
    assert type(override.value) is type(value)  # plain Python types, not ruamel's
    data, _ = read_yaml(write(tmp_path, "f.yaml", f"b: {text.partition('=')[2]}\n"))
    assert data["b"] == value


def test_every_form_of_overrides_gives_the_same_changes():
    texts = parse_overrides(["a.b=0.5", "c=[1, 2]"])
    mapping = parse_overrides({"a.b": "0.5", "c": [1, 2]})
    assert [(o.key, o.value) for o in texts] == [(o.key, o.value) for o in mapping]
    assert parse_overrides("a.b=0.5")[0].value == 0.5
    assert parse_overrides(None) == []
    given = Override("a.b", "0.5", "a.b=0.5", path="x.yaml", line=3)
    assert parse_overrides([given]) == [given]  # from a file: the value is already typed


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        (["policy.lpr=[1,"], "value is not valid YAML"),
        (["policy.lpr=!foo 1"], "unsupported YAML tag !foo"),
        (["policy.lpr"], "malformed override '--set policy.lpr'"),
        (["policy..lpr=1"], "malformed key 'policy..lpr'"),
        ({"policy.lpr": "[1,"}, "value is not valid YAML"),
    ],
)
def test_malformed_overrides_are_scenario_errors(overrides, fragment):
    with pytest.raises(ScenarioError) as info:
        load_scenario(GOOD, overrides=overrides)
    assert fragment in str(info.value)
    assert str(GOOD) in str(info.value)


@pytest.mark.parametrize(
    ("written", "decimal"),
    [("0.8%", "0.008"), ("12 %", "0.12"), ("2%", "0.02"), ("0.05%", "0.0005")],
)
def test_a_percent_where_a_rate_goes_says_to_write_the_decimal(written, decimal):
    with pytest.raises(ScenarioError) as info:
        make_scenario(**{"parties.guarantor.fee_rate": written})
    message = str(info.value)
    assert "key 'parties.guarantor.fee_rate'" in message
    assert f"write {decimal} for {written.replace(' ', '')}" in message


def test_a_section_the_file_leaves_out_can_be_set():
    """The compact scenario has no fee_subsidy: --set starts it (it is a field of the
    schema); a misspelt section or party is still refused."""
    scenario = load_scenario(GOOD, overrides=["policy.fee_subsidy.rate=0.004"])
    assert scenario.policy.fee_subsidy.rate == 0.004
    with pytest.raises(ScenarioError) as info:
        load_scenario(GOOD, overrides=["policy.interest_subsidy.share_of_lpr=0.5"])
    missing = info.value.problems[0]  # the section it started lacks required keys
    assert "--set policy.interest_subsidy.share_of_lpr=0.5" in missing
    assert "key 'policy.interest_subsidy.max_amount_per_firm': Field required" in missing
    with pytest.raises(ScenarioError, match="no key 'polcy' under the top level"):
        load_scenario(GOOD, overrides=["polcy.lpr=0.03"])


def test_make_scenario_uses_the_same_parser():
    assert make_scenario(**{"policy.lpr": "0.03"}).policy.lpr == 0.03  # text read as YAML
    with pytest.raises(ScenarioError) as info:
        make_scenario(**{"parties.guarntor.fee_rate": 0.005})
    assert "no key 'guarntor' under parties" in str(info.value)
    with pytest.raises(ScenarioError, match="value is not valid YAML"):
        make_scenario(**{"policy.lpr": "[1,"})


# --------------------------------------------------------------------------- experiments


def test_an_experiments_override_is_cited_by_file_and_line(tmp_path):
    path = experiment(
        tmp_path,
        """\
        ok: {}
        bad_fee:
          parties.guarantor.fee_rate: 0.05
        """,
    )
    with pytest.raises(ScenarioError) as info:
        variant_scenarios(path)
    message = str(info.value)
    line = path.read_text().splitlines().index("    parties.guarantor.fee_rate: 0.05") + 1
    assert "variant 'bad_fee'" in message
    assert f"{path}, line {line}, key 'parties.guarantor.fee_rate'" in message
    assert "--set" not in message  # it was written in the file, not given on the command line


def test_an_experiments_path_through_a_missing_key_is_cited_by_file_and_line(tmp_path):
    path = experiment(tmp_path, "typo: {parties.lender.rate: 1}\n")
    with pytest.raises(ScenarioError) as info:
        variant_scenarios(path)
    line = path.read_text().splitlines().index("  typo: {parties.lender.rate: 1}") + 1
    assert f"{path}, line {line}, key 'parties.lender.rate': no key 'lender'" in str(info.value)


def test_experiment_values_are_not_read_twice(tmp_path):
    """A quoted value in an experiment stays text (the old parser read it as YAML again)."""
    path = experiment(tmp_path, 'year_label: {segments.sme.label: "2021"}\n')
    assert variant_scenarios(path)["year_label"].segments["sme"].label == "2021"


def test_set_on_an_experiment_applies_before_the_variants_and_is_cited(tmp_path):
    path = experiment(tmp_path, "ok: {}\nown: {segments.sme.lgd: 0.3}\n")
    exp = load_experiment(path, overrides=["segments.sme.lgd=0.6"])
    scenarios = variant_scenarios(path, exp)
    assert scenarios["ok"].segments["sme"].lgd == 0.6  # --set after the experiment's own
    assert scenarios["own"].segments["sme"].lgd == 0.3  # the variant's own comes last
    assert exp.variant_overrides()["ok"] == {"segments.sme.lgd": 0.6}
    bad = load_experiment(path, overrides=["segments.sme.lgd=2"])
    with pytest.raises(ScenarioError, match=r"--set segments\.sme\.lgd=2, key 'segments\.sme"):
        variant_scenarios(path, bad)


def test_the_command_lines_run_size_wins_and_is_not_a_policy_change(tmp_path):
    """``compare --set simulation.paths=20`` on an experiment with ``paths: 500`` runs 20
    paths (it ran 500), and no design lists ``simulation.paths`` as what makes it."""
    path = experiment(tmp_path, "ok: {}\nown: {segments.sme.lgd: 0.3}\n")
    path.write_text(path.read_text() + "paths: 500\nseed: 11\n")
    plain = load_experiment(path)
    first = next(iter(variant_scenarios(path, plain).values()))
    assert plain.run_size(first) == (500, f"{path}: paths", 11)
    assert plain.run_size(first, paths=30, seed=5) == (30, "--paths", 5)
    small = load_experiment(path, overrides=["simulation.paths=20", "simulation.seed=3"])
    first = next(iter(variant_scenarios(path, small).values()))
    assert small.run_size(first) == (20, "--set simulation.paths", 3)
    assert small.variant_overrides() == {
        "ok": {"segments.sme.lgd": 0.4},
        "own": {"segments.sme.lgd": 0.3},
    }


def test_grid_points_cite_their_value(tmp_path):
    path = write(
        tmp_path,
        "grid.yaml",
        f"""\
        name: grid
        base: {GOOD}
        grid:
          - name: lgd
            key: segments.sme.lgd
            label: {{zh: 违约损失率, en: loss given default}}
            units: "1"
            values:
              - 0.4
              - 1.4
        """,
    )
    with pytest.raises(ScenarioError) as info:
        variant_scenarios(path)
    assert f"{path}, line 10, key 'segments.sme.lgd'" in str(info.value)
    assert f"{path}, line 10, key 'grid.0.values.1': grid point 'lgd=1.4'" in str(info.value)


# --------------------------------------------------------------------------- the CLI


def test_set_is_declared_once_for_run_validate_and_compare():
    assert inspect.getsource(cli).count('"--set"') == 1
    parser = cli._parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    helps = {
        name: next(a.help for a in sub.choices[name]._actions if "--set" in a.option_strings)
        for name in ("run", "validate", "compare")
    }
    assert len(set(helps.values())) == 1


@pytest.mark.parametrize(
    "command, target",
    [("compare", COUNTY), ("validate", GOOD), ("run", GOOD)],
)
def test_bad_set_value_is_one_clean_line(command, target, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rc = cli.main([command, str(target), "--set", "policy.lpr=[1,"])
    captured = capsys.readouterr()
    assert rc == 2
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1
    assert "--set policy.lpr=[1," in captured.err and "not valid YAML" in captured.err
    assert "Traceback" not in captured.err
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("exc", [ZeroDivisionError, ValueError, KeyError, TypeError])
def test_a_programming_error_keeps_its_traceback(exc, monkeypatch, capsys):
    """Only a user's mistake becomes 'error: ...'; a bug must propagate with its traceback."""

    def broken(*args, **kwargs):
        raise exc("a bug")

    monkeypatch.setattr(cli, "load_scenario", broken)
    with pytest.raises(exc):
        cli.main(["validate", str(GOOD)])
    assert capsys.readouterr().err == ""


def test_an_unreadable_file_of_the_user_is_one_line(tmp_path, capsys):
    folder = tmp_path / "scenario.yaml"
    folder.mkdir()  # a folder where a file is expected: OSError on reading
    assert cli.main(["validate", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(folder) in err and "Traceback" not in err
