"""Figures of a results Dataset, drawn with matplotlib.

Every function takes a results Dataset (a run, or a comparison with a ``scenario`` dim,
drawn design by design) and an optional Axes, draws on it and returns it. Without an Axes
it makes a new :class:`matplotlib.figure.Figure` on the Agg canvas — no pyplot, no GUI
backend, no global state; in a notebook pass ``plt.subplots()``'s Axes to see it inline.

``lang="zh"`` labels parties, segments and targets with their Chinese labels
(``party_label``, ``segment_label``, ``target_label``) in a CJK font
(:func:`~guarantee_sim.reporting.fonts.cjk_font`); without such a font it warns and uses
English labels (names), as ``lang="en"`` does. Money is drawn in the unit
:func:`~guarantee_sim.reporting.numbers.money_unit` picks for the data (万元 or 亿元, CNY m or
CNY bn), with thousands separators on the axis.

>>> import tempfile
>>> import guarantee_sim as gs
>>> from guarantee_sim.reporting import fan_chart
>>> ds = gs.simulate(gs.load_scenario("scenarios/county_guarantee_2021.yaml"), paths=20, seed=1)
>>> ax = fan_chart(ds, "capital", party="guarantor", lang="en")
>>> ax.get_title(), ax.get_ylabel()
('Year-end net assets or balance: guarantor', 'CNY m')
>>> with tempfile.TemporaryDirectory() as folder:
...     ax.figure.savefig(f"{folder}/capital.png")
"""

from __future__ import annotations

import textwrap

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from ..results.intervals import mean_interval, probability_interval
from ..results.metrics import (
    breaker_probability,
    depletion_probability,
    exceedance_curve,
    insolvency_probability,
    loss_summary,
    tail_allocation,
)
from ..results.weights import weighted_quantile
from .fonts import font_families, resolve_lang
from .labels import named, words
from .measures import capital_holders, over_cap, party_caps, run_loss, variants
from .numbers import MoneyUnit, money_unit, pct, tick, yuan
from .tables import cost_table
from .text import LIKELY_FROM, TEXT, t

BANDS = ((0.05, 0.95), (0.25, 0.75))
LINESTYLES = ("-", "--", ":", "-.")
DESIGN_COLORS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

__all__ = [
    "capital_paths",
    "exceedance_curves",
    "fan_chart",
    "loss_by_party",
    "new_axes",
    "scenario_comparison",
    "target_probabilities",
]


# --------------------------------------------------------------------------- helpers


def new_axes(figsize=(8.0, 4.5)) -> Axes:
    """An Axes on a new Agg Figure (not registered with pyplot)."""
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def _first(ds: xr.Dataset) -> xr.Dataset:
    return variants(ds)[0][1]


def _label(ds: xr.Dataset, dim: str, key, lang: str) -> str:
    """Chinese label of a party/segment/target for zh (if it has one), else its name."""
    if lang == "zh":
        labels = ds.coords.get(f"{dim}_label")
        if labels is not None:
            label = str(labels.sel({dim: key}).values.flat[0]).strip()
            if label:
                return label
    return words(str(key))


def _party_colors(ds: xr.Dataset) -> dict[str, str]:
    palette = (
        "#4c72b0",
        "#dd8452",
        "#55a868",
        "#c44e52",
        "#8172b3",
        "#937860",
        "#da8bc3",
        "#8c8c8c",
        "#ccb974",
        "#64b5cd",
    )
    return {str(p): palette[i % len(palette)] for i, p in enumerate(ds.party.values)}


def _finish(ax: Axes) -> Axes:
    """Give every text of ``ax`` (and its inset axes) a font family with Chinese glyphs."""
    families = font_families()
    for a in [ax, *ax.child_axes]:
        for text in a.findobj(Text):
            text.set_fontfamily(families)
        a.tick_params(which="both", labelfontfamily=families)
    return ax


def _variable_name(name: str, da: xr.DataArray, lang: str) -> str:
    key = f"var_{name}"
    if key in TEXT[lang]:
        return TEXT[lang][key]
    return str(da.attrs.get("long_name", name))


def _scaled(da: xr.DataArray, lang: str) -> tuple[xr.DataArray, str]:
    units = str(da.attrs.get("units", ""))
    if units == "CNY":
        unit = money_unit(da.values, lang)
        return da / unit.scale, unit.name
    return da, "" if units in ("1", "1/year") else units


def _money_axis(axis) -> None:
    """Money ticks with thousands separators and no trailing zeros."""
    axis.set_major_formatter(FuncFormatter(tick))


def _percent_axis(axis) -> None:
    axis.set_major_formatter(PercentFormatter(1.0, decimals=0))


# --------------------------------------------------------------------------- fan chart


def fan_chart(
    ds: xr.Dataset,
    variable: str = "credit_loss",
    ax: Axes | None = None,
    *,
    lang: str = "zh",
    bands=BANDS,
    **selection,
) -> Axes:
    """Quantile bands over paths of ``variable`` by year, with the median.

    ``selection`` picks labels (``party="guarantor"``, ``segment="credit"``); dims left
    other than path, year and scenario are summed. ``bands`` are (low, high) quantiles,
    widest first. A comparison draws each design in its own colour.
    """
    lang = resolve_lang(lang)
    ax = ax if ax is not None else new_axes()
    da = ds[variable].sel(**selection) if selection else ds[variable]
    extra = [d for d in da.dims if d not in ("path", "year", "scenario")]
    if extra:
        da = da.sum(extra, min_count=1).assign_attrs(ds[variable].attrs)
    da, unit = _scaled(da, lang)
    designs = (
        [(s, da.sel(scenario=s)) for s in da.scenario.values]
        if "scenario" in da.dims
        else [(None, da)]
    )
    years = da.year.values
    alphas = np.linspace(0.18, 0.38, len(bands))
    qs = sorted({q for band in bands for q in band} | {0.5})
    for i, (name, values) in enumerate(designs):
        color = DESIGN_COLORS[i % len(DESIGN_COLORS)]
        quant = weighted_quantile(values, qs)
        if name is None:
            for (low, high), alpha in zip(bands, alphas, strict=True):
                ax.fill_between(
                    years,
                    quant.sel(quantile=low),
                    quant.sel(quantile=high),
                    color=color,
                    alpha=alpha,
                    linewidth=0,
                    label=t(lang, "fig_paths_band", low=low, high=high),
                )
            ax.plot(
                years,
                quant.sel(quantile=0.5),
                color=color,
                linewidth=2,
                label=t(lang, "fig_median"),
            )
            continue
        # a comparison: the widest band's edges as thin lines, the median bold, per design
        style = LINESTYLES[i % len(LINESTYLES)]
        low, high = bands[0]
        ax.plot(
            years,
            quant.sel(quantile=0.5),
            color=color,
            linewidth=2,
            linestyle=style,
            label=f"{name}: {t(lang, 'fig_median')}",
        )
        for q in (low, high):
            ax.plot(
                years,
                quant.sel(quantile=q),
                color=color,
                linewidth=0.9,
                linestyle=style,
                alpha=0.7,
                label=(
                    f"{name}: {t(lang, 'fig_paths_band', low=low, high=high)}" if q == low else None
                ),
            )
    what = ""
    if selection:
        parts = []
        for dim, key in selection.items():
            keys = key if isinstance(key, (list, tuple)) else [key]
            parts.append(t(lang, "and").join(_label(ds, dim, k, lang) for k in keys))
        what = t(lang, "fig_fan_selection", parts=" / ".join(parts))
    ax.set_title(
        t(lang, "fig_fan_title", variable=_variable_name(variable, ds[variable], lang), what=what)
    )
    ax.set_xlabel(t(lang, "fig_year"))
    ax.set_ylabel(unit)
    if str(ds[variable].attrs.get("units")) == "1/year":
        _percent_axis(ax.yaxis)
    elif str(ds[variable].attrs.get("units")) == "CNY":
        _money_axis(ax.yaxis)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    return _finish(ax)


# --------------------------------------------------------------------------- losses


def _parties_with_loss(ds: xr.Dataset) -> list[str]:
    loss = ds["loss"]
    dims = [d for d in loss.dims if d != "party"]
    nonzero = (abs(loss) > 0).any(dims)
    return [str(p) for p in ds.party.values[nonzero.values]]


def loss_by_party(
    ds: xr.Dataset,
    ax: Axes | None = None,
    *,
    lang: str = "zh",
    level: float = 0.99,
    unit: MoneyUnit | None = None,
) -> Axes:
    """Stacked bars of each party's loss over the run: the mean, and the 99% tail.

    The tail bar is the mean on the worst 1% of paths by total loss
    (:func:`~guarantee_sim.results.tail_allocation`): its stack adds up to the
    expected shortfall of the total. A comparison draws a pair of bars per design.
    ``unit``: the money unit of the axis (the brief gives the unit of its text and
    tables), else chosen for the bars.
    """
    lang = resolve_lang(lang)
    ax = ax if ax is not None else new_axes()
    first = _first(ds)
    parties = _parties_with_loss(ds)
    colors = _party_colors(first)
    designs = variants(ds)
    compare = "scenario" in ds.dims
    ticks, ticklabels = [], []
    stacks = [(loss_summary(v)["mean"], tail_allocation(v, level)) for _, v in designs]
    if unit is None:
        unit = money_unit(
            [float(x.sel(party=parties).sum()) for pair in stacks for x in pair], lang
        )
    for i, ((name, _), (mean, tail)) in enumerate(zip(designs, stacks, strict=True)):
        for j, (values, kind) in enumerate(((mean, "fig_loss_mean"), (tail, "fig_loss_tail"))):
            x = i * 2.6 + j
            bottom = 0.0
            for party in parties:
                height = float(values.sel(party=party)) / unit.scale
                ax.bar(
                    x,
                    height,
                    bottom=bottom,
                    width=0.8,
                    color=colors[party],
                    edgecolor="white",
                    linewidth=0.5,
                    label=_label(first, "party", party, lang) if i == 0 and j == 0 else None,
                )
                bottom += height
            ax.annotate(
                f"{bottom:,.{unit.decimals}f}",
                (x, bottom),
                ha="center",
                va="bottom",
                fontsize="small",
                xytext=(0, 2),
                textcoords="offset points",
            )
            ticks.append(x)
            ticklabels.append(t(lang, kind))
        if compare:
            ax.annotate(
                name,
                (i * 2.6 + 0.5, 0),
                xycoords=("data", "axes fraction"),
                xytext=(0, -28),
                textcoords="offset points",
                ha="center",
                va="top",
                fontweight="bold",
            )
    ax.set_xticks(ticks, ticklabels, fontsize="small" if compare else None)
    ax.set_ylabel(t(lang, "fig_loss_ylabel", unit=unit.name))
    _money_axis(ax.yaxis)
    ax.set_title(t(lang, "fig_loss_title"))
    ax.margins(y=0.12)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _finish(ax)


#: at most this many lines in one panel of a small-multiples figure
MAX_LINES = 6


def exceedance_panels(
    ds: xr.Dataset, *, lang: str = "zh", parties=None, unit: MoneyUnit | None = None
) -> Axes:
    """Small multiples for a comparison: one panel per party, one exceedance curve per
    design in it (a distinct colour and line style each), the legend below the panels.

    A comparison drawn as :func:`exceedance_curves` puts parties times designs on one set
    of axes (24 lines for 4 parties and 6 designs); here each panel has at most
    :data:`MAX_LINES` lines: the first designs, as many as fit. Returns the first panel.
    """
    lang = resolve_lang(lang)
    first = _first(ds)
    parties = list(parties) if parties is not None else _parties_with_loss(ds)
    designs = variants(ds)[:MAX_LINES]
    fig, grid = _panels(len(parties))
    if unit is None:
        unit = money_unit([run_loss(v).sel(party=parties).values for _, v in designs], lang)
    n = first.sizes["path"]
    handles = []
    for k, party in enumerate(parties):
        ax = grid[k // grid.shape[1]][k % grid.shape[1]]
        for i, (name, v) in enumerate(designs):
            curve = exceedance_curve(run_loss(v).sel(party=party) / unit.scale)
            x, p = curve.threshold.values, curve.values
            if x.size and x[0] > 0:
                x, p = np.concatenate([[0.0], x]), np.concatenate([[1.0], p])
            keep = p > 0
            (line,) = ax.step(
                x[keep], p[keep], where="post", linewidth=1.5, label=name, **_style(i)
            )
            if k == 0:
                handles.append(line)
        ax.set_yscale("log")
        ax.set_ylim(0.5 / n, 1.2)
        ax.axhline(0.01, color="grey", linestyle=":", linewidth=1)
        ax.set_title(_label(first, "party", party, lang), fontsize="medium")
        ax.set_xlabel(unit.name, fontsize="small")
        _money_axis(ax.xaxis)
        ax.grid(alpha=0.3, which="both")
        _finish(ax)
    for r in range(grid.shape[0]):
        grid[r][0].set_ylabel(t(lang, "fig_exceed_ylabel"))
    fig.suptitle(t(lang, "fig_exceed_title"))
    _design_legend(fig, handles)
    return grid[0][0]


def exceedance_curves(
    ds: xr.Dataset,
    ax: Axes | None = None,
    *,
    lang: str = "zh",
    parties=None,
    unit: MoneyUnit | None = None,
) -> Axes:
    """Per party, P(loss over the run > x) against x, read from the paths (log scale).

    ``parties`` defaults to those with any loss; a comparison draws each design with its
    own line style.
    """
    lang = resolve_lang(lang)
    ax = ax if ax is not None else new_axes()
    first = _first(ds)
    parties = list(parties) if parties is not None else _parties_with_loss(ds)
    colors = _party_colors(first)
    designs = variants(ds)
    n = first.sizes["path"]
    if unit is None:
        unit = money_unit([run_loss(v).sel(party=parties).values for _, v in designs], lang)
    for i, (name, v) in enumerate(designs):
        losses = run_loss(v) / unit.scale
        for party in parties:
            curve = exceedance_curve(losses.sel(party=party))
            x, p = curve.threshold.values, curve.values
            if x.size and x[0] > 0:
                x, p = np.concatenate([[0.0], x]), np.concatenate([[1.0], p])
            keep = p > 0
            label = _label(first, "party", party, lang)
            if len(designs) > 1:
                label = f"{name}: {label}"
            ax.step(
                x[keep],
                p[keep],
                where="post",
                color=colors[party],
                linestyle=LINESTYLES[i % len(LINESTYLES)],
                linewidth=1.6,
                label=label,
            )
    ax.set_yscale("log")
    ax.set_ylim(0.5 / n, 1.2)
    ax.axhline(0.01, color="grey", linestyle=":", linewidth=1)
    ax.annotate(
        t(lang, "fig_one_in_100"),
        (0.01, 0.01),
        xycoords=("axes fraction", "data"),
        ha="left",
        va="bottom",
        fontsize="small",
        color="grey",
    )
    ax.set_xlabel(t(lang, "fig_exceed_xlabel", unit=unit.name))
    _money_axis(ax.xaxis)
    ax.set_ylabel(t(lang, "fig_exceed_ylabel"))
    ax.set_title(t(lang, "fig_exceed_title"))
    ax.grid(alpha=0.3, which="both")
    if len(designs) > 1:  # many curves: keep the legend off them
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    else:
        ax.legend(fontsize="small", loc="upper right")
    return _finish(ax)


# --------------------------------------------------------------------------- targets


def target_probabilities(ds: xr.Dataset, ax: Axes | None = None, *, lang: str = "zh") -> Axes:
    """Horizontal bars of P(target reached) per target, with 95% intervals clustered by
    book replica (:func:`~guarantee_sim.results.probability_interval`); the dotted line
    marks where a target counts as likely."""
    lang = resolve_lang(lang)
    ax = ax if ax is not None else new_axes()
    first = _first(ds)
    designs = variants(ds)
    if not first.sizes.get("target"):
        ax.text(0.5, 0.5, TEXT[lang]["none"], ha="center", va="center", transform=ax.transAxes)
        return _finish(ax)
    targets = [str(x) for x in first.target.values]
    height = 0.8 / len(designs)
    for i, (name, v) in enumerate(designs):
        p = v["target_probability"].sel(target=targets).values.astype(float)
        ci = probability_interval(v["target_attainment"].sel(target=targets) >= 1.0)
        low, high = ci["low"].values, ci["high"].values
        y = np.arange(len(targets)) - 0.4 + height * (i + 0.5)
        color = DESIGN_COLORS[i % len(DESIGN_COLORS)] if len(designs) > 1 else "#4c72b0"
        ax.barh(
            y,
            p,
            height=height * 0.9,
            color=color,
            alpha=0.85,
            xerr=np.clip(np.vstack([p - low, high - p]), 0, None),
            ecolor="black",
            capsize=2,
            label=name if len(designs) > 1 else None,
        )
        for yy, pp, hh in zip(y, p, high, strict=True):
            ax.annotate(
                pct(pp),
                (hh, yy),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize="small",
            )
    ax.set_yticks(
        np.arange(len(targets)), [_wrap(_label(first, "target", x, lang), lang) for x in targets]
    )
    ax.invert_yaxis()
    ax.set_xlim(0, 1.15)
    _percent_axis(ax.xaxis)
    ax.axvline(LIKELY_FROM, color="grey", linestyle=":", linewidth=1)
    ax.annotate(
        t(lang, "likely"),
        (LIKELY_FROM, 1.0),
        xycoords=("data", "axes fraction"),
        ha="center",
        va="bottom",
        fontsize="small",
        color="grey",
    )
    ax.set_xlabel(t(lang, "fig_target_xlabel"))
    ax.set_title(t(lang, "fig_target_title"), pad=14)
    ax.grid(axis="x", alpha=0.3)
    if len(designs) > 1:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _finish(ax)


# --------------------------------------------------------------------------- capital


def capital_paths(
    ds: xr.Dataset,
    ax: Axes | None = None,
    *,
    lang: str = "zh",
    samples: int = 12,
    band=(0.05, 0.95),
    unit: MoneyUnit | None = None,
) -> Axes:
    """Year-end guarantor net assets and pool balances: median, a band across paths and
    a few single paths, each labelled with its probability of insolvency
    (:func:`~guarantee_sim.results.insolvency_probability`) or of running short
    (:func:`~guarantee_sim.results.depletion_probability`: its balance could not pay; the
    circuit breaker is its own risk). A comparison draws medians
    and bands per design, with its own line style."""
    lang = resolve_lang(lang)
    ax = ax if ax is not None else new_axes()
    first = _first(ds)
    holders = capital_holders(first)
    colors = _party_colors(first)
    designs = variants(ds)
    years = first.year.values
    if unit is None:
        unit = money_unit([v["capital"].sel(party=holders).values for _, v in designs], lang)
    for i, (name, v) in enumerate(designs):
        insolvent = insolvency_probability(v)
        short = depletion_probability(v)
        style = LINESTYLES[i % len(LINESTYLES)]
        for party in holders:
            values = v["capital"].sel(party=party) / unit.scale
            q = weighted_quantile(values, [band[0], 0.5, band[1]])
            color = colors[party]
            if len(designs) == 1:
                for path in range(min(samples, values.sizes["path"])):
                    ax.plot(years, values.isel(path=path), color=color, alpha=0.25, linewidth=0.6)
            ax.fill_between(
                years,
                q.isel(quantile=0),
                q.isel(quantile=2),
                color=color,
                alpha=0.18 if len(designs) == 1 else 0.08,
                linewidth=0,
            )
            who = _label(first, "party", party, lang)
            if party in insolvent.party.values:
                label = t(
                    lang, "fig_insolvent", party=who, p=pct(float(insolvent.sel(party=party)))
                )
            else:
                label = t(lang, "fig_depleted", party=who, p=pct(float(short.sel(party=party))))
            if len(designs) > 1:
                label = f"{name} — {label}"
            ax.plot(
                years, q.isel(quantile=1), color=color, linestyle=style, linewidth=2, label=label
            )
    ax.axhline(0.0, color="black", linewidth=0.8)
    handles, labels = ax.get_legend_handles_labels()
    if len(designs) == 1:
        handles.append(Patch(color="grey", alpha=0.3))
        labels.append(t(lang, "fig_paths_band", low=band[0], high=band[1]))
    ax.legend(handles, labels, fontsize="small", loc="best")
    ax.set_xlabel(t(lang, "fig_year"))
    ax.set_ylabel(t(lang, "fig_capital_ylabel", unit=unit.name))
    _money_axis(ax.yaxis)
    ax.set_title(t(lang, "fig_capital_title"))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    return _finish(ax)


# --------------------------------------------------------------------------- small multiples


def _panels(n: int, size=(3.6, 3.0)) -> tuple[Figure, np.ndarray]:
    """A figure of ``n`` panels, at most three a row, sharing the y axis; cells the grid
    has beyond ``n`` are switched off."""
    cols = min(3, max(1, n))
    rows = -(-n // cols)
    fig = Figure(figsize=(size[0] * cols + 0.6, size[1] * rows + 1.0), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.subplots(rows, cols, squeeze=False, sharey=True)
    for k in range(n, rows * cols):
        grid[k // cols][k % cols].set_axis_off()
    return fig, grid


def _design_legend(fig: Figure, handles: list) -> None:
    """One legend of the designs for the whole figure, below its panels (off the data)."""
    fig.legend(
        handles,
        [h.get_label() for h in handles],
        loc="outside lower center",
        ncol=min(len(handles), 3),
        fontsize="small",
        frameon=False,
    )
    for text in fig.findobj(Text):
        text.set_fontfamily(font_families())


def _style(i: int) -> dict:
    """The colour and line style of the ``i``-th design: distinct for the first six."""
    return {
        "color": DESIGN_COLORS[i % len(DESIGN_COLORS)],
        "linestyle": LINESTYLES[i % len(LINESTYLES)],
    }


def capital_panels(
    ds: xr.Dataset, *, lang: str = "zh", band=(0.05, 0.95), unit: MoneyUnit | None = None
) -> Axes:
    """Small multiples for a comparison: one panel per guarantor or pool, the median of its
    year-end net assets (or balance) per design in it (a distinct colour and line style
    each, the first :data:`MAX_LINES` designs), the first design's 5-95% band behind;
    the legend below the panels. Returns the first panel."""
    lang = resolve_lang(lang)
    first = _first(ds)
    holders = capital_holders(first)
    designs = variants(ds)[:MAX_LINES]
    if unit is None:
        unit = money_unit([v["capital"].sel(party=holders).values for _, v in designs], lang)
    fig, grid = _panels(len(holders))
    years = first.year.values
    handles = []
    for k, party in enumerate(holders):
        ax = grid[k // grid.shape[1]][k % grid.shape[1]]
        for i, (name, v) in enumerate(designs):
            values = v["capital"].sel(party=party) / unit.scale
            q = values.quantile([band[0], 0.5, band[1]], dim="path")
            if i == 0:
                ax.fill_between(
                    years,
                    q.isel(quantile=0),
                    q.isel(quantile=2),
                    alpha=0.15,
                    linewidth=0,
                    color=_style(0)["color"],
                )
            (line,) = ax.plot(years, q.isel(quantile=1), linewidth=1.8, label=name, **_style(i))
            if k == 0:
                handles.append(line)
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_title(_label(first, "party", party, lang), fontsize="medium")
        ax.set_xlabel(t(lang, "fig_year"), fontsize="small")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _money_axis(ax.yaxis)
        ax.grid(alpha=0.3)
        _finish(ax)
    for r in range(grid.shape[0]):
        grid[r][0].set_ylabel(t(lang, "fig_capital_ylabel", unit=unit.name))
    fig.suptitle(t(lang, "fig_capital_title"))
    _design_legend(fig, handles)
    return grid[0][0]


def fan_panels(ds: xr.Dataset, variable: str = "public_loss", *, lang: str = "zh") -> Axes:
    """Small multiples for a comparison: one panel per design (the first :data:`MAX_LINES`),
    the median of ``variable`` by year and its 5-95% band across paths, with the first
    design's median in grey in every other panel to compare against. Returns the first."""
    lang = resolve_lang(lang)
    da = ds[variable]
    extra = [d for d in da.dims if d not in ("path", "year", "scenario")]
    if extra:
        da = da.sum(extra, min_count=1).assign_attrs(ds[variable].attrs)
    da, unit = _scaled(da, lang)
    designs = [(str(s), da.sel(scenario=s)) for s in da.scenario.values][:MAX_LINES]
    fig, grid = _panels(len(designs))
    years = da.year.values
    quantiles = [q.quantile([0.05, 0.5, 0.95], dim="path", skipna=True) for _, q in designs]
    for i, ((name, _), q) in enumerate(zip(designs, quantiles, strict=True)):
        ax = grid[i // grid.shape[1]][i % grid.shape[1]]
        style = _style(i)
        ax.fill_between(
            years,
            q.isel(quantile=0),
            q.isel(quantile=2),
            alpha=0.2,
            linewidth=0,
            color=style["color"],
        )
        if i:  # the first design's median behind this one's
            ax.plot(
                years, quantiles[0].isel(quantile=1), color="grey", linewidth=1.2, linestyle="-"
            )
        ax.plot(years, q.isel(quantile=1), linewidth=2, **style)
        ax.set_title(_wrap(name, lang), fontsize="medium")
        ax.set_xlabel(t(lang, "fig_year"), fontsize="small")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _money_axis(ax.yaxis)
        ax.grid(alpha=0.3)
        _finish(ax)
    for r in range(grid.shape[0]):
        grid[r][0].set_ylabel(unit)
    fig.suptitle(
        t(lang, "fig_fan_title", variable=_variable_name(variable, ds[variable], lang), what="")
    )
    band = Patch(color="grey", alpha=0.3, label=t(lang, "fig_paths_band", low=0.05, high=0.95))
    median = Line2D([], [], color="black", linewidth=2, label=t(lang, "fig_median"))
    base = Line2D(
        [],
        [],
        color="grey",
        linewidth=1.2,
        label=t(lang, "fig_baseline_median", design=designs[0][0]),
    )
    _design_legend(fig, [median, band, base])
    return grid[0][0]


# --------------------------------------------------------------------------- comparison

#: the four panels of :func:`scenario_comparison`, in axes coordinates of the container;
#: each is a horizontal bar chart, its labels in the space to its left
PANELS = (
    (0.20, 0.55, 0.29, 0.36),
    (0.70, 0.55, 0.29, 0.36),
    (0.20, 0.05, 0.29, 0.36),
    (0.70, 0.05, 0.29, 0.36),
)


#: punctuation that closes a phrase, which no wrapped line may start with (characters, not
#: words: the line breaking rule of Chinese and English alike)
NO_LINE_START = "，。、；：）」』,.;:)"


def _wrap(label: str, lang: str) -> str:
    """Break a long axis label into lines (Chinese has no spaces: break by characters)."""
    lines = textwrap.wrap(str(label), width=12 if lang == "zh" else 24, break_long_words=True) or [
        ""
    ]
    for i in range(1, len(lines)):  # no line starts with closing punctuation
        while lines[i] and lines[i][0] in NO_LINE_START:
            lines[i - 1] += lines[i][0]
            lines[i] = lines[i][1:]
    return "\n".join(line for line in lines if line)


def _grouped_barh(
    ax: Axes,
    groups: list[str],
    series: dict[str, np.ndarray],
    lang: str,
    *,
    errors: dict | None = None,
    fmt=None,
) -> None:
    """Horizontal bars: one group per label (top to bottom), one bar per design in it."""
    n = max(1, len(series))
    height = 0.8 / n
    y = np.arange(len(groups))
    root = ax.figure.figure  # the Figure itself, also for axes in a SubFigure
    inches = ax.get_position().height * root.get_figheight()
    roomy = inches * 72 / max(1, len(groups) * n) >= 9  # points per bar: room for a number
    for i, (name, values) in enumerate(series.items()):
        ys = y - 0.4 + height * (i + 0.5)
        err = None if errors is None else errors[name]
        ax.barh(
            ys,
            values,
            height=height * 0.92,
            color=DESIGN_COLORS[i % len(DESIGN_COLORS)],
            xerr=err,
            capsize=2 if err is not None else 0,
            label=name,
        )
        if fmt is not None and roomy:
            for yy, vv in zip(ys, values, strict=True):
                if np.isfinite(vv):
                    ax.annotate(
                        fmt(vv),
                        (vv, yy),
                        xytext=(2, 0),
                        textcoords="offset points",
                        ha="left",
                        va="center",
                        fontsize="x-small",
                    )
    ax.set_yticks(y, [_wrap(g, lang) for g in groups], fontsize="small")
    ax.set_ylim(len(groups) - 0.5, -0.5)
    ax.grid(axis="x", alpha=0.3)


def scenario_comparison(
    ds: xr.Dataset, ax: Axes | None = None, *, lang: str = "zh", units=None
) -> Axes:
    """A panel comparing the designs of a comparison (a Dataset with a ``scenario`` dim).

    ``ax`` becomes the frame of four inset panels: mean loss over the run by party; the
    probability of each target; the fiscal cost over the run with its 95% CI (annotated
    with the cost per 100 m CNY lent and, with a counterfactual, per additional
    first-time borrower); and the risks (pool short, guarantor insolvency, compensation
    rates above their caps). Returns ``ax``.
    """
    if "scenario" not in ds.dims:
        raise ValueError(
            "scenario_comparison needs a comparison (a Dataset with a "
            "'scenario' dim), e.g. from `guarantee-sim compare`"
        )
    lang = resolve_lang(lang)
    ax = ax if ax is not None else new_axes((12.0, 9.0))
    designs = variants(ds)
    names = [n for n, _ in designs]
    ax.set_axis_off()
    title = named(
        str(ds.attrs.get("experiment", "")), str(ds.attrs.get("experiment_label") or ""), lang
    )
    ax.set_title(
        t(lang, "fig_compare_title_of", label=title) if title else t(lang, "fig_compare_title")
    )
    loss_ax, target_ax, fiscal_ax, risk_ax = (ax.inset_axes(rect) for rect in PANELS)
    units = units or {}  # money units by quantity ("loss", "fiscal_cost"), else chosen here
    _compare_loss(loss_ax, ds, designs, lang, units.get("loss"))
    _compare_targets(target_ax, ds, designs, lang)
    _compare_fiscal(fiscal_ax, ds, designs, lang, units.get("fiscal_cost"))
    _compare_risks(risk_ax, ds, designs, lang)
    handles = [Patch(color=DESIGN_COLORS[i % len(DESIGN_COLORS)]) for i in range(len(names))]
    ax.legend(
        handles,
        names,
        loc="upper center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=min(len(names), 6),
        fontsize="small",
        frameon=False,
    )
    return _finish(ax)


def _compare_loss(ax: Axes, ds: xr.Dataset, designs: list, lang: str, unit) -> None:
    """Comparison panel: mean loss over the run by party, per design (millions of CNY)."""

    first = _first(ds)
    parties = _parties_with_loss(ds)
    means = {n: loss_summary(v)["mean"].sel(party=parties).values for n, v in designs}
    unit = unit or money_unit(list(means.values()), lang)
    series = {n: m / unit.scale for n, m in means.items()}

    def amount(x):
        return f"{x:,.{unit.decimals}f}"

    _grouped_barh(ax, [_label(first, "party", p, lang) for p in parties], series, lang, fmt=amount)
    ax.margins(x=0.15)
    _money_axis(ax.xaxis)
    ax.set_title(t(lang, "fig_compare_loss", unit=unit.name), fontsize="medium")


def _compare_targets(ax: Axes, ds: xr.Dataset, designs: list, lang: str) -> None:
    """Comparison panel: the probability of each target with its 95% CI, per design."""
    first = _first(ds)
    if first.sizes.get("target"):
        targets = [str(x) for x in first.target.values]
        series, errors = {}, {}
        for n, v in designs:
            p = v["target_probability"].sel(target=targets).values.astype(float)
            ci = probability_interval(v["target_attainment"].sel(target=targets) >= 1.0)
            low, high = ci["low"].values, ci["high"].values
            series[n], errors[n] = p, np.clip(np.vstack([p - low, high - p]), 0, None)
        _grouped_barh(
            ax,
            [_label(first, "target", x, lang) for x in targets],
            series,
            lang,
            errors=errors,
        )
        ax.set_xlim(0, 1.05)
        _percent_axis(ax.xaxis)
        ax.axvline(LIKELY_FROM, color="grey", linestyle=":", linewidth=1)
    else:
        ax.text(0.5, 0.5, TEXT[lang]["none"], ha="center", va="center", transform=ax.transAxes)
    ax.set_title(t(lang, "fig_compare_targets"), fontsize="medium")


def _compare_fiscal(ax: Axes, ds: xr.Dataset, designs: list, lang: str, unit) -> None:
    """Comparison panel: fiscal cost over the run with its 95% CI, annotated with the cost
    per 100 m CNY lent and (with a counterfactual) per additional first-time borrower."""
    names = [n for n, _ in designs]
    costs = cost_table(ds).set_index("design")
    intervals = [mean_interval(v["fiscal_cost"].sum("year")) for _, v in designs]
    unit = unit or money_unit([float(ci["high"]) for ci in intervals], lang)
    means = [float(ci["mean"]) / unit.scale for ci in intervals]
    errs = [float(ci["high"] - ci["mean"]) / unit.scale for ci in intervals]
    y = np.arange(len(names))
    ax.barh(
        y,
        means,
        xerr=errs,
        capsize=3,
        height=0.7,
        color=[DESIGN_COLORS[i % len(DESIGN_COLORS)] for i in range(len(names))],
    )
    for i, n in enumerate(names):
        lines = [
            t(lang, "fig_per_100m", value=yuan(costs.loc[n, "fiscal_cost_per_100m_lending"], lang))
        ]
        if "fiscal_cost_per_additional_borrower" in costs:
            value = costs.loc[n, "fiscal_cost_per_additional_borrower"]
            if np.isfinite(value):
                lines.append(t(lang, "fig_per_additional", value=yuan(value, lang)))
        ax.annotate(
            "\n".join(lines),
            (1.0, y[i]),
            xycoords=("axes fraction", "data"),
            xytext=(-3, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            fontsize="x-small",
            bbox={
                "boxstyle": "round,pad=0.2",
                "facecolor": "white",
                "edgecolor": "none",
                "alpha": 0.8,
            },
        )
    top = max([*(m + e for m, e in zip(means, errs, strict=True)), 1e-9])
    ax.set_xlim(0, top * 2.0)  # the right half holds the annotations
    ax.set_yticks(y, [_wrap(n, lang) for n in names], fontsize="small")
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.grid(axis="x", alpha=0.3)
    _money_axis(ax.xaxis)
    ax.set_title(t(lang, "fig_compare_fiscal", unit=unit.name), fontsize="medium")


def _compare_risks(ax: Axes, ds: xr.Dataset, designs: list, lang: str) -> None:
    """Comparison panel: probabilities of a pool's depletion and of its breaker tripping,
    a guarantor's insolvency
    and a re-guarantor's compensation rate above its cap, per design."""
    first = _first(ds)
    risk_names: list[str] = []
    series: dict[str, list[float]] = {n: [] for n, _ in designs}
    caps = party_caps(first)
    for pool in capital_holders(first, ("pool",)):
        who = _label(first, "party", pool, lang)
        risk_names.append(t(lang, "bar_pool_depleted", party=who))
        for n, v in designs:
            series[n].append(float(depletion_probability(v).sel(party=pool)))
        if any(float(breaker_probability(v).sel(party=pool)) > 0 for _, v in designs):
            risk_names.append(t(lang, "bar_pool_breaker", party=who))
            for n, v in designs:
                series[n].append(float(breaker_probability(v).sel(party=pool)))
    for g in capital_holders(first, ("guarantor",)):
        risk_names.append(t(lang, "risk_insolvent", party=_label(first, "party", g, lang)))
        for n, v in designs:
            series[n].append(float(insolvency_probability(v).sel(party=g)))
    for p in capital_holders(first, ("reguarantor",)):
        cap = caps[p]["compensation_rate_cap"]
        if cap is None:
            continue
        risk_names.append(t(lang, "risk_comp_over_cap", party=_label(first, "party", p, lang)))
        for n, v in designs:
            series[n].append(float(over_cap(v["compensation_rate"].sel(party=p), cap)))
    _grouped_barh(
        ax,
        [r.replace("\n", " ") for r in risk_names],
        {n: np.array(s) for n, s in series.items()},
        lang,
        fmt=pct,
    )
    ax.set_xlim(0, 1.18)
    _percent_axis(ax.xaxis)
    ax.tick_params(axis="y", labelsize="x-small")
    ax.set_title(t(lang, "fig_compare_risk"), fontsize="medium")
