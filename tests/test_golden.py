"""Golden pairs: every shipped scenario's summaries, recomputed and compared bit for bit.

``tests/golden/<scenario>.json`` holds the scenario's loss summary (mean, VaR 99/99.9,
ES 99 per party, over the run and per year), yearly summary, targets, fiscal cost, pool
depletion and guarantor insolvency probabilities, run totals and process measures, at the
reduced scale recorded in the file. A change that moves any number by one bit fails here;
if the change is meant, regenerate (``tests/golden/README.md``) in its own commit.
"""

from __future__ import annotations

import json

import pytest
from golden import regenerate as golden

NAMES = golden.scenario_names()
MAX_LINES = 15


def test_every_scenario_has_a_golden_file_and_a_scale():
    missing = [n for n in NAMES if not golden.golden_path(n).is_file()]
    assert not missing, (
        f"no golden file for {missing}: add its scale to SCALE in tests/golden/regenerate.py "
        "and run `python tests/golden/regenerate.py NAME` (tests/golden/README.md)"
    )
    assert set(golden.SCALE) == set(NAMES), "SCALE must name exactly the shipped scenarios"
    stale = sorted(p.stem for p in golden.GOLDEN.glob("*.json") if p.stem not in NAMES)
    assert not stale, f"golden files without a scenario: {stale}"


@pytest.mark.parametrize("name", NAMES)
def test_golden_file_records_the_scale_it_was_made_at(name):
    recorded = golden.load(name)["scale"]
    expected = {**golden.SCALE[name], "seed": recorded["seed"]}
    assert recorded == expected, (
        f"{name}: the golden file was made at {recorded}, SCALE says {expected}; regenerate"
    )


@pytest.mark.parametrize("name", NAMES)
def test_scenario_reproduces_its_golden_summary_exactly(name):
    expected = golden.load(name)
    actual = json.loads(golden.dumps(golden.compute(name, expected["scale"])))
    diff = golden.differences(expected, actual)
    if diff:
        shown = "\n  ".join(diff[:MAX_LINES])
        more = f"\n  ... and {len(diff) - MAX_LINES} more" if len(diff) > MAX_LINES else ""
        pytest.fail(
            f"{name}: {len(diff)} numbers differ from tests/golden/{name}.json "
            f"(scale {expected['scale']}):\n  {shown}{more}\n"
            "If the change is intended, regenerate in its own commit with a CHANGELOG line "
            "(tests/golden/README.md).",
            pytrace=False,
        )


def test_comparison_is_exact_and_names_the_mismatch():
    """The comparison itself: one bit in one number is a difference; NaN equals NaN."""
    base = {"summary": {"a": {"x": 0.1, "y": float("nan")}, "b": 2.0}}
    nudged = {"summary": {"a": {"x": 0.1 + 2**-56, "y": float("nan")}, "b": 2.0}}
    assert 0.1 + 2**-56 != 0.1
    assert golden.differences(base, json.loads(golden.dumps(base))) == []
    (line,) = golden.differences(base, nudged)
    assert line.startswith("summary.a.x: golden 0.1, now 0.10000000000000002")
    dropped = {"summary": {"a": {"x": 0.1}, "b": 2.0}}
    assert golden.differences(base, dropped) == ["summary.a.y: golden nan, now missing"]
