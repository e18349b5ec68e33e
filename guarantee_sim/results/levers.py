"""Grid levers in results: which dimensions are levers, and the designs as one list.

An experiment with a grid (DESIGN §5) gives its results one dimension per lever, named by
the lever and holding its values as a numeric coordinate whose attrs carry ``lever_key``
(the dotted scenario key), ``units``, ``long_name``, ``label_zh`` and ``label_en``.
Tables and briefs that compare designs one by one read a single ``scenario`` dimension:
:func:`stack_levers` gives them that, one entry per design.

>>> import numpy as np, xarray as xr
>>> ds = xr.Dataset(
...     {"loss": (("fee", "path"), np.arange(4.0).reshape(2, 2))},
...     coords={"fee": ("fee", [0.005, 0.01], {"lever_key": "parties.g.fee_rate",
...                                             "label_en": "fee", "label_zh": "费率"})},
... )
>>> lever_dims(ds)
['fee']
>>> flat = stack_levers(ds)
>>> [str(s) for s in flat.scenario.values], flat.fee.values.tolist()
(['fee=0.005', 'fee=0.01'], [0.005, 0.01])
>>> str(flat.variant_overrides.values[1]), str(flat.variant_label_en.values[1])
('{"parties.g.fee_rate": 0.01}', 'fee 0.01')
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable

import numpy as np
import xarray as xr

#: the attr that marks a dimension's coordinate as a grid lever (its dotted scenario key)
LEVER_KEY = "lever_key"
#: the stacked dimension's temporary name (``scenario`` may be one of the stacked)
_STACKED = "_design"


def lever_dims(ds: xr.Dataset | xr.DataArray) -> list[str]:
    """The dimensions of ``ds`` that are grid levers, in the order of its dims."""
    return [str(d) for d in ds.dims if d in ds.coords and LEVER_KEY in ds[d].attrs]


def lever_value(value) -> str:
    """A lever's value as a design name writes it: ``0.01``, ``300000000.0``, ``3``."""
    value = value.item() if isinstance(value, np.generic) else value
    return repr(value)


def stack_levers(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with its lever dimensions (and ``scenario``, if any) stacked into one
    ``scenario`` dimension, first: one entry per design, named ``variant, lever=value,...``
    (``lever=value,...`` without named variants); ``ds`` itself without levers.

    Each lever stays a coordinate along ``scenario`` (its attrs kept), the variant's name
    is the coordinate ``variant``; ``variant_overrides`` (JSON) gains each design's lever
    keys and values, and ``variant_label_zh`` / ``variant_label_en`` read
    ``variant label, lever label value, ...`` ('' when the variant has no label). With a
    counterfactual, ``counterfactual_design`` names each design's: the counterfactual
    variant at the same grid point.
    """
    levers = lever_dims(ds)
    if not levers:
        return ds
    named = "scenario" in ds.dims
    dims = (["scenario"] if named else []) + levers
    flat = _stacked(ds, dims)
    attrs = {lever: dict(ds[lever].attrs) for lever in levers}
    if named:
        flat = flat.rename_vars({"scenario": "variant"})
    n = flat.sizes[_STACKED]
    variants = [str(v) for v in flat["variant"].values] if named else [""] * n
    # per design: its (lever, value) pairs, and the text of its point
    points = [[(lever, flat[lever].values[k]) for lever in levers] for k in range(n)]
    texts = [",".join(f"{lever}={lever_value(x)}" for lever, x in point) for point in points]
    names = [", ".join(filter(None, (v, text))) for v, text in zip(variants, texts, strict=True)]
    overrides = _design_overrides(flat, points, attrs, named)
    labels = {lang: _design_labels(flat, points, attrs, lang, named) for lang in ("zh", "en")}
    counterfactual = str(ds.attrs.get("counterfactual", "") or "")
    if named and counterfactual:  # each design's: the counterfactual variant at its point
        at = {
            text: name
            for name, v, text in zip(names, variants, texts, strict=True)
            if v == counterfactual
        }
        flat = flat.assign_coords(
            counterfactual_design=(
                _STACKED,
                [at[text] for text in texts],
                {"long_name": "the design additional borrowers and lending are measured against"},
            )
        )
    flat = flat.rename_dims({_STACKED: "scenario"}).assign_coords(
        scenario=("scenario", names),
        variant_overrides=(
            "scenario",
            overrides,
            {"long_name": "overrides of the base scenario, as a JSON object"},
        ),
        variant_label_zh=("scenario", labels["zh"], {"long_name": "the design's Chinese label"}),
        variant_label_en=("scenario", labels["en"], {"long_name": "the design's English label"}),
    )
    for lever in levers:
        flat[lever].attrs.update(attrs[lever])
    flat.attrs = dict(ds.attrs)
    return flat.transpose("scenario", ...)


def _stacked(ds: xr.Dataset, dims: list[str]) -> xr.Dataset:
    """``ds`` with ``dims`` stacked into one dimension (the last varying fastest), their
    coordinates kept as plain coordinates along it. Done by hand: ``Dataset.stack`` cannot
    reshape a variable of size 0 (``parameter_value`` without uncertain parameters)."""
    sizes = [ds.sizes[d] for d in dims]
    n = math.prod(sizes)
    where = np.indices(sizes).reshape(len(dims), n)  # each design's position along dims
    data_vars: dict[Hashable, xr.Variable] = {}
    coords: dict[Hashable, xr.Variable] = {}
    for name, var in ds.variables.items():
        into = coords if name in ds.coords else data_vars
        if name in dims:
            values = var.values[where[dims.index(name)]]
            into[name] = xr.Variable(_STACKED, values, var.attrs)
        elif set(dims) & set(var.dims):
            missing = {d: ds.sizes[d] for d in dims if d not in var.dims}
            full = var.set_dims({**missing, **dict(zip(var.dims, var.shape, strict=True))})
            full = full.transpose(*dims, ...)
            rest = full.shape[len(dims) :]
            values = np.reshape(full.values, (n, *rest))  # a copy where needed; size 0 fine
            into[name] = xr.Variable((_STACKED, *full.dims[len(dims) :]), values, var.attrs)
        else:
            into[name] = var
    return xr.Dataset(data_vars, coords=coords, attrs=dict(ds.attrs))


def _design_overrides(flat: xr.Dataset, points, attrs, named: bool) -> list[str]:
    """Each design's overrides: its variant's (or the experiment's common ones), then its
    lever keys and values, as JSON objects."""
    if named and "variant_overrides" in flat.coords:
        base = [json.loads(str(x) or "{}") for x in flat["variant_overrides"].values]
    else:
        common = json.loads(str(flat.attrs.get("experiment_overrides", "") or "{}"))
        base = [common] * len(points)
    return [
        json.dumps(
            {**b, **{attrs[lever][LEVER_KEY]: _plain(value) for lever, value in point}},
            ensure_ascii=False,
        )
        for b, point in zip(base, points, strict=True)
    ]


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _design_labels(flat: xr.Dataset, points, attrs, lang: str, named: bool) -> list[str]:
    """``variant label, lever label value, ...`` per design in ``lang``; '' for a design
    whose variant has no label (reports then name it by its changes, grid values included)."""
    coord = f"variant_label_{lang}"
    given = [str(x) for x in flat[coord].values] if named and coord in flat.coords else None
    out = []
    for k, point in enumerate(points):
        head = given[k] if given else ""
        if named and not head:  # an unlabelled variant: its design is named by its changes
            out.append("")
            continue
        words = [
            f"{attrs[lever].get(f'label_{lang}') or lever} {lever_value(value)}"
            for lever, value in point
        ]
        out.append(", ".join(x for x in (head, *words) if x))
    return out
