"""What drives the spread of each target's attainment over paths (issue 9, part A).

The variance over paths of a target's attainment is split among four sources:

* ``credit_cycle``: the path's systematic factors (``year_factor``) of the years up to the
  target's last year (later years cannot move it);
* ``parameters``: the path's uncertain parameters (``parameter_value``), when there are any;
* ``book_replica``: the book replica the path lends from (the ``replica`` coordinate):
  paths on one replica share its applicants, decisions and process-fed lending;
* ``defaults``: the rest: idiosyncratic defaults and renewals, plus whatever the
  regression below does not capture (interactions between the groups, shapes beyond a
  square).

Method. Ordinary least squares of the attainment on three groups of regressors: every
factor-year and every parameter, standardised, with its square (linear and quadratic
terms; no interactions); the replicas as dummies (one per replica but the first). A
group's share is its Shapley value of the R²: its gain in R² when it joins the
regression, averaged over the orders in which the three groups can enter (weights 1/3 for
joining none or both others, 1/6 for joining one), so the shares do not depend on an
order. This is the group level of an Owen decomposition. The three shares sum to the R² of
the full regression and ``defaults`` is 1 − R², so the four sum to 1. With independent
sources acting additively, each share is the source's share of the variance. What two
groups explain jointly (e.g. a parameter drawn per book replica, which the replica dummies
also carry) is split between them in halves.

Sampling. R² overstates in small samples: a group that explains nothing gets about its
number of regressors / paths (two per factor-year or parameter: 6 / 1,000 = 0.6 points
for three years of one factor), taken from ``defaults``.

Degenerate cases (the shares are NaN and ``note`` says why, or the model is reduced and
``note`` says how): attainment not finite on some path; fewer than two paths; no variance
over paths; fewer paths than regressors with squares + 2 (the squares are dropped), or
than the linear regressors + 2 (NaN). A group without regressors (one replica, no drawn
parameter, a parameter that does not vary) has share 0.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> f, r = rng.normal(size=(4000, 1)), np.arange(4000) % 2
>>> y = 2.0 * f[:, 0] + 1.0 * r + rng.normal(size=4000)  # variances 4, 0.25, 1
>>> shares, note = variance_shares(y, f, np.empty((4000, 0)), r)
>>> [round(float(s), 2) for s in shares], note
([0.76, 0.0, 0.05, 0.19], '')
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import xarray as xr
from threadpoolctl import ThreadpoolController

from .weights import path_weights

#: the sources, in the order of the ``variance_source`` dimension
SOURCES = ("credit_cycle", "parameters", "book_replica", "defaults")
#: the regressor groups (the sources but the remainder)
GROUPS = SOURCES[:3]

#: the note of a target whose attainment is the same on every path (its shares are NaN)
CONSTANT = "attainment does not vary over paths"

METHOD = (
    "Shapley (Owen) decomposition of the R² of an OLS regression of attainment over paths "
    "on three groups: year factors up to the target's last year and parameters (each "
    "standardised, linear and squared terms), book-replica dummies; defaults = 1 - R²"
)


def variance_shares(
    y: np.ndarray,
    factors: np.ndarray,
    parameters: np.ndarray,
    replica: np.ndarray,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, str]:
    """Shares of the variance of ``y`` (one value per path) by source (:data:`SOURCES`).

    ``factors`` and ``parameters`` are ``[path, column]``; ``replica`` labels each path's
    book; ``weights`` (importance sampling's ``path_weight``; None: plain) make every
    mean, variance and regression a weighted one (weighted least squares). Returns the four
    shares (summing to 1, or NaN) and a note: ``''``, or why the shares are NaN or the
    squares were dropped.
    """
    y = np.asarray(y, dtype=np.float64)
    n = y.shape[0]
    root = None if weights is None else np.sqrt(np.asarray(weights, float) / np.mean(weights))
    nan = np.full(len(SOURCES), np.nan)
    if not np.isfinite(y).all():
        return nan, "attainment is not finite on some paths"
    if n < 2:
        return nan, "fewer than two paths"
    centred = y - (y.mean() if root is None else np.average(y, weights=root**2))
    if root is not None:  # weighted least squares: every row times sqrt(w)
        centred = centred * root
    if math.sqrt(centred @ centred / n) <= 1e-12 * max(1.0, abs(float(y.mean()))):
        return nan, CONSTANT
    linear = {
        "credit_cycle": _standardised(factors),
        "parameters": _standardised(parameters),
        "book_replica": _dummies(replica),
    }
    squared = {g: np.hstack([x, x**2]) if g != "book_replica" else x for g, x in linear.items()}
    note = ""
    groups = squared
    if n < sum(x.shape[1] for x in squared.values()) + 2:
        groups, note = linear, "linear terms only: fewer paths than regressors with squares"
        if n < sum(x.shape[1] for x in linear.values()) + 2:
            return nan, "fewer paths than regressors"
    # one BLAS thread: on regressions this small, BLAS threads only wait for each other
    # (35 of them took 0.4 s of CPU with 2 threads and 0.05 s with 1, on 2 busy cores)
    with _blas_threads().limit(limits=1, user_api="blas"):
        r2 = {
            subset: _r_squared(centred, [groups[g] for g in subset], root)
            for k in range(len(GROUPS) + 1)
            for subset in itertools.combinations(GROUPS, k)
        }
    shares = np.empty(len(SOURCES))
    k = len(GROUPS)
    for i, g in enumerate(GROUPS):
        others = [h for h in GROUPS if h != g]
        value = 0.0
        for size in range(k):
            weight = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
            for subset in itertools.combinations(others, size):
                joined = tuple(h for h in GROUPS if h in subset or h == g)
                value += weight * (r2[joined] - r2[subset])
        shares[i] = value
    shares[-1] = 1.0 - shares[:-1].sum()
    return shares, note


def attainment_variance_shares(ds: xr.Dataset) -> xr.Dataset:
    """Per target: ``attainment_variance`` (over paths, ddof 0), ``attainment_variance_share``
    (target, variance_source) and ``attainment_variance_note`` (target).

    Reads ``target_attainment``, ``year_factor``, ``parameter_value`` (none when absent)
    and ``replica`` (one book when absent) from one run's results; a comparison is
    decomposed design by design (``ds.sel(scenario=...)``). Without ``year_factor`` (results
    written before it existed) the shares are NaN: the credit cycle cannot be told apart.
    """
    attainment = ds["target_attainment"]
    if set(attainment.dims) != {"path", "target"}:
        raise ValueError(
            "the variance decomposition takes one run's results (dims path, target); "
            f"target_attainment has dims {attainment.dims}: select one design first"
        )
    attainment = attainment.transpose("path", "target")
    n = ds.sizes["path"]
    parameters = (
        ds["parameter_value"].transpose("path", "parameter").values
        if "parameter_value" in ds
        else np.empty((n, 0))
    )
    replica = ds["replica"].values if "replica" in ds.coords else np.zeros(n, dtype=np.int64)
    weights = path_weights(attainment)
    w = None if weights is None else weights.values
    n_target = attainment.sizes["target"]
    shares = np.full((n_target, len(SOURCES)), np.nan)
    notes = []
    for t in range(n_target):
        if "year_factor" not in ds:
            notes.append("no year_factor in the results (written by an earlier version)")
            continue
        last = int(ds["target_to_year"].values[t])
        factors = ds["year_factor"].sel(year=ds.year <= last).transpose("path", "year", "factor")
        shares[t], note = variance_shares(
            attainment.values[:, t], factors.values.reshape(n, -1), parameters, replica, w
        )
        notes.append(note)
    return xr.Dataset(
        {
            "attainment_variance": ("target", _variance(attainment, w).reshape(n_target)),
            "attainment_variance_share": (("target", "variance_source"), shares),
            # a variable, not a coordinate: it would follow every variable over targets
            "attainment_variance_note": ("target", np.array(notes, dtype=str)),
        },
        coords={
            "target": attainment.target.values,
            "variance_source": np.array(SOURCES, dtype=str),
        },
    )


def _variance(attainment: xr.DataArray, w: np.ndarray | None) -> np.ndarray:
    """Variance over paths (ddof 0), weighted under importance sampling."""
    if w is None:
        return attainment.var("path").values
    x = attainment.transpose("path", "target").values
    mean = np.average(x, axis=0, weights=w)
    return np.average((x - mean) ** 2, axis=0, weights=w)


@functools.cache
def _blas_threads() -> ThreadpoolController:
    """The BLAS libraries of this process, found once: looking for them walks every shared
    library loaded (15-20 ms in a run, which has loaded Numba's, SciPy's and HDF5's)."""
    return ThreadpoolController()


def _standardised(x: np.ndarray) -> np.ndarray:
    """The columns of ``x`` that vary, each centred and scaled to standard deviation 1."""
    x = np.asarray(x, dtype=np.float64).reshape(x.shape[0], -1)
    mean, sd = x.mean(axis=0), x.std(axis=0)
    varies = sd > 1e-12 * np.maximum(1.0, np.abs(mean))
    return (x[:, varies] - mean[varies]) / sd[varies]


def _dummies(labels: np.ndarray) -> np.ndarray:
    """One 0/1 column per label but the first (no columns for a single label)."""
    levels = np.unique(labels)
    return (np.asarray(labels)[:, None] == levels[None, 1:]).astype(np.float64)


def _r_squared(centred_y: np.ndarray, blocks: list[np.ndarray], root=None) -> float:
    """R² of OLS of ``centred_y`` on the columns of ``blocks`` and an intercept; with
    ``root`` (sqrt of the weights), ``centred_y`` is already scaled by it and the
    regressors are centred on their weighted means and scaled likewise (WLS)."""
    columns = [b for b in blocks if b.shape[1]]
    if not columns:
        return 0.0
    x = np.hstack(columns)
    if root is None:
        x = x - x.mean(axis=0)
    else:
        x = (x - np.average(x, axis=0, weights=root**2)) * root[:, None]
    beta, *_ = np.linalg.lstsq(x, centred_y, rcond=None)
    residual = centred_y - x @ beta
    return float(min(1.0, max(0.0, 1.0 - (residual @ residual) / (centred_y @ centred_y))))
