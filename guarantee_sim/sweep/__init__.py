"""Sweeps on Dask: an experiment's designs as tasks of (design, block of paths), each
written to a Zarr store as it finishes, resumable, with the institution books cached.

* :func:`run_sweep` runs an experiment (``guarantee-sim sweep``) and returns
  ``run_experiment``'s Dataset bit for bit, or with ``summaries=True`` each design's
  outcomes; a killed sweep rerun with the same arguments runs only the missing tasks.
* :func:`evaluate_points` runs a list of points (dotted key -> value) of one scenario,
  for the analysis layer (sensitivity, design solver, calibration), on a Dask client or in
  this process; one ``design_outcomes`` Dataset per point.
* :class:`BookCache` caches the institution processes' books by a hash of what they read.

The store's layout is in :mod:`.store`; the tasks in :mod:`.tasks`.
"""

from .books import BookCache
from .runner import Plan, evaluate_points, open_result, plan_sweep, run_sweep
from .store import StoreMismatch

__all__ = [
    "BookCache",
    "Plan",
    "StoreMismatch",
    "evaluate_points",
    "open_result",
    "plan_sweep",
    "run_sweep",
]
