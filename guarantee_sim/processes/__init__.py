"""The institutions' processes in SimPy: applications, screening, review, renewals, claims.

Run once per book replica (not per Monte Carlo path); the approved loan book and the
claim-lag distribution go to the kernels, the operational measures to the results.
"""

from .books_key import books_key
from .run import PD_GRID, ProcessResults, ReplicaRun, run_processes, run_replica

__all__ = ["PD_GRID", "ProcessResults", "ReplicaRun", "books_key", "run_processes", "run_replica"]
