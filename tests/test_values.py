"""The value grammar: numbers, per-year mappings, distributions, sources (config/values.py).

Unit tests of the objects and of the parsing on a toy model, then the schema: which keys
take which shape (the table in the schema's docstring), sources that reach the results,
and shapes refused because the engine does not simulate them yet.
"""

from __future__ import annotations

import copy
import json
import pickle
import re
from typing import Annotated

import numpy as np
import pytest
import yaml
from conftest import base_scenario_dict, make_scenario
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import guarantee_sim as gs
from guarantee_sim import ScenarioError
from guarantee_sim.config import scenario_from_dict, schema
from guarantee_sim.config.values import (
    FAMILIES,
    Distribution,
    Number,
    PerYear,
    Sourced,
    SourcedFloat,
    SourcedInt,
    Uncertain,
    Yearly,
    in_year,
    iter_shapes,
    source_of,
    value_keys,
)

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]


class Toy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    plain: Number[Share] = 0.5
    months: Number[int] = Field(3, ge=0)
    lever: Yearly[Share] | None = None
    pd: Uncertain[Share] = 0.5
    volume: Uncertain[Positive] = 1.0
    free: Uncertain[float] = 0.0


def errors(**data) -> list[tuple[tuple, str]]:
    """(loc, message) of every error validating ``Toy(**data)``."""
    with pytest.raises(ValidationError) as info:
        Toy(**data)
    return [(e["loc"], e["msg"]) for e in info.value.errors()]


def one_error(**data) -> tuple[tuple, str]:
    (error,) = errors(**data)
    return error


# --------------------------------------------------------------------------- the objects


def test_per_year_is_a_sorted_frozen_mapping_of_years():
    v = PerYear.of({2022: 0.008, 2021: 0.01})
    assert v.years == [2021, 2022]
    assert v[2022] == 0.008
    assert v.to_data() == {2021: 0.01, 2022: 0.008}
    assert v == PerYear.of({2021: 0.01, 2022: 0.008})
    with pytest.raises(AttributeError):
        v.values = ()  # frozen


def test_distribution_data_lists_only_its_parameters():
    d = Distribution("lognormal", median=0.03, sd=0.4, max=0.2)
    assert d.to_data() == {"dist": "lognormal", "median": 0.03, "sd": 0.4, "max": 0.2}
    assert set(FAMILIES) == {"normal", "lognormal", "uniform", "triangular", "beta"}


def test_sourced_numbers_are_numbers_that_keep_their_source():
    x = SourcedFloat(0.035, "PARAM: annual PD, first-time borrower")
    assert x == 0.035 and x * 2 == 0.07 and isinstance(x, float)
    assert np.asarray([x]).dtype == np.float64
    assert source_of(x) == "PARAM: annual PD, first-time borrower"
    assert x.to_data() == {"value": 0.035, "source": "PARAM: annual PD, first-time borrower"}
    n = SourcedInt(3, "ASSUMPTION")
    assert n + 1 == 4 and list(range(n)) == [0, 1, 2] and source_of(n) == "ASSUMPTION"
    for value in (x, n):  # Dask pickles scenarios; deepcopy is model_copy(deep=True)
        for twin in (pickle.loads(pickle.dumps(value)), copy.deepcopy(value)):
            assert type(twin) is type(value) and twin == value and twin.source == value.source
    assert source_of(0.035) is None
    wrapped = Sourced(PerYear.of({2021: 0.01}), "doc")
    assert source_of(wrapped) == "doc"
    assert wrapped.to_data() == {"value": {2021: 0.01}, "source": "doc"}


# --------------------------------------------------------------------------- parsing


def test_every_shape_parses_to_its_object_and_dumps_back():
    toy = Toy(
        plain={"value": 0.3, "source": "x"},
        months={"value": 4, "source": "y"},
        lever={2021: 0.1, 2022: 0.2},
        pd={"dist": "beta", "alpha": 2, "beta": 3, "min": 0, "max": 1},
        volume={"dist": "lognormal", "median": 2, "sd": 0.3},
        free={"value": {"dist": "normal", "mean": 0, "sd": 1}, "source": "z"},
    )
    assert toy.plain == 0.3 and toy.plain.source == "x"
    assert isinstance(toy.months, SourcedInt) and toy.months == 4
    assert toy.lever == PerYear(((2021, 0.1), (2022, 0.2)))
    assert toy.pd == Distribution("beta", alpha=2.0, beta=3.0, min=0.0, max=1.0)
    assert toy.free == Sourced(Distribution("normal", mean=0.0, sd=1.0), "z")
    dumped = toy.model_dump(mode="json")
    assert dumped["lever"] == {"2021": 0.1, "2022": 0.2}  # JSON keys are text ...
    assert Toy.model_validate(dumped) == toy  # ... and read back as years
    assert Toy.model_validate(yaml.safe_load(yaml.safe_dump(dumped))) == toy
    assert Toy().model_dump(mode="json")["plain"] == 0.5  # plain numbers dump as before
    assert [loc for loc, _ in iter_shapes(toy)] == [
        ("plain",),
        ("months",),
        ("lever",),
        ("pd",),
        ("volume",),
        ("free",),
    ]


def test_grammar_objects_built_in_python_are_checked_like_data():
    assert Toy(lever=PerYear.of({2021: 0.2})).lever[2021] == 0.2
    assert Toy(plain=SourcedFloat(0.2, "x")).plain.source == "x"
    assert one_error(plain=SourcedFloat(2.0, "x")) == (
        ("plain", "value"),
        "Input should be less than or equal to 1",
    )
    loc, msg = one_error(pd=PerYear.of({2021: 0.2}))
    assert loc == ("pd",) and "per-year mapping is not allowed" in msg


@pytest.mark.parametrize(
    "data, loc, fragment",
    [
        # plain keys
        ({"plain": 2}, ("plain",), "less than or equal to 1"),
        ({"plain": {"a": 1}}, ("plain",), "expected a number (allowed: a number, or {value"),
        ({"months": {2021: 2}}, ("months",), "a per-year mapping is not allowed"),
        ({"months": {"value": 2.5, "source": "s"}}, ("months", "value"), "valid integer"),
        # per year
        ({"lever": {2021: 2}}, ("lever", 2021), "less than or equal to 1"),
        ({"lever": {"x": 0.1}}, ("lever", "x"), "keys are calendar years"),
        ({"lever": {True: 0.1}}, ("lever", True), "keys are calendar years"),
        ({"lever": {2021: {"a": 1}}}, ("lever", 2021), "a year's value is a number"),
        ({"lever": {}}, ("lever",), "at least one year"),
        ({"lever": {"dist": "uniform", "min": 0, "max": 1}}, ("lever",), "never uncertain"),
        ({"pd": {2021: 0.1}}, ("pd",), "a per-year mapping is not allowed for this key"),
        # distributions
        ({"pd": {"dist": "gamma"}}, ("pd", "dist"), "allowed: normal, lognormal, uniform"),
        ({"pd": {"dist": ["x"]}}, ("pd", "dist"), "unknown distribution"),
        (
            {"volume": {"dist": "lognormal", "median": 1}},
            ("volume",),
            "a lognormal distribution needs median and sd (missing: sd)",
        ),
        (
            {"volume": {"dist": "lognormal", "medain": 1, "median": 1, "sd": 1}},
            ("volume", "medain"),
            "allowed keys here: dist, median, sd, min, max",
        ),
        (
            {"pd": {"dist": "beta", "alpha": 0, "beta": 1, "min": 0, "max": 1}},
            ("pd", "alpha"),
            "greater than 0",
        ),
        (
            {"free": {"dist": "normal", "mean": 0, "sd": -1}},
            ("free", "sd"),
            "greater than or equal to 0",
        ),
        (
            {"pd": {"dist": "uniform", "min": 0.5, "max": 0.5}},
            ("pd", "max"),
            "max must be greater than min (0.5)",
        ),
        (
            {"pd": {"dist": "triangular", "min": 0.2, "mode": 0.9, "max": 0.5}},
            ("pd", "mode"),
            "mode must not be above max (0.5)",
        ),
        (
            {"free": {"dist": "normal", "mean": 5, "sd": 1, "min": 0, "max": 1}},
            ("free", "mean"),
            "mean must not be above max (1)",
        ),
        (
            {"pd": {"dist": "normal", "mean": 0.5, "sd": 0.1}},
            ("pd",),
            "this key must be >= 0 and <= 1, so a normal distribution here needs min and max",
        ),
        (
            {"pd": {"dist": "normal", "mean": 0.5, "sd": 0.1, "min": 0}},
            ("pd",),
            "needs max inside those bounds",
        ),
        (
            {"volume": {"dist": "normal", "mean": 5, "sd": 1}},
            ("volume",),
            "this key must be > 0, so a normal distribution here needs min inside",
        ),
        (
            {"pd": {"dist": "uniform", "min": 0.1, "max": 1.5}},
            ("pd", "max"),
            "less than or equal to 1",
        ),
        (
            {"volume": {"dist": "normal", "mean": 5, "sd": 1, "min": 0}},
            ("volume", "min"),
            "greater than 0",
        ),
        (
            {"volume": {"dist": "lognormal", "median": -1, "sd": 1}},
            ("volume", "median"),
            "greater than 0",
        ),
        ({"plain": {"dist": "uniform", "min": 0, "max": 1}}, ("plain",), "not an uncertain"),
        # sources
        ({"pd": {"value": 0.5}}, ("pd",), "needs value and source (missing: source)"),
        ({"pd": {"source": "x"}}, ("pd",), "(missing: value)"),
        ({"pd": {"value": 0.5, "source": ""}}, ("pd", "source"), "non-empty text"),
        ({"pd": {"value": 0.5, "source": 3}}, ("pd", "source"), "non-empty text"),
        (
            {"pd": {"value": 0.5, "source": "x", "note": 1}},
            ("pd", "note"),
            "allowed keys here: value, source",
        ),
        ({"pd": {"value": 1.5, "source": "x"}}, ("pd", "value"), "less than or equal to 1"),
        (
            {"pd": {"value": {"value": 0.5, "source": "x"}, "source": "y"}},
            ("pd", "value"),
            "do not nest",
        ),
        (
            {"lever": {"value": {2021: 2}, "source": "y"}},
            ("lever", "value", 2021),
            "less than or equal to 1",
        ),
    ],
)
def test_each_mistake_is_located_and_explained(data, loc, fragment):
    found = errors(**data)
    assert any(at == loc and fragment in msg for at, msg in found), found


def test_unbounded_keys_take_unbounded_distributions():
    assert Toy(free={"dist": "normal", "mean": -3, "sd": 1}).free.mean == -3
    assert Toy(volume={"dist": "lognormal", "median": 3, "sd": 1}).volume.median == 3


def test_every_problem_of_a_value_is_reported():
    found = errors(lever={2021: 2, 2022: -1, "x": 0.1})
    assert [loc for loc, _ in found] == [("lever", 2021), ("lever", 2022), ("lever", "x")]


# --------------------------------------------------------------------------- the schema


def test_the_schema_docstring_lists_exactly_the_keys_that_take_more_than_a_number():
    documented = dict(
        re.findall(r"^    (\S+)\s+(per year|uncertain)$", schema.__doc__, flags=re.MULTILINE)
    )
    assert documented == value_keys(schema.Scenario)


def test_policy_levers_are_never_uncertain():
    shapes = value_keys(schema.Scenario)
    for key in ("policy.lpr", "schemes.<name>.coverage", "parties.<guarantor>.fee_rate"):
        assert shapes[key] == "per year"
    for key in ("segments.<name>.pd.mean", "segments.<name>.lgd"):
        assert shapes[key] == "uncertain"


@pytest.mark.parametrize(
    "key, value, fragment",
    [
        ("segments.sme.pd.mean", {"dist": "normal", "mean": 0.02, "sd": 0.01}, "> 0 and < 1"),
        ("segments.sme.lgd", {"dist": "normal", "mean": 0.5, "sd": 0.1}, ">= 0 and <= 1"),
        ("segments.sme.correlation", {"dist": "normal", "mean": 0.1, "sd": 0.1}, ">= 0 and < 1"),
        ("segments.sme.lending.count_per_year", {"dist": "normal", "mean": 1, "sd": 1}, "> 0"),
        ("segments.sme.lending.growth", {"dist": "normal", "mean": 0, "sd": 1}, "> -1 and <= 5"),
    ],
)
def test_uncertain_keys_know_their_bounds(key, value, fragment):
    """The bounds the grammar sees for a key are the key's own (a wrong or missing bound
    would let a distribution leave the range the engine relies on)."""
    with pytest.raises(ScenarioError) as info:
        make_scenario(**{key: value})
    assert f"this key must be {fragment}," in str(info.value)


def test_sourced_numbers_are_accepted_everywhere_and_their_sources_kept():
    data = base_scenario_dict()
    sme = data["segments"]["sme"]
    sme["lgd"] = {"value": 0.5, "source": "PARAM: LGD, unsecured small-firm loan 45-80%"}
    sme["pd"]["mean"] = {"value": 0.02, "source": "PARAM: annual PD, existing borrower"}
    data["parties"]["guarantor"]["claim_lag_months"] = {"value": 2, "source": "PARAM: lag"}
    data["parties"]["guarantor"]["capital_injections"] = {2021: {"value": 1e8, "source": "doc"}}
    scenario = scenario_from_dict(data)
    assert scenario.segments["sme"].lgd == 0.5
    assert scenario.value_sources() == {
        "segments.sme.pd.mean": "PARAM: annual PD, existing borrower",
        "segments.sme.lgd": "PARAM: LGD, unsecured small-firm loan 45-80%",
        "parties.guarantor.claim_lag_months": "PARAM: lag",
        "parties.guarantor.capital_injections.2021": "doc",
    }
    # the YAML stored with the results keeps the sources and reads back to the same scenario
    stored = yaml.safe_load(yaml.safe_dump(scenario.model_dump(mode="json"), allow_unicode=True))
    assert stored["segments"]["sme"]["lgd"]["source"].startswith("PARAM: LGD")
    again = scenario_from_dict(stored)
    assert again == scenario and again.value_sources() == scenario.value_sources()


def test_sourced_numbers_simulate_exactly_like_plain_ones():
    """The engine sees the number: same results, bit for bit."""
    sourced = {
        "segments.sme.lgd": {"value": 0.5, "source": "a"},
        "segments.sme.pd.mean": {"value": 0.02, "source": "b"},
        "parties.guarantor.fee_rate": {"value": 0.01, "source": "c"},
        "parties.guarantor.claim_lag_months": {"value": 2, "source": "d"},
        "schemes.guaranteed.coverage": {"value": 0.8, "source": "e"},
    }
    plain = gs.simulate(make_scenario(), paths=16, seed=3)
    with_sources = gs.simulate(make_scenario(**sourced), paths=16, seed=3)
    for name in plain.data_vars:
        np.testing.assert_array_equal(plain[name].values, with_sources[name].values, name)
    # the results say where each sourced number came from
    assert json.loads(with_sources.attrs["value_sources"]) == {
        "segments.sme.lgd": "a",
        "segments.sme.pd.mean": "b",
        "parties.guarantor.fee_rate": "c",
        "parties.guarantor.claim_lag_months": "d",
        "schemes.guaranteed.coverage": "e",
    }
    assert json.loads(plain.attrs["value_sources"]) == {}


@pytest.mark.parametrize(
    "key, value, fragment",
    [
        (
            "segments.sme.lending.growth",
            {"dist": "uniform", "min": 0.0, "max": 0.2},
            "Uncertainty that reaches the targets",
        ),
    ],
)
def test_shapes_the_engine_does_not_simulate_are_refused(key, value, fragment):
    with pytest.raises(ScenarioError) as info:
        make_scenario(**{key: value})
    err = info.value
    assert err.key == key
    assert "recognised for this key but not simulated yet" in str(err) and fragment in str(err)


@pytest.mark.parametrize(
    "key, value",
    [
        ("parties.guarantor.fee_rate", {2021: 0.01}),
        ("policy.lpr", {"value": {2021: 0.0385, 2022: 0.0365}, "source": "x"}),
    ],
)
def test_per_year_values_are_simulated(key, value):
    s = make_scenario(**{key: value, "horizon.origination_years": 2})
    assert s.as_of(2022).policy.lpr == (0.0365 if key == "policy.lpr" else 0.0385)


def test_a_per_year_value_holds_until_the_next_year_given():
    v = PerYear.of({2021: 0.01, 2023: 0.008})
    assert [v.in_year(y) for y in (2021, 2022, 2023, 2024)] == [0.01, 0.01, 0.008, 0.008]
    assert in_year(Sourced(v, "doc"), 2022) == 0.01
    assert in_year(0.5, 2022) == 0.5


def test_per_year_values_must_start_at_the_first_year():
    with pytest.raises(ScenarioError) as info:
        make_scenario(**{"policy.lpr": {2022: 0.0365}, "horizon.origination_years": 2})
    assert info.value.key == "policy.lpr.2022"
    assert "must start at the horizon's first year 2021" in str(info.value)


def test_per_year_years_must_be_in_the_horizon():
    with pytest.raises(ScenarioError) as info:
        make_scenario(**{"schemes.guaranteed.coverage": {2021: 0.8, 2030: 0.7}})
    outside = [p for p in info.value.problems if "outside the horizon" in p]
    assert len(outside) == 1
    assert "key 'schemes.guaranteed.coverage.2030'" in outside[0]
    assert "year 2030 is outside the horizon 2021-2023" in outside[0]


def test_a_beta_shape_too_large_to_be_a_distribution_is_refused():
    """A beta with a shape of 1e300 is a point: give the number (the fuzz corpus found it
    accepted)."""
    lgd = {"dist": "beta", "alpha": 4, "beta": 1e300, "min": 0.55, "max": 0.9}
    with pytest.raises(ScenarioError, match=r"segments\.sme\.lgd\.beta.*less than or equal"):
        make_scenario(**{"segments.sme.lgd": lgd})
    make_scenario(**{"segments.sme.lgd": {**lgd, "beta": 1e6}})  # the largest allowed
