"""A corpus of bad scenario and experiment files, built from the shipped ones.

Each case is one mutation of a shipped file (``scenarios/*.yaml``, ``experiments/*.yaml``),
read when the corpus is built, so keys added or renamed later are fuzzed too. Every case has
a label saying what a correct command line does with it:

* ``invalid``: refused, with one clean error (exit 2, ``error:``, no traceback);
* ``absurd``: a value the model computes but an analyst would not mean (outside a row of
  :data:`guarantee_sim.config.plausibility.BOUNDS`): accepted with a ``warning:``, or refused;
* ``legal``: accepted; each says why (a UTF-8 byte-order mark, CRLF line ends, ...).

The label comes from the mutation and the schema's declarations (a required field, a
field's lower bound), never from running the validator. Mutations:

========================  =======================================================  =========
kind                      what changes                                             label
========================  =======================================================  =========
delete                    a required key of a model removed                        invalid
rename                    a key of a model renamed (``key_x``)                     invalid
wrong_type                a number replaced by text, a list or a mapping           invalid
not_a_number              a number replaced by .nan, .inf, -.inf, true or false     invalid
huge                      a number replaced by 1e300 (absurd: field has no bound)  invalid
negative                  a number whose field is >= 0 (or > 0) made -1             invalid
duplicate_key             a top-level key written twice                            invalid
alias_bomb                nested aliases expanding to 10^9 values                  invalid
deep_nesting              a value nested 600 levels deep                           invalid
binary                    random bytes                                             invalid
not_utf8                  a byte 0xff inserted in a comment line                   invalid
truncated                 the file cut in the middle of a flow mapping             invalid
implausible               a value beyond a plausibility bound                      absurd
bom, crlf                 a UTF-8 BOM; CRLF line ends                              legal
========================  =======================================================  =========

Experiments get the same value mutations in their variants and overrides (their ``base``
is made absolute, so a case can be written anywhere), plus a deleted ``base`` or ``name``
and a base that is not YAML.

Usage: ``build_corpus(seed, size)`` returns the cases; ``write_case(case, folder)`` writes
one. ``tests/fuzz/run_corpus.py`` runs a corpus and prints the figures.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from guarantee_sim.config import Scenario, read_yaml
from guarantee_sim.config.loader import _is_model, _member, _step, _strip
from guarantee_sim.config.plausibility import BOUNDS

ROOT = Path(__file__).resolve().parents[2]
MAX_LEGAL_SHARE = 0.05  # the bound on the share of cases labelled legal


@dataclass(frozen=True)
class Case:
    name: str  # unique: <source stem>.<kind>.<n>
    source: str  # the shipped file it comes from
    kind: str  # the mutation (table above)
    label: str  # invalid | absurd | legal
    content: bytes
    reason: str = ""  # for a legal case: why it is legal
    experiment: bool = False

    @property
    def filename(self) -> str:
        return self.name + ".yaml"


def shipped() -> tuple[list[Path], list[Path]]:
    return sorted((ROOT / "scenarios").glob("*.yaml")), sorted(
        (ROOT / "experiments").glob("*.yaml")
    )


# ------------------------------------------------------------------------- the schema


def field_at(data: dict, keys: tuple) -> Any:
    """The FieldInfo of ``keys[-1]`` in the model holding it, or None where the parent is
    not a model (a mapping of names, a list, a free-form value)."""
    tp: Any = Scenario
    node: Any = data
    for part in keys[:-1]:
        tp = _step(_member(tp, node), part)
        node = node[part]
        if tp is None:
            return None
    model = _member(tp, node)
    if not _is_model(model):
        return None
    return next((f for n, f in model.model_fields.items() if keys[-1] in (n, f.alias)), None)


def bound(field, names: tuple[str, ...]) -> float | None:
    """The field's bound of one of ``names`` (``ge``, ``gt``, ``le``, ``lt``), if declared."""
    for meta in getattr(field, "metadata", ()):
        for name in names:
            value = getattr(meta, name, None)
            if isinstance(value, (int, float)):
                return float(value)
    return None


def lower_bound(field) -> float | None:
    return bound(field, ("ge", "gt"))


def huge_label(data: dict, keys: tuple) -> str:
    """1e300 is invalid where the field declares an upper bound, or the value is inside a
    per-year mapping or list (judged by its field); a field without one (relative weights,
    Basel's sales, a multiple whose 'no limit' is null) may compute it: absurd."""
    field = field_at(data, keys)
    if field is not None and bound(field, ("le", "lt")) is None:
        return "absurd"
    return "invalid"


def is_number_field(field) -> bool:
    tp = _strip(field.annotation)
    return tp in (int, float)


# ------------------------------------------------------------------------- walking data


def leaves(node: Any, keys: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(key path, value) of every scalar."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, (*keys, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from leaves(v, (*keys, i))
    else:
        yield keys, node


def mappings(node: Any, keys: tuple = ()) -> Iterator[tuple[tuple, dict]]:
    if isinstance(node, dict):
        yield keys, node
        for k, v in node.items():
            yield from mappings(v, (*keys, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from mappings(v, (*keys, i))


def numbers(data: dict) -> list[tuple]:
    return [k for k, v in leaves(data) if isinstance(v, (int, float)) and not isinstance(v, bool)]


def replaced(data: dict, keys: tuple, value: Any) -> dict:
    new = copy.deepcopy(data)
    node = new
    for part in keys[:-1]:
        node = node[part]
    node[keys[-1]] = value
    return new


def removed(data: dict, keys: tuple) -> dict:
    new = copy.deepcopy(data)
    node = new
    for part in keys[:-1]:
        node = node[part]
    del node[keys[-1]]
    return new


def renamed(data: dict, keys: tuple) -> dict:
    new = copy.deepcopy(data)
    node = new
    for part in keys[:-1]:
        node = node[part]
    node[f"{keys[-1]}_x"] = node.pop(keys[-1])
    return new


def dump(data: dict) -> bytes:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode("utf-8")


# ------------------------------------------------------------------------- mutations


def value_mutations(data: dict, rng: random.Random, scenario: bool) -> Iterator[tuple]:
    """(kind, label, mutated data) for values; ``scenario`` enables the schema's labels."""
    spots = numbers(data)
    if not spots:
        return
    for kind, values in (
        ("wrong_type", ["abc", [1, 2], {"a": 1}]),
        ("not_a_number", [float("nan"), float("inf"), float("-inf"), True, False]),
    ):
        keys = rng.choice(spots)
        yield kind, "invalid", replaced(data, keys, rng.choice(values))
    keys = rng.choice(spots)
    yield "huge", huge_label(data, keys) if scenario else "invalid", replaced(data, keys, 1e300)
    if scenario:
        bounded = []
        for keys in spots:
            field = field_at(data, keys)
            if field is not None and is_number_field(field) and (lower_bound(field) or -1) >= 0:
                bounded.append(keys)
        if bounded:
            yield "negative", "invalid", replaced(data, rng.choice(bounded), -1)


def key_mutations(data: dict, rng: random.Random) -> Iterator[tuple]:
    """A required key of a model deleted; a key of a model renamed."""
    required, model_keys = [], []
    for keys, node in mappings(data):
        for key in node:
            field = field_at(data, (*keys, key))
            if field is None:
                continue
            model_keys.append((*keys, key))
            if field.is_required():
                required.append((*keys, key))
    if required:
        yield "delete", "invalid", removed(data, rng.choice(required))
    if model_keys:
        yield "rename", "invalid", renamed(data, rng.choice(model_keys))


def pattern_matches(pattern: str, keys: tuple, data: dict) -> bool:
    parts = pattern.split(".")
    if len(parts) != len(keys):
        return False
    for i, (want, got) in enumerate(zip(parts, keys, strict=True)):
        if want == "*":
            continue
        if want.startswith("<") and want.endswith(">"):
            node = data
            for k in keys[: i + 1]:
                node = node[k]
            if not (isinstance(node, dict) and node.get("kind") == want[1:-1]):
                return False
        elif want != str(got):
            return False
    return True


def implausible(data: dict, rng: random.Random) -> Iterator[tuple]:
    """A number just beyond one of the plausibility bounds it falls under."""
    spots = []
    for keys in numbers(data):
        for bound in BOUNDS:
            if pattern_matches(bound.key, keys, data):
                spots.append((keys, bound))
    if not spots:
        return
    keys, bound = rng.choice(spots)
    value = bound.high * 1.5 if bound.high is not None else bound.low / 2
    yield "implausible", "absurd", replaced(data, keys, value)


def text_mutations(raw: bytes, rng: random.Random) -> Iterator[tuple]:
    """Mutations of the file's bytes: (kind, label, bytes, reason)."""
    text = raw.decode("utf-8")
    first = re.search(r"^([a-z_]+):.*$", text, flags=re.M)
    if first:
        line = first.group(0)
        yield "duplicate_key", "invalid", (text + "\n" + line + "\n").encode(), ""
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    yield "alias_bomb", "invalid", (text + "\n" + "\n".join(bomb) + "\n").encode(), ""
    yield (
        "deep_nesting",
        "invalid",
        (text + "\nextra: " + "[" * 600 + "]" * 600 + "\n").encode(),
        "",
    )
    yield "binary", "invalid", bytes(rng.getrandbits(8) for _ in range(2000)), ""
    lines = raw.split(b"\n")
    at = rng.randrange(len(lines))
    lines.insert(at, b"# \xff\xfe not UTF-8")
    yield "not_utf8", "invalid", b"\n".join(lines), ""
    yield "truncated", "invalid", (text[: len(text) // 2] + "\nbroken: {a: [1,\n").encode(), ""
    yield "bom", "legal", b"\xef\xbb\xbf" + raw, "YAML 1.2 allows a UTF-8 byte-order mark"
    yield "crlf", "legal", raw.replace(b"\n", b"\r\n"), "YAML reads CRLF line ends as LF"


def experiment_mutations(data: dict, rng: random.Random) -> Iterator[tuple]:
    """(kind, label, mutated data) for an experiment (``base`` already absolute)."""
    for key in ("base", "name"):
        yield f"delete_{key}", "invalid", removed(data, (key,))
    yield "base_not_yaml", "invalid", replaced(data, ("base",), str(ROOT / "README.md"))
    places = [
        ("variants", name, key)
        for name, changes in data.get("variants", {}).items()
        for key in changes
    ]
    if places:
        yield "variant_unknown_key", "invalid", renamed_override(data, rng.choice(places))
    numbered = [k for k in places if k in numbers(data)]  # a variant's number (not a label)
    if numbered:
        keys = rng.choice(numbered)
        for kind, values in (
            ("not_a_number", [float("nan"), float("inf"), True]),
            ("wrong_type", ["abc", {"a": 1}]),
        ):
            yield f"variant_{kind}", "invalid", replaced(data, keys, rng.choice(values))
    yield (
        "grid_too_large",
        "invalid",
        {
            **data,
            "grid": [
                {
                    "name": name,
                    "key": key,
                    "values": [k / 1e5 for k in range(1000)],
                    "label": {"zh": name, "en": name},
                    "units": "1/year",
                }
                for name, key in (("lpr", "policy.lpr"), ("rate", "policy.discount_rate"))
            ],
        },
    )


def renamed_override(data: dict, keys: tuple) -> dict:
    """A variant's dotted key with a key that is no scenario's (``.._x``)."""
    new = copy.deepcopy(data)
    changes = new["variants"][keys[1]]
    changes[f"{keys[2]}_x"] = changes.pop(keys[2])
    return new


# ------------------------------------------------------------------------- the corpus


def cases_of(path: Path, rng: random.Random, experiment: bool) -> Iterator[Case]:
    raw = path.read_bytes()
    data, _ = read_yaml(path)
    if experiment:
        data["base"] = str((path.parent / data["base"]).resolve())
        raw = dump(data)  # the same experiment, base absolute
        found = [(k, label, dump(d), "") for k, label, d in experiment_mutations(data, rng)]
        for variant in data.get("variants", {}).values():
            variant.clear()  # value mutations of the experiment's own numbers
        found += [(k, label, dump(d), "") for k, label, d in value_mutations(data, rng, False)]
    else:
        found = [(k, label, dump(d), "") for k, label, d in value_mutations(data, rng, True)]
        found += [(k, label, dump(d), "") for k, label, d in key_mutations(data, rng)]
        found += [(k, label, dump(d), "") for k, label, d in implausible(data, rng)]
    found += list(text_mutations(raw, rng))
    for kind, label, content, reason in found:
        yield Case("", path.name, kind, label, content, reason, experiment)


def build_corpus(seed: int, size: int) -> list[Case]:
    """``size`` cases (about), drawn with ``seed``; legal cases at most 5% of them."""
    rng = random.Random(seed)
    scenarios, experiments = shipped()
    cases: list[Case] = []
    while len(cases) < size:
        experiment = rng.random() < 0.3
        path = rng.choice(experiments if experiment else scenarios)
        for case in cases_of(path, rng, experiment):
            legal = sum(c.label == "legal" for c in cases)
            if case.label == "legal" and legal + 1 > MAX_LEGAL_SHARE * size:
                continue
            cases.append(case)
    cases = cases[:size]
    return [
        Case(
            f"{Path(c.source).stem}.{c.kind}.{i}",
            c.source,
            c.kind,
            c.label,
            c.content,
            c.reason,
            c.experiment,
        )
        for i, c in enumerate(cases)
    ]


def write_case(case: Case, folder: Path) -> Path:
    path = folder / case.filename
    path.write_bytes(case.content)
    return path
