"""Names a reader knows: designs by their levers or labels, splits as shares of the loss."""

from __future__ import annotations

import json

import xarray as xr

from guarantee_sim.reporting.labels import design_names, labelled, lever_words, whole_loss_split


def _comparison() -> xr.Dataset:
    parties = ["bank", "guarantor", "provincial", "national_fund", "city"]
    labels = [["银行", "担保公司", "省再担保", "国家基金", ""]] * 2
    labels.append(["银行", "担保公司", "省再担保", "国家基金", "市再担保"])  # added by "renamed"
    overrides = [
        {},
        {"parties.guarantor.fee_rate": 0.005},
        {"schemes.main.label": "银担分险（银行20%）", "parties.city": {"label": "市再担保"}},
    ]
    split = [[0.0, 0.5, 0.25, 0.25, 0.0]]  # of the covered part: national 20/20/20/40
    return xr.Dataset(
        coords={
            "scenario": ["baseline", "fee_0_5pct", "renamed"],
            "party": parties,
            "party_label": (("scenario", "party"), labels),
            "party_kind": ("party", ["bank", "guarantor", "reguarantor", "reguarantor", "x"]),
            "scheme": ["main"],
            "scheme_coverage": (("scenario", "scheme"), [[0.8]] * 3),
            "scheme_split": (("scenario", "scheme", "party"), [split] * 3),
            "variant_overrides": ("scenario", [json.dumps(o) for o in overrides]),
        }
    )


def test_designs_are_named_by_their_label_or_their_levers():
    ds = _comparison()
    assert design_names(ds, "zh") == {
        "baseline": "基准方案",
        "fee_0_5pct": "担保公司担保费率 0.5%",
        "renamed": "银担分险（银行20%）",  # the label its author gave
    }
    assert design_names(ds, "en") == {  # no ids in the English brief either
        "baseline": "base scenario",
        "fee_0_5pct": "guarantor fee rate 0.5%",
        "renamed": "main named '银担分险（银行20%）'; adds city",
    }
    assert lever_words("parties.guarantor.fee_rate", {2021: 0.008, 2022: 0.005}, ds, "zh") == (
        "担保公司担保费率 2021 年起 0.8%、2022 年起 0.5%"
    )
    assert lever_words("segments.a.unknown_key", 3, ds, "zh") == "其他设定调整"


def test_a_split_is_given_as_shares_of_the_whole_loss():
    # 80% covered, split 0.5 / 0.25 / 0.25: 40% / 20% / 20% of the loss, the bank keeps 20%
    assert whole_loss_split(_comparison(), "main", "zh") == (
        "国家基金 20% / 省再担保 20% / 担保公司 40% / 银行 20%"
    )
    assert whole_loss_split(_comparison(), "main", "en") == (
        "national fund 20% / provincial 20% / guarantor 40% / bank 20%"
    )


def test_a_party_a_variant_adds_has_its_label():
    assert labelled(_comparison(), "parties", "city", "zh") == "市再担保"
    assert labelled(_comparison(), "parties", "city", "en") == "city"
