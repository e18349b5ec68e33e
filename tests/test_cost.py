"""Public cost in present value, subsidy rate, break-even and zero-subsidy fees, exhaustion.

Known answers worked out on paper. Most cases discount at r = 21% a year, where the
mid-year factors are exact: (1.21)^-0.5 = 1/1.1 and (1.21)^-1.5 = 1/1.331, so a flow of
110 in the first year and 133.1 in the second are each worth 100 at the start of the first
year. The kernel outputs these metrics read (``public_cost``, ``fee_base``,
``capital_exhausted``, ...) are added by hand to a :func:`results_dataset`.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from guarantee_sim.results import (
    MissingResults,
    break_even_fee,
    mean_interval,
    present_value,
    public_cost_pv,
    ratio_of_means,
    weighted_mean,
    years_to_exhaustion,
    zero_subsidy_fee,
)
from guarantee_sim.results.cost import discount_factors
from guarantee_sim.testing import results_dataset

#: the 97.5% quantile of Student's t with 1 df (tables: 12.706): the hand cases have two
#: paths, each its own cluster (one book), so intervals use t with 2 - 1 df
T95_1DF = 12.706204736174694

R = 0.21  # mid-year factors 1/1.1 and 1/1.331
PARTY_FLOWS = (
    "fee_subsidy",
    "operating_cost",
    "reguarantee_fees",
    "fee_base",
    "capital_exhausted",
    "leverage_cap_binding",
    "capital_injection",
)


def with_flows(ds: xr.Dataset, **variables) -> xr.Dataset:
    """``ds`` with the new kernel outputs: party variables as {party: (path, year) values}
    (NaN for the parties not given, as for kinds without them), others as (path, year)."""
    ds = ds.copy()
    shape = (ds.sizes["path"], ds.sizes["year"])
    for name, value in variables.items():
        if isinstance(value, dict):
            array = np.full((*shape, ds.sizes["party"]), np.nan)
            for party, part in value.items():
                array[..., list(ds.party.values).index(party)] = np.broadcast_to(part, shape)
            ds[name] = (("path", "year", "party"), array)
        else:
            ds[name] = (("path", "year"), np.broadcast_to(np.asarray(value, float), shape))
    ds.attrs["discount_rate"] = R
    return ds


# --------------------------------------------------------------------------- discounting


def test_present_value_discounts_mid_year_to_the_start_of_the_first_year():
    flows = xr.DataArray([110.0, 133.1, 0.0], dims="year", coords={"year": [2021, 2022, 2023]})
    assert float(present_value(flows, R)) == pytest.approx(200.0, rel=1e-12)
    # at 5%: 100 / 1.05**0.5 + 100 / 1.05**1.5 = 97.590007 + 92.942864
    flows = xr.DataArray([100.0, 100.0], dims="year", coords={"year": [2021, 2022]})
    assert float(present_value(flows, 0.05)) == pytest.approx(190.532871, abs=1e-6)
    assert float(present_value(flows, 0.0)) == 200.0
    # to the start of an earlier year: one more year of discounting
    assert float(present_value(flows, 0.05, start_year=2020)) == pytest.approx(
        190.532871 / 1.05, abs=1e-6
    )


def test_present_value_of_a_variable_a_party_lacks_is_nan_not_zero():
    flows = xr.DataArray([[np.nan, np.nan], [1.0, np.nan]], dims=("party", "year"))
    flows = flows.assign_coords(year=[2021, 2022])
    pv = present_value(flows, R)
    assert np.isnan(pv[0]) and float(pv[1]) == pytest.approx(1 / 1.1)


def test_the_rate_is_the_results_attr_unless_given():
    ds = with_flows(base(), public_cost=[[110.0, 0.0]], fee_base={"g": 0.0})
    assert float(public_cost_pv(ds)["public_cost"].item()) == pytest.approx(100.0)
    assert float(public_cost_pv(ds, rate=0.0)["public_cost"].item()) == pytest.approx(110.0)
    ds.attrs.pop("discount_rate")
    with pytest.raises(MissingResults, match="discount_rate"):
        public_cost_pv(ds)


def test_a_comparison_keeps_each_designs_rate_in_a_coord():
    """run_experiment stores each design's rate in a ``discount_rate`` coord (the attr is
    dropped when the designs differ); one design selected, the coord is its rate."""
    from guarantee_sim.results import discount_rate

    one = with_flows(base(), public_cost=[[110.0, 0.0]])
    two = one.copy()
    two.attrs["discount_rate"] = 0.0
    both = xr.concat(
        [d.assign_coords(discount_rate=d.attrs["discount_rate"]) for d in (one, two)],
        dim=xr.DataArray(["a", "b"], dims="scenario", name="scenario"),
        coords="different",
        compat="equals",
        combine_attrs="drop_conflicts",
    )
    assert "discount_rate" not in both.attrs
    assert discount_rate(both.sel(scenario="b")) == 0.0
    pv = public_cost_pv(both.sel(scenario="a"))["public_cost"]
    assert float(pv.item()) == pytest.approx(100.0)


# --------------------------------------------------------------------------- public cost


#: the kernel outputs these metrics read, which results written before them lack
NEW_OUTPUTS = [
    "public_cost",
    "public_operating_cost",
    "fee_subsidy",
    "operating_cost",
    "reguarantee_fees",
    "fee_base",
    "capital_exhausted",
    "leverage_cap_binding",
    "capital_injection",
]


def older(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` as a results file written before the public-cost outputs existed."""
    return ds.drop_vars([v for v in NEW_OUTPUTS if v in ds])


def base(paths: int = 1, **kw) -> xr.Dataset:
    """Two years; a guaranteed segment (coverage 0.8) and an own-risk one (coverage 0)."""
    return results_dataset(
        years=[2021, 2022],
        segments={"guaranteed": ["guaranteed"], "own": []},
        parties={"bank": "bank", "g": "guarantor"},
        schemes={
            "cover": {"coverage": 0.8, "split": {"g": 1.0}},
            "own_risk": {"coverage": 0.0, "split": {}},
        },
        segment_scheme={"guaranteed": "cover", "own": "own_risk"},
        paths=paths,
        **kw,
    )


def test_subsidy_rate_is_pv_public_cost_per_100_cny_of_pv_guaranteed_lending():
    # guaranteed lending 1,100 then 1,331 (PV 1,000 + 1,000) on both paths; the own-risk
    # segment's 5,000 a year is not guaranteed and must not count
    lending = np.zeros((2, 2, 2))
    lending[:, :, 0] = [1100.0, 1331.0]
    lending[:, :, 1] = 5000.0
    ds = with_flows(
        base(paths=2, loans_amount=lending),
        public_cost=[[11.0, 13.31], [33.0, 26.62]],  # PV 10 + 10 = 20; 30 + 20 = 50
        fiscal_cost=[[110.0, 0.0], [0.0, 0.0]],  # PV 100; 0
        public_operating_cost=[[1.1, 1.331], [1.1, 1.331]],  # PV 2
    )
    pv = public_cost_pv(ds)
    np.testing.assert_allclose(pv["public_cost"], [20.0, 50.0])
    np.testing.assert_allclose(pv["fiscal_cost"], [100.0, 0.0])
    np.testing.assert_allclose(pv["public_operating_cost"], [2.0, 2.0])
    np.testing.assert_allclose(pv["guaranteed_lending"], [2000.0, 2000.0])
    # 100 x E[PV public cost] / E[PV guaranteed] = 100 x 35 / 2,000; operating cost left out
    assert float(pv["subsidy_rate"]) == pytest.approx(1.75)
    # delta method: linearised values (100 x [20, 50] - 1.75 x 2,000) / 2,000 = [-0.75, 0.75],
    # standard error of their mean 0.75
    assert float(pv["subsidy_rate_low"]) == pytest.approx(1.75 - T95_1DF * 0.75)
    assert float(pv["subsidy_rate_high"]) == pytest.approx(1.75 + T95_1DF * 0.75)
    assert pv.attrs["discount_rate"] == R


def test_subsidy_rate_is_nan_without_guaranteed_lending_and_operating_cost_may_be_missing():
    ds = with_flows(older(base(loans_amount=1000.0)), public_cost=[[11.0, 0.0]])
    ds = ds.assign_coords(scheme_coverage=("scheme", [0.0, 0.0]))
    pv = public_cost_pv(ds)
    assert np.isnan(float(pv["subsidy_rate"]))
    assert bool(pv["public_operating_cost"].isnull().all())


def test_older_results_name_what_they_lack():
    ds = older(base())
    with pytest.raises(MissingResults, match="public_cost") as err:
        public_cost_pv(ds)
    assert err.value.missing == ["public_cost"]
    with pytest.raises(
        MissingResults, match="operating_cost, reguarantee_fees, fee_subsidy, fee_base"
    ):
        break_even_fee(ds)
    with pytest.raises(MissingResults, match="capital_exhausted"):
        years_to_exhaustion(ds)


# --------------------------------------------------------------------------- break-even fee


def one_guarantor() -> xr.Dataset:
    """Path 0 (by hand, PV at 21%): payout 110 in year 1 (PV 100); recovery 26.62 in year 2
    (PV 20); operating cost 11 + 13.31 (PV 20); re-guarantee fees 13.31 in year 2 (PV 10);
    fee subsidy 22 in year 1 (PV 20); fee base 1,100 + 1,331 CNY-years (PV 2,000); fee income
    at 1%: 11 + 13.31 (PV 20). Break-even: (100 - 20 + 20 + 10 - 20) / 2,000 = 0.045.
    Path 1: the same without the payout: (0 - 20 + 20 + 10 - 20) / 2,000 = -0.005."""
    ds = results_dataset(
        years=[2021, 2022],
        segments={"sme": ["guaranteed"]},
        parties={"bank": "bank", "g": "guarantor", "idle": "guarantor", "fund": "reguarantor"},
        payout={"g": [[110.0, 0.0], [0.0, 0.0]], "bank": 50.0},
        recovery={"g": [0.0, 26.62], "bank": 5.0},
        fee_income={"g": [11.0, 13.31], "fund": 3.0},
    )
    return with_flows(
        ds,
        operating_cost={"g": [11.0, 13.31], "idle": 1.0},
        reguarantee_fees={"g": [0.0, 13.31], "idle": 0.0},
        fee_subsidy={"g": [22.0, 0.0], "idle": 0.0},
        fee_base={"g": [1100.0, 1331.0], "idle": 0.0},
    )


def test_break_even_fee_of_one_guarantor_by_hand():
    be = break_even_fee(one_guarantor())
    assert list(be.party.values) == ["g", "idle"]  # guarantors only
    g = be.sel(party="g")
    np.testing.assert_allclose(g["per_path"], [0.045, -0.005], rtol=1e-12)
    # in expectation: E[PV need] / E[PV fee base] = (90 - 10) / 2 / 2,000
    assert float(g["expected"]) == pytest.approx(0.02)
    # delta method: ([90, -10] - 0.02 x 2,000) / 2,000 = [0.025, -0.025], se of the mean 0.025
    assert float(g["expected_low"]) == pytest.approx(0.02 - T95_1DF * 0.025)
    assert float(g["expected_high"]) == pytest.approx(0.02 + T95_1DF * 0.025)
    assert float(g["per_path_quantile"].sel(quantile=0.5)) == pytest.approx(0.02)
    assert float(g["actual"]) == pytest.approx(0.01)  # the fee it charged
    assert int(g["paths_with_fee_base"]) == 2


def test_a_guarantor_without_a_fee_base_has_no_break_even():
    idle = break_even_fee(one_guarantor()).sel(party="idle")
    assert bool(idle["per_path"].isnull().all())
    assert np.isnan(float(idle["expected"])) and int(idle["paths_with_fee_base"]) == 0


# --------------------------------------------------------------------------- zero-subsidy fee


def public_system(public=("pg", "rg")) -> xr.Dataset:
    """A public guarantor pg (fee base PV 2,000, fee income PV 20: 1%), a private guarantor
    priv with a large book (its fee is not the public's to set), a public re-guarantor rg.
    PV public cost 20 and 50 on the two paths: E = 35."""
    ds = results_dataset(
        years=[2021, 2022],
        segments={"sme": ["guaranteed"]},
        parties={"bank": "bank", "pg": "guarantor", "priv": "guarantor", "rg": "reguarantor"},
        public=list(public),
        paths=2,
        fee_income={"pg": [11.0, 13.31], "priv": [110.0, 0.0], "rg": 5.0},
    )
    return with_flows(
        ds,
        public_cost=[[11.0, 13.31], [33.0, 26.62]],
        fee_base={"pg": [1100.0, 1331.0], "priv": [11000.0, 0.0]},
    )


def test_zero_subsidy_fee_by_hand():
    z = zero_subsidy_fee(public_system())
    # public cost at fee f: 35 + 20 - 2,000 f = 0  =>  f0 = 55 / 2,000
    assert float(z["fee"]) == pytest.approx(0.0275)
    assert float(z["actual"]) == pytest.approx(0.01)
    # delta method: ([20 + 20, 50 + 20] - 0.0275 x 2,000) / 2,000 = [-0.0075, 0.0075]
    assert float(z["fee_high"] - z["fee"]) == pytest.approx(T95_1DF * 0.0075)
    assert z.attrs["public_guarantors"] == "pg" and z.attrs["note"] == ""


def test_zero_subsidy_fee_without_a_public_guarantor_is_nan_with_the_reason():
    z = zero_subsidy_fee(public_system(public=("rg",)))
    assert np.isnan(float(z["fee"])) and "no public guarantor" in z.attrs["note"]


# --------------------------------------------------------------------------- exhaustion


def test_years_to_exhaustion_shares_by_first_year_and_never():
    ds = results_dataset(
        years=[2021, 2022, 2023],
        segments={"sme": []},
        parties={"bank": "bank", "g": "guarantor", "h": "guarantor"},
        paths=4,
    )
    ds = with_flows(
        ds,
        # first years 2022, 2023, never, 2021; a year after the first may be 0 again
        capital_exhausted={"g": [[0, 1, 1], [0, 0, 1], [0, 0, 0], [1, 0, 1]], "h": 0.0},
        leverage_cap_binding={"g": [[1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]], "h": 1.0},
    )
    out = years_to_exhaustion(ds)
    g = out.sel(party="g")
    np.testing.assert_allclose(g["share"], [0.25, 0.25, 0.25])
    assert float(g["never"]) == 0.25
    # empirical quantiles of {2021, 2022, 2023, never}
    assert g["first_year_quantile"].values.tolist() == [2021, 2021, 2022, 2023, np.inf]
    h = out.sel(party="h")
    assert float(h["never"]) == 1.0 and np.isinf(h["first_year_quantile"]).all()
    binding = years_to_exhaustion(ds, "leverage_cap_binding")
    np.testing.assert_allclose(binding["share"].sel(party="g"), [0.25, 0.0, 0.0])
    np.testing.assert_allclose(binding["share"].sel(party="h"), [1.0, 0.0, 0.0])
    assert float(binding["never"].sel(party="g")) == 0.75


# --------------------------------------------------------------------------- accessor, config


def test_accessor_methods_are_the_functions():
    ds = one_guarantor()
    xr.testing.assert_identical(ds.gs.break_even_fee(), break_even_fee(ds))
    assert float(ds.gs.present_value("fiscal_cost").sum()) == 0.0


def test_discount_rate_is_a_policy_key_stored_in_the_results():
    from conftest import make_scenario

    from guarantee_sim.config import ScenarioError

    assert make_scenario().policy.discount_rate == 0.026
    with pytest.raises(ScenarioError, match="discount_rate"):
        make_scenario(**{"policy.discount_rate": 1.5})
    import guarantee_sim as gs

    ds = gs.simulate(make_scenario(**{"policy.discount_rate": 0.031}), paths=2, seed=1)
    assert ds.attrs["discount_rate"] == 0.031


# --------------------------------------------------------------------------- reports


def full_system() -> xr.Dataset:
    """:func:`public_system` with every variable the reports read: guaranteed lending PV
    2,000 a path, pg's break-even book as in :func:`one_guarantor`'s path 0, exhaustion."""
    ds = public_system()
    lending = np.broadcast_to(np.array([1100.0, 1331.0])[None, :, None], (2, 2, 1)).copy()
    ds["loans_amount"] = (("path", "year", "segment"), lending)
    ds = ds.assign_coords(scheme_coverage=("scheme", [0.8]), scheme_label=("scheme", ["cover"]))
    zero = {"pg": 0.0, "priv": 0.0}
    ds = with_flows(
        ds,
        fiscal_cost=[[110.0, 0.0], [0.0, 0.0]],
        public_operating_cost=[[1.1, 1.331], [1.1, 1.331]],
        operating_cost={"pg": [11.0, 13.31], "priv": 0.0},
        reguarantee_fees={"pg": [0.0, 13.31], "priv": 0.0},
        fee_subsidy={"pg": [22.0, 0.0], "priv": 0.0},
        capital_exhausted={"pg": [[0, 1], [0, 0]], "priv": 0.0},
        leverage_cap_binding={"pg": [[1, 1], [0, 0]], "priv": 0.0},
        capital_injection=zero,
    )
    ds["payout"].loc[{"party": "pg"}] = [[110.0, 0.0], [110.0, 0.0]]
    ds["recovery"].loc[{"party": "pg"}] = [[0.0, 26.62], [0.0, 26.62]]
    return ds


def test_tables_carry_the_metrics_by_hand():
    from guarantee_sim.reporting.tables import (
        break_even_table,
        exhaustion_table,
        missing_cost_variables,
        public_cost_table,
    )

    ds = full_system()
    assert missing_cost_variables(ds) == []
    cost = public_cost_table(ds).iloc[0]
    assert cost["public_cost_pv_mean"] == pytest.approx(35.0)
    assert cost["fiscal_cost_pv_mean"] == pytest.approx(50.0)
    assert cost["public_operating_cost_pv_mean"] == pytest.approx(2.0)
    assert cost["subsidy_rate"] == pytest.approx(1.75)
    assert cost["zero_subsidy_fee"] == pytest.approx(0.0275)
    assert cost["public_guarantor_fee"] == pytest.approx(0.01)
    fees = break_even_table(ds).set_index("party")
    assert fees.loc["pg", "break_even"] == pytest.approx(0.045)  # the same book on both paths
    assert fees.loc["pg", "fee_charged"] == pytest.approx(0.01)
    assert bool(fees.loc["pg", "public"]) and not bool(fees.loc["priv", "public"])
    exhaustion = exhaustion_table(ds).set_index(["party", "event"])
    assert exhaustion.loc[("pg", "capital_exhausted"), "share_2022"] == 0.5
    assert exhaustion.loc[("pg", "leverage_cap_binding"), "share_2021"] == 0.5
    assert exhaustion.loc[("priv", "capital_exhausted"), "never"] == 1.0


def test_summary_section_prints_the_numbers_and_names_what_older_results_lack():
    from rich.console import Console

    from guarantee_sim.cli import print_summary

    console = Console(record=True, width=200)
    print_summary(full_system(), console)
    out = console.export_text()
    assert "Public cost and break-even" in out
    assert "subsidy rate: 1.750 CNY per 100 CNY guaranteed" in out
    assert "zero-subsidy fee of the public guarantors (pg): 2.750% a year" in out
    assert "4.500%" in out  # pg's break-even fee
    assert "lack" not in out

    console = Console(record=True, width=200)
    print_summary(older(base()), console)  # results written before public_cost existed
    out = console.export_text()
    assert "these results lack public_cost" in out and "discount_rate" not in out
    assert "Break-even" not in out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_brief_section_in_both_languages(lang):
    """The section's blocks, rendered (the whole brief is built in test_reporting)."""
    from guarantee_sim.reporting.brief import Brief, _public_cost_blocks, render_markdown
    from guarantee_sim.reporting.tables import all_tables

    def section(ds):
        return render_markdown(Brief(lang, "", _public_cost_blocks(ds, all_tables(ds), lang)))

    text = section(full_system())
    heading = {"zh": "## 公共成本与保本费率", "en": "## Public cost and break-even fees"}[lang]
    assert text.startswith(heading)
    expected = {
        "en": [
            "CNY 1.75 per CNY 100 guaranteed",  # subsidy rate
            "would charge 2.75% a year",  # zero-subsidy fee
            "charges 1.00%; the fee that pays for its simulated book",
            "is 4.50% in expectation",  # pg's break-even fee
            "2022 on 50.0% of paths; never on 50.0% of paths",
            "stay above zero on every path",  # priv
            "at 21.00% a year",
        ],
        "zh": [
            "每百元担保贷款 1.75 元",
            "每年 2.75%",
            "实际费率 1.00%",
            "保本费率期望为 4.50%",
            "2022 年（50.0% 的路径）；50.0% 的路径上从未发生",
            "净资产均保持为正",
            "按每年 21.00% 的贴现率",
        ],
    }[lang]
    for phrase in expected:
        assert phrase in text, phrase
    old = section(older(base()))  # results written before the public cost existed
    assert "public_cost" in old and "fee_base" in old
    assert "1.75" not in old


def test_a_comparison_of_discount_rates_reports_each_designs():
    from guarantee_sim.reporting.brief import Brief, _public_cost_blocks, render_markdown
    from guarantee_sim.reporting.tables import all_tables, public_cost_table

    one = full_system()
    two = one.copy()
    two.attrs["discount_rate"] = 0.0
    both = xr.concat(
        [d.assign_coords(discount_rate=d.attrs["discount_rate"]) for d in (one, two)],
        dim=xr.DataArray(["a", "b"], dims="scenario", name="scenario"),
        coords="different",
        compat="equals",
        combine_attrs="drop_conflicts",
    )
    cost = public_cost_table(both).set_index("design")
    assert cost.loc["a", "public_cost_pv_mean"] == pytest.approx(35.0)
    # undiscounted: (11 + 13.31 + 33 + 26.62) / 2
    assert cost.loc["b", "public_cost_pv_mean"] == pytest.approx(41.965)
    text = render_markdown(Brief("en", "", _public_cost_blocks(both, all_tables(both), "en")))
    assert "at 21.00% (a), 0.00% (b) a year" in text


def test_a_system_without_guarantors_or_guaranteed_lending_is_reported_not_crashed():
    from rich.console import Console

    from guarantee_sim.cli import _public_cost_section
    from guarantee_sim.reporting.brief import Brief, _public_cost_blocks, render_markdown
    from guarantee_sim.reporting.tables import all_tables

    ds = results_dataset(
        years=[2021, 2022], segments={"s": []}, parties={"bank": "bank", "pool": "pool"}, paths=3
    )
    ds = with_flows(
        ds,
        public_cost=[110.0, 0.0],
        public_operating_cost=0.0,
        **{key: {} for key in PARTY_FLOWS},
    )
    tables = all_tables(ds)
    assert tables["public_cost"].iloc[0]["public_cost_pv_mean"] == pytest.approx(100.0)
    assert len(tables["break_even"]) == 0 and len(tables["exhaustion"]) == 0
    text = render_markdown(Brief("en", "", _public_cost_blocks(ds, tables, "en")))
    assert "no subsidy rate" in text and "no public guarantor, so no zero-subsidy fee" in text
    console = Console(record=True, width=200)
    _public_cost_section(console, ds)
    out = console.export_text()
    assert "subsidy rate: none" in out and "no public guarantor" in out and "nan" not in out


# --------------------------------------------------------------------------- arrays
# present_value, ratio_of_means and years_to_exhaustion do on NumPy arrays what xarray's
# arithmetic did (the summary's time went into its alignment): the results must be the
# same to the bit, names and attrs included, whatever the order and layout of the dims


def _flows(seed: int = 1, parties: int = 3) -> xr.DataArray:
    """(scenario, path, year, party) flows with NaN years, a party NaN in every year,
    path weights, book replicas and attrs."""
    rng = np.random.default_rng(seed)
    values = rng.lognormal(10.0, 2.0, size=(2, 50, 7, parties))
    values[rng.random(values.shape) < 0.1] = np.nan
    values[:, :, :, 2] = np.nan  # a party without the variable
    return xr.DataArray(
        values,
        dims=("scenario", "path", "year", "party"),
        coords={
            "scenario": ["a", "b"],
            "path": np.arange(50),
            "year": np.arange(2021, 2028),
            "party": [f"p{i}" for i in range(parties)],
            "replica": ("path", np.arange(50) % 5),
            "path_weight": ("path", rng.uniform(0.5, 2.0, 50)),
            "party_label": ("party", [f"P{i}" for i in range(parties)]),
        },
        attrs={"units": "CNY", "long_name": "a flow"},
    )


def _xarrays_present_value(values: xr.DataArray, rate: float) -> xr.DataArray:
    """present_value as xarray computed it before (the reference)."""
    factors = discount_factors(values["year"].values, rate)
    return (values * factors).sum("year", min_count=1)


@pytest.mark.parametrize(
    "values",
    [
        _flows(),
        _flows().isel(scenario=1),  # a view: not contiguous
        _flows().transpose("party", "year", "scenario", "path"),  # year not last
        _flows().isel(scenario=0, party=0),  # (path, year)
    ],
)
def test_present_value_is_xarrays_product_and_sum_to_the_bit(values):
    xr.testing.assert_identical(present_value(values, 0.037), _xarrays_present_value(values, 0.037))
    assert present_value(values, 0.037).attrs == values.attrs


def _xarrays_ratio_of_means(numerator: xr.DataArray, denominator: xr.DataArray) -> xr.Dataset:
    """ratio_of_means as xarray computed it before (the reference)."""
    mean_den = weighted_mean(denominator)
    mean_den = mean_den.where(mean_den != 0)
    ratio = weighted_mean(numerator) / mean_den
    interval = mean_interval((numerator - ratio * denominator) / mean_den)
    return xr.Dataset(
        {
            "mean": ratio,
            "se": interval["se"],
            "low": ratio + interval["low"] - interval["mean"],
            "high": ratio + interval["high"] - interval["mean"],
        },
        attrs=interval.attrs,
    )


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("order", [("path", "party"), ("party", "path")])
def test_ratio_of_means_is_xarrays_arithmetic_to_the_bit(weighted, order):
    flows = _flows(parties=40).isel(scenario=0)
    if not weighted:
        flows = flows.assign_coords(path_weight=("path", np.ones(50)))
    numerator = present_value(flows, 0.03).fillna(0.0).transpose(*order)
    denominator = present_value(flows.isel(year=slice(2, None)), 0.05).transpose(*order)
    denominator[{"party": 1}] = 0.0  # no denominator: NaN, not inf
    out = ratio_of_means(numerator, denominator)
    xr.testing.assert_identical(out, _xarrays_ratio_of_means(numerator, denominator))
    for name in out.data_vars:
        assert out[name].attrs == _xarrays_ratio_of_means(numerator, denominator)[name].attrs
    # labels that differ (dims in another order): xarray's own arithmetic, the same answer
    other = ratio_of_means(numerator, denominator.transpose(*order[::-1]))
    xr.testing.assert_identical(other, out)


def test_years_to_exhaustion_shares_are_the_shares_year_by_year():
    rng = np.random.default_rng(3)
    ds = results_dataset(
        years=range(2021, 2028),
        segments={"sme": []},
        parties={"bank": "bank", "g": "guarantor", "h": "guarantor"},
        paths=40,
    )
    ds = with_flows(
        ds,
        capital_exhausted={p: rng.random((40, 7)) < 0.2 for p in ("g", "h")},
        leverage_cap_binding=dict.fromkeys(("g", "h"), 0.0),
    )
    flag = ds["capital_exhausted"].sel(party=["g", "h"]) > 0.5
    first = flag.year.astype(float).where(flag).min("year")
    by_year = xr.concat([(first == y).mean("path") for y in ds.year.values], dim=ds.year)
    xr.testing.assert_identical(
        years_to_exhaustion(ds)["share"], by_year.transpose("party", "year").rename("share")
    )
