"""Turn a YAML file plus ``--set`` overrides into a validated pydantic model.

The machinery here is generic over the model class. Its job is to make every
mistake in a scenario or experiment file point at something a policy analyst
can fix: the file, the line, the dotted key, the offending value and, for
unknown keys, the keys that would have been accepted.

Typical use::

    scenario = load_model("scenarios/base.yaml", Scenario,
                          overrides=["parties.guarantor.fee_rate=0.008"])
"""

from __future__ import annotations

import copy
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

__all__ = [
    "ScenarioError",
    "apply_overrides",
    "format_location",
    "load_model",
    "model_from_dict",
    "read_yaml",
]

_REPR_LIMIT = 80  # longest "got ..." value we print; whole sub-trees are noise


class ScenarioError(Exception):
    """A user's mistake in a scenario/experiment file or a ``--set`` override.

    ``str(err)`` is the full message, ready to print.

    Attributes
    ----------
    path : str
        The file (or other source) the mistake is in.
    line : int or None
        1-based line of the (first) problem, when known.
    key : str or None
        Dotted key of the (first) problem, when known.
    problems : list of str
        One self-contained line per problem.
    """

    def __init__(self, message, *, path, line=None, key=None, problems=None):
        super().__init__(message)
        self.path = str(path)
        self.line = line
        self.key = key
        self.problems = list(problems) if problems is not None else [message]


def format_location(path, line=None, key=None, override=None):
    """Format ``<file>, line <n>, key '<a.b>'`` for messages.

    Parameters
    ----------
    path : str or os.PathLike or None
        Source file; omitted from the text when None or empty.
    line : int, optional
        1-based line number.
    key : str, optional
        Dotted key path.
    override : str, optional
        Override text ``a.b=v``; shown as ``--set a.b=v`` in place of the line,
        because the file's line no longer holds the value that was used.

    Returns
    -------
    str
    """
    parts = [str(path)] if path else []
    if override is not None:
        parts.append(f"--set {override}")
    elif line is not None:
        parts.append(f"line {line}")
    if key:
        parts.append(f"key '{key}'")
    return ", ".join(parts)


def _dotted(keys):
    return ".".join(str(k) for k in keys) or None


def _fail(path, text, line=None, key=None, override=None):
    """Build a single-problem ScenarioError; ``path=None`` means a bare override."""
    message = f"{format_location(path, line, key, override)}: {text}"
    return ScenarioError(message, path=path or "<overrides>", line=line, key=key)


# --------------------------------------------------------------------------- YAML


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records the line of every key/item and rejects duplicate keys.

    PyYAML silently keeps the last of two equal keys, which hides typos and
    copy-paste mistakes, so duplicates are collected and reported instead.
    """

    def __init__(self, stream, source):
        super().__init__(stream)
        self.source = source
        self.lines = {}
        self.duplicates = []  # (line, dotted key, first line)

    def get_single_data(self):
        # Index the composed node tree first: only nodes know their lines and
        # only a top-down walk knows the key path leading to them.
        node = self.get_single_node()
        if node is None:
            return None
        self._index(node, (), frozenset())
        if self.duplicates:
            self.duplicates.sort()  # the walk is top-down; report in file order
            problems = [
                f"{format_location(self.source, line, key)}: duplicate key "
                f"(first given on line {first})"
                for line, key, first in self.duplicates
            ]
            line, key, _ = self.duplicates[0]
            message = problems[0] if len(problems) == 1 else _with_header(self.source, problems)
            raise ScenarioError(message, path=self.source, line=line, key=key, problems=problems)
        return self.construct_document(node)

    def _index(self, node, path, active):
        if id(node) in active:  # a recursive alias; constructing it will cope
            return
        active = active | {id(node)}
        if isinstance(node, yaml.MappingNode):
            first_seen = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # '<<' entries may legitimately repeat merged keys
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    if key in first_seen:
                        self.duplicates.append((line, _dotted(path + (key,)), first_seen[key]))
                    else:
                        first_seen[key] = line
                except TypeError:  # unhashable key: the constructor reports it
                    pass
            self.flatten_mapping(node)  # resolve '<<' so merged keys get lines too
            for key_node, value_node in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    child = path + (key,)
                    self.lines[child] = key_node.start_mark.line + 1
                except TypeError:
                    continue
                self._index(value_node, child, active)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.lines[path + (i,)] = item.start_mark.line + 1
                self._index(item, path + (i,), active)


def read_yaml(path):
    """Read a YAML mapping and the line of every key and list item.

    Parameters
    ----------
    path : str or os.PathLike
        The YAML file (UTF-8; Chinese text in values is fine).

    Returns
    -------
    data : dict
        The parsed top-level mapping.
    lines : dict of tuple to int
        1-based line for each key path, e.g. ``("parties", "guarantor",
        "fee_rate") -> 42``; list items use their index, e.g.
        ``("segments", "a", "pd", "grades", 2) -> 17``.

    Raises
    ------
    ScenarioError
        Missing/unreadable file, YAML syntax error, duplicate key, or a top
        level that is not a mapping.
    """
    source = str(path)
    try:
        raw = Path(path).read_bytes()  # bytes: let YAML decode UTF-8 whatever the locale
    except FileNotFoundError:
        raise _fail(source, "file not found") from None
    except OSError as exc:
        raise _fail(source, f"cannot read file ({exc.strerror or exc})") from None
    try:
        loader = _LineLoader(raw, source)  # decoding starts here already
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        text = exc.problem or exc.context or "syntax error"
        if mark is not None:
            text += f" (column {mark.column + 1})"
        if exc.problem and exc.context and exc.context_mark is not None:
            text += f", {exc.context} started on line {exc.context_mark.line + 1}"
        line = mark.line + 1 if mark is not None else None
        if "'\\t'" in text or "\t" in text:
            text += "; YAML does not allow tabs for indentation: indent with spaces"
        raise _fail(source, f"invalid YAML: {text}", line=line) from None
    except yaml.reader.ReaderError as exc:  # e.g. a file saved as GBK, not UTF-8
        line = raw[: exc.position].count(b"\n") + 1
        raise _fail(
            source,
            f"unreadable character at byte {exc.position}: {exc.reason} (save the file as UTF-8)",
            line=line,
        ) from None
    except yaml.YAMLError as exc:
        raise _fail(source, f"invalid YAML: {exc}") from None
    if data is None:
        raise _fail(source, "file is empty; expected a mapping of 'key: value' settings")
    if not isinstance(data, dict):
        raise _fail(
            source,
            f"the top level must be a mapping of 'key: value' settings, "
            f"not a {type(data).__name__}",
            line=1,
        )
    return data, loader.lines


# ---------------------------------------------------------------------- overrides


def _parse_overrides(overrides, source):
    """Normalise overrides to ``[(key parts, value, "key=value" text)]``."""
    if not overrides:
        return []
    if isinstance(overrides, Mapping):
        items = [(str(k), v, f"{k}={v}") for k, v in overrides.items()]
    else:
        if isinstance(overrides, str):  # a lone "--set" string, not a list of them
            overrides = [overrides]
        items = []
        for text in overrides:
            key, sep, value = str(text).partition("=")
            if not sep or not key.strip():
                raise _fail(source, f"malformed override '--set {text}': expected dotted.key=value")
            items.append((key.strip(), value, text))
    parsed = []
    for key, value, text in items:
        parts = key.split(".")
        if not all(parts):
            raise _fail(source, f"malformed key '{key}' in override", override=text)
        if isinstance(value, str):
            # Same typing rules as the file itself: "0.5" -> 0.5, "[1,2]" -> list.
            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError as exc:
                problem = getattr(exc, "problem", None) or str(exc)
                raise _fail(
                    source, f"value is not valid YAML: {problem}", key=key, override=text
                ) from None
        else:
            value = copy.deepcopy(value)  # don't alias the caller's objects
        parsed.append((parts, value, text))
    return parsed


def _existing_key(mapping, part):
    # Keys typed as integers in YAML (e.g. ``1: ...``) are reachable as "1".
    if part not in mapping and part.lstrip("-").isdigit() and int(part) in mapping:
        return int(part)
    return part


def _set_path(root, parts, value, text, source):
    """Set ``value`` at ``parts`` inside ``root`` (in place); return the key path."""

    def fail(reason):
        return _fail(source, reason, key=".".join(parts), override=text)

    node, keys = root, []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        here = _dotted(keys) or "the top level"
        if isinstance(node, dict):
            key = _existing_key(node, part)
            if not last and key not in node:
                # A new key is fine only at the end: validation judges it later.
                allowed = ", ".join(map(str, node)) or "none (it is empty)"
                raise fail(f"no key '{part}' under {here}; keys there: {allowed}")
        elif isinstance(node, list):
            if not (part.isdigit() and int(part) < len(node)):
                valid = f"0 to {len(node) - 1}" if node else "none, it is empty"
                raise fail(
                    f"'{here}' is a list of {len(node)} item(s), so '{part}' "
                    f"is not a valid index (valid: {valid})"
                )
            key = int(part)
        else:
            raise fail(
                f"'{here}' holds a single value ({_short_repr(node)}), "
                f"not a section, so it has no key '{part}'"
            )
        keys.append(key)
        if last:
            node[key] = value
        else:
            node = node[key]
    return tuple(keys)


def _apply_overrides(data, overrides, source=None):
    new = copy.deepcopy(data)
    overridden = {}  # key path -> override text, so errors can cite the --set
    for parts, value, text in _parse_overrides(overrides, source):
        overridden[_set_path(new, parts, value, text, source)] = text
    return new, overridden


def apply_overrides(data, overrides):
    """Return a deep copy of ``data`` with dotted-key overrides applied.

    Parameters
    ----------
    data : dict
        Nested configuration; never modified.
    overrides : list of str or dict or None
        ``["a.b=0.5", ...]`` as given to ``--set``, or ``{"a.b": value}``.
        String values are parsed with ``yaml.safe_load`` ("0.5" -> 0.5,
        "true" -> True, "[1,2]" -> [1, 2], "abc" -> "abc"). Integer parts
        index lists (``segments.a.pd.grades.0.weight``).

    Returns
    -------
    dict
        A new nested dict.

    Raises
    ------
    ScenarioError
        Malformed override (no ``=``), or a path through a missing or
        non-mapping intermediate; the message names the override and the keys
        available at that level.
    """
    new, _ = _apply_overrides(data, overrides)
    return new


# --------------------------------------------------------------------- validation


def _short_repr(value):
    text = repr(value)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def _with_header(source, problems):
    n = len(problems)
    head = f"invalid scenario {source}: {n} problem{'s' if n != 1 else ''}"
    return "\n".join([head] + [f"  - {p}" for p in problems])


def _data_path(data, loc, model_cls, keep_missing):
    """Map a pydantic ``loc`` onto keys that exist in ``data``.

    Unions put a tag or member name into ``loc`` that is not a key in the
    file. Walking the model's types alongside tells where those are (a tag
    may even equal a real key, e.g. ``kind: beta`` next to ``beta: 3.0``);
    where the type is unknown, parts missing from the data are skipped. A
    missing field is kept as the last part: it is what the analyst must add.
    """
    node, tp, keys = data, model_cls, []
    for i, part in enumerate(loc):
        is_tag = tp is not None and _is_union(_strip(tp))
        tp = _step(tp, part) if tp is not None else None
        if is_tag:
            continue
        if (isinstance(node, dict) and _hashable_in(part, node)) or (
            isinstance(node, list)
            and isinstance(part, int)
            and not isinstance(part, bool)
            and 0 <= part < len(node)
        ):
            keys.append(part)
            node = node[part]
        elif keep_missing and i == len(loc) - 1 and isinstance(part, str):
            keys.append(part)
    return tuple(keys)


def _hashable_in(key, mapping):
    try:
        return key in mapping
    except TypeError:
        return False


def _locate(keys, lines, overridden):
    """Return ``(line, override text, overrides below)`` for an error at ``keys``."""
    # An override on the key or any ancestor replaced what the file says there.
    for n in range(len(keys), -1, -1):
        if keys[:n] in overridden:
            return None, overridden[keys[:n]], []
    below = [t for p, t in overridden.items() if len(p) > len(keys) and p[: len(keys)] == keys]
    for n in range(len(keys), 0, -1):
        if keys[:n] in lines:  # nearest ancestor for missing fields / model validators
            return lines[keys[:n]], None, below
    return None, None, below


def _is_union(tp):
    origin = get_origin(tp)
    return origin is Union or origin is types.UnionType


def _strip(tp):
    """Drop ``Annotated`` and ``Optional`` wrappers around a type."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif _is_union(tp):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _is_model(tp):
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _field(model, name):
    return next((f for n, f in model.model_fields.items() if name in (n, f.alias)), None)


def _union_member(tp, part):
    """Pick the union member a ``loc`` part names: its class name or a Literal tag."""
    models = [m for m in map(_strip, get_args(tp)) if _is_model(m)]
    for model in models:
        tags = [
            value
            for field in model.model_fields.values()
            if get_origin(_strip(field.annotation)) is Literal
            for value in get_args(_strip(field.annotation))
        ]
        if part == model.__name__ or part in tags:
            return model
    return None


def _step(tp, part):
    """Return the type one ``loc`` part below ``tp``, or None when unknown."""
    tp = _strip(tp)
    origin, args = get_origin(tp), get_args(tp)
    if _is_model(tp):
        field = _field(tp, part)
        return field.annotation if field is not None else None
    if _is_union(tp):  # several members: ``part`` is the tag pydantic added
        return _union_member(tp, part)
    if not isinstance(origin, type) or not args:
        return None
    if issubclass(origin, Mapping):
        return args[-1]
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        return args[part] if isinstance(part, int) and 0 <= part < len(args) else None
    if issubclass(origin, (Sequence, set, frozenset)):
        return args[0]
    return None


def _model_at(model_cls, loc):
    """Walk ``loc`` through the model's annotations; return the model there or None."""
    tp = model_cls
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return None
    tp = _strip(tp)
    return tp if _is_model(tp) else None


def _allowed_keys(model_cls, loc):
    model = _model_at(model_cls, loc)
    if model is None:
        return []
    return [f.alias or n for n, f in model.model_fields.items()]


def _describe(err, data, model_cls, source, lines, overridden):
    """One analyst-readable line for one pydantic error; returns (text, line, key)."""
    missing = err["type"] == "missing"
    keys = _data_path(data, err["loc"], model_cls, keep_missing=missing)
    line, override, below = _locate(keys, lines, overridden)
    key = _dotted(keys)
    where = format_location(source, line, key, override)
    if below:  # the file's line is not the whole story for a model-level check
        where += " (after " + ", ".join(f"--set {t}" for t in below) + ")"
    msg = err["msg"].removeprefix("Value error, ")
    if not missing:  # for 'missing' the input is the parent mapping: noise
        msg += f" (got {_short_repr(err['input'])})"
    if err["type"] == "extra_forbidden":
        allowed = _allowed_keys(model_cls, err["loc"][:-1])
        if allowed:
            msg += f"; allowed keys here: {', '.join(allowed)}"
    return f"{where}: {msg}", line, key


def _validate(data, model_cls, source, lines, overridden, context):
    try:
        return model_cls.model_validate(data, context=context)
    except ValidationError as exc:
        described = [
            _describe(err, data, model_cls, source, lines, overridden)
            for err in exc.errors(include_url=False)
        ]
    problems = [text for text, _, _ in described]
    _, line, key = described[0]
    raise ScenarioError(
        _with_header(source, problems), path=source, line=line, key=key, problems=problems
    ) from None


def load_model(path, model_cls, overrides=None, context=None):
    """Load a YAML file, apply overrides and validate it as ``model_cls``.

    Parameters
    ----------
    path : str or os.PathLike
        The YAML scenario or experiment file.
    model_cls : type of pydantic.BaseModel
        The model to validate against (normally frozen, ``extra="forbid"``).
    overrides : list of str or dict, optional
        See :func:`apply_overrides`.
    context : dict, optional
        Passed to ``model_validate`` for context-aware validators.

    Returns
    -------
    pydantic.BaseModel
        An instance of ``model_cls``.

    Raises
    ------
    ScenarioError
        Any problem in the file, the overrides or validation. For validation
        every problem is listed, each with file, line (or the ``--set`` that
        supplied the value), dotted key, message and offending value.
    """
    source = str(path)
    data, lines = read_yaml(path)
    data, overridden = _apply_overrides(data, overrides, source=source)
    return _validate(data, model_cls, source, lines, overridden, context)


def model_from_dict(data, model_cls, source="<dict>", context=None):
    """Validate an in-memory mapping with the same error messages (no line numbers).

    Parameters
    ----------
    data : dict
        The configuration.
    model_cls : type of pydantic.BaseModel
        The model to validate against.
    source : str, optional
        Name used in messages in place of a file name.
    context : dict, optional
        Passed to ``model_validate``.

    Returns
    -------
    pydantic.BaseModel

    Raises
    ------
    ScenarioError
    """
    return _validate(data, model_cls, source, {}, {}, context)
