"""Reporting: figures, the policy brief (Markdown, HTML, CSV) and the explore notebook.

The Datasets are small (tens of paths) runs of the shipped county scenario and of a
comparison with a counterfactual; the brief is written through the command line
(``guarantee-sim brief``) for a run and a comparison, in Chinese and in English, and its
numbers are checked against the metric functions applied to the Dataset read back.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from helpers import run_main
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import guarantee_sim as gs
import guarantee_sim.reporting.brief as brief_module
from guarantee_sim import reporting
from guarantee_sim.cli import main
from guarantee_sim.experiments import run_experiment
from guarantee_sim.reporting import fonts, labels, measures, numbers, tables, text
from guarantee_sim.results import (
    breaker_probability,
    depletion_probability,
    exceedance_curve,
    expected_shortfall,
    fiscal_cost_per_borrower,
    fiscal_cost_per_lending,
    insolvency_probability,
    loss_summary,
    public_cost_pv,
    read_results,
    tail_allocation,
    wilson_interval,
    write_netcdf,
    yearly_summary,
)

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "county_guarantee_2021.yaml"
NOTEBOOK = ROOT / "experiments" / "explore_results.ipynb"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PATHS = 40
CASES = [("run", "zh"), ("run", "en"), ("compare", "zh"), ("compare", "en")]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A results file of a run and one of a comparison with a counterfactual."""
    folder = tmp_path_factory.mktemp("results")
    scenario = gs.load_scenario(SCENARIO, overrides=["simulation.block_size=20"])
    run = write_netcdf(gs.simulate(scenario, paths=PATHS, seed=3), folder / "run.nc")
    experiment = folder / "experiment.yaml"
    experiment.write_text(
        yaml.safe_dump(
            {
                "name": "fee_with_counterfactual",
                "label": "担保费率与反事实",
                "question": "What does each additional first-time borrower cost the budget?",
                "base": str(SCENARIO),
                "counterfactual": "no_scheme",
                "overrides": {"simulation.block_size": 20},
                "variants": {
                    "baseline": {},
                    "fee_0_5pct": {"parties.guarantor.fee_rate": 0.005},
                    # without the scheme: fewer first-time borrowers, no pool top-ups
                    "no_scheme": {
                        "segments.first_time.lending.count_per_year": 60,
                        "parties.gov_pool.annual_contribution": 0.0,
                    },
                },
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    compare = write_netcdf(run_experiment(experiment, paths=30, seed=5), folder / "compare.nc")
    return {"run": run, "compare": compare}


@pytest.fixture(scope="module")
def datasets(files) -> dict:
    return {kind: read_results(path) for kind, path in files.items()}


@pytest.fixture(scope="module")
def briefs(files, tmp_path_factory) -> dict[tuple[str, str], Path]:
    """The brief of each results file in each language, written by the command line."""
    folder = tmp_path_factory.mktemp("briefs")
    out = {}
    for kind, lang in CASES:
        target = folder / f"{kind}_{lang}"
        rc, stdout, stderr = run_main("brief", files[kind], "--lang", lang, "--out", target)
        assert rc == 0, stderr
        assert "brief written" in stdout
        out[kind, lang] = target
    return out


def axes() -> Axes:
    fig = Figure(figsize=(8, 5))
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def csv(folder: Path, name: str) -> pd.DataFrame:
    """A table of a brief, its columns by their ids whatever the brief's language."""
    path = folder / "tables" / f"{name}.csv"
    # UTF-8 with a BOM, so Excel and WPS on a Chinese Windows PC read the labels
    assert path.read_bytes().startswith(b"\xef\xbb\xbf"), path
    table = pd.read_csv(path, encoding="utf-8-sig", keep_default_na=True)
    return table.rename(columns=column_ids("zh"))


def column_ids(lang: str) -> dict[str, str]:
    """Header -> column id for every column the catalogue names (headers in ``lang``)."""
    words = text.TEXT[lang]
    bases = [k[4:] for k in words if k.startswith("csv_") and not k.startswith("csv_suffix_")]
    ids = [*bases, *(f"{b}_{s}" for b in bases for s in brief_module.CSV_SUFFIXES)]
    ids += [f"share_{year}" for year in range(2000, 2100)]
    return {brief_module.csv_header(i, lang): i for i in ids}


def designs(ds):
    return measures.variants(ds)


# --------------------------------------------------------------------------- text and measures


def test_both_languages_have_the_same_templates():
    assert set(text.TEXT["zh"]) == set(text.TEXT["en"])

    def fields(template):
        return sorted(set(re.findall(r"{(\w+)", template)))

    for key in text.TEXT["en"]:
        assert fields(text.TEXT["zh"][key]) == fields(text.TEXT["en"][key]), key


def test_likelihood_language_is_ordered():
    assert text.likelihood(1.0) == "virtually_certain"
    assert text.likelihood(0.7) == "likely"
    assert text.likelihood(0.5) == "about_as_likely_as_not"
    assert text.likelihood(0.0) == "exceptionally_unlikely"


def test_likelihood_words_follow_the_interval_not_the_point():
    # one band for the whole interval: one word; across bands: the span; no interval: point
    assert text.likelihood_words(0.8, 0.7, 0.85, "en") == "likely"
    assert text.likelihood_words(0.8, 0.5, 0.95, "en") == "about as likely as not to very likely"
    assert text.likelihood_words(0.8, 0.5, 0.95, "zh") == "或许可能（约一半）至很可能"
    assert text.likelihood_words(0.8, float("nan"), float("nan"), "en") == "likely"


def _target_rows(*intervals):
    rows = [
        {
            "design": "d",
            "target": f"t{i}",
            "label": f"target {i}",
            "metric": "borrowers",
            "kind": "flow",
            "from_year": 2021,
            "to_year": 2023,
            "value": 1.0,
            "attainment_mean": 1.0,
            "attainment_p05": 0.9,
            "attainment_p95": 1.1,
            "probability": p,
            "probability_ci_low": low,
            "probability_ci_high": high,
            "probability_ci_method": "wilson",
            "probability_ci_approximate": False,
            "likelihood": text.likelihood(p),
        }
        for i, (p, low, high) in enumerate(intervals)
    ]
    return pd.DataFrame(rows, columns=tables.TARGET_COLUMNS)


def test_brief_calls_a_target_likely_only_when_its_whole_interval_is():
    """P = 70% with an interval of 40-90% is not "likely": the run cannot tell it from 66%."""
    targets = _target_rows((0.9, 0.85, 0.95), (0.7, 0.4, 0.9), (0.2, 0.1, 0.3))
    blocks = brief_module._target_blocks(xr.Dataset(), {"targets": targets}, "en")
    summary = next(b for b in blocks if b[0] == "ul")[1][0]
    likely, rest = summary.split("Not likely:")
    not_likely, undecided = rest.split("Cannot be told apart")
    assert "t0" in likely and "t1" not in likely
    assert "t2" in not_likely and "t1" not in not_likely
    assert "t1" in undecided
    lines = next(b for b in blocks[2:] if b[0] == "ul")[1]
    assert "about as likely as not to very likely" in lines[1]


def test_tail_allocation_adds_up_to_expected_shortfall(datasets):
    ds = datasets["run"]
    total = ds["loss"].sum(["year", "party"])
    tail = tail_allocation(ds, 0.99)
    assert np.isclose(float(tail.sum()), float(expected_shortfall(total, 0.99)), rtol=1e-12)


def test_exceedance_curve_is_the_share_of_paths_above(datasets):
    losses = datasets["run"]["loss"].sum("year").sel(party="guarantor")
    curve = exceedance_curve(losses)
    x = float(curve.threshold[len(curve) // 2])
    assert float(curve.sel(threshold=x)) == pytest.approx(float((losses > x).mean()))
    assert np.all(np.diff(curve.values) <= 0)


def test_wilson_interval_contains_the_estimate():
    low, high = wilson_interval(0.3, 100)
    assert 0.0 < low < 0.3 < high < 1.0
    assert wilson_interval(1.0, 40)[1] == 1.0


# --------------------------------------------------------------------------- plots

PLOTS = {
    "fan_chart": lambda ds, ax: reporting.fan_chart(ds, "capital", ax, party="guarantor"),
    "fan_chart_sum": lambda ds, ax: reporting.fan_chart(ds, "credit_loss", ax),
    "loss_by_party": reporting.loss_by_party,
    "exceedance_curves": reporting.exceedance_curves,
    "target_probabilities": reporting.target_probabilities,
    "capital_paths": reporting.capital_paths,
}


@pytest.mark.parametrize("kind", ["run", "compare"])
@pytest.mark.parametrize("draw", list(PLOTS.values()), ids=list(PLOTS))
def test_plot_draws_on_the_axes_it_is_given(datasets, kind, draw):
    ax = axes()
    before = len(ax.get_children())
    assert not ax.has_data()
    returned = draw(datasets[kind], ax)
    assert returned is ax
    assert ax.has_data()
    assert len(ax.get_children()) > before
    assert ax.get_title()


def test_scenario_comparison_draws_its_panels_into_the_axes(datasets):
    ax = axes()
    returned = reporting.scenario_comparison(datasets["compare"], ax, lang="en")
    assert returned is ax
    assert len(ax.child_axes) == 4
    assert all(child.has_data() for child in ax.child_axes)
    with pytest.raises(ValueError, match="scenario"):
        reporting.scenario_comparison(datasets["run"], axes())


def test_plot_without_axes_writes_a_png(datasets, tmp_path):
    ax = reporting.loss_by_party(datasets["run"], lang="en")
    path = tmp_path / "loss.png"
    ax.figure.savefig(path)
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_MAGIC)


def _texts(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def test_chinese_labels_use_a_cjk_font(datasets):
    font = fonts.cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
    ds = datasets["run"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", fonts.CJKFontWarning)
        ax = reporting.loss_by_party(ds, axes(), lang="zh")
    labels = _texts(ax)
    assert str(ds.party_label.sel(party="guarantor").item()) in labels
    legend_text = ax.get_legend().get_texts()[0]
    assert legend_text.get_fontfamily()[0] == font
    assert ax.get_xticklabels()[0].get_fontfamily()[0] == font


def test_without_a_cjk_font_it_warns_and_uses_english(datasets, monkeypatch):
    monkeypatch.setattr(fonts, "cjk_font", lambda: None)
    ds = datasets["run"]
    with pytest.warns(fonts.CJKFontWarning, match="fonts-noto-cjk"):
        ax = reporting.loss_by_party(ds, axes(), lang="zh")
    labels = _texts(ax)
    assert "guarantor" in labels and "bank" in labels
    assert not any(str(label) in labels for label in ds.party_label.values)
    assert "Loss over the run" in ax.get_title()


def test_bad_language_is_refused(datasets):
    with pytest.raises(ValueError, match="zh, en"):
        reporting.loss_by_party(datasets["run"], axes(), lang="fr")


# --------------------------------------------------------------------------- the brief


def check_pool_risks(risks, name, v):
    """Each pool's two events, each its own row (the brief's ``risks`` table)."""

    def close(a, b):
        return np.isclose(a, b, rtol=1e-12, atol=0, equal_nan=True)

    for pool, p in depletion_probability(v).to_series().items():
        assert close(risks.loc[(name, pool, "pool_depleted")].probability, p)
    for pool, p in breaker_probability(v).to_series().items():
        if p > 0:  # a breaker that never trips gets no row
            assert close(risks.loc[(name, pool, "pool_breaker")].probability, p)


@pytest.mark.parametrize("kind,lang", CASES)
@pytest.mark.slow
def test_brief_tables_equal_the_metrics(briefs, datasets, kind, lang):
    folder, ds = briefs[kind, lang], datasets[kind]
    losses = csv(folder, "losses").set_index(["design", "party"])
    targets = csv(folder, "targets").set_index(["design", "target"])
    costs = csv(folder, "costs").set_index("design")
    risks = csv(folder, "risks").set_index(["design", "party", "risk"])
    years = csv(folder, "years").set_index(["design", "year"])

    def close(a, b):
        return np.isclose(a, b, rtol=1e-12, atol=0, equal_nan=True)

    assert len(costs) == len(designs(ds))
    for name, v in designs(ds):
        summary = loss_summary(v)
        for party in v.party.values:
            row = losses.loc[(name, party)]
            for column, level in (
                ("mean", 0),
                ("var_99", 0.99),
                ("var_99_9", 0.999),
                ("es_99", 0.99),
            ):
                # a tail from fewer than 10 paths beyond its quantile is not printed
                shown = tables.tail_shown(v.sizes["path"], level)
                expected = float(summary[column].sel(party=party)) if shown else np.nan
                assert close(row[column], expected), column
            run_loss = v["loss"].sum("year").sel(party=party)
            assert row.mean_ci_low <= row["mean"] <= row.mean_ci_high
            assert close(row["mean"], float(run_loss.mean()))
        for target in v.target.values:
            row = targets.loc[(name, target)]
            assert close(row.probability, float(v.target_probability.sel(target=target)))
            assert close(
                row.attainment_mean, float(v.target_attainment.sel(target=target).mean("path"))
            )
            assert close(row.value, float(v.target_value.sel(target=target)))
        cost = costs.loc[name]
        assert close(cost.fiscal_cost_mean, float(v.fiscal_cost.sum("year").mean("path")))
        assert close(cost.public_loss_mean, float(v.public_loss.sum("year").mean("path")))
        assert close(cost.fiscal_cost_per_100m_lending, float(fiscal_cost_per_lending(v)))
        assert close(cost.fiscal_cost_per_first_time_borrower, float(fiscal_cost_per_borrower(v)))
        if "additional_borrowers" in v:
            assert close(cost.additional_borrowers_mean, float(v.additional_borrowers.mean("path")))
            assert close(
                cost.fiscal_cost_per_additional_borrower,
                float(v.fiscal_cost_per_additional_borrower),
            )
        check_pool_risks(risks, name, v)
        for g, p in insolvency_probability(v).to_series().items():
            assert close(risks.loc[(name, g, "insolvency")].probability, p)
        if "public_cost" in v:  # the public-cost table is public_cost_pv's numbers
            pv = public_cost_pv(v)
            row = csv(folder, "public_cost").set_index("design").loc[name]
            assert close(row.public_cost_pv_mean, float(pv.public_cost.mean("path")))
            assert close(row.subsidy_rate, float(pv.subsidy_rate))
        for column, values in yearly_summary(v).reset_coords(drop=True).data_vars.items():
            for year in v.year.values:
                assert close(years.loc[(name, year), column], float(values.sel(year=year)))


@pytest.mark.slow
def test_comparison_brief_has_the_additionality_numbers(briefs, datasets):
    costs = csv(briefs["compare", "en"], "costs").set_index("design")
    ds = datasets["compare"]
    assert set(costs.index) == {"baseline", "fee_0_5pct", "no_scheme"}
    assert costs.loc["no_scheme", "additional_borrowers_mean"] == 0
    assert costs.loc["baseline", "additional_borrowers_mean"] > 0
    extra = ds.fiscal_cost.sum("year") - ds.fiscal_cost.sum("year").sel(scenario="no_scheme")
    expected = float(
        extra.sel(scenario="baseline").mean("path")
        / ds.additional_lending.sel(scenario="baseline").mean("path")
        * 1e8
    )
    assert np.isclose(
        costs.loc["baseline", "extra_fiscal_cost_per_100m_additional_lending"], expected, rtol=1e-12
    )


@pytest.mark.parametrize("kind,lang", CASES)
@pytest.mark.slow
def test_brief_text_quotes_the_metrics(briefs, datasets, kind, lang):
    folder, ds = briefs[kind, lang], datasets[kind]
    md = (folder / "brief.md").read_text(encoding="utf-8")
    page = (folder / "brief.html").read_text(encoding="utf-8")
    page_text = html.unescape(page)
    for name, v in designs(ds):
        expected = [
            numbers.money(float(loss_summary(v)["mean"].sel(party="guarantor")), lang),
            numbers.pct(float(v.target_probability.isel(target=0))),
            numbers.yuan(float(fiscal_cost_per_lending(v)), lang),
            numbers.yuan(float(fiscal_cost_per_borrower(v)), lang),
            numbers.pct(float(depletion_probability(v).sel(party="gov_pool"))),
            numbers.money(float(v.fiscal_cost.sum("year").mean("path")), lang),
        ]
        if "additional_borrowers" in v and name != ds.attrs["counterfactual"]:
            expected.append(numbers.yuan(float(v.fiscal_cost_per_additional_borrower), lang))
            expected.append(numbers.count(float(v.additional_borrowers.mean("path"))))
        var_99 = numbers.money(float(loss_summary(v)["var_99"].sel(party="guarantor")), lang)
        if tables.tail_shown(v.sizes["path"], 0.99):
            expected.append(var_99)
        else:  # too few paths beyond the 99% quantile: not printed anywhere
            assert var_99 not in md and var_99 not in page_text
        for value in expected:
            assert value in md, (name, value)
            assert value in page_text, (name, value)
    spec = measures.scenario_info(ds)
    for source in spec["sources"]:
        assert source in md
    # the scenario's description and the experiment's question are in English: quoted in
    # the English brief; the Chinese one says where the description is and asks in Chinese
    if lang == "en":
        assert " ".join(spec["description"].split()) in md
    else:
        assert text.t(lang, "description_foreign", name=spec["label"]) in md
    assert text.TEXT[lang]["h_uncertainty"] in md
    assert text.TEXT[lang]["h_public_cost"] in md  # the section, or what the results lack
    assert ("parameter uncertainty" if lang == "en" else "参数不确定性") in md
    if kind == "compare":
        question = ds.attrs["question"].strip()
        assert (question in md) == (lang == "en")
        for name in labels.design_names(ds, lang).values():
            assert f"**{name}**" in md


class _Page(HTMLParser):
    VOID = frozenset({"meta", "img", "br", "hr", "link", "input"})

    def __init__(self):
        super().__init__()
        self.stack, self.images, self.errors = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


@pytest.mark.parametrize("kind,lang", CASES)
@pytest.mark.slow
def test_html_is_self_contained_with_every_figure(briefs, kind, lang):
    folder = briefs[kind, lang]
    parser = _Page()
    parser.feed((folder / "brief.html").read_text(encoding="utf-8"))
    parser.close()
    assert not parser.errors and not parser.stack
    pngs = sorted((folder / "figures").glob("*.png"))
    md = (folder / "brief.md").read_text(encoding="utf-8")
    assert len(pngs) >= 5 + (kind == "compare")
    assert len(parser.images) == len(pngs) == md.count("](figures/")
    prefix = "data:image/png;base64,"
    for src in parser.images:
        assert src.startswith(prefix)
        assert base64.b64decode(src[len(prefix) :]).startswith(PNG_MAGIC)
    for png in pngs:
        data = png.read_bytes()
        assert len(data) > 1000 and data.startswith(PNG_MAGIC)
        assert f"](figures/{png.name})" in md


@pytest.mark.slow
def test_brief_languages_differ(briefs):
    zh = (briefs["run", "zh"] / "brief.md").read_text(encoding="utf-8")
    en = (briefs["run", "en"] / "brief.md").read_text(encoding="utf-8")
    assert "政策简报" in zh and "万元" in zh
    assert "Policy brief" in en and "CNY" in en and "政策简报" not in en


@pytest.mark.slow  # writes a brief with its figures
def test_brief_replaces_an_existing_folder_atomically(datasets, tmp_path):
    out = tmp_path / "brief"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    (out / "brief.md").write_text("stale")
    written = reporting.write_brief(datasets["run"], out, lang="en")
    assert (out / "notes.txt").read_text() == "keep me"
    assert written["markdown"].read_text(encoding="utf-8").startswith("# Policy brief")
    assert [p.name for p in tmp_path.iterdir()] == ["brief"]  # no temporary folder left
    with pytest.raises(ValueError, match="not a guarantee_sim results file"):
        reporting.write_brief(datasets["run"][["loss"]], tmp_path / "other", lang="en")
    assert not (tmp_path / "other").exists()


@pytest.mark.slow  # writes a brief with its figures
def test_brief_folder_has_a_shared_mode_and_a_failure_leaves_nothing(
    datasets, tmp_path, monkeypatch
):
    """mkdtemp's private 0700 must not stick to the brief's folder; a brief that fails
    while being written leaves no temporary folder behind."""
    umask = os.umask(0o027)
    try:
        written = reporting.write_brief(datasets["run"], tmp_path / "brief", lang="en")
    finally:
        os.umask(umask)
    assert (tmp_path / "brief").stat().st_mode & 0o777 == 0o750
    assert written["html"].stat().st_mode & 0o777 == 0o640

    def render_html(brief, context=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(brief_module, "render_html", render_html)
    with pytest.raises(OSError, match="No space left"):
        reporting.write_brief(datasets["run"], tmp_path / "other", lang="en")
    assert [p.name for p in tmp_path.iterdir()] == ["brief"]


def test_cli_brief_mistakes_exit_2(files, tmp_path, capsys):
    out = tmp_path / "out"
    rc, _, err = run_main("brief", tmp_path / "missing.nc", "--out", out)
    assert rc == 2 and "no such results file" in err
    junk = tmp_path / "junk.nc"
    junk.write_text("not netcdf")
    rc, _, err = run_main("brief", junk, "--out", out)
    assert rc == 2 and "not a readable results file" in err
    other = tmp_path / "other.nc"
    xr.Dataset({"x": ("i", [1.0])}).to_netcdf(other, engine="h5netcdf")
    rc, _, err = run_main("brief", other, "--out", out)
    assert rc == 2 and "not a guarantee_sim results file" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["brief", str(files["run"]), "--lang", "fr", "--out", str(out)])
    assert exit_info.value.code == 2
    assert "invalid choice: 'fr'" in capsys.readouterr().err
    assert not out.exists()


# --------------------------------------------------------------------------- notebook


@pytest.mark.slow
def test_explore_notebook_executes():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=240,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    images = [
        o
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "display_data" and "image/png" in o.get("data", {})
    ]
    assert len(images) >= 3


# --------------------------------------------------------------------------- honest words


def test_a_small_run_is_marked_preliminary_and_prints_no_tail_figure(datasets):
    """Below 1,000 paths a brief opens with a "preliminary" banner, and a 99% tail figure
    from fewer than 10 paths beyond the quantile is not printed (20 paths printed VaR 99.9%)."""
    ds = datasets["run"]
    assert ds.sizes["path"] < 1000
    brief = brief_module.build_brief(ds, "en")
    # the banner comes right under the title, above the findings
    assert brief.blocks[1][0] == "quote" and "Preliminary" in brief.blocks[1][1]
    losses = brief.tables["losses"]
    assert losses[["var_99", "var_99_9", "es_99", "tail_99"]].isna().all().all()
    assert losses["mean"].notna().all()
    zh = brief_module.build_brief(ds, "zh")
    assert "初步结果" in zh.blocks[1][1]
    assert not any("百年一遇" in str(b) for b in zh.blocks)


def test_tail_figures_need_ten_paths_beyond_their_quantile():
    assert tables.tail_shown(1000, 0.99) and not tables.tail_shown(999, 0.99)
    assert tables.tail_shown(10_000, 0.999) and not tables.tail_shown(9_999, 0.999)


def test_a_large_enough_run_has_no_banner_and_keeps_its_tails(datasets, monkeypatch):
    """The same run with the thresholds lowered to its size: no banner, the 99% tail shown
    (0.4 paths beyond it at 40 paths), the 99.9% one still not."""
    monkeypatch.setattr(brief_module, "PRELIMINARY_PATHS", PATHS)
    monkeypatch.setattr(tables, "MIN_TAIL_PATHS", PATHS * 0.01)
    brief = brief_module.build_brief(datasets["run"], "en")
    assert not any(b[0] == "quote" and "Preliminary" in b[1] for b in brief.blocks)
    losses = brief.tables["losses"]
    assert losses["var_99"].notna().all() and losses["var_99_9"].isna().all()


def test_the_brief_says_what_varies_and_what_is_fixed(datasets):
    """The uncertainty section names what varies from path to path in *these* results (it
    said parameter uncertainty was never covered, after parameters could be drawn)."""
    ds = datasets["run"]  # the county scenario: demand follows the cycle, 15 keys drawn
    text_en = " ".join(b[1] for b in brief_module.build_brief(ds, "en").blocks if b[0] == "p")
    assert "new lending (it follows the credit cycle)" in text_en
    assert "15 parameters drawn per path: PD levels, loss rates (LGD), recovery lags" in text_en
    assert "do **not** cover default rates" not in text_en
    fixed = " ".join(
        b[1] for b in brief_module._uncertainty_blocks(ds.drop_dims("parameter"), "en", 40)
    )
    assert "do **not** cover default rates, loss rates and correlations" in fixed
    drawn = ds.drop_dims("parameter").assign_coords(
        parameter=["segments.sme.pd.mean"], parameter_drawn_per=("parameter", ["path"])
    )
    text_zh = " ".join(b[1] for b in brief_module._uncertainty_blocks(drawn, "zh", 40))
    assert "每条路径抽样的 1 个参数：违约概率水平" in text_zh
    assert "segments." not in text_zh and "不包括" not in text_zh


def test_the_brief_opens_with_its_findings_and_ends_with_its_method(datasets):
    """Findings first (under the title and any banner), the question after them; what the
    intervals cover, the assumptions and the provenance at the end."""
    for lang, first, method in (("zh", "主要发现", "不确定性的含义"), ("en", "Findings", None)):
        brief = brief_module.build_brief(datasets["run"], lang)
        heads = [b[1] for b in brief.blocks if b[0] == "h2"]
        assert heads[0] == first
        assert heads[-3:] == [
            brief_module.t(lang, "h_uncertainty"),
            brief_module.t(lang, "h_assumptions"),
            brief_module.t(lang, "h_tables"),
        ]
        assert method is None or method in heads
        findings = brief.blocks[[b[1] for b in brief.blocks].index(first) + 1][1]
        assert 1 <= len(findings) <= 5
        assert all(brief_module.t(lang, "ci") in item for item in findings)


#: what a Chinese brief may carry in Latin letters: units and measures a Chinese reader
#: knows (CNY, VaR, ES, LPR, R², the t distribution, P(...) and x in a formula), file
#: names and their format (CSV)
ZH_ALLOWED = {"CNY", "VaR", "ES", "LPR", "R", "t", "x", "P", "CSV"}
#: the tags a scenario file writes its sources with, named where the brief quotes them
ZH_ALLOWED |= {"PARAM", "ASSUMPTION", "DESIGN"}
_LATIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FILE = re.compile(r"[\w./-]+\.(?:nc|csv|png)|tables/|figures/")


def _brief_strings(brief) -> list[str]:
    """Every string a reader sees, except the scenario's sources and the table of its
    numbers' sources (keys of the file and its comments, cited verbatim)."""
    out, skip = [], False
    quoted = [text.t(brief.lang, "col_key"), text.t(brief.lang, "col_source")]
    for block in brief.blocks:
        if block[0] == "table" and list(block[1]) == quoted:
            continue
        if skip and block[0] == "ul":
            skip = False
            continue
        skip = block[0] == "p" and block[1] == text.t(brief.lang, "sources")
        if block[0] == "ul":
            out += block[1]
        elif block[0] == "table":
            out += [*block[1], *(str(c) for row in block[2] for c in row), block[3]]
        elif block[0] == "figure":
            out.append(brief.figures[block[1]][1])
        else:
            out.append(block[1])
    return out


def test_the_chinese_brief_has_no_internal_ids_or_english(datasets):
    """Designs, parties, schemes, segments and levers by their labels: no identifier with an
    underscore and no English word outside a small allow-list, in the brief of the shipped
    scenario and in that of a comparison (``fee_0_5pct`` was printed as it is)."""
    for kind in ("run", "compare"):
        brief = brief_module.build_brief(datasets[kind], "zh", source=f"{kind}.nc")
        for line in _brief_strings(brief):
            words = set(_LATIN.findall(_FILE.sub("", str(line)))) - ZH_ALLOWED
            assert not words, (kind, words, line)
    compare = brief_module.build_brief(datasets["compare"], "zh")
    seen = "\n".join(_brief_strings(compare))
    assert "县政府性融资担保公司担保费率 0.5%" in seen  # fee_0_5pct by its lever
    # the 20/20/20/40 split as shares of the whole loss
    assert (
        "国家融资担保基金 20% / 省再担保集团 20% / 县政府性融资担保公司 40% / 合作银行 20%" in seen
    )


def test_the_english_brief_has_no_internal_ids(datasets):
    """No identifier with an underscore in what an English reader sees (issue 12 §1):
    parties, schemes, segments, targets, designs and the experiment by their ids in words
    (``national_fund`` -> national fund), a variant by what it changes (``fee_0_5pct`` ->
    guarantor fee rate 0.5%); the file names and the quoted sources keep theirs."""
    for kind in ("run", "compare"):
        brief = brief_module.build_brief(datasets[kind], "en", source=f"{kind}.nc")
        for line in _brief_strings(brief):
            ids = [w for w in _LATIN.findall(_FILE.sub("", str(line))) if "_" in w]
            assert not ids, (kind, ids, line)
    seen = "\n".join(_brief_strings(brief_module.build_brief(datasets["compare"], "en")))
    assert "guarantor fee rate 0.5%" in seen
    assert "national fund 20% / provincial 20% / guarantor 40% / bank 20%" in seen


def test_the_brief_quotes_each_numbers_source_by_key(datasets):
    """Sources travel (issue 12 §1): the file's tagged comments reach the brief, key by
    key, in both languages."""
    ds = datasets["run"]
    given = json.loads(ds.attrs["value_sources"])
    assert given
    for lang in ("zh", "en"):
        brief = brief_module.build_brief(ds, lang)
        header = [text.t(lang, "col_key"), text.t(lang, "col_source")]
        (table,) = [b for b in brief.blocks if b[0] == "table" and list(b[1]) == header]
        assert {row[0]: row[1] for row in table[2]} == given
        assert table[2][0][0] in brief_module.render_markdown(brief)


def test_the_comparison_brief_has_paired_differences_from_the_baseline(datasets):
    """(design - baseline) for the headline measures with paired 95% intervals: a fee cut
    raises the public cost on every path by the fee income lost (common random numbers),
    so its difference is known in sign; the CSV keeps the ids, the text the labels."""
    ds = datasets["compare"]
    brief = brief_module.build_brief(ds, "zh")
    diffs = brief.tables["differences"].set_index(["design", "measure"])
    row = diffs.loc[("fee_0_5pct", "public_cost_pv")]
    base, cut = (
        public_cost_pv(ds.sel(scenario=s))["public_cost"] for s in ("baseline", "fee_0_5pct")
    )
    assert row.difference == pytest.approx(float((cut - base).mean("path")))
    assert row.difference > 0 and row.difference_ci_low > 0  # paired: the sign is known
    # paired, the interval is far narrower than the spread of either design over the paths
    assert row.difference_ci_high - row.difference_ci_low < float(base.std("path")) / 10
    heads = [b[1] for b in brief.blocks if b[0] == "h2"]
    assert text.t("zh", "h_differences") in heads
    table = next(b for b in brief.blocks if b[0] == "table" and "差值（本方案 − 基准方案）" in b[1])
    assert any(
        r[0] == "县政府性融资担保公司担保费率 0.5%" and r[1] == "公共成本（现值）" for r in table[2]
    )


def test_a_comparisons_exceedance_is_one_panel_per_party(datasets):
    """Small multiples: a panel per party, one line per design (at most MAX_LINES) in its
    own style, the legend outside the panels (it was parties x designs on one axes)."""
    from guarantee_sim.reporting import plots

    ds = datasets["compare"]
    parties = ["guarantor", "gov_pool"]
    ax = plots.exceedance_panels(ds, lang="en", parties=parties)
    panels = [a for a in ax.figure.axes if a.axison]
    assert [a.get_title() for a in panels] == ["guarantor", "gov pool"]  # ids in words
    for a in panels:
        curves = [line for line in a.get_lines() if len(line.get_xdata()) > 2]
        assert len(curves) == ds.sizes["scenario"] <= plots.MAX_LINES
        styles = {(line.get_color(), line.get_linestyle()) for line in curves}
        assert len(styles) == len(curves)
        assert a.get_legend() is None
    assert len(ax.figure.legends) == 1


@pytest.mark.parametrize("kind,lang", CASES)
def test_each_money_quantity_has_one_unit_in_text_tables_and_axes(datasets, kind, lang):
    """One unit per quantity (issue 12 §1): a party's loss, the fiscal cost and the public
    cost each in one unit, chosen by its size, in the sentences, the table header and the
    figure axis alike; the guarantor's capital in the risk text and on the capital axis."""
    from guarantee_sim.reporting.numbers import money_unit

    ds = datasets[kind]
    drawn: list = []  # every axes of every figure the brief draws
    original = brief_module._png

    def png(ax):
        drawn.extend(a for top in ax.figure.axes for a in [top, *top.child_axes])
        return original(ax)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(brief_module, "_png", png)
        brief = brief_module.build_brief(ds, lang)
    labels = [s for a in drawn for s in (a.get_xlabel(), a.get_ylabel(), a.get_title())]
    shown = tables.all_tables(ds)
    lines = [str(x) for b in brief.blocks if b[0] in ("p", "ul") for x in _as_list(b[1])]
    headers = [h for b in brief.blocks if b[0] == "table" for h in b[1]]

    def said(x, unit) -> bool:  # a sum written in ``unit`` somewhere in the text
        return any(text.t(lang, unit.template, value=unit.number(x)) in line for line in lines)

    losses = shown["losses"]
    columns = ["mean", "mean_ci_low", "mean_ci_high", "var_99", "var_99_9", "es_99", "tail_99"]
    loss = money_unit(losses[columns], lang)  # the table's columns: one quantity
    assert f"{text.t(lang, 'col_mean')} ({loss.name})" in headers
    assert text.t(lang, "fig_loss_ylabel", unit=loss.name) in labels
    exceedance = text.t(lang, "fig_exceed_xlabel", unit=loss.name)
    assert (loss.name if kind == "compare" else exceedance) in labels  # panels: the unit
    guarantor = losses[losses.kind == "guarantor"].iloc[0]
    assert said(guarantor["mean"], loss)

    costs = shown["costs"]
    fiscal = money_unit(costs["fiscal_cost_mean"], lang)
    assert f"{text.t(lang, 'col_fiscal')} ({fiscal.name})" in headers
    assert all(said(x, fiscal) for x in costs["fiscal_cost_mean"])
    if kind == "compare":
        assert text.t(lang, "fig_compare_fiscal", unit=fiscal.name) in labels

    public = shown["public_cost"]
    pv = money_unit(public[["public_cost_pv_ci_high", "fiscal_cost_pv_mean"]], lang)
    assert f"{text.t(lang, 'col_public_cost_pv')} ({pv.name})" in headers
    assert all(said(x, pv) for x in public["public_cost_pv_mean"])

    holders = measures.capital_holders(measures.variants(ds)[0][1])
    capital = money_unit(
        [v["capital"].sel(party=holders).values for _, v in measures.variants(ds)], lang
    )
    assert text.t(lang, "fig_capital_ylabel", unit=capital.name) in labels
    risks = shown["risks"]
    insolvency = risks[risks.risk == "insolvency"]
    assert all(said(x, capital) for x in insolvency["lowest_mean"])


def _as_list(x) -> list:
    return list(x) if isinstance(x, list) else [x]


def test_an_importance_sampled_run_says_so_with_its_effective_sample_size(datasets):
    """A run with likelihood-ratio weights (``path_weight``) says it used importance
    sampling beside the findings and in the method, with (sum w)^2 / sum w^2 worked out
    by hand; weights of one are a plain run and say nothing."""
    ds = datasets["run"]
    n = ds.sizes["path"]
    weights = np.where(np.arange(n) % 4 == 0, 2.5, 0.5)  # a quarter of the paths weigh 5x
    ess = weights.sum() ** 2 / (weights**2).sum()
    assert n == 40 and ess == pytest.approx(40**2 / (10 * 2.5**2 + 30 * 0.5**2))  # 22.9
    weighted = ds.assign(
        path_weight=("path", weights, {"units": "1", "long_name": "likelihood ratio"})
    )
    for lang in ("zh", "en"):
        brief = brief_module.build_brief(weighted, lang)
        paragraphs = [b[1] for b in brief.blocks if b[0] == "p"]
        expected = numbers.count(ess, lang)
        note = text.t(
            lang, "importance_note", ess=expected, paths=n, section=text.t(lang, "h_uncertainty")
        )
        method = text.t(lang, "importance_method", ess=expected, paths=n)
        assert note in paragraphs and method in paragraphs
        at = brief.method_at
        assert note in [b[1] for b in brief.blocks[:at]]  # beside the findings
        assert method in [b[1] for b in brief.blocks[at:]]  # in the method
        assert text.t(lang, "preliminary_ess", ess=round(ess)) in brief.blocks[1][1]
    plain = ds.assign(path_weight=("path", np.ones(n), {"units": "1", "long_name": "w"}))
    for other in (ds, plain):
        assert measures.effective_sample_size(other) == []
        for where in ("note", "method"):
            assert brief_module._importance_blocks(other, "en", where) == []


def test_the_csv_headers_are_in_the_briefs_language(datasets, tmp_path):
    """A Chinese brief's CSV tables have Chinese headers (each column its own), an English
    brief's keep the column ids; the numbers are the same (issue 12 §1)."""
    ds = datasets["compare"]
    shown = tables.all_tables(ds)
    shown["differences"] = brief_module.difference_table(ds)
    for lang in ("zh", "en"):
        brief = brief_module.Brief(lang, "", [("p", "x")], {}, shown)
        brief_module._write_files(brief, tmp_path / lang)
        for name, table in shown.items():
            path = tmp_path / lang / "tables" / f"{name}.csv"
            written = pd.read_csv(path, encoding="utf-8-sig")
            if lang == "en":
                assert list(written.columns) == list(table.columns)
                continue
            assert len(set(written.columns)) == len(table.columns)
            for header in written.columns:  # Chinese words, no id left
                assert _CJK.search(header) and "_" not in header, (name, header)
            back = written.rename(columns=column_ids("zh"))
            assert list(back.columns) == list(table.columns)
            numbers_ = table.select_dtypes("number").columns
            pd.testing.assert_frame_equal(back[numbers_], table[numbers_], check_dtype=False)


_CJK = re.compile(r"[\u4e00-\u9fff]")


def test_a_comparisons_capital_and_yearly_figures_are_small_multiples(datasets):
    """Capital: a panel per guarantor or pool, one median per design in its own style;
    public loss by year: a panel per design. At most MAX_LINES lines a panel, no legend on
    the data, one legend below the panels (issue 12 §1: they drew every design on one
    axes)."""
    from guarantee_sim.reporting import plots

    ds = datasets["compare"]
    n = ds.sizes["scenario"]
    holders = measures.capital_holders(measures.variants(ds)[0][1])
    ax = plots.capital_panels(ds, lang="en")
    panels = [a for a in ax.figure.axes if a.axison]
    assert [a.get_title() for a in panels] == [labels.words(h) for h in holders]
    for a in panels:
        medians = [line for line in a.get_lines() if len(line.get_xdata()) > 2]
        assert len(medians) == n <= plots.MAX_LINES
        assert len({(m.get_color(), m.get_linestyle()) for m in medians}) == n
        assert a.get_legend() is None
    assert len(ax.figure.legends) == 1

    ax = plots.fan_panels(ds, "public_loss", lang="en")
    panels = [a for a in ax.figure.axes if a.axison]
    assert [a.get_title() for a in panels] == list(ds.scenario.values)
    for k, a in enumerate(panels):
        assert len(a.get_lines()) == (1 if k == 0 else 2) <= plots.MAX_LINES  # + the first's
        assert a.get_legend() is None
    assert len(ax.figure.legends) == 1


def test_english_title_writes_a_period_of_years_with_a_dash(datasets):
    """An id like ``hangzhou_2021_2023`` is a place and a period, not a 2021/2023 split."""
    ds = datasets["run"].copy()
    ds.attrs["scenario"] = "hangzhou_2021_2023"
    assert reporting.build_brief(ds, "en").title == "Policy brief: Hangzhou 2021–2023"


def test_interval_methods_are_written_in_chinese():
    """Every form of method name the results give reads in Chinese in a zh brief: a mean,
    a share and a paired difference at each clustering, and a tail's bootstrap."""
    import xarray as xr

    from guarantee_sim.reporting.methods import method_words
    from guarantee_sim.results import intervals

    values = xr.DataArray([1.0, 2.0, 3.0, 5.0, 4.0, 6.0], dims="path")
    books = values.assign_coords(replica=("path", [0, 1, 2, 0, 1, 2]))
    overlap = [[0, 0, 1, 1, 2, 2], [0, 1, 1, 2, 2, 0]]  # two variants' books chain them all
    methods = []
    for v, clusters in ((values, None), (books, None), (values, overlap)):
        methods.append(intervals.mean_interval(v, clusters=clusters).attrs["method"])
        methods.append(intervals.probability_interval(v > 2, clusters=clusters).attrs["method"])
        methods.append(intervals.difference_interval(v, v * 2, clusters=clusters).attrs["method"])
        var = intervals.tail_interval(v, 0.99, "var", clusters=clusters).attrs["method"]
        es = intervals.tail_interval(v, 0.99, "es", clusters=clusters).attrs["method"]
        methods.append(f"{var}; {es}")
    for method in methods:
        zh = method_words(method, "zh")
        left = re.sub(r"CR1|VaR|ES|Wilson|\bt\b", "", zh)  # names kept in any language
        assert not re.search(r"[A-Za-z]{2,}", left), (method, zh)
        assert method_words(method, "en") == method
    assert "在险价值（99%）" in method_words(methods[3], "zh")
    assert method_words("a method not known here", "zh") == "a method not known here"


@pytest.mark.slow
def test_chinese_brief_tables_give_their_methods_in_chinese(briefs):
    for name in ("losses", "targets"):
        table = (briefs["run", "zh"] / "tables" / f"{name}.csv").read_text(encoding="utf-8-sig")
        assert "置信区间方法" in table
        assert "cluster-robust" not in table and "independent paths" not in table
