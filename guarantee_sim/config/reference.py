"""The scenario reference: every key a scenario file takes, generated from the models.

:func:`json_schema` is the JSON Schema of a scenario file (pydantic's, with the value
grammar's shapes and each number's ``unit``): editors that read JSON Schema (VS Code's YAML
extension, JetBrains) validate and complete a scenario with it. :func:`reference_rows`
flattens it into one row per key (dotted, ``<name>`` for a name the user chooses, ``[]``
for a list item) with its type, unit, default, allowed range, the shapes its value may
take, its Chinese name (``labels_zh.yaml``, where it has one) and its description;
:func:`markdown` renders them as the reference in
``docs/scenario_reference.md`` (``guarantee-sim schema`` prints it; a test keeps the file
in step with the models).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from ruamel.yaml import YAML

from .schema import Scenario

#: what a JSON Schema shape of the value grammar (by its description's start) is called
_SHAPES = {
    "per year": "per year",
    "a distribution": "distribution",
    "the value with its source": "with source",
}
_SHAPES_PREFIXES = tuple(_SHAPES)


@dataclass(frozen=True)
class Row:
    key: str  # dotted, e.g. "segments.<name>.pd.mean"
    type: str  # number, integer, text, yes/no, one of ..., list of ...
    unit: str  # "CNY", "1/year", "month", "1"; "" for what is not a number
    default: str  # "" when the key is required
    allowed: str  # range or choices, e.g. "0 ≤ x ≤ 1"
    shapes: str  # "number; per year; with source"
    description: str
    required: bool
    label_zh: str = ""  # the key's Chinese name (labels_zh.yaml), "" where it has none


@cache
def zh_labels() -> dict[str, str]:
    """Chinese names of keys by the end of their dotted key (``labels_zh.yaml``)."""
    text = resources.files("guarantee_sim.config").joinpath("labels_zh.yaml").read_text("utf-8")
    return {str(k): str(v) for k, v in YAML(typ="safe", pure=True).load(text).items()}


#: what a key's Chinese name does not depend on: a party's kind, a mapping's own key
_KIND = re.compile(r"\s*\(kind:\s*[a-z_]+\)")


def zh_label(key: str) -> str:
    """The Chinese name of a reference ``key``: the longest ending of it that
    ``labels_zh.yaml`` names ("" when none does).

    >>> zh_label("parties.<name> (kind: guarantor).fee_rate"), zh_label("segments.<name>.pd.mean")
    ('担保费率', '年违约概率')
    """
    plain = _KIND.sub("", key).removesuffix(".<key>")
    endings = [e for e in zh_labels() if plain == e or plain.endswith("." + e)]
    return zh_labels()[max(endings, key=len)] if endings else ""


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file."""
    schema = _standard_bounds(Scenario.model_json_schema())
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "guarantee_sim scenario"
    # each key's Chinese name as its title, which editors show on hover (the walk sets it)
    _walk(schema, schema, "", set(schema.get("required", [])), [], None)
    return schema


def reference_rows() -> list[Row]:
    """One row per leaf key of a scenario file, in the models' order."""
    schema = json_schema()
    rows: list[Row] = []
    _walk(schema, schema, "", set(schema.get("required", [])), rows, None)
    return rows


def markdown() -> str:
    """The reference as a Markdown document."""
    lines = [
        "# Scenario reference",
        "",
        "Generated from the models in `guarantee_sim/config/` by `guarantee-sim schema`; do",
        "not edit by hand (a test checks it is current). `guarantee-sim schema --json` prints",
        "the JSON Schema, for editors that validate and complete YAML with it.",
        "",
        "Money is in CNY and rates are decimals per year (`1/year`); `1` is a share or a",
        "count. `<name>` is a name you choose (a segment, a party, a scheme); `<key>` a key",
        "of a mapping (a calendar year, a factor, a party: the description says which); `[]`",
        "an item of a list. Shapes: *number*; *per year* `{2021: v, 2022: v}` (policy levers; a",
        "year's value holds until the next); *distribution* `{dist: normal, mean: m, sd: s}`",
        "(state-of-the-world parameters, drawn per path); *with source* `{value: v, source:",
        '"PARAM: ..."}` wraps any of them. A key marked *required* has no default.',
        "",
        "| key | 中文 | type | unit | default | allowed | shapes | description |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in reference_rows():
        default = "*required*" if r.required and not r.default else r.default
        cells = [f"`{r.key}`", r.label_zh, r.type, r.unit, default, r.allowed, r.shapes]
        cells.append(r.description)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def json_text() -> str:
    return json.dumps(json_schema(), ensure_ascii=False, indent=1) + "\n"


# --------------------------------------------------------------------------- walking

#: pydantic writes a bound given on a Field around a union (a number or its source, or
#: null) in its own words: JSON Schema's are these
_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}
_BOUND_KEYS = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")


def _standard_bounds(node: Any) -> Any:
    """``node`` with pydantic's ``gt``/``ge``/``lt``/``le`` moved onto every number below
    them as JSON Schema's bounds, so that editors check them."""
    if isinstance(node, list):
        return [_standard_bounds(n) for n in node]
    if not isinstance(node, dict):
        return node
    bounds = {
        _BOUNDS[k]: v for k, v in node.items() if k in _BOUNDS and isinstance(v, (int, float))
    }
    out = {k: _standard_bounds(v) for k, v in node.items() if k not in bounds and k not in _BOUNDS}
    return _bound_numbers(out, bounds) if bounds else out


def _bound_numbers(node: Any, bounds: dict) -> Any:
    if isinstance(node, list):
        return [_bound_numbers(n, bounds) for n in node]
    if not isinstance(node, dict):
        return node
    if node.get("type") in ("number", "integer"):
        return {**bounds, **node}  # a bound of the number itself is the stricter one
    return {
        k: _bound_numbers(v, bounds)
        if k in ("anyOf", "oneOf", "properties", "value", "items", "patternProperties")
        or k.startswith("^")
        else v
        for k, v in node.items()
    }


def _resolve(node: dict, root: dict) -> dict:
    while "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _walk(node, root, key, required, rows, field) -> None:
    """Add the rows of the model (or union of models) ``node`` at dotted ``key``."""
    for member in _members(_resolve(node, root), root):
        if _is_model(member):
            kind = member.get("properties", {}).get("kind", {}).get("const")
            at = f"{key} (kind: {kind})" if kind else key
            inner = set(member.get("required", []))
            for name, prop in member["properties"].items():
                path = f"{at}.{name}" if at else name
                if label := zh_label(path):  # a model shared by keys: the first key's name
                    prop["title"] = prop.get("x-label-zh", label)
                    prop["x-label-zh"] = prop["title"]
                _property(prop, root, path, name in inner, rows)


def _property(prop, root, path, required, rows, field=None) -> None:
    """The rows of one property: a leaf row for its plain shapes (number, text, the value
    grammar's), and the rows of each model it may also be (e.g. ``{basel_sme: true}``)."""
    field = prop if field is None else field
    members = _members(_resolve(prop, root), root)
    models = [m for m in members if _is_model(m)]
    plain = [m for m in members if not _is_model(m)]
    mapping = [m for m in plain if isinstance(m.get("additionalProperties"), dict)]
    if mapping and not _is_grammar_shape(mapping[0]):  # {key: ...}: its values' rows
        plain.remove(mapping[0])
        of_models = _is_model_like(mapping[0], root)
        label = "<name>" if of_models else "<key>"
        values = mapping[0]["additionalProperties"]
        # the mapping may be empty: none of its keys is required
        _property(values, root, f"{path}.{label}", False, rows, None if of_models else field)
    lists = [m for m in plain if _is_model(_item(m, root))]
    for listed in lists:  # a list of models: a row per field of an item, key[].field
        plain.remove(listed)
        _walk(_item(listed, root), root, f"{path}[]", required, rows, field)
    if plain and any(m.get("type") != "null" for m in plain):
        rows.append(_row(path, field, {"anyOf": plain}, root, required))
    for model in models:
        _walk(model, root, path, required, rows, field)


def _members(node: dict, root: dict) -> list[dict]:
    """The alternatives of a schema, flattened (anyOf inside oneOf), refs resolved."""
    if "anyOf" in node or "oneOf" in node:
        out = []
        for member in node.get("anyOf", []) + node.get("oneOf", []):
            out += _members(_resolve(member, root), root)
        return out
    return [node]


def _is_grammar_shape(node: dict) -> bool:
    return str(node.get("description", "")).startswith(_SHAPES_PREFIXES)


def _is_model(node: dict) -> bool:
    return node.get("type") == "object" and "properties" in node and not _is_grammar_shape(node)


def _is_model_like(node: dict, root: dict) -> bool:
    """A mapping whose values are models (rows of their own, not one leaf)."""
    values = _members(_resolve(node["additionalProperties"], root), root)
    return any(_is_model(v) for v in values)


def _row(key, field, node, root, required) -> Row:
    shapes, number = _shapes(node, root)
    return Row(
        key=key,
        type=_type(number, root),
        unit=str(field.get("unit") or number.get("unit") or _item(number, root).get("unit", "")),
        default=_default(field),
        allowed=_allowed(number, root),
        shapes="; ".join(shapes),
        description=str(field.get("description") or node.get("description") or ""),
        required=required and "default" not in field,
        label_zh=zh_label(key),
    )


def _shapes(node: dict, root: dict) -> tuple[list[str], dict]:
    """The value grammar's shapes of a leaf and its plain (number or other) schema."""
    members = _members(node, root)
    plain = [m for m in members if not _is_grammar_shape(m)]
    shapes = [
        next(name for start, name in _SHAPES.items() if m["description"].startswith(start))
        for m in members
        if _is_grammar_shape(m)
    ]
    nullable = any(m.get("type") == "null" for m in plain)
    plain = [m for m in plain if m.get("type") != "null"] or [{}]
    if shapes:
        shapes = ["number", *shapes]
    if nullable:
        shapes.append("null (none)")
    return shapes, plain[0]


def _item(node: dict, root: dict) -> dict:
    if node.get("type") != "array":
        return {}
    item = _resolve(node.get("items", {}), root)
    return _shapes(item, root)[1] if "anyOf" in item and not _models(item, root) else item


def _models(node: dict, root: dict) -> list[dict]:
    return [m for m in _members(node, root) if _is_model(m)]


def _type(node: dict, root: dict) -> str:
    if "anyOf" in node:  # a list item of any shape: its number
        node = _shapes(node, root)[1]
    if "enum" in node or "const" in node:
        return "one of " + ", ".join(map(str, node.get("enum", [node.get("const")])))
    kind = node.get("type", "")
    if kind == "array":
        return "list of " + _type(_item(node, root), root)
    if kind == "object":
        return "mapping"
    return {"string": "text", "boolean": "yes/no", "": "any"}.get(kind, kind)


def _allowed(node: dict, root: dict) -> str:
    if node.get("type") == "array":
        inner = _allowed(_item(node, root), root)
        return f"each {inner}" if inner else ""
    low = (
        f"{_n(node['minimum'])} ≤ "
        if "minimum" in node
        else (f"{_n(node['exclusiveMinimum'])} < " if "exclusiveMinimum" in node else "")
    )
    high = (
        f" ≤ {_n(node['maximum'])}"
        if "maximum" in node
        else (f" < {_n(node['exclusiveMaximum'])}" if "exclusiveMaximum" in node else "")
    )
    if low or high:
        return f"{low}x{high}"
    if "pattern" in node:
        return f"matches `{node['pattern']}`"
    if node.get("type") in ("number", "integer"):
        return f"any {node['type']}"
    return ""


def _default(field: dict) -> str:
    if "default" not in field:
        return ""
    value = field["default"]
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _n(value)
    return json.dumps(value, ensure_ascii=False)


def _n(x) -> str:
    x = float(x)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}"
