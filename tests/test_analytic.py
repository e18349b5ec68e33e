"""Closed forms the engine offers for checks and screening, against worked values."""

import numpy as np
import pytest
from scipy import stats

from guarantee_sim.engine.analytic import (
    basel_retail_correlation,
    basel_sme_correlation,
    vasicek_loss_cdf,
    vasicek_loss_quantile,
)


@pytest.mark.parametrize(
    "pd, sales, expected",
    [(0.02, 5.0, 0.124), (0.05, 5.0, 0.090), (0.02, 50.0, 0.164), (0.02, 1.0, 0.124)],
)
def test_basel_sme_correlation_worked_values(pd, sales, expected):
    # PARAMETERS.md: ~0.124 at PD 2% for the smallest firm, ~0.090 at PD 5%; sales are
    # bounded to [5, 50] EUR m, so 1 m counts as 5 m and 50 m removes the size adjustment
    assert basel_sme_correlation(pd, sales) == pytest.approx(expected, abs=5e-4)


def test_basel_retail_correlation_worked_value():
    # PARAMETERS.md: "~0.076 at PD 3%" (0.0755 to four places)
    assert basel_retail_correlation(0.03) == pytest.approx(0.0755, abs=5e-5)


def test_vasicek_quantile_and_cdf_are_inverse():
    q = np.array([0.01, 0.5, 0.99, 0.999])
    x = vasicek_loss_quantile(q, 0.02, 0.12, 0.45)
    np.testing.assert_allclose(vasicek_loss_cdf(x, 0.02, 0.12, 0.45), q, rtol=1e-10)


def test_vasicek_mean_is_pd_times_lgd():
    # E[loss fraction] = LGD * PD whatever the correlation
    u = (np.arange(200_000) + 0.5) / 200_000
    mean = vasicek_loss_quantile(u, 0.03, 0.15, 0.6).mean()
    assert mean == pytest.approx(0.03 * 0.6, rel=1e-3)


def test_vasicek_median_closed_form():
    # at q = 0.5 the factor is 0: L = LGD * Phi(Phi^-1(PD) / sqrt(1 - rho))
    expected = 0.45 * stats.norm.cdf(stats.norm.ppf(0.02) / np.sqrt(1 - 0.12))
    assert vasicek_loss_quantile(0.5, 0.02, 0.12, 0.45) == pytest.approx(expected, rel=1e-12)


def test_accessor_gives_the_metric_functions():
    import xarray as xr
    from conftest import make_scenario

    import guarantee_sim as gs
    from guarantee_sim import results

    ds = gs.simulate(make_scenario(), paths=30, seed=5)
    xr.testing.assert_identical(ds.gs.loss_summary(), results.loss_summary(ds))
    xr.testing.assert_identical(ds.gs.insolvency_probability(), results.insolvency_probability(ds))
    assert float(ds.gs.fiscal_cost_per_lending()) == float(results.fiscal_cost_per_lending(ds))
