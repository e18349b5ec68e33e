"""Path weights: every metric over paths as an importance-sampling estimate.

A run that samples the credit cycle toward a loss tail (``simulation.importance_sampling``)
gives each path its likelihood ratio, the ``path_weight`` coordinate (DESIGN §5); plain
Monte Carlo gives every path 1. The functions here are the weighted forms of the
reductions over paths the metrics use, each the self-normalised (ratio) estimator:

* mean: ``sum(w x) / sum(w)`` over the paths where ``x`` is not NaN;
* quantile (VaR): the inverse of the weighted empirical distribution estimated from the
  top, ``min{x_(k) : 1 - sum of w above x_(k) / n >= level}`` (values sorted; Glasserman
  2004, "Monte Carlo Methods in Financial Engineering", §9.1): the tail's mass is the
  unbiased ``sum(w 1{x > t}) / n``, not a share of ``sum(w)``, whose noise (the body's few
  heavy weights, under a shift toward the tail) would otherwise move every tail quantile;
* tail mean (ES): the mean of the weighted mass beyond ``level`` on the same scale, the
  path straddling it counted for the part of its mass beyond it; exceedance probabilities
  likewise ``sum(w 1{x > t}) / n``;
* effective sample size (Kish): ``(sum w)**2 / sum(w**2)``: ``n`` for equal weights.

Where there are no weights, or all are 1 (plain Monte Carlo), each function is the plain
reduction it replaces, computed exactly as before (xarray's mean, linear quantile, mean of
the worst ``ceil((1 - level) n)`` paths), so a plain run's numbers do not move by a bit.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

#: the coordinate holding each path's likelihood ratio
WEIGHT = "path_weight"


def path_weights(values: xr.DataArray | xr.Dataset, dim: str = "path") -> xr.DataArray | None:
    """The weights of ``values``' paths, or None when there are none to apply (no
    ``path_weight`` coordinate along ``dim``, or every weight exactly 1)."""
    if WEIGHT not in values.coords or dim not in values.coords[WEIGHT].dims:
        return None
    w = values.coords[WEIGHT]
    if (w.values == 1.0).all():  # on the array: an xarray comparison costs 30x more
        return None
    return w.reset_coords(drop=True)


def weighted_mean(values: xr.DataArray, dim: str = "path") -> xr.DataArray:
    """Mean over ``dim``, weighted by the paths' weights (NaN skipped, as ``.mean`` does).

    >>> import xarray as xr
    >>> x = xr.DataArray([1.0, 3.0], dims="path", coords={"path_weight": ("path", [3.0, 1.0])})
    >>> float(weighted_mean(x))
    1.5
    """
    w = path_weights(values, dim)
    if w is None:
        return values.mean(dim)
    x = values.astype(float) if values.dtype == bool else values
    return x.weighted(w).mean(dim)


def effective_sample_size(values: xr.DataArray | xr.Dataset, dim: str = "path") -> float:
    """Kish's effective number of paths ``(sum w)**2 / sum(w**2)`` (the number of paths of
    a plain run)."""
    weights = path_weights(values, dim)
    if weights is None:
        return float(values.sizes[dim])
    # per variant when the weights differ between them: the smallest
    w = weights.transpose(..., dim).values.reshape(-1, values.sizes[dim])
    return float(np.min(w.sum(axis=-1) ** 2 / (w**2).sum(axis=-1)))


def weighted_tail(
    ordered: np.ndarray, weights: np.ndarray, level: float, statistic: str, total=None
):
    """Weighted VaR (``"var"``) or ES (``"es"``) at ``level`` of sorted values, one per row
    of ``weights`` (each row the weights of ``ordered``'s entries, in the same order).

    ``total`` (one per row, or None) is the mass the weights are shares of. None: their
    sum (the self-normalised distribution; a bootstrap's resample counts). Given (the
    number of paths, under importance sampling), the share of the distribution above each
    value is the weight above it / ``total``, counted from the top: unbiased for each
    threshold, and it does not carry the noise of the body's few heavy weights into the
    tail (module docstring).

    >>> import numpy as np
    >>> x = np.array([0.0, 1.0, 2.0, 10.0])
    >>> float(weighted_tail(x, np.array([[1.0, 1.0, 1.0, 1.0]]), 0.75, "es")[0])
    10.0
    >>> float(weighted_tail(x, np.array([[4.0, 2.0, 1.0, 1.0]]), 0.75, "var")[0])
    1.0
    >>> float(weighted_tail(x, np.array([[9.0, 0.5, 0.3, 0.2]]), 0.9, "var", total=[4.0])[0])
    2.0
    """
    if total is None:
        cum = np.cumsum(weights, axis=1)
        share = cum / cum[:, -1:]
    else:  # 1 - the weight strictly above each value, over the total
        above = np.cumsum(weights[:, ::-1], axis=1)[:, ::-1] - weights
        share = 1.0 - above / np.reshape(np.asarray(total, dtype=float), (-1, 1))
    if statistic == "var":
        first = np.argmax(share >= level - 1e-12, axis=1)
        return ordered[first]
    if total is None:
        before = np.concatenate([np.zeros_like(share[:, :1]), share[:, :-1]], axis=1)
    else:
        before = share - weights / np.reshape(np.asarray(total, dtype=float), (-1, 1))
    beyond = np.clip(share - np.maximum(before, level), 0.0, None)  # mass past the level
    return (beyond * ordered).sum(axis=1) / beyond.sum(axis=1)


def weighted_tail_over(
    values: xr.DataArray, weights: xr.DataArray, level: float, statistic: str, dim: str
) -> np.ndarray:
    """:func:`weighted_tail` of ``values`` over ``dim`` for every other index (NaN values
    get no weight; infinities are values), as an array of the other dims in the order of
    ``values.transpose(..., dim)``."""
    x = np.asarray(values.transpose(..., dim).values, dtype=float)
    w = np.broadcast_to(
        np.asarray(weights.broadcast_like(values).transpose(*values.transpose(..., dim).dims)),
        x.shape,
    )
    flat_x, flat_w = x.reshape(-1, x.shape[-1]), w.reshape(-1, x.shape[-1])
    out = np.full(flat_x.shape[0], np.nan)
    for i, (row, wrow) in enumerate(zip(flat_x, flat_w, strict=True)):
        ok = ~np.isnan(row)
        if not ok.any():
            continue
        order = np.argsort(row[ok], kind="stable")
        # the weight above a value over the number of paths: the importance-sampling tail
        kept = wrow[ok][order][None, :]
        out[i] = weighted_tail(row[ok][order], kept, level, statistic, total=[ok.sum()])[0]
    return out.reshape(x.shape[:-1])


def weighted_quantile(values: xr.DataArray, q, dim: str = "path") -> xr.DataArray:
    """Quantiles ``q`` (a number or a list, with a ``quantile`` dimension) over ``dim``:
    xarray's linear quantile without weights, the weighted one (module docstring) with."""
    w = path_weights(values, dim)
    if w is None:
        return values.quantile(q, dim=dim, method="linear")
    levels = np.atleast_1d(np.asarray(q, dtype=float))
    other = [d for d in values.transpose(..., dim).dims if d != dim]
    coords = {c: values.coords[c] for c in values.coords if dim not in values.coords[c].dims}
    parts = [
        xr.DataArray(weighted_tail_over(values, w, lv, "var", dim), dims=other, coords=coords)
        for lv in levels
    ]
    out = xr.concat(parts, dim=xr.DataArray(levels, dims="quantile", name="quantile"))
    return out.isel(quantile=0) if np.ndim(q) == 0 else out
