"""How every number in the figures and the brief looks: the one place that decides it.

Money takes one unit per quantity, chosen by its size: 亿元 (10^8 CNY) from 1 亿 on, else
万元 (10^4 CNY) in Chinese; CNY bn from 1 bn on, else CNY m in English. A sentence states a
mean and its interval in the mean's unit; a table column, or a figure axis, in the unit of
its typical value. One decimal from 10 units on, two below (no "82,288,424.93 万元"), and
thousands separators everywhere.

>>> money(822_884_249_300.0, "zh"), money(59_764_400.0, "zh"), money(59_764_400.0, "en")
('8,228.8 亿元', '5,976.4 万元', 'CNY 59.8 m')
>>> money(1.2e9, "en"), money(9.8e7, "zh", like=1.2e8)
('CNY 1.20 bn', '0.98 亿元')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .text import TEXT, t

#: money units by language, largest first: (scale in CNY, key of the unit's name, key of
#: a sum written in it; 亿元 and 万元, CNY bn and CNY m); a unit is used from 1 of it on,
#: the last one below that
MONEY_UNITS = {
    "zh": ((1e8, "unit_large", "money_large"), (1e4, "unit_small", "money_small")),
    "en": ((1e9, "unit_large", "money_large"), (1e6, "unit_small", "money_small")),
}
#: from this many units on a sum has one decimal, below it two
ONE_DECIMAL_FROM = 10.0


@dataclass(frozen=True)
class MoneyUnit:
    """A money unit for a quantity: its scale in CNY, its name for headers and axes
    ("亿元", "CNY m"), the template of a sum in a sentence, and the decimals to show."""

    scale: float
    name: str
    template: str
    decimals: int

    def number(self, x) -> str:
        """``x`` (CNY) in this unit, without the unit: for table cells ("8,228.8"; "0")."""
        if float(x) == 0.0:  # nothing at all, not a rounded small sum
            return "0"
        return f"{float(x) / self.scale:,.{self.decimals}f}"


def _bad(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def money_unit(values, lang: str) -> MoneyUnit:
    """The unit for a quantity whose values (CNY) are ``values``: by their typical size,
    the median of the finite non-zero absolute values (so that a table column of sums
    between 2,000 and 25,000 万元 stays in 万元 instead of showing 0.25 亿元 to two places).

    >>> money_unit([3e7, 2.5e8, 3e8], "zh").name, money_unit([3e7, 5e7, 2.5e8], "zh").name
    ('亿元', '万元')
    >>> money_unit([3e7, 0.0], "en").decimals, money_unit([3e6], "en").decimals
    (1, 2)
    """
    flat = np.abs(np.asarray(values, dtype=np.float64).ravel())
    flat = flat[np.isfinite(flat) & (flat > 0)]
    typical = float(np.median(flat)) if flat.size else 0.0
    units = MONEY_UNITS[lang]
    scale, name, template = next((u for u in units if typical >= u[0]), units[-1])
    decimals = 1 if typical / scale >= ONE_DECIMAL_FROM else 2
    return MoneyUnit(scale, TEXT[lang][name], template, decimals)


def money(x, lang: str, like=None, *, unit: MoneyUnit | None = None) -> str:
    """A sum (CNY) in a sentence: in ``unit`` (its quantity's, as its table column and
    figure axis show it), else in the unit of ``like`` (the mean an interval's ends go
    with) or else of ``x`` itself.

    >>> money(5e6, "zh", unit=money_unit([3e8], "zh")), money(5e6, "zh")
    ('0.05 亿元', '500.0 万元')
    """
    if _bad(x):
        return TEXT[lang]["none"]
    if unit is None:
        unit = money_unit([x if like is None or _bad(like) else like], lang)
    return t(lang, unit.template, value=unit.number(x))


def money_cell(x, unit: MoneyUnit, lang: str) -> str:
    """A sum in a table column whose header names ``unit``."""
    return TEXT[lang]["none"] if _bad(x) else unit.number(x)


def tick(value: float, _position=None) -> str:
    """An axis tick with thousands separators and no trailing zeros ("5,000", "0.5")."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def signed_money(x, lang: str, like=None) -> str:
    """A difference of sums with its sign ("+1,234.5 万元", "CNY -0.98 bn"), in ``like``'s
    unit (or its own)."""
    if _bad(x):
        return TEXT[lang]["none"]
    unit = money_unit([x if like is None or _bad(like) else like], lang)
    sign = "+" if float(x) > 0 else "-" if float(x) < 0 else ""
    return t(lang, unit.template, value=sign + unit.number(abs(float(x))))


def points(x, lang: str) -> str:
    """A difference of probabilities in percentage points with its sign ("+3.5 个百分点")."""
    if _bad(x):
        return TEXT[lang]["none"]
    return t(lang, "points", value=f"{float(x) * 100:+.1f}")


def yuan(x, lang: str) -> str:
    """A small sum in whole CNY (costs per borrower, per 100 m lent)."""
    if _bad(x):
        return TEXT[lang]["none"]
    return t(lang, "money_yuan", value=f"{float(x):,.0f}")


def pct(x, lang: str = "en") -> str:
    """A probability or share as a percentage with one decimal."""
    if _bad(x):
        return TEXT[lang]["none"]
    return f"{float(x):.1%}"


def fee(x, lang: str = "en") -> str:
    """A fee or interest rate a year as a percentage with two decimals (0.45%)."""
    if _bad(x):
        return TEXT[lang]["none"]
    return f"{float(x):.2%}"


def count(x, lang: str = "en") -> str:
    """A count of loans or borrowers, whole."""
    if _bad(x):
        return TEXT[lang]["none"]
    return f"{float(x):,.0f}"


def ratio(x, lang: str = "en") -> str:
    """A leverage multiple, two decimals."""
    if _bad(x):
        return TEXT[lang]["none"]
    return f"{float(x):.2f}×"
