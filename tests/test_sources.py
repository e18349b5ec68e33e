"""Sources written as tagged comments become data (issue 12 §1, "sources travel"): the
loader keeps them by key, an override drops the ones it makes untrue, and they reach the
results' ``value_sources`` attr."""

from __future__ import annotations

import json
from pathlib import Path

import guarantee_sim as gs
from guarantee_sim.config.sources import comment_sources

SCENARIO = """\
# The header says what the tags mean: PARAM: a row of PARAMETERS.md
name: tagged
segments:
  sme:
    # Prose first, then the source. PARAM: LGD 65% (45-80%)
    lgd: 0.65
    label: "a # inside quotes is no comment"   # ASSUMPTION: a label
    loan_size: {median: 1.0e6, cap: 1.0e7}  # PARAM: median 1 m; 004: cap 10 m

    tenor_months: 12
"""
LINES = {
    ("name",): 2,
    ("segments",): 3,
    ("segments", "sme"): 4,
    ("segments", "sme", "lgd"): 6,
    ("segments", "sme", "label"): 7,
    ("segments", "sme", "loan_size"): 8,
    ("segments", "sme", "loan_size", "median"): 8,
    ("segments", "sme", "loan_size", "cap"): 8,
    ("segments", "sme", "tenor_months"): 10,
}


def test_each_key_gets_the_tagged_comment_beside_or_above_it():
    assert comment_sources(SCENARIO, LINES) == {
        "segments.sme.lgd": "PARAM: LGD 65% (45-80%)",
        "segments.sme.label": "ASSUMPTION: a label",
        "segments.sme.loan_size": "PARAM: median 1 m; 004: cap 10 m",
    }


def test_the_files_header_is_nobodys_source():
    assert "name" not in comment_sources(SCENARIO, LINES)


def test_a_shipped_scenario_keeps_its_sources_by_key():
    scenario = gs.load_scenario("scenarios/county_guarantee_2021.yaml")
    sources = scenario.value_sources()
    assert len(sources) >= 10
    assert all(
        s.split(":")[0] in {"PARAM", "ASSUMPTION", "DESIGN"} or s[:3].isdigit()
        for s in sources.values()
    )


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_override_drops_the_source_of_what_it_changes(tmp_path):
    shipped = Path("scenarios/county_guarantee_2021.yaml").read_text(encoding="utf-8")
    path = _write(tmp_path, shipped)
    before = gs.load_scenario(path).value_sources()
    key = next(k for k in before if k.startswith("segments.") and k.endswith(".lgd"))
    after = gs.load_scenario(path, overrides=[f"{key}=0.5"]).value_sources()
    assert key not in after
    assert {k: v for k, v in before.items() if k != key} == after


def test_the_sources_reach_the_results(tmp_path):
    scenario = gs.load_scenario(
        "scenarios/county_guarantee_2021.yaml", overrides=["simulation.paths=4"]
    )
    ds = gs.simulate(scenario)
    stored = json.loads(ds.attrs["value_sources"])
    assert stored == scenario.value_sources() and stored


def test_a_block_under_a_one_line_key_explains_that_key_not_the_next():
    """The shipped files explain a number in the lines under it (``loan_size: {...}`` then
    its reasoning, then ``tenor_months``): the reasoning is the loan size's source."""
    sources = gs.load_scenario("scenarios/hangzhou_2021_2023.yaml").value_sources()
    assert "loan size mean 1.5 m" in sources["segments.first_time_credit.loan_size"]
    assert "loan size" not in sources["segments.first_time_credit.tenor_months"]
    demand = "processes.demand.first_time_credit"
    assert "first-loan applications a year" in sources[f"{demand}.applications_per_year"]
    assert "first-loan applications" not in sources[f"{demand}.growth"]
    # a block under a key that opens a mapping belongs to the key below it
    assert sources["segments.first_time_credit.lgd"].startswith("PARAM: LGD")


def test_a_comment_carried_on_under_its_key_stays_with_that_key():
    """A key's end-of-line comment often goes on in the lines under it, aligned with its
    ``#`` (``persistence: 0.3  # ASSUMPTION: ...`` then its range): those lines are the
    same key's source, not the next key's (the brief gave persistence's range to
    ``demand_elasticity``, and the bank's score-noise range to ``credit_data_sharing``)."""
    text = (
        "macro:\n"
        "  persistence: 0.3   # ASSUMPTION: mild persistence;\n"
        "                     # range 0-0.6 (default-rate series)\n"
        "  demand_elasticity: 0.1   # ASSUMPTION: range 0-0.25\n"
        "  factors: [economy]\n"
    )
    lines = {("macro",): 1, ("macro", "persistence"): 2, ("macro", "demand_elasticity"): 4,
             ("macro", "factors"): 5}  # fmt: skip
    sources = comment_sources(text, lines)
    assert sources == {
        "macro.persistence": "ASSUMPTION: mild persistence; range 0-0.6 (default-rate series)",
        "macro.demand_elasticity": "ASSUMPTION: range 0-0.25",
    }
    shipped = gs.load_scenario("scenarios/hangzhou_2021_2023.yaml").value_sources()
    assert "range 0-0.6" in shipped["macro.persistence"]
    assert "range 0-0.6" not in shipped["macro.demand_elasticity"]
    assert "scorecard" not in shipped["processes.bank.credit_data_sharing"]
    specialised = gs.load_scenario("scenarios/hangzhou_zhuanjingtexin_2025.yaml")
    assert "range 0.4-1.0" in specialised.value_sources()["processes.bank.score_noise"]
