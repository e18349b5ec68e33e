"""Golden summaries of the shipped scenarios: compute, write, compare (Tax-Calculator style).

Each ``scenarios/<name>.yaml`` has ``tests/golden/<name>.json``: the scenario run at the
reduced scale of :data:`SCALE` (recorded in the file itself) and summarised by
:func:`summarise` with every number at full precision. ``tests/test_golden.py`` recomputes
each file and compares it exactly.

Regenerate (from the repository root; see ``tests/golden/README.md`` for when and how)::

    python tests/golden/regenerate.py                  # every scenario
    python tests/golden/regenerate.py hangzhou_2011_2015 county_guarantee_2021
    python tests/golden/regenerate.py --check          # compare only, write nothing

It prints the headline numbers before and after, for the CHANGELOG line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import xarray as xr

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
GOLDEN = Path(__file__).resolve().parent

PATHS = 64


def processes(record_weight: int) -> dict:
    """One simulated applicant per ``record_weight`` real ones, two book replicas (so the
    mapping path -> replica p mod R is exercised)."""
    return {"processes.record_weight": record_weight, "processes.replicas": 2}


#: reduced scale per scenario: paths and ``--set`` overrides (the scenario's own seed).
#: Record weights are the coarsest the scenarios' offices allow (a weight must divide every
#: office count: each simulated office keeps its full staff and arrival rate), which is
#: each scenario's shipped weight; Hangzhou 2021-2023 also spends its time grouping the
#: 150 bn initial book into cohorts, which no override here shortens.
SCALE = {
    "county_guarantee_2021": {"paths": PATHS, "overrides": {}},
    "guangdong_2012_after": {"paths": PATHS, "overrides": processes(10)},
    "guangdong_2012_before": {"paths": PATHS, "overrides": processes(10)},
    "hangzhou_2011_2015": {"paths": PATHS, "overrides": {}},
    "hangzhou_2018_2020": {"paths": PATHS, "overrides": processes(10)},
    "hangzhou_2021_2023": {"paths": PATHS, "overrides": processes(20)},
    "hangzhou_zhuanjingtexin_2025": {"paths": PATHS, "overrides": processes(10)},
}

SEGMENT_TOTALS = (
    "loans_count",
    "loans_amount",
    "borrowers",
    "defaults_count",
    "default_amount",
    "credit_loss",
    "unmet_demand_amount",
)
PARTY_TOTALS = ("payout", "recovery", "loss", "shortfall", "fee_income")
PROCESS_COUNTS = ("applications", "approvals", "rejections", "abandoned")
PROCESS_MEANS = ("decision_days_mean", "approved_pd_mean")


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS.glob("*.yaml"))


def golden_path(name: str) -> Path:
    return GOLDEN / f"{name}.json"


def run(name: str, scale: dict) -> xr.Dataset:
    """Simulate scenario ``name`` at ``scale`` (paths, overrides; the scenario's seed)."""
    from guarantee_sim import load_scenario, simulate

    scenario = load_scenario(SCENARIOS / f"{name}.yaml", overrides=dict(scale["overrides"]))
    return simulate(scenario, paths=scale["paths"], seed=scale.get("seed"))


def _number(x) -> float:
    return float(np.asarray(x))


def _by(da: xr.DataArray, dim: str) -> dict:
    """{label: float} along ``dim`` of a 1-d DataArray."""
    return {str(k): _number(da.sel({dim: k})) for k in da[dim].values}


def _by2(da: xr.DataArray, outer: str, inner: str) -> dict:
    return {str(k): _by(da.sel({outer: k}), inner) for k in da[outer].values}


def summarise(ds: xr.Dataset) -> dict:
    """The numbers a golden file pins, as nested dicts of floats (NaN and inf allowed)."""
    from guarantee_sim.results import (
        breaker_probability,
        depletion_probability,
        fiscal_cost_per_borrower,
        fiscal_cost_per_lending,
        insolvency_probability,
        loss_summary,
        segments_with_tags,
        yearly_summary,
    )

    out: dict = {}
    run_loss = loss_summary(ds)
    out["loss_summary"] = {stat: _by(run_loss[stat], "party") for stat in run_loss.data_vars}
    year_loss = loss_summary(ds, per_year=True)
    out["loss_summary_per_year"] = {
        stat: _by2(year_loss[stat].transpose("party", "year"), "party", "year")
        for stat in year_loss.data_vars
    }
    yearly = yearly_summary(ds)
    out["yearly_summary"] = {name: _by(yearly[name], "year") for name in yearly.data_vars}
    if "target" in ds.dims:
        attainment = ds["target_attainment"]
        out["targets"] = {
            str(t): {
                "attainment_mean": _number(attainment.sel(target=t).mean("path")),
                "attainment_min": _number(attainment.sel(target=t).min("path")),
                "attainment_max": _number(attainment.sel(target=t).max("path")),
                "probability": _number(ds["target_probability"].sel(target=t)),
            }
            for t in ds.target.values
        }
    fiscal = {
        "fiscal_cost_mean": _number(ds["fiscal_cost"].sum("year").mean("path")),
        "public_loss_mean": _number(ds["public_loss"].sum("year").mean("path")),
        "per_100m_lending": _number(fiscal_cost_per_lending(ds)),
    }
    if segments_with_tags(ds, ["first_time"]):
        fiscal["per_first_time_borrower"] = _number(fiscal_cost_per_borrower(ds))
    out["fiscal"] = fiscal
    out["probabilities"] = {
        "pool_depletion": _by(depletion_probability(ds), "party"),
        "pool_breaker": _by(breaker_probability(ds), "party"),
        "guarantor_insolvency": _by(insolvency_probability(ds), "party"),
    }
    run_total = ds.sum("year")
    out["segment_totals_mean"] = {
        name: _by(run_total[name].mean("path"), "segment") for name in SEGMENT_TOTALS
    }
    out["party_totals_mean"] = {
        name: _by(run_total[name].mean("path"), "party") for name in PARTY_TOTALS
    }
    out["final_capital_mean"] = _by(ds["capital"].isel(year=-1).mean("path"), "party")
    if "applications" in ds:
        process = {name: _by(ds[name].sum("year"), "segment") for name in PROCESS_COUNTS}
        for name in PROCESS_MEANS:
            process[name] = _by(ds[name].mean("year", skipna=True), "segment")
        process["staff_utilisation"] = _by(ds["staff_utilisation"].mean("year"), "party")
        out["process"] = process
    return out


def headline(summary: dict) -> dict:
    """The few numbers a CHANGELOG line quotes before and after a regeneration."""
    loss = summary["loss_summary"]
    line = {
        "mean loss, all parties": sum(v for v in loss["mean"].values() if math.isfinite(v)),
        "fiscal cost (mean)": summary["fiscal"]["fiscal_cost_mean"],
    }
    for party in ("guarantor", "bank"):
        if party in loss["mean"]:
            line[f"{party} mean loss"] = loss["mean"][party]
            line[f"{party} VaR 99.9"] = loss["var_99_9"][party]
    for t, v in summary.get("targets", {}).items():
        line[f"P({t})"] = v["probability"]
    return line


def compute(name: str, scale: dict | None = None) -> dict:
    """The golden document of scenario ``name``: its scale and its summary."""
    from guarantee_sim import load_scenario

    scale = dict(SCALE[name] if scale is None else scale)
    if scale.get("seed") is None:
        scale["seed"] = load_scenario(SCENARIOS / f"{name}.yaml").simulation.seed
    ds = run(name, scale)
    return {
        "scenario": f"scenarios/{name}.yaml",
        "generated_by": "python tests/golden/regenerate.py (see tests/golden/README.md)",
        "scale": scale,
        "summary": summarise(ds),
    }


def dumps(document: dict) -> str:
    """JSON with every float at full precision (``repr``: it reads back to the same bits)."""
    return json.dumps(document, indent=1, ensure_ascii=False, allow_nan=True) + "\n"


def load(name: str) -> dict:
    return json.loads(golden_path(name).read_text(encoding="utf-8"))


def flatten(tree, prefix: str = "") -> dict:
    """{"a.b.c": leaf} of a nested dict."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    out = {}
    for k, v in tree.items():
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def differences(expected: dict, actual: dict) -> list[str]:
    """One line per number that is not bit-identical (or present on one side only)."""
    e, a = flatten(expected), flatten(actual)
    lines = []
    for key in e.keys() | a.keys():
        if key not in a:
            lines.append(f"{key}: golden {e[key]!r}, now missing")
        elif key not in e:
            lines.append(f"{key}: not in golden, now {a[key]!r}")
        elif not _same(e[key], a[key]):
            x, y = e[key], a[key]
            rel = ""
            if isinstance(x, float) and isinstance(y, float) and x != 0 and math.isfinite(x):
                rel = f" (relative change {(y - x) / abs(x):+.3g})"
            lines.append(f"{key}: golden {x!r}, now {y!r}{rel}")
    order = {k: i for i, k in enumerate(list(e) + [k for k in a if k not in e])}
    return sorted(lines, key=lambda line: order[line.split(":")[0]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="scenario names (default: all)")
    parser.add_argument("--check", action="store_true", help="compare only; write nothing")
    args = parser.parse_args(argv)
    names = args.names or scenario_names()
    unknown = sorted(set(names) - set(SCALE))
    if unknown:
        parser.error(f"no reduced scale in SCALE for {unknown}: add one first")
    changed = 0
    for name in names:
        document = compute(name)
        path = golden_path(name)
        before = load(name) if path.is_file() else None
        diff = differences(before, document) if before is not None else ["(new file)"]
        if not diff:
            print(f"{name}: unchanged")
            continue
        changed += 1
        print(f"{name}: " + (f"{len(diff)} numbers differ" if before else "new golden file"))
        new = headline(document["summary"])
        old = headline(before["summary"]) if before is not None else {}
        for key, value in new.items():
            was = f"{old[key]:.6g}" if key in old else "(none)"
            print(f"    {key}: {was} -> {value:.6g}")
        if not args.check:
            path.write_text(dumps(document), encoding="utf-8")
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # the working tree's package, not an installed one
    sys.exit(main())
