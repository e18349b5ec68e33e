"""The figure of a design search (:mod:`guarantee_sim.analysis.design`'s Dataset).

Two panels: the frontier (the public cost against P(frontier target) of every evaluated
design, the frontier's designs joined, the chosen one marked, the target's bound drawn),
and each constrained probability against the first lever, with its bound.
"""

from __future__ import annotations

import textwrap

import numpy as np
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .fonts import resolve_lang
from .labels import named
from .numbers import money_unit, pct
from .plots import DESIGN_COLORS, _finish, _money_axis, _percent_axis
from .text import t


def _lever_axis(ds: xr.Dataset, lever: str, lang: str) -> tuple[np.ndarray, str]:
    """The lever's evaluated values and axis label; money (units ``CNY``, ``CNY/year``) in
    the unit :func:`money_unit` picks (万元, 亿元; CNY m, CNY bn)."""
    x = ds["lever_value"].sel(lever=lever).values.astype(float)
    units = str(ds.lever_units.sel(lever=lever).item())
    if units.split("/", maxsplit=1)[0] == "CNY":
        unit = money_unit(x, lang)
        x, units = x / unit.scale, unit.name + units[len("CNY") :]
    label = ds[f"lever_label_{lang}"].sel(lever=lever).item()
    return x, t(lang, "fig_design_lever", label=label, units=units)


def _wrapped(text: str, lang: str) -> str:
    """A long label in lines (Chinese breaks anywhere: it has no spaces)."""
    return "\n".join(textwrap.wrap(text, width=22 if lang == "zh" else 40)) or text


def target_name(ds: xr.Dataset, target: str, lang: str) -> str:
    """A target as the other briefs name it: its label in Chinese, its id in words in
    English (:func:`~.labels.named`)."""
    label = ""
    if "target_label" in ds.coords:
        label = str(ds["target_label"].sel(target=target).item())
    return named(target, label, lang)


def constraint_words(ds: xr.Dataset, c, lang: str) -> str:
    """A constraint in words: "P(a pool runs dry) ≤ 5%" (zh: ...)."""
    v = ds.sel(constraint=c)
    at = v.constraint_target.item()
    if at:
        what = t(lang, "measure_target_probability", target=target_name(ds, at, lang))
    else:
        what = t(lang, f"design_{v.constraint_outcome.item()}")
    sense = v.constraint_sense.item()
    return t(lang, f"fig_design_{sense}", what=what, bound=pct(v.constraint_bound, lang))


def _constraint_name(ds: xr.Dataset, c, lang: str) -> str:
    return _wrapped(constraint_words(ds, c, lang), lang)


def objective_words(ds: xr.Dataset, lang: str) -> str:
    """What the search minimised, in words: "mean PV of public cost", "P(a pool runs dry)"."""
    return t(lang, f"design_{ds.attrs['objective']}")


def _objective_axis(ds: xr.Dataset, ax, lang: str) -> tuple[np.ndarray, str]:
    """Each design's objective on ``ax``'s x axis and the axis label, by the objective: an
    amount in 万元/亿元 (CNY m/bn), a probability in percent."""
    values = ds["objective"].values.astype(float)
    what = objective_words(ds, lang)
    if ds["objective"].attrs.get("units") == "CNY":
        unit = money_unit(values, lang)
        _money_axis(ax.xaxis)
        return values / unit.scale, t(lang, "fig_design_objective_axis", what=what, units=unit.name)
    _percent_axis(ax.xaxis)  # a probability: the axis in percent says its unit
    return values, what


def design_figure(ds: xr.Dataset, *, lang: str = "zh") -> Figure:
    """The design search in two panels (see the module's docstring)."""
    lang = resolve_lang(lang)
    fig = Figure(figsize=(11.0, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    best = int(ds.attrs["best_evaluation"])
    target = ds.attrs.get("frontier_target", "")
    cost, cost_label = _objective_axis(ds, left, lang)
    feasible = ds["feasible"].values.astype(bool)
    if target:
        p = ds["target_probability"].sel(target=target).values.astype(float)
        left.scatter(
            cost[~feasible],
            p[~feasible],
            marker="x",
            color="grey",
            label=t(lang, "fig_design_infeasible"),
        )
        left.scatter(
            cost[feasible],
            p[feasible],
            color=DESIGN_COLORS[0],
            label=t(lang, "fig_design_feasible"),
        )
        front = np.flatnonzero(ds["on_frontier"].values)
        order = front[np.argsort(cost[front])]
        left.plot(
            cost[order], p[order], color=DESIGN_COLORS[1], label=t(lang, "fig_design_frontier")
        )
        left.scatter(
            [cost[best]],
            [p[best]],
            marker="*",
            s=220,
            color=DESIGN_COLORS[2],
            zorder=3,
            label=t(lang, "fig_design_best"),
        )
        for c in ds.constraint.values:
            if ds.constraint_target.sel(constraint=c).item() == target:
                left.axhline(
                    float(ds.constraint_bound.sel(constraint=c)), color="grey", linestyle=":"
                )
        _percent_axis(left.yaxis)
        name = target_name(ds, target, lang)
        left.set_ylabel(
            _wrapped(t(lang, "fig_design_target_axis", target=name), lang), linespacing=1.5
        )
        left.legend(fontsize="small")
    left.set_xlabel(_wrapped(cost_label, lang))
    left.set_title(t(lang, "fig_design_frontier_title", what=objective_words(ds, lang)))
    lever = str(ds.lever.values[0])
    x, x_label = _lever_axis(ds, lever, lang)
    order = np.argsort(x, kind="stable")
    for i, c in enumerate(ds.constraint.values):
        v = ds.sel(constraint=c)
        outcome, at = v.constraint_outcome.item(), v.constraint_target.item()
        y = ds[outcome].sel(target=at) if at else ds[outcome]
        color = DESIGN_COLORS[i % len(DESIGN_COLORS)]
        right.plot(
            x[order],
            y.values[order],
            marker="o",
            markersize=3,
            # with several levers the designs along the first one differ in the others too:
            # points, not a line that would suggest one curve
            linestyle="-" if ds.sizes["lever"] == 1 else "none",
            color=color,
            label=_constraint_name(ds, c, lang),
        )
        right.axhline(float(v.constraint_bound), color=color, linestyle=":")
    right.axvline(
        x[best],
        color="grey",
        linestyle="--",
        label=t(lang, "fig_design_best"),
    )
    _percent_axis(right.yaxis)
    right.set_xlabel(x_label)
    right.set_ylabel(t(lang, "fig_design_probability_axis"))
    right.set_title(t(lang, "fig_design_constraints_title"))
    right.legend(fontsize="small")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        _finish(ax)
    return fig
