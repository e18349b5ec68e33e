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
