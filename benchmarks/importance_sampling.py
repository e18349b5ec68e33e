"""Variance reduction of importance sampling for the guarantor's 99.9% VaR (issue 10 §2).

For each of ``--seeds`` seeds, the same scenario is run twice at equal paths, plain and
with ``simulation.importance_sampling: {party: guarantor}``, and the guarantor's VaR 99.9%
of its loss over the run is estimated from each (weighted under IS). The variance of
those estimates over the seeds, plain / IS, is the variance reduction; the means show
both estimate the same quantity (and, for the one-period book, the Vasicek closed form).

Two books:

* ``one_period``: one cohort of 10**6 loans of 1 m CNY lent in month 0 for 12 months (the
  Vasicek book of tests/test_vasicek.py), 80% covered by one guarantor with ample capital:
  its loss is 0.8 x LGD x the defaults of one year, a function of one factor draw;
* ``county``: scenarios/county_guarantee_2021.yaml with its drawn parameters set to their
  centres (``engine.parameters.central_scenario``), nine years of an AR(1) credit cycle.

Run from the repository root (CPU seconds are printed; the full study takes ~15 min CPU)::

    python benchmarks/importance_sampling.py                 # both books, 30 seeds
    python benchmarks/importance_sampling.py --quick         # 8 seeds, fewer paths
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import guarantee_sim as gs
from guarantee_sim.book import LoanBook, cohort_number, pack_id, segment_hash
from guarantee_sim.config import scenario_from_dict
from guarantee_sim.engine.analytic import vasicek_loss_quantile
from guarantee_sim.engine.parameters import central_scenario

PD, LGD, RHO, COVERAGE = 0.02, 0.45, 0.12, 0.8
N_LOANS, AMOUNT = 10**6, 1.0e6
LEVEL = 0.999


def one_period_scenario(
    level: float | None = None, party: str | None = "guarantor", net_assets: float = 1.0e13
):
    """One segment (PD 2%, LGD 45%, rho 0.12) whose losses the guarantor shares at 80%,
    sampled toward ``party``'s loss tail at ``level`` (None: plain Monte Carlo; the tests
    use it too)."""
    data = {
        "name": "one_period",
        "horizon": {"start_year": 2021, "origination_years": 1, "runoff_months": 24},
        "simulation": {"paths": 100, "seed": 1, "granularity": "cohort", "block_size": 256},
        "segments": {
            "sme": {
                "tags": ["guaranteed"],
                "pd": {"mean": PD},
                "lgd": LGD,
                "recovery": {"lag_months": 1, "spread_months": 1},
                "correlation": RHO,
                "loan_size": {"median": AMOUNT, "sigma": 0.0, "cap": 1.0e7},
                "tenor_months": 12,
                "lending": {"count_per_year": 1},
                "scheme": "guaranteed",
            }
        },
        "parties": {
            "bank": {"kind": "bank"},
            "guarantor": {
                "kind": "guarantor",
                "net_assets": net_assets,
                "fee_rate": 0.01,
                "claim_lag_months": 1,
                "operating_cost_rate": 0.0,
            },
        },
        "schemes": {"guaranteed": {"coverage": COVERAGE, "split": {"guarantor": 1.0}}},
    }
    if level is not None:
        data["simulation"]["importance_sampling"] = {"party": party, "level": level}
    return scenario_from_dict(data, source="<one-period book>")


def one_period_book() -> LoanBook:
    """10**6 identical loans of 1 m CNY lent in month 0 for 12 months (one cohort record)."""
    id_hi, id_lo = pack_id(segment_hash("sme"), 0, cohort_number(0, 0, 12), cohort=True)
    return LoanBook.from_records(
        [
            {"segment": 0, "month": 0, "tenor": 12, "amount": AMOUNT, "n_loans": N_LOANS}
            | {"id_hi": id_hi, "id_lo": id_lo}
        ]
    )


def county_scenario(tail: bool):
    # the tail as `guarantee-sim run --tail party=guarantor` sets it: overrides, validated
    # with the file
    overrides = (
        [
            "simulation.importance_sampling.party=guarantor",
            f"simulation.importance_sampling.level={LEVEL}",
        ]
        if tail
        else []
    )
    return central_scenario(
        gs.load_scenario("scenarios/county_guarantee_2021.yaml", overrides=overrides)
    )


def estimates(scenario, paths: int, seeds: range, book=None) -> tuple[np.ndarray, float]:
    """The guarantor's VaR 99.9% (CNY) per seed, and the mean effective sample size."""
    var, ess = [], []
    for seed in seeds:
        ds = gs.simulate(scenario, paths=paths, seed=seed, book=book)
        loss = ds["loss"].sel(party="guarantor").sum("year")
        var.append(float(gs.results.value_at_risk(loss, LEVEL)))
        ess.append(gs.results.effective_sample_size(ds))
    return np.array(var), float(np.mean(ess))


def study(name: str, paths: int, n_seeds: int, truth: float | None = None) -> dict:
    def make(tail: bool):
        if name == "one_period":
            return one_period_scenario(LEVEL if tail else None)
        return county_scenario(tail)

    book = one_period_book() if name == "one_period" else None
    seeds = range(1000, 1000 + n_seeds)
    gs.simulate(make(True), paths=8, seed=1, book=book)  # compile outside the timing
    row: dict = {"book": name, "paths": paths, "seeds": n_seeds}
    for label, tail in (("plain", False), ("is", True)):
        start = time.process_time()
        var, ess = estimates(make(tail), paths, seeds, book)
        row[label] = {
            "mean": var.mean(),
            "sd": var.std(ddof=1),
            "ess": ess,
            "cpu_s": time.process_time() - start,
        }
    row["variance_reduction"] = (row["plain"]["sd"] / row["is"]["sd"]) ** 2
    row["truth"] = truth
    return row


def show(row: dict) -> None:
    print(f"\n{row['book']}: {row['seeds']} seeds x {row['paths']} paths, guarantor VaR 99.9%")
    if row["truth"] is not None:
        print(f"  closed form (Vasicek, large pool): {row['truth'] / 1e6:,.2f} m CNY")
    for label in ("plain", "is"):
        r = row[label]
        print(
            f"  {label:5s}: mean {r['mean'] / 1e6:,.2f} m, sd {r['sd'] / 1e6:,.3f} m, "
            f"ESS {r['ess']:,.1f}, CPU {r['cpu_s']:,.1f} s"
        )
    print(f"  variance reduction (plain / IS variance): {row['variance_reduction']:,.1f}x")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--book", choices=("one_period", "county", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="8 seeds, 400 paths")
    args = parser.parse_args(argv)
    seeds, paths = (8, 400) if args.quick else (args.seeds, args.paths)
    truth = COVERAGE * LGD * N_LOANS * AMOUNT * float(vasicek_loss_quantile(LEVEL, PD, RHO))
    if args.book in ("one_period", "both"):
        show(study("one_period", paths, seeds, truth))
    if args.book in ("county", "both"):
        show(study("county", paths, seeds))


if __name__ == "__main__":
    main()
