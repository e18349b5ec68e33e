"""A calibration's result (:func:`.calibration.calibrate`) as Rich tables for the CLI."""

from __future__ import annotations

import math

import xarray as xr
from rich.table import Table

__all__ = ["calibration_tables", "short_key"]


def _num(x: float) -> str:
    """Four significant digits, thousands separated; '—' for a number not available."""
    if not math.isfinite(x):
        return "—"
    if x != 0 and (abs(x) >= 1e7 or abs(x) < 1e-3):
        return f"{x:.4g}"
    return f"{x:,.4g}" if abs(x) < 1000 else f"{x:,.0f}"


def calibration_tables(ds: xr.Dataset) -> list[Table]:
    """The fitted parameters, the fit of each moment, and the fit statistics.

    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"estimate": ("parameter", [1.0]), "std_error": ("parameter", [0.1]),
    ...     "start": ("parameter", [2.0]), "lower": ("parameter", [0.0]),
    ...     "upper": ("parameter", [4.0]), "identified": ("parameter", [1]),
    ...     "observed": ("moment", [3.0]), "simulated": ("moment", [3.1]),
    ...     "standardised_residual": ("moment", [0.5]), "j_statistic": np.nan, "j_df": 0,
    ...     "j_pvalue": np.nan, "jacobian_rank": 1, "jacobian_condition": 1.0},
    ...     coords={"parameter": ["a.b"], "moment": ["m"], "moment_variable": ("moment", ["x"]),
    ...             "moment_selection": ("moment", ["all"]), "moment_source": ("moment", ["s"])})
    >>> [t.title for t in calibration_tables(ds)]
    ['Calibration: fitted parameters', 'Fit: observed and simulated moments']
    """
    params = Table(
        title="Calibration: fitted parameters",
        caption=_caption(ds),
    )
    for heading in ("parameter", "start", "estimate", "std. error", "SE / range", "bounds"):
        params.add_column(heading, justify="left" if heading == "parameter" else "right")
    keys = [str(k) for k in ds.parameter.values]
    for key in keys:
        row = ds.sel(parameter=key)
        span = float(row.upper - row.lower)
        se = float(row.std_error)
        estimate = float(row.estimate)
        notes = [] if int(row.identified) else ["not identified"]
        if min(estimate - float(row.lower), float(row.upper) - estimate) <= 0.01 * span:
            notes.append("at a bound")
        params.add_row(
            short_key(key, keys) + (f" ({', '.join(notes)})" if notes else ""),
            _num(float(row.start)),
            _num(float(row.estimate)),
            _num(se),
            f"{se / span:.1%}" if math.isfinite(se) else "—",
            f"{_num(float(row.lower))} – {_num(float(row.upper))}",
        )
    fit = Table(
        title="Fit: observed and simulated moments",
        caption="sources: the moment_source coordinate of the results file",
    )
    for heading in ("moment", "variable", "observed", "simulated", "std. residual"):
        right = heading in ("observed", "simulated", "std. residual")
        fit.add_column(heading, justify="right" if right else "left")
    for name in ds.moment.values:
        row = ds.sel(moment=name)
        fit.add_row(
            str(name),
            f"{row.moment_variable.item()} ({row.moment_selection.item()})",
            _num(float(row.observed)),
            _num(float(row.simulated)),
            f"{float(row.standardised_residual):+.2f}",
        )
    return [params, fit]


def short_key(key: str, keys: list[str]) -> str:
    """The shortest tail of a dotted key that no other key ends with.

    >>> short_key("processes.demand.a.rate", ["processes.demand.a.rate", "x.b.rate"])
    'a.rate'
    """
    parts = key.split(".")
    n = 1
    while n < len(parts) and any(k != key and k.endswith("." + ".".join(parts[-n:])) for k in keys):
        n += 1
    return ".".join(parts[-n:])


def _caption(ds: xr.Dataset) -> str:
    j, df = float(ds.j_statistic), int(ds.j_df)
    parts = [
        f"moment Jacobian rank {int(ds.jacobian_rank)} of {ds.sizes['parameter']}, "
        f"condition number {float(ds.jacobian_condition):.3g}"
    ]
    if math.isfinite(j):
        parts.append(f"J = {j:.3g} on {df} df (p = {float(ds.j_pvalue):.3g})")
    elif df == 0:
        parts.append("exactly identified: no J statistic")
    attrs = ds.attrs
    if "evaluations" in attrs:
        parts.append(
            f"{attrs['evaluations']} evaluations of {attrs['paths']} paths, seed "
            f"{attrs['seed']}, {attrs.get('wall_seconds', math.nan):.0f} s"
        )
    return "; ".join(parts)
