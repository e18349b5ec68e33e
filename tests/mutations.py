"""Building blocks of bad inputs, shared by the validation tests and a fuzz corpus.

A mutation takes a scenario (or experiment) as read by :func:`guarantee_sim.config.read_yaml`
and changes one place; :func:`expect_clean_error` says what a clean refusal of it looks like
(the promise of the command line: one message naming the file, the line and the dotted key,
no traceback). A generator of a fuzz corpus can enumerate the same places with
:func:`numeric_leaves` and reuse the same values and checks.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from guarantee_sim.config import ScenarioError

#: values no number in a scenario may take, and a word the error must contain
NOT_NUMBERS: dict[str, tuple[Any, str]] = {
    "true": (True, "not true/false"),
    "false": (False, "not true/false"),
    ".nan": (float("nan"), "finite number"),
    ".inf": (float("inf"), "finite number"),
    "-.inf": (float("-inf"), "finite number"),
}


def numeric_leaves(node: Any, path: tuple = ()) -> Iterator[tuple]:
    """Key paths of every number in ``node`` (list items by index, mapping keys as they are)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from numeric_leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from numeric_leaves(value, (*path, i))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path


def with_value(data: dict, path: tuple, value: Any) -> dict:
    """A deep copy of ``data`` with the value at ``path`` replaced."""
    new = copy.deepcopy(data)
    node = new
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return new


def dotted(path: tuple) -> str:
    return ".".join(map(str, path))


def problem_keys(err: ScenarioError) -> list[str]:
    """The dotted key each problem of ``err`` names (None where it names none)."""
    keys = []
    for problem in err.problems:
        head = problem.split(": ", 1)[0]
        keys.append(head.split("key '", 1)[1].split("'", 1)[0] if "key '" in head else None)
    return keys


def expect_clean_error(err: ScenarioError, path: str, key: str | None, words: str = "") -> list:
    """What ``err`` gets wrong as a clean refusal at ``key`` of file ``path``; [] if nothing."""
    wrong = []
    message = str(err)
    if str(path) not in message:
        wrong.append(f"message does not name the file {path}")
    if "Traceback" in message:
        wrong.append("message holds a traceback")
    if key is not None and key not in problem_keys(err):
        wrong.append(f"no problem names the key {key!r} (keys: {problem_keys(err)})")
    if words and words not in message:
        wrong.append(f"message does not say {words!r}")
    return wrong
