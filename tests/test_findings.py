"""The findings a brief opens with (the rule that picks them, the words that say them) and
the paired differences between the designs of a comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from guarantee_sim.reporting.brief import _findings_blocks
from guarantee_sim.reporting.differences import difference_table, excludes_zero, identical
from guarantee_sim.reporting.findings import (
    MAX_FINDINGS,
    main_driver,
    select_findings,
    strongest_parameter,
)


def _targets(*rows) -> pd.DataFrame:
    """Target-table rows (design, target, label, p, low, high, cycle share, parameter share)."""
    out = []
    for design, target, label, p, low, high, cycle, params in rows:
        out.append(
            {
                "design": design,
                "target": target,
                "label": label,
                "probability": p,
                "probability_ci_low": low,
                "probability_ci_high": high,
                "probability_ci_approximate": False,
                "share_credit_cycle": cycle,
                "share_parameters": params,
                "share_book_replica": 0.0,
                "share_defaults": 1.0 - cycle - params,
            }
        )
    return pd.DataFrame(out)


def _risks(*rows) -> pd.DataFrame:
    """Risk-table rows (design, party, label, kind, risk, p, low, high, cap)."""
    keys = ("design", "party", "label", "kind", "risk", "probability")
    keys += ("probability_ci_low", "probability_ci_high", "cap")
    out = [dict(zip(keys, r, strict=True)) for r in rows]
    for r in out:
        r["probability_ci_approximate"] = False
    return pd.DataFrame(out)


def _cost(*designs) -> tuple[pd.DataFrame, pd.DataFrame]:
    public = pd.DataFrame(
        [
            {
                "design": d,
                "public_cost_pv_mean": 1.234e8,
                "public_cost_pv_ci_low": 1.1e8,
                "public_cost_pv_ci_high": 1.35e8,
            }
            for d in designs
        ]
    )
    return public, pd.DataFrame({"design": list(designs), "ci_approximate": [False] * len(designs)})


def _tables() -> dict[str, pd.DataFrame]:
    public, costs = _cost("run")
    return {
        "public_cost": public,
        "costs": costs,
        # 2|p - 0.5|: 0.24, 0.96, 0.04
        "targets": _targets(
            ("run", "first_time", "首贷户", 0.62, 0.55, 0.69, 0.9, 0.0),
            ("run", "credit", "信用贷款", 0.02, 0.01, 0.04, 0.5, 0.3),
            ("run", "renewal", "续贷", 0.48, 0.40, 0.56, 0.9, 0.0),
        ),
        # scores: 0.60, below 5% (not a candidate), 0.30, cap below 10% (not a candidate)
        "risks": _risks(
            ("run", "gov_pool", "资金池", "pool", "pool_depleted", 0.60, 0.55, 0.65, np.nan),
            ("run", "guarantor", "担保公司", "guarantor", "insolvency", 0.04, 0.02, 0.06, np.nan),
            (
                "run",
                "nf",
                "国家基金",
                "reguarantor",
                "compensation_over_cap",
                0.30,
                0.25,
                0.35,
                0.04,
            ),
            (
                "run",
                "guarantor",
                "担保公司",
                "guarantor",
                "leverage_over_cap",
                0.08,
                0.05,
                0.1,
                10.0,
            ),
        ),
    }


def test_the_rule_puts_the_cost_first_then_ranks_risks_and_targets_by_score():
    chosen = select_findings(_tables())
    assert [(f.kind, f.key) for f in chosen] == [
        ("cost", ()),
        ("target", ("credit",)),  # 0.96: a clear no
        ("risk", ("gov_pool", "pool_depleted")),  # 0.60
        ("risk", ("nf", "compensation_over_cap")),  # 0.30
        ("target", ("first_time",)),  # 0.24; renewal (0.04) is the sixth and left out
    ]
    assert len(chosen) == MAX_FINDINGS


def test_clear_targets_leave_places_for_risks():
    """Four targets at a plain 0% or 100% (score 1) would take every place after the cost;
    the re-guarantor's cap exceeded on 36% of the paths and the pool depleted on 13% keep
    theirs (the default scenario's brief had only targets)."""
    public, costs = _cost("run")
    tables = {
        "public_cost": public,
        "costs": costs,
        "targets": _targets(
            *[
                ("run", t, t, p, 0.0, 1.0, 0.9, 0.0)
                for t, p in zip("abcd", [1, 1, 0, 0], strict=True)
            ]
        ),
        "risks": _risks(
            ("run", "nf", "国家基金", "reguarantor", "compensation_over_cap", 0.36, 0.3, 0.4, 0.04),
            ("run", "pool", "资金池", "pool", "pool_depleted", 0.13, 0.10, 0.17, np.nan),
        ),
    }
    chosen = [(f.kind, f.key) for f in select_findings(tables)]
    assert chosen == [
        ("cost", ()),
        ("target", ("a",)),
        ("target", ("b",)),
        ("risk", ("nf", "compensation_over_cap")),
        ("risk", ("pool", "pool_depleted")),
    ]


def test_risks_below_their_thresholds_are_never_findings():
    tables = _tables()
    tables["targets"] = tables["targets"].iloc[:0]
    keys = [f.key for f in select_findings(tables)]
    assert ("guarantor", "insolvency") not in keys  # 4% < 5%
    assert ("guarantor", "leverage_over_cap") not in keys  # 8% < 10% for a cap
    assert len(keys) == 3  # cost, pool, cap: fewer candidates, fewer findings


def test_a_comparison_merges_designs_and_ranks_by_the_highest():
    public, costs = _cost("base", "cheap")
    tables = {
        "public_cost": public,
        "costs": costs,
        "targets": _targets(
            ("base", "x", "目标甲", 0.50, 0.45, 0.55, 1.0, 0.0),
            ("cheap", "x", "目标甲", 0.95, 0.92, 0.97, 1.0, 0.0),
        ),
        "risks": _risks(
            ("base", "pool", "资金池", "pool", "pool_depleted", 0.20, 0.15, 0.25, np.nan),
            ("cheap", "pool", "资金池", "pool", "pool_depleted", 0.01, 0.0, 0.02, np.nan),
        ),
    }
    chosen = select_findings(tables)
    assert [(f.kind, f.key, round(f.score, 2)) for f in chosen] == [
        ("cost", (), 1.0),
        ("target", ("x",), 0.9),  # by its best design
        ("risk", ("pool", "pool_depleted"), 0.2),
    ]
    assert [r["design"] for r in chosen[1].rows] == ["base", "cheap"]


def test_the_findings_say_each_number_with_its_interval_in_both_languages():
    zh = _findings_blocks(xr.Dataset(), _tables(), "zh")
    en = _findings_blocks(xr.Dataset(), _tables(), "en")
    items_zh, items_en = zh[1][1], en[1][1]
    assert "信用贷款：目标达成概率 2.0%（95% 置信区间 1.0%–4.0%" in items_zh[1]
    assert "资金池：资金池耗尽的概率 60.0%（95% 置信区间 55.0%–65.0%）" in items_zh[2]
    assert "（上限 4.0%）的概率 30.0%（95% 置信区间 25.0%–35.0%）" in items_zh[3]
    assert "首贷户：目标达成概率 62.0%（95% 置信区间 55.0%–69.0%" in items_zh[4]
    assert "credit: reached with probability 2.0% (95% CI 1.0% to 4.0%" in items_en[1]
    assert "probability 60.0% (95% CI 55.0% to 65.0%)" in items_en[2]
    # the rule is stated, with its thresholds
    assert "5%" in zh[2][1] and "10%" in zh[2][1] and "50%" in zh[2][1]
    assert "at least 5% of the paths" in en[2][1]
    # the drivers: credit's spread is half cycle, the others mostly cycle
    drivers = zh[4][1]
    assert drivers[0].startswith("信用贷款：主要来自信贷周期（50%）")


def test_the_driver_is_the_largest_share_and_the_parameter_that_moves_with_it():
    row = {"share_credit_cycle": 0.2, "share_parameters": 0.5, "share_book_replica": 0.0}
    row["share_defaults"] = 0.3
    assert main_driver(row) == ("parameters", 0.5)
    assert main_driver({"share_credit_cycle": np.nan}) is None
    rng = np.random.default_rng(0)
    pd_level = rng.normal(size=200)
    ds = xr.Dataset(
        {
            # attainment falls as the PD level rises; the LGD is noise
            "target_attainment": (("path", "target"), (1.0 - 0.1 * pd_level)[:, None]),
            "parameter_value": (("path", "parameter"), np.c_[rng.normal(size=200), pd_level]),
        },
        coords={"target": ["x"], "parameter": ["segments.a.lgd", "segments.a.pd.mean"]},
        attrs={"scenario": "run"},
    )
    name, rho = strongest_parameter(ds, "run", "x")
    assert name == "segments.a.pd.mean" and rho == -1.0


# --------------------------------------------------------------------------- differences


def _comparison() -> xr.Dataset:
    """Two designs on four paths: the second spends 2 CNY more on every path in year 0 and
    reaches the target on paths 1 and 2 as well as path 0."""
    base_cost = np.array([[1.0, 0.0], [3.0, 1.0], [2.0, 2.0], [5.0, 0.0]])  # (path, year)
    cost = np.stack([base_cost, base_cost + np.array([2.0, 0.0])])  # (scenario, path, year)
    attainment = np.array([[1.2, 0.5, 0.9, 0.1], [1.2, 1.0, 1.1, 0.1]])[..., None]
    return xr.Dataset(
        {
            "fiscal_cost": (("scenario", "path", "year"), cost),
            "public_loss": (("scenario", "path", "year"), np.zeros_like(cost)),
            "target_attainment": (("scenario", "path", "target"), attainment),
        },
        coords={
            "scenario": ["base", "more"],
            "path": np.arange(4),
            "year": [2021, 2022],
            "target": ["x"],
            "target_label": ("target", ["目标甲"]),
        },
    )


def test_differences_are_paired_path_by_path():
    rows = difference_table(_comparison()).set_index("measure")
    fiscal = rows.loc["fiscal_cost"]
    # 2 more on every path: the paired interval has no width, whatever the paths' spread
    assert (fiscal.baseline_value, fiscal.design_value) == (3.5, 5.5)
    assert (fiscal.difference, fiscal.difference_ci_low, fiscal.difference_ci_high) == (2, 2, 2)
    assert excludes_zero(fiscal) and not identical(fiscal)
    assert identical(rows.loc["public_loss"])
    target = rows.loc["target_probability"]
    # reached on paths {0} against {0, 1, 2}: 25% -> 75%, differences (0, 1, 1, 0): mean 0.5,
    # sd sqrt(1/3), t(3) interval 0.5 -+ 3.1824 * 0.2887 = (-0.419, 1.419)
    assert (target.baseline_value, target.design_value, target.difference) == (0.25, 0.75, 0.5)
    assert target.difference_ci_low == pytest.approx(-0.4187, abs=1e-3)
    assert target.difference_ci_high == pytest.approx(1.4187, abs=1e-3)
    assert not excludes_zero(target) and target.label == "目标甲"
    assert difference_table(_comparison().isel(scenario=0)).empty  # a run: nothing to compare


def test_the_public_cost_is_said_in_its_quantitys_one_unit():
    """One unit per quantity: the public cost of every design in the unit its table column
    takes (here 亿元 / CNY bn, from the typical size of the column), not each sum in its own
    (5,000.0 万元 beside 30.0 亿元)."""
    tables = _tables()
    public = pd.DataFrame(
        {
            "design": ["small", "large"],
            "public_cost_pv_mean": [5e7, 3e9],
            "public_cost_pv_ci_low": [4e7, 2.9e9],
            "public_cost_pv_ci_high": [6e7, 3.1e9],
            "fiscal_cost_pv_mean": [3e9, 3e9],
        }
    )
    costs = pd.DataFrame({"design": ["small", "large"], "ci_approximate": [False, False]})
    tables.update(public_cost=public, costs=costs)
    zh = _findings_blocks(xr.Dataset(), tables, "zh")[1][1][0]
    en = _findings_blocks(xr.Dataset(), tables, "en")[1][1][0]
    assert "0.5 亿元（95% 置信区间 0.4 亿元–0.6 亿元）" in zh, zh
    assert "CNY 0.05 bn (95% CI CNY 0.04 bn to CNY 0.06 bn)" in en, en
