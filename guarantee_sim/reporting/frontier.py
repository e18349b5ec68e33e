"""A sweep's frontier: each grid point's PV of public cost against P(each target).

Over a sweep (results with lever dimensions, :mod:`.sweeps`), every design (grid point,
and variant) has a mean present value of public cost and a probability of reaching each
target (:func:`~guarantee_sim.results.outcomes.design_outcomes`, with 95% intervals). For
each target, a design is on the frontier when no other design costs no more and reaches
the target at least as often, one of the two strictly (:func:`non_dominated`): those are
the designs worth choosing among for that target. :func:`frontier_table` gives every design
and target with the flag, :func:`frontier_figure` one panel per target (the frontier's
designs joined, the others grey), and :func:`frontier_blocks` the brief's words and a short
table of the frontier's designs.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, PercentFormatter

from ..results.levers import lever_dims
from ..results.outcomes import design_outcomes
from .fonts import font_families, resolve_lang
from .labels import named
from .numbers import money, money_unit, pct, tick
from .text import t

#: most targets the figure draws a panel for (the table has them all)
MAX_PANELS = 4


def non_dominated(cost, probability) -> np.ndarray:
    """Whether each design is on the frontier of cost (lower is better) against probability
    (higher is better): no other design is as cheap and as likely, one of them strictly.
    Of designs equal in both, the first is kept. NaN is never on it.

    >>> non_dominated([1.0, 2.0, 2.0, 3.0, 4.0], [0.3, 0.2, 0.5, 0.5, 0.9]).tolist()
    [True, False, True, False, True]
    """
    cost, probability = np.asarray(cost, float), np.asarray(probability, float)
    marked = np.zeros(cost.shape, dtype=bool)
    best = -np.inf
    valid = np.flatnonzero(~(np.isnan(cost) | np.isnan(probability)))
    # cheapest first, and of equal cost the likeliest first: a design is on the frontier
    # when it is likelier than every cheaper (or equally cheap, listed earlier) one
    for i in sorted(valid, key=lambda i: (cost[i], -probability[i], i)):
        if probability[i] > best:
            marked[i] = True
            best = probability[i]
    return marked


def _design_dims(ds: xr.Dataset) -> list[str]:
    return (["scenario"] if "scenario" in ds.dims else []) + lever_dims(ds)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def frontier_table(ds: xr.Dataset) -> pd.DataFrame:
    """One row per design and target: the design's coordinates (variant, levers), the
    target, the mean PV of public cost and P(target) with their 95% intervals, and
    ``non_dominated`` (on that target's frontier). Empty without targets or public cost."""
    dims = _design_dims(ds)
    if not dims or not ds.sizes.get("target") or "public_cost" not in ds:
        return pd.DataFrame()
    outcomes = design_outcomes(ds, intervals=True)
    rows = []
    for point in itertools.product(*(range(ds.sizes[d]) for d in dims)):
        at = dict(zip(dims, point, strict=True))
        here = outcomes.isel(at)
        design = {d: _plain(ds[d].values[i]) for d, i in at.items()}
        for target in ds.target.values:
            p = here.sel(target=target)
            rows.append(
                {
                    **design,
                    "target": str(target),
                    "public_cost_pv": float(here.public_cost_pv),
                    "public_cost_pv_low": float(here.public_cost_pv_low),
                    "public_cost_pv_high": float(here.public_cost_pv_high),
                    "probability": float(p.target_probability),
                    "probability_low": float(p.target_probability_low),
                    "probability_high": float(p.target_probability_high),
                }
            )
    frame = pd.DataFrame(rows)
    frame["non_dominated"] = False
    for _, rows_of in frame.groupby("target", sort=False):
        flags = non_dominated(rows_of["public_cost_pv"], rows_of["probability"])
        frame.loc[rows_of.index, "non_dominated"] = flags
    return frame


def target_name(ds: xr.Dataset, target: str, lang: str) -> str:
    """A target as the briefs name it: its label in Chinese, its id in words in English."""
    label = (
        str(ds["target_label"].sel(target=target).values.flat[0]) if "target_label" in ds else ""
    )
    return named(target, label.strip(), lang)


def design_name(ds: xr.Dataset, row: dict, lang: str) -> str:
    """A design of the sweep in words: its variant's label (or name), then each lever's
    label and value ("guarantee fee 0.5%, pool contribution 1.00 亿元")."""
    from .sweeps import lever_label, value_text  # here: sweeps imports this module

    words = []
    for d in _design_dims(ds):
        if d == "scenario":
            given = ds.coords.get(f"variant_label_{lang}")
            label = ""
            if given is not None and "scenario" in given.dims:
                label = str(given.sel(scenario=row[d]).values)
            words.append(label or str(row[d]))
        else:
            words.append(f"{lever_label(ds, d, lang)} {value_text(ds, d, row[d], lang)}")
    return t(lang, "frontier_sep").join(words)


def frontier_figure(ds: xr.Dataset, table: pd.DataFrame, lang: str) -> tuple[Figure, str]:
    """One panel per target (at most :data:`MAX_PANELS`): every design's PV of public cost
    against P(target); the frontier's designs in colour, joined, with their intervals."""
    fig_lang = resolve_lang(lang)
    targets = list(dict.fromkeys(table["target"]))
    shown = targets[:MAX_PANELS]
    unit = money_unit(table["public_cost_pv"].to_numpy(), fig_lang)
    fig = Figure(figsize=(4.4 * len(shown) + 0.6, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    for ax, target in zip(axes, shown, strict=True):
        rows = table[table["target"] == target]
        front = rows[rows["non_dominated"]].sort_values("public_cost_pv")
        other = rows[~rows["non_dominated"]]
        x = rows["public_cost_pv"] / unit.scale
        ax.scatter(
            other["public_cost_pv"] / unit.scale, other["probability"], color="grey",
            alpha=0.6, label=t(fig_lang, "frontier_dominated"),
        )  # fmt: skip
        ax.errorbar(
            front["public_cost_pv"] / unit.scale,
            front["probability"],
            yerr=[
                front["probability"] - front["probability_low"],
                front["probability_high"] - front["probability"],
            ],
            color="#d62728", marker="o", capsize=3, label=t(fig_lang, "frontier_front"),
        )  # fmt: skip
        ax.set_title(t(fig_lang, "frontier_panel", target=target_name(ds, target, fig_lang)))
        ax.set_xlabel(t(fig_lang, "frontier_cost_axis", unit=unit.name))
        ax.set_ylim(-0.02, 1.02)
        if len(x):
            pad = max(float(x.max() - x.min()) * 0.05, 1e-9)
            ax.set_xlim(float(x.min()) - pad, float(x.max()) + pad)
        ax.xaxis.set_major_formatter(FuncFormatter(tick))
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(t(fig_lang, "frontier_probability_axis"))
    axes[0].legend(fontsize="small")
    families = font_families()
    for text in fig.findobj(Text):
        text.set_fontfamily(families)
    caption = t(lang, "frontier_caption")
    if len(targets) > len(shown):
        caption += t(lang, "sweep_more", shown=len(shown), total=len(targets))
    return fig, caption


def frontier_blocks(ds: xr.Dataset, table: pd.DataFrame, lang: str) -> list[tuple]:
    """The brief's words on the frontier, its figure (``sweep_frontier``) and a short table
    of the frontier's designs per target, cheapest first."""
    if table.empty:
        return []
    unit = money_unit(table["public_cost_pv"].to_numpy(), lang)
    front = table[table["non_dominated"]]
    order = {target: k for k, target in enumerate(dict.fromkeys(table["target"]))}
    front = front.sort_values(
        ["target", "public_cost_pv"], key=lambda c: c.map(order) if c.name == "target" else c
    )
    rows = []
    for r in front.to_dict("records"):
        rows.append(
            [
                target_name(ds, r["target"], lang),
                design_name(ds, r, lang),
                t(
                    lang, "frontier_span", value=money(r["public_cost_pv"], lang, unit=unit),
                    low=money(r["public_cost_pv_low"], lang, unit=unit),
                    high=money(r["public_cost_pv_high"], lang, unit=unit),
                ),
                t(
                    lang, "frontier_span", value=pct(r["probability"], lang),
                    low=pct(r["probability_low"], lang), high=pct(r["probability_high"], lang),
                ),
            ]
        )  # fmt: skip
    header = [t(lang, f"frontier_col_{c}") for c in ("target", "design", "cost", "probability")]
    designs = len(table) // max(1, table["target"].nunique())
    return [
        ("p", t(lang, "frontier_intro", designs=designs)),
        ("figure", "sweep_frontier"),
        ("table", header, rows, t(lang, "frontier_table_caption")),
    ]
