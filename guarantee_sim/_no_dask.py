"""Keep xarray from importing Dask in a command that makes no Dask arrays.

With Dask installed (the ``sweep`` extra), xarray imports ``dask`` and ``dask.array`` the
first time it builds a Dataset or compares two variables, only to ask whether an array
is a Dask array: 0.5 s of CPU in the run's process and again in each forked worker of
the institution processes, where it lies on the run's critical path. An array can only
be a Dask array once Dask is imported, so while it is not, the answer is "no" without
importing it.

Writing a NetCDF file, xarray also imports ``dask`` and ``dask.distributed`` (0.5-0.7 s of
CPU in the process that writes the results) only to ask which Dask scheduler is active
(``backends.locks.get_dask_scheduler``): with Dask not imported, none is, and the answer
is None. xarray uses it to choose the write's lock and whether to close the file between
chunked writes; with no Dask arrays (no chunks) both come out the same whatever it says
(a thread lock, no closing), so the file written is the same.

This uses private names of xarray (``namedarray.pycompat._cached_duck_array_modules``,
``namedarray.utils.is_dask_collection`` and ``get_dask_scheduler`` in ``backends.locks``
and ``backends.writers``, xarray 2024-2026). If they are missing, the block runs as it
would without it (only slower): nothing here can change a result. Everything is restored
when the block ends, so a later use of Dask in the same process (a test, a notebook) sees
xarray as it was.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

#: xarray's function that imports Dask to say which Dask scheduler is active
SCHEDULER = "get_dask_scheduler"


@contextlib.contextmanager
def xarray_without_dask() -> Iterator[None]:
    """Inside the block, xarray treats no array as a Dask array unless Dask is imported.

    Use it only around work that creates no Dask arrays (``guarantee-sim run``).
    """
    if "dask" in sys.modules:  # already paid for, and Dask arrays may exist
        yield
        return
    try:
        from packaging.version import Version
        from xarray.backends import locks, writers
        from xarray.namedarray import pycompat, utils

        cache = pycompat._cached_duck_array_modules
        asks = utils.is_dask_collection
        # writers has its own reference, imported by name from locks
        schedulers = {module: vars(module)[SCHEDULER] for module in (locks, writers)}
        absent = object.__new__(pycompat.DuckArrayModule)  # what xarray records without Dask
    except (ImportError, AttributeError, KeyError):  # xarray's internals moved: as usual
        yield
        return
    absent.module, absent.version, absent.type, absent.available = None, Version("0"), (), False
    seeded = cache.setdefault("dask", absent) is absent

    def is_dask_collection(x: object) -> bool:
        return "dask" in sys.modules and asks(x)

    def dask_scheduler(get=None, collection=None) -> str | None:
        if "dask" not in sys.modules:  # no Dask, no scheduler: what xarray says without it
            return None
        return schedulers[locks](get, collection)

    # xarray's is typed as a TypeGuard; this one returns the same answers as a bool
    utils.is_dask_collection = is_dask_collection  # type: ignore[assignment]
    for module in schedulers:
        setattr(module, SCHEDULER, dask_scheduler)
    try:
        yield
    finally:
        utils.is_dask_collection = asks
        for module, scheduler in schedulers.items():
            setattr(module, SCHEDULER, scheduler)
        if seeded and cache.get("dask") is absent:
            del cache["dask"]  # the next check imports Dask, as xarray would have
