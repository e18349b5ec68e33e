"""Sweeps: P(each target), P(each pool depleted) and P(each guarantor insolvent) against a
grid lever's values, with their 95% intervals (clustered by book replica).

A sweep's results have one dimension per grid lever (``lever_key`` in its coordinate's
attrs: :func:`~guarantee_sim.results.lever_dims`) and, with named variants, ``scenario``.
:func:`sweep_measures` computes the probabilities at every grid point,
:func:`sweep_table` lays them out one row per design, :func:`sweep_figures` draws one
figure per lever (the lever's values on the x axis, one line per target and party, one
panel per variant or value of the other levers), and :func:`brief_section` gives the
brief its blocks. Levers are named by their ``label_zh`` / ``label_en``.

>>> import guarantee_sim as gs
>>> from guarantee_sim.experiments import run_experiment
>>> ds = run_experiment("experiments/hangzhou_2021_2023_pool_sweep.yaml", paths=4,
...                     overrides=["processes.replicas=1"])  # doctest: +SKIP
>>> figures = sweep_figures(ds, "en")  # doctest: +SKIP
>>> sorted(figures)  # doctest: +SKIP
['sweep_pool_contribution']
"""

from __future__ import annotations

import io
import itertools

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import PercentFormatter

from ..results.intervals import probability_interval
from ..results.levers import lever_dims, lever_value
from ..results.metrics import depleted_paths, insolvent_paths
from . import frontier
from .fonts import font_families, resolve_lang
from .labels import labelled, named, rate
from .numbers import money, money_unit, pct
from .text import t

#: most panels a lever's figure has (variants x values of the other levers); more are
#: left out and the caption says so
MAX_PANELS = 6


def lever_label(ds: xr.Dataset, lever: str, lang: str, *, units: bool = False) -> str:
    """What a lever is called in ``lang`` (its label, else its name), with its units (a
    rate a year in percent, as :func:`value_text` writes it)."""
    attrs = ds[lever].attrs
    label = str(attrs.get(f"label_{lang}") or lever)
    unit = _shown_unit(str(attrs.get("units", "")), lang)
    return f"{label} ({unit})" if units and unit and unit != "1" else label


def _shown_unit(unit: str, lang: str) -> str:
    """A lever's units as tables and axes show them: a rate a year (``1/year``) in percent."""
    return "%" + t(lang, "sweep_per_year") if unit == "1/year" else unit


def sweep_measures(ds: xr.Dataset, lang: str = "en") -> xr.Dataset:
    """At every design: ``p``, ``low`` and ``high`` (95% CI) of each target reached, each
    pool depleted and each guarantor insolvent, along a ``measure`` dimension whose
    ``measure_label`` names them in ``lang``."""
    parts = []
    if ds.sizes.get("target"):
        hits = (ds["target_attainment"] >= 1.0).rename(target="measure")
        names = [_label(ds, "target", target, lang) for target in ds.target.values]
        parts.append(_measure(hits, "target", names, lang))
    for kind, paths in (("depleted", depleted_paths(ds)), ("insolvent", insolvent_paths(ds))):
        if paths.sizes["party"]:
            names = [labelled(ds, "parties", str(p), lang) for p in paths.party.values]
            parts.append(_measure(paths.rename(party="measure"), kind, names, lang))
    if not parts:
        return xr.Dataset()
    hits = xr.concat(parts, dim="measure", coords="minimal", compat="override")
    out = probability_interval(hits)[["p", "low", "high"]]
    for name in ("p", "low", "high"):
        out[name].attrs.update(units="1", long_name=t("en", "sweep_share_of_paths", name=name))
    return out


def _measure(hits: xr.DataArray, kind: str, names: list[str], lang: str) -> xr.DataArray:
    ids = [f"{kind}:{m}" for m in hits.measure.values]
    labels = [t(lang, f"sweep_{kind}", name=n) for n in names]
    keep = [c for c in hits.coords if c in hits.dims or c == "replica"]
    hits = hits.reset_coords([c for c in hits.coords if c not in keep], drop=True)
    return hits.assign_coords(measure=ids, measure_label=("measure", labels))


def _label(ds: xr.Dataset, dim: str, key, lang: str) -> str:
    """A target by its label in Chinese, by its id in words in English (as the briefs)."""
    label = ""
    if f"{dim}_label" in ds.coords:
        label = str(ds[f"{dim}_label"].sel({dim: key}).values.flat[0]).strip()
    return named(str(key), label, lang)


def sweep_table(ds: xr.Dataset, lang: str = "en") -> pd.DataFrame:
    """One row per design: its variant (if any), each lever's value, then ``p``, ``low``
    and ``high`` of every measure (columns ``<measure> p`` etc., ids such as
    ``target:first_time``)."""
    measures = sweep_measures(ds, lang)
    dims = _design_dims(ds)
    rows = []
    for point in itertools.product(*(range(ds.sizes[d]) for d in dims)):
        at = dict(zip(dims, point, strict=True))
        row = {d: _plain(ds[d].values[i]) for d, i in at.items()}
        here = measures.isel(at) if measures.data_vars else measures
        for m in here.coords.get("measure", xr.DataArray([])).values:
            for stat in ("p", "low", "high"):
                row[f"{m} {stat}"] = float(here[stat].sel(measure=m))
        rows.append(row)
    return pd.DataFrame(rows)


def _design_dims(ds: xr.Dataset) -> list[str]:
    return (["scenario"] if "scenario" in ds.dims else []) + lever_dims(ds)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def sweep_figures(ds: xr.Dataset, lang: str = "zh") -> dict[str, tuple[Figure, str]]:
    """One figure per lever, ``sweep_<lever>``, with its caption: the lever's values on
    the x axis; one line per target and party (its probability, a band for its 95%
    interval); one panel per variant and value of the other levers."""
    fig_lang = resolve_lang(lang)
    measures = sweep_measures(ds, fig_lang)
    out: dict[str, tuple[Figure, str]] = {}
    if not measures.data_vars:
        return out
    for lever in lever_dims(ds):
        others = [d for d in _design_dims(ds) if d != lever]
        panels = list(itertools.product(*(range(ds.sizes[d]) for d in others)))
        shown = panels[:MAX_PANELS]
        fig = Figure(figsize=(4.2 * min(len(shown), 3) + 1.5, 3.6 * -(-len(shown) // 3)))
        FigureCanvasAgg(fig)
        axes = fig.subplots(-(-len(shown) // 3), min(len(shown), 3), squeeze=False, sharey=True)
        x = ds[lever].values.astype(float)
        scale, unit = _axis_scale(ds, lever, fig_lang)
        for k, point in enumerate(shown):
            ax = axes.flat[k]
            here = measures.isel(dict(zip(others, point, strict=True)))
            for m in here.measure.values:
                line = here.sel(measure=m).transpose(lever)
                label = str(line.measure_label.values)
                (drawn,) = ax.plot(x / scale, line.p.values, marker="o", label=label)
                ax.fill_between(
                    x / scale, line.low.values, line.high.values, alpha=0.15,
                    color=drawn.get_color(), linewidth=0,
                )  # fmt: skip
            ax.set_title(_panel_title(ds, others, point, fig_lang), fontsize="medium")
            ax.set_xlabel(f"{lever_label(ds, lever, fig_lang)}{unit}")
            ax.set_ylim(-0.02, 1.02)
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
            ax.grid(alpha=0.3)
        for ax in axes.flat[len(shown) :]:
            ax.set_axis_off()
        axes.flat[0].set_ylabel(t(fig_lang, "sweep_ylabel"))
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize="small")
        fig.suptitle(t(fig_lang, "sweep_title", lever=lever_label(ds, lever, fig_lang)))
        fig.set_layout_engine("constrained")
        families = font_families()
        for text in fig.findobj(Text):
            text.set_fontfamily(families)
        caption = t(lang, "sweep_caption", lever=lever_label(ds, lever, lang, units=True))
        if len(panels) > len(shown):
            caption += t(lang, "sweep_more", shown=len(shown), total=len(panels))
        out[f"sweep_{lever}"] = (fig, caption)
    return out


def _axis_scale(ds: xr.Dataset, lever: str, lang: str) -> tuple[float, str]:
    """Money levers in the brief's unit for their size (亿元 or 万元, CNY bn or m: one
    unit per quantity, :func:`~.numbers.money_unit`), rates a year in percent (x is divided
    by the scale), others as they are; the axis unit."""
    unit = str(ds[lever].attrs.get("units", ""))
    if unit.startswith("CNY"):
        money_in = money_unit(ds[lever].values, lang)
        per_year = t(lang, "sweep_per_year") if unit.endswith("/year") else ""
        return money_in.scale, t(lang, "sweep_axis_unit", unit=money_in.name + per_year)
    shown = t(lang, "sweep_axis_unit", unit=_shown_unit(unit, lang))
    if unit == "1/year":  # a rate a year (a fee, a subsidy) in percent, as briefs write it
        return 0.01, shown
    return 1.0, (shown if unit and unit != "1" else "")


def _panel_title(ds: xr.Dataset, dims: list[str], point, lang: str) -> str:
    words = []
    for d, i in zip(dims, point, strict=True):
        if d == "scenario":
            given = ds.coords.get(f"variant_label_{lang}")
            label = str(given.values[i]) if given is not None else ""
            words.append(label or str(ds.scenario.values[i]))
        else:
            words.append(f"{lever_label(ds, d, lang)} {value_text(ds, d, ds[d].values[i], lang)}")
    return ", ".join(words)


def value_text(ds: xr.Dataset, lever: str, value, lang: str) -> str:
    """A lever's value for a reader: money in the brief's units (1.5 亿元, CNY 150 m), a
    rate a year as a percentage (0.5%, as the design brief writes it), anything else as
    written."""
    unit = str(ds[lever].attrs.get("units", ""))
    if unit.startswith("CNY"):
        return money(float(value), lang)
    if unit == "1/year":
        return rate(value)
    return lever_value(value)


def png(fig: Figure) -> bytes:
    """A figure as PNG bytes (as the brief embeds them)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=130, bbox_inches="tight")
    return buffer.getvalue()


def brief_section(ds: xr.Dataset, lang: str):
    """The brief's sweep section for results with grid levers: (blocks, figures as
    ``{name: (PNG bytes, caption)}``, tables as ``{"sweep": DataFrame}``); nothing for
    results without levers."""
    levers = lever_dims(ds)
    if not levers:
        return [], {}, {}
    names = t(lang, "and").join
    figures = {n: (png(f), c) for n, (f, c) in sweep_figures(ds, lang).items()}
    front = frontier.frontier_table(ds)
    if not front.empty:
        fig, caption = frontier.frontier_figure(ds, front, lang)
        figures["sweep_frontier"] = (png(fig), caption)
    table = sweep_table(ds, lang)
    measures = sweep_measures(ds, lang)
    described = names([lever_label(ds, x, lang, units=True) for x in levers])
    blocks: list[tuple] = [
        ("h2", t(lang, "sweep_heading")),
        ("p", t(lang, "sweep_intro", levers=described)),
    ]
    blocks += [("figure", name) for name in figures if name != "sweep_frontier"]
    if measures.data_vars:
        dims = _design_dims(ds)
        ids = [str(m) for m in measures.measure.values]

        def cell(r: dict, m: str) -> str:
            return (
                f"{pct(r[f'{m} p'], lang)} ({pct(r[f'{m} low'], lang)}–{pct(r[f'{m} high'], lang)})"
            )

        header = [
            t(lang, "sweep_design") if d == "scenario" else lever_label(ds, d, lang) for d in dims
        ]
        header += [str(x) for x in measures.measure_label.values]
        rows = [
            [
                *[str(r[d]) if d == "scenario" else value_text(ds, d, r[d], lang) for d in dims],
                *[cell(r, m) for m in ids],
            ]
            for r in table.to_dict("records")
        ]
        blocks.append(("table", header, rows, t(lang, "sweep_interval")))
    blocks += frontier.frontier_blocks(ds, front, lang)
    tables = {"sweep": table} | ({"sweep_frontier": front} if not front.empty else {})
    return blocks, figures, tables
