"""The design solver (guarantee_sim/analysis/design.py): the search finds a known answer,
says plainly when none is feasible, re-estimates on a fresh seed, marks the binding
constraints; the design: section is validated like the rest of an experiment.

The known answer: a one-period Vasicek book (PD 2%, LGD 45%, rho 0.12, one factor draw Z
per path) whose loss a pool pays. The pool runs dry on a path when the loss exceeds its
size, so P(depleted | size) = P(L > size) falls monotonically with the size and the
smallest size with P ≤ y is the (1 - y) quantile of L, known in closed form. With common
random numbers (one Z per path for every design) the search must find exactly the
smallest lattice size whose empirical depletion share is ≤ y.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest
import xarray as xr
from helpers import ROOT, run_main
from scipy.stats import norm

from guarantee_sim.analysis import design as design_module
from guarantee_sim.analysis.design import incumbent, search, solve, solve_design
from guarantee_sim.config import ScenarioError
from guarantee_sim.experiments import (
    DESIGN_OUTCOMES,
    DESIGN_PROBABILITIES,
    DesignSpec,
    load_experiment,
)
from guarantee_sim.results.intervals import wilson_interval
from guarantee_sim.results.outcomes import EVENTS, OUTCOMES

PD, LGD, RHO, EXPOSURE = 0.02, 0.45, 0.12, 1.0e9
PATHS, Y = 4000, 0.05
#: the closed-form (1 - Y) quantile of the one-period Vasicek loss
QUANTILE = (
    EXPOSURE
    * LGD
    * norm.cdf((norm.ppf(PD) + math.sqrt(RHO) * norm.ppf(1 - Y)) / math.sqrt(1 - RHO))
)
STEP = QUANTILE / 8  # the lattice: 16 steps from 0 to twice the answer


def vasicek_loss(seed: int) -> np.ndarray:
    """The loss on each path: the default rate given the path's factor draw, times LGD."""
    z = np.random.default_rng(seed).standard_normal(PATHS)
    rate = norm.cdf((norm.ppf(PD) + math.sqrt(RHO) * z) / math.sqrt(1 - RHO))
    return EXPOSURE * LGD * rate


def _share(hits: np.ndarray, name: str) -> dict:
    p = float(hits.mean())
    low, high = wilson_interval(p, hits.size)
    return {name: p, f"{name}_low": float(low), f"{name}_high": float(high)}


class Pool:
    """A hand-built evaluator: the pool's size is the lever and its cost the objective;
    P(depleted) = share of paths with loss > size; P(insolvent) (a second, looser event)
    = share with loss > 3 x size. Records the seeds it was called with."""

    def __init__(self) -> None:
        self.seeds: list[int] = []

    def __call__(self, points: list[dict[str, float]], seed: int) -> list[xr.Dataset]:
        self.seeds.append(seed)
        loss = vasicek_loss(seed)
        out = []
        for point in points:
            size = point["pool_size"]
            values = {
                "public_cost_pv": size,
                "public_cost_pv_low": size,
                "public_cost_pv_high": size,
                **_share(loss > size, "pool_depletion_probability"),
                **_share(loss > 3 * size, "guarantor_insolvency_probability"),
            }
            out.append(xr.Dataset({k: ((), v) for k, v in values.items()}))
        return out


def spec(upper: float = 2 * QUANTILE, constraints=None, **search) -> DesignSpec:
    return DesignSpec.model_validate(
        {
            "levers": [
                {
                    "name": "pool_size",
                    "key": "parties.gov_pool.initial_balance",
                    "lower": 0.0,
                    "upper": upper,
                    "step": STEP,
                    "label": {"zh": "资金池规模", "en": "pool size"},
                    "units": "CNY",
                }
            ],
            "constraints": constraints or [{"outcome": "pool_depletion_probability", "at_most": Y}],
            "search": {"grid_points": 5, "refine_rounds": 2, **search},
        }
    )


def brute_force(seed: int, upper: float = 2 * QUANTILE) -> float:
    """The smallest lattice size with depletion share ≤ Y, by trying every one."""
    loss = vasicek_loss(seed)
    for k in range(round(upper / STEP) + 1):
        if (loss > k * STEP).mean() <= Y:
            return k * STEP
    return math.nan


def test_the_search_finds_the_smallest_pool_with_depletion_at_most_y():
    ds = solve(spec(), Pool(), seed=11)
    found = float(ds.best_value.sel(lever="pool_size"))
    assert ds.attrs["status"] == "feasible"
    assert not ds.best_at_bound.any()
    assert found == pytest.approx(brute_force(11), rel=1e-12)  # exactly, on the lattice
    # and that is the closed-form quantile, up to one step and the sampling noise
    assert abs(found - QUANTILE) <= STEP
    # grid 0, 2, 4, 6, 8 (x 2 steps... in quantile eighths x 4) then two halvings: ≤ 9 runs
    assert ds.attrs["n_evaluations"] <= 9
    assert set(ds.refinement_round.values) == {0, 1, 2}
    assert "grid then local refinement" in ds.attrs["method"]


def test_no_feasible_design_reports_the_closest_one():
    """Bounds that stop at half the answer: infeasible, said plainly; the closest design
    is the largest pool (least violation), and its violation is its depletion share - Y."""
    ds = solve(spec(upper=QUANTILE / 2), Pool(), seed=11)
    assert ds.attrs["status"] == "infeasible within the bounds"
    assert not ds.feasible.any()
    assert float(ds.best_value.sel(lever="pool_size")) == pytest.approx(QUANTILE / 2)
    assert bool(ds.best_at_bound.sel(lever="pool_size"))
    share = (vasicek_loss(11) > QUANTILE / 2).mean()
    assert float(ds.constraint_violation[0]) == pytest.approx(share - Y)
    assert not ds.constraint_active.any()
    assert "closest design" in "\n".join(design_module.summarise(ds))


def test_the_best_design_is_re_estimated_on_a_fresh_seed():
    pool = Pool()
    ds = solve(spec(), pool, seed=11)
    assert pool.seeds[-1] == 12 and set(pool.seeds[:-1]) == {11}
    assert ds.attrs["fresh_seed"] == 12
    size = float(ds.best_value.sel(lever="pool_size"))
    fresh = (vasicek_loss(12) > size).mean()
    assert float(ds.fresh_estimate[0]) == pytest.approx(fresh)
    assert float(ds.selection_estimate[0]) == pytest.approx((vasicek_loss(11) > size).mean())
    low, high = float(ds.selection_low[0]), float(ds.selection_high[0])
    assert bool(ds.fresh_inside_selection_interval[0]) == (low <= fresh <= high)
    assert bool(ds.constraint_met_fresh[0]) == (fresh <= Y)
    with pytest.raises(ValueError, match="fresh seed"):
        solve(spec().model_copy(update={"fresh_seed": 11}), Pool(), seed=11)


@pytest.mark.parametrize("fresh, inside", [(0.045, True), (0.06, False)])
def test_whether_the_fresh_estimate_lies_inside_the_selection_interval(fresh, inside):
    """Selection seed: 4% [3%, 5%]; fresh seed: ``fresh`` [fresh - 2%, fresh + 2%] (its
    own interval's ends lie on the other side of the selection's: only the estimate
    counts)."""

    def evaluate(points, seed):
        p = 0.04 if seed == 11 else fresh
        half = 0.01 if seed == 11 else 0.02
        return [
            xr.Dataset(
                {
                    "public_cost_pv": ((), point["pool_size"]),
                    "pool_depletion_probability": ((), p),
                    "pool_depletion_probability_low": ((), p - half),
                    "pool_depletion_probability_high": ((), p + half),
                }
            )
            for point in points
        ]

    ds = solve(
        spec(constraints=[{"outcome": "pool_depletion_probability", "at_most": 0.05}]),
        evaluate,
        seed=11,
    )
    assert bool(ds.fresh_inside_selection_interval[0]) is inside
    assert bool(ds.constraint_met_fresh[0]) is (fresh <= 0.05)
    assert float(ds.best_value[0]) == 0.0  # every design meets it: the cheapest


def test_points_share_their_paths():
    """Common random numbers: the same design twice gives the same outcomes, and a
    design's outcomes are those of a plain run at the seed."""
    import guarantee_sim as gs
    from guarantee_sim.analysis.design import evaluate_points
    from guarantee_sim.results.outcomes import design_outcomes

    base = "scenarios/county_guarantee_2021.yaml"
    point = {"parties.guarantor.net_assets": 1.0e8}
    first, again = evaluate_points(base, [point, point], paths=8, seed=5)
    xr.testing.assert_identical(first, again)
    plain = design_outcomes(gs.simulate(gs.load_scenario(base, overrides=point), paths=8, seed=5))
    assert float(first.public_cost_pv) == float(plain.public_cost_pv)


def test_only_the_binding_constraint_is_active():
    """P(loss > size) ≤ 5% binds; P(loss > 3 size) ≤ 5% is met by every design that
    meets the first (and by some that do not): it does not hold the answer up."""
    constraints = [
        {"outcome": "pool_depletion_probability", "at_most": Y},
        {"outcome": "guarantor_insolvency_probability", "at_most": Y},
    ]
    ds = solve(spec(constraints=constraints), Pool(), seed=11)
    assert ds.constraint_active.values.tolist() == [True, False]
    assert ds.constraint_violation.values.tolist() == [0.0, 0.0]
    # dropping the binding one makes a cheaper design the answer: the active flag's meaning
    loose = solve(spec(constraints=constraints[1:]), Pool(), seed=11)
    assert float(loose.best_value[0]) < float(ds.best_value[0])


def test_incumbent_prefers_feasible_then_cheap_then_least_violation():
    def e(objective, violation):
        item = design_module.Evaluation({"x": objective}, xr.Dataset(), 0)
        item.objective, item.violations = objective, [violation]
        return item

    assert incumbent([e(3.0, 0.0), e(1.0, 0.2), e(2.0, 0.0)]) == 2
    assert incumbent([e(3.0, 0.1), e(1.0, 0.2), e(2.0, 0.1)]) == 2


def test_the_frontier_keeps_the_designs_no_cheaper_one_beats():
    """(cost, P(target)): (1, 20%), (2, 10%), (3, 50%), (4, 50%), (5, 90%), and (0.5,
    95%) failing the other constraint: the frontier is the 1st, 3rd and 5th (the 2nd is
    dearer and less likely than the 1st, the 4th dearer than the 3rd and no likelier)."""
    spec_ = spec(
        constraints=[
            {"outcome": "target_probability", "target": "t", "at_least": 0.8},
            {"outcome": "pool_depletion_probability", "at_most": Y},
        ]
    )

    def e(cost, p, other):
        outcomes = xr.Dataset({"target_probability": ("target", [p])}, coords={"target": ["t"]})
        item = design_module.Evaluation({"pool_size": cost}, outcomes, 0)
        item.objective, item.violations = cost, [max(0.0, 0.8 - p), other]
        return item

    points = [(1, 0.2, 0), (2, 0.1, 0), (3, 0.5, 0), (4, 0.5, 0), (5, 0.9, 0), (0.5, 0.95, 0.1)]
    marked = design_module.on_frontier(spec_, [e(*x) for x in points], "t")
    assert marked == [True, False, True, False, True, False]
    assert design_module.violation(math.nan, spec_.constraints[0]) == 1.0


def test_refinement_lands_on_the_lattice_inside_the_bounds():
    evaluations = search(spec(), lambda points: Pool()(points, 11))
    values = [e.point["pool_size"] for e in evaluations]
    assert all(0.0 <= v <= 2 * QUANTILE * (1 + 1e-12) for v in values)
    assert all(abs(v / STEP - round(v / STEP)) < 1e-9 for v in values)
    assert len(set(values)) == len(values)  # no design evaluated twice


def test_the_outcome_names_are_those_of_design_outcomes():
    assert set(DESIGN_OUTCOMES) == set(OUTCOMES)
    assert set(DESIGN_PROBABILITIES) == {"target_probability", *EVENTS}


# --------------------------------------------------------------------------- from a file


def _experiment(tmp_path, design: str, extra: str = "") -> str:
    path = tmp_path / "design.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: county_capital
            base: {(__import__("pathlib").Path("scenarios/county_guarantee_2021.yaml")).resolve()}
            paths: 16
            {extra}
            design:
            """
        )
        + textwrap.indent(textwrap.dedent(design), "  "),
        encoding="utf-8",
    )
    return str(path)


LEVER = """\
levers:
  - name: guarantor_capital
    key: parties.guarantor.net_assets
    lower: 2.0e7
    upper: 3.0e8
    step: 1.0e7
    label: {zh: 担保机构净资产, en: guarantor's net assets}
    units: CNY
"""


@pytest.mark.parametrize(
    "design, key, said",
    [
        (LEVER + "objective: target_probability\n", "design.objective", "allowed"),
        (
            LEVER + "constraints:\n  - {outcome: pool_depleted, at_most: 0.05}\n",
            "design.constraints.0.outcome",
            "allowed",
        ),
        (
            LEVER + "constraints:\n  - {outcome: leverage_cap_probability, at_most: 1.5}\n",
            "design.constraints.0.at_most",
            "less than or equal to 1",
        ),
        (LEVER.replace("upper: 3.0e8", "upper: 1.0e7"), "design.levers.0.upper", "greater"),
        (LEVER.replace("key: parties.guarantor.net_assets", "key: simulation.paths"),
         "design.levers.0.key", "run setting"),
    ],
)  # fmt: skip
def test_a_bad_design_section_is_refused_naming_file_line_and_key(tmp_path, design, key, said):
    path = _experiment(tmp_path, design)
    with pytest.raises(ScenarioError) as err:
        load_experiment(path)
    text = str(err.value)
    assert "design.yaml" in text and key in text and said in text
    assert "line " in text


def test_a_constrained_target_the_base_lacks_is_refused_before_any_run(tmp_path):
    path = _experiment(
        tmp_path,
        LEVER + "constraints:\n  - {outcome: target_probability, target: nope, at_least: 0.8}\n",
    )
    with pytest.raises(ScenarioError, match=r"line 1[0-9].*design\.constraints\.0\.target.*nope"):
        solve_design(path, evaluate=lambda *a, **k: pytest.fail("ran"))


def test_a_design_beside_variants_is_refused(tmp_path):
    path = _experiment(tmp_path, LEVER, extra="variants: {a: {}}")
    with pytest.raises(ScenarioError, match="no variants or grid"):
        load_experiment(path)


def test_end_to_end_on_the_county_scenario(tmp_path):
    """The real path: scenario files, overrides, simulate, design_outcomes, the written
    results and figures. More net assets cannot make the guarantor insolvent more often
    on the same paths, so the chosen capital is where the share first drops to the bound
    among the designs evaluated."""
    from guarantee_sim.cli import main

    path = _experiment(
        tmp_path,
        LEVER
        + textwrap.dedent(
            """\
            constraints:
              - {outcome: guarantor_insolvency_probability, at_most: 0.1}
            search: {grid_points: 3, refine_rounds: 1}
            """
        ),
    )
    out = tmp_path / "out.nc"
    assert main(["design", path, "--out", str(out), "--quiet"]) == 0
    ds = xr.open_dataset(out)
    assert (tmp_path / "out_zh.png").stat().st_size > 0
    assert (tmp_path / "out_en.png").stat().st_size > 0
    assert ds.attrs["n_paths"] == 16 and ds.attrs["fresh_seed"] == ds.attrs["seed"] + 1
    order = np.argsort(ds.lever_value.sel(lever="guarantor_capital").values)
    p = ds.guarantor_insolvency_probability.values[order]
    assert np.all(np.diff(p) <= 0)  # common random numbers: monotone, not just on average
    if ds.attrs["status"] == "feasible":
        feasible = ds.feasible.values[order]
        assert feasible[np.argmax(feasible)] and not feasible[: np.argmax(feasible)].any()
    for name in ds.data_vars:
        assert "units" in ds[name].attrs and "long_name" in ds[name].attrs, name


def test_compare_and_validate_on_a_design_experiment(tmp_path, capsys):
    from guarantee_sim.cli import main
    from guarantee_sim.experiments import run_experiment

    path = _experiment(tmp_path, LEVER)
    with pytest.raises(ScenarioError, match="guarantee-sim design"):
        run_experiment(path)
    assert main(["validate", path]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "valid experiment county_capital (5 runs of" in out and "every one validated" in out


def test_books_in_memory_keep_the_most_recent_keys():
    from guarantee_sim.engine import BooksInMemory

    memo, computed = BooksInMemory(entries=2), []

    def compute(key):
        return lambda: computed.append(key) or key.upper()

    assert [memo(k, compute(k)) for k in "abab"] == ["A", "B", "A", "B"]
    memo("c", compute("c"))  # evicts a, the least recently used
    memo("b", compute("b"))
    memo("a", compute("a"))
    assert computed == ["a", "b", "c", "a"] and memo.hits == 3


@pytest.mark.slow  # runs the Hangzhou institutions (one replica) three times
def test_designs_that_change_only_a_pool_share_the_institutions_books():
    """The pool's contribution is not read by the processes: the second design reuses the
    first one's books, and both give a fresh run's outcomes bit for bit."""
    from guarantee_sim.analysis.design import evaluate_points
    from guarantee_sim.engine import BooksInMemory

    base = ROOT / "scenarios" / "hangzhou_2021_2023.yaml"
    points = [
        {"processes.replicas": 1, "parties.gov_pool.annual_contribution": c} for c in (1.5e8, 6.0e8)
    ]
    memo = BooksInMemory()
    shared = evaluate_points(base, points, paths=40, seed=3, books=memo)
    assert memo.hits == 1
    fresh = evaluate_points(base, points[1:], paths=40, seed=3)
    xr.testing.assert_identical(shared[1], fresh[0])
    assert float(shared[0].pool_depletion_probability) > float(shared[1].pool_depletion_probability)


def test_summarize_reprints_a_design_search_s_summary(tmp_path):
    """``summarize`` of a design search's file printed a traceback (read as a run's); it
    reprints what ``design`` printed: the status and the design found."""
    from guarantee_sim.results.io import write_netcdf

    ds = solve(spec(), Pool(), seed=11)
    path = write_netcdf(ds, tmp_path / "design.nc")
    rc, out, err = run_main("summarize", path)
    assert rc == 0, err
    said = "\n".join(design_module.summarise(ds))
    assert out.split() == said.split()  # as design printed it (the console wraps lines)
    assert "feasible" in out
