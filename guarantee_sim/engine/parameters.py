"""Uncertain parameters: the state of the world each path draws (issue 9, part A).

A segment's PD level, LGD and asset correlation may be given as a distribution
(``config/values.py``). Each path draws them once, before its first month:

* the draw of a parameter is the inverse CDF of one uniform from a counter-based Philox
  stream keyed by ``(seed, path)`` with counter ``(hash, PARAMETER_STREAM_ID, 0,
  PURPOSE_PARAMETER)``, where ``hash`` is the :func:`~guarantee_sim.book.segment_hash` of the
  parameter's dotted key, or of ``group:NAME`` when its distribution names a group (keys
  of one group share the uniform). So the draws depend only on the seed, the path and the
  names: not on the block size, the threads, the other parameters or the policy (common
  random numbers across variants);
* the PD level is a *multiplier* on the segment's conditional PDs (every grade, every
  year): drawn value / the distribution's centre (:attr:`Distribution.centre`). The
  lenders (institution processes) and every other use of the key see the centre: they do
  not know the path's PD level;
* LGD and correlation replace the segment's value on the path (a ``basel_sme``
  correlation is computed from the PD centre and stays fixed);
* the recovery lag (``recovery.lag_months``, whole months) replaces the segment's: the
  draw, clipped to the distribution's [min, max], is rounded to the nearest month, halves
  up (``floor(x + 0.5)``), and that whole number is the path's lag and its
  ``parameter_value``. ``min`` and ``max`` are whole months (the key is an integer), so
  the lag stays inside them and the schema's run-off check, made at ``max``, holds on
  every path. The fixed uses of the key see the centre rounded the same way.

The centre of a lognormal is its median, so a PD level drawn from one has a mean above the
centre (``exp(sd**2 / 2)`` before truncation: +4.6% at sd 0.3): the mean loss rises with
the spread. Give a normal (centre = mean) to keep the mean PD.

A normal or lognormal with ``sd: 0`` draws its centre exactly (``mean + 0 * z``, ``median *
exp(0 * z)``), so the run is bit for bit the fixed-value run.

The lenders' decision parameters (``config.schema.DECISION_DISTRIBUTIONS``: the bank's and
the guarantor's score noise, the guarantor's ``mandate_loss_rate``) are drawn once per
*book replica*, not per path: the processes run once per replica, and that replica's
lenders act on its draws (they know their own scores' noise and mandate; the analyst does
not). The uniform of replica ``r`` comes from ``processes.draws.replica_parameter_uniforms``
(key ``(seed, PROCESS_KEY + r)``, a purpose of its own), through the same inverse CDF; a
path carries its replica's values in ``parameter_value``. Their spread reaches the results
through as many draws as there are replicas, so the intervals need enough replicas
(``config.plausibility`` warns below ``MIN_REPLICAS``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from ..book import segment_hash
from ..config.schema import DECISION_DISTRIBUTIONS, Scenario
from ..config.values import Distribution, Sourced, SourcedInt, central, source_of
from ..kernels.layout import PathParameters, Segments
from ..kernels.parameters import parameter_uniforms
from ..processes.draws import replica_parameter_uniforms

#: what each simulated key is on a segment: (field of PathParameters, units)
_KINDS = {
    ("pd", "mean"): ("pd_scale", "1/year"),
    ("lgd",): ("lgd", "1"),
    ("correlation",): ("rho", "1"),
    ("recovery", "lag_months"): ("recovery_lag", "month"),
}
#: fields drawn as whole numbers: the draw rounded to the nearest integer, halves up
_WHOLE = {"recovery_lag"}
#: units of the decision parameters (score noise: sd on the logit scale)
_DECISION_UNITS = {"score_noise": "1", "mandate_loss_rate": "1/year"}


@dataclass(frozen=True)
class UncertainParameter:
    key: str  # dotted key, e.g. "segments.sme.pd.mean"
    segment: int  # index of its segment
    field: str  # the PathParameters field it sets ('' for a decision parameter)
    units: str
    distribution: Distribution
    per: str = "path"  # drawn per "path", or per book "replica" (decision parameters)

    @property
    def group(self) -> str:
        return self.distribution.group or ""

    @property
    def stream(self) -> int:
        """The stable id of its uniform: the hash of its group, else of its key."""
        name = f"group:{self.group}" if self.group else self.key
        return segment_hash(name)


def uncertain_parameters(scenario: Scenario) -> list[UncertainParameter]:
    """The scenario's drawn parameters, by segment then key (the ``parameter`` axis)."""
    out = []
    for i, (name, seg) in enumerate(scenario.segments.items()):
        for path, (field, units) in _KINDS.items():
            value: object = seg
            for attr in path:
                value = getattr(value, attr)
            inner = value.value if isinstance(value, Sourced) else value
            if isinstance(inner, Distribution):
                key = ".".join(("segments", name, *path))
                out.append(UncertainParameter(key, i, field, units, inner))
    return out


def decision_parameters(scenario: Scenario) -> list[UncertainParameter]:
    """The lenders' decision parameters given as distributions, drawn per book replica
    (empty when the processes do not lend)."""
    if scenario.processes is None or scenario.lending_source != "processes":
        return []
    out = []
    for loc in DECISION_DISTRIBUTIONS:
        value = _get(scenario, loc)
        inner = value.value if isinstance(value, Sourced) else value
        if isinstance(inner, Distribution):
            units = _DECISION_UNITS[loc[-1]]
            out.append(UncertainParameter(".".join(loc), -1, "", units, inner, per="replica"))
    return out


def draw_replica_values(params: list[UncertainParameter], seed: int, replicas: int) -> np.ndarray:
    """Drawn values ``[replicas, len(params)]`` of the decision parameters."""
    streams = _streams(params)
    uniforms = np.empty((replicas, len(streams)))
    replica_parameter_uniforms(np.uint32(seed), replicas, streams, uniforms)
    return _inverted(params, streams, uniforms)


def replica_scenarios(
    scenario: Scenario, params: list[UncertainParameter], values: np.ndarray
) -> list[Scenario]:
    """``scenario`` once per replica, each decision parameter set to the replica's draw."""
    out = []
    for row in values:
        s = scenario
        for p, x in zip(params, row, strict=True):
            s = _set(s, tuple(p.key.split(".")), float(x))
        out.append(s)
    return out


def _get(model, loc: tuple):
    for name in loc:
        model = getattr(model, name, None) if model is not None else None
    return model


def _set(model, loc: tuple, value):
    """``model`` with the value at ``loc`` (attribute names) replaced, by copies."""
    if len(loc) == 1:
        return model.model_copy(update={loc[0]: value})
    return model.model_copy(update={loc[0]: _set(getattr(model, loc[0]), loc[1:], value)})


def central_scenario(scenario: Scenario) -> Scenario:
    """``scenario`` with every drawn distribution replaced by its centre (what the
    lenders, the volumes and the results' fixed coordinates see; the processes get each
    replica's decision parameters from :func:`replica_scenarios`)."""
    segments = {}
    for name, seg in scenario.segments.items():
        pd = seg.pd.model_copy(update={"mean": central(seg.pd.mean)})
        lag = seg.recovery.lag_months
        if central(lag) is not lag:  # a distribution: its centre in whole months
            whole = round_half_up(central(lag))
            lag = SourcedInt(whole, source) if (source := source_of(lag)) else whole
        recovery = seg.recovery.model_copy(update={"lag_months": lag})
        update = {
            "pd": pd,
            "lgd": central(seg.lgd),
            "correlation": central(seg.correlation),
            "recovery": recovery,
        }
        segments[name] = seg.model_copy(update=update)
    scenario = scenario.model_copy(update={"segments": segments})
    for loc in DECISION_DISTRIBUTIONS:
        value = _get(scenario, loc)
        if value is not None and central(value) is not value:
            scenario = _set(scenario, loc, central(value))
    return scenario


def draw_values(params: list[UncertainParameter], seed: int, first: int, n: int) -> np.ndarray:
    """Drawn values ``[n paths, len(params)]`` of paths ``first .. first + n - 1``."""
    streams = _streams(params)
    uniforms = np.empty((n, len(streams)))
    parameter_uniforms(np.uint32(seed), first, streams, uniforms)
    return _inverted(params, streams, uniforms)


def _streams(params: list[UncertainParameter]) -> np.ndarray:
    """The distinct streams (key or group hashes) of ``params``, sorted."""
    return np.array(sorted({p.stream for p in params}), dtype=np.uint32)


def _inverted(
    params: list[UncertainParameter], streams: np.ndarray, uniforms: np.ndarray
) -> np.ndarray:
    """Each parameter's values from its stream's column of ``uniforms`` (rows: paths or
    replicas), whole months rounded half up."""
    values = np.empty((uniforms.shape[0], len(params)))
    for j, p in enumerate(params):
        x = inverse_cdf(p.distribution, uniforms[:, int(np.searchsorted(streams, p.stream))])
        values[:, j] = np.floor(x + 0.5) if p.field in _WHOLE else x
    return values


def round_half_up(x: float) -> int:
    """The whole number nearest ``x``, halves up, as the draws of a whole-number key are.

    >>> round_half_up(12.5), round_half_up(12.0), round_half_up(11.49)
    (13, 12, 11)
    """
    return int(np.floor(x + 0.5))


def path_parameters(
    params: list[UncertainParameter], values: np.ndarray, segments: Segments
) -> PathParameters:
    """The kernels' per-path bundle: the fixed values, overwritten where drawn."""
    n = values.shape[0]
    bundle = PathParameters(
        pd_scale=np.ones((n, len(segments.rho))),
        rho=np.repeat(segments.rho[None, :], n, axis=0),
        lgd=np.repeat(segments.lgd[None, :], n, axis=0),
        recovery_lag=np.repeat(segments.recovery_lag[None, :], n, axis=0),
    )
    for j, p in enumerate(params):
        drawn = values[:, j]
        if p.field == "pd_scale":
            drawn = drawn / p.distribution.centre
        getattr(bundle, p.field)[:, p.segment] = drawn
    return bundle


def inverse_cdf(d: Distribution, u: np.ndarray) -> np.ndarray:
    """The values of ``d`` at uniforms ``u`` (increasing in u), truncated to [min, max]."""
    lo = -np.inf if d.min is None else d.min
    hi = np.inf if d.max is None else d.max
    if d.kind in ("normal", "lognormal"):
        centre = d.centre
        sd = float(d.sd)  # type: ignore[arg-type]
        if sd == 0.0:
            return np.full(u.shape, centre)
        log = d.kind == "lognormal"
        to_z = np.log if log else (lambda x: x)
        z_lo = (to_z(lo) - to_z(centre)) / sd if lo > (0.0 if log else -np.inf) else -np.inf
        z_hi = (to_z(hi) - to_z(centre)) / sd
        p_lo, p_hi = special.ndtr(z_lo), special.ndtr(z_hi)
        z = special.ndtri(p_lo + u * (p_hi - p_lo))
        x = centre * np.exp(sd * z) if log else centre + sd * z
    elif d.kind == "uniform":
        x = lo + u * (hi - lo)
    elif d.kind == "triangular":
        from scipy import stats  # here only: importing scipy.stats takes 0.5 s of every run

        x = stats.triang.ppf(u, (d.mode - lo) / (hi - lo), loc=lo, scale=hi - lo)  # type: ignore[operator]
    else:  # beta scaled to [min, max]
        x = lo + (hi - lo) * special.betaincinv(d.alpha, d.beta, u)
    return np.clip(x, lo, hi)
