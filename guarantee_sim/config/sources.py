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
...     loan_size: {median: 1.0e6, cap: 1.0e7}  # PARAM: median 1 m; 004: 10 m cap
... '''
>>> lines = {("segments",): 1, ("segments", "sme"): 2, ("segments", "sme", "lgd"): 4,
...          ("segments", "sme", "tenor_months"): 5, ("segments", "sme", "loan_size"): 6,
...          ("segments", "sme", "loan_size", "median"): 6}
>>> for key, said in comment_sources(text, lines).items():
...     print(key, "->", said)
segments.sme.lgd -> PARAM: LGD, unsecured small-firm loan 65% (45-80%)
segments.sme.tenor_months -> ASSUMPTION: one-year working-capital loans
segments.sme.loan_size -> PARAM: median 1 m; 004: 10 m cap

A key's comment is the one at the end of its line and the block of comment lines directly
above it (no blank line between; a block that opens the file is its header, not a key's).
So a comment that speaks of a key goes above it or beside it, never below. Keys written on
their parent's line (inside ``{...}``) share the parent's comment, so only the parent
carries it. Text before the first tag is prose, not a source, and is left out.
"""

from __future__ import annotations

import re

#: a tag opens a source: PARAM:, ASSUMPTION:, DESIGN: or a seed document's number (000:)
TAG = re.compile(r"(?<![\w.])(PARAM|ASSUMPTION|DESIGN|\d{3}):\s")


def comment_sources(text: str, lines: dict[tuple, int]) -> dict[str, str]:
    """Dotted key -> the tagged parts of its comments, joined by "; " (see the module)."""
    rows = text.splitlines()
    found = {}
    for keys, line in lines.items():
        parent = lines.get(keys[:-1])
        if not keys or parent == line:  # inside a flow mapping: the parent has it
            continue
        said = _tagged(" ".join([*_block_above(rows, line), _end_of_line(rows[line - 1])]))
        if said:
            found[".".join(map(str, keys))] = said
    return found


def _block_above(rows: list[str], line: int) -> list[str]:
    """The comment lines directly above 1-based ``line``, top first."""
    block: list[str] = []
    i = line - 2
    while i >= 0 and rows[i].lstrip().startswith("#"):
        block.insert(0, rows[i].lstrip()[1:].strip())
        i -= 1
    return block if i >= 0 else []  # a block from the first line is the file's header


def _end_of_line(row: str) -> str:
    """The comment at the end of a line of YAML: after a ``#`` that follows a blank and is
    outside quotes."""
    quote = ""
    for i, c in enumerate(row):
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or row[i - 1] in " \t"):
            return row[i + 1 :].strip()
    return ""


def _tagged(comment: str) -> str:
    """The parts of ``comment`` from its first tag on, one per tag, joined by "; "."""
    starts = [m.start() for m in TAG.finditer(comment)]
    ends = [*starts[1:], None] if starts else []
    parts = [comment[a:b].strip().rstrip(";").strip() for a, b in zip(starts, ends, strict=True)]
    return "; ".join(p for p in parts if p)
