"""The brief of a design search (reporting/design_brief.py) and its results file.

The design Datasets are made by the real solver (:func:`~guarantee_sim.analysis.design.solve`)
over a hand-built evaluator whose answer is known: the public cost is the pool's size,
P(首贷户 target) rises by 10 points per 100 million of size (10% at 1 亿元), and P(a pool
runs dry) falls by 10 points per 100 million from 50%. Under P(target) ≥ 50% and
P(dry) ≤ 20% the cheapest design is a size of 5 亿元 (CNY 500 m), held up by the target's
constraint alone (sizes of 3 and 4 亿元 meet the pool's but not the target's). Asking for
P(target) ≥ 95% is infeasible within bounds of 0–8 亿元: the closest design is 8 亿元, 15
points short, on the upper bound.
"""

from __future__ import annotations

import pandas as pd
import pytest
import xarray as xr

from guarantee_sim.analysis.design import solve
from guarantee_sim.experiments import DesignSpec
from guarantee_sim.reporting import build_brief, render_markdown
from guarantee_sim.reporting.design_brief import frontier_table
from guarantee_sim.results import open_results, write_netcdf

UNIT = 1e8  # 1 亿元


def evaluate(points, seed):
    """The hand-built evaluator of the module's docstring (the fresh seed moves P(target)
    by 1 point, inside the search's ±5-point interval)."""
    shift = 0.0 if seed == 1 else 0.01
    out = []
    for point in points:
        size = point["pool_size"] / UNIT
        p = min(1.0, size / 10) + shift
        dry = max(0.0, 0.5 - 0.1 * size)
        out.append(
            xr.Dataset(
                {
                    "public_cost_pv": size * UNIT,
                    "public_cost_pv_low": 0.9 * size * UNIT,
                    "public_cost_pv_high": 1.1 * size * UNIT,
                    "target_probability": ("target", [p]),
                    "target_probability_low": ("target", [max(0.0, p - 0.05)]),
                    "target_probability_high": ("target", [min(1.0, p + 0.05)]),
                    "pool_depletion_probability": dry,
                    "pool_depletion_probability_low": max(0.0, dry - 0.05),
                    "pool_depletion_probability_high": min(1.0, dry + 0.05),
                },
                coords={"target": ["first_time_borrowers"], "target_label": ("target", ["首贷户"])},
            )
        )
    return out


def design(at_least: float = 0.5) -> xr.Dataset:
    spec = DesignSpec.model_validate(
        {
            "levers": [
                {
                    "name": "pool_size",
                    "key": "parties.gov_pool.initial_balance",
                    "lower": 0,
                    "upper": 8 * UNIT,
                    "step": UNIT,
                    "label": {"zh": "资金池规模", "en": "pool size"},
                    "units": "CNY",
                }
            ],
            "constraints": [
                {
                    "outcome": "target_probability",
                    "target": "first_time_borrowers",
                    "at_least": at_least,
                },
                {"outcome": "pool_depletion_probability", "at_most": 0.2},
            ],
        }
    )
    ds = solve(spec, evaluate, seed=1)
    ds.attrs.update(
        experiment="pool_design", experiment_label="资金池设计", n_paths=40, book_replicas=1
    )
    return ds


@pytest.fixture(scope="module")
def feasible() -> xr.Dataset:
    return design()


@pytest.fixture(scope="module")
def infeasible() -> xr.Dataset:
    return design(at_least=0.95)


_BRIEFS: dict = {}


def brief(ds: xr.Dataset, lang: str):
    """The brief of ``ds`` in ``lang``, built once per test session (drawing takes seconds)."""
    key = (id(ds), lang)
    if key not in _BRIEFS:
        _BRIEFS[key] = build_brief(ds, lang)
    return _BRIEFS[key]


def text(ds: xr.Dataset, lang: str) -> str:
    return " ".join(render_markdown(brief(ds, lang)).split())


def test_the_known_answer(feasible, infeasible):
    assert feasible.attrs["status"] == "feasible"
    assert float(feasible.best_value.sel(lever="pool_size")) == 5 * UNIT
    assert feasible.constraint_active.values.tolist() == [True, False]
    assert infeasible.attrs["status"] == "infeasible within the bounds"
    assert float(infeasible.best_value.sel(lever="pool_size")) == 8 * UNIT


@pytest.mark.parametrize(
    "lang, said",
    [
        (
            "en",
            [
                "# Policy design: Pool design",
                "**Preliminary.** Each design ran 40 paths",
                "pool size: from CNY 0 m to CNY 800.0 m, in steps of CNY 100.0 m",
                "least mean PV of public cost that meets every constraint:** pool size CNY "
                "500.0 m.",
                # the fresh seed's estimate and its interval
                "Re-estimated on a fresh seed (2), so that the answer is not tuned to its own "
                "sampling noise: CNY 500.0 m (95% CI CNY 450.0 m – CNY 550.0 m)",
                "| P(first time borrowers reached) ≥ 50.0% | 50.0% (95% CI 45.0% – 55.0%) | "
                "51.0% (95% CI 46.0% – 56.0%) | yes | yes | yes |",
                "| P(a pool runs dry) ≤ 20.0% | 0.0% (95% CI 0.0% – 5.0%) | 0.0% (95% CI 0.0% "
                "– 5.0%) | yes | yes | no |",
                "Binding: P(first time borrowers reached) ≥ 50.0%.",
                "| CNY 500.0 m (chosen) | CNY 500.0 m |",
                "7 designs were evaluated",
            ],
        ),
        (
            "zh",
            [
                "# 政策设计：资金池设计",
                "**初步结果。**每个方案仅运行40条路径",
                "资金池规模：0 万元至8.00 亿元，步长1.00 亿元",
                "**满足全部约束、公共成本现值均值最低的方案：**资金池规模 5.00 亿元。",
                "5.00 亿元（95%置信区间 4.50 亿元 – 5.50 亿元）",
                "| 首贷户目标达成概率 ≥ 50.0% | 50.0%（95%置信区间 45.0% – 55.0%） | "
                "51.0%（95%置信区间 46.0% – 56.0%） | 是 | 是 | 是 |",
                "起约束作用的约束：首贷户目标达成概率 ≥ 50.0%。",
                "| 5.00 亿元（选定） | 5.00 亿元 |",
                "共评估7个方案",
            ],
        ),
    ],
)
def test_a_feasible_design_s_brief(feasible, lang, said):
    words = text(feasible, lang)
    for phrase in said:
        assert phrase in words, phrase
    assert "first_time_borrowers" not in words  # a target by its label, or its id in words
    assert sorted(brief(feasible, lang).figures) == ["design"]
    assert {"design_evaluations", "design_constraints", "design_frontier"} <= set(
        brief(feasible, lang).tables
    )


@pytest.mark.parametrize(
    "lang, said",
    [
        (
            "en",
            [
                "**Infeasible within the bounds.** No design evaluated meets every constraint. "
                "The closest one (the smallest total shortfall, 15.0 probability points) is: "
                "pool size CNY 800.0 m.",
                "The answer sits on the upper bound of pool size (CNY 800.0 m)",
            ],
        ),
        (
            "zh",
            [
                "**在给定范围内不可行。**",
                "最接近的方案（约束缺口合计最小，为15.0个百分点）是：资金池规模 8.00 亿元。",
                "答案位于资金池规模取值范围的上限（8.00 亿元）",
            ],
        ),
    ],
)
def test_an_infeasible_design_s_brief_says_so_with_the_closest_design(infeasible, lang, said):
    words = text(infeasible, lang)
    for phrase in said:
        assert phrase in words, phrase
    assert t_binding(lang) not in words  # nothing binds when nothing is feasible


def t_binding(lang: str) -> str:
    return {"en": "Binding:", "zh": "起约束作用的约束："}[lang]


def test_the_frontier_table_holds_the_non_dominated_designs():
    """A hand-made search: (cost, P, other constraints met) per design; the frontier is
    the designs meeting the other constraints that no cheaper one beats on P."""
    evaluations = [  # cost, P(target), P(dry)
        (1.0, 0.30, 0.1),  # on: the cheapest eligible
        (2.0, 0.20, 0.1),  # dominated by the first (dearer, less likely)
        (2.5, 0.60, 0.5),  # fails the other constraint: off, though likely
        (3.0, 0.50, 0.1),  # on
        (3.0, 0.40, 0.1),  # same cost, lower P: off
        (4.0, 0.50, 0.1),  # as likely as a cheaper one: off
        (5.0, 0.70, 0.0),  # on
    ]

    def fake(points, seed):
        return [
            xr.Dataset(
                {
                    "public_cost_pv": evaluations[int(p["k"])][0],
                    "target_probability": ("target", [evaluations[int(p["k"])][1]]),
                    "pool_depletion_probability": evaluations[int(p["k"])][2],
                },
                coords={"target": ["t"]},
            )
            for p in points
        ]

    spec = DesignSpec.model_validate(
        {
            "levers": [{"name": "k", "key": "a.b", "lower": 0, "upper": 6, "step": 1,
                        "label": {"zh": "k", "en": "k"}, "units": "1"}],
            "constraints": [
                {"outcome": "target_probability", "target": "t", "at_least": 0.45},
                {"outcome": "pool_depletion_probability", "at_most": 0.2},
            ],
            "search": {"grid_points": 7, "refine_rounds": 0},
        }
    )  # fmt: skip
    ds = solve(spec, fake, seed=1)
    table = frontier_table(ds)
    assert table["k"].tolist() == [0.0, 3.0, 6.0]
    assert table["objective"].tolist() == [1.0, 3.0, 5.0]
    assert table["feasible"].tolist() == [False, True, True]
    assert float(ds.best_value.sel(lever="k")) == 3.0


def test_the_design_results_file_is_briefed_from_the_command_line(feasible, tmp_path):
    from guarantee_sim.cli import main

    path = write_netcdf(feasible, tmp_path / "pool_design.nc")
    assert open_results(path).attrs["results_kind"] == "design"
    out = tmp_path / "brief_en"  # one language: the words of both are tested above
    assert main(["brief", str(path), "--lang", "en", "--out", str(out)]) == 0
    assert (out / "figures" / "design.png").stat().st_size > 0
    frontier = pd.read_csv(out / "tables" / "design_frontier.csv", encoding="utf-8-sig")
    assert len(frontier) == int(feasible.on_frontier.sum()) == 5
    markdown = (out / "brief.md").read_text(encoding="utf-8")
    assert "Generated from pool_design.nc" in markdown


def test_a_file_lacking_a_design_variable_is_refused(feasible, tmp_path):
    path = write_netcdf(feasible.drop_vars("on_frontier"), tmp_path / "broken.nc")
    with pytest.raises(ValueError, match=r"not a guarantee_sim design results file.*on_frontier"):
        open_results(path)


def test_the_figure_s_cost_axis_says_the_objective(feasible):
    from guarantee_sim.reporting.design import design_figure

    spec = DesignSpec.model_validate(
        {
            "levers": [{"name": "pool_size", "key": "parties.gov_pool.initial_balance",
                        "lower": 0, "upper": 8 * UNIT, "step": UNIT,
                        "label": {"zh": "资金池规模", "en": "pool size"}, "units": "CNY"}],
            "objective": "pool_depletion_probability",
            "constraints": [{"outcome": "target_probability", "target": "first_time_borrowers",
                             "at_least": 0.5}],
        }
    )  # fmt: skip
    by_risk = solve(spec, evaluate, seed=1)
    assert design_figure(by_risk, lang="en").axes[0].get_xlabel() == "P(a pool runs dry)"
    label = design_figure(feasible, lang="en").axes[0].get_xlabel()
    assert label == "mean PV of public cost (CNY m)"  # 0 to 800 m
