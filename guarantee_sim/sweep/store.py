"""A sweep's Zarr store: one group per finished task, made whole by an atomic rename.

Layout of ``NAME.zarr`` (a Zarr v2 directory store: every dtype of the results has a
specification there, fixed-length text included)::

    .zattrs                   root group's attrs: sweep_format, sweep_hash, experiment,
                              seed, n_paths, task_paths, summaries_only, package_version
    tasks/d00003_p0000256/    one finished task: design 3, paths 256 .. 256 + task_paths - 1
                              (a Zarr group holding simulate's path-level Dataset for
                              those paths, or, summaries-only, the design's outcomes)
    tasks/.partial-.../       a task being written (or killed while written): never read
    result/                   the combined Dataset, written when every task is done

A task writes its group under a ``.partial-`` name and renames it to its own name when its
data are on disk (``os.rename`` of a directory is atomic on POSIX): the name is the
completion marker, so a task killed at any moment, SIGKILL in the middle of a chunk
included, leaves only a ``.partial-`` folder that a restart deletes and writes again. Each
task's group is its own, so tasks never write the same file.

The root attr ``sweep_hash`` is a hash of every design's validated scenario, the seed, the
paths, the paths per task and the mode: a restart into a store made by another
experiment, seed or size is refused.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import xarray as xr

#: the version of this layout, in the root's attrs
FORMAT = 1
TASKS = "tasks"
RESULT = "result"
PARTIAL = ".partial-"
#: fault injection for the tests (tests/test_sweep_resume.py): "N" SIGKILLs this process
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
    tasks = store / TASKS
    tasks.mkdir(exist_ok=True)
    done = set()
    for entry in tasks.iterdir():
        if entry.name.startswith(PARTIAL):
            shutil.rmtree(entry, ignore_errors=True)
        else:
            done.add(entry.name)
    return done


def write_task(store: Path, name: str, ds: xr.Dataset) -> None:
    """Write a finished task's Dataset as group ``tasks/name``, whole or not at all."""
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
    import signal

    first = next(iter(ds.data_vars))
    ds[[first]].to_zarr(str(partial), mode="w", zarr_format=2, consolidated=False)
    os.kill(os.getpid(), signal.SIGKILL)
