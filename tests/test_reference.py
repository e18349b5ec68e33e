"""The scenario reference and JSON Schema (issue 12 §4): generated from the models, kept in
step with them, complete (every key described, every number with its unit and range), and
accepting exactly what the loader accepts on the shipped files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import run_main
from ruamel.yaml import YAML

from guarantee_sim.config import reference

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
NUMBERS = ("number", "integer")


def test_the_docs_are_the_generated_reference():
    """Regenerate with `guarantee-sim schema > docs/scenario_reference.md` and
    `guarantee-sim schema --json > docs/scenario.schema.json`."""
    assert (ROOT / "docs" / "scenario_reference.md").read_text(encoding="utf-8") == (
        reference.markdown()
    )
    assert (ROOT / "docs" / "scenario.schema.json").read_text(encoding="utf-8") == (
        reference.json_text()
    )


def test_every_key_has_a_description_and_every_number_a_unit_and_range():
    rows = reference.reference_rows()
    assert len(rows) > 100
    assert not [r.key for r in rows if not r.description]
    numbers = [r for r in rows if r.type.endswith(NUMBERS)]
    assert not [r.key for r in numbers if not r.unit]
    assert not [r.key for r in numbers if not r.allowed]


def test_a_key_says_its_shapes():
    rows = {r.key: r for r in reference.reference_rows()}
    assert rows["segments.<name>.lgd"].shapes == "number; distribution; with source"
    fee = rows["parties.<name> (kind: guarantor).fee_rate"]
    assert (fee.unit, fee.allowed) == ("1/year", "0 ≤ x ≤ 1")
    assert fee.shapes == "number; per year; with source; null (none)"
    assert rows["horizon.start_year"].required and not rows["simulation.paths"].required


def _as_json(data):
    """A YAML mapping as a JSON document: keys are text (per-year keys are numbers in YAML)."""
    if isinstance(data, dict):
        return {str(k): _as_json(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_as_json(v) for v in data]
    return data


@pytest.fixture(scope="module")
def validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = reference.json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_the_shipped_scenarios_validate_against_the_json_schema(path, validator):
    data = _as_json(YAML(typ="safe").load(path))
    assert [e.message for e in validator.iter_errors(data)] == []


@pytest.mark.parametrize(
    ("change", "value"),
    [
        (("parties", "guarantor", "fee_rat"), 0.01),  # a typo
        (("parties", "guarantor", "fee_rate"), 1.5),  # above its range
        (("segments", "first_time_guaranteed", "lgd"), {"dist": "gamma", "mean": 0.6}),
        (("policy", "discount_rate"), "2.6%"),
        (("segments", "first_time_guaranteed", "loan_size", "cap"), -5.0),  # a Field's bound
    ],
)
def test_the_json_schema_refuses_what_the_loader_refuses(change, value, validator):
    data = _as_json(YAML(typ="safe").load(ROOT / "scenarios" / "hangzhou_2021_2023.yaml"))
    node = data
    for key in change[:-1]:
        node = node[key]
    node[change[-1]] = value
    assert list(validator.iter_errors(data))


def test_every_key_of_the_shipped_scenarios_is_in_the_reference():
    keys = {r.key for r in reference.reference_rows()}
    pattern = re.compile(r" \(kind: \w+\)")
    general = {pattern.sub("", k) for k in keys}
    named = ("segments", "parties", "schemes", "targets", "demand")

    def dotted(data, prefix=""):
        for written, value in data.items():
            key = "<name>" if prefix.rsplit(".", 1)[-1] in named else str(written)
            path = f"{prefix}.{key}" if prefix else key
            grammar = isinstance(value, dict) and (
                "dist" in value or set(value) <= {"value", "source"}
            )
            per_year = isinstance(value, dict) and all(isinstance(k, int) for k in value)
            if isinstance(value, dict) and value and not grammar and not per_year:
                yield from dotted(value, path)
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                for item in value:
                    yield from dotted(item, f"{path}[]")
            else:
                yield path

    for path in SHIPPED:
        data = YAML(typ="safe").load(path)
        for key in dotted(data):
            # a mapping's keys (years, factors, parties) are <key> in the reference
            assert (
                key in general
                or key + ".<key>" in general
                or re.sub(r"\.[^.<]+$", ".<key>", key) in general
            ), (path.name, key)


def test_schema_command_prints_the_reference_and_the_json_schema():
    rc, out, _ = run_main("schema")
    assert rc == 0 and out == reference.markdown()
    rc, out, _ = run_main("schema", "--json")
    assert rc == 0 and json.loads(out)["title"] == "guarantee_sim scenario"


def test_every_key_has_a_chinese_name_and_every_name_a_key():
    """The reference gives each key its Chinese name (config/labels_zh.yaml, by the end of
    the dotted key); an entry that names no key any more is stale."""
    rows = reference.reference_rows()
    unnamed = [r.key for r in rows if not re.search(r"[\u4e00-\u9fff]", r.label_zh)]
    assert not unnamed, unnamed
    used = set()
    for r in rows:
        plain = reference._KIND.sub("", r.key).removesuffix(".<key>")
        endings = [e for e in reference.zh_labels() if plain == e or plain.endswith("." + e)]
        used.add(max(endings, key=len))
    assert set(reference.zh_labels()) == used
    # the longest ending wins: a pd's mean is not a service time's mean
    assert reference.zh_label("segments.<name>.pd.mean") == "年违约概率"
    assert reference.zh_label("processes.bank.service.mean_days") == "平均办理天数"


def test_the_json_schema_gives_editors_each_keys_chinese_name():
    """An editor shows a property's ``title`` on hover: the key's Chinese name, also kept
    as ``x-label-zh`` (a model shared by several keys takes its first key's name)."""
    schema = reference.json_schema()
    paths = schema["$defs"]["Simulation"]["properties"]["paths"]
    assert paths["title"] == paths["x-label-zh"] == reference.zh_label("simulation.paths")
    named = [
        prop
        for model in schema["$defs"].values()
        for prop in model.get("properties", {}).values()
        if re.search(r"[\u4e00-\u9fff]", str(prop.get("x-label-zh", "")))
    ]
    assert len(named) >= 100
