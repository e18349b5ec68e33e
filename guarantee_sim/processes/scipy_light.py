"""SciPy's ``optimize.brentq`` and ``interpolate.CubicSpline``, bit for bit, without their
packages.

The decisions need a root search and a cubic spline; importing ``scipy.optimize`` and
``scipy.interpolate`` for them loads sparse matrices, spatial trees, FFTs and linear
programming too: 0.15-0.2 s of every run, before the workers fork (issue 10 §4). These
are the same computations in the same order of floating-point operations: SciPy's C
``brentq`` line by line, and ``CubicSpline``'s not-a-knot system solved by the same LAPACK
routine (``scipy.linalg.solve_banded``; ``scipy.linalg`` is loaded anyway, by Numba) and
evaluated as ``PPoly`` evaluates (its breakpoint search and its sum of powers).
``tests/test_scipy_light.py`` checks them against SciPy on millions of points.
"""

from __future__ import annotations

import math
import sys

import numpy as np
from scipy.linalg import solve_banded

#: SciPy's defaults: ``xtol``, ``rtol`` (four machine epsilons), ``maxiter``
XTOL = 2e-12
RTOL = 4 * sys.float_info.epsilon
MAXITER = 100


def brentq(f, a: float, b: float, xtol: float = XTOL, rtol: float = RTOL, maxiter=MAXITER):
    """A root of ``f`` in ``[a, b]`` (``f(a)`` and ``f(b)`` of opposite signs), as
    ``scipy.optimize.brentq(f, a, b, xtol=xtol, rtol=rtol, maxiter=maxiter)`` finds it.

    >>> round(brentq(lambda x: x * x - 2.0, 0.0, 2.0), 12)
    1.414213562373
    """
    if xtol <= 0 or rtol < RTOL:
        raise ValueError(f"xtol must be > 0 and rtol >= {RTOL} (got {xtol}, {rtol})")
    xpre, xcur = float(a), float(b)
    xblk = fblk = spre = scur = 0.0
    fpre, fcur = _value(f, xpre), _value(f, xcur)
    if fpre == 0:
        return xpre
    if fcur == 0:
        return xcur
    if _negative(fpre) == _negative(fcur):
        raise ValueError("f(a) and f(b) must have different signs")
    for _ in range(maxiter):
        if fpre != 0 and fcur != 0 and _negative(fpre) != _negative(fcur):
            xblk, fblk = xpre, fpre
            spre = scur = xcur - xpre
        if abs(fblk) < abs(fcur):  # the better estimate goes to xcur
            xpre, xcur, xblk = xcur, xblk, xcur
            fpre, fcur, fblk = fcur, fblk, fcur
        delta = (xtol + rtol * abs(xcur)) / 2
        sbis = (xblk - xcur) / 2
        if fcur == 0 or abs(sbis) < delta:
            return xcur
        if abs(spre) > delta and abs(fcur) < abs(fpre):
            stry = _secant_step(xpre, xcur, xblk, fpre, fcur, fblk)
            limit = abs(spre) if abs(spre) < 3 * abs(sbis) - delta else 3 * abs(sbis) - delta
            if 2 * abs(stry) < limit:  # a good short step
                spre, scur = scur, stry
            else:
                spre = scur = sbis
        else:
            spre = scur = sbis
        xpre, fpre = xcur, fcur
        xcur += scur if abs(scur) > delta else (delta if sbis > 0 else -delta)
        fcur = _value(f, xcur)
    raise RuntimeError(f"Failed to converge after {maxiter} iterations, value is {xcur}")


def _secant_step(xpre, xcur, xblk, fpre, fcur, fblk) -> float:
    """Brent's trial step: linear interpolation, or inverse quadratic extrapolation."""
    if xpre == xblk:
        return -fcur * (xcur - xpre) / (fcur - fpre)
    dpre = (fpre - fcur) / (xpre - xcur)
    dblk = (fblk - fcur) / (xblk - xcur)
    return -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))


def _value(f, x: float) -> float:
    value = float(f(x))
    if math.isnan(value):
        raise ValueError(f"The function value at x={x:f} is NaN; solver cannot continue.")
    return value


def _negative(value: float) -> bool:
    return math.copysign(1.0, value) < 0  # C's signbit: -0.0 counts as negative


def cubic_spline(x, y):
    """``scipy.interpolate.CubicSpline(x, y)`` (not-a-knot ends, extrapolating) of a 1-D
    ``y``: called, it gives the same doubles. Fewer than four points (a line or a parabola,
    SciPy's special cases) are left to SciPy.

    >>> spline = cubic_spline(np.arange(5.0), np.arange(5.0) ** 3)
    >>> float(spline(2.5))
    15.625
    """
    if len(x) < 4:
        from scipy.interpolate import CubicSpline as SciPyCubicSpline

        return SciPyCubicSpline(x, y)
    return CubicSpline(x, y)


class CubicSpline:
    """:func:`cubic_spline` of at least four points."""

    def __init__(self, x, y):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        n = len(x)
        if x.ndim != 1 or y.shape != x.shape or n < 4:
            raise ValueError("x and y: 1-D, of one length, at least 4 points")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise ValueError("x and y must be finite")
        dx = np.diff(x)
        if np.any(dx <= 0):
            raise ValueError("x must be strictly increasing")
        slope = np.diff(y) / dx
        # the slopes s at the knots: a tridiagonal system, its rows as SciPy builds them
        bands = np.zeros((3, n))
        bands[1, 1:-1] = 2 * (dx[:-1] + dx[1:])
        bands[0, 2:] = dx[:-1]
        bands[-1, :-2] = dx[1:]
        rhs = np.empty(n)
        rhs[1:-1] = 3 * (dx[1:] * slope[:-1] + dx[:-1] * slope[1:])
        bands[1, 0] = dx[1]
        bands[0, 1] = x[2] - x[0]
        d = x[2] - x[0]
        rhs[0] = ((dx[0] + 2 * d) * dx[1] * slope[0] + dx[0] ** 2 * slope[1]) / d
        bands[1, -1] = dx[-2]
        bands[-1, -2] = x[-1] - x[-3]
        d = x[-1] - x[-3]
        rhs[-1] = (dx[-1] ** 2 * slope[-2] + (2 * d + dx[-1]) * dx[-2] * slope[-1]) / d
        s = solve_banded(
            (1, 1), bands, rhs.reshape(n, -1), overwrite_ab=True, overwrite_b=True,
            check_finite=False,
        ).reshape(n)  # fmt: skip
        # the Hermite cubic of each interval, highest power first (as PPoly keeps it)
        t = (s[:-1] + s[1:] - 2 * slope) / dx
        self.x = x
        self.c = np.stack((t / dx, (slope - s[:-1]) / dx - t, s[:-1], y[:-1]))

    def __call__(self, points):
        """The spline at ``points`` (an array of their shape; extrapolated outside)."""
        points = np.asarray(points, dtype=np.float64)
        flat = points.ravel()
        # PPoly's interval: x[i] <= point < x[i + 1], the last one closed on the right
        i = np.clip(np.searchsorted(self.x, flat, side="right") - 1, 0, len(self.x) - 2)
        s = flat - self.x[i]
        c3, c2, c1, c0 = self.c[0][i], self.c[1][i], self.c[2][i], self.c[3][i]
        # PPoly's order: 0 + c0, then + c1 s, + c2 s^2, + c3 s^3, the powers built up
        square = s * s
        value = c0 + c1 * s
        value = value + c2 * square
        value = value + c3 * (square * s)
        value[np.isnan(flat)] = np.nan
        return value.reshape(points.shape)
