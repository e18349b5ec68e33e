"""User strings printed through Rich are text, never markup.

A party label ``[/red]`` crashed ``run`` after the whole simulation (Rich's MarkupError),
and ``[link=file:///etc/passwd]click[/link]`` became a clickable link: labels, names and
paths are now printed as they are.
"""

from __future__ import annotations

from pathlib import Path

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
