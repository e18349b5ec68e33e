"""A replica's operational measures as plain arrays, made into xarray only where they are
read.

A replica runs in a worker forked before xarray (and pandas) are imported: the CLI starts
the institution processes while the rest of the engine is still being imported
(``engine/early.py``), so a worker that made xarray objects would import them itself,
once per worker. The worker fills a :class:`Measures` instead; the parent stacks the
replicas' into one Dataset (:func:`stacked`), the same Dataset, bit for bit, as stacking
each replica's own (:meth:`Measures.to_dataset`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import xarray as xr


@dataclass(frozen=True)
class Measures:
    """Variables as ``name -> (dims, array)`` and coordinates as ``name -> values``, the
    arguments of ``xarray.Dataset(data, coords=coords)``; the arrays may be changed in
    place until the measures are made a Dataset."""

    data: dict[str, tuple[tuple[str, ...], np.ndarray]]
    coords: dict[str, Any]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name][1]

    def to_dataset(self) -> xr.Dataset:
        import xarray as xr

        return xr.Dataset(self.data, coords=self.coords)


def stacked(measures: list[Measures]) -> xr.Dataset:
    """The replicas' measures along a new first dimension ``replica``: what
    ``xr.concat([m.to_dataset() for m in measures], dim="replica")`` gives, at a fifth of
    its time (every replica's have the same variables and coordinates: the scenario's)."""
    import xarray as xr

    first = measures[0]
    data = {
        name: (("replica", *dims), np.stack([m[name] for m in measures]))
        for name, (dims, _) in first.data.items()
    }
    return xr.Dataset(data, coords=first.coords)
