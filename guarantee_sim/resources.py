"""The memory and time a run will need, estimated before any work.

A run whose memory cannot fit is refused; one that will take long is warned about.

``simulate`` allocates its outputs for every path at once: per path, the segment, party and
year variables of the results contract (:mod:`guarantee_sim.kernels.layout`'s
``SEGMENT_VARIABLES``, ``PARTY_VARIABLES`` and ``YEAR_VARIABLES``) by year, as float64. The
estimate is those arrays for the scenario's sizes times :data:`PEAK_FACTOR`. ``--paths
10000000`` (the schema's maximum) died with a ``MemoryError`` traceback after allocating;
now ``validate``, ``run`` and ``compare`` refuse it first, with the estimate.

The time is the work the scenario's sizes imply, at rates measured in ``benchmarks/``
(:data:`SECONDS_PER_APPLICATION`, :data:`LOAN_YEARS_PER_SECOND`): the institution processes'
simulated applications, and the loan-path-years the kernels draw. It is an order of magnitude
(the rates are one machine's, 2 cores, 2026-11; a busy machine is slower), enough to warn
before an hour's run that was meant to take a minute.

Only the kernels' layout is imported (namedtuples and names: no Numba, no xarray), so
``validate`` stays quick.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .config import Scenario
from .kernels.layout import PARTY_VARIABLES, SEGMENT_VARIABLES, YEAR_VARIABLES

__all__ = [
    "PEAK_FACTOR",
    "WARN_SECONDS",
    "WARN_SHARE",
    "MemoryEstimate",
    "TimeEstimate",
    "estimate_memory",
    "estimate_time",
]

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
    >>> estimate_memory(s, paths=100_000).per_path  # 3 years x (11 x 1 + 19 x 4 + 3) x 8 + 1 x 8
    2168
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


#: seconds of SimPy per simulated application (renewal applications included): 54.0 s for
#: 546,862 applications of one Hangzhou replica at record weight 1 (benchmarks/README.md,
#: "processes", 2 cores)
SECONDS_PER_APPLICATION = 54.0 / 546_862
#: loan-path-years the kernels draw per second, by granularity: the county scenario's full
#: model (benchmarks/README.md row d, without renewals: 10.9 M/s with loans, 48.7 M/s
#: loan-equivalent with cohorts)
LOAN_YEARS_PER_SECOND = {"loan": 10.9e6, "cohort": 48.7e6}
#: a run estimated to take longer than this is warned about (validate says it too)
WARN_SECONDS = 15 * 60


@dataclass(frozen=True)
class TimeEstimate:
    """About how long a run takes: the processes once per book replica, the kernels per path."""

    processes: float  # seconds
    kernels: float  # seconds
    paths: int
    variants: int

    @property
    def seconds(self) -> float:
        return self.processes + self.kernels

    @property
    def warned(self) -> bool:
        return self.seconds > WARN_SECONDS

    def message(self, key: str) -> str:
        runs = f"{self.variants:,} variants, " if self.variants > 1 else ""
        return (
            f"{key} = {self.paths:,}: the run will take about {_duration(self.seconds)} on 2 "
            f"cores ({runs}institution processes {_duration(self.processes)}, kernels "
            f"{_duration(self.kernels)}; from rates measured in benchmarks/, an order of "
            "magnitude); fewer paths, a coarser processes.record_weight or fewer replicas "
            "take less"
        )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:,.1f} h"


def estimate_time(scenario: Scenario, paths: int, variants: int = 1) -> TimeEstimate:
    """About how long ``simulate(scenario, paths)`` (times ``variants``) takes.

    The processes simulate the expected applications of every demand segment over the
    origination months, once per book replica; the kernels draw, per path, one window per
    loan and calendar year of its life (:func:`loan_years`).

    >>> from guarantee_sim import load_scenario
    >>> s = load_scenario("tests/invalid/_valid_minimal.yaml")  # 30 loans a year, tenor 12
    >>> loan_years(s)  # 30 loans x 2 calendar-year windows; no maturity before lending ends
    60.0
    >>> estimate_time(s, paths=1000).processes
    0.0
    """
    from .config.limits import expected_applicants  # only validate's own checks

    processes = 0.0
    pr = scenario.processes
    if scenario.lending_source == "processes" and pr is not None:
        months = scenario.horizon.origination_years * 12
        simulated = sum(
            expected_applicants(scenario, name, month)
            for name in pr.demand
            for month in range(months)
        )
        processes = pr.replicas * simulated * SECONDS_PER_APPLICATION
    rate = LOAN_YEARS_PER_SECOND[scenario.simulation.granularity]
    kernels = paths * loan_years(scenario) / rate
    return TimeEstimate(processes * variants, kernels * variants, paths, variants)


def loan_years(scenario: Scenario) -> float:
    """Expected loan-years a path draws: loans made over the origination years (volumes, or
    the processes' applications at their real size) and the initial book, each over the
    calendar years its tenor spans, renewals adding their share of further generations."""
    from .config.limits import expected_applicants

    total = 0.0
    fed = scenario.process_fed_segments()
    applications: dict[str, float] = {}
    pr = scenario.processes
    if fed and pr is not None:
        months = scenario.horizon.origination_years * 12
        for name in pr.demand:
            applications[name] = pr.record_weight * sum(
                expected_applicants(scenario, name, m) for m in range(months)
            )
    for name, seg in scenario.segments.items():
        loans = applications.get(name, 0.0)
        if seg.lending is not None and name not in fed:
            for k in range(scenario.horizon.origination_years):
                count, amount = seg.lending.count_per_year, seg.lending.amount_per_year
                if count is None:  # the schema: one of the two is given
                    assert amount is not None
                    count = amount / seg.loan_size.median
                loans += float(count) * (1.0 + float(seg.lending.growth)) ** k
        if seg.initial_book is not None:
            loans += seg.initial_book.outstanding_amount / seg.loan_size.median
        windows = 1 + seg.tenor_months / 12  # a loan's life spans this many years on average
        total += loans * windows * _generations(scenario, seg)
    return total


def _generations(scenario: Scenario, seg) -> float:
    """Expected generations of a loan (itself and its renewals): a loan renews at the
    segment's rate at maturities that fall while new lending is still being made."""
    if seg.renewal is None:
        return 1.0
    renewals = max(scenario.horizon.origination_years * 12 // seg.tenor_months - 1, 0)
    return sum(float(seg.renewal.rate) ** g for g in range(renewals + 1))
