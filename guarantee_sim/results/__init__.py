"""The results contract: Dataset assembly, metrics as pure functions, atomic NetCDF I/O."""

from . import accessor  # noqa: F401  (registers ds.gs)
from .dataset import VARIABLE_META, build_dataset
from .intervals import (
    MIN_CLUSTERS,
    cluster_labels,
    difference_interval,
    mean_interval,
    probability_interval,
    tail_interval,
    wilson_interval,
)
from .io import check_results, open_results, read_results, write_netcdf
from .metrics import (
    depleted_paths,
    depletion_probability,
    exceedance_curve,
    expected_shortfall,
    fiscal_cost_per_borrower,
    fiscal_cost_per_lending,
    insolvency_probability,
    insolvent_paths,
    loss_summary,
    segments_with_tags,
    tail_allocation,
    target_attainment,
    value_at_risk,
    yearly_summary,
)

__all__ = [
    "MIN_CLUSTERS",
    "VARIABLE_META",
    "build_dataset",
    "check_results",
    "cluster_labels",
    "depleted_paths",
    "depletion_probability",
    "difference_interval",
    "exceedance_curve",
    "expected_shortfall",
    "fiscal_cost_per_borrower",
    "fiscal_cost_per_lending",
    "insolvency_probability",
    "insolvent_paths",
    "loss_summary",
    "mean_interval",
    "open_results",
    "probability_interval",
    "read_results",
    "segments_with_tags",
    "tail_allocation",
    "tail_interval",
    "target_attainment",
    "value_at_risk",
    "wilson_interval",
    "write_netcdf",
    "yearly_summary",
]
