"""The brief of a sensitivity study: its indices figure and table, in Chinese or English.

A sensitivity results file (:mod:`guarantee_sim.results.sensitivity`, written by
``guarantee-sim sensitivity``) holds indices, not paths: ``guarantee-sim brief`` on it
gives this brief (:func:`sensitivity_brief`) instead of a run's: what was varied, a figure
with one panel per outcome (:func:`indices_figure`: Sobol total index as a bar with its
95% interval and the first-order index as a dot, or Morris mu* with its interval), the
table of the same numbers, and how they were made.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from ..results.sensitivity import RESOLVED_HALF_WIDTH, unresolved_outputs
from .fonts import font_families, resolve_lang
from .labels import named
from .numbers import money, pct
from .sweeps import png
from .text import t

#: most outcome panels the figure draws (the table has them all)
MAX_PANELS = 9
#: the keys' last parts that name a parameter kind the catalogue has words for
KINDS = {
    "pd.mean": "pd",
    "lgd": "lgd",
    "correlation": "correlation",
    "recovery.lag_months": "recovery_lag",
    "score_noise": "score_noise",
    "mandate_loss_rate": "mandate_loss_rate",
}


def parameter_label(ds: xr.Dataset, parameter: str, lang: str) -> str:
    """What a parameter is called: its label when the study gave one, else the words of
    its kind when all its keys are of one (PD level, LGD, ...), else its name."""
    label = str(ds[f"parameter_label_{lang}"].sel(parameter=parameter).values)
    if label != parameter:
        return label
    keys = json.loads(str(ds["parameter_keys"].sel(parameter=parameter).values))
    kinds = {next((k for s, k in KINDS.items() if key.endswith(s)), "") for key in keys}
    if len(kinds) == 1 and "" not in kinds:
        return t(lang, f"sens_param_{kinds.pop()}")
    return parameter


def output_label(ds: xr.Dataset, output: str, lang: str) -> str:
    """What an outcome is called; ``target_probability.<target>`` names its target as the
    other briefs do: its label in Chinese, its id in words in English."""
    name, _, target = output.partition(".")
    label = ""
    if "output_target_label" in ds.coords:  # studies written before it: the id in words
        label = str(ds["output_target_label"].sel(output=output).values)
    return t(lang, f"sens_out_{name}", target=named(target, label, lang))


def _main(ds: xr.Dataset) -> tuple[str, str]:
    """The main index and the second one the table shows in brackets."""
    return ("ST", "S1") if ds.attrs["method"] == "sobol" else ("mu_star", "sigma")


def _value(ds: xr.Dataset, output: str, x: float, lang: str) -> str:
    if np.isnan(x):
        return t(lang, "none")
    if ds.attrs["method"] == "sobol":
        return f"{x:.2f}"
    unit = str(ds["output_units"].sel(output=output).values)
    return money(x, lang) if unit.startswith("CNY") else pct(x, lang)


def varying_outputs(ds: xr.Dataset) -> list[str]:
    """The outputs with indices (those that vary over the sample)."""
    main, _ = _main(ds)
    values = ds["sensitivity_index"].sel(index=main)
    return [str(o) for o in ds.output.values if not values.sel(output=o).isnull().all()]


def indices_figure(ds: xr.Dataset, lang: str) -> tuple[Figure, str]:
    """One panel per outcome that varies: parameters ordered by the main index, each a bar
    with its 95% bootstrap interval (and the first-order Sobol index as a dot)."""
    fig_lang = resolve_lang(lang)
    shown = varying_outputs(ds)[:MAX_PANELS]
    main, _ = _main(ds)
    sobol = ds.attrs["method"] == "sobol"
    cols = min(3, max(1, len(shown)))
    rows = max(1, -(-len(shown) // cols))
    n_par = ds.sizes["parameter"]
    fig = Figure(
        figsize=(3.8 * cols + 0.6, (0.35 * n_par + 1.2) * rows + 0.8), layout="constrained"
    )
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, output in zip(axes.flat, shown, strict=False):
        index = ds["sensitivity_index"].sel(output=output)
        order = np.argsort(index.sel(index=main).fillna(-np.inf).values)  # largest on top
        names = [parameter_label(ds, str(p), fig_lang) for p in ds.parameter.values[order]]
        bars = index.sel(index=main).values[order]
        conf = index.sel(index=f"{main}_conf").values[order]
        y = np.arange(len(order))
        ax.barh(y, bars, xerr=conf, color="#4c72b0", alpha=0.8, capsize=2)
        if sobol:
            ax.plot(index.sel(index="S1").values[order], y, "o", color="#dd8452", ms=4)
            # small designs estimate indices beyond [0, 1]: shown as they are
            ends = np.concatenate([bars - conf, bars + conf])
            ax.set_xlim(min(0.0, float(np.nanmin(ends))), max(1.05, float(np.nanmax(ends))))
        ax.set_yticks(y, names, fontsize="small")
        ax.set_title(output_label(ds, output, fig_lang), fontsize="small")
        ax.grid(axis="x", alpha=0.3)
    for ax in axes.flat[len(shown) :]:
        ax.set_axis_off()
    fig.suptitle(t(fig_lang, f"sens_fig_title_{ds.attrs['method']}"))
    families = font_families()
    for text in fig.findobj(Text):
        text.set_fontfamily(families)
    return fig, t(lang, "sens_fig_caption")


def indices_table(ds: xr.Dataset) -> pd.DataFrame:
    """Every index, one row per output and parameter (the CSV of the brief)."""
    frame = ds["sensitivity_index"].to_dataframe().reset_index()
    return frame.pivot(index=["output", "parameter"], columns="index", values="sensitivity_index")[
        list(ds.index.values)
    ].reset_index()


def brief_blocks(ds: xr.Dataset, lang: str) -> list[tuple]:
    """The brief's blocks: title, what was varied and how, the figure, the table, how it
    was made (figures are named ``sensitivity``)."""
    main, second = _main(ds)
    method = str(ds.attrs["method"])
    params = [parameter_label(ds, str(p), lang) for p in ds.parameter.values]
    label = str(ds.attrs.get("study_label") or ds.attrs.get("study", ""))
    blocks: list[tuple] = [
        ("h1", t(lang, "sens_title", label=label)),
        (
            "p",
            t(
                lang,
                f"sens_intro_{method}",
                runs=int(ds.attrs["runs"]),
                paths=int(ds.attrs["n_paths"]),
                n=int(ds.attrs["n_base_samples"]),
                levels=int(ds.attrs.get("morris_levels", 4)),
                d=len(params),
                parameters=t(lang, "and").join(params),
                seed=ds.attrs.get("seed", "—"),
            ),
        ),
        ("figure", "sensitivity"),
    ]
    varying = varying_outputs(ds)
    unresolved = [o for o in unresolved_outputs(ds) if o in varying]
    index = ds["sensitivity_index"]

    def cell(output: str, parameter: str) -> str:
        x = index.sel(output=output, parameter=parameter)
        if np.isnan(float(x.sel(index=main))):
            return t(lang, "none")
        conf = _value(ds, output, float(x.sel(index=f"{main}_conf")), lang)
        other = _value(ds, output, float(x.sel(index=second)), lang)
        return t(
            lang, "sens_cell", value=_value(ds, output, float(x.sel(index=main)), lang),
            conf=conf, other=other,
        )  # fmt: skip

    header = [t(lang, "sens_output"), *params]

    def name(output: str) -> str:  # an unresolved output is marked where it is read
        label = output_label(ds, output, lang)
        return t(lang, "sens_unresolved_mark", name=label) if output in unresolved else label

    rows = [[name(o), *[cell(o, str(p)) for p in ds.parameter.values]] for o in varying]
    blocks.append(("table", header, rows, t(lang, f"sens_table_caption_{method}")))
    if unresolved:
        blocks.append(
            (
                "p",
                t(
                    lang,
                    "sens_unresolved",
                    names=t(lang, "and").join(output_label(ds, o, lang) for o in unresolved),
                    width=f"{RESOLVED_HALF_WIDTH:.1f}",
                ),
            )
        )
    constant = [output_label(ds, str(o), lang) for o in ds.output.values if str(o) not in varying]
    if constant:
        blocks.append(("p", t(lang, "sens_constant", names=t(lang, "and").join(constant))))
    return blocks


def generated_block(ds: xr.Dataset, lang: str, source: str) -> tuple:
    return (
        "p",
        t(
            lang,
            "sens_generated",
            source=source or t(lang, "source_memory"),
            seed=ds.attrs.get("seed", "—"),
            cpu=ds.attrs.get("cpu_seconds", "—"),
            version=ds.attrs.get("package_version", "—"),
            created=str(ds.attrs.get("created", "—")).replace("T", " "),
        ),
    )


def figures(ds: xr.Dataset, lang: str) -> dict[str, tuple[bytes, str]]:
    """The brief's figures as ``{name: (PNG bytes, caption)}`` (none when nothing varies)."""
    if not varying_outputs(ds):
        return {}
    fig, caption = indices_figure(ds, lang)
    return {"sensitivity": (png(fig), caption)}
