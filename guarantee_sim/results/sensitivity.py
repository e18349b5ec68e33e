"""The contract of a sensitivity results file (``guarantee-sim sensitivity``).

A sensitivity study writes no paths: its Dataset holds, per output and parameter, the
indices of the method it ran (Sobol or Morris, :data:`INDICES`), and the design it ran
(each point's parameter quantiles and outputs). The attr ``results_kind`` says which kind
of results file it is, so a reader (the brief, ``open_results``) knows it from a run's.
"""

from __future__ import annotations

from collections.abc import Mapping

import xarray as xr

#: the attr ``results_kind`` of a sensitivity study's results
KIND = "sensitivity"
#: the ``index`` coordinate of each method, and what each index is
INDICES = {
    "sobol": {
        "S1": "first-order Sobol index: the share of the output's variance due to the "
        "parameter alone",
        "S1_conf": "half-width of S1's bootstrap confidence interval",
        "ST": "total Sobol index: the share of the output's variance that involves the "
        "parameter (alone or with others)",
        "ST_conf": "half-width of ST's bootstrap confidence interval",
    },
    "morris": {
        "mu_star": "Morris mu*: mean absolute elementary effect (output units per unit of "
        "the parameter's quantile)",
        "mu_star_conf": "half-width of mu*'s bootstrap confidence interval",
        "sigma": "Morris sigma: standard deviation of the elementary effects (non-linearity "
        "or interaction)",
    },
}
#: the widest 95% half-width a Sobol total index may have for its output to count as
#: resolved: wider, and the indices cannot tell a parameter that drives the output from one
#: that hardly matters (an output that varies over the sample by a few paths' worth gives
#: indices of noise, even above their bound of 1: :func:`unresolved_outputs`)
RESOLVED_HALF_WIDTH = 0.3
#: variables every sensitivity results file has
REQUIRED = ("sensitivity_index", "point_quantile", "point_output")


def is_sensitivity(ds: xr.Dataset) -> bool:
    """Whether ``ds`` is a sensitivity study's results (not a run's)."""
    return ds.attrs.get("results_kind") == KIND


def with_target_labels(ds: xr.Dataset, labels: Mapping[str, str]) -> xr.Dataset:
    """``ds`` with the coordinate ``output_target_label``: for each output
    ``target_probability.<target>`` its target's label (the scenario's wording), '' for the
    other outputs; what a brief calls the target."""
    texts = [labels.get(str(o).partition(".")[2], "") for o in ds.output.values]
    return ds.assign_coords(
        output_target_label=("output", texts, {"long_name": "the target's label ('' for none)"})
    )


def check_sensitivity(ds: xr.Dataset) -> None:
    """Raise ValueError naming what is missing if ``ds`` is not a sensitivity results set."""
    missing = [v for v in REQUIRED if v not in ds.data_vars]
    missing += [c for c in ("output", "parameter", "index") if c not in ds.coords]
    if ds.attrs.get("method") not in INDICES:
        missing.append("the attr method (sobol or morris)")
    if missing:
        raise ValueError(
            "not a guarantee_sim sensitivity results file: it lacks " + ", ".join(missing)
        )


def unresolved_outputs(ds: xr.Dataset, half_width: float = RESOLVED_HALF_WIDTH) -> list[str]:
    """The outputs of a Sobol study whose total indices are not resolved: some parameter's
    ST has a 95% half-width wider than ``half_width``. Their indices are estimation noise
    at this N and these paths (e.g. a target probability that moves over the sample only
    by a few paths crossing the target), so a brief says so rather than rank them. A
    Morris screen's mu* is in the output's units and has no such scale: none.

    >>> import numpy as np
    >>> index = xr.DataArray(
    ...     [[[0.9, 0.2]], [[2.3, 1.9]]],
    ...     coords={"output": ["cost", "p"], "parameter": ["pd"], "index": ["ST", "ST_conf"]},
    ...     dims=("output", "parameter", "index"),
    ... )
    >>> unresolved_outputs(xr.Dataset({"sensitivity_index": index}, attrs={"method": "sobol"}))
    ['p']
    """
    if ds.attrs.get("method") != "sobol":
        return []
    conf = ds["sensitivity_index"].sel(index="ST_conf")
    widest = conf.max("parameter", skipna=True)
    return [str(o) for o in ds.output.values if float(widest.sel(output=o)) > half_width]
