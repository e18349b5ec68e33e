"""Turn a YAML file plus overrides into a validated pydantic model.

The machinery here is generic over the model class. Its job is to make every
mistake in a scenario or experiment file point at something a policy analyst
can fix: the file, the line, the dotted key, the offending value and, for
unknown keys, the keys that would have been accepted.

Files are read as YAML 1.2 by ruamel.yaml (its round-trip loader knows where every key
and item is and refuses duplicate keys). Overrides (``--set dotted.key=value``, an
experiment's variants, ``make_scenario`` in the tests) all go through
:func:`parse_overrides`, and their values are read as YAML exactly like a file's.

Typical use::

    scenario = load_model("scenarios/base.yaml", Scenario,
                          overrides=["parties.guarantor.fee_rate=0.008"])
"""

from __future__ import annotations

import copy
import functools
import os
import re
import stat
import sys
import types
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, CommentedSet, TaggedScalar
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarbool import ScalarBoolean

from .types import MAX_MONEY

__all__ = [
    "Override",
    "ScenarioError",
    "ScenarioWarning",
    "apply_overrides",
    "format_location",
    "load_model",
    "model_from_dict",
    "parse_override",
    "parse_overrides",
    "read_yaml",
]

_REPR_LIMIT = 80  # longest "got ..." value we print; whole sub-trees are noise

#: largest scenario or experiment file read, in bytes. The largest shipped file is 19 KB;
#: the pure-Python YAML parser that keeps lines reads about 40 KB a second at worst, so a
#: file at the limit still reads in seconds (a 50 MB file took minutes).
MAX_FILE_BYTES = 256 * 1024
#: most values (mappings, lists, scalars) a file may expand to. The largest shipped
#: scenario has 314; aliases (``*name``) repeat a part of the file, and nested aliases
#: ("billion laughs") would otherwise expand to billions of values.
MAX_VALUES = 100_000
#: deepest nesting of mappings and lists in a file (the top-level mapping is 1, a value in
#: it 2). The deepest shipped file has 7; the YAML parser recurses once per level, so 600
#: levels exhausted Python's stack before any check could name the place.
MAX_DEPTH = 64


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


class _Unsupported(Exception):
    """YAML that parses but has no plain value (a custom tag, a recursive alias, too many
    values, two keys naming one entry)."""

    def __init__(self, reason, keys, line=None, first_line=None):
        super().__init__(reason)
        self.reason, self.keys, self.line = reason, keys, line
        self.first_line = first_line  # of the entry a duplicate key repeats


class _Budget:
    """Counts the values built from a file, so aliases cannot expand it without bound."""

    def __init__(self) -> None:
        self.values = 0
        self.seen: set[int] = set()  # ids of the mappings and lists built so far
        self.alias = None  # key path of the outermost alias being expanded

    def spend(self, keys) -> None:
        self.values += 1
        if self.values > MAX_VALUES:
            where = self.alias if self.alias is not None else keys
            raise _Unsupported(
                f"the file expands to more than {MAX_VALUES:,} values (YAML aliases '*name' "
                "repeat a part of the file, here nested so that they multiply); a scenario "
                "has a few hundred: write the values out or use fewer aliases",
                where,
            )


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)  # YAML 1.2, positions kept, duplicate keys refused
    yaml.max_depth = MAX_DEPTH  # checked as each node is built, before the stack runs out
    return yaml


def _too_deep() -> str:
    return (
        f"values nested more than {MAX_DEPTH} levels deep (mappings or lists inside one "
        "another); a scenario nests at most 7: remove the extra brackets or indentation"
    )


def read_yaml(path):
    """Read a YAML mapping and the line of every key and list item.

    Parameters
    ----------
    path : str or os.PathLike
        The YAML file (UTF-8; Chinese text in values is fine), read as YAML 1.2.

    Returns
    -------
    data : dict
        The parsed top-level mapping, as plain dicts, lists, str, int, float, bool.
    lines : dict of tuple to int
        1-based line for each key path, e.g. ``("parties", "guarantor",
        "fee_rate") -> 42``; list items use their index, e.g.
        ``("segments", "a", "pd", "grades", 2) -> 17``.

    Raises
    ------
    ScenarioError
        Missing/unreadable file, YAML syntax error, duplicate key, a tag other than
        YAML's own, or a top level that is not a mapping.
    """
    source = str(path)
    raw = _read_regular_file(path, source)  # bytes: let YAML decode UTF-8 whatever the locale
    data, lines = _parse(raw, source)
    return copy.deepcopy(data), dict(lines)  # the caller's own copy of a cached result


@functools.lru_cache(maxsize=16)
def _parse(raw: bytes, source: str):
    """The plain data and lines of a file's bytes: cached, because an experiment validates
    its base scenario once per variant and the line-keeping parser is slow (0.25 s for the
    largest shipped scenario)."""
    try:
        tree = _yaml().load(raw)
    except DuplicateKeyError as exc:
        raise _duplicate_keys(raw, source, exc) from None
    except MaxDepthExceededError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise _fail(source, _too_deep(), line=line) from None
    except ReaderError as exc:  # e.g. a file saved as GBK, not UTF-8
        line = raw[: exc.position].count(b"\n") + 1
        raise _fail(
            source,
            f"unreadable character at byte {exc.position}: {exc.reason} (save the file as UTF-8)",
            line=line,
        ) from None
    except MarkedYAMLError as exc:
        raise _syntax_error(source, exc) from None
    except YAMLError as exc:
        raise _fail(source, f"invalid YAML: {exc}") from None
    if tree is None:
        raise _fail(source, "file is empty; expected a mapping of 'key: value' settings")
    if not isinstance(tree, CommentedMap):
        kind = "list" if isinstance(tree, CommentedSeq) else type(tree).__name__
        raise _fail(
            source,
            f"the top level must be a mapping of 'key: value' settings, not a {kind}",
            line=1,
        )
    lines: dict[tuple, int] = {}  # key path -> line
    try:
        return _plain(tree, (), lines, frozenset(), _Budget()), lines
    except _Unsupported as exc:
        where = exc.line if exc.line is not None else lines.get(exc.keys)
        reason = exc.reason
        if exc.first_line is not None:
            reason += f" (first given on line {exc.first_line})"
        raise _fail(source, reason, where, _dotted(exc.keys)) from None


_FILE_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _read_regular_file(path, source) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_FILE_BYTES`.

    Opened without blocking (a FIFO would wait for a writer for ever) and checked on the
    open file, so a device such as /dev/zero or /dev/urandom is never read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise _fail(source, "file not found") from None
    except OSError as exc:
        raise _fail(source, f"cannot read file ({exc.strerror or exc})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a file")
        raise _fail(source, f"is {kind}, not a regular file: give a YAML file")
    with os.fdopen(fd, "rb") as file:
        try:
            raw = file.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise _fail(source, f"cannot read file ({exc.strerror or exc})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise _fail(
            source,
            f"file is larger than {MAX_FILE_BYTES // 1024} KB, the most a scenario or "
            "experiment file may have (the largest shipped one has 19 KB)",
        )
    return raw


def _plain(node, keys, lines, active, budget):
    """ruamel's round-trip objects as plain Python values; their lines go into ``lines``."""
    budget.spend(keys)
    if isinstance(node, (CommentedMap, CommentedSeq)):
        tag = node.tag.value
        if tag is not None and not tag.startswith("tag:yaml.org,2002:"):
            raise _Unsupported(f"unsupported YAML tag {tag}", keys)
        if id(node) in active:
            raise _Unsupported("an alias refers to itself", keys)
        active = active | {id(node)}
        budget.seen.add(id(node))
        if isinstance(node, CommentedSeq):
            return [_child(node, i, i, keys, lines, active, budget) for i in range(len(node))]
        mapping = {}
        for raw_key in node:
            key = _scalar(raw_key, keys)
            first = _same_entry(mapping, key)
            if first is not None:
                raise _Unsupported(
                    f"duplicate key: {key!r} and {first!r} name the same entry; write it once",
                    (*keys, key),
                    _key_line(node, raw_key, lines.get(keys)),
                    first_line=lines.get((*keys, first)),
                )
            mapping[key] = _child(node, raw_key, key, keys, lines, active, budget)
        return mapping
    if isinstance(node, CommentedSet):
        return set(node)
    return _scalar(node, keys)


def _same_entry(mapping, key):
    """The key of ``mapping`` that ``key`` differs from only in type (2022 and '2022')."""
    text = str(key)
    return next((k for k in mapping if str(k) == text and k != key), None)


def _key_line(node, raw_key, default):
    try:
        position = node.lc.item(raw_key) if isinstance(node, CommentedSeq) else node.lc.key(raw_key)
    except KeyError:  # a key merged in by '<<': the line of its mapping
        return default if default is not None else 1
    return position[0] + 1


def _child(node, raw_key, key, keys, lines, active, budget):
    """The plain value of ``node[raw_key]``; records its line under ``keys + (key,)``."""
    at = (*keys, key)
    value = node[raw_key]
    alias = id(value) in budget.seen  # a mapping or list met before: an alias of it
    if alias and isinstance(node, CommentedSeq):
        lines[at] = lines.get(keys, 1)  # ruamel gives the anchor's line, not the alias's
    else:
        lines[at] = _key_line(node, raw_key, lines.get(keys))
    outermost = alias and budget.alias is None  # remember the outermost alias's place
    if outermost:
        budget.alias = at
    try:
        return _plain(value, at, lines, active, budget)
    finally:
        if outermost:
            budget.alias = None


def _scalar(value, keys):
    if isinstance(value, (bool, ScalarBoolean)):
        return bool(value)
    if isinstance(value, int):  # ScalarInt, HexInt, ...
        return int(value)
    if isinstance(value, float):  # ScalarFloat
        return float(value)
    if isinstance(value, str):  # LiteralScalarString, FoldedScalarString, ...
        return str(value)
    if isinstance(value, TaggedScalar):
        if value.tag.value == "tag:yaml.org,2002:str":
            return str(value.value)
        raise _Unsupported(f"unsupported YAML tag {value.tag.value}", keys)
    return value  # None, dates, bytes, tuples (complex keys): validation judges them


def _syntax_error(source, exc):
    mark = exc.problem_mark or exc.context_mark
    text = exc.problem or exc.context or "syntax error"
    if mark is not None:
        text += f" (column {mark.column + 1})"
    if exc.problem and exc.context and exc.context_mark is not None:
        text += f", {exc.context} started on line {exc.context_mark.line + 1}"
    if "'\\t'" in text or "\t" in text:
        text += "; YAML does not allow tabs for indentation: indent with spaces"
    line = mark.line + 1 if mark is not None else None
    return _fail(source, f"invalid YAML: {text}", line=line)


def _duplicate_keys(raw, source, exc):
    """Every duplicate key of the file, each with the line it was first given on.

    ruamel stops at the first duplicate and does not say where the key first was, so
    the file's node tree (which keeps duplicates) is searched instead.
    """
    found = []
    seen = set()  # each node once: an alias repeats a node, not its duplicates

    def walk(node, keys):
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, MappingNode):
            first = {}
            for key_node, value_node in node.value:
                name = key_node.value if isinstance(key_node, ScalarNode) else None
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # '<<' entries may legitimately repeat merged keys
                line = key_node.start_mark.line + 1
                if name in first:
                    found.append((line, _dotted((*keys, name)), first[name]))
                elif name is not None:
                    first[name] = line
                walk(value_node, (*keys, name))
        elif isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*keys, i))

    walk(_yaml().compose(raw), ())
    if not found:  # equal values written differently (1 and 1.0): ruamel's own words
        line = exc.problem_mark.line + 1
        return _fail(source, f"duplicate key: {exc.problem}", line=line)
    found.sort()
    problems = [
        f"{format_location(source, line, key)}: duplicate key (first given on line {first})"
        for line, key, first in found
    ]
    line, key, _ = found[0]
    message = problems[0] if len(problems) == 1 else _with_header(source, problems)
    return ScenarioError(message, path=source, line=line, key=key, problems=problems)


# ---------------------------------------------------------------------- overrides


@dataclass(frozen=True)
class Override:
    """One change ``dotted.key: value`` to a configuration, and where it was written.

    With ``path`` (and ``line``) it was written in that file, e.g. an experiment's
    ``variants``; without, it is a ``--set`` and messages cite its ``text``.
    """

    key: str
    value: Any
    text: str
    path: str | None = None
    line: int | None = None

    def cite(self) -> str:
        """How a message names this override: ``--set a.b=1`` or ``x.yaml, line 4``."""
        return f"--set {self.text}" if self.path is None else format_location(self.path, self.line)

    def location(self, source, key) -> str:
        """``<source>, --set a.b=1, key 'a.b'`` or ``x.yaml, line 4, key 'a.b'``."""
        if self.path is None:
            return format_location(source, key=key, override=self.text)
        return format_location(self.path, self.line, key)

    def error(self, source, reason, key=None) -> ScenarioError:
        key = key or self.key
        return ScenarioError(
            f"{self.location(source, key)}: {reason}",
            path=self.path or source or "<overrides>",
            line=self.line,
            key=key,
        )


def parse_override(text, source=None) -> Override:
    """Read ``--set`` text ``dotted.key=value``; the value is YAML, read as in a file.

    ``source`` (the file being overridden) only names where the mistake is.

    >>> parse_override("policy.lpr=0.0345").value
    0.0345
    >>> parse_override("parties.guarantor.fee_rate={2021: 0.01, 2022: 0.008}").value
    {2021: 0.01, 2022: 0.008}
    """
    key, sep, value = str(text).partition("=")
    if not sep or not key.strip():
        raise _fail(source, f"malformed override '--set {text}': expected dotted.key=value")
    return Override(key.strip(), _yaml_value(value, key.strip(), str(text), source), str(text))


def _yaml_value(text, key, override_text, source):
    try:
        return _plain(_yaml().load(text), (), {}, frozenset(), _Budget())
    except _Unsupported as exc:
        raise _fail(source, exc.reason, key=key, override=override_text) from None
    except MaxDepthExceededError:
        raise _fail(source, _too_deep(), key=key, override=override_text) from None
    except YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise _fail(
            source, f"value is not valid YAML: {problem}", key=key, override=override_text
        ) from None


def parse_overrides(overrides, source=None) -> list[Override]:
    """Every override as an :class:`Override`, checked for well-formed keys.

    Parameters
    ----------
    overrides : None, str, Override, list of str or Override, or dict
        ``--set`` texts ``"a.b=0.5"``, Overrides, or ``{"a.b": value}``; text values of a
        dict are read as YAML too ("0.5" -> 0.5, "[1, 2]" -> [1, 2], "abc" -> "abc").
    source : str, optional
        The file being overridden, for messages.

    Returns
    -------
    list of Override
    """
    if not overrides:
        return []
    if isinstance(overrides, (str, Override)):  # a lone override, not a list of them
        overrides = [overrides]
    if isinstance(overrides, Mapping):
        items = [
            Override(
                str(k).strip(),
                _yaml_value(v, str(k), f"{k}={v}", source) if isinstance(v, str) else v,
                f"{k}={v}",
            )
            for k, v in overrides.items()
        ]
    else:
        items = [o if isinstance(o, Override) else parse_override(o, source) for o in overrides]
    for o in items:
        if not all(o.key.split(".")):
            raise o.error(source, f"malformed key '{o.key}' in override")
    return items


def _existing_key(mapping, part):
    # Keys typed as integers in YAML (e.g. ``1: ...``) are reachable as "1".
    if part not in mapping and part.lstrip("-").isdigit() and int(part) in mapping:
        return int(part)
    return part


def _set_path(root, override, source, model_cls=None):
    """Apply ``override`` inside ``root`` (in place); return the key paths it set.

    A section the file leaves out (or sets to null) is started when ``model_cls`` has it
    as a field, so ``--set policy.lpr=0.03`` works without a ``policy:`` section; a
    missing entry of a mapping (a party, a segment) is a typo and an error. The paths
    returned are the sections started, then the key set.
    """
    parts = override.key.split(".")
    node, keys, tp, started = root, [], model_cls, []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        here = _dotted(keys) or "the top level"
        if isinstance(node, dict):
            key = _existing_key(node, part)
            if not last and node.get(key) is None and _is_section(tp, node, key):
                node[key] = {}
                started.append((*keys, key))
            if not last and key not in node:
                # A new key is fine only at the end: validation judges it later.
                allowed = ", ".join(map(str, node)) or "none (it is empty)"
                raise override.error(source, f"no key '{part}' under {here}; keys there: {allowed}")
        elif isinstance(node, list):
            if not (part.isdigit() and int(part) < len(node)):
                valid = f"0 to {len(node) - 1}" if node else "none, it is empty"
                raise override.error(
                    source,
                    f"'{here}' is a list of {len(node)} item(s), so '{part}' "
                    f"is not a valid index (valid: {valid})",
                )
            key = int(part)
        else:
            raise override.error(
                source,
                f"'{here}' holds a single value ({_short_repr(node)}), "
                f"not a section, so it has no key '{part}'",
            )
        keys.append(key)
        if last:
            node[key] = copy.deepcopy(override.value)  # don't alias the caller's objects
        else:
            tp = _step(_member(tp, node), key)
            node = node[key]
    return [*started, tuple(keys)]


def _member(tp, node):
    """The model ``node`` is, given its declared type ``tp``: a union member by ``kind``."""
    tp = _strip(tp) if tp is not None else None
    if tp is not None and _is_union(tp) and isinstance(node, dict):
        models = [m for m in map(_strip, get_args(tp)) if _is_model(m)]
        return next((m for m in models if node.get("kind") in _literals(m)), None)
    return tp


def _is_section(tp, node, key):
    model = _member(tp, node)
    field = _is_model(model) and model.model_fields.get(key)
    return bool(field) and _is_model(_strip(field.annotation))


def _apply_overrides(data, overrides, source=None, model_cls=None):
    new = copy.deepcopy(data)
    overridden = {}  # key path -> Override, so errors can cite it
    for o in parse_overrides(overrides, source):
        *started, path = _set_path(new, o, source, model_cls)
        overridden.update(dict.fromkeys(started, o))  # errors in a section it started
        overridden[path] = o
    return new, overridden


def apply_overrides(data, overrides):
    """Return a deep copy of ``data`` with dotted-key overrides applied.

    Parameters
    ----------
    data : dict
        Nested configuration; never modified.
    overrides : list of str or Override, or dict, or None
        See :func:`parse_overrides`. Integer parts index lists
        (``segments.a.pd.grades.0.weight``).

    Returns
    -------
    dict
        A new nested dict.

    Raises
    ------
    ScenarioError
        Malformed override (no ``=``, a value that is not YAML), or a path through a
        missing or non-mapping intermediate; the message names the override and the keys
        available at that level.
    """
    new, _ = _apply_overrides(data, overrides)
    return new


# --------------------------------------------------------------------- validation


def _short_repr(value):
    # a value that knows its YAML form (the value grammar's objects) is shown in it
    text = repr(value.to_data() if hasattr(value, "to_data") else value)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def _with_header(source, problems):
    n = len(problems)
    head = f"invalid scenario {source}: {n} problem{'s' if n != 1 else ''}"
    return "\n".join([head] + [f"  - {p}" for p in problems])


def _data_path(data, loc, keep_missing):
    """Map a pydantic ``loc`` onto the keys it names in ``data``.

    A union puts a tag into ``loc`` that is no key in the file: the ``kind`` of a
    discriminated union (the parties), or a member's name. A part equal to the node's
    ``kind`` is taken for the tag first (it may equal a real key too, e.g. ``kind: beta``
    next to ``beta: 3.0``); other parts missing from the data are skipped, except a
    missing field at the end: it is what the analyst must add.
    """
    node, keys, tag_possible = data, [], True
    for i, part in enumerate(loc):
        if tag_possible and isinstance(node, dict) and node.get("kind") == part:
            tag_possible = False  # the next part is a key of this same node
        elif _has(node, part):
            keys.append(part)
            node, tag_possible = node[part], True
        elif keep_missing and i == len(loc) - 1 and isinstance(part, str):
            keys.append(part)
    return tuple(keys)


def _has(node, part):
    if isinstance(node, dict):
        try:
            return part in node
        except TypeError:
            return False
    return (
        isinstance(node, list)
        and isinstance(part, int)
        and not isinstance(part, bool)
        and 0 <= part < len(node)
    )


def _locate(keys, lines, overridden):
    """Return ``(line, override, overrides below)`` for an error at ``keys``."""
    # An override on the key or any ancestor replaced what the file says there.
    for n in range(len(keys), -1, -1):
        if keys[:n] in overridden:
            return None, overridden[keys[:n]], []
    below = [o for p, o in overridden.items() if len(p) > len(keys) and p[: len(keys)] == keys]
    for n in range(len(keys), 0, -1):
        if keys[:n] in lines:  # nearest ancestor for missing fields / model validators
            return lines[keys[:n]], None, below
    return None, None, below


def _allowed_keys(model_cls, loc):
    """The keys the model at ``loc`` accepts, found by walking the annotations."""
    tp = model_cls
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return []
    tp = _strip(tp)
    return [f.alias or n for n, f in tp.model_fields.items()] if _is_model(tp) else []


def _step(tp, part):  # noqa: PLR0911
    """The type one ``loc`` part below ``tp``, or None when unknown."""
    tp = _strip(tp)
    origin, args = get_origin(tp), get_args(tp)
    if _is_model(tp):
        field = next((f for n, f in tp.model_fields.items() if part in (n, f.alias)), None)
        return field.annotation if field is not None else None
    if _is_union(tp):  # ``part`` is the tag pydantic added: a member's name or Literal kind
        for member in map(_strip, args):
            if _is_model(member) and (part == member.__name__ or part in _literals(member)):
                return member
        return None
    if not isinstance(origin, type) or not args:
        return None
    if issubclass(origin, Mapping):
        return args[-1]
    if issubclass(origin, (Sequence, set, frozenset)):
        return args[0]
    return None


def _literals(model):
    return [
        value
        for field in model.model_fields.values()
        if get_origin(_strip(field.annotation)) is Literal
        for value in get_args(_strip(field.annotation))
    ]


def _is_union(tp):
    origin = get_origin(tp)
    return origin is Union or origin is types.UnionType


def _strip(tp):
    """Drop ``Annotated`` and ``Optional`` wrappers around a type."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
        elif _is_union(tp) and len([a for a in get_args(tp) if a is not type(None)]) == 1:
            tp = next(a for a in get_args(tp) if a is not type(None))
        else:
            return tp


def _is_model(tp):
    return isinstance(tp, type) and issubclass(tp, BaseModel)


_LIMITS = {
    "greater_than": "greater than",
    "greater_than_equal": "greater than or equal to",
    "less_than": "less than",
    "less_than_equal": "less than or equal to",
}


#: a percent written where a number is expected: "0.8%", " 12 % "
_PERCENT = re.compile(r"\s*([-+]?(?:\d+\.?\d*|\.\d+))\s*%\s*")


def _percent_hint(value) -> str | None:
    """For ``"0.8%"``: what to write instead (rates are decimals a year: 0.008)."""
    match = _PERCENT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    decimal = Decimal(match.group(1)).scaleb(-2).normalize()
    return f"a rate or share is a decimal, not a percent: write {decimal:f} for {match.group(1)}%"


def _message(err, model_cls) -> str:
    """Pydantic's message, said for a YAML writer: what is allowed, with readable numbers."""
    kind = err["type"]
    hint = _percent_hint(err.get("input"))
    if hint and kind.endswith("_parsing"):  # "0.8%" where a number goes
        return hint
    if kind == "finite_number":
        msg = "must be a finite number: .inf and .nan are not allowed"
        if "null" in _description(model_cls, err["loc"]):
            msg += "; for none (no cap, no limit) write null"
        return msg
    if kind in _LIMITS:
        limit = next(iter(err.get("ctx", {}).values()), None)
        if isinstance(limit, (int, float)) and not isinstance(limit, bool):
            msg = f"Input should be {_LIMITS[kind]} {_number_text(limit)}"
            if kind.startswith("less") and limit == MAX_MONEY:
                msg += " (no amount in a scenario may exceed 1e+15 CNY, about 8x China's GDP)"
            elif kind.startswith("less") and "null" in _description(model_cls, err["loc"]):
                msg += "; for none (no cap, no limit) write null"
            return msg
    return err["msg"].removeprefix("Value error, ")


def _number_text(x) -> str:
    """1e+15 rather than 1000000000000000; 1 for 1.0; 0.999 and 4294967296 as they are."""
    if abs(x) >= 1e15:
        return f"{x:g}"
    return str(int(x)) if float(x).is_integer() else repr(x)


def _description(model_cls, loc) -> str:
    """The description of the field at ``loc`` (empty when there is none)."""
    tp = model_cls
    for part in loc[:-1]:
        tp = _step(tp, part)
    tp = _member(tp, None)
    if not (loc and _is_model(tp)):
        return ""
    field = next((f for n, f in tp.model_fields.items() if loc[-1] in (n, f.alias)), None)
    return (field.description or "") if field is not None else ""


def _describe(err, data, model_cls, source, lines, overridden):
    """One analyst-readable line for one pydantic error; returns (text, line, key)."""
    missing = err["type"] == "missing"
    # a cross-section check (fail()) may name a key the file lacks: the one to add
    keys = _data_path(data, err["loc"], keep_missing=missing or err["type"] == "scenario")
    line, override, below = _locate(keys, lines, overridden)
    key = _dotted(keys)
    where = override.location(source, key) if override else format_location(source, line, key)
    if below:  # the file's line is not the whole story for a model-level check
        where += " (after " + ", ".join(o.cite() for o in below) + ")"
    msg = _message(err, model_cls)
    # for 'missing' the input is the parent mapping: noise; a check's None: no value at all
    if not (missing or (err["type"] == "scenario" and err["input"] is None)):
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


class ScenarioWarning(UserWarning):
    """A value the model can compute but an analyst almost surely did not mean.

    ``str(warning)`` is the full message, ready to print. Issued with :func:`warnings.warn`
    by :func:`load_model` when given ``checks`` (``strict=True`` raises them as a
    :class:`ScenarioError` instead).

    Attributes
    ----------
    path, line, key
        Where the value is, as for :class:`ScenarioError`.
    value : float
        The implausible value.
    source : str
        Where the plausible range comes from (a row of PARAMETERS.md).
    """

    def __init__(self, message, *, path, line=None, key=None, value=None, source=""):
        super().__init__(message)
        self.path = str(path)
        self.line = line
        self.key = key
        self.value = value
        self.source = source


def _located_warnings(model, checks, source, lines, overridden) -> list[ScenarioWarning]:
    """``checks(model)``'s (location, message, value, source) as located warnings, by line."""
    found = []
    for loc, message, value, origin in checks(model):
        keys = tuple(loc)
        line, override, _ = _locate(keys, lines, overridden)
        key = _dotted(keys)
        where = override.location(source, key) if override else format_location(source, line, key)
        text = f"{where}: {message} (bound from {origin})"
        found.append(
            ScenarioWarning(text, path=source, line=line, key=key, value=value, source=origin)
        )
    found.sort(key=lambda w: (w.line is None, w.line or 0))
    return found


def _checked(model, checks, strict, source, lines, overridden):
    """Issue (or with ``strict``, raise) the warnings ``checks`` finds in a valid ``model``."""
    if checks is None:
        return model
    found = _located_warnings(model, checks, source, lines, overridden)
    if strict and found:
        problems = [f"{w} [an error with --strict]" for w in found]
        raise ScenarioError(
            _with_header(source, problems),
            path=source,
            line=found[0].line,
            key=found[0].key,
            problems=problems,
        )
    for warning in found:
        warnings.warn(warning, stacklevel=_caller_level())
    return model


def _caller_level() -> int:
    """The ``stacklevel`` of the first caller outside the package (a notebook, a script)."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(
        "guarantee_sim."
    ):
        frame, level = frame.f_back, level + 1
    return level


def load_model(path, model_cls, overrides=None, context=None, *, checks=None, strict=False):
    """Load a YAML file, apply overrides and validate it as ``model_cls``.

    Parameters
    ----------
    path : str or os.PathLike
        The YAML scenario or experiment file.
    model_cls : type of pydantic.BaseModel
        The model to validate against (normally frozen, ``extra="forbid"``).
    overrides : list of str or Override, or dict, optional
        See :func:`parse_overrides`.
    context : dict, optional
        Passed to ``model_validate`` for context-aware validators.
    checks : callable, optional
        ``checks(model)`` yields ``(location, message, value, source)`` for values that are
        valid but implausible; each becomes a :class:`ScenarioWarning`.
    strict : bool, optional
        Raise what ``checks`` finds as a :class:`ScenarioError` instead of warning.

    Returns
    -------
    pydantic.BaseModel
        An instance of ``model_cls``.

    Raises
    ------
    ScenarioError
        Any problem in the file, the overrides or validation. For validation
        every problem is listed, each with file, line (or the override that
        supplied the value), dotted key, message and offending value.
    """
    data, lines = read_yaml(path)
    return model_from_dict(
        data,
        model_cls,
        str(path),
        context,
        lines=lines,
        overrides=overrides,
        checks=checks,
        strict=strict,
    )


def model_from_dict(
    data,
    model_cls,
    source="<dict>",
    context=None,
    *,
    lines=None,
    overrides=None,
    checks=None,
    strict=False,
):
    """Validate an in-memory mapping with the same error messages.

    Parameters
    ----------
    data : dict
        The configuration; never modified.
    model_cls : type of pydantic.BaseModel
        The model to validate against.
    source : str, optional
        Name used in messages in place of a file name.
    context : dict, optional
        Passed to ``model_validate``.
    lines : dict, optional
        Lines of the keys, as from :func:`read_yaml`; without them messages give none.
    overrides : optional
        Applied first; see :func:`parse_overrides`.
    checks, strict : optional
        See :func:`load_model`.

    Returns
    -------
    pydantic.BaseModel

    Raises
    ------
    ScenarioError
    """
    data, overridden = _apply_overrides(data, overrides, source, model_cls)
    _refuse_same_entries(data, (), source, lines or {}, overridden)
    model = _validate(data, model_cls, source, lines or {}, overridden, context)
    return _checked(model, checks, strict, source, lines or {}, overridden)


def _refuse_same_entries(node, keys, source, lines, overridden):
    """Two keys of one mapping that differ only in type (2022 and '2022') are an error.

    Validation would turn both into one entry and silently keep one value. A file is
    checked as it is read; this catches mappings built in Python and override values.
    """
    if isinstance(node, list):
        for i, item in enumerate(node):
            _refuse_same_entries(item, (*keys, i), source, lines, overridden)
    if not isinstance(node, dict):
        return
    seen = {}
    for key, value in node.items():
        first = _same_entry(seen, key)
        if first is not None:
            at = (*keys, key)
            line, override, _ = _locate(at, lines, overridden)
            where = override.location(source, _dotted(at)) if override else None
            where = where or format_location(source, line, _dotted(at))
            raise ScenarioError(
                f"{where}: duplicate key: {key!r} and {first!r} name the same entry; write it once",
                path=source,
                line=line,
                key=_dotted(at),
            )
        seen[key] = None
        _refuse_same_entries(value, (*keys, key), source, lines, overridden)
