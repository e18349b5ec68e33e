"""Systematic factors by year and the conditional default thresholds they imply.

One-factor-per-segment Vasicek/ASRF: a loan of segment s defaults in year y when
``sqrt(rho_s) * X_sy + sqrt(1 - rho_s) * eps < Phi^-1(pd)``, where ``X_sy`` is the segment's
combination of the scenario factors, shifted by the year's downturn. Factors follow an AR(1)
with innovations scaled by ``sqrt(1 - phi^2)``, so every year's factor stays N(0, 1) and
the PDs stay calibrated whatever the persistence.

Demand follows the same factor (issue 9): segment s's new lending in year y is scaled by
``D = exp(beta * x_sy - beta**2 / 2)``, where ``x_sy`` is the segment's factor (N(0, 1),
without the downturn shift, which is a stress on PDs only) and ``beta`` the scenario's
``macro.demand_elasticity``. So E[D] = 1 and a bad year (low ``x``, more defaults) has less
demand. The book is built at the ceiling ``D_hi`` (:func:`demand_ceiling`) and each path
keeps each loan with probability ``min(D, D_hi) / D_hi`` (``origination.thin_month``).
"""

from __future__ import annotations

import math

import numpy as np

from ..philox import jit, norm_cdf, normal_pair, philox4x32_10

# Counter word c3 ("purpose") values. Every draw of the model has its own purpose, so two
# different uses of randomness can never share a counter.
PURPOSE_FACTOR = 1
PURPOSE_DEFAULT = 2
PURPOSE_SPLIT = 3  # also 3 + 256 k for a record's later split blocks
PURPOSE_PARAMETER = 4  # the uncertain parameters' uniforms (``parameters.py``)
PURPOSE_REPLICA_PARAMETER = 5  # the lenders' decision parameters, per book replica
PURPOSE_DEMAND = 6  # a new record's thinning uniform: how many of its loans a path keeps

#: the demand ceiling D_hi is the multiplier at this factor value (standard deviations);
#: the mass above it, P(x > 3.5) = 2.3e-4, is clipped to D_hi (see :func:`demand_ceiling`)
DEMAND_CEILING_Z = 3.5

FACTOR_STREAM_ID = 0xFFFFFFFF  # record ids never take this value


@jit()
def draw_factors(seed, path, chol, persistence, n_years, out):
    """Correlated AR(1) factor values ``out[year, factor]`` for one path, unshifted (plain
    Monte Carlo): :func:`draw_shifted_factors` with a zero shift."""
    draw_shifted_factors(seed, path, chol, persistence, np.zeros((n_years, chol.shape[0])), out)


@jit()
def draw_shifted_factors(seed, path, chol, persistence, shift, out):
    """Correlated AR(1) factor values ``out[year, factor]`` for one path; returns the log of
    its likelihood ratio (importance sampling).

    The independent N(0, 1) shocks of year y are drawn from counter
    (FACTOR_STREAM_ID, pair, y, FACTOR), so they do not depend on how many records or
    segments the scenario has; ``shift[y, f]`` is added to shock f of year y before the
    Cholesky factor and the AR(1) recursion. Drawn from N(shift, 1) instead of N(0, 1), a
    path weighs ``w = prod phi(z) / phi(z - shift) = exp(sum(-shift * z + shift**2 / 2))``
    (z the shifted shocks) under the plain measure; a zero shift leaves the factors as
    they are and returns 0.
    """
    n_factors = chol.shape[0]
    innovation = np.empty(n_factors)
    independent = np.empty(n_factors)
    scale = math.sqrt(1.0 - persistence * persistence)
    log_weight = 0.0
    for y in range(out.shape[0]):
        for pair in range((n_factors + 1) // 2):
            w0, w1, w2, w3 = philox4x32_10(FACTOR_STREAM_ID, pair, y, PURPOSE_FACTOR, seed, path)
            z0, z1 = normal_pair(w0, w1, w2, w3)
            independent[2 * pair] = z0
            if 2 * pair + 1 < n_factors:
                independent[2 * pair + 1] = z1
        for j in range(n_factors):
            mu = shift[y, j]
            independent[j] += mu
            log_weight += mu * (0.5 * mu - independent[j])
        for i in range(n_factors):
            acc = 0.0
            for j in range(i + 1):
                acc += chol[i, j] * independent[j]
            innovation[i] = acc
        for i in range(n_factors):
            if y == 0:
                out[y, i] = innovation[i]
            else:
                out[y, i] = persistence * out[y - 1, i] + scale * innovation[i]
    return log_weight


def demand_ceiling(elasticity: float) -> float:
    """The demand level ``D_hi`` the book is built at: ``D`` at ``DEMAND_CEILING_Z``.

    1.0 exactly at elasticity 0. Paths whose ``D`` is above it keep every loan (D is
    clipped): the mean multiplier is then ``1 - (Q(z - beta) - D_hi * Q(z))`` with Q the
    normal upper tail, z = 3.5: 1 - 1.3e-5 at beta 0.1, 1 - 2.7e-4 at beta 0.25.
    """
    beta = float(elasticity)
    return math.exp(beta * DEMAND_CEILING_Z - 0.5 * beta * beta)


@jit()
def demand_keep(factors, loadings, elasticity, ceiling, keep):
    """``keep[y, s]``: the share of segment s's year-y new lending a path keeps.

    ``min(D, ceiling) / ceiling`` with ``D = exp(beta x - beta**2 / 2)``, ``x`` the
    segment's factor of the year (module docstring); 1.0 everywhere at elasticity 0.
    """
    n_seg = loadings.shape[0]
    for y in range(factors.shape[0]):
        for s in range(n_seg):
            x = 0.0
            for f in range(factors.shape[1]):
                x += loadings[s, f] * factors[y, f]
            d = math.exp(elasticity * x - 0.5 * elasticity * elasticity)
            keep[y, s] = min(d, ceiling) / ceiling


@jit()
def conditional_thresholds(
    factors, loadings, rho, pd_inverse, downturn_z, pd_multiplier, pd_scale, probability, threshold
):
    """Default probabilities and uint32 thresholds for every (segment, grade, year, months).

    ``probability[s, g, y, n-1]`` is the chance that a loan alive for n months of year y
    defaults in them, given the year's factors; ``threshold`` is the same as a 32-bit
    word bound, so the inner loop compares raw random words and never calls a CDF.
    ``pd_inverse[s, g]`` is ``Phi^-1(pd)``, NaN for unused grades. The conditional annual
    PD is multiplied by the year's ``pd_multiplier[y]`` and the path's PD level
    ``pd_scale[s]`` (an uncertain parameter; 1.0 leaves it exactly as it is).
    """
    n_seg, n_grade = pd_inverse.shape
    n_years = factors.shape[0]
    for s in range(n_seg):
        sqrt_rho = math.sqrt(rho[s])
        sqrt_idio = math.sqrt(1.0 - rho[s])
        for y in range(n_years):
            x = 0.0
            for f in range(factors.shape[1]):
                x += loadings[s, f] * factors[y, f]
            x -= downturn_z[y]
            for g in range(n_grade):
                if math.isnan(pd_inverse[s, g]):
                    for n in range(12):
                        probability[s, g, y, n] = 0.0
                        threshold[s, g, y, n] = 0
                    continue
                annual = norm_cdf((pd_inverse[s, g] - sqrt_rho * x) / sqrt_idio)
                annual = min(annual * pd_multiplier[y] * pd_scale[s], 0.999999)
                survival = 1.0 - annual
                for n in range(12):
                    q = 1.0 - survival ** ((n + 1) / 12.0)
                    probability[s, g, y, n] = q
                    threshold[s, g, y, n] = np.uint32(min(q * 4294967296.0, 4294967295.0))


@jit()
def year_factors(seed, first_path, chol, persistence, shift, out, log_weight):
    """``out[i, year, factor]``: the factors of path ``first_path + i``, the very values
    ``portfolio.start_path`` draws for it (the same call), for the results; ``log_weight[i]``
    the log of its likelihood ratio (0 when ``shift`` is zero: plain Monte Carlo)."""
    for i in range(out.shape[0]):
        log_weight[i] = draw_shifted_factors(seed, first_path + i, chol, persistence, shift, out[i])
