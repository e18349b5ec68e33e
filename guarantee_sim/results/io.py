"""Atomic NetCDF writing and reading of results Datasets.

A run writes to a temporary file beside the target and renames it into place, so a
failed or interrupted run never leaves a half-written results file.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import xarray as xr

ENGINE: Final = "h5netcdf"

#: variables every results file has (DESIGN §5); a file without them is not a results file
REQUIRED = (
    "loss",
    "capital",
    "fiscal_cost",
    "public_loss",
    "loans_amount",
    "borrowers",
    "shortfall",
    "leverage",
    "compensation_rate",
)
REQUIRED_COORDS = (
    "path",
    "year",
    "party",
    "segment",
    "party_kind",
    "party_label",
    "segment_label",
    "segment_tags",
)


def check_results(ds: xr.Dataset) -> None:
    """Raise ValueError naming what is missing if ``ds`` is not a guarantee_sim results set."""
    missing = [v for v in REQUIRED if v not in ds.data_vars]
    missing += [c for c in REQUIRED_COORDS if c not in ds.coords]
    if missing:
        raise ValueError("not a guarantee_sim results file: it lacks " + ", ".join(missing))


def open_results(path: str | Path) -> xr.Dataset:
    """Read a results file, raising ValueError that names the file if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such results file")
    try:
        ds = read_results(path)
    except Exception as err:  # not NetCDF, or unreadable: the user's mistake, not a crash
        raise ValueError(f"{path}: not a readable results file ({err})") from None
    try:
        check_results(ds)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    if (
        "replica" not in ds.coords and "book_replicas" in ds.attrs
    ):  # written before the coordinate existed
        ds = ds.assign_coords(replica=("path", ds.path.values % int(ds.attrs["book_replicas"])))
    return ds


#: the signals an interactive user or a scheduler stops a run with
STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


class _Deferred:
    """The stop signals that arrived inside :func:`deferred_signals`, delivered on demand."""

    def __init__(self, previous: dict[int, object]) -> None:
        self.previous = previous
        self.pending: list[int] = []

    def record(self, signum: int, frame: object) -> None:
        self.pending.append(signum)

    def raise_pending(self) -> None:
        """Deliver a signal that arrived so far to the handler it was meant for (which
        raises, for SIGINT ``KeyboardInterrupt``); nothing if none arrived."""
        if not self.pending:
            return
        signum = self.pending[0]
        self.pending.clear()
        handler = self.previous.get(signum)
        if callable(handler):
            handler(signum, None)
        elif handler == signal.SIG_DFL:  # what the signal would have done: end the process
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)


@contextmanager
def deferred_signals() -> Iterator[_Deferred]:
    """Hold SIGINT and SIGTERM back inside the block, and deliver them when it ends.

    For a write that must not be cut by an exception raised at an arbitrary point (h5py
    can swallow one raised inside its C callbacks, and the run would then exit 0 after
    an interrupt): the block calls ``raise_pending()`` where stopping is safe, e.g. before
    renaming a finished file into place. Outside the main thread, where signals cannot be
    handled, it holds nothing back.
    """
    if threading.current_thread() is not threading.main_thread():
        yield _Deferred({})
        return
    deferred = _Deferred({s: signal.getsignal(s) for s in STOP_SIGNALS})
    for signum in STOP_SIGNALS:
        signal.signal(signum, deferred.record)
    try:
        yield deferred
    finally:
        for number, handler in deferred.previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]
        deferred.raise_pending()


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user's counts: it cannot be told
    apart from a live writer)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporary files and folders of ``path`` whose writer is dead.

    Only names :func:`temporary_beside` gives for this very ``path``
    (``.NAME.<pid>.<random>.tmp``) are considered, and one whose process still runs (a
    concurrent writer, this process included) is left alone. What cannot be removed is left
    too. Returns what was removed.
    """
    pattern = re.compile(re.escape(f".{path.name}.") + r"(\d+)\.\w+\.tmp")
    removed: list[Path] = []
    try:
        candidates = list(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))
    except OSError:
        return removed
    for candidate in candidates:
        match = pattern.fullmatch(candidate.name)
        if match is None:
            continue
        pid = int(match[1])
        if pid <= 0 or pid == os.getpid() or _alive(pid):
            continue
        try:
            if candidate.is_dir() and not candidate.is_symlink():
                shutil.rmtree(candidate)
            else:
                candidate.unlink()
        except OSError:
            continue
        removed.append(candidate)
    return removed


@contextmanager
def temporary_beside(path: Path, *, folder: bool = False) -> Iterator[Path]:
    """A new temporary file (or folder) beside ``path``, for writing and renaming into place.

    It is named ``.NAME.<pid>.<random>.tmp``, with the writer's process id, so that a later
    writer of the same ``path`` can remove those a killed process left
    (:func:`remove_stale_temporaries`).

    ``tempfile`` makes it private (0o600, 0o700); results and briefs are to be shared, so it
    gets the mode a plain create would give (0o666, or 0o777 for a folder, less the umask).
    Whatever is still there on leaving (the caller failed, or moved only part of it) is
    removed. Missing folders above ``path`` are made here, when writing, and removed again
    if the caller fails.
    """
    created = _make_folders(path.parent)
    try:
        with _temporary(path, folder=folder) as tmp:
            yield tmp
    except BaseException:  # nothing written: the folders made for it go too
        for made in reversed(created):
            try:
                made.rmdir()
            except OSError:
                break
        raise


def _make_folders(folder: Path) -> list[Path]:
    """Make ``folder`` and its missing parents; those it made, outermost first (none left
    behind if one cannot be made)."""
    missing: list[Path] = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    missing.reverse()
    made: list[Path] = []
    try:
        for each in missing:
            try:
                each.mkdir()
            except FileExistsError:  # made by a concurrent writer: not ours to remove
                continue
            made.append(each)
    except BaseException:
        for each in reversed(made):
            each.rmdir()
        raise
    return made


@contextmanager
def _temporary(path: Path, *, folder: bool) -> Iterator[Path]:
    remove_stale_temporaries(path)
    prefix, suffix = f".{path.name}.{os.getpid()}.", ".tmp"
    if folder:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=path.parent))
    else:
        handle, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
        os.close(handle)
        tmp = Path(name)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, (0o777 if folder else 0o666) & ~umask)
        yield tmp
    finally:
        with deferred_signals():  # a second Ctrl-C does not leave the file behind
            if folder:
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)


def write_netcdf(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` to ``path`` atomically (temporary file in the same folder, then rename).

    SIGINT and SIGTERM arriving during the write are held back until it ends, then
    delivered before the rename: an interrupted write leaves the previous file as it was.
    """
    path = Path(path)
    with temporary_beside(path) as tmp, deferred_signals() as signals:
        ds.to_netcdf(tmp, engine=ENGINE, invalid_netcdf=False)
        signals.raise_pending()  # interrupted while writing: keep the previous file
        os.replace(tmp, path)
    return path


def read_results(path: str | Path) -> xr.Dataset:
    """Open a results file written by :func:`write_netcdf` (loaded into memory)."""
    with xr.open_dataset(path, engine=ENGINE) as ds:
        return ds.load()
