"""Monte Carlo confidence intervals for paths that share a book replica.

Path ``p`` lends from book replica ``p mod K`` (DESIGN §5, the ``replica`` coordinate), so
paths on one replica are correlated: in the shipped process-fed scenarios a target's
attainment can take one value per replica. Treating the paths as independent then claims a
precision the run does not have. Every interval here treats the replicas as clusters:

* **means** — cluster-robust standard error (CR1: the sandwich over cluster sums of the
  residuals with the small-sample factor ``G / (G - 1)``) and Student's t with ``G - 1``
  degrees of freedom, ``G`` the number of clusters;
* **shares** (P(target), P(insolvency)...) — a Wilson interval on the effective number of
  paths ``p (1 - p) / V_CR1``, kept between ``G`` (every path of a replica alike) and ``n``
  (paths independent), with the t quantile. When every cluster sits at 0% or at 100% the
  data say nothing about the dependence within a replica and the worst case ``G`` is taken:
  with 4 replicas all at 100%, the interval is the Wilson interval of 4 out of 4;
* **differences between variants** — paired path by path (the variants share their random
  numbers, so path ``p`` of one is path ``p`` of the other), then the mean interval of the
  differences, clustered the same way;
* **VaR and ES** — a cluster bootstrap: replicas drawn with replacement (all their paths
  with them), the statistic of each resample, the 2.5% and 97.5% quantiles of those.

With one book (lending from volumes, or ``processes.replicas: 1``) every path is its own
cluster: the ordinary intervals for independent paths, given that book. Each result names
its method (``method``) and says whether it is ``approximate``: fewer than
:data:`MIN_CLUSTERS` clusters.

Under importance sampling (a ``path_weight`` coordinate that is not all 1) every interval
weighs the paths: a mean is the ratio estimator ``sum(w x) / sum(w)`` with the CR1
variance of its linearisation (cluster sums of ``w (x - mean)`` over ``sum(w)``); a share
is the same, its effective number of paths at most ``n`` and at least the smaller of
``G`` and Kish's effective sample size, which replaces ``n`` when the share's variance is
0; the bootstrap resamples replicas and weighs each path by its count times its weight.

Only Monte Carlo uncertainty over paths is covered here, never parameter uncertainty.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from .weights import WEIGHT, effective_sample_size, path_weights, weighted_tail

#: two-sided 95% normal quantile
Z95 = 1.959963984540054
#: confidence of every interval
CONFIDENCE = 0.95
#: fewer clusters than this and an interval is labelled approximate. Cluster-robust
#: standard errors are biased low and their t intervals under-cover with few clusters;
#: with about 20 balanced clusters CR1 with t(G - 1) is close to nominal (Cameron & Miller
#: 2015, "A practitioner's guide to cluster-robust inference", §VI), which the coverage
#: test in tests/test_intervals.py checks at 40 clusters.
MIN_CLUSTERS = 20
#: resamples of the cluster bootstrap for VaR and ES
BOOTSTRAP_DRAWS = 999


def cluster_labels(
    values: xr.DataArray, dim: str = "path", clusters=None
) -> tuple[np.ndarray, str]:
    """The cluster of each entry along ``dim`` and what the clusters are.

    ``clusters`` (labels along ``dim``, or several rows of them) wins; else the ``replica``
    coordinate of ``values``. Entries that share a label in any row share a cluster (over
    variants with different replica counts, paths that share a book in either variant).
    The kind is ``replica``; ``path`` when there is one book or no labels (each path its
    own cluster); ``overlap`` when several books exist but chain every path together, so
    no clustering is possible (paths are then taken as independent, and the interval is
    approximate).
    """
    n = values.sizes[dim]
    if clusters is not None:
        rows = np.asarray(clusters).reshape(-1, n)
    elif "replica" in values.coords and dim in values.coords["replica"].dims:
        rows = values.coords["replica"].transpose(..., dim).values.reshape(-1, n)
    else:
        return np.arange(n), "path"
    labels = _connected(rows)
    if np.unique(labels).size > 1:
        return labels, "replica"
    return np.arange(n), "overlap" if np.unique(rows).size > 1 else "path"


def _connected(rows: np.ndarray) -> np.ndarray:
    """Cluster of each column: columns equal in any row are joined (connected components)."""
    label = np.unique(rows[0], return_inverse=True)[1]
    for _ in range(rows.shape[1]):  # each pass merges; stops at the fixed point
        before = label.copy()
        for row in rows:
            _, group = np.unique(row, return_inverse=True)
            lowest = np.full(group.max() + 1, label.max() + 1)
            np.minimum.at(lowest, group, label)
            label = lowest[group]
        if np.array_equal(label, before):
            break
    return np.unique(label, return_inverse=True)[1]


def _method(kind: str, g: int, what: str) -> str:
    if kind == "path":
        return f"{what}, {g} independent paths (one book), t with {g - 1} df"
    if kind == "overlap":
        return (
            f"{what}, {g} paths taken as independent (the variants' book replicas chain "
            f"every path together), t with {g - 1} df"
        )
    return f"{what}, cluster-robust over {g} book replicas (CR1), t with {g - 1} df"


def _quantile(g: int) -> float:
    """Two-sided t quantile with ``g - 1`` degrees of freedom (the normal one as g grows)."""
    from scipy.special import stdtrit  # light next to scipy.stats

    return float(stdtrit(g - 1, 0.5 + CONFIDENCE / 2)) if g > 1 else math.nan


def _cluster_moments(values: xr.DataArray, dim: str, labels: np.ndarray):
    """Mean over ``dim`` and its CR1 variance, each as a NumPy array of the other dims."""
    x = np.asarray(values.transpose(..., dim).values, dtype=float)
    n = x.shape[-1]
    group = np.unique(labels, return_inverse=True)[1]
    g = int(group.max()) + 1
    member = np.zeros((n, g))
    member[np.arange(n), group] = 1.0
    weights = path_weights(values, dim)
    if weights is None:
        mean = x.mean(axis=-1)
        sums = (x - mean[..., None]) @ member  # residuals summed within each cluster
        total = float(n)
    else:  # the ratio estimator sum(w x) / sum(w), linearised
        w = _aligned(weights, values, dim, x.shape)
        total = w.sum(axis=-1)
        mean = (w * x).sum(axis=-1) / total
        sums = (w * (x - mean[..., None])) @ member
    var = g / (g - 1) * (sums**2).sum(axis=-1) / total**2 if g > 1 else np.zeros_like(mean)
    return mean, var, g


def _aligned(weights: xr.DataArray, values: xr.DataArray, dim: str, shape) -> np.ndarray:
    """The path weights as an array of ``values.transpose(..., dim)``'s shape."""
    order = values.transpose(..., dim).dims
    return np.broadcast_to(weights.broadcast_like(values).transpose(*order).values, shape)


def _wrap(values: xr.DataArray, dim: str, arrays: dict, attrs: dict) -> xr.Dataset:
    other = [d for d in values.transpose(..., dim).dims if d != dim]
    coords = {c: values.coords[c] for c in values.coords if dim not in values.coords[c].dims}
    # the coords come with the first array only: merging them once per array, each
    # compared with the last, took most of a summary's intervals' time
    (first, array), *rest = arrays.items()
    return xr.Dataset(
        {
            first: xr.DataArray(array, dims=other, coords=coords),
            **{k: (other, v) for k, v in rest},
        },
        attrs=attrs,
    )


def mean_interval(values: xr.DataArray, dim: str = "path", clusters=None) -> xr.Dataset:
    """Mean over ``dim`` with its cluster-robust standard error and 95% interval.

    Clusters as :func:`cluster_labels` finds them (the ``replica`` coordinate); with path
    weights (importance sampling) the weighted ratio estimator. The result's attrs give
    ``method``, ``clusters`` and ``approximate``. NaN in, NaN out.

    >>> import xarray as xr
    >>> r = mean_interval(xr.DataArray([1.0, 2.0, 3.0, 4.0], dims="path"))
    >>> float(r["mean"]), round(float(r["low"]), 3), r.attrs["approximate"]
    (2.5, 0.446, True)
    >>> shared = xr.DataArray([1.0, 2.0, 3.0, 4.0], dims="path",
    ...                       coords={"replica": ("path", [0, 1, 0, 1])})
    >>> mean_interval(shared).attrs["method"]
    'mean, cluster-robust over 2 book replicas (CR1), t with 1 df'
    """
    labels, kind = cluster_labels(values, dim, clusters)
    mean, var, g = _cluster_moments(values, dim, labels)
    se = np.sqrt(var)
    q = _quantile(g) if g > 1 else 0.0
    return _wrap(
        values,
        dim,
        {"mean": mean, "se": se, "low": mean - q * se, "high": mean + q * se},
        _attrs(_method(kind, g, "mean"), g, kind),
    )


def _attrs(method: str, g: int, kind: str) -> dict:
    return {
        "method": method,
        "clusters": g,
        "approximate": bool(g < MIN_CLUSTERS or kind == "overlap"),
        "confidence": CONFIDENCE,
    }


def wilson_interval(p, n, z: float = Z95) -> tuple:
    """Wilson interval for a share ``p`` of ``n`` independent trials (works at 0 and 1).

    The building block of :func:`probability_interval`, where ``n`` is the effective
    number of paths; on its own it treats every path as independent.

    >>> [round(x, 4) for x in wilson_interval(0.0, 100)]
    [0.0, 0.037]
    """
    p, n = np.asarray(p, dtype=float), np.asarray(n, dtype=float)
    z2 = z**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    low, high = np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def probability_interval(hits: xr.DataArray, dim: str = "path", clusters=None) -> xr.Dataset:
    """Share of paths where ``hits`` holds, with a cluster-robust 95% Wilson interval.

    The Wilson interval is taken on the effective number of paths ``p (1 - p) / V``
    (``V`` the CR1 variance of the share), kept between the number of clusters ``G`` and
    the number of paths ``n``; when every cluster is at 0% or every one at 100%
    (``V = 0`` at ``p`` 0 or 1) it is ``G``. The quantile is t with ``G - 1`` df.

    >>> import xarray as xr
    >>> hits = xr.DataArray([True] * 8, dims="path",
    ...                     coords={"replica": ("path", [0, 1, 2, 3] * 2)})
    >>> r = probability_interval(hits)   # 4 replicas, all at 100%: 4 out of 4
    >>> float(r["p"]), round(float(r["low"]), 3), r.attrs["approximate"]
    (1.0, 0.283, True)
    """
    labels, kind = cluster_labels(hits, dim, clusters)
    p, var, g = _cluster_moments(hits.astype(float), dim, labels)
    n = hits.sizes[dim]
    ess = min(effective_sample_size(hits, dim), n)  # n without weights
    fewest = min(g, ess)
    spread = p * (1 - p)
    with np.errstate(divide="ignore", invalid="ignore"):
        effective = np.where(var > 0, spread / var, np.where(spread > 0, ess, fewest))
    effective = np.clip(effective, fewest, n)
    low, high = wilson_interval(p, effective, _quantile(g) if g > 1 else Z95)
    return _wrap(
        hits,
        dim,
        {"p": p, "effective_paths": effective, "low": low, "high": high},
        _attrs(_method(kind, g, "share: Wilson on the effective number of paths"), g, kind),
    )


def difference_interval(
    a: xr.DataArray, b: xr.DataArray | None = None, dim: str = "path", clusters=None
) -> xr.Dataset:
    """Mean of ``a - b`` path by path (paired: common random numbers) with its interval.

    ``a`` and ``b`` are the same quantity under two variants on the same paths (or ``a``
    alone already holds those paired differences). The differences are clustered by the
    replicas of either variant: paths that share a book in one of them share a cluster.

    >>> import xarray as xr
    >>> a = xr.DataArray([3.0, 5.0, 4.0, 6.0], dims="path")
    >>> b = xr.DataArray([1.0, 3.0, 2.0, 4.0], dims="path")  # a - b = 2 on every path
    >>> r = difference_interval(a, b)
    >>> float(r["low"]), float(r["high"]), r.attrs["method"].split(",")[0]
    (2.0, 2.0, 'paired difference of means')
    """
    pair = [a] if b is None else [a, b]
    if b is not None and not np.array_equal(a[dim].values, b[dim].values):
        raise ValueError(f"a paired difference needs the same {dim}s in both variants")
    if clusters is None:
        n = a.sizes[dim]
        rows = [
            x.coords["replica"].transpose(..., dim).values.reshape(-1, n)
            for x in pair
            if "replica" in x.coords and dim in x.coords["replica"].dims
        ]
        clusters = np.concatenate(rows) if rows else None
    if (
        b is not None
        and WEIGHT in a.coords
        and WEIGHT in b.coords
        and not np.array_equal(a.coords[WEIGHT].values, b.coords[WEIGHT].values)
    ):
        raise ValueError(
            "a paired difference needs the same path weights in both variants "
            "(importance sampling with one shift for every variant)"
        )
    diff = a if b is None else a - b
    out = mean_interval(diff.drop_vars("replica", errors="ignore"), dim, clusters)
    out.attrs["method"] = "paired difference of means, " + out.attrs["method"].split(", ", 1)[1]
    return out


def tail_interval(
    values: xr.DataArray,
    level: float,
    statistic: str = "var",
    dim: str = "path",
    clusters=None,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = 0,
) -> xr.Dataset:
    """95% cluster-bootstrap interval for VaR (``statistic="var"``) or ES (``"es"``).

    Each resample draws ``G`` clusters with replacement and weights every path by the
    number of times its cluster was drawn; VaR is the weighted ``level`` quantile, ES the
    weighted mean beyond it. The interval is the 2.5% and 97.5% quantiles of the
    ``draws`` resampled statistics (percentile bootstrap; ``seed`` fixes them). The point
    estimates stay those of :func:`value_at_risk` and :func:`expected_shortfall`.
    """
    if statistic not in ("var", "es"):
        raise ValueError(f"statistic must be 'var' or 'es', not {statistic!r}")
    labels, kind = cluster_labels(values, dim, clusters)
    group = np.unique(labels, return_inverse=True)[1]
    g = int(group.max()) + 1
    x = np.asarray(values.transpose(..., dim).values, dtype=float)
    flat = x.reshape(-1, x.shape[-1])
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, g, size=(draws, g))
    counts = np.zeros((draws, g))
    np.add.at(counts, (np.arange(draws)[:, None], picks), 1.0)
    weights = counts[:, group]  # (draws, n)
    path_weight = path_weights(values, dim)
    w = None if path_weight is None else _aligned(path_weight, values, dim, x.shape)
    low, high = [], []
    for i, row in enumerate(flat):
        order = np.argsort(row, kind="stable")
        if w is None:
            stats = weighted_tail(row[order], weights[:, order], level, statistic)
        else:  # each path's count times its weight, over the resample's paths
            mass = weights[:, order] * w.reshape(-1, x.shape[-1])[i][order]
            stats = weighted_tail(row[order], mass, level, statistic, total=weights.sum(axis=1))
        lo, hi = np.quantile(stats, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
        low.append(lo)
        high.append(hi)
    shape = x.shape[:-1]
    what = "VaR" if statistic == "var" else "ES"
    how = f"{g} book replicas, resampled whole" if kind == "replica" else f"{g} paths"
    return _wrap(
        values,
        dim,
        {"low": np.reshape(low, shape), "high": np.reshape(high, shape)},
        _attrs(f"{what} {level:g}, percentile bootstrap ({draws} draws) over {how}", g, kind),
    )
