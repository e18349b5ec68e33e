"""What each design changes against the baseline, with paired 95% intervals.

The designs of a comparison share their random numbers, so path ``p`` of one design is
path ``p`` of the baseline under another policy: the difference of the two on each path
is the policy's effect on that path, and the interval of the mean of those differences
(:func:`~guarantee_sim.results.difference_interval`, clustered by book replica) is far
narrower than the two designs' own intervals would suggest. The baseline is the first
design of the comparison.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import xarray as xr

from ..results.cost import MissingResults, public_cost_pv
from ..results.intervals import difference_interval
from ..results.weights import weighted_mean
from .measures import variants

DIFFERENCE_COLUMNS = [
    "design",
    "baseline",
    "measure",
    "target",
    "label",
    "kind",
    "baseline_value",
    "design_value",
    "difference",
    "difference_ci_low",
    "difference_ci_high",
    "difference_ci_method",
    "difference_ci_approximate",
]


def headline_measures(v: xr.Dataset) -> list[tuple[str, str, str, xr.DataArray]]:
    """The per-path headline measures of one design: (measure, target, kind, values), kind
    ``money`` (CNY over the run) or ``probability`` (a 0/1 indicator per path, whose mean
    is the probability): the public cost (present value), the fiscal cost and the public
    loss over the run, and whether each target is reached."""
    out = []
    with contextlib.suppress(MissingResults):  # older results: the run totals still compare
        out.append(("public_cost_pv", "", "money", public_cost_pv(v)["public_cost"]))
    for name in ("fiscal_cost", "public_loss"):
        if name in v:
            out.append((name, "", "money", v[name].sum("year")))
    if v.sizes.get("target"):
        for target in v.target.values:
            reached = (v["target_attainment"].sel(target=target) >= 1.0).astype(float)
            out.append(("target_probability", str(target), "probability", reached))
    return out


def difference_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per design but the baseline and per headline measure: the baseline's and the design's
    mean, their difference (design - baseline) and its paired 95% interval. Empty for a
    single run."""
    if "scenario" not in ds.dims or ds.sizes["scenario"] < 2:
        return pd.DataFrame([], columns=DIFFERENCE_COLUMNS)
    (base_name, base), *others = variants(ds)
    base_measures = {(m, tgt): values for m, tgt, _, values in headline_measures(base)}
    rows = []
    for name, v in others:
        for measure, target, kind, values in headline_measures(v):
            reference = base_measures.get((measure, target))
            if reference is None:
                continue
            ci = difference_interval(values, reference)
            label = str(v["target_label"].sel(target=target).item()) if target else ""
            rows.append(
                {
                    "design": name,
                    "baseline": base_name,
                    "measure": measure,
                    "target": target,
                    "label": label,
                    "kind": kind,
                    "baseline_value": float(weighted_mean(reference)),
                    "design_value": float(weighted_mean(values)),
                    "difference": float(ci["mean"]),
                    "difference_ci_low": float(ci["low"]),
                    "difference_ci_high": float(ci["high"]),
                    "difference_ci_method": ci.attrs["method"],
                    "difference_ci_approximate": bool(ci.attrs["approximate"]),
                }
            )
    return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)


def identical(row) -> bool:
    """Whether the design and the baseline agree on every path (a zero-width interval at 0)."""
    return row["difference_ci_low"] == 0.0 and row["difference_ci_high"] == 0.0


def excludes_zero(row) -> bool:
    """Whether a difference's interval lies on one side of zero (the run can tell its sign)."""
    low, high = row["difference_ci_low"], row["difference_ci_high"]
    return bool(np.isfinite(low) and np.isfinite(high) and (low > 0 or high < 0))
