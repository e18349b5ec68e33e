"""首贷户 are firms: a first loan, its renewals, and the counts targets use (issue 9 D).

A firm's first loan is booked in a first-time segment; its renewals may be booked ``into``
another segment (a seasoned one). Three counts, each a target metric:

* ``borrowers`` counts the firm once, at its first loan (新增首贷户, 户);
* ``cohort_loans_count`` / ``_amount`` count every loan of the firm's cohort (the segment
  of its first loan), renewals included wherever they are booked (累计对首贷户发放贷款);
* ``loans_count`` / ``_amount`` count what is booked in the segments, whoever borrows.

Known answers by hand on a one-firm book with no defaults and renewal rate 1, and an
accounting identity on a run with defaults, rationing-free.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_scenario
from process_scenarios import process_dict

import guarantee_sim as gs
from guarantee_sim import ScenarioError
from guarantee_sim.engine.inputs import build_inputs
from guarantee_sim.processes.run import PD_GRID, expected_claims
from guarantee_sim.testing import LoanBook

LOAN = 1.0e6
# PD 1e-9 draws no default; the plausibility check rightly calls it implausible
pytestmark = pytest.mark.filterwarnings("ignore:implausible annual PD")


def two_segment_dict(pd: float = 1e-9, renewal_rate: float = 1.0) -> dict:
    """``first`` (first-time, 首贷户) renews into ``seasoned`` (existing borrowers), which
    renews into itself; two years of lending, tenor 12, every loan 1 m."""
    segment = {
        "pd": {"mean": pd},
        "lgd": 0.5,
        "recovery": {"lag_months": 1, "spread_months": 3},
        "correlation": 0.1,
        "loan_size": {"median": LOAN, "sigma": 0.0, "cap": 1.0e7},
        "tenor_months": 12,
        "scheme": "bank_only",
    }
    targets = {
        "first_time_borrowers": ("borrowers", 1.0),
        "first_time_lending": ("cohort_loans_amount", LOAN),
        "first_time_loans": ("cohort_loans_count", 1.0),
        "booked_in_first_time": ("loans_count", 1.0),
    }
    return {
        "name": "first_time_cohort",
        "horizon": {"start_year": 2021, "origination_years": 3, "runoff_months": 24},
        "simulation": {"paths": 4, "seed": 99, "granularity": "loan", "block_size": 2},
        "segments": {
            "first": {
                **segment,
                "tags": ["first_time"],
                "lending": {"count_per_year": 24},
                "renewal": {"rate": renewal_rate, "into": "seasoned"},
            },
            "seasoned": {
                **segment,
                "tags": ["existing"],
                "renewal": {"rate": renewal_rate},
            },
        },
        "parties": {"bank": {"kind": "bank"}},
        "schemes": {"bank_only": {"coverage": 0.0}},
        "targets": {
            name: {
                "metric": metric,
                "tags": ["first_time"],
                "kind": "flow",
                "from_year": 2021,
                "to_year": 2023,
                "value": value,
            }
            for name, (metric, value) in targets.items()
        },
    }


def one_firm() -> LoanBook:
    """One firm: a first loan of 1 m in April 2021 (month 3)."""
    return LoanBook.from_records(
        [{"segment": 0, "month": 3, "tenor": 12, "amount": LOAN}], segments=["first", "seasoned"]
    )


def test_a_firm_that_borrows_three_times_counts_once_as_a_borrower():
    """April 2021 first loan, renewed April 2022 and April 2023 into ``seasoned`` (PD ~0,
    renewal rate 1; the 2024 maturity is after lending stops): 1 borrower over 2021-2023,
    3 loans of 3 m in its cohort, 1 loan booked in the first-time segment."""
    ds = gs.simulate(make_scenario(two_segment_dict()), book=one_firm())
    first = ds.sel(segment="first")
    assert first.borrowers.sum("year").values.tolist() == [1.0] * 4
    assert (
        first.cohort_loans_count.sel(year=[2021, 2022, 2023]).values.tolist()
        == [[1.0, 1.0, 1.0]] * 4
    )
    assert first.cohort_loans_amount.sum("year").values.tolist() == [3 * LOAN] * 4
    assert first.loans_count.sum("year").values.tolist() == [1.0] * 4
    seasoned = ds.sel(segment="seasoned")
    assert (
        seasoned.loans_count.sel(year=[2021, 2022, 2023]).values.tolist() == [[0.0, 1.0, 1.0]] * 4
    )
    assert seasoned.borrowers.sum().item() == 0.0  # a renewal is not a new borrower
    assert seasoned.cohort_loans_count.sum().item() == 0.0  # its firms are `first`'s cohort
    attainment = ds.target_attainment.isel(path=0).to_series().to_dict()
    assert attainment == {
        "first_time_borrowers": 1.0,
        "first_time_lending": 3.0,
        "first_time_loans": 3.0,
        "booked_in_first_time": 1.0,
    }


@pytest.mark.parametrize("granularity", ["loan", "cohort"])
def test_cohort_loans_are_first_loans_plus_their_renewals(granularity):
    """Accounting identity on a run with defaults (PD 5%) and partial renewal (80%): the
    first-time cohort's loans = its first loans + every renewal booked in ``seasoned``
    (fed only by them), per path and year; every loan is in exactly one cohort."""
    scenario = make_scenario(
        two_segment_dict(pd=0.05, renewal_rate=0.8),
        **{"simulation.granularity": granularity, "simulation.paths": 40},
    )
    ds = gs.simulate(scenario, block_size=16)
    first, seasoned = ds.sel(segment="first"), ds.sel(segment="seasoned")
    assert float(seasoned.loans_count.sum()) > 0  # renewals happened
    assert float(ds.defaults_count.sum()) > 0  # and defaults, so renewals are not all loans
    np.testing.assert_allclose(
        first.cohort_loans_count, first.borrowers + seasoned.loans_count, rtol=1e-12
    )
    np.testing.assert_allclose(
        first.cohort_loans_amount,
        first.loans_amount + seasoned.loans_amount,
        rtol=1e-12,
    )
    for kind in ("count", "amount"):
        np.testing.assert_allclose(
            ds[f"cohort_loans_{kind}"].sum("segment"),
            ds[f"loans_{kind}"].sum("segment"),
            rtol=1e-12,
        )


def test_borrowers_counts_each_firm_once_over_the_period_not_once_a_year():
    """A 2021-2023 borrowers target counts the firm of the one-firm book once although it
    borrows in every year; a 2022-2023 one does not count it (its first loan was in 2021)."""
    data = two_segment_dict()
    data["targets"]["later"] = {
        "metric": "borrowers",
        "tags": ["first_time"],
        "kind": "flow",
        "from_year": 2022,
        "to_year": 2023,
        "value": 1.0,
    }
    ds = gs.simulate(make_scenario(data), book=one_firm())
    attainment = ds.target_attainment.isel(path=0)
    assert float(attainment.sel(target="first_time_borrowers")) == 1.0
    assert float(attainment.sel(target="later")) == 0.0


def test_firm_metric_on_a_segment_fed_only_by_renewals_is_refused():
    data = two_segment_dict()
    data["targets"]["seasoned_lending"] = {
        "metric": "cohort_loans_amount",
        "tags": ["existing"],
        "kind": "flow",
        "from_year": 2021,
        "to_year": 2023,
        "value": 1.0,
    }
    with pytest.raises(ScenarioError) as err:
        make_scenario(data)
    message = str(err.value)
    assert "targets.seasoned_lending.metric" in message
    assert "first loans or an initial book" in message
    # the same count is fine on the segment the firms first borrowed in
    data["targets"]["seasoned_lending"]["tags"] = ["first_time"]
    make_scenario(data)


SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_shipped_target_says_which_count_it_uses(path):
    """Each target's ``metric:`` line carries a ``# count:`` comment, and the scenario
    validates (so its firm-based targets select segments with first loans)."""
    scenario = gs.load_scenario(path)
    metric_lines = [line for line in path.read_text().splitlines() if "    metric:" in line]
    assert len(metric_lines) == len(scenario.targets)
    for line in metric_lines:
        assert "# count:" in line, f"{path.name}: {line.strip()}"


def test_hangzhou_first_time_targets_count_firms_and_their_cohort():
    """新增首贷户5万户 counts firms once; 累计对首贷户发放贷款1500亿元 counts the first-time
    firms' loans, renewals included wherever they are booked."""
    targets = gs.load_scenario(
        Path(__file__).resolve().parents[1] / "scenarios/hangzhou_2021_2023.yaml"
    ).targets
    assert targets["first_time_borrowers"].metric == "borrowers"
    assert targets["first_time_lending"].metric == "cohort_loans_amount"


# Seasoning: from its second loan (its first renewal) a firm's PD is renewal.seasoning times
# its PD at its first loan; later renewals keep it.


def test_seasoning_moves_the_first_renewal_to_the_grade_of_the_seasoned_pd():
    """Grades at 0.5, 1 and 2 x the mean, seasoning 0.5, renewing into the same segment: at
    the first renewal grade 1 -> 0 (1 x 0.5 = 0.5), grade 2 -> 1, grade 0 stays (0.25 is
    nearest 0.5); at later renewals every grade keeps its PD."""
    data = two_segment_dict(pd=0.04)
    data["segments"]["first"]["pd"]["grades"] = [
        {"relative_pd": r, "weight": 1 / 3} for r in (0.5, 1.0, 2.0)
    ]
    data["segments"]["first"]["renewal"] = {"rate": 0.8, "seasoning": 0.5}
    grades = build_inputs(make_scenario(data), seed=1).segments.renew_grade
    assert grades[0, 0].tolist() == [0, 0, 1]  # first renewal: seasoned
    assert grades[1, 0].tolist() == [0, 1, 2]  # later renewals: the same PD
    data["segments"]["first"]["renewal"]["seasoning"] = 1.0
    grades = build_inputs(make_scenario(data), seed=1).segments.renew_grade
    assert grades[0, 0].tolist() == [0, 1, 2]


def test_seasoned_renewals_default_less_and_the_first_loans_are_untouched():
    """Common random numbers, seasoning 0.25 against none (PD 20%, so defaults happen):
    first loans draw the same defaults on every path, bit for bit; their renewals (booked
    in ``seasoned``) default less, so more of the cohort's firms renew again."""

    def run(seasoning):
        data = two_segment_dict(pd=0.2, renewal_rate=1.0)
        data["segments"]["seasoned"]["pd"] = {
            "mean": 0.2,
            "grades": [{"relative_pd": r, "weight": 0.5} for r in (0.25, 1.0)],
        }
        data["segments"]["first"]["renewal"]["seasoning"] = seasoning
        return gs.simulate(make_scenario(data, **{"simulation.paths": 50}))

    plain, seasoned = run(1.0), run(0.25)
    first = {"segment": "first"}
    np.testing.assert_array_equal(
        plain.defaults_count.sel(first), seasoned.defaults_count.sel(first)
    )
    np.testing.assert_array_equal(plain.borrowers, seasoned.borrowers)
    renewed = {"segment": "seasoned"}
    assert float(seasoned.defaults_count.sel(renewed).sum()) < 0.5 * float(
        plain.defaults_count.sel(renewed).sum()
    )
    assert (
        seasoned.cohort_loans_count.sel(first).sum("year")
        >= plain.cohort_loans_count.sel(first).sum("year")
    ).all()
    assert float(seasoned.cohort_loans_count.sel(first).sum()) > float(
        plain.cohort_loans_count.sel(first).sum()
    )


def test_expected_claims_season_the_first_renewal():
    """The processes' claim volume follows the kernels: 100 guaranteed loans of PD p renew
    at rate 0.5 x 0.8 (bank's approval share); the renewed firms' PD is 0.5 p from their
    second loan on (seasoning 0.5), and stays there at the next renewal."""
    d = process_dict(years=3, coverage=0.8, guarantor_reviewers=1)
    d["segments"]["sme"]["renewal"] = {"rate": 0.5, "seasoning": 0.5}
    d["horizon"]["runoff_months"] = 24
    scenario = make_scenario(d)
    grade = int(np.argmin(np.abs(PD_GRID - 0.12)))
    p = float(PD_GRID[grade])
    book = LoanBook.from_records(
        [{"segment": 0, "month": 0, "tenor": 12, "amount": 1e6, "grade": grade, "n_loans": 100}]
    )
    expected = expected_claims(scenario, "guarantor", book, None, np.array([0.8]))
    second = 100 * (1 - p) * 0.5 * 0.8
    third = second * (1 - 0.5 * p) * 0.5 * 0.8
    by_hand = np.concatenate(
        [
            np.full(12, 100 * p / 12),
            np.full(12, second * 0.5 * p / 12),
            np.full(12, third * 0.5 * p / 12),
        ]
    )
    np.testing.assert_allclose(expected[:36], by_hand, rtol=1e-12)
