"""The year factors in the results and the variance decomposition of target attainment
(``results/decomposition.py``; issue 9, part A): known shares on synthetic data, the
Shapley properties, the degenerate cases, and the engine's factors equal to the kernel's."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import base_scenario_dict, make_scenario

import guarantee_sim as gs
from guarantee_sim.results.decomposition import SOURCES, variance_shares

N = 20_000
NONE = np.empty((N, 0))


def _r2(y, columns):
    """R² of OLS with an intercept, written out independently of the module."""
    x = np.column_stack([np.ones(len(y)), *columns]) if columns else np.ones((len(y), 1))
    fitted = x @ np.linalg.lstsq(x, y, rcond=None)[0]
    return 1.0 - ((y - fitted) ** 2).sum() / ((y - y.mean()) ** 2).sum()


def test_independent_sources_get_their_share_of_the_variance():
    """A = 2 f_2022 + 1.5 (p^2 - 1) + c_replica + noise, every source independent: each
    share is the source's variance / the total (f: 4, p^2: 1.5^2 x 2 = 4.5, replicas: the
    variance of c over 8 equally used replicas, noise: 1); a factor year that does not
    matter and the squared parameter (no linear effect at all) are handled."""
    rng = np.random.default_rng(20211229)
    factors = rng.normal(size=(N, 3))  # years 2021..2023, only 2022 acts
    p = rng.normal(size=N)
    replica = np.arange(N) % 8
    effect = np.array([-1.2, -0.6, -0.3, 0.0, 0.2, 0.5, 0.7, 0.7])
    y = 2.0 * factors[:, 1] + 1.5 * (p**2 - 1.0) + effect[replica] + rng.normal(size=N)
    parts = np.array([4.0, 2.25 * 2.0, effect.var(), 1.0])
    shares, note = variance_shares(y, factors, p[:, None], replica)
    assert note == ""
    np.testing.assert_allclose(shares, parts / parts.sum(), atol=0.015)
    assert shares.sum() == pytest.approx(1.0, abs=1e-12)


def test_the_shares_are_the_average_over_the_orders_of_the_groups():
    """Correlated factor and parameter: the gain in R² of a group depends on the order the
    groups enter; the share is its average over all 6 orders (Shapley), computed here by
    brute force, and swapping the roles of two groups swaps their shares."""
    rng = np.random.default_rng(3)
    n = 3_000
    f = rng.normal(size=n)
    p = 0.7 * f + 0.5 * rng.normal(size=n)  # correlated with the factor
    replica = rng.integers(0, 3, size=n)
    y = f + p + 0.8 * replica + rng.normal(size=n)
    columns = {
        "credit_cycle": [f, f**2],
        "parameters": [p, p**2],
        "book_replica": [(replica == 1) * 1.0, (replica == 2) * 1.0],
    }
    groups = list(columns)
    expected = dict.fromkeys(groups, 0.0)
    for order in itertools.permutations(groups):
        entered: list = []
        for g in order:
            before = _r2(y, entered)
            entered += columns[g]
            expected[g] += (_r2(y, entered) - before) / 6
    shares, _ = variance_shares(y, f[:, None], p[:, None], replica)
    np.testing.assert_allclose(shares[:3], [expected[g] for g in groups], atol=1e-10)
    every = [c for g in groups for c in columns[g]]
    assert shares[3] == pytest.approx(1.0 - _r2(y, every), abs=1e-10)
    swapped, _ = variance_shares(y, p[:, None], f[:, None], replica)
    np.testing.assert_allclose(swapped[[1, 0, 2, 3]], shares, atol=1e-12)


def test_degenerate_cases_are_nan_with_a_reason_or_reduced():
    rng = np.random.default_rng(5)
    f = rng.normal(size=(40, 2))
    flat = np.full(40, 1.25)
    shares, note = variance_shares(flat, f, np.empty((40, 0)), np.zeros(40))
    assert np.isnan(shares).all() and "does not vary" in note
    with_nan = rng.normal(size=40)
    with_nan[3] = np.nan
    assert "not finite" in variance_shares(with_nan, f, np.empty((40, 0)), np.zeros(40))[1]
    # one book and no parameters: those shares are exactly 0, the rest sums to 1
    y = f[:, 0] + rng.normal(size=40)
    shares, note = variance_shares(y, f, np.full((40, 1), 0.3), np.zeros(40))
    assert note == "" and shares[1] == 0.0 and shares[2] == 0.0
    assert shares.sum() == pytest.approx(1.0)
    # 8 paths, 4 factor columns: 8 regressors with squares is too many, 4 linear is not
    shares, note = variance_shares(y[:8], rng.normal(size=(8, 4)), np.empty((8, 0)), np.zeros(8))
    assert note.startswith("linear terms only") and shares.sum() == pytest.approx(1.0)
    shares, note = variance_shares(y[:5], rng.normal(size=(5, 4)), np.empty((5, 0)), np.zeros(5))
    assert np.isnan(shares).all() and note == "fewer paths than regressors"


def _balance_scenario(rho: float, **changes):
    """The base book with a year-end balance target: the balance moves with defaults only
    (volumes are fixed, one book)."""
    data = base_scenario_dict()
    data["targets"] = {
        "balance": {
            "metric": "outstanding_amount",
            "tags": ["guaranteed"],
            "kind": "stock",
            "from_year": 2021,
            "to_year": 2021,
            "value": 1.0e8,
        },
        # volumes are fixed: the same on every path, nothing to decompose
        "loans": {
            "metric": "loans_count",
            "tags": ["guaranteed"],
            "kind": "flow",
            "from_year": 2021,
            "to_year": 2021,
            "value": 100,
        },
    }
    return make_scenario(
        data, **{"segments.sme.correlation": rho, "segments.sme.pd.mean": 0.05, **changes}
    )


def test_end_to_end_the_cycle_share_follows_the_correlation():
    """Same seed (same defaults' randomness and factors): with correlation 0 the factors
    cannot move the balance and nearly all of its variance is defaults; with correlation
    0.3 the credit cycle takes most of it. One book: replica share 0; no parameters: 0.
    Contract: dims, units, the note, and shares summing to 1."""
    idio = gs.simulate(_balance_scenario(0.0), paths=400, seed=11)
    cycle = gs.simulate(_balance_scenario(0.3), paths=400, seed=11)
    share = idio.attainment_variance_share.sel(target="balance")
    assert idio.attainment_variance_share.dims == ("target", "variance_source")
    assert list(idio.variance_source.values) == list(SOURCES)
    assert idio.attainment_variance_share.attrs["units"] == "1"
    assert "Shapley" in idio.attainment_variance_share.attrs["method"]
    assert str(idio.attainment_variance_note.sel(target="balance").values) == ""
    assert float(share.sel(variance_source="defaults")) > 0.95
    assert float(share.sel(variance_source="book_replica")) == 0.0
    assert float(share.sel(variance_source="parameters")) == 0.0
    assert float(cycle.attainment_variance_share.sel(target="balance").sum()) == pytest.approx(1)
    high = float(
        cycle.attainment_variance_share.sel(target="balance", variance_source="credit_cycle")
    )
    assert high > 0.5
    variance = float(cycle.target_attainment.sel(target="balance").var("path"))
    assert float(cycle.attainment_variance.sel(target="balance")) == pytest.approx(variance)
    # the accessor recomputes it on any set of paths
    again = cycle.gs.attainment_variance_shares()
    np.testing.assert_array_equal(
        again.attainment_variance_share.values, cycle.attainment_variance_share.values
    )
    assert float(
        cycle.isel(path=slice(0, 1))
        .gs.attainment_variance_shares()
        .attainment_variance_share.isnull()
        .all()
    )


def test_end_to_end_a_drawn_pd_level_takes_a_parameters_share():
    pd = {"dist": "lognormal", "median": 0.05, "sd": 0.5, "min": 0.005, "max": 0.5}
    ds = gs.simulate(_balance_scenario(0.0, **{"segments.sme.pd.mean": pd}), paths=400, seed=11)
    share = ds.attainment_variance_share.sel(target="balance")
    assert float(share.sel(variance_source="parameters")) > 0.2
    assert float(share.sum()) == pytest.approx(1.0)


def test_year_factor_is_what_the_kernel_drew_for_each_path():
    """The engine's ``year_factor`` equals the factors the kernel's own start_path draws
    for the path (two correlated AR(1) factors, several blocks)."""
    from test_reproducibility import rich_scenario_dict

    from guarantee_sim.engine.inputs import build_inputs
    from guarantee_sim.kernels.portfolio import start_path

    scenario = make_scenario(rich_scenario_dict())
    ds = gs.simulate(scenario, paths=10, seed=77, block_size=3)
    assert ds.year_factor.dims == ("path", "year", "factor")
    assert list(ds.factor.values) == ["economy", "property"]
    inputs = build_inputs(scenario, 77)
    pd_scale = np.ones(len(scenario.segments))
    for path in (0, 4, 9):
        draws = start_path(
            np.uint32(77),
            path,
            inputs.book,
            inputs.segments,
            inputs.parties,
            inputs.macro,
            inputs.settings,
            pd_scale,
        )[0]
        np.testing.assert_array_equal(ds.year_factor.sel(path=path).values, draws.factors)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_brief_says_what_drives_each_targets_spread_in_percents_adding_to_100(lang):
    """Beside the target probabilities, one line per target with the four shares as whole
    percents that add up to 100 (largest remainders: 0.3333 x 3 is 33 + 33 + 34); the
    CSV of the targets carries the shares."""
    import re

    from guarantee_sim.reporting import build_brief, render_markdown
    from guarantee_sim.reporting.text import TEXT

    ds = gs.simulate(_balance_scenario(0.15), paths=60, seed=3)
    brief = build_brief(ds, lang)
    markdown = render_markdown(brief)
    intro = TEXT[lang]["spread_intro"]
    assert intro in markdown
    assert markdown.index(intro) > markdown.index(TEXT[lang]["col_probability"])
    line = next(x for x in markdown.splitlines()[markdown.splitlines().index(intro) :] if "%" in x)
    percents = [int(x) for x in re.findall(r"(\d+)%", line)]
    assert len(percents) == 4 and sum(percents) == 100
    label = "credit cycle" if lang == "en" else "信贷周期"
    assert label in line
    constant = TEXT[lang]["spread_constant"].split("{target}")[1]
    assert any(constant in x for x in markdown.splitlines()), constant
    row = brief.tables["targets"].iloc[0]
    shares = [row[f"share_{s}"] for s in SOURCES]
    assert sum(shares) == pytest.approx(1.0)
    assert abs(percents[0] - 100 * shares[0]) < 1


def test_whole_percents_add_up_to_100():
    from guarantee_sim.reporting.brief import _whole_percents

    assert _whole_percents([1 / 3, 1 / 3, 1 / 3, 0.0]) == ["34%", "33%", "33%", "0%"]
    assert _whole_percents([0.456, 0.301, 0.049, 0.194]) == ["46%", "30%", "5%", "19%"]
    assert _whole_percents([0.005, 0.005, 0.0, 0.99]) == ["1%", "0%", "0%", "99%"]
