"""How money looks in the brief: one unit per quantity by its size, no spurious decimals."""

from __future__ import annotations

import math

from matplotlib.axes import Axes

from guarantee_sim.reporting import plots
from guarantee_sim.reporting.numbers import money, money_cell, money_unit, tick


def test_a_sum_takes_its_unit_by_its_size():
    # 822,884,249,300 CNY = 8,228.84243 亿 = 822.884 bn
    assert money(822_884_249_300.0, "zh") == "8,228.8 亿元"
    assert money(822_884_249_300.0, "en") == "CNY 822.9 bn"
    # 59,764,400 CNY = 5,976.44 万 = 59.7644 m
    assert money(59_764_400.0, "zh") == "5,976.4 万元"
    assert money(59_764_400.0, "en") == "CNY 59.8 m"
    # below 10 units: two decimals; 1.4 亿 = 140.098 m
    assert money(140_098_000.0, "zh") == "1.40 亿元"
    assert money(140_098_000.0, "en") == "CNY 140.1 m"
    assert money(668_100.0, "zh") == "66.8 万元" and money(668_100.0, "en") == "CNY 0.67 m"
    assert money(math.nan, "zh") == "—"


def test_an_interval_is_written_in_its_means_unit():
    # a mean of 1.2 亿 with its interval from 9,800 万: both ends in 亿元
    assert money(9.8e7, "zh", like=1.2e8) == "0.98 亿元"
    assert money(1.4e8, "zh", like=1.2e8) == "1.40 亿元"


def test_a_table_column_takes_the_unit_of_its_typical_value():
    # losses of 2,400 to 25,000 万元: the median (about 4,700 万) keeps the column in 万元
    unit = money_unit([7.1e7, 2.03e8, 2.48e8, 2.4e7, 4.7e7, 0.0], "zh")
    assert (unit.name, unit.decimals) == ("万元", 1)
    assert money_cell(2.4751e8, unit, "zh") == "24,751.0"
    assert money_cell(0.0, unit, "zh") == "0"
    assert money_cell(math.nan, unit, "zh") == "—"
    unit = money_unit([4e9, 1.25e9, 9.856e9], "zh")
    assert (unit.name, unit.decimals) == ("亿元", 1)
    assert unit.number(9.856e9) == "98.6"
    assert money_unit([4e9, 1.25e9], "en").name == "CNY bn"


def test_axes_have_thousands_separators_and_no_trailing_zeros():
    assert [tick(x) for x in (0.0, 5000.0, 12500.0, 0.5, 1.25, -0.0)] == [
        "0",
        "5,000",
        "12,500",
        "0.5",
        "1.25",
        "0",
    ]


def test_figures_name_the_unit_they_draw_in(tmp_path):
    """The capital figure of a guarantor with about 2 亿 of net assets is drawn in 亿元 (it
    was drawn in 百万元 whatever the size), ticks formatted by :func:`tick`."""
    import guarantee_sim as gs

    ds = gs.simulate(gs.load_scenario("scenarios/county_guarantee_2021.yaml"), paths=20, seed=1)
    ax: Axes = plots.capital_paths(ds, lang="en")
    unit = money_unit(ds["capital"].sel(party=["guarantor", "gov_pool"]).values, "en")
    assert ax.get_ylabel() == f"year-end net assets / balance ({unit.name})"
    assert ax.yaxis.get_major_formatter()(25000.0, 0) == "25,000"
