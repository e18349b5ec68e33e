"""Reporting: figures (matplotlib, Agg) and policy briefs (Markdown, HTML, CSV; zh or en).

Figures are functions of a results Dataset and an optional Axes that return the Axes;
the brief is built from tables computed with :mod:`guarantee_sim.results.metrics`.
Chinese labels need a CJK font: see :mod:`guarantee_sim.reporting.fonts`.

>>> import tempfile
>>> import guarantee_sim as gs
>>> from guarantee_sim.reporting import loss_by_party, write_brief
>>> ds = gs.simulate(gs.load_scenario("scenarios/county_guarantee_2021.yaml"), paths=20, seed=1)
>>> ax = loss_by_party(ds, lang="en")
>>> ax.get_title()
'Loss over the run by party: mean and 99% tail'
>>> with tempfile.TemporaryDirectory() as folder:
...     ax.figure.savefig(f"{folder}/losses.png")
...     written = write_brief(ds, f"{folder}/brief_en", lang="en")
>>> sorted(written)[:3]
['figures/by_year.png', 'figures/capital.png', 'figures/exceedance.png']
"""

import importlib
from typing import TYPE_CHECKING

#: public name -> the module that defines it, imported on first access (PEP 562): the
#: command line's summary tables (``reporting.tables``) do not pull in Matplotlib
_EXPORTS = {
    "check_results": "..results.io",
    **dict.fromkeys(("Brief", "build_brief", "render_html", "render_markdown"), ".brief"),
    "write_brief": ".brief",
    **dict.fromkeys(("CJKFontWarning", "cjk_font", "resolve_lang"), ".fonts"),
    **dict.fromkeys(("money", "pct", "yuan"), ".numbers"),
    **dict.fromkeys(
        (
            "capital_paths",
            "exceedance_curves",
            "fan_chart",
            "loss_by_party",
            "new_axes",
            "scenario_comparison",
            "target_probabilities",
        ),
        ".plots",
    ),
    **dict.fromkeys(
        ("all_tables", "cost_table", "loss_table", "risk_table", "target_table", "year_table"),
        ".tables",
    ),
    **dict.fromkeys(("LANGS", "TEXT"), ".text"),
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from ..results.io import check_results
    from .brief import Brief, build_brief, render_html, render_markdown, write_brief
    from .fonts import CJKFontWarning, cjk_font, resolve_lang
    from .numbers import money, pct, yuan
    from .plots import (
        capital_paths,
        exceedance_curves,
        fan_chart,
        loss_by_party,
        new_axes,
        scenario_comparison,
        target_probabilities,
    )
    from .tables import all_tables, cost_table, loss_table, risk_table, target_table, year_table
    from .text import LANGS, TEXT


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value  # the next access is a plain attribute lookup
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LANGS",
    "TEXT",
    "Brief",
    "CJKFontWarning",
    "all_tables",
    "build_brief",
    "capital_paths",
    "check_results",
    "cjk_font",
    "cost_table",
    "exceedance_curves",
    "fan_chart",
    "loss_by_party",
    "loss_table",
    "money",
    "new_axes",
    "pct",
    "render_html",
    "render_markdown",
    "resolve_lang",
    "risk_table",
    "scenario_comparison",
    "target_probabilities",
    "target_table",
    "write_brief",
    "year_table",
    "yuan",
]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
