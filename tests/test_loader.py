"""Tests for guarantee_sim.config.loader, using small toy models."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from guarantee_sim.config.loader import (
    ScenarioError,
    apply_overrides,
    format_location,
    load_model,
    model_from_dict,
    read_yaml,
)

# ----------------------------------------------------------------- toy models

CFG = ConfigDict(extra="forbid", frozen=True)


class Grade(BaseModel):
    model_config = CFG
    weight: float = Field(ge=0, le=1)
    pd: float = Field(ge=0, le=0.01)


class PD(BaseModel):
    model_config = CFG
    grades: list[Grade]

    @model_validator(mode="after")
    def weights_sum_to_one(self):
        total = sum(g.weight for g in self.grades)
        if abs(total - 1) > 1e-9:
            raise ValueError(f"grade weights must sum to 1, got {total:g}")
        return self


class FixedRecovery(BaseModel):
    model_config = CFG
    kind: Literal["fixed"]
    rate: float = Field(ge=0, le=1)


class BetaRecovery(BaseModel):
    model_config = CFG
    kind: Literal["beta"]
    alpha: float = Field(gt=0)
    beta: float = Field(gt=0)


class Segment(BaseModel):
    model_config = CFG
    label: str
    pd: PD
    recovery: Annotated[FixedRecovery | BetaRecovery, Field(discriminator="kind")] = FixedRecovery(
        kind="fixed", rate=0.4
    )


class Guarantor(BaseModel):
    model_config = CFG
    name: str
    fee_rate: float = Field(ge=0, le=0.01)
    coverage: float = Field(default=0.8, gt=0, le=1)


class Bank(BaseModel):
    model_config = CFG
    name: str
    capital: float = Field(gt=0)


class Parties(BaseModel):
    model_config = CFG
    guarantor: Guarantor
    bank: Bank | None = None


class Scenario(BaseModel):
    model_config = CFG
    name: str
    horizon_years: int = Field(ge=1)
    parties: Parties
    segments: dict[str, Segment]

    @field_validator("horizon_years")
    @classmethod
    def horizon_within_context(cls, v: int, info: ValidationInfo) -> int:
        limit = (info.context or {}).get("max_horizon")
        if limit is not None and v > limit:
            raise ValueError(f"horizon_years must be at most {limit}")
        return v


VALID = """\
name: 基准情景
horizon_years: 5
parties:
  guarantor:
    name: 省级再担保
    fee_rate: 0.008
  bank:
    name: 城商行
    capital: 100.0
segments:
  first_time:
    label: 首贷户
    pd:
      grades:
        - weight: 0.6
          pd: 0.004
        - weight: 0.4
          pd: 0.009
    recovery:
      kind: beta
      alpha: 2.0
      beta: 3.0
"""


def write(tmp_path, text, name="scenario.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def line_of(text, needle, nth=1):
    """1-based line of the nth line containing ``needle``."""
    hits = [i for i, ln in enumerate(textwrap.dedent(text).splitlines(), 1) if needle in ln]
    return hits[nth - 1]


def patched(needle, replacement, text=VALID):
    assert needle in text
    return text.replace(needle, replacement, 1)


# ------------------------------------------------------------------- happy path


def test_valid_file_loads_frozen_model_with_chinese_text(tmp_path):
    path = write(tmp_path, VALID)
    sc = load_model(path, Scenario)
    assert sc.name == "基准情景"
    assert sc.segments["first_time"].label == "首贷户"
    assert sc.parties.guarantor.fee_rate == 0.008
    assert isinstance(sc.segments["first_time"].recovery, BetaRecovery)
    with pytest.raises(ValidationError):
        sc.parties.guarantor.fee_rate = 0.009  # frozen


def test_read_yaml_records_key_and_list_item_lines(tmp_path):
    path = write(tmp_path, VALID)
    data, lines = read_yaml(path)
    assert data["parties"]["guarantor"]["fee_rate"] == 0.008
    assert lines[("parties", "guarantor", "fee_rate")] == line_of(VALID, "fee_rate")
    assert lines[("segments",)] == line_of(VALID, "segments:")
    grades = ("segments", "first_time", "pd", "grades")
    assert lines[(*grades, 0)] == line_of(VALID, "weight: 0.6")
    assert lines[(*grades, 1)] == line_of(VALID, "weight: 0.4")
    assert lines[(*grades, 1, "pd")] == line_of(VALID, "pd: 0.009")


def test_overrides_apply_before_validation(tmp_path):
    path = write(tmp_path, VALID)
    sc = load_model(
        path,
        Scenario,
        overrides=["parties.guarantor.fee_rate=0.005", "segments.first_time.pd.grades.1.pd=0.002"],
    )
    assert sc.parties.guarantor.fee_rate == 0.005
    assert sc.segments["first_time"].pd.grades[1].pd == 0.002


def test_context_reaches_validators(tmp_path):
    path = write(tmp_path, VALID)
    assert load_model(path, Scenario, context={"max_horizon": 10}).horizon_years == 5
    with pytest.raises(ScenarioError) as info:
        load_model(path, Scenario, context={"max_horizon": 3})
    msg = str(info.value)
    assert f"line {line_of(VALID, 'horizon_years')}" in msg
    assert "horizon_years must be at most 3" in msg
    assert "Value error" not in msg


# ---------------------------------------------------------------- file problems


def test_duplicate_key_names_file_line_and_dotted_key(tmp_path):
    text = patched("    fee_rate: 0.008\n", "    fee_rate: 0.008\n    fee_rate: 0.009\n")
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        read_yaml(path)
    err = info.value
    msg = str(err)
    second = line_of(text, "fee_rate", nth=2)
    assert "scenario.yaml" in msg
    assert f"line {second}" in msg
    assert "parties.guarantor.fee_rate" in msg
    assert "duplicate" in msg
    assert f"first given on line {line_of(text, 'fee_rate')}" in msg
    assert err.line == second and err.key == "parties.guarantor.fee_rate"
    # load_model goes through the same check
    with pytest.raises(ScenarioError, match="duplicate"):
        load_model(path, Scenario)


def test_yaml_syntax_error_reports_line(tmp_path):
    text = "name: x\nparties:\n  guarantor: [unclosed\n  bank: {}\n"
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        read_yaml(path)
    err = info.value
    assert "scenario.yaml" in str(err)
    assert "invalid YAML" in str(err)
    assert err.line is not None and f"line {err.line}" in str(err)
    assert 3 <= err.line <= 5

    bad = write(tmp_path, "a: 1\nb: c: d\n", name="bad.yaml")
    with pytest.raises(ScenarioError) as info:
        read_yaml(bad)
    assert info.value.line == 2
    assert "mapping values are not allowed" in str(info.value)


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError) as info:
        load_model(missing, Scenario)
    assert "nope.yaml" in str(info.value)
    assert "not found" in str(info.value)
    assert info.value.path == str(missing)


def test_file_not_in_utf8_is_a_scenario_error(tmp_path):
    path = tmp_path / "gbk.yaml"
    path.write_bytes("name: 基准情景\n".encode("gbk"))
    with pytest.raises(ScenarioError, match="UTF-8") as info:
        read_yaml(path)
    assert "gbk.yaml" in str(info.value)


# ------------------------------------------------------ files that are not YAML files


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(ScenarioError, match="is a folder, not a regular file") as info:
        read_yaml(tmp_path)
    assert info.value.path == str(tmp_path)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_a_device_is_refused_without_reading_it(device):
    """/dev/zero and /dev/urandom never end: reading them filled the memory."""
    if not Path(device).exists():
        pytest.skip(f"no {device} here")
    with pytest.raises(ScenarioError, match="is a device, not a regular file"):
        read_yaml(device)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    """Opening a FIFO for reading blocks until someone writes: validate hung for ever."""
    import os
    import threading

    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    outcome: list = []
    worker = threading.Thread(target=lambda: outcome.append(_error_of(read_yaml, fifo)))
    worker.start()
    worker.join(10)
    if worker.is_alive():  # unblock the reader so the test run can end, then fail
        with open(fifo, "wb"):
            pass
        worker.join(10)
        pytest.fail("read_yaml blocked on a FIFO")
    assert "is a named pipe (FIFO), not a regular file" in outcome[0]


def _error_of(function, *args) -> str:
    try:
        function(*args)
    except ScenarioError as err:
        return str(err)
    return "no error"


@pytest.mark.slow  # reads a file just under the 256 KB limit
def test_a_file_above_the_size_limit_is_refused_before_parsing(tmp_path):
    from guarantee_sim.config.loader import MAX_FILE_BYTES

    path = tmp_path / "big.yaml"
    path.write_text("name: x\nsources:\n" + "  - padding padding padding\n" * 20_000)
    assert path.stat().st_size > MAX_FILE_BYTES
    with pytest.raises(ScenarioError, match="larger than 256 KB") as info:
        read_yaml(path)
    assert info.value.path == str(path)
    # a file just under the limit is read
    small = tmp_path / "small.yaml"
    small.write_text("name: x\nsources:\n" + "  - p\n" * ((MAX_FILE_BYTES - 40) // 6))
    assert small.stat().st_size <= MAX_FILE_BYTES
    assert read_yaml(small)[0]["name"] == "x"


def test_nested_aliases_stop_at_the_value_limit(tmp_path):
    import time

    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [{', '.join(['*' + prev] * 10)}]")
    path = write(tmp_path, "\n".join(levels) + "\n")
    start = time.perf_counter()
    with pytest.raises(ScenarioError, match="expands to more than 100,000 values") as info:
        read_yaml(path)
    assert time.perf_counter() - start < 10
    assert info.value.key == "e.7" and info.value.line == 5  # the alias that crossed it


@pytest.mark.parametrize("style", ["flow", "block"])
def test_deep_nesting_is_refused_at_its_line_not_a_recursion_error(tmp_path, style):
    levels = 600  # exhausted Python's stack inside the YAML parser (RecursionError)
    if style == "flow":
        text = "name: x\na: " + "[" * levels + "]" * levels + "\n"
    else:  # one space of indentation a level keeps the file under the size limit
        text = "name: x\na:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, levels))
    with pytest.raises(ScenarioError, match="nested more than 64 levels deep") as info:
        read_yaml(write(tmp_path, text))
    expected_line = 2 if style == "flow" else 65  # k63, the first key at level 65
    assert info.value.line == expected_line and info.value.path.endswith("scenario.yaml")


def test_nesting_up_to_the_depth_limit_is_read(tmp_path):
    from guarantee_sim.config.loader import MAX_DEPTH

    # the top-level mapping is level 1; 'a: [[...[1]...]]' puts the 1 at level brackets + 2
    def nested(brackets):
        return write(tmp_path, "a: " + "[" * brackets + "1" + "]" * brackets + "\n")

    data, _ = read_yaml(nested(MAX_DEPTH - 2))
    assert str(data["a"]).count("[") == MAX_DEPTH - 2
    with pytest.raises(ScenarioError, match=f"more than {MAX_DEPTH} levels"):
        read_yaml(nested(MAX_DEPTH - 1))


def test_deeply_nested_override_value_names_the_override():
    with pytest.raises(ScenarioError, match=r"--set a\.b=.*nested more than 64 levels") as info:
        apply_overrides({"a": {"b": 1}}, ["a.b=" + "[" * 600 + "]" * 600])
    assert info.value.key == "a.b"


def test_aliases_repeated_in_a_list_point_at_the_list(tmp_path):
    path = write(tmp_path, "base: &b {x: 1}\nitems:\n  - *b\n  - *b\n")
    data, lines = read_yaml(path)
    assert data["items"] == [{"x": 1}, {"x": 1}]
    assert lines[("items", 0)] == 2  # the list; ruamel gives the anchor's line 1


def test_duplicate_keys_through_aliases_are_reported_once(tmp_path):
    text = "a: &a {x: 1, x: 2}\nb: [*a, *a, *a]\n"
    with pytest.raises(ScenarioError) as info:
        read_yaml(write(tmp_path, text))
    assert len(info.value.problems) == 1 and info.value.key == "a.x"


def test_keys_that_differ_only_in_type_are_duplicates(tmp_path):
    """{2022: 1.0, '2022': 2.0} became one entry of a year mapping, one value lost."""
    text = "a:\n  2022: 1.0\n  '2022': 2.0\n"
    with pytest.raises(ScenarioError) as info:
        read_yaml(write(tmp_path, text))
    err = info.value
    assert (err.line, err.key) == (3, "a.2022")
    assert "'2022' and 2022 name the same entry" in str(err)
    assert "first given on line 2" in str(err)


def test_keys_that_differ_only_in_type_in_python_data_are_duplicates():
    data = {"name": "x", "parties": {"guarantor": {}, 7: {}, "7": {}}}
    with pytest.raises(ScenarioError, match="name the same entry") as info:
        model_from_dict(data, Scenario)
    assert info.value.key == "parties.7"


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", ""])
def test_top_level_must_be_mapping(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError, match="mapping"):
        read_yaml(path)


# ---------------------------------------------------------- validation problems


def test_unknown_key_names_key_line_and_allowed_keys(tmp_path):
    text = patched("fee_rate: 0.008", "fee_rat: 0.008")
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_model(path, Scenario)
    err = info.value
    unknown = [p for p in err.problems if "fee_rat'" in p]
    assert len(unknown) == 1
    problem = unknown[0]
    assert "key 'parties.guarantor.fee_rat'" in problem
    assert f"line {line_of(text, 'fee_rat')}" in problem
    assert "allowed keys here: name, fee_rate, coverage" in problem
    # the now-missing required field is reported too, at its parent's line
    missing = [p for p in err.problems if "key 'parties.guarantor.fee_rate'" in p]
    assert len(missing) == 1
    assert f"line {line_of(text, 'guarantor:')}" in missing[0]
    assert "Field required" in missing[0]
    assert str(err).startswith(f"invalid scenario {path}: 2 problems")


def test_unknown_key_in_dict_of_models_and_discriminated_union(tmp_path):
    text = patched("      beta: 3.0\n", "      beta: 3.0\n      gamma: 1.0\n")
    text = patched("    label: 首贷户\n", "    label: 首贷户\n    lable: typo\n", text)
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_model(path, Scenario)
    problems = info.value.problems
    assert len(problems) == 2
    (gamma,) = [p for p in problems if "gamma" in p]
    # the union tag 'beta' from pydantic's loc must not end up in the key
    assert "key 'segments.first_time.recovery.gamma'" in gamma
    assert f"line {line_of(text, 'gamma')}" in gamma
    assert "allowed keys here: kind, alpha, beta" in gamma
    (lable,) = [p for p in problems if "lable" in p]
    assert "key 'segments.first_time.lable'" in lable
    assert "allowed keys here: label, pd, recovery" in lable


def test_out_of_range_value_names_key_line_value_and_bound(tmp_path):
    text = patched("fee_rate: 0.008", "fee_rate: 0.05")
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_model(path, Scenario)
    err = info.value
    assert len(err.problems) == 1
    msg = err.problems[0]
    assert msg.startswith(f"{path}, line {line_of(text, 'fee_rate')}, ")
    assert "key 'parties.guarantor.fee_rate'" in msg
    assert "0.01" in msg  # the bound
    assert "(got 0.05)" in msg
    assert err.line == line_of(text, "fee_rate")
    assert err.key == "parties.guarantor.fee_rate"
    assert str(err).startswith(f"invalid scenario {path}: 1 problem\n")


def test_list_item_error_uses_item_line(tmp_path):
    text = patched("pd: 0.009", "pd: 0.09")
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_model(path, Scenario)
    (msg,) = info.value.problems
    assert "key 'segments.first_time.pd.grades.1.pd'" in msg
    assert f"line {line_of(text, 'pd: 0.09')}" in msg


def test_model_validator_error_uses_nearest_ancestor_line(tmp_path):
    text = patched("weight: 0.4", "weight: 0.3")
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_model(path, Scenario)
    (msg,) = info.value.problems
    assert "key 'segments.first_time.pd'" in msg
    assert f"line {line_of(text, '    pd:')}" in msg
    assert "grade weights must sum to 1, got 0.9" in msg


def test_long_values_are_truncated(tmp_path):
    text = patched("name: 基准情景", "name: [" + ", ".join(["1234567890"] * 20) + "]")
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_model(path, Scenario)
    (msg,) = info.value.problems
    got = msg.split("(got ", 1)[1].rsplit(")", 1)[0]
    assert len(got) == 80 and got.endswith("...")


def test_model_from_dict_formats_without_lines():
    data = {
        "name": "x",
        "horizon_years": 0,
        "parties": {"guarantor": {"name": "g"}},
        "segments": {},
    }
    with pytest.raises(ScenarioError) as info:
        model_from_dict(data, Scenario, source="<sweep point 3>")
    msg = str(info.value)
    assert msg.startswith("invalid scenario <sweep point 3>: 2 problems")
    assert "<sweep point 3>, key 'horizon_years': Input should be greater than or equal to 1" in msg
    assert "<sweep point 3>, key 'parties.guarantor.fee_rate': Field required" in msg
    assert "line" not in msg


# -------------------------------------------------------------------- overrides


def test_override_producing_invalid_value_names_set_and_key(tmp_path):
    path = write(tmp_path, VALID)
    with pytest.raises(ScenarioError) as info:
        load_model(path, Scenario, overrides=["parties.guarantor.fee_rate=0.5"])
    (msg,) = info.value.problems
    assert "--set parties.guarantor.fee_rate=0.5" in msg
    assert "key 'parties.guarantor.fee_rate'" in msg
    assert "(got 0.5)" in msg
    # the file's line no longer describes the value, so it is not cited
    assert f"line {line_of(VALID, 'fee_rate')}" not in msg


def test_override_of_subtree_is_cited_for_errors_inside_it(tmp_path):
    path = write(tmp_path, VALID)
    override = "parties.bank={name: b, capital: -1, extra: 1}"
    with pytest.raises(ScenarioError) as info:
        load_model(path, Scenario, overrides=[override])
    problems = info.value.problems
    assert len(problems) == 2
    assert all(f"--set {override}" in p for p in problems)
    assert any(
        "key 'parties.bank.extra'" in p and "allowed keys here: name, capital" in p
        for p in problems
    )


def test_override_beneath_model_validator_error_is_mentioned(tmp_path):
    path = write(tmp_path, VALID)
    with pytest.raises(ScenarioError) as info:
        load_model(path, Scenario, overrides={"segments.first_time.pd.grades.0.weight": "0.5"})
    (msg,) = info.value.problems
    assert f"line {line_of(VALID, '    pd:')}" in msg
    assert "(after --set segments.first_time.pd.grades.0.weight=0.5)" in msg


def test_override_through_scalar_names_the_override(tmp_path):
    path = write(tmp_path, VALID)
    with pytest.raises(ScenarioError) as info:
        load_model(path, Scenario, overrides=["parties.guarantor.fee_rate.x=1"])
    msg = str(info.value)
    assert "--set parties.guarantor.fee_rate.x=1" in msg
    assert "single value" in msg and "0.008" in msg


def test_override_through_missing_key_lists_existing_keys(tmp_path):
    path = write(tmp_path, VALID)
    with pytest.raises(ScenarioError) as info:
        load_model(path, Scenario, overrides=["parties.lender.rate=1"])
    msg = str(info.value)
    assert "--set parties.lender.rate=1" in msg
    assert "no key 'lender' under parties; keys there: guarantor, bank" in msg


def test_override_new_leaf_key_is_rejected_by_validation(tmp_path):
    path = write(tmp_path, VALID)
    with pytest.raises(ScenarioError) as info:
        load_model(path, Scenario, overrides=["parties.guarantor.fees=1"])
    (msg,) = info.value.problems
    assert "--set parties.guarantor.fees=1" in msg
    assert "allowed keys here: name, fee_rate, coverage" in msg


def test_apply_overrides_types_and_no_mutation():
    data = {"a": {"b": 1, "grades": [{"w": 0.1}, {"w": 0.9}]}, "s": "x"}
    snapshot = {"a": {"b": 1, "grades": [{"w": 0.1}, {"w": 0.9}]}, "s": "x"}
    new = apply_overrides(
        data,
        ["a.b=0.5", "a.flag=true", "a.lst=[1,2]", "s=abc", "a.grades.1.w=0.2", "a.eq=x=y"],
    )
    assert data == snapshot
    assert new["a"]["b"] == 0.5
    assert new["a"]["flag"] is True
    assert new["a"]["lst"] == [1, 2]
    assert new["s"] == "abc"
    assert new["a"]["grades"][1]["w"] == 0.2
    assert new["a"]["eq"] == "x=y"
    assert new["a"]["grades"] is not data["a"]["grades"]
    from_dict = apply_overrides(data, {"a.b": "2", "s": [3]})
    assert from_dict["a"]["b"] == 2 and from_dict["s"] == [3]
    assert apply_overrides(data, None) == data


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("a.b", "malformed override '--set a.b'"),
        ("=1", "malformed override"),
        ("a..b=1", "malformed key"),
        ("a.b.c=1", "--set a.b.c=1"),
        ("a.grades.5.w=1", "list of 2 item(s)"),
        ("a.grades.x.w=1", "(valid: 0 to 1)"),
        ("a.empty.0=1", "(valid: none, it is empty)"),
        ("a.b=[1,", "not valid YAML"),
    ],
)
def test_apply_overrides_errors(override, fragment):
    data = {"a": {"b": 1, "grades": [{"w": 0.1}, {"w": 0.9}], "empty": []}}
    with pytest.raises(ScenarioError) as info:
        apply_overrides(data, [override])
    assert fragment in str(info.value)


def test_format_location():
    assert format_location("f.yaml", 3, "a.b") == "f.yaml, line 3, key 'a.b'"
    assert format_location("f.yaml", 3, "a.b", override="a.b=1") == "f.yaml, --set a.b=1, key 'a.b'"
    assert format_location("f.yaml") == "f.yaml"


# ------------------------------------------------------------------ YAML 1.2 (ruamel)


def test_yaml_1_2_scalars_are_plain_python_values(tmp_path):
    text = """\
    yes_: yes
    exp: 1e8
    dotted: 1.0e9
    octal_like: 010
    octal: 0o10
    underscores: 1_000
    hexadecimal: 0x10
    sexagesimal: 1:20
    nothing: ~
    tagged: !!str 12
    literal: |
      two
    folded: >
      one
    """
    data, _ = read_yaml(write(tmp_path, text))
    assert data == {
        "yes_": "yes",  # YAML 1.1 (PyYAML) read True
        "exp": 1e8,  # YAML 1.1 read the text '1e8'
        "dotted": 1e9,  # YAML 1.1 read the text '1.0e9'
        "octal_like": 10,  # YAML 1.1 read 8
        "octal": 8,
        "underscores": 1000,
        "hexadecimal": 16,
        "sexagesimal": "1:20",  # YAML 1.1 read 80
        "nothing": None,
        "tagged": "12",
        "literal": "two\n",
        "folded": "one\n",
    }
    for value in data.values():  # no ruamel subclasses leak into the models
        assert type(value) in (str, int, float, type(None))


def test_foreign_tags_are_refused_with_line_and_key(tmp_path):
    text = "a:\n  b: 1\n  c: !python/object:os.system ls\n"
    with pytest.raises(ScenarioError) as info:
        read_yaml(write(tmp_path, text))
    assert info.value.line == 3 and info.value.key == "a.c"
    assert "unsupported YAML tag" in str(info.value)
    with pytest.raises(ScenarioError, match="unsupported YAML tag !custom"):
        read_yaml(write(tmp_path, "a: !custom {b: 1}\n"))


def test_anchors_aliases_and_merge_keys_keep_lines(tmp_path):
    text = """\
    base: &base
      fee_rate: 0.01
      lag: 2
    copy: *base
    merged:
      <<: *base
      lag: 3
    """
    data, lines = read_yaml(write(tmp_path, text))
    assert data["copy"] == {"fee_rate": 0.01, "lag": 2}
    assert data["merged"] == {"lag": 3, "fee_rate": 0.01}
    assert data["copy"] is not data["base"]  # plain copies, safe to change by overrides
    assert lines[("copy", "fee_rate")] == 2  # where the anchored mapping says it
    assert lines[("merged", "lag")] == 7
    assert lines[("merged", "fee_rate")] == 5  # merged in: the line of its mapping


def test_every_duplicate_key_is_reported_in_file_order(tmp_path):
    text = """\
    a:
      x: 1
      y: {p: 1, q: 2, p: 3}
      x: 2
    b: [ {k: 1, k: 2} ]
    """
    with pytest.raises(ScenarioError) as info:
        read_yaml(write(tmp_path, text))
    assert info.value.problems == [
        f"{tmp_path / 'scenario.yaml'}, line 3, key 'a.y.p': duplicate key (first given on line 3)",
        f"{tmp_path / 'scenario.yaml'}, line 4, key 'a.x': duplicate key (first given on line 2)",
        f"{tmp_path / 'scenario.yaml'}, line 5, key 'b.0.k': duplicate key (first given on line 5)",
    ]
    assert str(info.value).startswith("invalid scenario")


def test_comment_only_file_is_empty(tmp_path):
    with pytest.raises(ScenarioError, match="file is empty"):
        read_yaml(write(tmp_path, "# nothing here\n"))


# ------------------------------------------------- shipped files: YAML 1.1 -> 1.2 changes nothing


ROOT = Path(__file__).parents[1]
SHIPPED_SCENARIOS = sorted(ROOT.glob("tests/invalid/_*.yaml")) + sorted(
    ROOT.glob("scenarios/*.yaml")
)
SHIPPED_EXPERIMENTS = sorted(ROOT.glob("experiments/*.yaml"))


@pytest.mark.parametrize("path", SHIPPED_SCENARIOS, ids=lambda p: p.name)
def test_shipped_scenario_is_the_same_model_as_read_by_yaml_1_1(path):
    """Reading the files as YAML 1.2 (ruamel) instead of 1.1 (PyYAML) changes no scenario."""
    import yaml

    from guarantee_sim.config import load_scenario, scenario_from_dict

    as_1_1 = scenario_from_dict(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert load_scenario(path).model_dump() == as_1_1.model_dump()


@pytest.mark.parametrize("path", SHIPPED_EXPERIMENTS, ids=lambda p: p.name)
def test_shipped_experiment_variants_are_the_same_models_as_read_by_yaml_1_1(path):
    import yaml

    from guarantee_sim.config import load_scenario
    from guarantee_sim.experiments import load_experiment, variant_scenarios

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    base = path.parent / data["base"]
    experiment = load_experiment(path)
    variants = variant_scenarios(path, experiment)
    assert list(variants) == [experiment.design_name(d) for d in experiment.designs()]
    for design in experiment.designs():
        name = experiment.design_name(design)
        changes = experiment.changes(design.variant) if design.variant else {}
        for lever, j in zip(data.get("grid", []), design.point, strict=True):
            changes[lever["key"]] = lever["values"][j]
        as_1_1 = load_scenario(base, overrides={**data.get("overrides", {}), **changes})
        assert variants[name].model_dump() == as_1_1.model_dump(), name
