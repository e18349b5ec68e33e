"""APIs not yet settled: they may change, or move, without a deprecation period.

As ``mesa.experimental`` does for Mesa, this namespace gathers what issue 11 added and is
still being shaped by use: the analyses over many runs of a scenario and the function they
run their points through. Use them, and pin the package version when you do; the import
paths they live at (``guarantee_sim.analysis.*``, ``guarantee_sim.sweep``) may change with
them. What is settled is in :mod:`guarantee_sim` itself (``load_scenario``, ``simulate``,
``run_experiment``, ...).

* :func:`evaluate_points`: points (dotted key -> value) of one scenario, with common
  random numbers, in this process or as tasks on a Dask client (bit for bit the same).
* Sensitivity (Sobol, Morris): :func:`load_study`, :func:`plan_study`, :func:`run_study`.
* The design solver: :func:`solve_design` (a ``design:`` experiment), :func:`solve` (any
  evaluator), :func:`summarise`.
* Calibration by simulated moments: :func:`load_observed`, :func:`calibrate`,
  :func:`simulate_moments_at`.

Each analysis takes ``client=`` (a ``distributed.Client``) and ``books=`` (the institution
books' cache folder) to run its points on a cluster::

    from distributed import Client, LocalCluster
    from guarantee_sim.experimental import plan_study, run_study

    with Client(LocalCluster(n_workers=2, threads_per_worker=1)) as client:
        ds = run_study(plan_study("experiments/sensitivity/county_guarantee_2021_sensitivity.yaml",
                                  paths=50), client=client)
"""

from ..analysis.calibration import calibrate, simulate_moments_at
from ..analysis.design import solve, solve_design, summarise
from ..analysis.observed import load_observed
from ..analysis.sensitivity import load_study, plan_study, run_study
from ..sweep import evaluate_points

__all__ = [
    "calibrate",
    "evaluate_points",
    "load_observed",
    "load_study",
    "plan_study",
    "run_study",
    "simulate_moments_at",
    "solve",
    "solve_design",
    "summarise",
]
