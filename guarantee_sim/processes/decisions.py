"""The institutions' decision rules and the demand response, as plain functions.

* True PDs across applicants are logit-normal around the segment's mean PD.
* The bank sees the logit of the PD plus noise (data quality; credit-information sharing
  removes part of it) and lends when its expected loss on the share it keeps, plus its
  operating cost, is below its margin (loan rate - funding cost).
* A guarantor sees its own noisy score and approves when its expected loss on its own
  share is at most ``risk_appetite`` times the fee.
* Applications respond to the all-in price (loan rate + fee - subsidies) with a constant
  elasticity.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special

_HERMITE_X, _HERMITE_W = np.polynomial.hermite_e.hermegauss(64)
_HERMITE_W = _HERMITE_W / _HERMITE_W.sum()


def logit_location(mean_pd: float, dispersion: float) -> float:
    """Location mu so that E[expit(mu + dispersion Z)] = mean_pd for Z ~ N(0, 1)."""
    if dispersion == 0:
        return float(special.logit(mean_pd))

    def gap(mu):
        return float(_HERMITE_W @ special.expit(mu + dispersion * _HERMITE_X)) - mean_pd

    return float(optimize.brentq(gap, -40.0, 40.0, xtol=1e-14))


def true_pd(mean_pd: float, dispersion: float, z: np.ndarray) -> np.ndarray:
    """Applicants' true annual PDs from standard normals ``z``."""
    return special.expit(logit_location(mean_pd, dispersion) + dispersion * np.asarray(z))


def observed_pd(pd: np.ndarray, noise_sd: float, z: np.ndarray) -> np.ndarray:
    """The PD a lender's score suggests: noise on the logit scale."""
    return special.expit(special.logit(pd) + noise_sd * np.asarray(z))


def bank_approves(
    pd_seen,
    lgd: float,
    kept_share: float,
    loan_rate: float,
    funding_cost: float,
    operating_cost: float,
):
    """Lend when expected loss on the kept share + cost <= margin (all per year)."""
    return np.asarray(pd_seen) * lgd * kept_share + operating_cost <= loan_rate - funding_cost


def guarantor_approves(pd_seen, lgd: float, own_share: float, fee_rate, risk_appetite: float):
    """Guarantee when expected loss on the guarantor's own share <= appetite x fee."""
    return np.asarray(pd_seen) * lgd * own_share <= risk_appetite * np.asarray(fee_rate)


def application_rate(
    base_per_year: float,
    growth: float,
    year: int,
    seasonality,
    month_of_year: int,
    price: float,
    reference_price: float,
    elasticity: float,
) -> float:
    """Expected applications in one month."""
    season = 1.0
    if seasonality is not None:
        season = seasonality[month_of_year] / (sum(seasonality) / 12.0)
    response = (max(price, 1e-6) / reference_price) ** (-elasticity)
    return base_per_year / 12.0 * (1.0 + growth) ** year * season * response
