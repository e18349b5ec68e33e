"""The brief of a design search, in Chinese or English.

A design results file (:mod:`guarantee_sim.results.design`, written by ``guarantee-sim
design``) holds the designs a search evaluated, not paths: ``guarantee-sim brief`` on it
gives this brief instead of a run's. In order: the question (the objective, the levers with
their bounds, the constraints); the answer (the best design, its objective and constraint
probabilities re-estimated on a fresh seed against the search's intervals, which
constraints bind, whether it sits on a bound; "infeasible within the bounds" said plainly,
with the closest design); the frontier (:func:`~.design.design_figure` and the table of
the frontier's designs); how it was found. Every word comes from the catalogue.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..results.intervals import MIN_CLUSTERS
from .brief import PRELIMINARY_PATHS, PRELIMINARY_REPLICAS  # a search is "preliminary" as a run
from .design import constraint_words, design_figure, objective_words, target_name
from .labels import named, rate
from .numbers import money, pct
from .sweeps import png
from .text import t, written_in


def lever_text(ds: xr.Dataset, lever: str, value: float, lang: str) -> str:
    """A lever's value for a reader: money in 亿元/万元 (CNY bn/m), with "/year" for a
    yearly amount; a rate (units ``1`` or ``1/year``) as a percentage; else as written."""
    units = str(ds["lever_units"].sel(lever=lever).item())
    if units.split("/", maxsplit=1)[0] == "CNY":
        per_year = t(lang, "sweep_per_year") if units.endswith("/year") else ""
        return money(float(value), lang) + per_year
    if units.split("/", maxsplit=1)[0] == "1":
        return rate(value)
    return f"{float(value):g} {units}".strip()


def lever_name(ds: xr.Dataset, lever: str, lang: str) -> str:
    return str(ds[f"lever_label_{lang}"].sel(lever=lever).item()) or lever


def objective_text(ds: xr.Dataset, value: float, lang: str) -> str:
    """The objective's value: money for an amount, a percentage for a probability."""
    if np.isnan(value):
        return t(lang, "none")
    if ds["objective"].attrs.get("units") == "CNY":
        return money(value, lang)
    return pct(value, lang)


def _design_words(ds: xr.Dataset, evaluation: int, lang: str) -> str:
    """A design as its levers' values: "guarantee fee 0.75%, coverage 70%"."""
    values = ds["lever_value"].isel(evaluation=evaluation)
    return t(lang, "dbrief_sep").join(
        t(
            lang,
            "dbrief_lever_value",
            lever=lever_name(ds, str(x), lang),
            value=lever_text(ds, str(x), float(values.sel(lever=x)), lang),
        )
        for x in ds.lever.values
    )


def _span(est: float, low: float, high: float, fmt, lang: str) -> str:
    if np.isnan(est):
        return t(lang, "none")
    if np.isnan(low) or np.isnan(high):
        return fmt(est, lang)
    return t(lang, "dbrief_span", value=fmt(est, lang), low=fmt(low, lang), high=fmt(high, lang))


def _yes(flag, lang: str) -> str:
    return t(lang, "dbrief_yes" if bool(flag) else "dbrief_no")


def question_blocks(ds: xr.Dataset, lang: str) -> list[tuple]:
    """The objective, the levers with their bounds, the constraints."""
    objective = objective_words(ds, lang)
    constraints = [constraint_words(ds, c, lang) for c in ds.constraint.values]
    levers = []
    for x in ds.lever.values:
        at = ds.sel(lever=x)
        step = float(at.lever_step)
        levers.append(
            t(
                lang,
                "dbrief_lever_bounds",
                lever=lever_name(ds, str(x), lang),
                lower=lever_text(ds, str(x), float(at.lever_lower), lang),
                upper=lever_text(ds, str(x), float(at.lever_upper), lang),
                step=""
                if np.isnan(step)
                else t(lang, "dbrief_step", step=lever_text(ds, str(x), step, lang)),
            )
        )
    said = (
        t(
            lang,
            "dbrief_objective",
            objective=objective,
            constraints=t(lang, "and").join(constraints),
        )
        if constraints
        else t(lang, "dbrief_objective_free", objective=objective)
    )
    question = " ".join(str(ds.attrs.get("question", "")).split())
    asked = [("quote", question)] if question and written_in(question, lang) else []
    return [
        ("h2", t(lang, "h_question")),
        *asked,
        ("p", said),
        ("p", t(lang, "dbrief_levers")),
        ("ul", levers),
    ]


def answer_blocks(ds: xr.Dataset, lang: str) -> list[tuple]:
    """The best (or closest) design, its objective and constraints on both seeds, the
    binding constraints, the bounds it sits on."""
    best = int(ds.attrs["best_evaluation"])
    feasible = ds.attrs["status"] == "feasible"
    objective = objective_words(ds, lang)
    design = _design_words(ds, best, lang)
    blocks: list[tuple] = [("h2", t(lang, "dbrief_h_answer"))]
    if feasible:
        blocks.append(("p", t(lang, "dbrief_best", objective=objective, design=design)))
    else:
        violation = float(ds["violation"].isel(evaluation=best))
        blocks.append(
            ("p", t(lang, "dbrief_infeasible", design=design, violation=f"{violation * 100:.1f}"))
        )
    blocks.append(
        (
            "p",
            t(
                lang,
                "dbrief_objective_value",
                objective=objective,
                selection=objective_text(ds, float(ds["objective"].isel(evaluation=best)), lang),
                seed=ds.attrs.get("seed", "—"),
                fresh_seed=ds.attrs.get("fresh_seed", "—"),
                fresh=_span(
                    float(ds.objective_fresh),
                    float(ds.objective_fresh_low),
                    float(ds.objective_fresh_high),
                    lambda x, lang: objective_text(ds, x, lang),
                    lang,
                ),
            ),
        )
    )
    if ds.attrs["objective"] != "public_cost_pv" and "public_cost_pv" in ds:
        at = ds.isel(evaluation=best)
        blocks.append(
            (
                "p",
                t(
                    lang,
                    "dbrief_public_cost",
                    value=_span(
                        float(at.public_cost_pv),
                        float(at.get("public_cost_pv_low", np.nan)),
                        float(at.get("public_cost_pv_high", np.nan)),
                        money,
                        lang,
                    ),
                ),
            )
        )
    if ds.sizes["constraint"]:
        blocks += _constraint_blocks(ds, lang, feasible)
    for x in ds.lever.values:
        at = ds.sel(lever=x)
        if bool(at.best_at_bound):
            value = float(at.best_value)
            side = "lower" if np.isclose(value, float(at.lever_lower)) else "upper"
            blocks.append(
                (
                    "p",
                    t(
                        lang,
                        f"dbrief_at_{side}",
                        lever=lever_name(ds, str(x), lang),
                        value=lever_text(ds, str(x), value, lang),
                    ),
                )
            )
    return blocks


def _constraint_blocks(ds: xr.Dataset, lang: str, feasible: bool) -> list[tuple]:
    names = {str(c): constraint_words(ds, c, lang) for c in ds.constraint.values}
    rows = []
    for c in ds.constraint.values:
        v = ds.sel(constraint=c)
        rows.append(
            [
                names[str(c)],
                _span(
                    float(v.selection_estimate), float(v.selection_low),
                    float(v.selection_high), pct, lang,
                ),
                _span(float(v.fresh_estimate), float(v.fresh_low), float(v.fresh_high), pct, lang),
                _yes(v.fresh_inside_selection_interval, lang),
                _yes(v.constraint_met_fresh, lang),
                _yes(v.constraint_active, lang),
            ]
        )  # fmt: skip
    columns = ("constraint", "selection", "fresh", "inside", "met_fresh", "active")
    header = [t(lang, f"dbrief_col_{c}") for c in columns]
    blocks: list[tuple] = [
        ("table", header, rows, t(lang, "dbrief_constraints_caption", seed=ds.attrs.get("seed")))
    ]

    def where(flags) -> list[str]:
        return [names[str(c)] for c, f in zip(ds.constraint.values, flags, strict=True) if f]

    join = t(lang, "and").join
    active = where(ds.constraint_active.values)
    if active:
        blocks.append(("p", t(lang, "dbrief_active", names=join(active))))
    elif feasible:
        blocks.append(("p", t(lang, "dbrief_none_active")))
    outside = where(~ds.fresh_inside_selection_interval.values.astype(bool))
    if outside:
        blocks.append(("p", t(lang, "dbrief_outside", names=join(outside))))
    unmet = where(~ds.constraint_met_fresh.values.astype(bool))
    if feasible and unmet:
        blocks.append(("p", t(lang, "dbrief_unmet_fresh", names=join(unmet))))
    return blocks


def frontier_table(ds: xr.Dataset) -> pd.DataFrame:
    """The frontier's designs from the cheapest: each lever's value, the objective,
    P(frontier target) and its 95% interval, whether every constraint is met."""
    target = str(ds.attrs.get("frontier_target", ""))
    front = np.flatnonzero(ds["on_frontier"].values.astype(bool))
    rows = []
    for i in front:
        at = ds.isel(evaluation=int(i))
        row: dict[str, float | int | bool] = {"evaluation": int(i)}
        row.update({str(x): float(at.lever_value.sel(lever=x)) for x in ds.lever.values})
        row["objective"] = float(at.objective)
        for name in ("target_probability", "target_probability_low", "target_probability_high"):
            row[name] = float(at[name].sel(target=target)) if name in at else np.nan
        row["feasible"] = bool(at.feasible)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["evaluation", *map(str, ds.lever.values), "objective",
                                        "target_probability", "target_probability_low",
                                        "target_probability_high", "feasible"])  # fmt: skip
    return frame.sort_values(["objective", "evaluation"], kind="stable").reset_index(drop=True)


def frontier_blocks(ds: xr.Dataset, lang: str) -> list[tuple]:
    """The figure and the frontier's table (or why there is none)."""
    target = str(ds.attrs.get("frontier_target", ""))
    objective = objective_words(ds, lang)
    blocks: list[tuple] = [("h2", t(lang, "dbrief_h_frontier")), ("figure", "design")]
    if not target:
        blocks.append(("p", t(lang, "dbrief_no_frontier")))
        return blocks
    name = target_name(ds, target, lang)
    blocks.append(("p", t(lang, "dbrief_frontier_intro", objective=objective, target=name)))
    table = frontier_table(ds)
    if table.empty:
        blocks.append(("p", t(lang, "dbrief_frontier_empty")))
        return blocks
    best = int(ds.attrs["best_evaluation"])
    header = [lever_name(ds, str(x), lang) for x in ds.lever.values]
    header += [objective, t(lang, "dbrief_col_target", target=name), t(lang, "dbrief_col_all")]
    rows = []
    for r in table.to_dict("records"):
        cells = [lever_text(ds, str(x), r[str(x)], lang) for x in ds.lever.values]
        if r["evaluation"] == best:
            cells[0] = t(lang, "dbrief_chosen", design=cells[0])
        cells += [
            objective_text(ds, r["objective"], lang),
            _span(
                r["target_probability"], r["target_probability_low"],
                r["target_probability_high"], pct, lang,
            ),
            _yes(r["feasible"], lang),
        ]  # fmt: skip
        rows.append(cells)
    blocks.append(("table", header, rows, t(lang, "dbrief_frontier_caption")))
    return blocks


def preliminary_blocks(ds: xr.Dataset, lang: str) -> list[tuple]:
    """A banner when each design ran too few paths, or (institution processes) too few
    book replicas, for its estimates and intervals to be relied on."""
    paths = int(ds.attrs.get("n_paths", 0))
    processes = ds.attrs.get("lending_source") == "processes"
    replicas = int(ds.attrs.get("book_replicas", 1) or 1)
    if paths >= PRELIMINARY_PATHS and not (processes and replicas < PRELIMINARY_REPLICAS):
        return []
    return [
        (
            "quote",
            t(
                lang,
                "dbrief_preliminary",
                paths=paths,
                replicas=t(lang, "preliminary_replicas", replicas=replicas) if processes else "",
                min_paths=PRELIMINARY_PATHS,
                min_replicas=t(lang, "preliminary_min_replicas", minimum=PRELIMINARY_REPLICAS)
                if processes
                else "",
                clusters=MIN_CLUSTERS,
            ),
        )
    ]


def method_blocks(ds: xr.Dataset, lang: str, source: str) -> list[tuple]:
    processes = ds.attrs.get("lending_source") == "processes"
    books = (
        t(lang, "dbrief_books_processes", replicas=int(ds.attrs.get("book_replicas", 1)))
        if processes
        else t(lang, "dbrief_books_volumes")
    )
    rounds = int(ds["refinement_round"].max()) if "refinement_round" in ds else 0
    return [
        ("h2", t(lang, "dbrief_h_method")),
        (
            "p",
            t(
                lang,
                "dbrief_method",
                rounds=rounds,
                paths=int(ds.attrs.get("n_paths", 0)),
                seed=ds.attrs.get("seed", "—"),
                n=int(ds.attrs["n_evaluations"]),
                fresh_seed=ds.attrs.get("fresh_seed", "—"),
                books=books,
            ),
        ),
        (
            "p",
            t(
                lang,
                "dbrief_generated",
                source=source or t(lang, "source_memory"),
                cpu=ds.attrs.get("compute_cpu_seconds", "—"),
                version=ds.attrs.get("package_version", "—"),
                created=str(ds.attrs.get("created", "—")).replace("T", " "),
            ),
        ),
    ]


def title(ds: xr.Dataset, lang: str) -> str:
    label = named(
        str(ds.attrs.get("experiment", "")), str(ds.attrs.get("experiment_label") or ""), lang
    )
    return t(lang, "dbrief_title", label=label[:1].upper() + label[1:])


def evaluations_table(ds: xr.Dataset) -> pd.DataFrame:
    """Every design evaluated, one row each (the CSV of the brief): levers, round, each
    outcome, violation, feasible, on the frontier."""
    frame = pd.DataFrame({"evaluation": ds.evaluation.values})
    for x in ds.lever.values:
        frame[str(x)] = ds["lever_value"].sel(lever=x).values
    frame["round"] = ds["refinement_round"].values
    frame["objective"] = ds["objective"].values
    for name in ("public_cost_pv", "guarantor_loss_var99", "pool_depletion_probability",
                 "guarantor_insolvency_probability", "leverage_cap_probability"):  # fmt: skip
        if name in ds and ds[name].dims == ("evaluation",):
            frame[name] = ds[name].values
    if "target_probability" in ds and "target" in ds["target_probability"].dims:
        for target in ds.target.values:
            frame[f"target_probability.{target}"] = (
                ds["target_probability"].sel(target=target).values
            )
    for name in ("violation", "feasible", "on_frontier"):
        frame[name] = ds[name].values
    return frame


def constraints_table(ds: xr.Dataset) -> pd.DataFrame:
    """The best design's constraints, one row each (the CSV of the brief)."""
    names = ["constraint_bound", "selection_estimate", "selection_low", "selection_high",
             "fresh_estimate", "fresh_low", "fresh_high", "fresh_inside_selection_interval",
             "constraint_met_fresh", "constraint_violation", "constraint_active"]  # fmt: skip
    frame = pd.DataFrame({"constraint": [str(c) for c in ds.constraint.values]})
    for name in names:
        frame[name] = ds[name].values
    return frame


def build(ds: xr.Dataset, lang: str, source: str):
    """(title, blocks, figures ``{name: (PNG, caption)}``, tables, where the method starts)."""
    figure = design_figure(ds, lang=lang)
    figures = {"design": (png(figure), t(lang, "dbrief_fig_caption"))}
    blocks: list[tuple] = [("h1", title(ds, lang)), *preliminary_blocks(ds, lang)]
    blocks += question_blocks(ds, lang)
    blocks += answer_blocks(ds, lang)
    blocks += frontier_blocks(ds, lang)
    method_at = len(blocks)
    blocks += method_blocks(ds, lang, source)
    tables = {
        "design_evaluations": evaluations_table(ds),
        "design_constraints": constraints_table(ds),
    }
    if str(ds.attrs.get("frontier_target", "")):
        tables["design_frontier"] = frontier_table(ds)
    return blocks[0][1], blocks, figures, tables, method_at
