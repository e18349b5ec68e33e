"""Atomic NetCDF writing and reading of results Datasets.

A run writes to a temporary file beside the target and renames it into place, so a
failed or interrupted run never leaves a half-written results file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import xarray as xr

ENGINE = "h5netcdf"


def write_netcdf(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        ds.to_netcdf(tmp, engine=ENGINE, invalid_netcdf=False)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's private mode is not what a user expects
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_results(path: str | Path) -> xr.Dataset:
    """Open a results file written by :func:`write_netcdf` (loaded into memory)."""
    with xr.open_dataset(path, engine=ENGINE) as ds:
        return ds.load()
