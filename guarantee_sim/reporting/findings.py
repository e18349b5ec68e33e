"""The findings a brief opens with, chosen from its tables by a stated rule.

The rule (the brief states it in one sentence, ``findings_rule``):

1. the public cost (present value, with its 95% interval) always comes first: it is what
   the budget answers for;
2. the other candidates are every target, and every risk that happens often enough to
   matter — a pool depleted or its breaker tripped, or a guarantor insolvent, on at least
   :data:`RISK_FROM` of the paths; a leverage or compensation-rate cap exceeded on at
   least :data:`CAP_FROM` of them;
3. each candidate gets a score between 0 and 1: a risk its probability, a target how far
   its probability of being reached is from 50% (``2 |p - 0.5|``: a clear yes or a clear
   no beats a coin flip);
4. the candidates with the highest scores follow the cost, up to :data:`MAX_FINDINGS`
   findings in all, but targets and risks are each sure of :data:`SURE_PLACES` places
   when they have candidates: four targets whose probability is a plain 0 or 100% would
   otherwise push out a re-guarantor's cap exceeded on a third of the paths.

In a comparison a candidate is a target or a (party, risk) across the designs; its score is
its highest over the designs, and the finding reports every design. The drivers of a
target finding come from ``attainment_variance_share`` (the variance decomposition) and,
when drawn parameters explain a share of it, from ``parameter_value``: the parameter whose
rank correlation with the target's attainment over the paths is strongest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from ..results.decomposition import SOURCES as VARIANCE_SOURCES
from .measures import variants

#: a pool, breaker or insolvency risk is a candidate from this probability on
RISK_FROM = 0.05
#: a cap exceeded is a candidate from this probability on
CAP_FROM = 0.10
#: findings in all, the cost included
MAX_FINDINGS = 5
#: places that targets, and risks, each keep when they have candidates
SURE_PLACES = 2
#: a variance source "drives" a target's spread from this share on
DRIVER_FROM = 0.10
_CAPS = ("leverage_over_cap", "compensation_over_cap")


@dataclass
class Finding:
    """One finding: its kind (``cost``, ``target`` or ``risk``), what it is about (the target,
    or the party and the risk), its score, and the table rows it reports (one per design)."""

    kind: str
    key: tuple[str, ...]
    score: float
    rows: list[dict] = field(default_factory=list)


def _target_score(p: float) -> float:
    return 2.0 * abs(p - 0.5) if np.isfinite(p) else 0.0


def _risk_score(risk: str, p: float) -> float:
    """The probability of a risk, or -1 below its threshold (not a candidate)."""
    if not np.isfinite(p):
        return -1.0
    return p if p >= (CAP_FROM if risk in _CAPS else RISK_FROM) else -1.0


def _grouped(rows: list[tuple[str, tuple, float, dict]]) -> list[Finding]:
    """Candidates (kind, key, score, row) merged over the designs: the best score, all rows."""
    merged: dict[tuple, Finding] = {}
    for kind, key, score, row in rows:
        f = merged.setdefault((kind, *key), Finding(kind, key, -1.0))
        f.score = max(f.score, score)
        f.rows.append(row)
    return [f for f in merged.values() if f.score >= 0.0]


def select_findings(tables: dict[str, pd.DataFrame]) -> list[Finding]:
    """The findings of a brief from its tables (:func:`~.tables.all_tables`), in order.

    >>> targets = pd.DataFrame({"design": ["a", "a"], "target": ["x", "y"],
    ...     "probability": [0.52, 0.05]})
    >>> risks = pd.DataFrame({"design": ["a"], "party": ["pool"], "risk": ["pool_depleted"],
    ...     "probability": [0.6]})
    >>> [(f.kind, f.key) for f in select_findings({"targets": targets, "risks": risks})]
    [('target', ('y',)), ('risk', ('pool', 'pool_depleted')), ('target', ('x',))]
    """
    candidates: list[tuple[str, tuple, float, dict]] = []
    for r in tables.get("targets", pd.DataFrame()).to_dict("records"):
        candidates.append(("target", (r["target"],), _target_score(r["probability"]), r))
    for r in tables.get("risks", pd.DataFrame()).to_dict("records"):
        score = _risk_score(r["risk"], r["probability"])
        candidates.append(("risk", (r["party"], r["risk"]), score, r))
    ranked = sorted(_grouped(candidates), key=lambda f: -f.score)  # stable: table order on ties
    cost = tables.get("public_cost", pd.DataFrame())
    head = []
    if "public_cost_pv_mean" in cost and cost["public_cost_pv_mean"].notna().any():
        head = [Finding("cost", (), 1.0, cost.to_dict("records"))]
    return head + _balanced(ranked, MAX_FINDINGS - len(head))


def _balanced(ranked: list[Finding], places: int) -> list[Finding]:
    """The top ``places`` of ``ranked``, with each kind's best :data:`SURE_PLACES` in."""
    sure: list[Finding] = []
    for kind in ("target", "risk"):
        sure += [f for f in ranked if f.kind == kind][:SURE_PLACES]
    rest = [f for f in ranked if f not in sure]
    chosen = sure[:places] + rest[: max(places - len(sure), 0)]
    return sorted(chosen, key=ranked.index)


def main_driver(row: dict) -> tuple[str, float] | None:
    """The variance source with the largest share of a target's spread over the paths
    (``share_<source>`` columns of the target table), or None without the decomposition."""
    shares = {s: row.get(f"share_{s}", np.nan) for s in VARIANCE_SOURCES}
    shares = {s: float(x) for s, x in shares.items() if np.isfinite(x)}
    if not shares:
        return None
    source = max(shares, key=lambda s: shares[s])
    return source, shares[source]


def strongest_parameter(ds: xr.Dataset, design: str, target: str) -> tuple[str, float] | None:
    """The drawn parameter whose rank correlation with ``target``'s attainment over the
    paths of ``design`` is strongest, with that correlation (None without drawn parameters
    or when none varies)."""
    v = dict(variants(ds)).get(design)
    if v is None or "parameter_value" not in v or not v.sizes.get("parameter"):
        return None
    attainment = pd.Series(v["target_attainment"].sel(target=target).values).rank()
    best = None
    for name in v.parameter.values:
        values = pd.Series(v["parameter_value"].sel(parameter=name).values)
        if values.nunique() < 2 or attainment.nunique() < 2:
            continue
        rho = float(np.corrcoef(values.rank(), attainment)[0, 1])
        if np.isfinite(rho) and (best is None or abs(rho) > abs(best[1])):
            best = (str(name), rho)
    return best
