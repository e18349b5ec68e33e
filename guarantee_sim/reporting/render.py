"""The brief's two templates (Markdown and HTML, package data in ``templates/``) and the
filters they use: the only place that decides how a block looks in either format.

HTML is autoescaped (every label, description and source is the user's text); Markdown
is not HTML, so its text goes through :func:`md`, which writes what Markdown would read as
syntax as character references.

>>> render("brief.md", {"body": [{"kind": "p", "text": "<b>[x]"}], "sweep": [], "method": []})
'&lt;b>&#91;x]\\n\\n'
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

#: what Markdown would read as HTML (a '<' that starts a tag, a comment or an autolink, as in
#: a label '<script>'), and every '[' (a label '![x](http://...)' would fetch the image; no
#: link or image starts without one). Written as character references, which Markdown
#: shows as the characters and never reads as syntax; '<= 1%' stays as it is.
_MD_SYNTAX = re.compile(r"<(?=[A-Za-z/!?])|\[")
_MD_REFERENCES = {"<": "&lt;", "[": "&#91;"}


def md(text) -> str:
    """Text, with labels and descriptions in it, as Markdown that shows it literally."""
    return _MD_SYNTAX.sub(lambda m: _MD_REFERENCES[m.group()], str(text))


def md_cell(text) -> str:
    """:func:`md` for a table cell: no '|' or line break ends the cell early."""
    return md(text).replace("|", "\\|").replace("\n", " ")


def inline(text) -> Markup:
    """Text as HTML: escaped, with the brief's own ``**bold**`` as ``<strong>``."""
    return Markup(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", str(escape(str(text)))))


#: a table cell that is a number (with its unit, or an interval of two) is kept on one
#: line: it starts with a digit or a sign, or is a sum in CNY, and is this short at most
NOWRAP_UP_TO = 24
_NUMBER_CELL = re.compile(r"[\d+\-—]|CNY ")  # "—": a number not shown


def number_cell(cell) -> bool:
    """Whether a table cell is a number to keep on one line (HTML class ``n``)."""
    text = str(cell)
    return len(text) <= NOWRAP_UP_TO and bool(_NUMBER_CELL.match(text))


@cache
def environment() -> Environment:
    """The templates' environment, made once: autoescape on for ``.html``, off for ``.md``;
    an undefined name in a template is an error, not an empty string."""
    env = Environment(
        loader=PackageLoader("guarantee_sim.reporting", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md, md_cell=md_cell, inline=inline)
    env.tests["number_cell"] = number_cell
    return env


def render(name: str, context: dict[str, Any]) -> str:
    """Template ``name`` (``brief.md`` or ``brief.html``) filled with ``context``."""
    return environment().get_template(name).render(context)
