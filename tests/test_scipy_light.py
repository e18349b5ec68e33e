"""``processes/scipy_light.py`` gives SciPy's ``brentq`` and ``CubicSpline`` doubles, bit for
bit (the decisions use them; importing SciPy's packages for them cost 0.15-0.2 s a run)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import interpolate, optimize, special

from guarantee_sim.processes import decisions
from guarantee_sim.processes.scipy_light import CubicSpline, brentq, cubic_spline


def same_doubles(a, b) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def random_knots(rng, trial: int) -> np.ndarray:
    n = int(rng.integers(4, 300))
    if trial % 3 == 0:  # evenly spaced, as the decisions' tables
        start = rng.normal(0, 5)
        return np.linspace(start, start + rng.uniform(0.01, 50), n)
    if trial % 3 == 1:  # uneven steps, from tiny to large
        return np.cumsum(rng.uniform(1e-3, 2, n)) + rng.normal(0, 10)
    return np.unique(rng.normal(0, 3, n + 4))


def test_cubic_splines_are_scipys():
    rng = np.random.default_rng(17)
    for trial in range(600):
        x = random_knots(rng, trial)
        y = np.sin(x * rng.uniform(0.1, 3)) * rng.uniform(0.1, 100)
        y = y + rng.normal(0, rng.uniform(0, 1), len(x))
        span = x[-1] - x[0]
        points = np.concatenate(
            [
                rng.uniform(x[0] - 0.2 * span, x[-1] + 0.2 * span, 300),  # and extrapolated
                x,  # the knots: each in the interval to its right, the last in the last
                [np.nextafter(x[-1], -np.inf), np.nextafter(x[0], np.inf), -np.inf, np.inf],
            ]
        )
        theirs, ours = interpolate.CubicSpline(x, y), cubic_spline(x, y)
        assert isinstance(ours, CubicSpline)
        assert same_doubles(ours(points), theirs(points)), trial
        assert same_doubles(ours(points[0]), theirs(points[0]))  # a 0-d array, as SciPy's
        assert same_doubles(ours(points[:12].reshape(3, 4)), theirs(points[:12].reshape(3, 4)))


def test_the_posterior_tables_are_scipys():
    rng = np.random.default_rng(3)
    for trial in range(40):
        low = rng.normal(-6, 2)
        window = decisions.Window(low, low + rng.uniform(1, 8), rng.uniform(0, 1))
        table = decisions.PosteriorTable(
            rng.normal(-3.5, 1),
            rng.uniform(0.2, 1.5),
            rng.uniform(0.05, 1.5),
            window if trial % 2 else None,
            float(rng.choice([0.0, 1.0, 3.0])),
        )
        grid = table._spline.x
        theirs = interpolate.CubicSpline(
            grid, special.logit(decisions.posterior_mean_pd(grid, *table.args))
        )
        scores = rng.uniform(table.lo, table.hi, 5000)
        assert same_doubles(table._spline(scores), theirs(scores))


def test_few_points_are_left_to_scipy():
    for n in (2, 3):
        x, y = np.arange(float(n)), np.arange(float(n)) ** 2
        assert same_doubles(cubic_spline(x, y)(0.3), interpolate.CubicSpline(x, y)(0.3))


def outcome(root, f, lo: float, hi: float, xtol: float):
    """The root's bits, or the exception's type (e.g. ends of one sign)."""
    try:
        return np.float64(root(f, lo, hi, xtol=xtol)).tobytes()
    except (ValueError, RuntimeError) as err:
        return type(err)


def test_roots_are_scipys():
    rng = np.random.default_rng(29)
    for trial in range(3000):
        c, k = rng.normal(0, 3), rng.uniform(0.1, 5)
        f = [
            lambda x, c=c, k=k: math.tanh(k * (x - c)),
            lambda x, c=c, k=k: (x - c) ** 3 * k - 0.1 * (x - c),
            lambda x, c=c, k=k: float(special.expit(x * k) - special.expit(c * k)),
            lambda x, c=c: math.exp(x / 5) - math.exp(c / 5),
        ][trial % 4]
        lo, hi = c - rng.uniform(0.01, 40), c + rng.uniform(0.01, 40)
        xtol = float(rng.choice([2e-12, 1e-12, 1e-14, 1e-6]))
        theirs = outcome(optimize.brentq, f, lo, hi, xtol)
        assert outcome(brentq, f, lo, hi, xtol) == theirs, trial
    # an end that is a root, and ends of one sign
    assert brentq(lambda x: x, 0.0, 1.0) == optimize.brentq(lambda x: x, 0.0, 1.0) == 0.0
    with pytest.raises(ValueError, match="different signs"):
        brentq(lambda x: x + 5.0, 0.0, 1.0)


def test_the_decisions_roots_are_scipys():
    rng = np.random.default_rng(8)
    for _ in range(40):
        mu, sigma, noise = rng.normal(-3.5, 1), rng.uniform(0.2, 1.5), rng.uniform(0.05, 1.5)
        table = decisions.PosteriorTable(mu, sigma, noise)
        span = decisions.REACH * (sigma + noise) + 50.0
        for pd in rng.uniform(0.002, 0.2, 4):

            def gap(x, table=table, pd=pd):
                return float(table(x)) - pd

            if gap(mu + span) > 0 and gap(mu - span) <= 0:
                theirs = optimize.brentq(gap, mu - span, mu + span, xtol=1e-12)
                assert brentq(gap, mu - span, mu + span, xtol=1e-12) == theirs
        for dispersion, mean in zip((0.3, 1.0, 2.0), rng.uniform(0.002, 0.2, 3), strict=True):

            def mean_gap(m, pd=float(mean), d=dispersion):
                w, x = decisions._HERMITE_W, decisions._HERMITE_X
                return float(w @ special.expit(m + d * x)) - pd

            theirs = optimize.brentq(mean_gap, -40.0, 40.0, xtol=1e-14)
            assert brentq(mean_gap, -40.0, 40.0, xtol=1e-14) == theirs
