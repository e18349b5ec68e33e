"""Atomic, checksummed NetCDF writing and verified, lazy reading of results Datasets.

A run writes to a temporary file beside the target and renames it into place, so a
failed or interrupted run never leaves a half-written results file. Every numeric
variable is stored deflated and with an HDF5 Fletcher-32 checksum per chunk (chunks of
:data:`PATHS_PER_CHUNK` paths): :func:`open_results` reads every chunk once to verify it
before handing back a lazily loaded Dataset, so a flipped byte is a clean error naming the
variable, not garbage in a summary. A file written before checksums opens with a warning.
"""

from __future__ import annotations

import glob
import json
import multiprocessing
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Final

import xarray as xr

from .design import check_design, is_design
from .sensitivity import check_sensitivity, is_sensitivity

if TYPE_CHECKING:  # pragma: no cover - h5py is imported where files are read (40 ms a run)
    import h5py

#: the library that reads results files (h5py underneath, which verifies the checksums)
ENGINE: Final = "h5netcdf"
#: the library that writes them: netCDF4's C library writes the default run's 84 variables
#: in 0.6 s of CPU where h5netcdf took 1.5 s, both at level-4 deflate (h5netcdf's dimension
#: bookkeeping is Python, a few thousand HDF5 lookups a file); both write netCDF-4 (HDF5)
#: files the other reads
WRITE_ENGINE: Final = "netcdf4"

#: paths per stored chunk: one chunk of a (path, year, party) variable of 1,000 paths
#: is about 50 kB, small enough to verify and decompress cheaply, large enough to compress
PATHS_PER_CHUNK: Final = 1024
#: HDF5 filters on every numeric variable: deflate and a checksum. Level 1 without byte
#: shuffling: the default run's file is 2.9 MB in 0.3 s of CPU, level 4 with shuffling
#: 3.1 MB in 0.5 s (the path-level figures are doubles that shuffle does not help)
FILTERS: Final = {"zlib": True, "complevel": 1, "shuffle": False, "fletcher32": True}


class ResultsWarning(UserWarning):
    """A results file that opens but cannot be fully trusted (no checksums)."""


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


#: stored texts that reports decode as JSON (attrs, or a coordinate per scenario), and what
#: each must decode to. The scenario's YAML (attr ``scenario_yaml``) is kept for the reader
#: and never parsed back: nothing in a results file is read as YAML.
JSON_TEXTS: Final = {"sources": list, "value_sources": dict, "variant_overrides": dict}


def check_results(ds: xr.Dataset) -> None:
    """Raise ValueError naming what is missing or malformed if ``ds`` is not a guarantee_sim
    results set (a required variable or coordinate, or a stored JSON text)."""
    if is_sensitivity(ds):  # a sensitivity study's indices, not paths: a contract of its own
        check_sensitivity(ds)
        return
    if is_design(ds):  # a design search's evaluations, not paths: likewise
        check_design(ds)
        return
    missing = [v for v in REQUIRED if v not in ds.data_vars]
    missing += [c for c in REQUIRED_COORDS if c not in ds.coords]
    if missing:
        raise ValueError("not a guarantee_sim results file: it lacks " + ", ".join(missing))
    for name, kind in JSON_TEXTS.items():
        texts = [ds.attrs[name]] if name in ds.attrs else []
        if name in ds.coords:
            texts = [str(t) for t in ds[name].values.ravel()]
        for text in texts:
            if not _decodes_to(text, kind):
                raise ValueError(
                    f"not a guarantee_sim results file: its '{name}' is not the JSON "
                    f"{kind.__name__} it should be (got {str(text)[:60]!r}); "
                    "write the results again with guarantee-sim"
                )


def _decodes_to(text, kind: type) -> bool:
    """Whether ``text`` is (empty or) JSON text decoding to an instance of ``kind``."""
    if isinstance(text, str) and text == "":
        return True  # written as empty when there is nothing: the reports read it so
    try:
        return isinstance(json.loads(text), kind)
    except (TypeError, ValueError):  # not text, or not JSON
        return False


def open_results(path: str | Path) -> xr.Dataset:
    """Open a results file lazily after verifying its checksums.

    Raises ValueError naming the file if it is not a results file, and naming the variable
    if its data are corrupt. Variables are read from disk when first used (and then kept).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such results file")
    try:
        check_loadable(path)
        verify_checksums(path)
        ds = xr.open_dataset(path, engine=ENGINE)
    except ValueError:
        raise
    except Exception as err:  # not NetCDF, or unreadable: the user's mistake, not a crash
        raise ValueError(f"{path}: not a readable results file ({err})") from None
    try:
        check_results(ds)
    except ValueError as err:
        ds.close()
        raise ValueError(f"{path}: {err}") from None
    if (
        "path" in ds.dims and "replica" not in ds.coords and "book_replicas" in ds.attrs
    ):  # a run's results written before the coordinate existed
        ds = ds.assign_coords(replica=("path", ds.path.values % int(ds.attrs["book_replicas"])))
    return ds


def check_loadable(path: str | Path) -> None:
    """Refuse a file whose data, loaded, would take more than half the available memory.

    The sizes stored variables declare are read from the file's metadata, before any data:
    a small file can hide gigabytes of compressed zeros.
    """
    import h5py

    with h5py.File(path, "r") as f:
        declared = sum(d.size * d.dtype.itemsize for _, d in _datasets(f))
    available = available_memory()
    if available is not None and declared > available / 2:
        raise ValueError(
            f"{path}: its data take {declared / 1e9:,.1f} GB when loaded, more than half of "
            f"the {available / 1e9:,.1f} GB of memory available; this is not a results file "
            "guarantee_sim wrote for this machine (summarise it where there is more memory)"
        )


def available_memory() -> int | None:
    """Bytes of physical memory available now (None where the system does not say)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def verify_checksums(path: str | Path) -> None:
    """Read every chunk of every stored variable once, so HDF5 checks each checksum.

    Raises ValueError naming the variable whose data fail their check; warns
    (:class:`ResultsWarning`) when the file has no checksums at all (written before they
    were added), since then corruption cannot be detected. Memory: one chunk at a time.
    """
    import h5py

    checked = 0
    with h5py.File(path, "r") as f:
        for name, dataset in _datasets(f):
            if not dataset.fletcher32:
                continue
            checked += 1
            try:
                for chunk in dataset.iter_chunks():
                    dataset[chunk]
            except OSError:
                raise ValueError(
                    f"{path}: the stored data of {name!r} fail their checksum: the file is "
                    "corrupt (damaged on disk or in a copy); write it again with "
                    "guarantee-sim run or compare"
                ) from None
    if checked == 0:
        warnings.warn(
            f"{path}: this results file has no checksums (written by an earlier "
            "guarantee_sim); damage to it cannot be detected. Write it again to add them.",
            ResultsWarning,
            stacklevel=2,
        )


def _datasets(group: h5py.Group, prefix: str = "") -> Iterator[tuple[str, h5py.Dataset]]:
    import h5py

    for key, item in group.items():
        if isinstance(item, h5py.Dataset):
            yield prefix + key, item
        elif isinstance(item, h5py.Group):
            yield from _datasets(item, f"{prefix}{key}/")


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
    with writing_netcdf(ds, path) as writing:
        pass
    return writing.path


class PendingWrite:
    """A write of :func:`writing_netcdf` under way in a child process."""

    def __init__(self, path: Path, child, receive) -> None:
        self.path = path
        self._child = child
        self._receive = receive
        self._failure: str | None = None
        self._done = child is None

    def wait(self) -> None:
        """Wait until the child has written the file (what failed is kept for the end)."""
        if not self._done:
            self._failure = _joined(self._child, self._receive)
            self._done = True


@contextmanager
def writing_netcdf(ds: xr.Dataset, path: str | Path) -> Iterator[PendingWrite]:
    """:func:`write_netcdf` with the block run while a child process writes.

    The file is in place when the block ends (nothing of it when the write or the block
    fails, or a stop signal came: those are held back inside the block, as in the write,
    and delivered at its end). The block must not change ``ds``: the child has a snapshot.
    So a command can prepare its summary on one core while the file is written on the other.
    """
    path = Path(path)
    with temporary_beside(path) as tmp, deferred_signals() as signals:
        check_free_space(tmp, estimated_file_size(ds))
        writing = _start_isolated(ds, tmp, path)
        try:
            yield writing
        finally:
            writing.wait()  # also when the block failed: no child is left writing
        if writing._failure is not None:
            raise OSError(
                f"{path}: writing the results failed ({writing._failure}); nothing written"
            )
        signals.raise_pending()  # interrupted while writing: keep the previous file
        os.replace(tmp, path)


def _start_isolated(ds: xr.Dataset, tmp: Path, path: Path) -> PendingWrite:
    """Start writing ``ds`` to ``tmp`` in a forked child process.

    HDF5 does not survive a disk that fills up during a write: h5py raises in its object
    destructors and then crashes the interpreter (reproduced with a file-size limit). In a
    child, the crash ends the child only, and this process reports it and removes the
    temporary file. Fork shares the Dataset's memory, so nothing is copied; where fork is
    not available the write runs here, at once, behind the free-space check.
    """
    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover - not Linux
        pending = PendingWrite(path, None, None)
        pending._failure = _write(ds, tmp)
        return pending
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_write_in_child, args=(ds, tmp, send), daemon=True)
    child.start()
    send.close()
    return PendingWrite(path, child, receive)


def _joined(child, receive) -> str | None:
    """Wait for the writing ``child``; what went wrong, or None."""
    child.join()
    try:
        message = receive.recv() if receive.poll() else None
    except EOFError:  # the child died before it could say why
        message = None
    if child.exitcode == 0:
        return message
    if message is None and child.exitcode is not None and child.exitcode < 0:
        message = (
            f"the writing process died of {signal.Signals(-child.exitcode).name}; HDF5 "
            "crashes like this when the disk fills up during a write: check the free space"
        )
    return message or f"the writing process exited with {child.exitcode}"


def _write_in_child(ds: xr.Dataset, tmp: Path, send) -> None:
    """The child's whole job: write, and send back None or what failed."""
    for signum in STOP_SIGNALS:  # the parent decides what an interruption means
        signal.signal(signum, signal.SIG_IGN)
    # h5py prints a traceback per object it fails to close after a failed write; the
    # failure itself goes back through ``send``
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        failure = _write(ds, tmp)
    except BaseException as err:  # the child's top level: whatever it is, the parent says it
        failure = f"{type(err).__name__}: {err}"
    send.send(failure)
    send.close()
    if failure is not None:
        sys.exit(1)


def _write(ds: xr.Dataset, tmp: Path) -> str | None:
    try:
        ds.to_netcdf(tmp, engine=WRITE_ENGINE, format="NETCDF4", encoding=storage_encoding(ds))
    except (OSError, RuntimeError, ValueError) as err:  # h5py and netCDF's ways of failing
        return str(err)
    return None


#: room kept free beyond the estimate (HDF5 metadata, the file system's own needs)
FREE_SPACE_MARGIN: Final = 16_000_000


def estimated_file_size(ds: xr.Dataset) -> int:
    """An upper bound of the file's size: its data uncompressed (deflate only shrinks it;
    the default run's file is about a third of this)."""
    return int(ds.nbytes)


def check_free_space(target: Path, needed: int) -> None:
    """Refuse to start a write that would fill the disk.

    HDF5 does not survive a full disk in the middle of a write (h5py has crashed the
    interpreter there), so the space is checked first, against an upper bound of the
    file's size; a write that still fails is reported by :func:`write_netcdf`.
    """
    free = shutil.disk_usage(target.parent).free
    if free < needed + FREE_SPACE_MARGIN:
        raise OSError(
            f"{target.parent}: not enough free space to write the results: about "
            f"{(needed + FREE_SPACE_MARGIN) / 1e6:,.0f} MB needed (uncompressed, an upper "
            f"bound), {free / 1e6:,.0f} MB free; free some space or write elsewhere (--out)"
        )


def storage_encoding(ds: xr.Dataset) -> dict[str, dict]:
    """Deflate and a checksum per chunk for every non-empty numeric variable (strings and
    empty arrays are stored plain: HDF5 cannot filter them)."""
    encoding = {}
    for name, variable in ds.variables.items():
        if variable.dtype.kind not in "fiub" or variable.ndim == 0 or variable.size == 0:
            continue
        chunks = tuple(
            min(size, PATHS_PER_CHUNK) if dim == "path" else size
            for dim, size in variable.sizes.items()
        )
        encoding[str(name)] = {**FILTERS, "chunksizes": chunks}
    return encoding


def read_results(path: str | Path) -> xr.Dataset:
    """A results file written by :func:`write_netcdf`, verified and loaded into memory."""
    verify_checksums(path)
    with xr.open_dataset(path, engine=ENGINE) as ds:
        return ds.load()
