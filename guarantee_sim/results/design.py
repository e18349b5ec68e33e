"""The contract of a design search's results file (``guarantee-sim design``).

A design search writes no paths: its Dataset holds every design the search evaluated
(``evaluation``), the levers and their bounds (``lever``), the chance constraints
(``constraint``) and the answer (DESIGN §5, "Design search results"). The attr
``results_kind`` says which kind of results file it is, so a reader (the brief,
``open_results``) knows it from a run's.
"""

from __future__ import annotations

import xarray as xr

#: the attr ``results_kind`` of a design search's results
KIND = "design"
#: variables every design results file has
REQUIRED = (
    "lever_value",
    "objective",
    "feasible",
    "on_frontier",
    "best_value",
    "best_at_bound",
    "selection_estimate",
    "fresh_estimate",
    "constraint_active",
    "objective_fresh",
)
#: attrs every design results file has
REQUIRED_ATTRS = ("status", "objective", "best_evaluation", "n_evaluations", "method")


def is_design(ds: xr.Dataset) -> bool:
    """Whether ``ds`` is a design search's results (not a run's)."""
    return ds.attrs.get("results_kind") == KIND


def check_design(ds: xr.Dataset) -> None:
    """Raise ValueError naming what is missing if ``ds`` is not a design results set."""
    missing = [v for v in REQUIRED if v not in ds.data_vars]
    missing += [c for c in ("evaluation", "lever", "constraint") if c not in ds.coords]
    missing += [f"the attr {a}" for a in REQUIRED_ATTRS if a not in ds.attrs]
    if missing:
        raise ValueError("not a guarantee_sim design results file: it lacks " + ", ".join(missing))
