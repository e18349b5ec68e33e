"""The results contract: Dataset assembly, metrics as pure functions, atomic NetCDF I/O."""

from . import accessor  # noqa: F401  (registers ds.gs)
from .cost import (
    MissingResults,
    break_even_fee,
    discount_rate,
    present_value,
    public_cost_pv,
    ratio_of_means,
    years_to_exhaustion,
    zero_subsidy_fee,
)
from .dataset import VARIABLE_META, build_dataset
from .io import check_results, open_results, read_results, write_netcdf
from .metrics import (
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
    "MissingResults",
    "break_even_fee",
    "build_dataset",
    "check_results",
    "depletion_probability",
    "discount_rate",
    "exceedance_curve",
    "expected_shortfall",
    "fiscal_cost_per_borrower",
    "fiscal_cost_per_lending",
    "insolvency_probability",
    "loss_summary",
    "mean_interval",
    "open_results",
    "present_value",
    "probability_interval",
    "public_cost_pv",
    "ratio_of_means",
    "read_results",
    "segments_with_tags",
    "tail_allocation",
    "target_attainment",
    "value_at_risk",
    "write_netcdf",
    "yearly_summary",
    "years_to_exhaustion",
    "zero_subsidy_fee",
]
