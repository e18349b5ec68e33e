"""Intervals for paths that share a book replica (``guarantee_sim.results.intervals``).

Known answers worked by hand (CR1 on four numbers, Wilson on four clusters), then the
coverage on a synthetic clustered generator with a known answer: 40 clusters of 25 paths
with an intra-cluster correlation of 0.5, 2,000 repetitions, fixed seed. The cluster-
robust intervals cover within 2 points of 95%; the same intervals with every path its own
cluster (the intervals before clustering, the planted bug) cover about half the time.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from conftest import make_scenario
from process_scenarios import process_dict
from scipy import stats
from scipy.special import ndtri

import guarantee_sim as gs
from guarantee_sim.cli import print_summary
from guarantee_sim.reporting import build_brief, render_markdown
from guarantee_sim.reporting.tables import target_table
from guarantee_sim.results import (
    MIN_CLUSTERS,
    cluster_labels,
    difference_interval,
    mean_interval,
    probability_interval,
    tail_interval,
    wilson_interval,
)
from guarantee_sim.testing import results_dataset, with_replicas

T975 = {1: 12.706204736174707, 3: 3.182446305284263}  # t quantiles, from tables


def along(values, replica=None, dims=("path",)) -> xr.DataArray:
    coords = {} if replica is None else {"replica": ("path", np.asarray(replica))}
    return xr.DataArray(np.asarray(values, dtype=float), dims=dims, coords=coords)


# --------------------------------------------------------------------------- known answers


def test_mean_interval_is_cr1_with_t_on_clusters_minus_one_df():
    # mean 2.5; residuals -1.5, -0.5, 0.5, 1.5; cluster sums -1 (paths 0, 2) and 1 (1, 3)
    # V = G/(G-1) * sum(S^2) / n^2 = 2 * 2 / 16 = 0.25, se 0.5, t with 1 df
    r = mean_interval(along([1, 2, 3, 4], replica=[0, 1, 0, 1]))
    assert float(r["se"]) == pytest.approx(0.5, rel=1e-12)
    assert float(r["low"]) == pytest.approx(2.5 - T975[1] * 0.5, rel=1e-9)
    assert r.attrs["clusters"] == 2 and r.attrs["approximate"]
    assert "cluster-robust over 2 book replicas (CR1), t with 1 df" in r.attrs["method"]


def test_one_book_gives_the_ordinary_interval_over_independent_paths():
    values = [1.0, 2.0, 3.0, 4.0, 7.0]
    for r in (mean_interval(along(values, replica=[0] * 5)), mean_interval(along(values))):
        assert float(r["se"]) == pytest.approx(np.std(values, ddof=1) / math.sqrt(5), rel=1e-12)
        assert "5 independent paths (one book)" in r.attrs["method"]


def test_approximate_below_the_stated_minimum_of_replicas():
    assert MIN_CLUSTERS == 20
    for k, approximate in ((MIN_CLUSTERS - 1, True), (MIN_CLUSTERS, False)):
        n = 3 * k
        values = along(np.arange(n) % 7, replica=np.arange(n) % k)
        assert mean_interval(values).attrs["approximate"] is approximate
        assert probability_interval(values > 3).attrs["approximate"] is approximate


def test_share_at_100_percent_on_four_replicas_is_wilson_on_four():
    """All 4 replicas at 100%: nothing says the paths of a replica differ, so the
    effective number of paths is 4: Wilson low end n / (n + t^2) with t(3)."""
    hits = along([True] * 1000, replica=np.arange(1000) % 4)
    r = probability_interval(hits)
    assert float(r["effective_paths"]) == 4.0
    assert float(r["low"]) == pytest.approx(4 / (4 + T975[3] ** 2), rel=1e-9)
    assert float(r["high"]) == 1.0
    naive = probability_interval(along([True] * 1000))  # one book: 1000 independent paths
    assert float(naive["low"]) > 0.99


def test_share_effective_paths_lie_between_clusters_and_paths():
    # every replica has the same share: no between-replica spread, n effective paths
    same = along(np.tile([1, 0, 0, 0], 10), replica=np.repeat(np.arange(10), 4))
    assert float(probability_interval(same)["effective_paths"]) == 40.0
    # a replica is all in or all out: the 10 replicas are the observations
    whole = along(np.repeat([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], 4), replica=np.repeat(np.arange(10), 4))
    r = probability_interval(whole)
    assert 10.0 <= float(r["effective_paths"]) <= 11.0  # 10 x (G-1)/G... up to CR1's factor
    low, high = wilson_interval(0.2, float(r["effective_paths"]), stats.t.ppf(0.975, 9))
    assert (float(r["low"]), float(r["high"])) == pytest.approx((low, high), rel=1e-12)


def test_wilson_interval_at_the_edges():
    assert [round(x, 4) for x in wilson_interval(0.0, 100)] == [0.0, 0.037]
    low, high = wilson_interval(0.3, 100)
    assert 0.0 < low < 0.3 < high < 1.0


def test_paired_difference_is_exact_when_variants_differ_by_a_constant():
    common = along([5.0, 9.0, 1.0, 30.0, 2.0, 8.0], replica=[0, 1, 2, 0, 1, 2])
    r = difference_interval(common + 2.0, common)
    assert float(r["mean"]) == 2.0 and float(r["low"]) == float(r["high"]) == 2.0
    assert r.attrs["method"].startswith("paired difference of means, cluster-robust over 3")


def test_variants_with_different_replica_counts_share_clusters_through_either():
    # replicas p mod 4 in one variant, p mod 2 in the other: paths meet through p mod 2
    a = along(np.arange(8.0), replica=np.arange(8) % 4)
    b = along(np.zeros(8), replica=np.arange(8) % 2)
    r = difference_interval(a, b)
    assert r.attrs["clusters"] == 2
    both = xr.DataArray(
        np.zeros((2, 8)),
        dims=("scenario", "path"),
        coords={"replica": (("scenario", "path"), np.stack([np.arange(8) % 4, np.arange(8) % 2]))},
    )
    labels, kind = cluster_labels(both)
    assert kind == "replica" and np.array_equal(labels, np.arange(8) % 2)
    # p mod 2 and p mod 3 chain every path together: no clusters, said so, approximate
    apart = difference_interval(a, along(np.zeros(8), replica=np.arange(8) % 3))
    assert "taken as independent" in apart.attrs["method"] and apart.attrs["approximate"]


def test_weighted_tail_with_equal_weights_is_the_empirical_var_and_es():
    from guarantee_sim.results.weights import weighted_tail

    values = np.arange(1.0, 101.0)
    weights = np.ones((1, 100))
    assert weighted_tail(values, weights, 0.99, "var")[0] == 99.0
    assert weighted_tail(values, weights, 0.99, "es")[0] == 100.0
    assert weighted_tail(values, weights, 0.95, "es")[0] == pytest.approx(98.0)


# --------------------------------------------------------------------------- coverage

REPS, CLUSTERS, PER_CLUSTER, SEED = 2000, 40, 25, 20261127
TOLERANCE = 0.02  # points of coverage around 95%; the Monte Carlo s.e. is 0.5 points


@pytest.fixture(scope="module")
def clustered():
    """REPS draws of CLUSTERS x PER_CLUSTER paths, y = a_cluster + e_path, both N(0, 1):
    intra-cluster correlation 0.5, mean 0, P(y > c) known; a second variant on the same
    paths (common random numbers) with a paired difference of 0.1 and its own cluster
    effect. Returns (replica of each path, y, variant)."""
    rng = np.random.default_rng(SEED)
    n = CLUSTERS * PER_CLUSTER
    replica = np.arange(n) % CLUSTERS
    y = rng.normal(size=(REPS, CLUSTERS))[:, replica] + rng.normal(size=(REPS, n))
    shift = 0.5 * rng.normal(size=(REPS, CLUSTERS))[:, replica] + 0.5 * rng.normal(size=(REPS, n))
    return replica, y, y + 0.1 + shift


def covered(r: xr.Dataset, truth: float) -> float:
    return float(((r["low"] <= truth) & (truth <= r["high"])).mean())


def coverage(replica, make, truth):
    """Coverage clustered by replica and with every path independent (no replica)."""

    def labelled(x):
        return along(x, replica, dims=("rep", "path"))

    def alone(x):
        return along(x, dims=("rep", "path"))

    return covered(make(labelled), truth), covered(make(alone), truth)


def test_mean_interval_covers_95_percent_on_clustered_paths(clustered):
    replica, y, _ = clustered
    robust, naive = coverage(replica, lambda f: mean_interval(f(y)), 0.0)
    print(f"mean: cluster-robust {robust:.2%}, paths independent {naive:.2%}")
    assert abs(robust - 0.95) <= TOLERANCE
    assert naive < 0.6


def test_probability_interval_covers_95_percent_on_clustered_paths(clustered):
    replica, y, _ = clustered
    p = 0.3
    threshold = math.sqrt(2.0) * ndtri(1 - p)  # y ~ N(0, 2)
    robust, naive = coverage(replica, lambda f: probability_interval(f(y > threshold)), p)
    print(f"probability: cluster-robust {robust:.2%}, paths independent {naive:.2%}")
    assert abs(robust - 0.95) <= TOLERANCE
    assert naive < 0.7


def test_paired_difference_covers_95_percent_on_clustered_paths(clustered):
    replica, y, variant = clustered
    robust, naive = coverage(replica, lambda f: difference_interval(f(variant), f(y)), 0.1)
    print(f"paired difference: cluster-robust {robust:.2%}, paths independent {naive:.2%}")
    assert abs(robust - 0.95) <= TOLERANCE
    assert naive < 0.7


def test_tail_intervals_widen_with_intra_cluster_correlation():
    """Same marginal N(0, 1) losses, intra-cluster correlation 0 or 0.5: resampling whole
    replicas must widen the VaR and ES intervals when the replicas matter."""
    rng = np.random.default_rng(SEED)
    n = CLUSTERS * PER_CLUSTER
    replica = np.arange(n) % CLUSTERS
    width = {}
    for rho in (0.0, 0.5):
        shared = rng.normal(size=(8, CLUSTERS))[:, replica]
        y = math.sqrt(rho) * shared + math.sqrt(1 - rho) * rng.normal(size=(8, n))
        for statistic in ("var", "es"):
            r = tail_interval(along(y, replica, dims=("rep", "path")), 0.95, statistic)
            width[rho, statistic] = float((r["high"] - r["low"]).mean())
            assert not r.attrs["approximate"]
            assert "bootstrap (999 draws) over 40 book replicas" in r.attrs["method"]
    for statistic in ("var", "es"):
        assert width[0.5, statistic] > 1.5 * width[0.0, statistic], width


def test_tail_interval_is_approximate_with_few_replicas_and_reproducible():
    losses = along(np.arange(400.0) % 37, replica=np.arange(400) % 4)
    first = tail_interval(losses, 0.99, "es")
    assert first.attrs["approximate"] and first.attrs["clusters"] == 4
    assert first.identical(tail_interval(losses, 0.99, "es"))
    assert float(first["low"]) <= float(first["high"])


# --------------------------------------------------------------------------- end to end


def shared_replica_run(replicas: int, paths: int = 40):
    """A run in which attainment takes one value per replica (as a process-fed book does):
    replica 0 falls short, the others pass."""
    replica = np.arange(paths) % replicas
    borrowers = np.where(replica == 0, 90.0, 120.0)
    ds = results_dataset(
        years=[2021],
        segments={"sme": ["first_time"]},
        parties={"bank": "bank", "guarantor": "guarantor"},
        borrowers=borrowers[:, None, None],
        loss={"guarantor": np.linspace(0.0, 1.0e6, paths)[:, None]},
        targets={
            "first": {
                "metric": "borrowers",
                "tags": ["first_time"],
                "kind": "flow",
                "from_year": 2021,
                "to_year": 2021,
                "value": 100.0,
            }
        },
    )
    return with_replicas(ds, replicas)


@pytest.mark.slow
@pytest.mark.parametrize("lang, word", [("en", "approximate 95% CI"), ("zh", "近似 95% 置信区间")])
def test_brief_labels_intervals_on_few_replicas_approximate(lang, word):
    ds = shared_replica_run(replicas=4)
    assert np.array_equal(ds.replica.values, np.arange(40) % 4)
    brief = build_brief(ds, lang)
    text = render_markdown(brief)
    assert word in text
    # the method named: CR1 in English, the same words (no abbreviation) in Chinese
    assert ("CR1" if lang == "en" else "聚类稳健") in text
    # P = 75% from 3 of 4 replicas: the interval is Wilson on about 4, not on 40 paths
    targets = brief.tables["targets"].iloc[0]
    assert targets.probability == 0.75
    assert targets.probability_ci_low < 0.35 and targets.probability_ci_approximate


@pytest.mark.slow
def test_brief_with_one_book_says_paths_are_independent():
    text = render_markdown(build_brief(shared_replica_run(replicas=1), "en"))
    assert "approximate" not in text
    assert "independent given that book" in text


def test_cli_summary_names_the_method_and_says_approximate(capsys):
    from rich.console import Console

    print_summary(shared_replica_run(replicas=4), Console(width=200))
    out = " ".join(capsys.readouterr().out.split())  # the caption wraps
    assert "approximate 95% CI" in out
    assert "cluster-robust over 4 book replicas" in out


def test_engine_run_labels_each_path_with_its_book_replica():
    """A tiny process-fed run with 3 replicas, in blocks of 4 paths: the ``replica``
    coordinate is path mod 3, and the target interval is clustered over the 3 replicas
    and approximate."""
    d = process_dict(applications_per_year=200, replicas=3)
    d["targets"] = {
        "first": {
            "metric": "borrowers",
            "tags": ["first_time"],
            "kind": "flow",
            "from_year": 2021,
            "to_year": 2021,
            "value": 100.0,
        }
    }
    ds = gs.simulate(make_scenario(d), paths=10, seed=3, block_size=4)
    assert ds.attrs["book_replicas"] == 3
    assert ds.replica.values.tolist() == [p % 3 for p in range(10)]
    assert ds.replica.attrs["long_name"]
    row = target_table(ds).iloc[0]
    assert row.probability_ci_approximate
    assert "cluster-robust over 3 book replicas" in row.probability_ci_method
