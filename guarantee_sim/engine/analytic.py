"""Closed forms used by tests and for quick screening: Vasicek/ASRF and Basel correlations."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri


def basel_sme_correlation(pd: float, sales_eur_m: float = 5.0) -> float:
    """Basel II corporate asset correlation with the SME firm-size adjustment.

    ``rho = 0.12 w + 0.24 (1 - w) - 0.04 (1 - (S - 5) / 45)``, ``w = (1 - e^(-50 PD)) /
    (1 - e^(-50))``, sales S in EUR m bounded to [5, 50].

    >>> round(basel_sme_correlation(0.02), 3)
    0.124
    """
    w = (1 - np.exp(-50 * pd)) / (1 - np.exp(-50))
    sales = min(max(sales_eur_m, 5.0), 50.0)
    return float(0.12 * w + 0.24 * (1 - w) - 0.04 * (1 - (sales - 5) / 45))


def basel_retail_correlation(pd: float) -> float:
    """Basel II 'other retail' correlation: 0.03 w + 0.16 (1 - w), w with k = 35.

    At PD 3%, w = 1 - exp(-1.05) = 0.650, so 0.03 * 0.650 + 0.16 * 0.350 = 0.0755:

    >>> round(basel_retail_correlation(0.03), 4)
    0.0755
    """
    w = (1 - np.exp(-35 * pd)) / (1 - np.exp(-35))
    return float(0.03 * w + 0.16 * (1 - w))


def vasicek_loss_quantile(q, pd: float, rho: float, lgd: float = 1.0):
    """Quantile of the loss fraction of an infinitely granular one-period portfolio.

    ``L(q) = LGD * Phi((Phi^-1(PD) + sqrt(rho) Phi^-1(q)) / sqrt(1 - rho))``

    >>> round(float(vasicek_loss_quantile(0.999, 0.02, 0.12, 0.45)), 4)
    0.0663
    """
    q = np.asarray(q, dtype=np.float64)
    z = (ndtri(pd) + np.sqrt(rho) * ndtri(q)) / np.sqrt(1 - rho)
    return lgd * ndtr(z)


def vasicek_loss_cdf(x, pd: float, rho: float, lgd: float = 1.0):
    """P(loss fraction <= x) in the same model."""
    x = np.asarray(x, dtype=np.float64) / lgd
    x = np.clip(x, 1e-300, 1 - 1e-16)
    return ndtr((np.sqrt(1 - rho) * ndtri(x) - ndtri(pd)) / np.sqrt(rho))
