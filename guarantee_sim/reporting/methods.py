"""How an interval was computed, in the brief's language.

The results name each interval's method in English (``intervals.attrs["method"]``, e.g.
"mean, cluster-robust over 4 book replicas (CR1), t with 3 df"): the file is read in
English everywhere. The brief's CSV tables carry the method beside each interval, so a
Chinese brief says it in Chinese: the English name is read back by its known forms and
written with the catalogue's words. A form not known here is left as it is (a method is
never dropped or guessed).
"""

from __future__ import annotations

import re

from .text import t

#: the forms of ``results.intervals``' method names (parsed, never shown)
PATTERNS = {
    "method_paths": re.compile(
        r"(?P<what>.+), (?P<g>\d+) independent paths \(one book\), t with (?P<df>\d+) df"
    ),
    "method_overlap": re.compile(
        r"(?P<what>.+), (?P<g>\d+) paths taken as independent \(the variants' book replicas "
        r"chain every path together\), t with (?P<df>\d+) df"
    ),
    "method_replicas": re.compile(
        r"(?P<what>.+), cluster-robust over (?P<g>\d+) book replicas \(CR1\), "
        r"t with (?P<df>\d+) df"
    ),
    "method_tail_replicas": re.compile(
        r"(?P<stat>VaR|ES) (?P<level>[\d.]+), percentile bootstrap \((?P<draws>\d+) draws\) "
        r"over (?P<g>\d+) book replicas, resampled whole"
    ),
    "method_tail_paths": re.compile(
        r"(?P<stat>VaR|ES) (?P<level>[\d.]+), percentile bootstrap \((?P<draws>\d+) draws\) "
        r"over (?P<g>\d+) paths"
    ),
}
#: what an interval is of, as ``results.intervals`` names it -> its catalogue key
WHAT = {
    "mean": "method_what_mean",
    "share: Wilson on the effective number of paths": "method_what_share",
    "paired difference of means": "method_what_difference",
}


def method_words(method: str, lang: str) -> str:
    """``method`` (one interval's, or several joined by "; ") in ``lang``.

    >>> method_words("mean, cluster-robust over 4 book replicas (CR1), t with 3 df", "zh")
    '均值，按 4 个贷款簿重复聚类稳健（CR1），t 分布自由度 3'
    >>> method_words("mean, cluster-robust over 4 book replicas (CR1), t with 3 df", "en")
    'mean, cluster-robust over 4 book replicas (CR1), t with 3 df'
    """
    if lang == "en" or not isinstance(method, str) or not method:
        return method
    return t(lang, "method_join").join(_one(part, lang) for part in method.split("; "))


def _one(method: str, lang: str) -> str:
    for key, pattern in PATTERNS.items():
        found = pattern.fullmatch(method)
        if found is None:
            continue
        parts = found.groupdict()
        if "what" in parts:
            if parts["what"] not in WHAT:
                return method
            parts["what"] = t(lang, WHAT[parts["what"]])
        if "stat" in parts:
            parts["stat"] = t(lang, f"method_stat_{parts['stat'].lower()}")
            parts["level"] = f"{float(parts['level']):.1%}".replace(".0%", "%")
        return t(lang, key, **parts)
    return method
