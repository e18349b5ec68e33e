"""Every user mistake in a scenario is a ScenarioError naming the file, line, dotted key.

The invalid scenarios live in ``tests/invalid/``: each is ``_valid_minimal.yaml`` with one
thing broken. Its header says what it shows::

    # INVALID: <what is wrong>
    # expect-key: <dotted key the message must name, or "none">
    # expect-message: <text the message must contain>      (any number of these)

and the offending line carries the marker ``# <- error``: the error must report that line.
Files whose name starts with ``_`` are valid.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import guarantee_sim
from guarantee_sim import ScenarioError, load_scenario

HERE = Path(__file__).resolve().parent
INVALID = HERE / "invalid"
VALID_MINIMAL = INVALID / "_valid_minimal.yaml"
SCENARIOS = HERE.parent / "scenarios"
MARKER = "# <- error"

INVALID_FILES = sorted(p for p in INVALID.glob("*.yaml") if not p.name.startswith("_"))
VALID_FILES = sorted(INVALID.glob("_*.yaml")) + sorted(SCENARIOS.glob("*.yaml"))


def _text(path: Path) -> str:
    # errors="replace": not_utf8.yaml is GBK on purpose; its header and line count survive.
    return path.read_bytes().decode("utf-8", errors="replace")


def expectations(path: Path) -> dict:
    """Parse the header comments and the ``# <- error`` marker of an invalid file."""
    key, messages, description = "missing", [], None
    for line in _text(path).splitlines():
        if not line.startswith("#"):
            break
        if m := re.match(r"#\s*INVALID:\s*(.+)", line):
            description = m.group(1).strip()
        elif m := re.match(r"#\s*expect-key:\s*(.+)", line):
            key = m.group(1).strip()
        elif m := re.match(r"#\s*expect-message:\s*(.+)", line):
            messages.append(m.group(1).strip())
    marked = [
        n
        for n, line in enumerate(_text(path).splitlines(), start=1)
        if MARKER in line and not line.lstrip().startswith("#")
    ]
    return {
        "description": description,
        "key": None if key == "none" else key,
        "key_given": key != "missing",
        "messages": messages,
        "line": marked[0] if marked else None,
        "n_markers": len(marked),
    }


def load_error(path, overrides=None) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides=overrides)
    return info.value


# --------------------------------------------------------------------------- the corpus


def test_the_corpus_covers_the_required_mistakes():
    names = {p.stem for p in INVALID_FILES}
    required = {
        "unknown_key_top",
        "unknown_key_nested",
        "duplicate_key",
        "wrong_type",
        "pd_out_of_range",
        "lgd_out_of_range",
        "share_out_of_range",
        "split_not_one",
        "scheme_unknown_party",
        "segment_unknown_scheme",
        "unknown_factor",
        "correlation_not_psd",
        "correlation_wrong_shape",
        "fee_above_cap",
        "fee_rate_and_bands",
        "fallback_unknown",
        "fallback_cycle",
        "runoff_too_short",
        "target_tags_unknown",
        "target_period_outside",
        "target_stock_flow",
        "bank_missing",
        "party_unabsorbed",
        "renewal_unknown_segment",
        "chinese_key",
        "yaml_syntax",
        "top_level_list",
        # the value grammar (config/values.py)
        "value_per_year_first_year_missing",
        "split_per_year_not_one",
        "fee_cap_switches_on",
        "value_distribution_not_simulated",
        "value_distribution_not_allowed",
        "value_per_year_not_allowed",
        "value_not_a_number",
        "value_year_not_a_year",
        "value_year_outside_horizon",
        "value_per_year_out_of_range",
        "value_distribution_unknown",
        "value_distribution_missing_parameter",
        "value_distribution_unknown_parameter",
        "value_distribution_min_not_below_max",
        "value_distribution_unbounded",
        "value_distribution_outside_bounds",
        "value_distribution_bad_parameter",
        "value_source_missing",
        "value_source_empty",
        "value_source_unknown_key",
        "value_sourced_out_of_range",
        # inputs that must be refused (issue 13)
        "duplicate_key_typed",
        "yaml_alias_bomb",
        "number_nan",
        "number_inf",
        "number_inf_for_no_cap",
        "bool_as_number",
        "bool_as_integer",
        "bool_in_sourced_value",
        "yaml11_sexagesimal",
        # what the engine could not simulate (config/limits.py)
        "limit_loans_per_month",
        "limit_loans_after_growth",
        "limit_loans_from_amount",
        "limit_loan_from_amount_and_count",
        "limit_initial_book",
        "limit_applicants",
        "limit_cohort_bands",
        "grade_weights_overflow",
        "process_pd_too_small",
        "patience_too_long",
        "seasonality_overflow",
        # staff in offices (issue 8, part C)
        "record_weight_splits_offices",
        "staff_old_key",
        "segment_offices_unknown",
        # keys that were replaced
        "risk_appetite_retired",
        # messages with enough digits
        "split_almost_one",
        "fee_just_above_cap",
        # firm-based target metrics (issue 9 D)
        "target_borrowers_without_first_loans",
    }
    assert required <= names, f"missing invalid files: {sorted(required - names)}"


@pytest.mark.parametrize("path", INVALID_FILES, ids=lambda p: p.stem)
def test_invalid_file_is_documented(path):
    exp = expectations(path)
    assert exp["description"], f"{path.name}: first line must be '# INVALID: <what>'"
    assert exp["key_given"], f"{path.name}: add '# expect-key: <dotted key or none>'"
    assert exp["messages"], f"{path.name}: add at least one '# expect-message: <text>'"
    assert exp["n_markers"] <= 1, f"{path.name}: mark at most one line with {MARKER!r}"


@pytest.mark.parametrize("path", VALID_FILES, ids=lambda p: p.name)
def test_valid_files_validate(path):
    scenario = load_scenario(path)
    assert isinstance(scenario, guarantee_sim.Scenario)


def _where_problems(err, message: str, path, exp: dict) -> list[str]:
    """What the message or the error's attributes get wrong about file, key and line."""
    wrong = []
    if str(path) not in message:
        wrong.append(f"message does not name the file {path}")
    if err.path != str(path):
        wrong.append(f"ScenarioError.path is {err.path!r}, expected {str(path)!r}")
    if exp["key"] is not None:
        if exp["key"] not in message:
            wrong.append(f"message does not name the dotted key {exp['key']!r}")
        if err.key != exp["key"]:
            wrong.append(f"ScenarioError.key is {err.key!r}, expected {exp['key']!r}")
    if exp["line"] is not None:
        if not re.search(rf"\bline {exp['line']}\b", message):
            wrong.append(f"message does not give the offending line {exp['line']}")
        if err.line != exp["line"]:
            wrong.append(f"ScenarioError.line is {err.line!r}, expected {exp['line']}")
    return wrong


@pytest.mark.parametrize("path", INVALID_FILES, ids=lambda p: p.stem)
def test_invalid_file_error_names_file_key_line_and_problem(path):
    """File, dotted key, line and the expected text: all checked, all failures listed."""
    exp = expectations(path)
    err = load_error(path)
    message = str(err)
    wrong = _where_problems(err, message, path, exp)
    for text in exp["messages"]:
        if text not in message:
            wrong.append(f"message does not contain {text!r}")
    if "{'name':" in message:
        wrong.append("message echoes the whole scenario as the offending value")
    if "Traceback" in message:
        wrong.append("message contains a traceback")
    assert not wrong, (
        f"{path.name} ({exp['description']}):\n  - "
        + "\n  - ".join(wrong)
        + f"\n--- message was:\n{message}"
    )


@pytest.mark.parametrize("path", INVALID_FILES, ids=lambda p: p.stem)
def test_each_problem_is_listed_separately(path):
    """``problems`` holds one self-contained line per problem, each naming the file."""
    err = load_error(path)
    assert err.problems, "ScenarioError.problems is empty"
    for problem in err.problems:
        assert str(path) in problem
    if len(err.problems) > 1 or str(err).startswith("invalid scenario"):
        assert f"{len(err.problems)} problem" in str(err).splitlines()[0]


# --------------------------------------------------------------------------- specific checks


def test_unknown_top_level_key_lists_allowed_keys():
    err = load_error(INVALID / "unknown_key_top.yaml")
    allowed = str(err).split("allowed keys here:", 1)[1]
    for key in ("name", "horizon", "simulation", "segments", "parties", "schemes", "targets"):
        assert re.search(rf"\b{key}\b", allowed), key


def test_unknown_nested_key_lists_the_guarantor_keys():
    err = load_error(INVALID / "unknown_key_nested.yaml")
    allowed = str(err).split("allowed keys here:", 1)[1]
    assert "claim_lag_months" in allowed and "fee_rate" in allowed
    assert "(got 2)" in str(err)  # the value given under the mistyped key


def test_wrong_type_shows_the_value():
    err = load_error(INVALID / "wrong_type.yaml")
    assert "(got 'twelve')" in str(err)


def test_duplicate_key_names_both_lines():
    path = INVALID / "duplicate_key.yaml"
    err = load_error(path)
    exp = expectations(path)
    assert err.line == exp["line"]
    assert f"first given on line {exp['line'] - 1}" in str(err)


def test_fee_cap_message_names_the_cap_and_how_to_switch_it_off():
    err = load_error(INVALID / "fee_above_cap.yaml")
    message = str(err)
    assert "fee 0.015" in message
    assert "policy fee cap 0.01" in message
    assert "5,000,000" in message  # the band the cap applies to
    assert "policy.fee_cap.enabled: false" in message


def test_fee_above_cap_is_valid_without_the_2019_cap(tmp_path):
    path = INVALID / "fee_above_cap.yaml"
    # as an override ...
    scenario = load_scenario(path, overrides=["policy.fee_cap.enabled=false"])
    assert scenario.parties["guarantor"].fee_rate == 0.015
    assert scenario.policy.fee_cap.enabled is False
    # ... and as the same file with the cap switched off in the file itself
    text = path.read_text(encoding="utf-8")
    assert text.count("fee_cap: {enabled: true}") == 1
    off = tmp_path / "fee_above_cap_before_2019.yaml"
    off.write_text(
        text.replace("fee_cap: {enabled: true}", "fee_cap: {enabled: false}"), encoding="utf-8"
    )
    assert load_scenario(off).parties["guarantor"].fee_rate == 0.015
    # a commercial (non-policy) guarantor is not bound by the cap either
    load_scenario(path, overrides=["parties.guarantor.policy=false"])


def test_fee_above_both_caps_is_one_problem():
    """A fee of 2% breaks the 1% and the 1.5% band of the cap: one value, one problem."""
    err = load_error(VALID_MINIMAL, ["parties.guarantor.fee_rate=0.02"])
    assert str(err).count("exceeds the policy fee cap") == 1, str(err)


@pytest.mark.parametrize(
    "name, allowed",
    [
        ("scheme_unknown_party", ["fund", "guarantor"]),
        ("segment_unknown_scheme", ["guaranteed"]),
        ("unknown_factor", ["economy"]),
        ("fallback_unknown", ["bank", "fund", "guarantor", "unabsorbed"]),
        ("renewal_unknown_segment", ["sme"]),
    ],
)
def test_unknown_reference_lists_what_is_allowed(name, allowed):
    message = str(load_error(INVALID / f"{name}.yaml"))
    assert "allowed" in message
    tail = message.split("allowed", 1)[1]
    for a in allowed:
        assert f"'{a}'" in tail, a


def test_bank_missing_is_reported_on_its_own():
    err = load_error(INVALID / "bank_missing.yaml")
    bank = [p for p in err.problems if "exactly one bank" in p]
    assert len(bank) == 1, err.problems
    # the consequence (fallbacks to 'bank' now dangle) must not be glued into the same line
    assert "fallback" not in bank[0], bank[0]


def test_yaml_syntax_error_has_line_and_column():
    path = INVALID / "yaml_syntax.yaml"
    err = load_error(path)
    assert err.line == expectations(path)["line"]
    assert "column 1" in str(err)
    assert "invalid YAML" in str(err)


def test_top_level_list_is_rejected():
    err = load_error(INVALID / "top_level_list.yaml")
    assert "mapping" in str(err) and "list" in str(err)


def test_missing_and_empty_files(tmp_path):
    err = load_error(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(err) and "not found" in str(err)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# only a comment\n", encoding="utf-8")
    err = load_error(empty)
    assert "empty.yaml" in str(err) and "empty" in str(err).split("empty.yaml", 1)[1]


# --------------------------------------------------------------------------- --set overrides


@pytest.mark.parametrize(
    "override, key, text",
    [
        ("parties.guarantor.fee_rate=abc", "parties.guarantor.fee_rate", "valid number"),
        ("parties.guarantor.fee_rate=-0.1", "parties.guarantor.fee_rate", "greater than or equal"),
        ("segments.sme.pd.mean=1.5", "segments.sme.pd.mean", "less than 1"),
        ("segments.sme.lgd=1.2", "segments.sme.lgd", "(got 1.2)"),
        ("parties.guarantor.fee_rat=0.01", "parties.guarantor.fee_rat", "allowed keys here"),
        ("horizon.origination_years=0", "horizon.origination_years", "greater than or equal to 1"),
    ],
)
def test_bad_override_value_names_set_and_key(override, key, text):
    err = load_error(VALID_MINIMAL, [override])
    message = str(err)
    assert f"--set {override}" in message
    assert f"key '{key}'" in message
    assert text in message
    assert err.key == key
    assert err.line is None  # the file's line does not hold the value that was used


def test_override_into_unknown_section_lists_the_keys_there():
    err = load_error(VALID_MINIMAL, ["parties.guarntor.fee_rate=0.01"])
    message = str(err)
    assert "--set parties.guarntor.fee_rate=0.01" in message
    assert "no key 'guarntor'" in message
    assert "bank, guarantor, fund" in message


def test_malformed_override_is_named():
    err = load_error(VALID_MINIMAL, ["segments.sme.lgd"])
    assert "--set segments.sme.lgd" in str(err) and "key=value" in str(err)


@pytest.mark.parametrize(
    "override, key, text",
    [
        ("parties.guarantor.fee_rate=0.02", "parties.guarantor.fee_rate", "policy fee cap 0.01"),
        ("schemes.guaranteed.split.fund=0.3", "schemes.guaranteed.split", "must sum to 1"),
        ("segments.sme.scheme=other", "segments.sme.scheme", "unknown scheme 'other'"),
        ("horizon.runoff_months=6", "horizon.runoff_months", "too short"),
    ],
)
def test_override_breaking_a_cross_check_names_set_and_key(override, key, text):
    """A value valid on its own but inconsistent with the rest: still name --set and key."""
    message = str(load_error(VALID_MINIMAL, [override]))
    assert f"--set {override}" in message
    assert key in message
    assert text in message


@pytest.mark.parametrize("path", INVALID_FILES, ids=lambda p: p.stem)
def test_override_is_validated_like_the_file(path):
    """Breaking the valid file by ``--set`` is caught the same way as in a file."""
    exp = expectations(path)
    value = {
        "pd_out_of_range": "1.5",
        "lgd_out_of_range": "1.2",
        "share_out_of_range": "1.5",
        "wrong_type": "twelve",
        "split_not_one": "{guarantor: 0.6, fund: 0.3}",
        "scheme_unknown_party": "0.0",  # adds split.fnd; the proportions still sum to 1
        "segment_unknown_scheme": "guarnteed",
        "fee_above_cap": "0.015",
        "fallback_unknown": "provincial",
        "fallback_cycle": "fund",
        "runoff_too_short": "12",
        "target_tags_unknown": "[frist_time]",
        "target_period_outside": "2030",
        "target_stock_flow": "stock",
        "renewal_unknown_segment": "renewals",
    }.get(path.stem)
    if value is None:
        pytest.skip("not one override of a key the valid file has")
    override = f"{exp['key']}={value}"
    message = str(load_error(VALID_MINIMAL, [override]))
    assert f"--set {override}" in message
    assert exp["key"] in message
    # the substantive part of the file's expected message (not line/value specifics)
    assert exp["messages"][0] in message
