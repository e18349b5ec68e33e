"""What the benchmarks run: the scenarios, books and kernel inputs, and their sizes.

Everything the model computes is imported from ``guarantee_sim``; nothing of the kernels is
copied here. The benchmark classes (``bench_*.py``) and the ratio table (``ratios.py``)
build their inputs with these functions, so both measure the same work.

Sizes: ``GUARANTEE_SIM_BENCH=tiny`` in the environment selects small ones (CI's smoke run:
every benchmark runs, none measures much); anything else, the sizes of the README's table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numba
import numpy as np

import guarantee_sim as gs
from guarantee_sim.book import LoanBook
from guarantee_sim.engine.inputs import KernelInputs, build_inputs
from guarantee_sim.engine.parameters import central_scenario, path_parameters
from guarantee_sim.kernels.layout import (
    BORROWERS,
    LOANS_COUNT,
    PARTY_VARIABLES,
    SEGMENT_VARIABLES,
    YEAR_VARIABLES,
    Outputs,
)
from guarantee_sim.kernels.portfolio import simulate_block

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
COUNTY = SCENARIOS / "county_guarantee_2021.yaml"
DEFAULT = SCENARIOS / "hangzhou_2021_2023.yaml"  # the README's first command runs it

TINY = os.environ.get("GUARANTEE_SIM_BENCH", "") == "tiny"
SEED = 20211231
BLOCK_SIZE = 250

#: loans and paths of each measure (draws = loans x paths)
SIZES = {
    "hot_loans": 2_000 if TINY else 20_000,
    "hot_paths": 250 if TINY else 2_000,
    "numpy_paths": 50 if TINY else 400,  # NumPy is one thread and ~5x slower: fewer paths
    "full_paths": 50 if TINY else 500,
    "memory_paths": (50, 200) if TINY else (250, 2_000),
}
#: the default run's overrides in tiny mode: a few paths, one replica of one year's lending
DEFAULT_RUN_OVERRIDES = (
    ["simulation.paths=50", "processes.replicas=1", "horizon.origination_years=1"] if TINY else []
)


def threads(n: int) -> int:
    """Use ``n`` Numba threads (at most the configured number); returns the number used."""
    n = max(1, min(n, numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(n)
    return n


# --------------------------------------------------------------------------- hot loop


def hot_scenario(pd_mean: float = 0.03) -> gs.Scenario:
    """Only defaults and losses: one segment, bank only (coverage 0), no renewals.

    Three PD grades (as the shipped scenarios have), LGD 0.5; the horizon's run-off is the
    minimum the validator allows, so the month loop around the records is short.
    ``pd_mean`` other than 3% is for ``hot_loop_probe.py`` (the cost of a default).
    """
    data = {
        "name": "bench_hot_loop",
        "horizon": {"start_year": 2021, "origination_years": 1, "runoff_months": 13},
        "simulation": {
            "paths": 1000,
            "seed": SEED,
            "granularity": "loan",
            "block_size": BLOCK_SIZE,
        },
        "segments": {
            "sme": {
                "pd": {
                    "mean": pd_mean,
                    "grades": [
                        {"relative_pd": 0.5, "weight": 0.3},
                        {"relative_pd": 1.0, "weight": 0.5},
                        {"relative_pd": 2.0, "weight": 0.2},
                    ],
                },
                "lgd": 0.5,
                "recovery": {"lag_months": 0, "spread_months": 1},
                "correlation": 0.1,
                "loan_size": {"median": 1.0e6, "sigma": 0.6, "cap": 1.0e7},
                "tenor_months": 12,
                "lending": {"count_per_year": 12},  # replaced by hot_book
                "scheme": "bank_only",
            }
        },
        "parties": {"bank": {"kind": "bank"}},
        "schemes": {"bank_only": {"coverage": 0.0}},
    }
    return gs.scenario_from_dict(data, source="<benchmarks/workloads.py hot loop>")


def hot_book(scenario: gs.Scenario, n_loans: int, seed: int = 1) -> LoanBook:
    """``n_loans`` single loans, all originated in month 0 with tenor 12: one calendar-year
    window each, so each (loan, path) is exactly one Philox block in the kernel.

    Amounts are whole CNY (lognormal, median 1 m, capped at 10 m), so sums of defaulted
    amounts are exact in float64 whatever the order of summation; with LGD 0.5 the credit
    loss is exact too, and the NumPy reference can be compared bit for bit.
    """
    rng = np.random.default_rng(seed)
    seg = scenario.segments["sme"]
    _, weights = seg.pd.grade_pds()
    size = seg.loan_size
    amount = np.rint(
        np.minimum(size.median * np.exp(size.sigma * rng.standard_normal(n_loans)), size.cap)
    )
    grade = rng.choice(len(weights), size=n_loans, p=weights)
    return LoanBook.from_records(
        (
            {"segment": 0, "month": 0, "tenor": 12, "grade": g, "amount": a}
            for g, a in zip(grade, np.maximum(amount, 1.0), strict=True)
        ),
        segments=["sme"],
    )


def hot_inputs(n_loans: int, pd_mean: float = 0.03) -> tuple[KernelInputs, LoanBook]:
    """The hot-loop scenario's kernel inputs and its book of ``n_loans`` single loans."""
    scenario = hot_scenario(pd_mean)
    book = hot_book(scenario, n_loans)
    return build_inputs(scenario, SEED, book), book


# --------------------------------------------------------------------------- the kernel


def outputs(inputs: KernelInputs, paths: int) -> Outputs:
    """The kernel's output arrays for ``paths`` paths, allocated and touched."""
    n_years = inputs.settings.n_years
    n_seg = len(inputs.segments.rho)
    n_party = len(inputs.party_names) + 1
    return Outputs(
        segment=np.ones((paths, len(SEGMENT_VARIABLES), n_years, n_seg)),
        party=np.ones((paths, len(PARTY_VARIABLES), n_years, n_party)),
        year=np.ones((paths, len(YEAR_VARIABLES), n_years)),
    )


def run_kernel(inputs: KernelInputs, out: Outputs, seed: int = SEED) -> None:
    """``simulate_block`` over all paths of ``out`` in blocks, as ``simulate()`` calls it,
    with every parameter at its centre (the per-path parameter draws are not timed)."""
    paths = out.segment.shape[0]
    fixed = path_parameters([], np.empty((BLOCK_SIZE, 0)), inputs.segments)
    for first in range(0, paths, BLOCK_SIZE):
        last = min(first + BLOCK_SIZE, paths)
        n = last - first
        simulate_block(
            np.uint32(seed),
            first,
            inputs.book,
            inputs.segments,
            inputs.parties,
            inputs.macro,
            inputs.settings,
            fixed if n == BLOCK_SIZE else path_parameters([], np.empty((n, 0)), inputs.segments),
            Outputs(out.segment[first:last], out.party[first:last], out.year[first:last]),
        )


# --------------------------------------------------------------------------- full model

#: the full model's cases: (scenario file, granularity). Issue 10's targets: the county
#: scenario at loan granularity, the default scenario at cohort granularity.
FULL_MODEL = {
    "county-loan": (COUNTY, "loan"),
    "county-cohort": (COUNTY, "cohort"),
    "default-cohort": (DEFAULT, "cohort"),
}


@dataclass(frozen=True)
class FullModelCase:
    """A full-model case's kernel inputs and the work one path of it is."""

    inputs: KernelInputs
    loan_years: float  # per path, renewal generations excluded (see loan_years)
    record_years: float  # per path, a cohort counted once
    records: float  # per replica book
    renewal_tenor: float  # months: a renewal loan's tenor, for the renewal estimate


def full_model(case: str) -> FullModelCase:
    """A full-model case's kernel inputs, built as ``simulate()`` builds them (the drawn
    parameters at their centres; the default scenario runs its institution processes)."""
    path, granularity = FULL_MODEL[case]
    overrides = [f"simulation.granularity={granularity}"]
    if path == DEFAULT:
        overrides += DEFAULT_RUN_OVERRIDES[1:]  # tiny: one replica of one year (paths: ours)
    scenario = central_scenario(gs.load_scenario(path, overrides=overrides))
    inputs = build_inputs(scenario, scenario.simulation.seed)
    tenors = [
        scenario.segments[s.renewal.into or name].tenor_months
        for name, s in scenario.segments.items()
        if s.renewal is not None
    ]
    return FullModelCase(
        inputs=inputs,
        loan_years=per_path(inputs, loan_years),
        record_years=per_path(inputs, record_years),
        records=per_path(inputs, len),
        renewal_tenor=float(np.mean(tenors)) if tenors else 12.0,
    )


def renewal_loan_years(case: FullModelCase, out: Outputs) -> float:
    """Renewal loan-years per path, estimated from the kernel's outputs.

    A renewed loan counts in ``loans_count`` but not in ``borrowers``, so renewal loans per
    path = sum(loans_count - borrowers), exact. Their calendar-year windows are not in the
    outputs: each counts 1 + (tenor - 1) / 12 (start months uniform over the year).
    """
    seg = out.segment
    renewals = float(np.mean(np.sum(seg[:, LOANS_COUNT] - seg[:, BORROWERS], axis=(1, 2))))
    return renewals * (1.0 + (case.renewal_tenor - 1.0) / 12.0)


def loan_years(book: LoanBook) -> int:
    """Sum over records of n_loans x the calendar-year windows of the record's life: one
    Philox block per loan-window in the kernel (renewal generations are not in the book)."""
    month = book.month.astype(np.int64)
    last = month + book.tenor.astype(np.int64) - 1
    windows = last // 12 - month // 12 + 1
    return int(np.sum(book.n_loans.astype(np.int64) * windows))


def record_years(book: LoanBook) -> int:
    """As :func:`loan_years` with one loan per record (a cohort counts once)."""
    return loan_years(replace(book, n_loans=np.ones(len(book), dtype=np.int64)))


def per_path(inputs: KernelInputs, measure) -> float:
    """``measure(book)`` averaged over the replica books (path p uses replica p mod R)."""
    books = inputs.loan_books
    return sum(measure(b) for b in books) / len(books)
