"""Every word the figures and the policy brief print, in Chinese and English, as data.

The words live in the catalogue, one YAML file per language
(``guarantee_sim/reporting/catalogue/<lang>.yaml``), each read once, when first used:
``TEXT[lang][key]`` is a ``str.format`` template; both languages have the same keys (a
test checks it, and another that no user-visible literal is left in the code of
:mod:`guarantee_sim.reporting`), so the code that builds figures and briefs is written
once and never branches on the language. Numbers are formatted by
:mod:`guarantee_sim.reporting.numbers`, the only place that decides how a number looks in
the brief.

>>> TEXT["zh"]["unit_large"], TEXT["en"]["unit_large"]
('亿元', 'CNY bn')
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from importlib import resources

from ruamel.yaml import YAML

LANGS = ("zh", "en")

#: IPCC-style calibrated likelihood language: (lowest probability, key), highest first.
LIKELIHOOD = (
    (0.99, "virtually_certain"),
    (0.90, "very_likely"),
    (0.66, "likely"),
    (0.33, "about_as_likely_as_not"),
    (0.10, "unlikely"),
    (0.01, "very_unlikely"),
    (0.0, "exceptionally_unlikely"),
)
#: a target counts as "likely" in the brief's summary when its whole interval is from this
#: probability on, "not likely" when its whole interval is below it, "undecided" otherwise
LIKELY_FROM = 0.66


def load_catalogue(lang: str) -> dict[str, str]:
    """The words of ``lang`` from the package data ``catalogue/<lang>.yaml``."""
    text = (
        resources.files("guarantee_sim.reporting")
        .joinpath(f"catalogue/{lang}.yaml")
        .read_text("utf-8")
    )
    words = YAML(typ="safe", pure=True).load(text)
    if not isinstance(words, dict) or not all(isinstance(v, str) for v in words.values()):
        raise ValueError(f"catalogue/{lang}.yaml: expected a mapping of key to text")
    return words


class _Catalogues(Mapping[str, dict[str, str]]):
    """:data:`TEXT`: each language's words, read from its file when first used (reading
    both takes a tenth of a second, which a run that prints no brief need not spend)."""

    def __init__(self) -> None:
        self._read: dict[str, dict[str, str]] = {}

    def __getitem__(self, lang: str) -> dict[str, str]:
        if lang not in LANGS:
            raise KeyError(lang)
        if lang not in self._read:
            self._read[lang] = load_catalogue(lang)
        return self._read[lang]

    def __iter__(self) -> Iterator[str]:
        return iter(LANGS)

    def __len__(self) -> int:
        return len(LANGS)


TEXT: Mapping[str, dict[str, str]] = _Catalogues()


def check_lang(lang: str) -> str:
    """``lang`` if it is one of :data:`LANGS`, else a ValueError naming the choices."""
    if lang not in TEXT:
        raise ValueError(f"unknown language {lang!r}: choose one of {', '.join(LANGS)}")
    return lang


def t(lang: str, key: str, **values) -> str:
    """The template ``key`` in ``lang``, filled with ``values``."""
    return TEXT[check_lang(lang)][key].format(**values)


def _bad(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def likelihood(p: float) -> str:
    """The calibrated-language key for probability ``p``."""
    for lowest, key in LIKELIHOOD:
        if p >= lowest:
            return key
    return LIKELIHOOD[-1][1]


def likelihood_words(p: float, low: float, high: float, lang: str) -> str:
    """The calibrated words for a probability estimated with the interval ``low``-``high``:
    one word when the whole interval falls in one band, else the span of the bands it
    covers ("likely to very likely"), so that no word claims more precision than the run
    has. Without an interval (NaN), the word of ``p``.

    >>> likelihood_words(0.8, 0.7, 0.85, "en"), likelihood_words(0.8, 0.6, 0.95, "en")
    ('likely', 'about as likely as not to very likely')
    """
    if _bad(low) or _bad(high):
        return TEXT[lang][likelihood(p)]
    words = [TEXT[lang][likelihood(float(low))], TEXT[lang][likelihood(float(high))]]
    if words[0] == words[1]:
        return words[0]
    return TEXT[lang]["likelihood_span"].format(low=words[0], high=words[1])


#: the CJK Unified Ideographs block: Chinese characters
CJK_FROM, CJK_TO = 0x4E00, 0x9FFF


def written_in(text: str, lang: str) -> bool:
    """Whether a user's text (a description, a question) is in ``lang``: for zh, when Chinese
    characters are at least a third of its letters; for en, when Latin letters are half."""
    cjk = sum(CJK_FROM <= ord(c) <= CJK_TO for c in text)
    latin = sum(c.isascii() and c.isalpha() for c in text)
    if lang == "zh":
        return cjk >= (cjk + latin) / 3
    return latin >= (cjk + latin) / 2
