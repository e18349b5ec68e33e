"""A sweep's ``result`` group, built on the workers as its designs finish.

Making a Zarr group's ~80 arrays costs ~1-1.5 s of CPU whatever their size (zarr-python's
per-array cost), and the data of a design are written as soon as it is read back: so
neither waits for the last task. The first design read back (:func:`write_slice`, on a
worker) makes the whole group's metadata as ``draft``: the experiment's combined Dataset
(``combine_designs``) of every design shaped like its own, the data variables lazy
(nothing written), each one chunk a design. Then each design writes its own slice of the
numbers it holds (its data variables, each a region of its own chunks) and a marker.
After the last design the client (:func:`complete_draft`) writes only what is made from
all designs together (the design coordinates and the like), the root attrs and the
consolidated metadata, and renames the draft to ``result``.

Bit for bit: the client checks that the draft is what ``to_zarr`` of the combined Dataset
would make (a hash of every variable's name, dims, shape, dtype and attrs, the same for
the draft's Dataset and the combined one), that no design was reindexed in the combine
(so its slice is the combined Dataset's) and that every design's marker is there; else it
writes ``result`` whole as before (:func:`~.runner.write_result`). An experiment with a
counterfactual (whose additionality is made from two designs) is always written whole.

Resuming: a slice killed in its write has no marker and is written again whole (its
chunks are its own); a draft is made under a ``.partial-`` name and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from .store import DESIGNS, PARTIAL, RESULT, design_name

if TYPE_CHECKING:  # pragma: no cover
    from .runner import Plan

DRAFT = "draft"
SLICES = "slices"  # a marker a design whose slice the draft holds
#: fault injection for the tests: "N" SIGKILLs this process in the middle of the N-th
#: design slice it writes (after one array)
KILL_SLICE_ENV = "GUARANTEE_SIM_SWEEP_KILL_IN_SLICE"
_sliced = [0]
#: a design's attrs that ``combine_designs`` makes coordinates of
_COORD_ATTRS = ("scenario_yaml", "discount_rate")


def design_dims(plan: Plan) -> list[str]:
    from ..experiments import _design_dims

    return _design_dims(plan.experiment)


def signature(ds: xr.Dataset) -> str:
    """What ``to_zarr`` makes the arrays' metadata of: every variable's name, role, dims,
    shape, dtype (for text, whether str or bytes) and attrs."""
    parts = []
    for name in sorted(ds.variables, key=str):
        v = ds.variables[name]
        kind = type(v.values.flat[0]).__name__ if v.dtype.kind == "O" and v.size else ""
        role = "coord" if name in ds.coords else "data"
        parts.append([str(name), role, list(v.dims), list(v.shape), v.dtype.str, kind, v.attrs])
    text = json.dumps(parts, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def slice_variables(ds: xr.Dataset, dims: list[str]) -> list[str]:
    """The data variables a design writes its slice of: numbers along every design dim."""
    return [
        str(name)
        for name, v in ds.data_vars.items()
        if v.dtype.kind in "fiub" and list(v.dims[: len(dims)]) == dims
    ]


def write_slice(store: str, plan: Plan, design: int, run: xr.Dataset) -> None:
    """On a worker: design ``design``'s numbers (``run``, read back and summarised) into
    the draft of ``result`` (made first if it is not there), then its marker."""
    import zarr

    if plan.experiment.counterfactual:  # additionality: made from two designs, whole
        return
    marker = Path(store) / SLICES / design_name(design)
    if marker.exists():  # written before a restart
        return
    draft = Path(store) / DRAFT
    if not draft.exists():
        _make_draft(store, plan, run)
        if not draft.exists():
            return
    group = zarr.open_group(str(draft), mode="r+", zarr_format=2)
    dims = design_dims(plan)
    at = _region(group, plan, design, dims)
    arrays = {name: _array(group, name) for name in _listed(group.attrs["slice_variables"])}
    if at is None or not all(_fits(run, name, a, dims) for name, a in arrays.items()):
        return  # not shaped as the draft's designs: no marker, the client writes it whole
    kill = os.environ.get(KILL_SLICE_ENV)
    _sliced[0] += 1
    for i, (name, array) in enumerate(arrays.items()):
        encoded = xr.conventions.encode_cf_variable(run.variables[name], name=name)
        array[at] = np.asarray(encoded.values, dtype=array.dtype)[(None,) * len(dims)]
        if kill and int(kill) == _sliced[0] and i == 0:
            os.kill(os.getpid(), signal.SIGKILL)  # fault injection: one array written
    marker.parent.mkdir(exist_ok=True)
    marker.touch()


def _array(group, name: str):
    import zarr

    array = group[name]
    assert isinstance(array, zarr.Array)  # (a draft holds arrays only)
    return array


def _listed(value) -> list[str]:
    """A list of names kept in a Zarr attr."""
    assert isinstance(value, list)
    return [str(v) for v in value]


def _fits(run: xr.Dataset, name: str, array, dims: list[str]) -> bool:
    """``run[name]`` is a design's slice of ``array`` (its dims and shape after the
    design dims)."""
    if name not in run.data_vars:
        return False
    v = run[name]
    return list(v.dims) == _dims(array)[len(dims) :] and v.shape == array.shape[len(dims) :]


def _dims(array) -> list[str]:
    return _listed(array.attrs["_ARRAY_DIMENSIONS"])


def _region(group, plan: Plan, design: int, dims: list[str]) -> tuple | None:
    """The design's place along each design dim of the draft, as a region (None: not
    there)."""
    from ..experiments import _design_coords

    coords = _design_coords(plan.experiment, plan.designs[design])
    at = []
    for dim in dims:
        known = list(group[dim][:])
        (value,) = coords[dim]
        if value not in known:
            return None
        at.append(slice(known.index(value), known.index(value) + 1))
    return tuple(at)


def _make_draft(store: str, plan: Plan, run: xr.Dataset) -> None:
    """The draft: ``combine_designs`` of every design as ``run`` with the design's own
    coordinates and attrs (from its group in the store, which its first task made), the
    data variables lazy zeros (the metadata only is written), a chunk a design; made under
    a ``.partial-`` name, renamed into place (or dropped: made meanwhile). Not made while
    a design has no group yet."""
    import dask
    import dask.array as da

    from ..experiments import combine_designs

    # named: dask need not hash anything; one assign (each of 40 aligns the Dataset)
    lazy = run.assign(
        {
            name: v.copy(data=da.zeros(v.shape, dtype=v.dtype, name=f"draft-{name}"))
            for name, v in run.data_vars.items()
            if v.dtype.kind in "fiub"
        }
    )
    runs = {}
    for d, design in enumerate(plan.designs):
        like = _shaped_like(lazy, Path(store) / DESIGNS / design_name(d))
        if like is None:  # a design not begun yet: the next design read back tries again
            return
        runs[design] = like
    dims = design_dims(plan)
    # in this thread: through the worker's client a task would secede (store._make_design)
    with dask.config.set(scheduler="synchronous"):
        template = combine_designs(plan.experiment, runs, paths=plan.paths, seed=plan.seed)
        names = slice_variables(template, dims)
        encoding = {n: {"chunks": (1,) * len(dims) + template[n].shape[len(dims) :]} for n in names}
        template.attrs = {"signature": signature(template), "slice_variables": names}
        draft = Path(store) / DRAFT
        partial = draft.with_name(f"{PARTIAL}{draft.name}-{uuid.uuid4().hex[:8]}")
        template.to_zarr(
            str(partial), mode="w", zarr_format=2, consolidated=False, compute=False,
            encoding=encoding,
        )  # fmt: skip
    try:
        os.rename(partial, draft)
    except OSError:  # made by another design meanwhile
        if not draft.exists():
            raise
        shutil.rmtree(partial, ignore_errors=True)


def _shaped_like(lazy: xr.Dataset, group: Path) -> xr.Dataset | None:
    """``lazy`` (a design's results, data lazy) with the coordinates and attrs of the
    design whose group is ``group`` (None: no group yet, or other indexes)."""
    if not group.exists():
        return None
    with xr.open_dataset(group, engine="zarr", chunks=None, consolidated=False) as ds:
        coords = {}
        for name, v in lazy.coords.items():
            if "path" in v.dims or name not in ds.variables:  # (made over paths: the same)
                continue
            if name in lazy.indexes:
                if name not in ds.indexes or not ds.indexes[name].equals(lazy.indexes[name]):
                    return None
            elif ds[name].dims == v.dims:
                coords[name] = _as_written(ds.variables[name])
            else:
                return None
        like = lazy.assign_coords(coords)  # one assign: each aligns the Dataset
        # the attrs combine_designs makes coordinates of (the others are the client's)
        like.attrs = {**lazy.attrs, **{k: ds.attrs[k] for k in _COORD_ATTRS if k in ds.attrs}}
    return like


def _as_written(v: xr.Variable) -> xr.Variable:
    """A variable read back as it was written (text as objects, no encoding)."""
    v = v.load()
    v.encoding = {}
    return v.astype(object) if v.dtype.kind == "T" else v


def complete_draft(plan: Plan, store: Path, combined: xr.Dataset, runs: dict) -> bool:
    """On the client, after every design: the draft made ``result`` (what the designs did
    not write, the root attrs, the consolidated metadata; renamed), when it holds exactly
    ``combined``; False (nothing done) when it does not."""
    import zarr

    draft = Path(store) / DRAFT
    if plan.experiment.counterfactual or not draft.exists():
        return False
    group = zarr.open_group(str(draft), mode="r+", zarr_format=2)
    names = _listed(group.attrs.get("slice_variables", []))
    if not _holds(plan, store, group.attrs.get("signature"), names, combined, runs):
        return False
    _write_the_rest(group, combined, set(names), design_dims(plan))
    zarr.consolidate_metadata(str(draft), zarr_format=2)
    final = Path(store) / RESULT
    shutil.rmtree(final, ignore_errors=True)
    os.rename(draft, final)
    shutil.rmtree(Path(store) / SLICES, ignore_errors=True)
    return True


def _holds(plan: Plan, store: Path, made, names: list[str], combined: xr.Dataset, runs) -> bool:
    """The draft (its ``signature`` as ``made``, its slices ``names``) with every design's
    slice is ``combined``: the same arrays, every design's marker, no design reindexed
    or cast in the combine (so that its slice is combined's)."""
    same = sorted(names) == sorted(slice_variables(combined, design_dims(plan)))
    if made != signature(combined) or not same or set(runs) != set(range(len(plan.designs))):
        return False
    for d, run in runs.items():
        if not (Path(store) / SLICES / design_name(d)).exists():
            return False
        if any(not i.equals(combined.indexes[dim]) for dim, i in run.indexes.items()):
            return False
        if any(run[n].dtype != combined[n].dtype for n in names):
            return False
    return True


def _write_the_rest(group, combined: xr.Dataset, sliced: set[str], dims: list[str]) -> None:
    """Every variable of ``combined`` along a design dim that the designs did not write
    (the same for every design otherwise: the draft's are its values), and the root
    attrs, encoded as ``to_zarr`` encodes them."""
    from xarray.backends.zarr import encode_zarr_attr_value, encode_zarr_variable

    for name, v in combined.variables.items():
        if name in sliced or not set(dims) & set(v.dims):
            continue
        array = _array(group, str(name))
        encoded = encode_zarr_variable(v, name=name)
        array[...] = np.asarray(encoded.values, dtype=array.dtype)
    group.attrs.put({k: encode_zarr_attr_value(v) for k, v in combined.attrs.items()})


def drop_draft(store: Path) -> None:
    """The draft and its markers, when ``result`` was written whole."""
    shutil.rmtree(Path(store) / DRAFT, ignore_errors=True)
    shutil.rmtree(Path(store) / SLICES, ignore_errors=True)
