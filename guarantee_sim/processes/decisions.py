"""The institutions' decision rules and the demand response, as plain functions.

Who is screened, and what each lender knows
-------------------------------------------
* True PDs across a segment's applicants are logit-normal: ``L = logit(PD) ~ N(mu, sigma^2)``
  with ``sigma = pd_dispersion`` and ``mu`` such that the mean PD is the segment's mean
  (:func:`logit_location`).
* A lender's score is ``x = L + tau e`` with ``e ~ N(0, 1)`` independent across lenders
  and applicants (the bank's ``tau = score_noise x (1 - credit_data_sharing)``, the
  guarantor's its own ``score_noise``). A score is reported as the PD it suggests,
  ``expit(x)`` (:func:`observed_pd`).
* Both lenders act on the **posterior mean PD** given their score, ``E[expit(L) | x]``, not
  on ``expit(x)``: a noisy score of a low-PD applicant is pulled up towards the prior and
  that of a high-PD one down, so better data separates applicants more, and never makes
  the bank approve worse ones (:func:`posterior_mean_pd`).

The bank's prior is the population of the segment the applicant applied in. The
guarantor's prior is the population that reaches it: applicants the bank has already
screened. The bank approves on terms ``t`` when its posterior PD is at most its break-even
PD ``p*_t`` (:func:`bank_break_even_pd`); its posterior increases with its score, so this is
``x <= c_t`` for a score threshold ``c_t`` (:func:`bank_score_threshold`). An applicant who
applied on credit terms ``A`` and was declined, then offered guaranteed terms ``G``
(``routes_to``) and approved, has ``c_A < x <= c_G``; one who applied for ``G`` directly
has ``x <= c_G``. The guarantor sees the route (it is told whether the bank declined a
credit loan first) but not the bank's score, so its prior of ``L`` is the applicants'
population weighted by the probability of the bank's decision::

    pi_G(L) ∝ phi((L - mu) / sigma) * w(L),
    w(L)   = P(lo < x <= hi | L) = Phi((hi - L) / tau_b) - Phi((lo - L) / tau_b)

with the window ``(lo, hi] = (c_A, c_G]`` (routed) or ``(-inf, c_G]`` (direct) and the
bank's noise ``tau_b`` (:class:`Window`). Routed applicants are mostly riskier than the
segment (adverse selection): ``w`` puts weight on ``L`` above ``c_A``.

The posterior mean given the guarantor's score ``y = L + tau_g e'``. The Gaussian prior
and likelihood combine into ``L | y ~ N(m, v)``, ``m = (mu tau_g^2 + y sigma^2) / (sigma^2 +
tau_g^2)``, ``v = sigma^2 tau_g^2 / (sigma^2 + tau_g^2)``; ``w(L)`` is the probability that
the bank's score ``X = L + tau_b e_b`` falls in the window, so

    E[expit(L) | y, bank's decision] = E[g(X) | X in (lo, hi]],   X ~ N(m, v + tau_b^2),
    g(x) = E[expit(L) | y, X = x],   L | y, x ~ N((m tau_b^2 + x v) / (v + tau_b^2),
                                                  v tau_b^2 / (v + tau_b^2)),

a truncated-normal expectation (composite Gauss-Legendre in ``x``, in log space so a
window far in the tail does not underflow) of a logistic-normal mean (Gauss-Hermite in
``L``). Without a window (the bank) it is the logistic-normal mean of ``N(m, v)``. With
``tau_b = 0`` the bank knew ``L`` and ``g = expit``. :class:`PosteriorTable` tabulates
``logit`` of the posterior over the score once per (prior, noise, window) and
interpolates it with a cubic spline; ``tests/test_decisions.py`` checks both against
``scipy.integrate.quad`` to 1e-6.

Existing borrowers: the repayment record
----------------------------------------
At a renewal the bank knows more than at the first loan: the firm repaid, it did not
default over the ``t`` years it was on the book. Its posterior is the first one times the
likelihood of that record, ``S(L) = (1 - expit(L))^t``: the kernels' survival of a loan of
annual PD ``p`` over ``n`` months is ``(1 - p)^(n / 12)`` (``kernels.factors``, at the
unconditional PD: the lender does not know the year's factor). So

    E[expit(L) | score, survived t] = E[expit(L) S(L) | score] / E[S(L) | score]

by the same Gauss-Hermite nodes (``survived_years`` of :func:`posterior_mean_pd`; with a
window, both moments go through the same truncated-normal quadrature). Survival weighs
against high PDs, so the posterior falls with every year survived. The PD the bank prices
at renewal is the firm's *current* one, ``renewal.seasoning`` times it (run._rules).

The rules
---------
* The bank lends when expected loss on the share it keeps, plus its operating cost, is at
  most its margin (loan rate - funding cost), all per year on the loan amount.
* The guarantor guarantees when the expected loss it keeps, per year and per CNY
  guaranteed, is at most what it earns and tolerates on that CNY:
  ``PD x LGD x kept <= fee + fee subsidy paid to it + mandate - cost``, where ``kept`` is
  its share of the guaranteed loss after re-guarantors and pools, ``mandate`` the expected
  loss its policy mandate tolerates (``processes.guarantor.mandate_loss_rate``) and
  ``cost`` its operating cost plus the re-guarantee fees it pays. Operating cost enters:
  a guarantee costs the guarantor staff time whether or not the loan defaults, and the
  kernels charge it (:func:`guarantor_approves`).
* Applications respond to the all-in price (loan rate + fee - subsidies) with a constant
  elasticity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import special

from .scipy_light import brentq, cubic_spline

_HERMITE_X, _HERMITE_W = np.polynomial.hermite_e.hermegauss(40)
_HERMITE_W = _HERMITE_W / _HERMITE_W.sum()
_LEGENDRE_X, _LEGENDRE_W = np.polynomial.legendre.leggauss(16)
PANELS = 8  # Gauss-Legendre panels over the truncated normal of the bank's score
REACH = 10.0  # standard deviations of the posterior that hold all its mass (1e-23 left)
TABLE_REACH = 8.0  # the table covers scores mu +- 8 (sigma + noise); the exact function beyond
TABLE_STEP = 0.1  # score step of a PosteriorTable, on the logit scale (at most)


@lru_cache(maxsize=256)
def logit_location(mean_pd: float, dispersion: float) -> float:
    """Location mu so that E[expit(mu + dispersion Z)] = mean_pd for Z ~ N(0, 1).

    Cached: every month's applicants of a segment need it (a root search each)."""
    if dispersion == 0:
        return float(special.logit(mean_pd))

    def gap(mu):
        return float(_HERMITE_W @ special.expit(mu + dispersion * _HERMITE_X)) - mean_pd

    return float(brentq(gap, -40.0, 40.0, xtol=1e-14))


def true_pd(mean_pd: float, dispersion: float, z: np.ndarray) -> np.ndarray:
    """Applicants' true annual PDs from standard normals ``z``."""
    return special.expit(logit_location(mean_pd, dispersion) + dispersion * np.asarray(z))


def observed_pd(pd: np.ndarray, noise_sd: float, z: np.ndarray) -> np.ndarray:
    """The PD a lender's score suggests, ``expit(score)``: noise on the logit scale."""
    return special.expit(special.logit(pd) + noise_sd * np.asarray(z))


@dataclass(frozen=True)
class Window:
    """What the bank decided about an applicant, as an interval of the bank's score.

    The bank's score ``X = L + noise e`` was in ``(lo, hi]``: declined on terms whose
    threshold is ``lo`` (``-inf``: not declined), approved on terms whose threshold is
    ``hi`` (``+inf``: not screened).
    """

    lo: float
    hi: float
    noise: float


def _logistic_normal_mean(mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """E[expit(N(mean, var))], elementwise, by Gauss-Hermite quadrature."""
    sd = np.sqrt(var)[..., None]
    return special.expit(mean[..., None] + sd * _HERMITE_X) @ _HERMITE_W


def _survival_moments(mean: np.ndarray, var: np.ndarray, years: float):
    """``(E[expit(L) S(L)], E[S(L)])`` for ``L ~ N(mean, var)``, elementwise, with
    ``S(L) = (1 - expit(L))^years`` the chance of no default in ``years`` (the same
    Gauss-Hermite nodes as :func:`_logistic_normal_mean`)."""
    logit = mean[..., None] + np.sqrt(var)[..., None] * _HERMITE_X
    survival = special.expit(-logit) ** years  # 1 - expit(L), without cancellation
    return (special.expit(logit) * survival) @ _HERMITE_W, survival @ _HERMITE_W


def _truncated_nodes(centre, sd, lo: float, hi: float):
    """Quadrature nodes and log-weights for ``N(centre, sd^2)`` restricted to ``(lo, hi]``.

    The nodes cover where the restricted density is within ``REACH^2 / 2`` nats of its
    highest value in the window, at the window's point ``p`` nearest the centre:
    ``|x - centre| <= sqrt((p - centre)^2 + (REACH sd)^2)``, clipped to the window (a window
    far in the tail holds its mass next to its near edge). Returns ``(x, log_w)`` of shape
    ``(n, K)``.
    """
    nearest = np.clip(centre, lo, hi)
    reach = np.sqrt((nearest - centre) ** 2 + (REACH * sd) ** 2)
    start = np.maximum(lo, centre - reach)
    stop = np.minimum(hi, centre + reach)
    edges = start[:, None] + (stop - start)[:, None] * np.linspace(0.0, 1.0, PANELS + 1)
    half = 0.5 * np.diff(edges, axis=1)  # (n, PANELS)
    mid = 0.5 * (edges[:, 1:] + edges[:, :-1])
    x = (mid[..., None] + half[..., None] * _LEGENDRE_X).reshape(len(centre), -1)
    weight = (half[..., None] * _LEGENDRE_W).reshape(len(centre), -1)
    log_w = np.log(weight) - 0.5 * ((x - centre[:, None]) / sd[:, None]) ** 2
    return x, log_w


def posterior_mean_pd(
    score,
    mu: float,
    sigma: float,
    noise: float,
    window: Window | None = None,
    survived_years: float = 0.0,
) -> np.ndarray:
    """E[PD | score] for a lender whose score is ``logit(PD) + noise e``.

    ``logit(PD) ~ N(mu, sigma^2)`` before the bank's decision; ``window`` is that decision
    (the guarantor's prior, see the module doc), None for the bank's own prior;
    ``survived_years`` the firm's repayment record, years on the book without a default
    (0: a first-time applicant; module doc). ``score`` is on the logit scale; returns an
    array of its shape.

    >>> round(float(posterior_mean_pd(-3.0, -3.0, 0.8, 0.0)), 6)  # exact score: expit(-3)
    0.047426
    >>> float(posterior_mean_pd(-1.0, -3.0, 0.8, 0.8)) < float(special.expit(-1.0))
    True
    """
    y = np.atleast_1d(np.asarray(score, dtype=np.float64))
    shape = np.shape(score)
    var = sigma * sigma * noise * noise / (sigma * sigma + noise * noise) if sigma > 0 else 0.0
    m = (
        (mu * noise * noise + y * sigma * sigma) / (sigma * sigma + noise * noise)
        if sigma > 0 or noise > 0
        else np.full_like(y, mu)
    )
    if survived_years < 0:
        raise ValueError(f"survived_years {survived_years} < 0")
    if var == 0.0:  # the prior or the score pins L down
        return special.expit(m).reshape(shape)
    if window is None or (window.lo == -np.inf and window.hi == np.inf):
        if survived_years > 0:
            with_record, record = _survival_moments(m, np.full_like(m, var), survived_years)
            return (with_record / record).reshape(shape)
        return _logistic_normal_mean(m, np.full_like(m, var)).reshape(shape)
    if not window.lo < window.hi:
        raise ValueError(f"{window}: the bank approves nobody in it; no applicant reaches here")
    tau_b2 = window.noise * window.noise
    sd_x = np.full_like(m, math.sqrt(var + tau_b2))
    x, log_w = _truncated_nodes(m, sd_x, window.lo, window.hi)
    cond_mean = (m[:, None] * tau_b2 + x * var) / (var + tau_b2)
    cond_var = np.full_like(x, var * tau_b2 / (var + tau_b2))
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    if survived_years > 0:  # the record weighs each node of the bank's score too
        with_record, record = _survival_moments(cond_mean, cond_var, survived_years)
        return ((w * with_record).sum(axis=1) / (w * record).sum(axis=1)).reshape(shape)
    g = _logistic_normal_mean(cond_mean, cond_var)
    return ((w * g).sum(axis=1) / w.sum(axis=1)).reshape(shape)


class PosteriorTable:
    """``posterior_mean_pd`` over scores as a lookup, for one (prior, noise, window,
    repayment record).

    Tabulates ``logit(E[PD | score])`` on scores ``mu +- TABLE_REACH (sigma + noise)``
    (beyond them the exact function is used) at a step fine enough for the noises
    involved, and interpolates it with a cubic spline. Build it with :func:`posterior_table`
    (cached).
    """

    def __init__(
        self,
        mu: float,
        sigma: float,
        noise: float,
        window: Window | None = None,
        survived_years: float = 0.0,
    ):
        self.args = (mu, sigma, noise, window, survived_years)
        scales = [TABLE_STEP, noise / 4.0]
        if window is not None and window.noise > 0:
            scales.append(window.noise / 4.0)
        step = max(min(scales), 1e-3)
        reach = TABLE_REACH * (sigma + noise)
        n = math.ceil(2 * reach / step) + 1
        self.lo, self.hi = mu - reach, mu + reach
        grid = np.linspace(self.lo, self.hi, max(n, 2))
        self._spline = cubic_spline(grid, special.logit(posterior_mean_pd(grid, *self.args)))

    def __call__(self, score):
        """E[PD | score] for scores on the logit scale (scalar or array)."""
        y = np.asarray(score, dtype=np.float64)
        inside = (y >= self.lo) & (y <= self.hi)
        if np.all(inside):
            return special.expit(self._spline(y))
        return np.where(
            inside,
            special.expit(self._spline(np.clip(y, self.lo, self.hi))),
            posterior_mean_pd(y, *self.args),
        )


@lru_cache(maxsize=256)
def posterior_table(
    mu: float,
    sigma: float,
    noise: float,
    window: Window | None = None,
    survived_years: float = 0.0,
) -> PosteriorTable:
    """The (cached) :class:`PosteriorTable` of one prior, noise, window and record."""
    return PosteriorTable(mu, sigma, noise, window, survived_years)


def bank_break_even_pd(
    lgd: float, kept_share: float, loan_rate: float, funding_cost: float, operating_cost: float
) -> float:
    """The highest posterior PD the bank lends at.

    The bank lends when expected loss on the share it keeps plus its operating cost is at
    most its margin, ``PD x LGD x kept + operating_cost <= loan_rate - funding_cost`` (all
    per year on the loan amount), i.e. ``PD <= (margin - cost) / (LGD x kept)``; ``+inf``
    (everybody) when it keeps no loss and the margin covers the cost, ``-inf`` when not.

    >>> round(bank_break_even_pd(0.65, 0.7, 0.05, 0.025, 0.01), 4)
    0.033
    """
    margin = loan_rate - funding_cost - operating_cost
    if lgd * kept_share == 0:
        return math.inf if margin >= 0 else -math.inf
    return margin / (lgd * kept_share)


@lru_cache(maxsize=256)
def bank_score_threshold(posterior: PosteriorTable, break_even_pd: float) -> float:
    """The bank's score ``c`` with ``posterior(x) <= break_even_pd`` exactly when ``x <= c``.

    The posterior mean increases with the score, so its rule is a threshold on the score;
    ``+inf`` when it approves everybody, ``-inf`` when nobody. Cached (a root search; the
    tables are cached too, so each replica of a run asks for the same ones).
    """
    mu, sigma, noise = posterior.args[:3]
    span = REACH * (sigma + noise) + 50.0
    lo, hi = mu - span, mu + span

    def gap(x):
        return float(posterior(x)) - break_even_pd

    if gap(hi) <= 0:
        return math.inf
    if gap(lo) > 0:
        return -math.inf
    return float(brentq(gap, lo, hi, xtol=1e-12))


def guarantor_approves(
    pd_posterior, lgd: float, kept_share: float, fee, subsidy, mandate: float, cost: float
):
    """Guarantee when the expected loss it keeps <= fee + subsidy + mandate - cost.

    All per year per CNY guaranteed: ``kept_share`` of the guaranteed loss stays with the
    guarantor after re-guarantors and pools; ``fee`` and ``subsidy`` are what the borrower
    and the budget pay it; ``mandate`` the expected loss its policy mandate tolerates;
    ``cost`` its operating cost and the re-guarantee fees it pays.

    >>> bool(guarantor_approves(0.049, 0.8, 0.5, 0.01, 0.0, 0.01, 0.0))  # 0.0196 <= 0.02
    True
    """
    return np.asarray(pd_posterior) * lgd * kept_share <= (
        np.asarray(fee) + np.asarray(subsidy) + mandate - cost
    )


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
