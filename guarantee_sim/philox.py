"""Counter-based random numbers (Philox4x32-10) for the kernels and the institution processes.

A leaf of the package: it imports nothing of guarantee_sim, so the kernels (Monte Carlo
paths) and the processes (applicant draws) share one generator without depending on each
other.

All variates are pure functions of a 128-bit *counter* and a 64-bit *key*
pushed through the Philox4x32-10 block cipher (Salmon, Moraes, Dror & Shaw,
"Parallel random numbers: as easy as 1, 2, 3", SC'11; the Random123 library).
There is no generator state, so results do not depend on thread count,
scheduling, chunking or the order in which paths are simulated.

Keying convention
-----------------
* key = ``(seed & 0xFFFFFFFF, path_index)``: the low 32 bits of the run seed
  and the Monte Carlo path (scenario replication) index.
* counter = four 32-bit words built from *stable identifiers* of the draw,
  e.g. ``(period, entity_id, stream_tag, draw_index)``: a firm or bank id, a
  period number, a constant tag naming the purpose of the draw. Never use
  array positions (row numbers after sorting/filtering, loop indices over a
  subset): adding or removing an entity would then silently shift the random
  numbers of every other entity and break common random numbers between
  scenarios.
* a loan record's draws use counter ``(id_lo, id_hi, generation << GENERATION_SHIFT |
  year, purpose)``: the record's stable id (layout in :mod:`guarantee_sim.book`, which
  the generator never needs to know), the renewal generation (0 for the loan itself) and
  calendar-year index, and a purpose tag. :data:`GENERATION_SHIFT` is defined here, the
  one place the kernels (which import nothing else of the package) can read it.

Each call of :func:`philox4x32_10` yields four independent 32-bit words;
helpers below turn them into uniforms, normals, Bernoulli thresholds and
binomial variates by inversion (monotone in the uniform, hence friendly to
common random numbers).

Every function is a plain ``numba.njit`` function (made by :func:`jit`, the one
decorator of the package's jitted code, with its on-disk cache), callable from other
jitted code. With ``NUMBA_DISABLE_JIT=1`` they run as ordinary Python on NumPy
scalars and give bit-identical results: all 32-bit arithmetic is done in
``np.uint64`` (products of two 32-bit values fit) and masked explicitly.
"""

from __future__ import annotations

import math

import numpy as np

from ._numba_cache import jit

__all__ = [
    "BINOMIAL_EXACT_LIMIT",
    "GENERATION_SHIFT",
    "bernoulli_threshold",
    "binomial_from_uniform",
    "jit",
    "norm_cdf",
    "norm_ppf",
    "normal_pair",
    "philox4x32_10",
    "philox4x32_10_batch",
    "philox4x32_10_inlined",
    "u32_to_unit",
    "u64_to_unit",
]

# --- Philox constants (Random123 philox.h) --------------------------------
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_PHILOX_M0 = np.uint64(0xD2511F53)
_PHILOX_M1 = np.uint64(0xCD9E8D57)
_PHILOX_W0 = np.uint64(0x9E3779B9)  # golden ratio
_PHILOX_W1 = np.uint64(0xBB67AE85)  # sqrt(3) - 1

_TWO_M32 = 2.0**-32

#: counter word c2 of a loan record's draws: generation << GENERATION_SHIFT | year index
GENERATION_SHIFT = 16
_TWO_M53 = 2.0**-53
_SHIFT20 = np.uint64(20)
_SHIFT12 = np.uint64(12)
_TWO_PI = 2.0 * math.pi
_SQRT1_2 = 0.7071067811865476

#: ``n * min(p, 1 - p)`` up to which :func:`binomial_from_uniform` inverts
#: the CDF exactly; above it a skewness-corrected normal quantile is used.
BINOMIAL_EXACT_LIMIT = 400.0


@jit(inline="always")
def _philox_round(x0, x1, x2, x3, k0, k1):
    """One Philox4x32 S-box/P-box round on uint64 words holding 32-bit values."""
    p0 = _PHILOX_M0 * x0  # < 2**64, exact in uint64
    p1 = _PHILOX_M1 * x2
    hi0 = p0 >> _SHIFT32
    lo0 = p0 & _MASK32
    hi1 = p1 >> _SHIFT32
    lo1 = p1 & _MASK32
    return hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0


@jit(inline="always")
def philox4x32_10_inlined(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10, inlined into its jitted callers: the one implementation of the cipher.

    The rounds work on local scalars (registers), and the function is inlined into its
    jitted callers (``inline="always"``), so a caller's loop over counters is one loop body
    the compiler vectorises across counters: lanes across records, rounds in registers.
    No Philox in Numba ran faster on the development machine (AVX2): rows of an array
    loaded and stored each round ran at half the rate, a call not inlined at a sixth. Inlined
    at scalar call sites (one block here and there) it made the general path slower, so
    those call :func:`philox4x32_10`. Arguments and result as :func:`philox4x32_10`.
    """
    x0 = np.uint64(c0) & _MASK32
    x1 = np.uint64(c1) & _MASK32
    x2 = np.uint64(c2) & _MASK32
    x3 = np.uint64(c3) & _MASK32
    ka = np.uint64(k0) & _MASK32
    kb = np.uint64(k1) & _MASK32
    # Round 1 uses the raw key; the key is bumped before each later round.
    x0, x1, x2, x3 = _philox_round(x0, x1, x2, x3, ka, kb)
    for _ in range(9):
        ka = (ka + _PHILOX_W0) & _MASK32
        kb = (kb + _PHILOX_W1) & _MASK32
        x0, x1, x2, x3 = _philox_round(x0, x1, x2, x3, ka, kb)
    return np.uint32(x0), np.uint32(x1), np.uint32(x2), np.uint32(x3)


#: the one specialisation of :func:`philox4x32_10`: call sites pass every mix of uint32,
#: int64 and constants, which would otherwise compile a version for each mix
_WORDS = "(uint64, uint64, uint64, uint64, uint64, uint64)"


# compiled when decorated (a fixed signature), so after the function it calls
@jit(signature=_WORDS)
def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 block cipher (Random123 ``philox4x32``, 10 rounds).

    A call of :func:`philox4x32_10_inlined`, for the scalar draws (one block here and
    there); loops over many counters use that function itself.

    Parameters
    ----------
    c0, c1, c2, c3 : int
        Counter words; any non-negative integer type, reduced mod 2**32.
    k0, k1 : int
        Key words; any non-negative integer type, reduced mod 2**32.

    Returns
    -------
    tuple of 4 np.uint32
        The encrypted counter, identical to Random123's ``philox4x32_R(10, ...)``.
        (Typed uint32 inside jitted code; a jitted call from Python boxes
        them as ``int``.)
    """
    return philox4x32_10_inlined(c0, c1, c2, c3, k0, k1)


# a version per constant counter word (two): the constants fold into the rounds of the hot
# loop (typed plainly, the hot loop ran about 13% slower)
@jit(per_constant=True)
def philox4x32_10_batch(id_lo, id_hi, first, n, c2, c3, k0, k1, x0, x1, x2, x3):
    """Philox4x32-10 of counters (id_lo[first+i], id_hi[first+i], c2, c3), i < n, at once.

    The same numbers as :func:`philox4x32_10`, written into ``x0..x3[:n]`` (uint32
    arrays): one loop over the counters whose body is the whole inlined cipher, which the
    compiler vectorises across counters (the 32 x 32 -> 64-bit products four lanes at a
    time on AVX2).
    """
    for i in range(n):
        w0, w1, w2, w3 = philox4x32_10_inlined(id_lo[first + i], id_hi[first + i], c2, c3, k0, k1)
        x0[i] = w0
        x1[i] = w1
        x2[i] = w2
        x3[i] = w3


@jit()
def u32_to_unit(w):
    """Map a 32-bit word to ``(w + 0.5) * 2**-32``, strictly inside (0, 1).

    Parameters
    ----------
    w : int
        Word in ``[0, 2**32)``.

    Returns
    -------
    float
        Uniform on the 2**32 cell midpoints, in ``[2**-33, 1 - 2**-33]``.
    """
    return (np.float64(np.uint64(w) & _MASK32) + 0.5) * _TWO_M32


@jit()
def u64_to_unit(w_hi, w_lo):
    """Map two 32-bit words to a uniform with 53-bit resolution in (0, 1).

    Uses ``k = (w_hi << 20) | (w_lo >> 12)`` (52 bits) and returns
    ``(2k + 1) * 2**-53 = (k + 0.5) * 2**-52``: the odd multiples of 2**-53.
    Every value is exactly representable (a 53-bit odd integer times a power
    of two), so the result lies in ``[2**-53, 1 - 2**-53]``, never rounds to
    0 or 1, and ``1 - u`` is exactly another value of the same grid. (A
    53-bit ``k`` with ``(k + 0.5) * 2**-53`` would need 54 significant bits
    and round up to 1.0 for the largest ``k``.)

    Parameters
    ----------
    w_hi, w_lo : int
        Words in ``[0, 2**32)``; ``w_hi`` supplies the leading bits.

    Returns
    -------
    float
    """
    hi = np.uint64(w_hi) & _MASK32
    lo = np.uint64(w_lo) & _MASK32
    k = (hi << _SHIFT20) | (lo >> _SHIFT12)
    return (2.0 * np.float64(k) + 1.0) * _TWO_M53


@jit()
def norm_cdf(x):
    """Standard normal CDF, ``0.5 * erfc(-x / sqrt(2))`` (accurate in both tails)."""
    return 0.5 * math.erfc(-x * _SQRT1_2)


@jit()
def norm_ppf(u):
    """Standard normal quantile (Wichura 1988, AS241 ``PPND16``).

    Relative accuracy about 1e-16 for ``u`` in (0, 1); returns -inf / +inf
    at 0 / 1 and NaN outside [0, 1].

    Parameters
    ----------
    u : float
        Probability.

    Returns
    -------
    float
    """
    if not (u > 0.0 and u < 1.0):
        if u == 0.0:
            return -math.inf
        if u == 1.0:
            return math.inf
        return math.nan
    q = u - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = (
            (
                (
                    (
                        (
                            (r * 2509.0809287301226727 + 33430.575583588128105) * r
                            + 67265.770927008700853
                        )
                        * r
                        + 45921.953931549871457
                    )
                    * r
                    + 13731.693765509461125
                )
                * r
                + 1971.5909503065514427
            )
            * r
            + 133.14166789178437745
        ) * r + 3.387132872796366608
        den = (
            (
                (
                    (
                        (
                            (r * 5226.495278852545925 + 28729.085735721942674) * r
                            + 39307.89580009271061
                        )
                        * r
                        + 21213.794301586595867
                    )
                    * r
                    + 5394.1960214247511077
                )
                * r
                + 687.1870074920579083
            )
            * r
            + 42.313330701600911252
        ) * r + 1.0
        return q * num / den
    r = u if q < 0.0 else 1.0 - u  # 1 - u is exact for u >= 0.5
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r -= 1.6
        num = (
            (
                (
                    (
                        (
                            (r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r
                            + 0.24178072517745061177
                        )
                        * r
                        + 1.27045825245236838258
                    )
                    * r
                    + 3.64784832476320460504
                )
                * r
                + 5.7694972214606914055
            )
            * r
            + 4.6303378461565452959
        ) * r + 1.42343711074968357734
        den = (
            (
                (
                    (
                        (
                            (r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r
                            + 0.0151986665636164571966
                        )
                        * r
                        + 0.14810397642748007459
                    )
                    * r
                    + 0.68976733498510000455
                )
                * r
                + 1.6763848301838038494
            )
            * r
            + 2.05319162663775882187
        ) * r + 1.0
    else:
        r -= 5.0
        num = (
            (
                (
                    (
                        (
                            (r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r
                            + 0.0012426609473880784386
                        )
                        * r
                        + 0.026532189526576123093
                    )
                    * r
                    + 0.29656057182850489123
                )
                * r
                + 1.7848265399172913358
            )
            * r
            + 5.4637849111641143699
        ) * r + 6.6579046435011037772
        den = (
            (
                (
                    (
                        (
                            (r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r
                            + 1.8463183175100546818e-5
                        )
                        * r
                        + 7.868691311456132591e-4
                    )
                    * r
                    + 0.0148753612908506148525
                )
                * r
                + 0.13692988092273580531
            )
            * r
            + 0.59983220655588793769
        ) * r + 1.0
    val = num / den
    return -val if q < 0.0 else val


@jit()
def normal_pair(w0, w1, w2, w3):
    """Two independent N(0, 1) variates from four 32-bit words (Box–Muller).

    ``u1 = u64_to_unit(w0, w1)``, ``u2 = u64_to_unit(w2, w3)``;
    returns ``r cos(2 pi u2), r sin(2 pi u2)`` with ``r = sqrt(-2 log u1)``.
    Since ``u1 >= 2**-53`` the radius is finite (at most about 8.57).

    Returns
    -------
    tuple of 2 float
    """
    u1 = u64_to_unit(w0, w1)
    u2 = u64_to_unit(w2, w3)
    r = math.sqrt(-2.0 * math.log(u1))
    t = _TWO_PI * u2
    return r * math.cos(t), r * math.sin(t)


#: trials up to which ``P(X = 0) = (1 - p)**n`` is formed by repeated squaring (relative
#: error about ``n`` ulps, no libm call); more, by ``exp(n log1p(-p))``
POWER_LIMIT = 1024
#: counts up to which the inversion's ``1 / (k + 1)`` is read from a table, not divided (the
#: exact regime's counts pass it only when ``n min(p, 1 - p)`` is near its limit)
RECIPROCAL_LIMIT = 448
_RECIPROCALS = 1.0 / np.arange(1, RECIPROCAL_LIMIT + 5, dtype=np.float64)  # [j] = 1/(j+1)


@jit()
def _power(x, n):
    """``x**n`` for an integer ``n >= 0`` by repeated squaring, branch-free in its bits."""
    r = 1.0
    while n > 0:
        r *= x if n & 1 else 1.0
        x *= x
        n >>= 1
    return r


@jit()
def _binomial_inversion(n, p, u):
    """Exact CDF inversion for 0 < p <= 0.5: the smallest k with F(k) >= u.

    P(X = 0) first (most calls of the kernels end there, most below its lower bound
    ``1 - n p``, which needs no power); then four counts per step: their
    pmfs from the last one by products of the ratios ``pmf(j+1) / pmf(j) = (n - j) / (j +
    1) * p / (1 - p)`` (reciprocals from a table), their CDF values as partial sums added
    to the running CDF, and the count of those below ``u`` taken without a branch. The
    running CDF and pmf depend on one product and one sum a step, not four, so the steps
    overlap. Non-decreasing in ``u``: the partial sums are.
    """
    nf = np.float64(n)
    if u <= 1.0 - nf * p:
        # below P(X = 0) >= 1 - n p (Bernoulli's inequality): 0 with no power formed,
        # where the kernels' default counts mostly end
        return 0
    q = 1.0 - p
    pmf = _power(q, n) if n <= POWER_LIMIT else math.exp(n * math.log1p(-p))
    cdf = pmf
    if u <= cdf:
        return 0
    ratio = p / q
    mode = math.floor((nf + 1.0) * p)
    k = 0.0  # a float counter: no int-to-float conversion in the loop
    inv = _RECIPROCALS
    while True:
        if k < RECIPROCAL_LIMIT:
            j = np.uint64(k)  # unsigned: no code for negative indices
            r0 = (nf - k) * inv[j] * ratio
            r1 = (nf - k - 1.0) * inv[j + np.uint64(1)] * ratio
            r2 = (nf - k - 2.0) * inv[j + np.uint64(2)] * ratio
            r3 = (nf - k - 3.0) * inv[j + np.uint64(3)] * ratio
        else:
            r0 = (nf - k) / (k + 1.0) * ratio
            r1 = (nf - k - 1.0) / (k + 2.0) * ratio
            r2 = (nf - k - 2.0) / (k + 3.0) * ratio
            r3 = (nf - k - 3.0) / (k + 4.0) * ratio
        r01 = r0 * r1
        p1 = pmf * r0
        p2 = pmf * r01
        p3 = p2 * r2
        p4 = pmf * (r01 * (r2 * r3))
        s12 = p1 + p2
        c1 = cdf + p1
        c2 = cdf + s12
        c3 = cdf + (s12 + p3)
        c4 = cdf + (s12 + (p3 + p4))
        if c4 >= u:
            # the counts below u (as numbers: NumPy's bool + bool is a logical or)
            k += 1.0 + np.float64(c1 < u) + np.float64(c2 < u) + np.float64(c3 < u)
            break
        k += 4.0
        if k >= nf or (c4 == cdf and k > mode):
            # past n, or the upper tail exhausted in floating point (u within rounding of
            # 1): stop rather than walk on to n
            break
        cdf = c4
        pmf = p4
    return min(np.int64(k), n)


@jit()
def binomial_from_uniform(n, p, u):
    """Binomial(n, p) variate by inversion of the CDF at the uniform ``u``.

    A deterministic, non-decreasing function of ``u`` for fixed ``(n, p)``,
    so it can be driven by common random numbers.

    Regimes
    -------
    * ``n <= 0`` or ``p <= 0``: 0; ``p >= 1``: ``n`` (exact).
    * ``p > 0.5``: symmetry, ``n - X(n, 1 - p, 1 - u)``.
    * ``n * min(p, 1 - p) <= 400`` (``BINOMIAL_EXACT_LIMIT``): exact
      inversion, smallest ``k`` with ``F(k) >= u`` using
      ``pmf(0) = (1 - p)**n`` (repeated squaring up to ``n = 1024``, else
      ``exp(n log1p(-p))``) and ``pmf(k+1) = pmf(k) (n - k) / (k + 1) * p / (1 - p)``,
      four counts a step (:func:`_binomial_inversion`). Differs from the
      exact quantile only when ``u`` is within round-off (~1e-13) of a CDF
      value, so in the far tails (``u`` or ``1 - u`` below ~1e-13) it can be
      off by a few counts; the loop never passes ``n`` and stops once the
      summed tail no longer changes the CDF.
    * otherwise: normal approximation with Cornish–Fisher skewness term,
      ``z = norm_ppf(u)``, ``k = round(np + s (z + (z**2 - 1) g / 6))``
      with ``s = sqrt(np(1-p))``, ``g = (1 - 2p) / s``, clipped to
      ``[0, n]``. Error is well below one count for ``u`` in
      [0.001, 0.999] (s > 20 here).

    Parameters
    ----------
    n : int
        Number of trials (``>= 0``).
    p : float
        Success probability.
    u : float
        Uniform in (0, 1).

    Returns
    -------
    np.int64
    """
    n = np.int64(n)
    if n <= 0 or p <= 0.0:
        return np.int64(0)
    if p >= 1.0:
        return n
    flip = p > 0.5
    if flip:
        p = 1.0 - p
        u = 1.0 - u
    nf = np.float64(n)
    mean = nf * p
    if mean <= BINOMIAL_EXACT_LIMIT:
        k = np.int64(_binomial_inversion(n, p, u))
    else:
        sd = math.sqrt(mean * (1.0 - p))
        skew = (1.0 - 2.0 * p) / sd
        z = norm_ppf(u)
        x = mean + sd * (z + (z * z - 1.0) * skew / 6.0)
        x = math.floor(x + 0.5)
        if x < 0.0:
            x = 0.0
        elif x > nf:
            x = nf
        k = np.int64(x)
    if flip:
        return n - k
    return k


@jit()
def bernoulli_threshold(p):
    """Threshold ``t`` with ``P(word < t) ~= p`` for a uniform 32-bit word.

    ``t = min(floor(p * 2**32), 2**32 - 1)``; ``p <= 0`` (or NaN) gives 0.
    The event probability is ``t / 2**32``, i.e. ``p`` rounded down to a
    multiple of 2**-32; in particular ``p >= 1`` gives ``0xFFFFFFFF`` and
    probability ``1 - 2**-32``. Branch on ``p >= 1`` where certainty matters.

    Returns
    -------
    np.uint32
    """
    if not (p > 0.0):
        return np.uint32(0)
    t = math.floor(p * 4294967296.0)
    t = min(t, 4294967295.0)
    return np.uint32(np.uint64(t))
