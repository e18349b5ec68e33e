"""Builders for tests: tiny results Datasets stated in a few lines (like ``xarray.testing``).

A metric test states its inputs, the metric's answer is worked out by hand, and the two are
compared; nothing has to be simulated. :func:`results_dataset` lays small explicit arrays
out with the results contract's dims, coords and attrs (DESIGN §5), so every function of
:mod:`guarantee_sim.results` accepts what it returns.

>>> from guarantee_sim.testing import results_dataset
>>> ds = results_dataset(
...     years=[2021, 2022],
...     segments={"first": ["first_time"], "other": []},
...     parties={"bank": "bank", "guarantor": "guarantor"},
...     loss={"guarantor": [[1.0, 2.0], [3.0, 4.0]]},  # (path, year)
... )
>>> dict(ds.sizes)  # doctest: +NORMALIZE_WHITESPACE
{'path': 2, 'year': 2, 'segment': 2, 'party': 3, 'target': 0, 'parameter': 0, 'factor': 1,
 'variance_source': 4, 'scheme': 1}
>>> ds.loss.sel(party="guarantor").sum("year").values.tolist()
[3.0, 7.0]

Loan books for the engine are built the same way, one mapping per record, with
:meth:`LoanBook.from_records <guarantee_sim.book.LoanBook.from_records>` (re-exported here):

>>> from guarantee_sim.testing import LoanBook
>>> book = LoanBook.from_records(
...     [{"segment": 0, "month": m, "tenor": 12, "amount": 1e6} for m in (0, 0, 1)],
...     segments=["sme"])
>>> book.month.tolist(), len(book)
([0, 0, 1], 3)

This module imports only NumPy, xarray, the package's leaves ``results`` and ``book``,
and the kernels' variable names (``kernels.layout``: names and namedtuples, no Numba).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import xarray as xr

from .book import LoanBook
from .kernels.layout import PARTY_VARIABLES, SEGMENT_VARIABLES, YEAR_VARIABLES
from .results.dataset import (
    annotate,
    with_parameters,
    with_targets,
    with_variance_shares,
    with_year_factors,
)
from .results.weights import weighted_mean

__all__ = [
    "PARTY_STATE",
    "VARIABLE_DIMS",
    "LoanBook",
    "results_dataset",
    "with_path_weights",
    "with_replicas",
]

#: dims of each variable of the results contract (without ``scenario``)
VARIABLE_DIMS = {
    **dict.fromkeys(SEGMENT_VARIABLES, ("path", "year", "segment")),
    **dict.fromkeys(PARTY_VARIABLES, ("path", "year", "party")),
    **dict.fromkeys(YEAR_VARIABLES, ("path", "year")),
    "public_loss": ("path", "year"),
    **dict.fromkeys(
        (
            "applications",
            "approvals",
            "rejections",
            "abandoned",
            "decision_days_mean",
            "approved_pd_mean",
        ),
        ("year", "segment"),
    ),
    "booked_approvals": ("year", "applied_segment", "segment"),
    "staff_utilisation": ("year", "party"),
}
#: party variables that are a state, not a flow: NaN unless given (an unknown balance is
#: never read as zero, so no test meets an insolvency it did not state)
PARTY_STATE = (
    "capital",
    "guarantee_outstanding",
    "leverage",
    "max_origination_leverage",
    "compensation_rate",
)
#: always present (DESIGN §5); process variables only when given
CORE = tuple(n for n, dims in VARIABLE_DIMS.items() if dims[0] == "path")


def results_dataset(
    *,
    years: Iterable[int],
    segments: Mapping[str, Iterable[str] | str],
    parties: Mapping[str, str],
    paths: int | None = None,
    public: Iterable[str] | None = None,
    lgd: Mapping[str, float] | None = None,
    targets: Mapping[str, Mapping] | None = None,
    schemes: Mapping[str, Mapping] | None = None,
    segment_scheme: Mapping[str, str] | None = None,
    caps: Mapping[str, Mapping[str, float]] | None = None,
    name: str = "test",
    seed: int = 0,
    **variables,
) -> xr.Dataset:
    """A small results Dataset from explicit arrays.

    Parameters
    ----------
    years : iterable of int
        Calendar years, in order.
    segments : mapping
        Segment name -> its tags (a list, or a comma-separated string).
    parties : mapping
        Party name -> kind (``bank``, ``guarantor``, ``reguarantor``, ``pool``). The
        implicit party ``unabsorbed`` is appended, as in every results set.
    paths : int, optional
        Number of paths; by default the leading length of the first per-path array given.
    public : iterable of str, optional
        Government-owned parties (``party_public``); by default the pools.
    lgd : mapping, optional
        Segment name -> LGD (the ``segment_lgd`` coord; NaN where not given).
    targets : mapping, optional
        Target name -> ``{metric, tags, kind, from_year, to_year, value[, label]}``, as a
        scenario's ``targets:`` section says it. ``target_attainment`` and
        ``target_probability`` (share of paths with attainment >= 1) are then added.
    schemes : mapping, optional
        Scheme name -> ``{coverage, split: {party: proportion}[, label]}`` (the
        ``scheme_*`` coords); by default one scheme ``own_risk`` in which the bank keeps
        the whole loss (coverage 0).
    segment_scheme : mapping, optional
        Segment name -> its scheme (``segment_scheme``); by default the first scheme.
    caps : mapping, optional
        Party name -> ``{leverage_cap, compensation_rate_cap}`` (NaN where not given).
    name, seed : optional
        The ``scenario`` and ``seed`` attrs (``discount_rate`` is the schema's default,
        0.026; set ``ds.attrs["discount_rate"]`` for another).
    **variables
        Contract variables by name (see :data:`VARIABLE_DIMS`), each either an array of
        the variable's full shape (``(path, year, segment)`` ...), a scalar, or for
        segment and party variables a mapping label -> array without that dim (labels
        left out are filled as below).

    Returns
    -------
    xarray.Dataset
        Every variable of DESIGN §5 that the kernels produce, with ``units`` and
        ``long_name``. What is not given: flows are 0 (``unabsorbed``'s cash flows NaN, as
        in every results set), party states (:data:`PARTY_STATE`) NaN, ``public_loss``
        the public parties' loss. Process variables are present only when given.

    Examples
    --------
    A stock target read at the end of its period, and a guarantor's capital:

    >>> ds = results_dataset(
    ...     years=[2021, 2022, 2023],
    ...     segments={"renewal": "renewal"},
    ...     parties={"bank": "bank", "guarantor": "guarantor"},
    ...     outstanding_amount=[[[10.0], [20.0], [30.0]]],  # one path
    ...     capital={"guarantor": [[5.0, 0.0, 1.0]]},
    ...     targets={"balance": {"metric": "outstanding_amount", "tags": ["renewal"],
    ...                          "kind": "stock", "from_year": 2021, "to_year": 2022,
    ...                          "value": 40.0}},
    ... )
    >>> float(ds.target_attainment.sel(target="balance", path=0))
    0.5
    >>> ds.capital.sel(party="bank").isnull().all().item()
    True
    >>> ds.loss.attrs["units"]
    'CNY'
    """
    years = [int(y) for y in years]
    seg_names = list(segments)
    seg_tags = [t if isinstance(t, str) else ",".join(t) for t in segments.values()]
    party_names = [*parties, "unabsorbed"]
    kinds = [*parties.values(), "unabsorbed"]
    public = {p for p, k in parties.items() if k == "pool"} if public is None else set(public)
    unknown = set(variables) - set(VARIABLE_DIMS)
    if unknown:
        raise ValueError(f"not contract variables: {sorted(unknown)}")
    labels = {"year": years, "segment": seg_names, "applied_segment": seg_names}
    labels["party"] = party_names
    n_paths = paths if paths is not None else _paths_of(variables)
    labels["path"] = list(range(n_paths))

    data_vars = {}
    for var, dims in VARIABLE_DIMS.items():
        if var not in variables and var not in CORE:
            continue
        if var == "public_loss" and var not in variables:
            continue  # derived below
        data_vars[var] = (dims, _array(var, dims, variables.get(var), labels, kinds))
    ds = xr.Dataset(
        data_vars,
        coords={
            "path": np.arange(n_paths),
            "year": np.array(years),
            "segment": seg_names,
            "party": party_names,
            **({"applied_segment": seg_names} if "booked_approvals" in data_vars else {}),
        },
    )
    if "public_loss" not in variables:
        ds["public_loss"] = (
            ds["loss"].sel(party=[p for p in party_names if p in public]).sum("party")
        )
    lgd = lgd or {}
    ds = ds.assign_coords(
        segment_label=("segment", seg_names),
        segment_tags=("segment", seg_tags),
        segment_lgd=("segment", [float(lgd.get(s, np.nan)) for s in seg_names]),
        party_kind=("party", kinds),
        party_label=("party", party_names),
        party_public=("party", np.array([p in public for p in party_names], dtype=np.int8)),
        replica=("path", np.zeros(n_paths, dtype=np.int64)),  # one book: see with_replicas
        path_weight=("path", np.ones(n_paths)),  # plain Monte Carlo: see with_path_weights
    )
    ds = with_targets(ds, targets or {})
    # no uncertain parameters: the contract's empty parameter dimension
    ds = with_parameters(ds, np.empty((n_paths, 0)), keys=[], units=[], groups=[], centres=[])
    # no credit cycle: one factor, 0 every year (the decomposition then gives it no share)
    ds = with_year_factors(ds, np.zeros((n_paths, ds.sizes["year"], 1)), names=["economy"])
    ds = with_variance_shares(ds)
    schemes = schemes or {"own_risk": {"coverage": 0.0, "split": {}}}
    ds = _with_terms(ds, schemes, segment_scheme or {}, caps or {})
    annotate(ds)
    ds.attrs.update(
        title=f"guarantee_sim results: {name}",
        scenario=name,
        scenario_label=name,
        scenario_description="",
        sources="[]",
        value_sources="{}",
        origination_years=len(years),
        discount_rate=0.026,
        scenario_yaml="",
        demand_ceiling=1.0,
        importance_sampling="off",
        seed=int(seed),
        n_paths=int(n_paths),
        book_replicas=1,
        granularity="loan",
        lending_source="volumes",
        package_version="",
        created="",
        conventions="money in CNY; rates as decimals per year; counts in loans",
    )
    return ds


def with_replicas(ds: xr.Dataset, replicas: int) -> xr.Dataset:
    """``ds`` as if its lending came from ``replicas`` book replicas (path p uses p mod R).

    >>> ds = with_replicas(results_dataset(years=[2021], segments={"sme": []},
    ...                                    parties={"bank": "bank"}, paths=6), 4)
    >>> ds.replica.values.tolist(), ds.attrs["book_replicas"]
    ([0, 1, 2, 3, 0, 1], 4)
    """
    ds = ds.assign_coords(replica=("path", ds.path.values % int(replicas)))
    annotate(ds)
    ds.attrs.update(book_replicas=int(replicas), lending_source="processes")
    return ds


def with_path_weights(ds: xr.Dataset, weights) -> xr.Dataset:
    """``ds`` as if importance sampling had given its paths ``weights`` (``path_weight``):
    every metric then weighs them. The targets' probability is weighted anew.

    >>> ds = results_dataset(years=[2021], segments={"sme": []}, parties={"bank": "bank"},
    ...                      loss={"bank": [[1.0], [3.0]]})
    >>> float(with_path_weights(ds, [3.0, 1.0]).gs.loss_summary()["mean"].sel(party="bank"))
    1.5
    """
    ds = ds.assign_coords(path_weight=("path", np.asarray(weights, dtype=np.float64)))
    if ds.sizes.get("target"):
        ds["target_probability"] = weighted_mean(ds["target_attainment"] >= 1.0)
    annotate(ds)
    ds.attrs.update(importance_sampling="on")
    return ds


def _paths_of(variables: dict) -> int:
    for var, value in variables.items():
        if VARIABLE_DIMS[var][0] != "path" or value is None or np.isscalar(value):
            continue
        first = next(iter(value.values())) if isinstance(value, Mapping) else value
        return int(np.shape(first)[0])
    raise ValueError("give paths= or at least one per-path array")


def _array(var: str, dims: tuple, value, labels: dict, kinds: list) -> np.ndarray:
    shape = tuple(len(labels[d]) for d in dims)
    last = dims[-1]
    if var in PARTY_STATE or var in ("decision_days_mean", "approved_pd_mean", "staff_utilisation"):
        fill = np.full(shape, np.nan)
    elif var == "demand_multiplier":  # demand that does not follow the credit cycle
        fill = np.ones(shape)
    else:
        fill = np.zeros(shape)
        if last == "party" and var != "loss":  # unabsorbed has a loss and no cash flows
            fill[..., kinds.index("unabsorbed")] = np.nan
    if value is None:
        return fill
    if isinstance(value, Mapping):
        for label, part in value.items():
            if label not in labels[last]:
                raise ValueError(f"{var}: unknown {last} {label!r} (have {labels[last]})")
            fill[..., labels[last].index(label)] = np.broadcast_to(
                np.asarray(part, dtype=np.float64), shape[:-1]
            )
        return fill
    array = np.asarray(value, dtype=np.float64)
    if array.ndim and array.shape != shape:
        raise ValueError(f"{var}: shape {array.shape}, expected {shape} for dims {dims}")
    return np.broadcast_to(array, shape).copy()


def _with_terms(
    ds: xr.Dataset,
    schemes: Mapping[str, Mapping],
    segment_scheme: Mapping[str, str],
    caps: Mapping[str, Mapping[str, float]],
) -> xr.Dataset:
    parties = [str(p) for p in ds.party.values]

    def cap(party: str, key: str) -> float:
        return float(caps.get(party, {}).get(key, np.nan))

    split = np.array(
        [[float(s["split"].get(p, 0.0)) for p in parties] for s in schemes.values()],
        dtype=np.float64,
    ).reshape(len(schemes), len(parties))
    return ds.assign_coords(
        party_leverage_cap=("party", [cap(p, "leverage_cap") for p in parties]),
        party_compensation_rate_cap=("party", [cap(p, "compensation_rate_cap") for p in parties]),
        scheme=list(schemes),
        scheme_label=("scheme", [s.get("label", name) for name, s in schemes.items()]),
        scheme_coverage=("scheme", [float(s["coverage"]) for s in schemes.values()]),
        scheme_split=(("scheme", "party"), split),
        segment_scheme=(
            "segment",
            [segment_scheme.get(str(s), next(iter(schemes))) for s in ds.segment.values],
        ),
    )
