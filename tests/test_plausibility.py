"""Absurd values inside the bounds warn with file, line and key; ``strict`` makes them errors.

The absurd scenarios live in ``tests/absurd/``: each is ``tests/invalid/_valid_minimal.yaml``
(or ``_valid_processes.yaml``) with one implausible value. Its header says what it shows::

    # ABSURD: <what is implausible>
    # expect-key: <dotted key the warning must name>
    # expect-message: <text the warning must contain>      (any number of these)

and the line holding the value carries the marker ``# <- warning``.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from guarantee_sim.config import (
    Scenario,
    ScenarioError,
    ScenarioWarning,
    load_scenario,
    plausibility,
)
from guarantee_sim.config.loader import _member, _step
from guarantee_sim.config.values import Distribution, PerYear, Sourced

HERE = Path(__file__).resolve().parent
ABSURD = sorted((HERE / "absurd").glob("*.yaml"))
SCENARIOS = sorted((HERE.parent / "scenarios").glob("*.yaml"))
VALID = sorted((HERE / "invalid").glob("_*.yaml")) + SCENARIOS
MARKER = "# <- warning"


def expectations(path: Path) -> dict:
    text = path.read_text(encoding="utf-8").splitlines()
    head = [line for line in text if line.startswith("#")]
    key = next(re.sub(r"#\s*expect-key:\s*", "", h) for h in head if "expect-key:" in h)
    messages = [re.sub(r"#\s*expect-message:\s*", "", h) for h in head if "expect-message:" in h]
    marked = [n for n, line in enumerate(text, start=1) if line.rstrip().endswith(MARKER)]
    assert head[0].startswith("# ABSURD:") and messages and len(marked) == 1, path.name
    return {"key": key.strip(), "messages": messages, "line": marked[0]}


def load_warnings(path, overrides=None) -> list[ScenarioWarning]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_scenario(path, overrides=overrides)
    return [w.message for w in caught if isinstance(w.message, ScenarioWarning)]


def test_the_corpus_covers_the_issue_examples():
    names = {p.stem for p in ABSURD}
    # issue 13: PD 0.9999 (0.9 here), net assets 0 or 1e30 (1e30 is above the money bound:
    # an error), a 1 CNY loan, correlation 0.99999, fee 0 with coverage 1
    assert {
        "pd_mean_high",
        "net_assets_zero",
        "net_assets_huge",
        "loan_of_one_cny",
        "correlation_near_one",
        "fee_zero_full_coverage",
        "pd_mean_lowered_by_grade_cap",  # a mean PD of 0.9 silently became 0.72
    } <= names


@pytest.mark.parametrize("path", ABSURD, ids=lambda p: p.stem)
def test_an_absurd_value_warns_once_at_its_key_and_line(path):
    exp = expectations(path)
    found = load_warnings(path)
    assert len(found) == 1, [str(w) for w in found]
    w = found[0]
    assert (w.path, w.key, w.line) == (str(path), exp["key"], exp["line"]), str(w)
    text = str(w)
    assert text.startswith(f"{path}, line {exp['line']}, key '{exp['key']}': ")
    for words in exp["messages"]:
        assert words in text, f"{words!r} not in {text}"
    assert w.source and w.source in text  # where the bound comes from


@pytest.mark.parametrize("path", ABSURD, ids=lambda p: p.stem)
def test_strict_makes_it_an_error(path):
    exp = expectations(path)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, strict=True)
    err = info.value
    assert (err.key, err.line) == (exp["key"], exp["line"])
    assert "an error with --strict" in str(err)


def test_an_override_that_makes_a_value_absurd_is_cited():
    path = HERE / "invalid" / "_valid_minimal.yaml"
    (w,) = load_warnings(path, ["segments.sme.pd.mean=0.9"])
    assert "--set segments.sme.pd.mean=0.9" in str(w) and w.line is None


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_shipped_and_valid_scenarios_do_not_warn(path):
    assert load_warnings(path) == []


def test_every_bound_names_a_key_of_the_schema_and_its_source():
    for bound in plausibility.BOUNDS:
        tp: object = Scenario
        for part in bound.key.split("."):
            if part.startswith("<"):
                tp = _member(_step(tp, "x"), {"kind": part[1:-1]})
            else:
                tp = _step(tp, part) if part != "*" else _step(tp, 0)
            assert tp is not None, f"{bound.key}: no key {part!r}"
        assert "PARAMETERS.md" in bound.source, bound.key
        assert bound.low is not None or bound.high is not None


@pytest.mark.parametrize(
    "value, support",
    [
        (0.02, [((), 0.02)]),
        (PerYear.of({2021: 0.01, 2022: 0.9}), [((2021,), 0.01), ((2022,), 0.9)]),
        (Distribution("beta", alpha=2, beta=5, min=0.01, max=0.9999), [((), 0.01), ((), 0.9999)]),
        (Distribution("lognormal", median=0.02, sd=0.5), [((), 0.0), ((), float("inf"))]),
        (Sourced(PerYear.of({2021: 0.5}), "x"), [(("value", 2021), 0.5)]),
    ],
)
def test_a_value_is_checked_on_its_support(value, support):
    """Distributions and per-year values are checked on every value they can take."""
    assert plausibility.support(value) == support
    bound = plausibility.Bound("k", 0.001, 0.5, "annual PD", "PARAMETERS.md")
    found = list(plausibility._outside(bound, ("k",), value))
    assert bool(found) == any(not 0.001 <= x <= 0.5 for _, x in support)
