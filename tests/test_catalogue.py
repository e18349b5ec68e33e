"""The brief's words are data: no user-visible string literal in the code of
``guarantee_sim/reporting`` outside the catalogue (``reporting/catalogue/<lang>.yaml``),
and the templates are package data that render the same context in both formats."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from guarantee_sim.reporting import brief as brief_module
from guarantee_sim.reporting import text
from guarantee_sim.reporting.render import render

REPORTING = Path(brief_module.__file__).parent

#: Chinese characters, CJK and full-width punctuation: words for a reader of the zh brief
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
#: two words of letters with a space between them: a phrase for a reader
PHRASE = re.compile(r"[A-Za-z]{2,} +[A-Za-z]{2,}")

#: literals that look like words but never reach a reader, each with its reason
ALLOWED_STRINGS = {
    # matplotlib's placement keywords (legend loc, annotation coordinates): arguments
    "upper left",
    "upper right",
    "upper center",
    "outside lower center",
    "axes fraction",
    "offset points",
    # a font family matplotlib looks up (fonts.font_families), not a label
    "DejaVu Sans",
}
#: module-level constants whose strings are not the brief's words, each with its reason
ALLOWED_CONSTANTS = {
    ("fonts.py", "CANDIDATES"),  # font family names matplotlib looks up
    ("fonts.py", "INSTALL_HINT"),  # a warning's advice: diagnostics are English throughout
    ("plots.py", "NO_LINE_START"),  # punctuation a wrapped line may not start with
    ("tables.py", "NO_DECOMPOSITION"),  # a code in the CSV column variance_note, like CONSTANT
    ("methods.py", "PATTERNS"),  # the forms of the results' English method names, parsed
    ("methods.py", "WHAT"),  # the results' names of what an interval is of, as keys
}


def _exempt_nodes(tree: ast.AST, file: str) -> set[int]:
    """Ids of the nodes that are not output: docstrings, error and warning messages (for
    the developer, in English, as everywhere in the package), the allowed constants."""
    exempt: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                exempt.add(id(body[0].value))
        func = node.func if isinstance(node, ast.Call) else None
        warns = func is not None and getattr(func, "attr", getattr(func, "id", "")) == "warn"
        assigned = isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and (file, target.id) in ALLOWED_CONSTANTS
            for target in node.targets
        )
        if isinstance(node, ast.Raise) or warns or assigned:
            exempt.update(id(sub) for sub in ast.walk(node))
    return exempt


def user_visible_literals(source: str, file: str) -> list[str]:
    """``file:line: 'literal'`` for every string literal in ``source`` (f-strings' parts
    too) with Chinese in it or a phrase of words, that is neither exempt nor allowed."""
    tree = ast.parse(source)
    exempt = _exempt_nodes(tree, file)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if id(node) in exempt or node.value in ALLOWED_STRINGS:
            continue
        if CJK.search(node.value) or PHRASE.search(node.value):
            found.append(f"{file}:{node.lineno}: {node.value[:60]!r}")
    return found


def test_no_user_visible_literal_in_reporting_outside_the_catalogue():
    found = [
        hit
        for path in sorted(REPORTING.glob("*.py"))
        for hit in user_visible_literals(path.read_text(encoding="utf-8"), path.name)
    ]
    assert not found, "words belong in reporting/catalogue/<lang>.yaml:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "planted",
    [
        'label = "整个模拟期损失"',
        'title = f"Loss over the run: {x}"',
        'ax.set_title("Designs compared")',
        'note = "，"',
    ],
)
def test_the_scan_finds_a_planted_literal(planted):
    assert user_visible_literals(planted, "plots.py")


@pytest.mark.parametrize(
    "allowed",
    [
        '"""A docstring with words."""',
        'raise ValueError("unknown language: choose zh or en")',
        'warnings.warn("no CJK font found", stacklevel=2)',
        'ax.legend(loc="upper left")',
        'CANDIDATES = ("Noto Sans CJK SC",)',
        'key = "fig_loss_title"',
        'cell = f"{low} – {high}"',
    ],
)
def test_the_scan_lets_code_strings_be(allowed):
    assert not user_visible_literals(allowed, "fonts.py")


def test_the_catalogue_is_the_yaml_files_with_the_same_keys_in_both_languages():
    import yaml

    for lang in text.LANGS:
        path = REPORTING / "catalogue" / f"{lang}.yaml"
        assert text.TEXT[lang] == yaml.safe_load(path.read_text(encoding="utf-8"))
    assert list(text.TEXT["zh"]) == list(text.TEXT["en"])  # same keys, same order


def test_one_context_renders_both_formats_and_html_is_escaped():
    brief = brief_module.Brief(
        lang="en",
        title="<b>title</b>",
        blocks=[
            ("h1", "<b>title</b>"),
            ("p", "**bold** & <i>"),
            ("ul", ["one", "two"]),
            ("table", ["a", "b"], [["x", "1.5"]], ""),
            ("h2", "Method"),
            ("p", "how"),
        ],
        method_at=4,
        sweep=[("h2", "Sweep"), ("p", "lever on the x axis")],
    )
    context = brief_module.brief_context(brief)
    assert [b["kind"] for b in context["body"]] == ["h1", "p", "ul", "table"]
    assert [b["kind"] for b in context["method"]] == ["h2", "p"]
    page = brief_module.render_html(brief, context)
    assert "<title>&lt;b&gt;title&lt;/b&gt;</title>" in page
    assert "<p><strong>bold</strong> &amp; &lt;i&gt;</p>" in page
    assert '<td class="n">1.5</td>' in page and "@media print" in page
    # the sweep section sits between the results and the method
    assert page.index("lever on the x axis") < page.index("<h2>Method</h2>")
    assert page.index("<table>") < page.index('<section class="sweep">')
    md = brief_module.render_markdown(brief, context)
    assert md.index("## Sweep") < md.index("## Method")
    assert "| x | 1.5 |" in md and "- one\n- two\n" in md


def test_a_brief_without_a_sweep_has_no_sweep_section():
    brief = brief_module.Brief(lang="zh", title="t", blocks=[("p", "x")])
    assert "sweep" not in brief_module.render_html(brief)
    assert brief_module.render_markdown(brief) == "x\n"


def test_the_templates_autoescape_html_and_not_markdown():
    context = {"body": [{"kind": "p", "text": "a < b & c"}], "sweep": [], "method": []}
    assert render("brief.md", context) == "a < b & c\n\n"
    html_context = {**context, "title": "t", "html_lang": "en", "lang": "en"}
    assert "<p>a &lt; b &amp; c</p>" in render("brief.html", html_context)
