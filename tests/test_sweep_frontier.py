"""A sweep's frontier (reporting/frontier.py): each grid point's PV of public cost against
P(target), the non-dominated designs marked, in the brief in zh and en.

The known answer: a hand-made 2 x 2 grid (guarantee fee x pool size, two paths, one year)
whose public cost and first loans are stated per path. Mean public cost and P(target: 10
first loans in 2021) per point:

    fee 0.5%, size 1 亿元: cost 1, P 50%     on the frontier (the cheapest)
    fee 0.5%, size 2 亿元: cost 2, P 50%     dominated by the first
    fee 1%,   size 1 亿元: cost 2, P 100%    on the frontier (likelier than any cheaper)
    fee 1%,   size 2 亿元: cost 3, P 100%    dominated by the third

(costs in 亿元 before discounting; one year, mid-year: each times 1.026 ** -0.5).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from guarantee_sim.reporting import render_markdown
from guarantee_sim.reporting.brief import Brief
from guarantee_sim.reporting.frontier import frontier_table, non_dominated
from guarantee_sim.reporting.sweeps import brief_section
from guarantee_sim.testing import results_dataset

UNIT = 1e8
#: (fee, size) -> (public cost on each path in 亿元, first loans on each path)
POINTS = {
    (0.005, 1 * UNIT): ((1.0, 1.0), (10.0, 0.0)),
    (0.005, 2 * UNIT): ((2.0, 2.0), (10.0, 0.0)),
    (0.01, 1 * UNIT): ((2.0, 2.0), (10.0, 10.0)),
    (0.01, 2 * UNIT): ((3.0, 3.0), (10.0, 10.0)),
}
LEVERS = {
    "guarantor_fee": {"lever_key": "parties.guarantor.fee_rate", "units": "1/year",
                      "label_zh": "担保费率", "label_en": "guarantee fee"},
    "pool_size": {"lever_key": "parties.pool.initial_balance", "units": "CNY",
                  "label_zh": "资金池规模", "label_en": "pool size"},
}  # fmt: skip


def point(cost, loans) -> xr.Dataset:
    return results_dataset(
        years=[2021],
        segments={"sme": ["first_time"]},
        parties={"bank": "bank", "guarantor": "guarantor", "pool": "pool"},
        public_cost=[[c * UNIT] for c in cost],  # (path, year)
        loans_count=[[[n]] for n in loans],  # (path, year, segment)
        loss={"pool": [[1.0e6], [2.0e6]]},  # the run brief draws the public parties that lose
        targets={
            "first_time_borrowers": {"metric": "loans_count", "tags": ["first_time"],
                                     "kind": "flow", "from_year": 2021, "to_year": 2021,
                                     "value": 10.0, "label": "首贷户"},
        },
    )  # fmt: skip


@pytest.fixture(scope="module")
def sweep() -> xr.Dataset:
    fees = sorted({f for f, _ in POINTS})
    sizes = sorted({s for _, s in POINTS})
    rows = [
        xr.concat([point(*POINTS[(f, s)]) for s in sizes], dim="pool_size", coords="minimal",
                  compat="override")
        for f in fees
    ]  # fmt: skip
    ds = xr.concat(rows, dim="guarantor_fee", coords="minimal", compat="override")
    ds = ds.assign_coords(guarantor_fee=fees, pool_size=sizes)
    for lever, attrs in LEVERS.items():
        ds[lever].attrs.update(attrs)
    return ds


def test_non_dominated_keeps_the_designs_none_beats_on_both():
    cost = [1.0, 2.0, 2.0, 3.0, 2.0, np.nan, 0.5]
    p = [0.5, 0.5, 1.0, 1.0, 1.0, 1.0, np.nan]
    # the first equal pair (2.0, 1.0) is kept, its twin not; NaN never
    assert non_dominated(cost, p).tolist() == [True, False, True, False, False, False, False]


def test_the_frontier_of_a_two_lever_sweep(sweep):
    table = frontier_table(sweep)
    assert len(table) == 4 and set(table["target"]) == {"first_time_borrowers"}
    on = table[table["non_dominated"]]
    assert list(zip(on["guarantor_fee"], on["pool_size"], strict=True)) == [
        (0.005, 1 * UNIT),
        (0.01, 1 * UNIT),
    ]
    discount = 1.026**-0.5
    np.testing.assert_allclose(
        table["public_cost_pv"], np.array([1.0, 2.0, 2.0, 3.0]) * UNIT * discount, rtol=1e-12
    )
    assert table["probability"].tolist() == [0.5, 0.5, 1.0, 1.0]


@pytest.mark.parametrize(
    "lang, said",
    [
        ("en", ["| first time borrowers | guarantee fee 0.5%, pool size CNY 100.0 m | CNY 98.7 m",
                "| first time borrowers | guarantee fee 1%, pool size CNY 100.0 m | CNY 197.4 m",
                "Which of the 4 designs are worth choosing among?"]),
        ("zh", ["| 首贷户 | 担保费率 0.5%，资金池规模 1.00 亿元 | 0.99 亿元",
                "| 首贷户 | 担保费率 1%，资金池规模 1.00 亿元 | 1.97 亿元",
                "在4个方案中，哪些值得比较？"]),
    ],
)  # fmt: skip
def test_the_brief_s_sweep_section_shows_the_frontier(sweep, lang, said):
    """The sweep section alone (the whole brief of a sweep is built in test_sweep.py)."""
    blocks, figures, tables = brief_section(sweep, lang)
    text = render_markdown(Brief(lang, "", [], figures, tables, sweep=blocks))
    for phrase in said:
        assert phrase in text, phrase
    assert "sweep_frontier" in figures and ("figure", "sweep_frontier") in blocks
    assert tables["sweep_frontier"]["non_dominated"].sum() == 2
    rows = [line for line in text.splitlines() if line.startswith(("| first time", "| 首贷户 |"))]
    assert len(rows) == 2  # the dominated designs are not in the short table


@pytest.mark.parametrize("lang, unit", [("en", " (%/year)"), ("zh", "（%/年）")])
def test_a_fee_lever_reads_in_percent_a_year(sweep, lang, unit):
    """A rate a year is written as briefs write a fee (0.5%), on tables and axes."""
    from guarantee_sim.reporting.sweeps import _axis_scale, value_text

    assert value_text(sweep, "guarantor_fee", 0.005, lang) == "0.5%"
    scale, axis = _axis_scale(sweep, "guarantor_fee", lang)
    assert axis == unit
    np.testing.assert_allclose(sweep.guarantor_fee.values / scale, [0.5, 1.0])
