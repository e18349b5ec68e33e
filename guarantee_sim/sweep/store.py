"""A sweep's Zarr store: one group per design, each task's paths written into it as a
region, and a marker per finished task.

Layout of ``NAME.zarr`` (a Zarr v2 directory store: every dtype of the results has a
specification there, fixed-length text included)::

    .zattrs                   root group's attrs: sweep_format, sweep_hash, experiment,
                              seed, n_paths, task_paths, summaries_only, package_version
    designs/d00003/           design 3's path-level results (simulate's Dataset without
                              what is computed over paths): every array of a path dim at
                              the run's full length, chunked by task (chunk k along
                              ``path`` = paths k * task_paths ...), uncompressed (floats
                              of a Monte Carlo compress poorly); the others whole
    designs/.partial-...      a design group being made (or killed while made): never read
    tasks/d00003_p0000256     task done: design 3, paths 256 .. 256 + task_paths - 1 (an
                              empty file, made after its region is written; summaries
                              only: a group holding the design's outcomes)
    tasks/.partial-...        a summaries task being written: never read
    draft/                    ``result`` being built (sweep/result.py): its metadata, made
                              by the first design read back on a worker, and each
                              design's slice of its numbers (a chunk a design)
    slices/d00003             design 3's slice is in the draft (an empty file)
    result/                   the combined Dataset: the draft completed by the client
                              when every design is in it (or written whole: a
                              counterfactual, designs of other shapes)

Why this layout: a task writes its ~40 path arrays into chunks of its own (one write an
array, no metadata), instead of a group of ~75 arrays of its own (zarr-python's
per-array cost, ~10 ms each, made the writes as long as the simulation), and the combine
reads each design's arrays once. The design's group (its metadata and the coordinates
without a path dim, the same for every task of the design) is made by the first of its
tasks to finish, under a ``.partial-`` name renamed into place (``os.rename`` of a
directory is atomic on POSIX, and fails onto an existing one: the others discard theirs).

Resuming: the marker is written after the task's region, so a task killed at any moment,
SIGKILL in the middle of a chunk included, has no marker and is run again; its chunks
are its own (no other task writes them), so rewriting them whole repairs a half-written
one. Summaries-only tasks are small (a design's outcomes): each writes a group under a
``.partial-`` name and renames it to its own name, which is then the marker.

The root attr ``sweep_hash`` is a hash of every design's validated scenario, the seed, the
paths, the paths per task and the mode: a restart into a store made by another
experiment, seed or size is refused.
"""

from __future__ import annotations

import os
import shutil
import signal
import uuid
from pathlib import Path

import numpy as np
import xarray as xr

#: the version of this layout, in the root's attrs (2: a group a design, regions by task)
FORMAT = 2
DESIGNS = "designs"
TASKS = "tasks"
RESULT = "result"
PARTIAL = ".partial-"
#: fault injection for the tests (tests/test_sweep_runner.py): "N" SIGKILLs this process
#: in the middle of writing the N-th task it writes (after some of its data are on disk)
KILL_ENV = "GUARANTEE_SIM_SWEEP_KILL_IN_WRITE"
_written = [0]


class StoreMismatch(ValueError):
    """The store was made by another sweep (experiment, seed, paths or mode)."""


def task_name(design: int, first_path: int) -> str:
    return f"d{design:05d}_p{first_path:09d}"


def open_store(store: Path, attrs: dict) -> set[str]:
    """Create ``store`` with ``attrs`` (root), or check an existing one was made by the same
    sweep (``attrs["sweep_hash"]``); delete half-written tasks; the names of finished ones."""
    import zarr

    store = Path(store)
    if store.exists():
        try:
            root = zarr.open_group(str(store), mode="r")
            found = dict(root.attrs)
        except Exception as err:  # not a Zarr store at all
            raise StoreMismatch(
                f"{store} exists and is not a sweep's store ({err}); give another --store or "
                "delete it"
            ) from None
        if found.get("sweep_hash") != attrs["sweep_hash"]:
            said = ", ".join(
                f"{k} {found.get(k)!r} (now {attrs[k]!r})"
                for k in ("experiment", "seed", "n_paths", "task_paths", "summaries_only")
                if found.get(k) != attrs[k]
            )
            raise StoreMismatch(
                f"{store} holds another sweep ({said or 'its designs differ'}): it cannot be "
                "resumed with these settings; give another --store, the settings it was "
                "made with, or delete it"
            )
    else:
        store.parent.mkdir(parents=True, exist_ok=True)
        root = zarr.open_group(str(store), mode="w", zarr_format=2)
        root.attrs.update(attrs)
    for entry in store.glob(f"{PARTIAL}*"):  # a draft of ``result`` being made (.result)
        shutil.rmtree(entry, ignore_errors=True)
    for folder in (store / DESIGNS, store / TASKS):
        folder.mkdir(exist_ok=True)
        for entry in folder.glob(f"{PARTIAL}*"):
            shutil.rmtree(entry, ignore_errors=True)
    return {entry.name for entry in (store / TASKS).iterdir()}


def finished(store: Path) -> int:
    """How many tasks the store holds finished."""
    tasks = Path(store) / TASKS
    if not tasks.is_dir():
        return 0
    return sum(1 for entry in tasks.iterdir() if not entry.name.startswith(PARTIAL))


def design_name(design: int) -> str:
    return f"d{design:05d}"


def write_block(store: Path, task, ds: xr.Dataset) -> None:
    """Write a finished task's paths (``ds``: simulate's Dataset for them, without what is
    computed over paths) into its design's group, then its marker."""
    import zarr

    group = Path(store) / DESIGNS / design_name(task.design)
    if not group.exists():
        _make_design(group, ds, task.design_paths, task.block_paths)
    arrays = zarr.open_group(str(group), mode="r+", zarr_format=2)
    region = slice(task.first_path, task.first_path + task.paths)
    kill = os.environ.get(KILL_ENV)
    _written[0] += 1
    for i, name in enumerate(_path_variables(ds)):
        encoded = xr.conventions.encode_cf_variable(ds.variables[name], name=name)
        array = arrays[name]
        assert isinstance(array, zarr.Array)  # (the design's group holds arrays only)
        array[region] = np.asarray(encoded.values, dtype=array.dtype)
        if kill and int(kill) == _written[0] and i == 0:
            os.kill(os.getpid(), signal.SIGKILL)  # fault injection: one array written
    # no fsync: a killed process's writes are in the page cache, which the marker follows;
    # a power cut may not keep their order (a machine's crash is a rerun's business)
    (Path(store) / TASKS / task.name).touch()


def _path_variables(ds: xr.Dataset) -> list[str]:
    return [str(name) for name, v in ds.variables.items() if "path" in v.dims]


def _make_design(group: Path, ds: xr.Dataset, paths: int, block: int) -> None:
    """The design's group: the metadata of every array, ``path`` arrays at their full
    length with nothing in them (written by the tasks), the others whole; made aside and
    renamed in (another task of the design may have made it meanwhile: the same)."""
    import dask
    import dask.array as da

    # computed in this thread (the ``path`` index, as zeros, when the Dataset is made; the
    # rest never), not through a worker's client: that would secede the task from its
    # worker's one thread, the worker would start another task's kernels beside it (two
    # on one worker's core), and this one would wait behind them for a thread
    with dask.config.set(scheduler="synchronous"):
        variables, encoding = dict(ds.variables), {}
        for name in _path_variables(ds):
            v = ds.variables[name]
            shape = (paths, *v.shape[1:])
            # named: dask need not hash anything
            empty = da.zeros(shape, dtype=v.dtype, chunks=-1, name=f"empty-{name}")
            variables[name] = xr.Variable(v.dims, empty, v.attrs)
            encoding[name] = {"chunks": (block, *v.shape[1:]), "compressors": None}
        template = xr.Dataset(
            {n: variables[n] for n in ds.data_vars},
            coords={n: variables[n] for n in ds.coords},
            attrs=ds.attrs,
        )
        partial = group.with_name(f"{PARTIAL}{group.name}-{uuid.uuid4().hex[:8]}")
        template.to_zarr(
            str(partial), mode="w", zarr_format=2, consolidated=False, compute=False,
            encoding=encoding,
        )  # fmt: skip
    try:
        os.rename(partial, group)
    except OSError:  # made by another task of the design meanwhile
        if not group.exists():
            raise
        shutil.rmtree(partial, ignore_errors=True)


def read_design(store: Path, design: int) -> xr.Dataset:
    """A design's path-level results, every task's paths (all written: its markers are)."""
    path = str(Path(store) / DESIGNS / design_name(design))
    with xr.open_dataset(path, engine="zarr", chunks=None, consolidated=False) as ds:
        return as_written(ds.load())


def write_task(store: Path, name: str, ds: xr.Dataset) -> None:
    """Write a finished summaries-only task's Dataset as group ``tasks/name``, whole or
    not at all."""
    tasks = Path(store) / TASKS
    partial = tasks / f"{PARTIAL}{name}-{uuid.uuid4().hex[:8]}"
    kill = os.environ.get(KILL_ENV)
    _written[0] += 1
    if kill and int(kill) == _written[0]:
        _write_and_die(ds, partial)
    # no fsync: a killed process's writes are in the page cache, which the rename follows;
    # a power cut may lose both (a machine's crash is a rerun's, not a resume's business)
    ds.to_zarr(str(partial), mode="w", zarr_format=2, consolidated=False)
    final = tasks / name
    if final.exists():  # written by another worker meanwhile (a task run twice): same data
        shutil.rmtree(partial, ignore_errors=True)
        return
    os.rename(partial, final)


def read_task(store: Path, name: str) -> xr.Dataset:
    path = str(Path(store) / TASKS / name)
    with xr.open_dataset(path, engine="zarr", chunks=None, consolidated=False) as ds:
        return as_written(ds.load())


def as_written(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` read from Zarr as it was written: text of dtype object (the results' own,
    which Zarr stores as variable-length UTF-8 and NumPy 2 reads back as ``StringDType``),
    and no encoding (how it was stored, not what it is: it is written anew)."""
    for name, variable in ds.variables.items():
        variable.encoding = {}
        if variable.dtype.kind == "T":
            ds[name] = variable.astype(object)
    return ds


def _write_and_die(ds: xr.Dataset, partial: Path) -> None:
    """Fault injection: write the metadata and the first variable, then SIGKILL."""
    first = next(iter(ds.data_vars))
    ds[[first]].to_zarr(str(partial), mode="w", zarr_format=2, consolidated=False)
    os.kill(os.getpid(), signal.SIGKILL)
