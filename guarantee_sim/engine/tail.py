"""Importance sampling of the credit cycle: the mean shift of the factor shocks (issue 10 §2).

The loss tail of a guarantee system is the tail of its credit cycle: a few bad years of the
systematic factors. Plain Monte Carlo puts one path in a thousand beyond the 99.9% quantile;
drawing the yearly factor shocks from N(mu, 1) instead of N(0, 1) puts many there, and
each path's likelihood ratio ``w = exp(sum(-mu * z + mu**2 / 2))`` (z the shifted shocks;
``kernels.factors.draw_shifted_factors``) reweighs it to the plain measure. The shocks stay
the counter-based draws of plain Monte Carlo with ``mu`` added, so a run is still
bit-identical across threads and blocks, and variants that share ``mu`` share their paths.

The rule that chooses ``mu`` (:func:`choose_shift`), in the spirit of Glasserman & Li
(2005, "Importance sampling for portfolio credit risk", Management Science 51) for the
systematic part of the loss:

1. *exposures*: a pilot of :data:`PILOT_PATHS` plain paths (the run's first paths; a few
   per cent of a default run's cost) gives each segment's and year's credit loss; dividing
   its sum over the pilot by the sum of the segment's conditional PD on the same paths
   gives the loss per unit of PD, ``E[s, y]`` (CNY): the large-pool (Vasicek)
   approximation of the loss given the factors, ``L(z) = sum a[s] E[s, y] pd[s, y | z]``,
   where ``pd[s, y | z]`` is the segment's conditional annual PD (its grades' mean, with the
   year's downturn and PD multiplier) and ``a[s]`` the party's share of a loan's loss in
   the segment (1 for the total loss);
2. *the tail*: :data:`SAMPLES` draws of the shocks (the AR(1) and the factors' correlation
   as the kernel applies them) through ``L``; ``mu`` is the mean shock of the draws whose
   ``L`` is at or beyond its ``level`` quantile: the cross-entropy optimal mean shift for
   that approximation (the mean of the zero-variance IS density), close to Glasserman and
   Li's mode. For one factor and one year it is ``E[Z | Z < Phi^-1(1 - level)]``: -3.37 at
   0.999. It is drawn with its own generator seeded by the run's seed, so a seed always
   chooses the same shift.

Where the approximation has no tail (the party takes no share of any loss, or no loss at
all in the pilot) the shift is zero: plain Monte Carlo, weights 1.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
from scipy.special import ndtr

from ..config.schema import ImportanceSampling
from ..kernels.factors import year_factors
from ..kernels.layout import PARTY_VARIABLES, SEGMENT_VARIABLES, YEAR_VARIABLES, Outputs
from ..kernels.portfolio import simulate_block
from .inputs import KernelInputs
from .parameters import path_parameters

#: plain paths run to measure the exposures (step 1)
PILOT_PATHS = 64
#: draws of the shocks through the approximate loss (step 2)
SAMPLES = 200_000
#: the generator of those draws is seeded with (seed, this), apart from every other use
SHIFT_STREAM = 0x7A11
_CHUNK = 20_000


def sampled_toward_tail(
    inputs: KernelInputs, tail: ImportanceSampling | None, seed: int, shift=None
) -> KernelInputs:
    """``inputs`` with the factor shocks' mean shift: ``shift`` when given (a comparison's
    base's), else :func:`choose_shift`'s; unchanged (zero shift) when ``tail`` is None."""
    if tail is None:
        return inputs
    shift = choose_shift(inputs, tail, seed) if shift is None else np.asarray(shift, float)
    if shift.shape != inputs.macro.shift.shape:
        raise ValueError(f"shift must be [year, factor] {inputs.macro.shift.shape}")
    return replace(inputs, macro=inputs.macro._replace(shift=np.ascontiguousarray(shift)))


def choose_shift(inputs: KernelInputs, tail: ImportanceSampling, seed: int) -> np.ndarray:
    """The mean shift ``mu[year, factor]`` of the independent factor shocks toward the tail
    of ``tail.party``'s loss (the total when None) at ``tail.level`` (module docstring)."""
    macro = inputs.macro
    n_years, n_factors = macro.shift.shape
    exposure = pilot_exposures(inputs, seed) * party_shares(inputs, tail.party)[None, :]
    if not np.any(exposure > 0):
        return np.zeros((n_years, n_factors))
    rng = np.random.default_rng([seed, SHIFT_STREAM])
    shocks = rng.standard_normal((SAMPLES, n_years, n_factors))
    loss = np.concatenate(
        [
            approximate_loss(shocks[i : i + _CHUNK], inputs, exposure)
            for i in range(0, SAMPLES, _CHUNK)
        ]
    )
    if not loss.max() > loss.min():  # the approximation has no tail to aim at
        return np.zeros((n_years, n_factors))
    return shocks[loss >= np.quantile(loss, tail.level)].mean(axis=0)


def factors_of(shocks: np.ndarray, chol: np.ndarray, persistence: float) -> np.ndarray:
    """Factor values ``[n, year, factor]`` of independent shocks ``[n, year, factor]``: the
    kernel's correlation and AR(1) (``kernels.factors.draw_shifted_factors``), vectorised."""
    innovation = shocks @ chol.T
    out = np.empty_like(innovation)
    scale = np.sqrt(1.0 - persistence * persistence)
    out[:, 0] = innovation[:, 0]
    for y in range(1, shocks.shape[1]):
        out[:, y] = persistence * out[:, y - 1] + scale * innovation[:, y]
    return out


def conditional_pd(factors: np.ndarray, inputs: KernelInputs) -> np.ndarray:
    """``pd[n, year, segment]``: each segment's conditional annual PD given the factors,
    the mean over its grades (as ``kernels.factors.conditional_thresholds`` computes each)."""
    seg, macro = inputs.segments, inputs.macro
    x = factors @ seg.loadings.T - macro.downturn_z[None, :, None]  # [n, Y, S]
    sqrt_rho = np.sqrt(seg.rho)
    used = ~np.isnan(seg.pd_inverse)  # [S, G]
    total = np.zeros(x.shape)
    for g in range(seg.pd_inverse.shape[1]):
        inverse = np.where(used[:, g], seg.pd_inverse[:, g], 0.0)
        annual = ndtr((inverse - sqrt_rho * x) / np.sqrt(1.0 - seg.rho))
        annual = np.minimum(annual * macro.pd_multiplier[None, :, None], 0.999999)
        total += np.where(used[:, g], annual, 0.0)
    return total / np.maximum(used.sum(axis=1), 1)


def approximate_loss(shocks: np.ndarray, inputs: KernelInputs, exposure: np.ndarray):
    """The large-pool loss ``sum over (y, s) of exposure[y, s] pd[y, s | shocks]`` per draw."""
    factors = factors_of(shocks, inputs.macro.chol, inputs.macro.persistence)
    return np.einsum("nys,ys->n", conditional_pd(factors, inputs), exposure)


def pilot_exposures(inputs: KernelInputs, seed: int) -> np.ndarray:
    """``E[year, segment]`` (CNY per unit of PD): the credit loss of :data:`PILOT_PATHS`
    plain paths over their conditional PDs (a ratio of sums), 0 where the pilot has none."""
    n_years = inputs.settings.n_years
    n_seg = inputs.segments.rho.shape[0]
    n_party = len(inputs.party_names) + 1
    out = Outputs(
        segment=np.zeros((PILOT_PATHS, len(SEGMENT_VARIABLES), n_years, n_seg)),
        party=np.zeros((PILOT_PATHS, len(PARTY_VARIABLES), n_years, n_party)),
        year=np.zeros((PILOT_PATHS, len(YEAR_VARIABLES), n_years)),
    )
    plain = replace(inputs, macro=inputs.macro._replace(shift=np.zeros_like(inputs.macro.shift)))
    simulate_block(
        np.uint32(seed),
        0,
        plain.book,
        plain.segments,
        plain.parties,
        plain.macro,
        plain.settings,
        path_parameters([], np.empty((PILOT_PATHS, 0)), plain.segments),
        out,
    )
    factors = np.empty((PILOT_PATHS, n_years, plain.macro.chol.shape[0]))
    year_factors(
        np.uint32(seed),
        0,
        plain.macro.chol,
        plain.macro.persistence,
        plain.macro.shift,
        factors,
        np.empty(PILOT_PATHS),
    )
    loss = out.segment[:, SEGMENT_VARIABLES.index("credit_loss")].sum(axis=0)  # [Y, S]
    pd = conditional_pd(factors, plain).sum(axis=0)
    return np.where(pd > 0, loss / np.where(pd > 0, pd, 1.0), 0.0)


def party_shares(inputs: KernelInputs, party: str | None) -> np.ndarray:
    """``a[segment]``: the party's share of a loan's loss in each segment (its schemes'
    terms, averaged over contract classes); 1 everywhere for the total loss (None)."""
    share = inputs.parties.share  # [S, C, P]
    if party is None:
        return np.ones(share.shape[0])
    return share[:, :, list(inputs.party_names).index(party)].mean(axis=1)


def shift_attrs(tail: ImportanceSampling | None, shift: np.ndarray, factors: list[str]) -> dict:
    """The results' attrs that record the sampling (DESIGN §5)."""
    if tail is None:
        return {"importance_sampling": "off"}
    return {
        "importance_sampling": "on",
        "importance_sampling_party": tail.party or "",
        "importance_sampling_level": float(tail.level),
        # per factor, the shift of its shock in each year (standard deviations), exact
        "importance_sampling_shift": json.dumps(
            {name: [float(v) for v in shift[:, f]] for f, name in enumerate(factors)}
        ),
    }


def shift_from_attrs(attrs: dict, factors: list[str]) -> np.ndarray | None:
    """The shift a run recorded (:func:`shift_attrs`), or None for a plain run."""
    if attrs.get("importance_sampling") != "on":
        return None
    by_factor = json.loads(attrs["importance_sampling_shift"])
    return np.array([by_factor[name] for name in factors], dtype=np.float64).T.copy()
