"""Sources written as comments, kept as data (issue 12 §1, "sources travel").

The shipped scenarios say where each number comes from in a comment beside or above its
key, opened by a tag: ``PARAM:`` (a row of PARAMETERS.md), ``ASSUMPTION:`` (the modeller's
assumption, with its reason), ``DESIGN:`` (DESIGN.md), or a seed document's number
(``004:``). :func:`comment_sources` reads those comments back from the file's text, so the
results and the brief can say, key by key, what rests on what:

>>> text = '''\\
... segments:
...   sme:
...     # PARAM: LGD, unsecured small-firm loan 65% (45-80%)
...     lgd: 0.65
...     tenor_months: 12   # ASSUMPTION: one-year working-capital loans
...     loan_size: {median: 1.0e6, cap: 1.0e7}  # PARAM: median 1 m
...     # 004: the cap is 10 m (explained under it)
...     renewal:
...       rate: 0.8
... '''
>>> lines = {("segments",): 1, ("segments", "sme"): 2, ("segments", "sme", "lgd"): 4,
...          ("segments", "sme", "tenor_months"): 5, ("segments", "sme", "loan_size"): 6,
...          ("segments", "sme", "loan_size", "median"): 6, ("segments", "sme", "renewal"): 8,
...          ("segments", "sme", "renewal", "rate"): 9}
>>> for key, said in comment_sources(text, lines).items():
...     print(key, "->", said)
segments.sme.lgd -> PARAM: LGD, unsecured small-firm loan 65% (45-80%)
segments.sme.tenor_months -> ASSUMPTION: one-year working-capital loans
segments.sme.loan_size -> PARAM: median 1 m; 004: the cap is 10 m (explained under it)

A key's comment is the one at the end of its line, and a block of comment lines (no blank
line inside) belongs to one key: the key directly above whose end-of-line comment it
carries on (its lines start in that comment's column); else the one-line key (``key:
value``) written directly above it at the same indentation, as the shipped files explain a
number under it; otherwise the key directly below it. A block that opens the file is its
header, nobody's source. Keys written on their parent's line (inside ``{...}``) share the
parent's comment, so only the parent carries it. Text before the first tag is prose, not
a source, and is left out.
"""

from __future__ import annotations

import re

#: a tag opens a source: PARAM:, ASSUMPTION:, DESIGN: or a seed document's number (000:)
TAG = re.compile(r"(?<![\w.])(PARAM|ASSUMPTION|DESIGN|\d{3}):\s")


def comment_sources(text: str, lines: dict[tuple, int]) -> dict[str, str]:
    """Dotted key -> the tagged parts of its comments, joined by "; " (see the module)."""
    rows = text.splitlines()
    at_line: dict[int, tuple] = {}  # line -> the outermost key written on it
    for keys, line in sorted(lines.items(), key=lambda kv: len(kv[0])):
        at_line.setdefault(line, keys)
    last_under = _last_line_under(lines)
    one_line = {line for line, keys in at_line.items() if last_under.get(keys, 0) <= line}
    comments: dict[tuple, list[str]] = {keys: [] for keys in at_line.values()}
    for first, last in _blocks(rows):
        above, below = first - 1, last + 1  # 1-based lines around the block
        if above in at_line and _continues(rows[above - 1], rows[first - 1]):
            owner = at_line[above]  # the key's end-of-line comment, carried on below it
        elif above in one_line and _indent(rows[above - 1]) == _indent(rows[first - 1]):
            owner = at_line[above]
        elif below in at_line:
            owner = at_line[below]
        else:
            continue
        comments[owner].extend(r.lstrip()[1:].strip() for r in rows[first - 1 : last])
    found = {}
    for line, keys in sorted(at_line.items()):
        said = _tagged(" ".join([_end_of_line(rows[line - 1]), *comments[keys]]))
        if said:
            found[".".join(map(str, keys))] = said
    return found


def _last_line_under(lines: dict[tuple, int]) -> dict[tuple, int]:
    """Key path -> the last line of the keys under it: a key whose keys under it all sit
    on its own line is a one-line key (``key: value``, ``key: {a: 1}``), else a block.
    One pass over the keys (asking each key about every other took 50 ms a run)."""
    last: dict[tuple, int] = {}
    for keys, line in lines.items():
        for depth in range(1, len(keys)):
            parent = keys[:depth]
            last[parent] = max(last.get(parent, 0), line)
    return last


def _blocks(rows: list[str]):
    """(first, last) 1-based lines of each run of comment-only lines, but the file's header
    (a run from the first line)."""
    i = 0
    while i < len(rows):
        if rows[i].lstrip().startswith("#"):
            j = i
            while j + 1 < len(rows) and rows[j + 1].lstrip().startswith("#"):
                j += 1
            if i > 0:
                yield i + 1, j + 1
            i = j + 1
        else:
            i += 1


def _indent(row: str) -> int:
    return len(row) - len(row.lstrip())


def _end_of_line(row: str) -> str:
    """The comment at the end of a line of YAML: after a ``#`` that follows a blank and is
    outside quotes."""
    at = _comment_column(row)
    return "" if at < 0 else row[at + 1 :].strip()


def _comment_column(row: str) -> int:
    """Where the comment of a line of YAML starts (its ``#``), -1 for none."""
    quote = ""
    for i, c in enumerate(row):
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or row[i - 1] in " \t"):
            return i
    return -1


def _continues(key_row: str, comment_row: str) -> bool:
    """Whether a comment line goes on with the comment at the end of the key's line: it
    starts in that comment's column (``persistence: 0.3  # ASSUMPTION: ...`` with the
    reason on the lines under it, aligned with its ``#``)."""
    at = _comment_column(key_row)
    return at > 0 and not key_row[:at].lstrip().startswith("#") and at == _indent(comment_row)


def _tagged(comment: str) -> str:
    """The parts of ``comment`` from its first tag on, one per tag, joined by "; "."""
    starts = [m.start() for m in TAG.finditer(comment)]
    ends = [*starts[1:], None] if starts else []
    parts = [comment[a:b].strip().rstrip(" ;(") for a, b in zip(starts, ends, strict=True)]
    return "; ".join(p for p in parts if p)
