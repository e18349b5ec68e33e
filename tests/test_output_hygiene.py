"""User strings printed through Rich are text, never markup.

A party label ``[/red]`` crashed ``run`` after the whole simulation (Rich's MarkupError),
and ``[link=file:///etc/passwd]click[/link]`` became a clickable link: labels, names and
paths are now printed as they are.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import run_main

GOOD = Path(__file__).parent / "invalid" / "_valid_minimal.yaml"
MARKUP = "[/red][link=file:///etc/passwd]x[/link]:smile:"


def scenario_with_labels(tmp_path: Path) -> Path:
    text = GOOD.read_text(encoding="utf-8")
    text = text.replace("label: 首贷户", f"label: '{MARKUP}'", 1)
    text = text.replace(
        "  guarantor:\n    kind: guarantor\n",
        f"  guarantor:\n    kind: guarantor\n    label: '{MARKUP}'\n",
        1,
    )
    assert text.count(MARKUP) == 2
    path = tmp_path / "[bold]markup[red].yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_markup_in_labels_and_paths_is_printed_as_text(tmp_path):
    scenario = scenario_with_labels(tmp_path)
    rc, out, err = run_main("validate", scenario)
    assert rc == 0, err
    assert "[bold]markup[red].yaml" in "".join(out.split())  # as it is, not made bold
    out_file = tmp_path / "r.nc"
    rc, out, err = run_main("run", scenario, "--paths", 10, "--out", out_file)
    assert rc == 0, err
    assert "Traceback" not in err
    assert "[/red][link=file:///etc/passwd]x" in out  # the label's text (tables cut its end)
    assert "\x1b]8;" not in out  # no terminal hyperlink escape
    rc, out, err = run_main("summarize", out_file)
    assert rc == 0, err
    assert "[/red][link=file:///etc/passwd]x" in out


# ------------------------------------------------------------------ brief.md and the CSVs

SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://evil.example","click")'
IMAGE = "![x](http://evil.example/track.png)"


def test_markdown_shows_html_links_and_images_in_text_as_text():
    from guarantee_sim.reporting.brief import Brief, render_markdown

    hostile = f"{SCRIPT} {IMAGE} \\[y](http://evil.example) <http://evil.example> <!-- x"
    brief = Brief(
        lang="en",
        title=hostile,
        blocks=[
            ("h1", hostile),
            ("p", f"One design: **test** ({hostile})."),
            ("quote", hostile),
            ("ul", [hostile]),
            ("table", ["party", "loss"], [[hostile, -1.5]], hostile),
        ],
    )
    md = render_markdown(brief)
    assert not markdown_syntax(md), markdown_syntax(md)
    assert "&lt;script>alert(1)&lt;/script>" in md and "!&#91;x](http" in md
    assert "**test**" in md and "| -1.5 |" in md  # our own emphasis and numbers as they were
    assert "fee <= 1%" in render_markdown(Brief(lang="en", title="", blocks=[("p", "fee <= 1%")]))


def markdown_syntax(md: str) -> list[str]:
    """What in ``md`` starts HTML or a link or image, other than the brief's own figures."""
    text = "\n".join(
        line for line in md.splitlines() if not re.match(r"!\[[^\[]*\]\(figures/", line)
    )
    return re.findall(r"<[A-Za-z/!?]|\[", text)


def test_csv_text_cells_that_start_a_formula_are_text_and_numbers_stay_numbers():
    from guarantee_sim.reporting.brief import csv_safe

    table = pd.DataFrame(
        {
            "label": [FORMULA, "+1+cmd", "-2+3", "@SUM(A1)", "\tx", "-0.5", "ok -1", SCRIPT],
            "loss": [-1.5, 0.0, 2.0, -3.0, 1.0, -0.25, 5.0, 6.0],
        }
    )
    safe = csv_safe(table)
    assert safe["label"].tolist() == [
        "'" + FORMULA, "'+1+cmd", "'-2+3", "'@SUM(A1)", "'\tx", "-0.5", "ok -1", SCRIPT
    ]  # fmt: skip
    pd.testing.assert_series_equal(safe["loss"], table["loss"])  # negative numbers are data
    assert table["label"][0] == FORMULA  # the caller's table is not changed


@pytest.mark.slow  # writes a brief with its figures
def test_a_brief_of_hostile_labels_has_no_html_and_no_formula(tmp_path):
    from guarantee_sim.reporting import write_brief
    from guarantee_sim.testing import results_dataset

    rng = np.random.default_rng(1)
    ds = results_dataset(
        years=[2021, 2022],
        segments={"sme": ["first_time"]},
        parties={"bank": "bank", "guarantor": "guarantor"},
        paths=30,
        schemes={"s": {"coverage": 0.8, "split": {"guarantor": 1.0}, "label": SCRIPT}},
        targets={
            "t": {
                "metric": "borrowers",
                "tags": ["first_time"],
                "kind": "flow",
                "from_year": 2021,
                "to_year": 2022,
                "value": 5,
                "label": "@SUM(A1)",
            }
        },
        loss={"guarantor": rng.gamma(2, 1e6, size=(30, 2)) - 3e6},  # a net gain: negative
    )
    ds = ds.assign_coords(party_label=("party", [SCRIPT, FORMULA, "unabsorbed"]))
    ds.attrs.update(scenario_label=FORMULA, scenario_description=SCRIPT, sources=f'["{IMAGE}"]')
    for lang in ("en", "zh"):
        out = write_brief(ds, tmp_path / lang, lang=lang)
        md = out["markdown"].read_text(encoding="utf-8")
        assert not markdown_syntax(md), markdown_syntax(md)
        assert "<script" not in out["html"].read_text(encoding="utf-8")
        cells = []
        for name, path in out.items():
            if name.endswith(".csv"):
                table = pd.read_csv(path, dtype=str, keep_default_na=False)
                cells += [c for column in table.columns for c in table[column]]
        assert FORMULA not in cells and "'" + FORMULA in cells and "'@SUM(A1)" in cells
        formulas = [c for c in cells if c.startswith(("=", "+", "-", "@"))]
        assert all(float(c) < 0 for c in formulas), formulas  # only negative numbers
        assert any(float(c) < 0 for c in formulas)  # and there are some
