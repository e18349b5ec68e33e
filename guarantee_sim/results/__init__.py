"""The results contract: Dataset assembly, metrics as pure functions, atomic NetCDF I/O."""

from . import accessor  # noqa: F401  (registers ds.gs)
from .dataset import VARIABLE_META, build_dataset
from .io import check_results, open_results, read_results, write_netcdf
from .metrics import (
    breaker_probability,
    depletion_probability,
    exceedance_curve,
    expected_shortfall,
    fiscal_cost_per_borrower,
    fiscal_cost_per_lending,
    insolvency_probability,
    loss_summary,
    mean_interval,
    probability_interval,
    segments_with_tags,
    tail_allocation,
    target_attainment,
    value_at_risk,
    yearly_summary,
)

__all__ = [
    "VARIABLE_META",
    "breaker_probability",
    "build_dataset",
    "check_results",
    "depletion_probability",
    "exceedance_curve",
    "expected_shortfall",
    "fiscal_cost_per_borrower",
    "fiscal_cost_per_lending",
    "insolvency_probability",
    "loss_summary",
    "mean_interval",
    "open_results",
    "probability_interval",
    "read_results",
    "segments_with_tags",
    "tail_allocation",
    "target_attainment",
    "value_at_risk",
    "write_netcdf",
    "yearly_summary",
]
