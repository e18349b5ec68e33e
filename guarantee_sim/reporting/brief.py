"""The policy brief: Markdown, self-contained HTML, CSV tables and PNG figures.

:func:`build_brief` turns a results Dataset (a run, or a comparison with a ``scenario``
dim) into a :class:`Brief`: a list of blocks (headings, paragraphs, lists, tables,
figures) built once; :func:`brief_context` lays them out for the two templates
(``templates/brief.md`` and ``templates/brief.html``, :mod:`~guarantee_sim.reporting.render`),
which :func:`render_markdown` and :func:`render_html` fill. Every number in the text is
read from the tables of :mod:`guarantee_sim.reporting.tables`, which compute them from the
Dataset with the metric functions of :mod:`guarantee_sim.results.metrics`; every word
comes from the catalogue (:data:`guarantee_sim.reporting.text.TEXT`, the files
``catalogue/<lang>.yaml``). :func:`write_brief` writes it all atomically.

>>> import guarantee_sim as gs
>>> from guarantee_sim.reporting import build_brief, render_markdown
>>> ds = gs.simulate(gs.load_scenario("scenarios/county_guarantee_2021.yaml"), paths=20, seed=1)
>>> brief = build_brief(ds, "en")
>>> sorted(brief.figures)
['by_year', 'capital', 'exceedance', 'loss_by_party', 'targets']
>>> render_markdown(brief).splitlines()[0]
'# Policy brief: County guarantee 2021'
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..results.decomposition import CONSTANT
from ..results.design import is_design
from ..results.intervals import MIN_CLUSTERS, cluster_labels
from ..results.io import check_results, deferred_signals, temporary_beside
from ..results.levers import stack_levers
from ..results.sensitivity import is_sensitivity
from . import plots, sweeps
from .differences import difference_table, excludes_zero, identical
from .findings import (
    CAP_FROM,
    DRIVER_FROM,
    MAX_FINDINGS,
    RISK_FROM,
    Finding,
    main_driver,
    select_findings,
    strongest_parameter,
)
from .fonts import resolve_lang
from .labels import design_changes, design_names, labelled, named, whole_loss_split, words
from .measures import capital_holders, effective_sample_size, scenario_info, variants
from .methods import method_words
from .numbers import (
    MoneyUnit,
    count,
    fee,
    money,
    money_cell,
    money_unit,
    pct,
    points,
    ratio,
    signed_money,
    yuan,
)
from .render import render
from .tables import (
    MIN_TAIL_PATHS,
    NO_DECOMPOSITION,
    VARIANCE_SOURCES,
    all_tables,
    missing_cost_variables,
)
from .text import LIKELY_FROM, TEXT, check_lang, likelihood_words, t
from .text import written_in as _written_in

MARKDOWN = "brief.md"
HTML = "brief.html"
FIGURES = "figures"
TABLES = "tables"
#: one block of a brief, its kind first: ("h1" | "h2" | "p" | "quote", text), ("ul", items),
#: ("table", header, rows, caption) or ("figure", name)
Block = tuple[Any, ...]


@dataclass
class Brief:
    """A brief ready to render: title, blocks, figures (name -> PNG bytes, caption), tables."""

    lang: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    figures: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: where the method and metadata start in ``blocks`` (None: no such part)
    method_at: int | None = None
    #: the optional sweep section (lever values on the x axis), placed before the method;
    #: blocks as in ``blocks``, their figures in ``figures``
    sweep: list[Block] = field(default_factory=list)


# --------------------------------------------------------------------------- figures


#: money quantities of the brief and the table columns whose values choose each one's unit
#: (:func:`~.numbers.money_unit`): text, table columns and figure axes show a quantity in
#: that one unit
QUANTITIES = {
    "loss": (
        "losses",
        ["mean", "mean_ci_low", "mean_ci_high", "var_99", "var_99_9", "es_99", "tail_99"],
    ),
    "fiscal_cost": ("costs", ["fiscal_cost_mean"]),
    "public_loss": ("costs", ["public_loss_mean"]),
    "lending": ("costs", ["lending_mean"]),
    "unmet_demand": ("costs", ["unmet_demand_mean"]),
    "additional_lending": ("costs", ["additional_lending_mean"]),
    "public_cost": ("public_cost", ["public_cost_pv_ci_high", "fiscal_cost_pv_mean"]),
}


def quantity_units(tables: dict[str, pd.DataFrame], lang: str) -> dict[str, MoneyUnit]:
    """The unit of each money quantity (:data:`QUANTITIES`) the tables hold, over every
    design: the one the text, the table columns and the figure axes use."""
    out = {}
    for quantity, (name, columns) in QUANTITIES.items():
        table = tables.get(name)
        if table is not None and set(columns) <= set(table):
            out[quantity] = money_unit(table[columns].to_numpy(dtype=np.float64), lang)
    return out


def capital_unit(ds: xr.Dataset, lang: str) -> MoneyUnit:
    """The unit of guarantors' net assets and pools' balances (text and figure alike)."""
    values = [v["capital"].sel(party=capital_holders(v)).values for _, v in variants(ds)]
    return money_unit(values, lang)


def _png(ax) -> bytes:
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png", dpi=130, bbox_inches="tight")
    return buffer.getvalue()


def _designs_renamed(ds: xr.Dataset, names: dict[str, str]) -> xr.Dataset:
    """A comparison whose ``scenario`` labels (and counterfactual) are ``names``."""
    out = ds.assign_coords(scenario=[names.get(str(s), str(s)) for s in ds.scenario.values])
    out.attrs = dict(ds.attrs)
    cf = str(ds.attrs.get("counterfactual", "") or "")
    if cf:
        out.attrs["counterfactual"] = names.get(cf, cf)
    if "counterfactual_design" in out.coords:  # over a grid: each design's own
        renamed = [names.get(str(c), str(c)) for c in ds["counterfactual_design"].values]
        out = out.assign_coords(counterfactual_design=("scenario", renamed))
    return out


def brief_figures(ds: xr.Dataset, lang: str, units=None) -> dict[str, tuple[bytes, str]]:
    """The brief's figures as PNG bytes with their captions (in ``lang``); money axes in
    ``units`` (by quantity, :func:`quantity_units`: as the text and tables show them)."""
    fig_lang = resolve_lang(lang)  # warns once when zh has no CJK font
    # a figure drawn in English (no CJK font) names its units in English too
    units = quantity_units(all_tables(ds), fig_lang) if units is None or fig_lang != lang else units
    capital = capital_unit(ds, fig_lang)
    compare = "scenario" in ds.dims
    if compare:  # designs by the names the text gives them
        ds = _designs_renamed(ds, design_names(ds, fig_lang))
    first = variants(ds)[0][1]
    out = {}
    if compare:
        out["comparison"] = (
            _png(plots.scenario_comparison(ds, lang=fig_lang, units=units)),
            t(lang, "fig_caption_compare"),
        )
    out["loss_by_party"] = (
        _png(
            plots.loss_by_party(
                ds,
                plots.new_axes((9.0, 4.8) if compare else (8.0, 4.5)),
                lang=fig_lang,
                unit=units["loss"],
            )
        ),
        t(lang, "fig_caption_loss"),
    )
    parties = None
    if compare:
        public = first.party_public.values.astype(bool)
        parties = [
            p
            for p in plots._parties_with_loss(ds)
            if public[list(map(str, first.party.values)).index(p)]
        ]
    exceedance = (  # a comparison: one panel per party, one line per design
        plots.exceedance_panels(ds, lang=fig_lang, parties=parties, unit=units["loss"])
        if compare
        else plots.exceedance_curves(ds, lang=fig_lang, unit=units["loss"])
    )
    out["exceedance"] = (_png(exceedance), t(lang, "fig_caption_exceed"))
    if first.sizes.get("target"):
        out["targets"] = (
            _png(plots.target_probabilities(ds, lang=fig_lang)),
            t(lang, "fig_caption_targets"),
        )
    if capital_holders(first):
        out["capital"] = (
            _png(
                plots.capital_panels(ds, lang=fig_lang, unit=capital)
                if compare  # one panel per guarantor or pool, one line per design
                else plots.capital_paths(ds, lang=fig_lang, unit=capital)
            ),
            t(lang, "fig_caption_capital"),
        )
    if compare:  # designs share their defaults, so compare what they change: public loss
        out["by_year"] = (
            _png(plots.fan_panels(ds, "public_loss", lang=fig_lang)),  # a panel per design
            t(lang, "fig_caption_fan_public"),
        )
    else:
        out["by_year"] = (
            _png(plots.fan_chart(ds, "credit_loss", lang=fig_lang)),
            t(lang, "fig_caption_fan"),
        )
    return out


# --------------------------------------------------------------------------- text


def _who(row, lang: str) -> str:
    """A party in a sentence: its Chinese label (zh), else its id in words, with its kind
    unless the id already says it ("guarantor", "pool gov pool", "re-guarantor provincial")."""
    label, name, kind = str(row.get("label", "") or ""), str(row["party"]), str(row["kind"])
    if lang == "zh" and label:
        return label
    return (
        words(name)
        if name == kind
        else t(lang, "party_of_kind", kind=t(lang, "kind_" + kind), name=words(name))
    )


def _party_cell(row, lang: str) -> str:
    return named(str(row["party"]), str(row.get("label", "") or ""), lang)


def _target_name(row, lang: str) -> str:
    return named(str(row["target"]), str(row.get("label", "") or ""), lang)


def _year(x, lang: str) -> str:
    return str(int(x)) if np.isfinite(x) else t(lang, "none")


def _ci(low, high, fmt, lang: str) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return t(lang, "none")
    return f"{fmt(low, lang)} – {fmt(high, lang)}"


def _ci_name(approximate, lang: str) -> str:
    """'95% CI', or 'approximate 95% CI' below the minimum number of book replicas."""
    return t(lang, "ci_approx" if bool(approximate) else "ci")


def _approx(frame: pd.DataFrame, column: str, lang: str) -> str:
    """A column header's ' (approximate)' when any interval in ``column`` is approximate."""
    return t(lang, "approx_suffix") if column in frame and frame[column].any() else ""


#: below these a run's figures are "preliminary": fewer paths than a 99% tail needs (10
#: paths beyond it), or, for lending from the institution processes, fewer book replicas
#: than give the replica-to-replica spread three degrees of freedom
PRELIMINARY_PATHS = 1000
PRELIMINARY_REPLICAS = 4


def _preliminary_blocks(ds, lang: str, paths: int) -> list[Block]:
    """A visible banner when the run is too small for its figures to be relied on: too few
    paths (importance-sampled: too small an effective sample size) or book replicas."""
    processes = ds.attrs.get("lending_source") == "processes"
    replicas = int(ds.attrs.get("book_replicas", 1) or 1)
    weighted = effective_sample_size(ds)
    effective = min([ess for _, ess, _ in weighted], default=paths)
    if effective >= PRELIMINARY_PATHS and not (processes and replicas < PRELIMINARY_REPLICAS):
        return []
    text = t(
        lang,
        "preliminary",
        paths=paths,
        replicas=(t(lang, "preliminary_ess", ess=round(effective)) if weighted else "")
        + (t(lang, "preliminary_replicas", replicas=replicas) if processes else ""),
        min_paths=PRELIMINARY_PATHS,
        min_replicas=t(lang, "preliminary_min_replicas", minimum=PRELIMINARY_REPLICAS)
        if processes
        else "",
    )
    return [("quote", text)]


def _ess_words(weighted: list[tuple[str, float, int]], names: dict, lang: str) -> str:
    """The effective sample size of one run, or of each design of a comparison."""
    if len(weighted) == 1:
        return count(weighted[0][1], lang)
    return t(lang, "and").join(
        t(lang, "finding_design_part", design=names.get(design, design), text=count(ess, lang))
        for design, ess, _ in weighted
    )


def _importance_blocks(ds, lang: str, where: str) -> list[Block]:
    """What importance sampling means for the brief's numbers (``where``: "note" beside the
    findings, "method" in the method section); nothing for a plain run."""
    weighted = effective_sample_size(ds)
    if not weighted:
        return []
    ess = _ess_words(weighted, design_names(ds, lang), lang)
    section = t(lang, "h_uncertainty")
    return [("p", t(lang, f"importance_{where}", ess=ess, paths=weighted[0][2], section=section))]


def _uncertainty_blocks(ds, lang: str, paths) -> list[Block]:
    """What the intervals cover, and how they treat paths that share a book replica."""
    labels, kind = cluster_labels(variants(ds)[0][1]["fiscal_cost"])
    replicas = len(np.unique(labels))
    clusters = (
        t(lang, "uncertainty_one_book", paths=paths)
        if kind == "path"
        else t(
            lang,
            "uncertainty_clusters",
            replicas=replicas,
            df=replicas - 1,
            minimum=MIN_CLUSTERS,
        )
    )
    return [
        ("h2", t(lang, "h_uncertainty")),
        ("p", t(lang, "uncertainty", paths=paths, **_sources_of_variation(ds, lang))),
        *_importance_blocks(ds, lang, "method"),
        ("p", clusters),
    ]


#: the kind of a drawn parameter, by the end of its dotted key
_PARAMETER_KINDS = (
    (".pd.mean", "param_pd"),
    (".lgd", "param_lgd"),
    (".correlation", "param_correlation"),
    (".recovery.lag_months", "param_recovery"),
    (".score_noise", "param_noise"),
    (".mandate_loss_rate", "param_mandate"),
)


def _parameter_kind(key: str) -> str:
    return next((kind for end, kind in _PARAMETER_KINDS if key.endswith(end)), "param_other")


def _sources_of_variation(ds, lang: str) -> dict[str, str]:
    """What varies from path to path in these results, and what the scenario fixes."""
    sep = t(lang, "and")
    varies = [t(lang, "varies_cycle"), t(lang, "varies_defaults")]
    fixed = []
    ceiling = float(ds.attrs.get("demand_ceiling", 1.0) or 1.0)
    if ceiling > 1.0:  # built at a demand ceiling and thinned per path
        varies.append(t(lang, "varies_demand"))
    else:
        fixed.append(t(lang, "fixed_demand"))
    names = [str(p) for p in ds.coords["parameter"].values] if "parameter" in ds.coords else []
    per = (
        [str(x) for x in ds.coords["parameter_drawn_per"].values]
        if "parameter_drawn_per" in ds.coords
        else ["path"] * len(names)
    )
    for kind, key in (("path", "varies_drawn"), ("replica", "varies_replica")):
        keys = [n for n, p in zip(names, per, strict=True) if p == kind]
        if keys:  # said by kind (PD levels, LGDs, ...), not by dotted key
            kinds = dict.fromkeys(t(lang, _parameter_kind(k)) for k in keys)
            varies.append(t(lang, key, n=len(keys), keys=sep.join(kinds)))
    if not any(p == "path" for p in per):
        fixed.append(t(lang, "fixed_credit"))
    not_covered = t(lang, "not_covered", fixed=sep.join(fixed)) if fixed else ""
    return {"varies": sep.join(varies), "not_covered": not_covered}


def _per_design(rows: list[dict], part, compare: bool, lang: str) -> str:
    """A finding's numbers: one part for a run, '<design> <part>' per design in a comparison."""
    if not compare:
        return part(rows[0])
    parts = [part(r) for r in rows]
    if len(set(parts)) == 1:  # the designs do not move it: say so once
        return t(lang, "finding_all_designs", text=parts[0])
    return t(lang, "finding_sep").join(
        t(lang, "finding_design_part", design=r["design"], text=p)
        for r, p in zip(rows, parts, strict=True)
    )


def _finding_text(f: Finding, approx_cost: dict, compare: bool, lang: str, units) -> str:
    """One finding in a sentence, each number with its 95% interval (sums in ``units``)."""
    first = f.rows[0]
    if f.kind == "cost":
        unit = units.get("public_cost")
        return t(
            lang,
            "finding_cost",
            values=_per_design(
                f.rows,
                lambda r: t(
                    lang,
                    "finding_cost_part",
                    mean=money(r["public_cost_pv_mean"], lang, unit=unit),
                    low=money(r["public_cost_pv_ci_low"], lang, unit=unit),
                    high=money(r["public_cost_pv_ci_high"], lang, unit=unit),
                    ci=_ci_name(approx_cost.get(r["design"], False), lang),
                ),
                compare,
                lang,
            ),
        )
    if f.kind == "target":
        return t(
            lang,
            "finding_target",
            target=_target_name(first, lang),
            values=_per_design(
                f.rows,
                lambda r: t(
                    lang,
                    "finding_target_part",
                    p=pct(r["probability"], lang),
                    low=pct(r["probability_ci_low"], lang),
                    high=pct(r["probability_ci_high"], lang),
                    ci=_ci_name(r["probability_ci_approximate"], lang),
                    likelihood=likelihood_words(
                        r["probability"],
                        r["probability_ci_low"],
                        r["probability_ci_high"],
                        lang,
                    ),
                ),
                compare,
                lang,
            ),
        )
    cap = first.get("cap", np.nan)
    fmt = ratio if first["risk"] == "leverage_over_cap" else pct
    return t(
        lang,
        "finding_risk",
        party=_who(first, lang),
        risk=t(lang, f"risk_name_{first['risk']}"),
        cap=t(lang, "finding_cap", cap=fmt(cap, lang)) if np.isfinite(cap) else "",
        values=_per_design(
            f.rows,
            lambda r: t(
                lang,
                "finding_risk_part",
                p=pct(r["probability"], lang),
                low=pct(r["probability_ci_low"], lang),
                high=pct(r["probability_ci_high"], lang),
                ci=_ci_name(r["probability_ci_approximate"], lang),
            ),
            compare,
            lang,
        ),
    )


def _driver_items(ds, chosen: list[Finding], lang: str) -> list[str]:
    """What drives each target finding (first design): its largest variance source and,
    when drawn parameters explain a share of the spread, the parameter that moves with it."""
    items = []
    for f in chosen:
        if f.kind != "target":
            continue
        row = f.rows[0]
        driver = main_driver(row)
        if driver is None:
            continue
        source, share = driver
        text = t(
            lang,
            "driver_line",
            target=_target_name(row, lang),
            source=t(lang, f"source_{source}"),
            share=f"{share:.0%}",
        )
        if row.get("share_parameters", 0.0) >= DRIVER_FROM:
            strongest = strongest_parameter(ds, row.get("design_id", row["design"]), row["target"])
            if strongest is not None:
                text += t(
                    lang,
                    "driver_parameter",
                    parameter=t(lang, _parameter_kind(strongest[0])),
                    rho=f"{strongest[1]:+.2f}",
                )
        items.append(text)
    return items


def _findings_blocks(ds, tables, lang: str) -> list[Block]:
    """The brief's opening: findings chosen by :func:`~.findings.select_findings`, the rule
    in one sentence, then what drives them."""
    chosen = select_findings(tables)
    if not chosen:
        return []
    costs = tables["costs"]
    approx_cost = dict(zip(costs.design, costs.ci_approximate, strict=True))
    compare = "scenario" in ds.dims
    units = quantity_units(tables, lang)
    blocks: list[Block] = [
        ("h2", t(lang, "h_findings")),
        ("ul", [_finding_text(f, approx_cost, compare, lang, units) for f in chosen]),
        (
            "p",
            t(
                lang,
                "findings_rule",
                risk=f"{RISK_FROM:.0%}",
                cap=f"{CAP_FROM:.0%}",
                n=MAX_FINDINGS,
            ),
        ),
    ]
    drivers = _driver_items(ds, chosen, lang)
    if drivers:
        blocks += [("p", t(lang, "drivers_intro")), ("ul", drivers)]
    return blocks


def _value(x, metric: str, lang: str) -> str:
    return money(x, lang) if metric.endswith("_amount") else count(x, lang)


def _scenario_name(spec: dict, lang: str) -> str:
    """The base scenario as a reader knows it: its label (zh, when it has one), else its id
    in words."""
    return named(spec.get("name", ""), spec.get("label", ""), lang)


def _display(tables: dict[str, pd.DataFrame], names: dict[str, str]) -> dict[str, pd.DataFrame]:
    """The tables as the brief's text shows them: designs by the names a reader knows
    (``design_id`` keeps the id); the CSV files keep the ids."""
    out = {}
    for key, table in tables.items():
        shown = table
        if "design" in table:
            shown = shown.assign(design_id=table["design"], design=table["design"].map(names))
            for column in ("counterfactual", "baseline"):  # other designs' names
                if column in table and not pd.api.types.is_bool_dtype(table[column]):
                    shown = shown.assign(**{column: table[column].map(lambda x: names.get(x, x))})
        if "party" in table and "label" in table:  # a party a variant adds: its label
            labels = table["label"].fillna("").astype(str)
            known = dict(zip(table["party"][labels != ""], labels[labels != ""], strict=True))
            shown = shown.assign(
                label=[x or known.get(p, "") for p, x in zip(table["party"], labels, strict=True)]
            )
        out[key] = shown
    return out


def _design_blocks(ds, tables, lang) -> list[Block]:
    blocks: list[Block] = [("h2", t(lang, "h_designs"))]
    compare = "scenario" in ds.dims
    spec = scenario_info(ds)
    if compare:
        blocks.append(
            (
                "p",
                t(
                    lang,
                    "designs_compare",
                    n=ds.sizes["scenario"],
                    base=_scenario_name(spec, lang),
                ),
            )
        )
        changes = design_changes(ds, lang)
        rows = [
            [r.design, changes.get(r.design_id) or t(lang, "no_changes")]
            for r in tables["designs"].itertuples()
        ]
        blocks.append(("table", [t(lang, "col_design"), t(lang, "col_changes")], rows, ""))
        cf = str(ds.attrs.get("counterfactual", "") or "")
        if cf:
            name = design_names(ds, lang).get(cf, cf)
            blocks.append(("p", t(lang, "designs_counterfactual", name=name)))
    else:
        blocks.append(
            (
                "p",
                t(
                    lang,
                    "designs_single",
                    name="" if lang == "zh" and spec.get("label") else words(spec.get("name", "")),
                    label=spec.get("label", "") or spec.get("name", ""),
                ),
            )
        )
    schemes = tables["schemes"]
    if len(schemes):
        rows = [
            [
                named(r.scheme, r.label, lang),
                pct(r.coverage, lang),
                whole_loss_split(ds, r.scheme, lang),
                t(lang, "and").join(
                    labelled(ds, "segments", s, lang) for s in r.segments.split(", ") if s
                ),
            ]
            for r in schemes.itertuples()
        ]
        blocks.append(
            (
                "table",
                [
                    t(lang, "col_scheme"),
                    t(lang, "col_coverage"),
                    t(lang, "col_split"),
                    t(lang, "col_segments"),
                ],
                rows,
                "",
            )
        )
    return blocks


#: the money quantity (:data:`QUANTITIES`) of each measure of the differences table
_MEASURE_QUANTITY = {
    "public_cost_pv": "public_cost",
    "fiscal_cost": "fiscal_cost",
    "public_loss": "public_loss",
}


def _difference_value(x, kind: str, lang: str, unit: MoneyUnit | None) -> str:
    if kind == "probability":
        return pct(x, lang)
    return money(x, lang, unit=unit)


def _difference_blocks(tables, lang) -> list[Block]:
    """A comparison's (design - baseline) table for the headline measures, with paired 95%
    intervals (:func:`~.differences.difference_table`)."""
    diffs = tables.get("differences")
    if diffs is None or not len(diffs):
        return []
    units = quantity_units(tables, lang)
    rows = []
    for r in diffs.to_dict("records"):
        unit = units.get(_MEASURE_QUANTITY.get(r["measure"], ""))
        if r["kind"] == "probability":
            diff, low, high = (points(r[k], lang) for k in _DIFF)
        else:
            scale = max(abs(r["difference_ci_low"]), abs(r["difference_ci_high"]))
            diff = signed_money(r["difference"], lang)
            low, high = (signed_money(r[k], lang, like=scale) for k in _DIFF[1:])
        target = named(r["target"], r["label"], lang) if r["target"] else ""
        rows.append(
            [
                r["design"],
                t(lang, f"measure_{r['measure']}", target=target),
                _difference_value(r["baseline_value"], r["kind"], lang, unit),
                _difference_value(r["design_value"], r["kind"], lang, unit),
                diff,
                f"{low} – {high}",
                t(lang, "identical" if identical(r) else "yes" if excludes_zero(r) else "no"),
            ]
        )
    header = [
        t(lang, "col_design"),
        t(lang, "col_measure"),
        t(lang, "col_baseline_value"),
        t(lang, "col_design_value"),
        t(lang, "col_difference"),
        t(lang, "col_difference_ci") + _approx(diffs, "difference_ci_approximate", lang),
        t(lang, "col_sign_known"),
    ]
    return [
        ("h2", t(lang, "h_differences")),
        ("p", t(lang, "differences_intro", base=diffs["baseline"].iloc[0])),
        ("table", header, rows, ""),
    ]


_DIFF = ("difference", "difference_ci_low", "difference_ci_high")


def _key_blocks(ds, tables, lang) -> list[Block]:
    costs, losses = tables["costs"], tables["losses"]
    units = quantity_units(tables, lang)
    fiscal, public, loss = units["fiscal_cost"], units["public_loss"], units["loss"]
    blocks: list[Block] = [("h2", t(lang, "h_key"))]
    if "scenario" in ds.dims:
        blocks.append(("figure", "comparison"))
    items = []
    for r in costs.itertuples():
        fixed = r.fiscal_cost_ci_low == r.fiscal_cost_ci_high
        items.append(
            t(
                lang,
                "key_fiscal_fixed" if fixed else "key_fiscal",
                ci=_ci_name(r.ci_approximate, lang),
                design=r.design,
                mean=money(r.fiscal_cost_mean, lang, unit=fiscal),
                low=money(r.fiscal_cost_ci_low, lang, unit=fiscal),
                high=money(r.fiscal_cost_ci_high, lang, unit=fiscal),
                public=money(r.public_loss_mean, lang, unit=public),
                public_low=money(r.public_loss_ci_low, lang, unit=public),
                public_high=money(r.public_loss_ci_high, lang, unit=public),
                public_p05=money(r.public_loss_p05, lang, unit=public),
                public_p95=money(r.public_loss_p95, lang, unit=public),
                lending=money(r.lending_mean, lang, unit=units["lending"]),
            )
        )
    for _, r in losses[losses.kind == "guarantor"].iterrows():
        items.append(
            t(
                lang,
                "key_loss" if not math.isnan(r.var_99) else "key_loss_no_tail",
                ci=_ci_name(r.mean_ci_approximate, lang),
                design=r.design,
                party=_who(r, lang),
                mean=money(r["mean"], lang, unit=loss),
                low=money(r.mean_ci_low, lang, unit=loss),
                high=money(r.mean_ci_high, lang, unit=loss),
                var99=money(r.var_99, lang, unit=loss),
                es99=money(r.es_99, lang, unit=loss),
            )
        )
    blocks.append(("ul", items))
    unit = loss  # one unit for the table: its columns are the same quantity
    compare = "scenario" in ds.dims
    header = ([t(lang, "col_design")] if compare else []) + [
        t(lang, "col_party"),
        f"{t(lang, 'col_mean')} ({unit.name})",
        f"{t(lang, 'col_mean_ci')}{_approx(losses, 'mean_ci_approximate', lang)} ({unit.name})",
        f"{t(lang, 'col_var99')} ({unit.name})",
        f"{t(lang, 'col_var999')} ({unit.name})",
        f"{t(lang, 'col_es99')} ({unit.name})",
        f"{t(lang, 'col_tail')} ({unit.name})",
    ]

    def cell(x):
        return money_cell(x, unit, lang)

    rows = []
    for _, r in losses.iterrows():
        rows.append(
            ([r.design] if compare else [])
            + [
                _party_cell(r, lang),
                cell(r["mean"]),
                _ci(r.mean_ci_low, r.mean_ci_high, lambda x, _: cell(x), lang),
                cell(r.var_99),
                cell(r.var_99_9),
                cell(r.es_99),
                cell(r.tail_99),
            ]
        )
    blocks.append(("table", header, rows, t(lang, "loss_table_caption")))
    paths = ds.sizes["path"]
    blocks.append(
        (
            "p",
            t(
                lang,
                "loss_table_note",
                minimum=MIN_TAIL_PATHS,
                paths=paths,
                need_99=round(MIN_TAIL_PATHS / 0.01),
                need_999=round(MIN_TAIL_PATHS / 0.001),
            ),
        )
    )
    blocks += [("figure", "loss_by_party"), ("figure", "exceedance"), ("figure", "by_year")]
    return blocks


def _lower(row) -> float:
    """The lower end of a target probability's interval (the point without one)."""
    low = row.probability_ci_low
    return row.probability if math.isnan(low) else low


def _upper(row) -> float:
    """The upper end of a target probability's interval (the point without one)."""
    high = row.probability_ci_high
    return row.probability if math.isnan(high) else high


def _likelihood(row, lang: str) -> str:
    return likelihood_words(row.probability, row.probability_ci_low, row.probability_ci_high, lang)


def _target_blocks(ds, tables, lang) -> list[Block]:
    targets = tables["targets"]
    if not len(targets):
        return []
    blocks: list[Block] = [("h2", t(lang, "h_targets"))]
    summary = []
    for design, group in targets.groupby("design", sort=False):
        # by the interval, not the point: a target whose interval spans the threshold is
        # neither likely nor unlikely at this run's precision
        likely = [_target_name(r, lang) for _, r in group.iterrows() if _lower(r) >= LIKELY_FROM]
        unlikely = [_target_name(r, lang) for _, r in group.iterrows() if _upper(r) < LIKELY_FROM]
        undecided = [
            _target_name(r, lang)
            for _, r in group.iterrows()
            if _lower(r) < LIKELY_FROM <= _upper(r)
        ]
        sep = t(lang, "and")
        line = t(
            lang,
            "targets_summary",
            likely=t(
                lang,
                "targets_likely",
                p=round(LIKELY_FROM * 100),
                targets=sep.join(likely) or t(lang, "targets_none"),
            ),
            not_likely=t(
                lang, "targets_not_likely", targets=sep.join(unlikely) or t(lang, "targets_none")
            ),
            undecided=t(
                lang,
                "targets_undecided",
                p=round(LIKELY_FROM * 100),
                targets=sep.join(undecided),
            )
            if undecided
            else "",
        )
        summary.append(
            t(lang, "design_prefix", design=design, text=line) if "scenario" in ds.dims else line
        )
    blocks.append(("ul", summary))
    items = []
    for _, r in targets.iterrows():
        items.append(
            t(
                lang,
                "target_line",
                ci=_ci_name(r.probability_ci_approximate, lang),
                design=r.design,
                target=_target_name(r, lang),
                p=pct(r.probability, lang),
                low=pct(r.probability_ci_low, lang),
                high=pct(r.probability_ci_high, lang),
                likelihood=_likelihood(r, lang),
                attainment=pct(r.attainment_mean, lang),
                value=_value(r.value, r.metric, lang),
            )
        )
    blocks.append(("ul", items))
    compare = "scenario" in ds.dims
    header = ([t(lang, "col_design")] if compare else []) + [
        t(lang, "col_target"),
        t(lang, "col_target_value"),
        t(lang, "col_attainment"),
        t(lang, "col_attainment_range"),
        t(lang, "col_probability"),
        t(lang, "col_probability_ci") + _approx(targets, "probability_ci_approximate", lang),
        t(lang, "col_likelihood"),
    ]
    rows = []
    for _, r in targets.iterrows():
        rows.append(
            ([r.design] if compare else [])
            + [
                _target_name(r, lang),
                _value(r.value, r.metric, lang),
                pct(r.attainment_mean, lang),
                _ci(r.attainment_p05, r.attainment_p95, pct, lang),
                pct(r.probability, lang),
                _ci(r.probability_ci_low, r.probability_ci_high, pct, lang),
                _likelihood(r, lang),
            ]
        )
    blocks.append(("table", header, rows, ""))
    blocks += _spread_blocks(targets, lang)
    blocks.append(("figure", "targets"))
    return blocks


def _spread_blocks(targets: pd.DataFrame, lang: str) -> list[Block]:
    """What drives each target's spread (``attainment_variance_share``), in whole percents
    that add up to 100; nothing for results without the decomposition."""
    if (targets.variance_note == NO_DECOMPOSITION).all():
        return []
    items = []
    for _, r in targets.iterrows():
        where = {"design": r.design, "target": _target_name(r, lang)}
        shares = [r[f"share_{s}"] for s in VARIANCE_SOURCES]
        if np.isfinite(shares).all():
            cycle, parameters, replica, defaults = _whole_percents(shares)
            items.append(
                t(
                    lang,
                    "spread_line",
                    cycle=cycle,
                    parameters=parameters,
                    replica=replica,
                    defaults=defaults,
                    **where,
                )
            )
        elif r.variance_note == CONSTANT:
            items.append(t(lang, "spread_constant", **where))
        else:
            items.append(t(lang, "spread_unavailable", **where))
    return [("p", t(lang, "spread_intro")), ("ul", items)]


def _whole_percents(shares) -> list[str]:
    """Shares (summing to 1) as whole percents summing to 100: each rounded down, then the
    largest remainders (the first on a tie) rounded up."""
    scaled = np.clip(np.asarray(shares, dtype=np.float64), 0.0, None) * 100.0
    scaled *= 100.0 / scaled.sum()
    whole = np.floor(scaled).astype(int)
    for i in np.argsort(whole - scaled, kind="stable")[: 100 - int(whole.sum())]:
        whole[i] += 1
    return [f"{w}%" for w in whole]


#: the money columns of the cost table: each one's quantity (its unit) and header
_COST_MONEY = {
    "fiscal_cost_mean": ("fiscal_cost", "col_fiscal"),
    "public_loss_mean": ("public_loss", "col_public_loss"),
    "lending_mean": ("lending", "col_lending"),
}


def _cost_blocks(ds, tables, lang) -> list[Block]:
    costs = tables["costs"]
    units = quantity_units(tables, lang)
    blocks: list[Block] = [("h2", t(lang, "h_costs"))]
    items = []
    for _, r in costs.iterrows():
        if np.isfinite(r.fiscal_cost_per_first_time_borrower):
            items.append(
                t(
                    lang,
                    "cost_line",
                    design=r.design,
                    per_borrower=yuan(r.fiscal_cost_per_first_time_borrower, lang),
                    per_lending=yuan(r.fiscal_cost_per_100m_lending, lang),
                )
            )
        else:
            items.append(
                t(
                    lang,
                    "cost_line_no_first_time",
                    design=r.design,
                    per_lending=yuan(r.fiscal_cost_per_100m_lending, lang),
                )
            )
    has_additional = "additional_borrowers_mean" in costs
    if has_additional:
        for _, r in costs.iterrows():
            if r.design == r.counterfactual:
                continue
            if r.additional_borrowers_mean > 0:
                items.append(
                    t(
                        lang,
                        "additional_line",
                        ci=_ci_name(r.additional_borrowers_ci_approximate, lang),
                        design=r.design,
                        counterfactual=r.counterfactual,
                        additional=count(r.additional_borrowers_mean, lang),
                        low=count(r.additional_borrowers_ci_low, lang),
                        high=count(r.additional_borrowers_ci_high, lang),
                        lending=money(
                            r.additional_lending_mean, lang, unit=units.get("additional_lending")
                        ),
                        per_additional=yuan(r.fiscal_cost_per_additional_borrower, lang),
                        per_100m=yuan(r.extra_fiscal_cost_per_100m_additional_lending, lang),
                    )
                )
            else:
                items.append(
                    t(lang, "additional_none", design=r.design, counterfactual=r.counterfactual)
                )
    blocks.append(("ul", items))
    if not has_additional:
        blocks.append(
            (
                "p",
                t(
                    lang,
                    "no_counterfactual" if "scenario" in ds.dims else "no_counterfactual_single",
                ),
            )
        )
    header = [
        t(lang, "col_design"),
        *(f"{t(lang, key)} ({units[q].name})" for q, key in _COST_MONEY.values()),
        t(lang, "col_per_borrower"),
        t(lang, "col_per_100m"),
    ]
    if has_additional:
        header += [t(lang, "col_additional"), t(lang, "col_per_additional")]
    rows = []
    for _, r in costs.iterrows():
        row = [
            r.design,
            *(money_cell(getattr(r, c), units[q], lang) for c, (q, _) in _COST_MONEY.items()),
            count(r.fiscal_cost_per_first_time_borrower, lang),
            count(r.fiscal_cost_per_100m_lending, lang),
        ]
        if has_additional:
            row += [
                count(r.additional_borrowers_mean, lang),
                count(r.fiscal_cost_per_additional_borrower, lang),
            ]
        rows.append(row)
    blocks.append(("table", header, rows, ""))
    return blocks


def _first_years(r: dict, years, lang: str) -> str:
    """'2021 on 5.0% of paths, 2023 on 1.2% of paths' (years with any path), or 'in no year'."""
    items = [
        t(lang, "by_year_item", year=int(y), p=pct(r[f"share_{int(y)}"], lang))
        for y in years
        if r.get(f"share_{int(y)}", 0.0) > 0
    ]
    return t(lang, "and").join(items) if items else t(lang, "by_year_none")


def _median_year(x, lang: str) -> str:
    return t(lang, "never") if np.isinf(x) else _year(x, lang)


def _public_cost_blocks(ds, tables, lang) -> list[Block]:
    """Public cost against fiscal cost, subsidy rate, break-even and zero-subsidy fees, years
    to capital exhaustion; what older results lack is said, not guessed."""
    cost, fees, exhaustion = tables["public_cost"], tables["break_even"], tables["exhaustion"]
    blocks: list[Block] = [
        ("h2", t(lang, "h_public_cost")),
        ("p", t(lang, "public_cost_explain")),
        ("p", t(lang, "fiscal_cost_explain")),
    ]
    missing = missing_cost_variables(ds)
    if missing:
        blocks.append(("p", t(lang, "cost_missing", missing=", ".join(missing))))
    has_pv = "public_cost_pv_mean" in cost and cost["public_cost_pv_mean"].notna().any()
    if has_pv:
        rates = cost.dropna(subset=["discount_rate"])
        rate = fee(rates["discount_rate"].iloc[0], lang)
        if rates["discount_rate"].nunique() > 1:  # a comparison of discount rates
            rate = t(lang, "and").join(
                f"{fee(r.discount_rate, lang)} ({r.design})" for r in rates.itertuples()
            )
        blocks.append(("p", t(lang, "discount_explain", rate=rate, year=int(ds.year[0]))))
    labels = {
        str(p): named(str(p), str(label), lang)
        for p, label in zip(ds.party.values, ds.party_label.values, strict=True)
    }
    unit = quantity_units(tables, lang).get("public_cost", money_unit([], lang))
    items = _public_cost_items(cost, labels, lang, unit) if has_pv else []
    items += [_break_even_item(r, lang) for _, r in fees.iterrows()]
    items += [_exhaustion_item(r, ds.year.values, lang) for r in exhaustion.to_dict("records")]
    if items:
        blocks.append(("ul", items))
    if has_pv:
        blocks.append(_public_cost_table(cost, lang, unit))
    if len(fees):
        blocks.append(_break_even_table(fees, exhaustion, "scenario" in ds.dims, lang))
    return blocks


def _public_cost_items(cost: pd.DataFrame, labels: dict, lang: str, unit) -> list[str]:
    """Public cost, subsidy rate and zero-subsidy fee per design (``labels``: party names
    to write as their labels; sums in ``unit``, the public cost's)."""
    items = []
    for r in cost.to_dict("records"):
        if not np.isfinite(r.get("public_cost_pv_mean", np.nan)):
            continue
        subsidy = (
            t(
                lang,
                "subsidy_line",
                subsidy=_two(r["subsidy_rate"], lang),
                subsidy_low=_two(r["subsidy_rate_ci_low"], lang),
                subsidy_high=_two(r["subsidy_rate_ci_high"], lang),
            )
            if np.isfinite(r["subsidy_rate"])
            else t(lang, "subsidy_none")
        )
        items.append(
            t(
                lang,
                "public_cost_line",
                design=r["design"],
                public=money(r["public_cost_pv_mean"], lang, unit=unit),
                low=money(r["public_cost_pv_ci_low"], lang, unit=unit),
                high=money(r["public_cost_pv_ci_high"], lang, unit=unit),
                fiscal=money(r["fiscal_cost_pv_mean"], lang, unit=unit),
                operating=money(r["public_operating_cost_pv_mean"], lang, unit=unit),
            )
            + subsidy
        )
        reason = r.get("zero_subsidy_reason")  # absent or NaN: not computed (older results)
        if isinstance(reason, str) and reason:
            items.append(t(lang, f"zero_none_{reason}", design=r["design"]))
        elif isinstance(reason, str):  # computed: no reason to give
            items.append(
                t(
                    lang,
                    "zero_subsidy_line",
                    design=r["design"],
                    parties=t(lang, "and").join(
                        str(labels.get(p, p)) for p in str(r["public_guarantors"]).split(",")
                    ),
                    fee=fee(r["zero_subsidy_fee"], lang),
                    low=fee(r["zero_subsidy_fee_ci_low"], lang),
                    high=fee(r["zero_subsidy_fee_ci_high"], lang),
                    actual=fee(r["public_guarantor_fee"], lang),
                )
            )
    return items


def _break_even_item(r, lang: str) -> str:
    return t(
        lang,
        "break_even_line",
        design=r.design,
        party=_who(r, lang),
        charged=fee(r.fee_charged, lang),
        fee=fee(r.break_even, lang),
        low=fee(r.break_even_ci_low, lang),
        high=fee(r.break_even_ci_high, lang),
        p05=fee(r.break_even_p05, lang),
        p95=fee(r.break_even_p95, lang),
    )


def _exhaustion_item(r: dict, years, lang: str) -> str:
    key = "exhaustion" if r["event"] == "capital_exhausted" else "cap"
    who = _who({"party": r["party"], "label": r["label"], "kind": "guarantor"}, lang)
    if r["never"] == 1.0:
        return t(lang, f"{key}_never", design=r["design"], party=who)
    return t(
        lang,
        f"{key}_line",
        design=r["design"],
        party=who,
        by_year=_first_years(r, years, lang),
        never=pct(r["never"], lang),
    )


def _two(x, lang: str) -> str:
    return t(lang, "none") if not np.isfinite(x) else f"{float(x):,.2f}"


def _public_cost_table(cost: pd.DataFrame, lang: str, unit: MoneyUnit) -> Block:
    header = [
        t(lang, "col_design"),
        f"{t(lang, 'col_public_cost_pv')} ({unit.name})",
        f"{t(lang, 'col_mean_ci')} ({unit.name})",
        f"{t(lang, 'col_fiscal_cost_pv')} ({unit.name})",
        t(lang, "col_subsidy_rate"),
        t(lang, "col_zero_fee"),
    ]
    rows = [
        [
            r["design"],
            money_cell(r["public_cost_pv_mean"], unit, lang),
            _ci(
                r["public_cost_pv_ci_low"],
                r["public_cost_pv_ci_high"],
                lambda x, _: money_cell(x, unit, lang),
                lang,
            ),
            money_cell(r["fiscal_cost_pv_mean"], unit, lang),
            _two(r["subsidy_rate"], lang),
            fee(r.get("zero_subsidy_fee", np.nan), lang),
        ]
        for r in cost.to_dict("records")
    ]
    return ("table", header, rows, "")


def _break_even_table(fees: pd.DataFrame, exhaustion: pd.DataFrame, compare, lang) -> Block:
    medians = {
        (r["design"], r["party"], r["event"]): r["first_year_median"]
        for r in exhaustion.to_dict("records")
    }
    header = ([t(lang, "col_design")] if compare else []) + [
        t(lang, "col_party"),
        t(lang, "col_fee_charged"),
        t(lang, "col_break_even"),
        t(lang, "col_probability_ci"),
        t(lang, "col_break_even_range"),
        t(lang, "col_exhausted_median"),
        t(lang, "col_cap_median"),
    ]
    rows = []
    for _, r in fees.iterrows():
        exhausted = medians.get((r.design, r.party, "capital_exhausted"), np.nan)
        binding = medians.get((r.design, r.party, "leverage_cap_binding"), np.nan)
        rows.append(
            ([r.design] if compare else [])
            + [
                _party_cell(r, lang),
                fee(r.fee_charged, lang),
                fee(r.break_even, lang),
                _ci(r.break_even_ci_low, r.break_even_ci_high, fee, lang),
                _ci(r.break_even_p05, r.break_even_p95, fee, lang),
                _median_year(exhausted, lang),
                _median_year(binding, lang),
            ]
        )
    return ("table", header, rows, "")


def _risk_blocks(ds, tables, lang) -> list[Block]:
    risks, costs = tables["risks"], tables["costs"]
    blocks: list[Block] = [("h2", t(lang, "h_risks"))]
    items = []
    for _, r in risks.iterrows():
        common = {
            "design": r.design,
            "party": _who(r, lang),
            "p": pct(r.probability, lang),
            "low": pct(r.probability_ci_low, lang),
            "high": pct(r.probability_ci_high, lang),
            "ci": _ci_name(r.probability_ci_approximate, lang),
        }
        if r.risk in ("pool_depleted", "pool_breaker"):
            when = (
                t(lang, "risk_pool_when", year=int(r.first_year_median))
                if np.isfinite(r.first_year_median)
                else ""
            )
            items.append(t(lang, f"risk_{r.risk}", when=when, **common))
        elif r.risk == "insolvency":
            items.append(
                t(
                    lang,
                    "risk_insolvency",
                    capital_min=money(r.lowest_mean, lang, unit=capital_unit(ds, lang)),
                    **common,
                )
            )
        elif r.risk == "leverage_over_cap":
            items.append(
                t(
                    lang,
                    "risk_leverage",
                    peak=ratio(r.peak_mean, lang),
                    peak99=ratio(r.peak_p99, lang),
                    cap=ratio(r.cap, lang),
                    **common,
                )
            )
        elif r.risk == "compensation_over_cap":
            key = "risk_compensation" if np.isfinite(r.cap) else "risk_compensation_nocap"
            items.append(
                t(
                    lang,
                    key,
                    peak=pct(r.peak_mean, lang),
                    peak99=pct(r.peak_p99, lang),
                    cap=pct(r.cap, lang),
                    **common,
                )
            )
    for _, r in costs.iterrows():
        unmet = money(r.unmet_demand_mean, lang, unit=quantity_units(tables, lang)["unmet_demand"])
        items.append(t(lang, "risk_unmet", design=r.design, unmet=unmet))
    blocks.append(("ul", items))
    compare = "scenario" in ds.dims
    header = ([t(lang, "col_design")] if compare else []) + [
        t(lang, "col_party"),
        t(lang, "col_risk"),
        t(lang, "col_risk_probability"),
        t(lang, "col_probability_ci") + _approx(risks, "probability_ci_approximate", lang),
        t(lang, "col_first_year"),
        t(lang, "col_cap"),
        t(lang, "col_peak"),
        t(lang, "col_peak99"),
    ]
    rows = []
    for _, r in risks.iterrows():
        fmt = ratio if r.risk == "leverage_over_cap" else pct
        rows.append(
            ([r.design] if compare else [])
            + [
                _party_cell(r, lang),
                t(lang, f"risk_name_{r.risk}"),
                pct(r.probability, lang),
                _ci(r.probability_ci_low, r.probability_ci_high, pct, lang),
                _year(r.first_year_median, lang),
                fmt(r.cap, lang),
                fmt(r.peak_mean, lang),
                fmt(r.peak_p99, lang),
            ]
        )
    blocks.append(("table", header, rows, ""))
    blocks.append(("figure", "capital"))
    return blocks


def _catalogued(lang: str, prefix: str, value) -> str:
    """A setting's value in words from the catalogue (``prefix + value``), else as it is."""
    key = f"{prefix}{value}"
    return (
        t(lang, key) if key in TEXT[lang] else str(value if value is not None else t(lang, "none"))
    )


def _assumption_blocks(ds, lang) -> list[Block]:
    spec = scenario_info(ds)
    years = ds.year.values
    blocks: list[Block] = [("h2", t(lang, "h_assumptions"))]
    description = " ".join(str(spec.get("description") or "").split())
    name = _scenario_name(spec, lang)
    if description and _written_in(description, lang):
        blocks.append(("p", t(lang, "description", name=name)))
        blocks.append(("quote", description))
    elif description:  # in the other language only: say where it is
        blocks.append(("p", t(lang, "description_foreign", name=name)))
    blocks.append(
        (
            "p",
            t(
                lang,
                "assume_settings",
                first=int(years[0]),
                last=int(years[-1]),
                origination=spec["origination_years"] or "—",
                granularity=_catalogued(lang, "granularity_", ds.attrs.get("granularity")),
                lending_source=_catalogued(lang, "lending_", ds.attrs.get("lending_source")),
                replicas=ds.attrs.get("book_replicas", "—"),
            ),
        )
    )
    sources = spec["sources"]
    if sources:
        blocks.append(("p", t(lang, "sources")))
        blocks.append(("ul", [str(s) for s in sources]))
    else:
        blocks.append(("p", t(lang, "no_sources")))
    return blocks + _value_source_blocks(ds, lang)


def _value_source_blocks(ds, lang: str) -> list[Block]:
    """Sources and assumptions key by key (attr ``value_sources``: the file's tagged
    comments and its ``{value, source}`` entries), quoted as the file gives them."""
    given = json.loads(ds.attrs.get("value_sources", "") or "{}")
    if not given:
        return []
    rows = [[key, str(said)] for key, said in given.items()]
    header = [t(lang, "col_key"), t(lang, "col_source")]
    return [("p", t(lang, "value_sources")), ("table", header, rows, "")]


def _capitalised(label: str) -> str:
    """A title's name with a capital (an id in words: "hangzhou 2021–2023" -> "Hangzhou
    2021–2023"); Chinese is unchanged."""
    return label[:1].upper() + label[1:]


def build_brief(ds: xr.Dataset, lang: str = "zh", *, source: str = "") -> Brief:
    """The brief of ``ds`` in ``lang`` ("zh" or "en"), not yet written anywhere."""
    check_lang(lang)
    check_results(ds)
    if is_sensitivity(ds):  # a study's indices, not paths: a brief of its own
        return _sensitivity_brief(ds, lang, source)
    if is_design(ds):  # a design search's evaluations, not paths: likewise
        return _design_brief(ds, lang, source)
    # a grid's levers: their section, then one design per grid point for the rest
    sweep_blocks, sweep_figures, sweep_tables = sweeps.brief_section(ds, lang)
    ds = stack_levers(ds)
    tables = all_tables(ds)
    compare = "scenario" in ds.dims
    if compare:  # written as CSV too
        tables["differences"] = difference_table(ds)
    spec = scenario_info(ds)
    if compare:
        label = named(
            str(ds.attrs.get("experiment", "")), str(ds.attrs.get("experiment_label") or ""), lang
        )
        title = t(lang, "title_compare", label=_capitalised(label))
        question = " ".join(str(ds.attrs.get("question", "")).split())
        if question and not _written_in(question, lang):  # the file's question is English
            question = t(lang, "question_compare", label=label)
    else:
        label = named(
            str(ds.attrs.get("scenario", "")), str(ds.attrs.get("scenario_label") or ""), lang
        )
        title = t(lang, "title_single", label=_capitalised(label))
        question = ""
    if not question:
        question = t(
            lang, "question_single", label=spec.get("label", "") or spec.get("name", "") or label
        )
    raw, tables = tables, _display(tables, design_names(ds, lang))
    paths = ds.sizes["path"]
    # findings first; the question, the designs and the details next; method and
    # metadata (what the intervals cover, assumptions, provenance) at the end
    blocks: list[Block] = [
        ("h1", title),
        *_preliminary_blocks(ds, lang, paths),
        *_findings_blocks(ds, tables, lang),
        *_importance_blocks(ds, lang, "note"),
        ("h2", t(lang, "h_question")),
        ("p", question),
    ]
    blocks += _design_blocks(ds, tables, lang)
    blocks += _difference_blocks(tables, lang)
    blocks += _key_blocks(ds, tables, lang)
    blocks += _target_blocks(ds, tables, lang)
    blocks += _cost_blocks(ds, tables, lang)
    blocks += _public_cost_blocks(ds, tables, lang)
    blocks += _risk_blocks(ds, tables, lang)
    figures = {**brief_figures(ds, lang, quantity_units(raw, lang)), **sweep_figures}
    # a figure without data (no targets, no capital) is left out
    blocks = [b for b in blocks if b[0] != "figure" or b[1] in figures]
    method_at = len(blocks)  # a sweep section, when there is one, goes here
    blocks += _uncertainty_blocks(ds, lang, paths)
    blocks += _assumption_blocks(ds, lang)
    blocks += [
        (
            "p",
            t(
                lang,
                "generated" if "created" in ds.attrs else "generated_undated",
                source=source or t(lang, "source_memory"),
                paths=paths,
                seed=ds.attrs.get("seed", "—"),
                version=ds.attrs.get("package_version", "—"),
                created=str(ds.attrs.get("created", "—")).replace("T", " "),  # ISO, readable
            ),
        ),
        ("h2", t(lang, "h_tables")),
        ("p", t(lang, "tables_note", files=", ".join(f"{n}.csv" for n in tables))),
    ]
    return Brief(
        lang,
        title,
        blocks,
        figures,
        {**raw, **sweep_tables},
        method_at=method_at,
        sweep=[b for b in sweep_blocks if b[0] != "figure" or b[1] in figures],
    )


def _sensitivity_brief(ds: xr.Dataset, lang: str, source: str) -> Brief:
    """The brief of a sensitivity study (:mod:`.sensitivity`): its blocks, the indices
    figure and the table of every index as CSV."""
    from . import sensitivity

    figures = sensitivity.figures(ds, lang)
    blocks = [b for b in sensitivity.brief_blocks(ds, lang) if b[0] != "figure" or b[1] in figures]
    method_at = len(blocks)
    blocks.append(sensitivity.generated_block(ds, lang, source))
    tables = {"sensitivity": sensitivity.indices_table(ds)}
    return Brief(lang, str(blocks[0][1]), blocks, figures, tables, method_at=method_at)


def _design_brief(ds: xr.Dataset, lang: str, source: str) -> Brief:
    """The brief of a design search (:mod:`.design_brief`): the question, the answer, the
    frontier's figure and table, the method; every evaluated design as CSV."""
    from . import design_brief

    title, blocks, figures, tables, method_at = design_brief.build(ds, lang, source)
    return Brief(lang, title, blocks, figures, tables, method_at=method_at)


# --------------------------------------------------------------------------- rendering


def _block(block: Block, figures: dict[str, tuple[bytes, str]]) -> dict[str, Any]:
    """A block as the templates read it: ``kind`` and its fields by name."""
    kind = block[0]
    if kind == "ul":
        return {"kind": kind, "items": [str(i) for i in block[1]]}
    if kind == "table":
        _, header, rows, caption = block
        return {
            "kind": kind,
            "header": [str(h) for h in header],
            "rows": [[str(c) for c in row] for row in rows],
            "caption": caption,
        }
    if kind == "figure":
        png, caption = figures[block[1]]
        return {
            "kind": kind,
            "caption": caption,
            "file": f"{FIGURES}/{block[1]}.png",
            "png_base64": base64.b64encode(png).decode("ascii"),
        }
    return {"kind": kind, "text": str(block[1])}


def brief_context(brief: Brief) -> dict[str, Any]:
    """What both templates are fed: the brief's blocks by part (``body``, the optional
    ``sweep``, then ``method``: what the intervals cover, assumptions, provenance), its
    title and language. Built once per brief; the templates only lay it out."""
    at = len(brief.blocks) if brief.method_at is None else brief.method_at

    def blocks(part: list[Block]) -> list[dict[str, Any]]:
        return [_block(b, brief.figures) for b in part]

    return {
        "lang": brief.lang,
        "html_lang": HTML_LANG.get(brief.lang, brief.lang),
        "title": brief.title,
        "body": blocks(brief.blocks[:at]),
        "sweep": blocks(brief.sweep),
        "method": blocks(brief.blocks[at:]),
    }


#: more than one blank line (a block that rendered empty) in the Markdown
_BLANK_LINES = re.compile(r"\n{3,}")
#: the ``lang`` attribute of the HTML page, by the brief's language
HTML_LANG = {"zh": "zh-CN", "en": "en"}


def render_markdown(brief: Brief, context: dict[str, Any] | None = None) -> str:
    """Markdown (template ``templates/brief.md``), figures linked as
    ``figures/<name>.png``; no HTML, links or images come from the text (labels,
    descriptions and sources are the user's)."""
    text = render(MARKDOWN, context or brief_context(brief))
    return _BLANK_LINES.sub("\n\n", text).strip("\n") + "\n"


def render_html(brief: Brief, context: dict[str, Any] | None = None) -> str:
    """One self-contained HTML page (template ``templates/brief.html``, autoescaped),
    figures embedded as base64 PNG, with print rules for a browser's PDF."""
    return render(HTML, context or brief_context(brief)).strip("\n") + "\n"


# --------------------------------------------------------------------------- writing

#: first characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with every text cell a spreadsheet would run as a formula made text.

    A label such as ``=HYPERLINK(...)`` gets a leading ``'``, which makes a spreadsheet
    take the cell as text (OWASP's advice). Numbers are data: a number column is untouched,
    and so is a text cell that is a plain number such as ``-0.5``.

    >>> table = pd.DataFrame({"label": ["=1+1", "-0.5", "a"], "x": [-1.0, 2.0, 3.0]})
    >>> csv_safe(table).to_dict("list")
    {'label': ["'=1+1", '-0.5', 'a'], 'x': [-1.0, 2.0, 3.0]}
    """
    return table.apply(
        lambda column: column if pd.api.types.is_numeric_dtype(column) else column.map(_cell_safe)
    )


#: the endings of a column id that say which statistic of its quantity it holds, longest
#: first (``fiscal_cost_ci_low``: the fiscal cost's 95% CI, lower end)
CSV_SUFFIXES = (
    "ci_approximate",
    "ci_method",
    "ci_low",
    "ci_high",
    "mean",
    "median",
    "p05",
    "p25",
    "p75",
    "p95",
    "p99",
)
_SHARE_YEAR = re.compile(r"share_(\d{4})")


def csv_header(column: str, lang: str) -> str:
    """A CSV column's header in ``lang``: the catalogue's ``csv_<column>``, else its base and
    statistic composed (``csv_compose``), else the id. The English headers are the ids.

    >>> csv_header("fiscal_cost_ci_low", "zh"), csv_header("share_2023", "zh")
    ('财政支出（元）：95% 置信区间下限', '2023 年首次发生的路径占比')
    >>> csv_header("fiscal_cost_ci_low", "en")
    'fiscal_cost_ci_low'
    """
    words = TEXT[lang]
    if f"csv_{column}" in words:
        return words[f"csv_{column}"]
    year = _SHARE_YEAR.fullmatch(column)
    if year:
        return t(lang, "csv_share_year", year=year.group(1))
    for suffix in CSV_SUFFIXES:
        base = column.removesuffix(f"_{suffix}")
        if base != column and f"csv_{base}" in words:
            return t(
                lang, "csv_compose", base=words[f"csv_{base}"], suffix=words[f"csv_suffix_{suffix}"]
            )
    return column


def _cell_safe(cell):
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) and not _is_number(cell):
        return "'" + cell
    return cell


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _methods_in(table: pd.DataFrame, lang: str) -> pd.DataFrame:
    """``table`` with its intervals' methods (the ``*ci_method`` columns) in ``lang``."""
    columns = [c for c in table.columns if str(c).endswith("ci_method")]
    if not columns or lang == "en":
        return table
    table = table.copy()
    for column in columns:
        table[column] = table[column].map(lambda m: method_words(m, lang))
    return table


def _write_files(brief: Brief, folder: Path) -> list[Path]:
    """Write every file of the brief under ``folder``; their paths relative to it."""
    (folder / FIGURES).mkdir(parents=True, exist_ok=True)
    (folder / TABLES).mkdir(parents=True, exist_ok=True)
    written = []
    for name, (png, _) in brief.figures.items():
        rel = Path(FIGURES) / f"{name}.png"
        (folder / rel).write_bytes(png)
        written.append(rel)
    for name, table in brief.tables.items():
        rel = Path(TABLES) / f"{name}.csv"
        # with a BOM: Excel and WPS on a Chinese Windows PC read UTF-8 only when it has one;
        # headers in the brief's language
        headers = {c: csv_header(str(c), brief.lang) for c in table.columns}
        csv_safe(_methods_in(table, brief.lang)).rename(columns=headers).to_csv(
            folder / rel, index=False, encoding="utf-8-sig"
        )
        written.append(rel)
    context = brief_context(brief)  # once, for both formats
    (folder / MARKDOWN).write_text(render_markdown(brief, context), encoding="utf-8")
    (folder / HTML).write_text(render_html(brief, context), encoding="utf-8")
    return [*written, Path(MARKDOWN), Path(HTML)]


def write_brief(
    ds: xr.Dataset, out_dir: str | Path, lang: str = "zh", *, source: str | Path = ""
) -> dict[str, Path]:
    """Build the brief of ``ds`` and write it to the folder ``out_dir``, atomically.

    Writes ``brief.md``, ``brief.html`` (self-contained), ``figures/*.png`` and
    ``tables/*.csv``. Everything is written to a temporary folder beside ``out_dir``
    first; a new ``out_dir`` is then renamed into place, and an existing one receives
    each file by rename, so no reader ever sees a half-written file. Returns the written
    paths by name (``markdown``, ``html``, ``figures/<name>.png``, ``tables/<name>.csv``).
    """
    check_lang(lang)
    check_results(ds)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file; give a folder for the brief")
    brief = build_brief(ds, lang, source=Path(source).name if source else "")
    with temporary_beside(out, folder=True) as tmp, deferred_signals() as signals:
        written = _write_files(brief, tmp)
        signals.raise_pending()  # interrupted while writing: the folder as it was
        try:
            os.rename(tmp, out)  # a new (or empty) folder: one rename
        except OSError:
            for rel in written:
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp / rel, out / rel)
    names = {"markdown": out / MARKDOWN, "html": out / HTML}
    names.update(
        {rel.as_posix(): out / rel for rel in written if rel.parts[0] in (FIGURES, TABLES)}
    )
    return names
