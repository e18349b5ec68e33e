"""Names a reader knows: designs, levers, loss splits and segments by their labels.

Results name things by id (``fee_0_5pct``, ``national_fund``, ``schemes.credit_pool.coverage``);
a brief names them by the scenario's ``label`` fields and, for levers, by a catalogue of the
keys experiments change (``LEVERS``), so that a Chinese brief carries no internal id:
``fee_0_5pct`` becomes "县政府性融资担保公司担保费率 0.5%", a split "national_fund 0.25,
provincial 0.25, guarantor 0.5" under 80% coverage becomes "国家融资担保基金 20% / 省再担保集团
20% / 县政府性融资担保公司 40% / 合作银行 20%" (shares of the whole loss).
"""

from __future__ import annotations

import json
import re

import numpy as np
import xarray as xr

from .numbers import money
from .text import t

#: the last part of an override key -> (catalogue key of its name, how its value is written)
LEVERS = {
    "fee_rate": ("lever_fee_rate", "rate"),
    "coverage": ("lever_coverage", "rate"),
    "split": ("lever_split", "split"),
    "annual_contribution": ("lever_annual_contribution", "money"),
    "capital": ("lever_capital", "money"),
    "net_assets": ("lever_capital", "money"),
    "leverage_cap": ("lever_leverage_cap", "number"),
    "compensation_rate_cap": ("lever_compensation_rate_cap", "rate"),
    "mean": ("lever_pd", "rate"),  # segments.<s>.pd.mean
    "lgd": ("lever_lgd", "rate"),
    "size": ("lever_size", "money"),
    "count_per_year": ("lever_count_per_year", "number"),
}
#: the sections of a scenario whose entries have labels, and the coordinate holding them
_LABELLED = {"parties": "party_label", "schemes": "scheme_label", "segments": "segment_label"}
_DIMS = {"parties": "party", "schemes": "scheme", "segments": "segment"}


def _first(ds: xr.Dataset) -> xr.Dataset:
    return ds.isel(scenario=0) if "scenario" in ds.dims else ds


#: an underscore between two digits, as in a split's id ``national_20_20_20_40``
_BETWEEN_DIGITS = re.compile(r"(?<=\d)_(?=\d)")
#: two calendar years joined by an underscore, as in ``hangzhou_2021_2023``: a period
_YEAR_RANGE = re.compile(r"(?<!\d)((?:19|20)\d\d)_((?:19|20)\d\d)(?!\d)")


def words(name: str) -> str:
    """An id as the English brief writes it: its words, without underscores (scenarios
    label things in Chinese only, and their ids are English words).

    >>> words("national_fund"), words("national_20_20_20_40"), words("gov_pool")
    ('national fund', 'national 20/20/20/40', 'gov pool')
    >>> words("hangzhou_2021_2023")  # two years: a period, with an en dash
    'hangzhou 2021–2023'
    """
    period = _YEAR_RANGE.sub("\\1–\\2", str(name))
    return _BETWEEN_DIGITS.sub("/", period).replace("_", " ")


def named(name: str, label: str, lang: str) -> str:
    """A thing in the brief: its Chinese ``label`` (zh, when it has one), else its id in
    words (:func:`words`)."""
    return label if lang == "zh" and label else words(name)


def labelled(ds: xr.Dataset, section: str, name: str, lang: str) -> str:
    """The label of ``name`` in a scenario ``section`` (parties, schemes, segments) in zh,
    its id in words otherwise (or when it has no label)."""
    coord, dim = _LABELLED.get(section), _DIMS.get(section)
    if lang != "zh" or coord not in ds.coords or name not in ds[dim].values:
        return words(name)
    # in a comparison, the first design that has it (a party a variant adds has no label
    # in the base scenario)
    labels = [str(x) for x in np.atleast_1d(ds[coord].sel({dim: name}).values)]
    return next((x for x in labels if x), words(name))


def rate(x) -> str:
    """A rate as a percentage without trailing zeros: 0.005 -> '0.5%', 0.7 -> '70%'."""
    return f"{float(x) * 100:.4g}%"


def _value(value, how: str, lang: str, ds: xr.Dataset) -> str:
    if isinstance(value, dict) and value and all(str(k).isdigit() for k in value):
        return t(lang, "and").join(  # a value by year: "0.8% from 2021, 0.5% from 2022"
            t(lang, "lever_from_year", year=k, value=_value(v, how, lang, ds))
            for k, v in value.items()
        )
    if how == "rate" and isinstance(value, (int, float)):
        return rate(value)
    if how == "money" and isinstance(value, (int, float)):
        return money(value, lang)
    if how == "split" and isinstance(value, dict):
        return " / ".join(
            f"{labelled(ds, 'parties', str(p), lang)} {rate(s)}" for p, s in value.items()
        )
    return str(value)


def lever_words(key: str, value, ds: xr.Dataset, lang: str) -> str:
    """One override of a design in words: 'parties.guarantor.fee_rate', 0.005 ->
    '县政府性融资担保公司担保费率 0.5%' (zh) or 'guarantor fee rate 0.5%' (en). A key the
    catalogue does not know is 'another setting changed' (the key itself stays in the
    designs table); a whole new entry (a new party) is named by its label."""
    parts = key.split(".")
    section, name = parts[0], parts[1] if len(parts) > 1 else ""
    subject = labelled(ds, section, name, lang) if name else ""
    if len(parts) == 2 and isinstance(value, dict):  # a whole entry added or replaced
        return t(lang, "lever_entry", name=named(name, str(value.get("label") or ""), lang))
    if parts[-1] == "label":
        return t(lang, "lever_label", name=subject, label=value)
    lever = LEVERS.get(parts[-1])
    if lever is None:
        return t(lang, "lever_other")  # the key itself is in the designs table (CSV)
    return t(lang, lever[0], name=subject, value=_value(value, lever[1], lang, ds))


def _overrides(ds: xr.Dataset) -> dict[str, dict]:
    if "variant_overrides" not in ds.coords or "scenario" not in ds["variant_overrides"].dims:
        return {}
    return {
        str(name): json.loads(str(text))
        for name, text in zip(ds.scenario.values, ds["variant_overrides"].values, strict=True)
    }


def design_changes(ds: xr.Dataset, lang: str) -> dict[str, str]:
    """Each design's changes to the base scenario in words ('' for the base itself)."""
    sep = t(lang, "lever_sep")
    return {
        name: sep.join(lever_words(k, v, ds, lang) for k, v in changes.items())
        for name, changes in _overrides(ds).items()
    }


def _label_given(changes: dict) -> str:
    """The label a variant gives the scheme (or anything else) it changes, if any: the name
    its author chose for the design ('' if none)."""
    return next((str(v) for k, v in changes.items() if k.endswith(".label") and v), "")


def _variant_labels(ds: xr.Dataset, lang: str) -> dict[str, str]:
    """The label each design was given in the experiment (``variant_label_<lang>``:
    a variant's ``label``, with its grid point's lever labels and values), '' for none."""
    coord = f"variant_label_{lang}"
    if coord not in ds.coords or "scenario" not in ds[coord].dims:
        return {}
    return {
        str(name): str(label)
        for name, label in zip(ds.scenario.values, ds[coord].values, strict=True)
    }


def design_names(ds: xr.Dataset, lang: str) -> dict[str, str]:
    """What a brief calls each design: the label the experiment gave it (a variant's
    ``label``; a grid point's lever labels and values), else for a run the scenario's label
    (zh) or its id in words; in a comparison the base scenario ("基准方案", "base
    scenario"), a design that labels what it changes by that label (zh), and every other
    design by its changes in
    words (a clash gets its place in the list)."""
    if "scenario" not in ds.dims:
        name = str(ds.attrs.get("scenario", "run")) or "run"
        return {name: named(name, str(ds.attrs.get("scenario_label", "") or ""), lang)}
    ids = [str(s) for s in ds.scenario.values]
    given = _variant_labels(ds, lang)
    overrides, changes = _overrides(ds), design_changes(ds, lang)
    names = {
        # the author's label is Chinese (labels are): the English brief says the changes
        i: given.get(i)
        or (_label_given(overrides.get(i, {})) if lang == "zh" else "")
        or changes.get(i)
        or t(lang, "design_base")
        for i in ids
    }
    seen: dict[str, int] = {}
    for n in names.values():
        seen[n] = seen.get(n, 0) + 1
    return {
        i: (n if seen[n] == 1 else t(lang, "design_numbered", name=n, n=k + 1))
        for k, (i, n) in enumerate(names.items())
    }


def whole_loss_split(ds: xr.Dataset, scheme: str, lang: str) -> str:
    """A scheme's split as shares of the whole loss: the covered part split among the
    parties, the rest kept by the bank; parties by label (zh)."""
    first = _first(ds).sel(scheme=scheme)
    coverage = float(first["scheme_coverage"])
    split = zip(first.party.values, first["scheme_split"].values, strict=True)
    shares = {str(p): coverage * float(s) for p, s in split}
    kinds = dict(zip(map(str, first.party.values), map(str, first.party_kind.values), strict=True))
    bank = next((p for p, k in kinds.items() if k == "bank"), "bank")
    shares[bank] = shares.get(bank, 0.0) + (1.0 - coverage)
    # from the top of the system down (the party list runs bank first), the bank last
    ordered = [p for p in reversed(list(shares)) if shares[p] > 1e-12 and p != bank]
    ordered += [bank] if shares[bank] > 1e-12 else []
    return " / ".join(
        f"{labelled(ds, 'parties', p, lang)} {rate(np.round(shares[p], 6))}" for p in ordered
    )
