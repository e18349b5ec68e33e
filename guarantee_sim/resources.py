"""The memory a run will need, estimated before any work, and refused when it cannot fit.

``simulate`` allocates its outputs for every path at once: per path, the segment, party and
year variables of the results contract (:mod:`guarantee_sim.kernels.layout`'s
``SEGMENT_VARIABLES``, ``PARTY_VARIABLES`` and ``YEAR_VARIABLES``) by year, as float64. The
estimate is those arrays for the scenario's sizes times :data:`PEAK_FACTOR`. ``--paths
10000000`` (the schema's maximum) died with a ``MemoryError`` traceback after allocating;
now ``validate``, ``run`` and ``compare`` refuse it first, with the estimate.

Only the kernels' layout is imported (namedtuples and names: no Numba, no xarray), so
``validate`` stays quick.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .config import Scenario
from .kernels.layout import PARTY_VARIABLES, SEGMENT_VARIABLES, YEAR_VARIABLES

__all__ = ["PEAK_FACTOR", "WARN_SHARE", "MemoryEstimate", "estimate_memory"]

#: peak memory of a run over its output arrays. Measured: 1.26 (the minimal test scenario,
#: 100,000 paths: 148 MB over outputs of 118 MB, simulating and summarising); doubled for the
#: summary's temporaries and what other scenarios hold per path (targets, replicas)
PEAK_FACTOR = 2.0
#: above this share of the available memory a run is warned about (it may swap, or leave
#: little for anything else); above all of it, refused
WARN_SHARE = 0.5
_FLOAT = 8  # bytes of a float64


@dataclass(frozen=True)
class MemoryEstimate:
    """What a run of ``paths`` paths (times ``variants``) needs and what the machine has."""

    needed: int  # bytes, peak
    available: int | None  # bytes available now (None where the system does not say)
    paths: int
    variants: int
    per_path: int  # bytes of output arrays a path

    @property
    def refused(self) -> bool:
        return self.available is not None and self.needed > self.available

    @property
    def warned(self) -> bool:
        return self.available is not None and self.needed > WARN_SHARE * self.available

    def message(self, key: str) -> str:
        """The estimate and what to do, naming ``key`` (the option or key setting paths)."""
        runs = f"{self.variants:,} variants x " if self.variants > 1 else ""
        text = (
            f"{key} = {self.paths:,}: the run needs about {_gb(self.needed)} of memory "
            f"({runs}{self.paths:,} paths x {self.per_path:,} bytes of results a path x "
            f"{PEAK_FACTOR:g} for the peak)"
        )
        if self.available is None:
            return text
        have = f"{_gb(self.available)} available"
        if self.refused:
            most = int(self.available / (PEAK_FACTOR * self.per_path * self.variants))
            return f"{text}, more than the {have}: use at most about {most:,} paths here"
        return f"{text}, more than {WARN_SHARE:.0%} of the {have}"


def available_memory() -> int | None:
    """Bytes of physical memory available now (None where the system does not say); as
    ``results.io.available_memory``, which ``validate`` may not import (it loads xarray)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB" if n >= 1e8 else f"{n / 1e6:,.1f} MB"


def estimate_memory(scenario: Scenario, paths: int, variants: int = 1) -> MemoryEstimate:
    """The memory ``simulate(scenario, paths)`` (times ``variants``) will need at its peak.

    >>> from guarantee_sim import load_scenario
    >>> s = load_scenario("tests/invalid/_valid_minimal.yaml")
    >>> estimate_memory(s, paths=100_000).per_path  # 3 years x (8 x 1 + 10 x 4 + 1) x 8 + 1 x 8
    1184
    """
    years = scenario.horizon.n_years
    segments, parties = len(scenario.segments), len(scenario.parties) + 1  # + unabsorbed
    per_year = (
        len(SEGMENT_VARIABLES) * segments
        + len(PARTY_VARIABLES) * parties
        + len(YEAR_VARIABLES)
        + len(scenario.targets) / years  # target_attainment: one per path and target
    )
    per_path = round(per_year * years * _FLOAT)
    needed = int(PEAK_FACTOR * per_path * paths * variants)
    return MemoryEstimate(needed, available_memory(), paths, variants, per_path)
