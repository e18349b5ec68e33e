"""The observed aggregates a calibration fits, read from YAML with line-aware errors.

An observed file names the parameters to fit (dotted scenario keys with bounds and a
start value) and the moments to match: each a results variable summed over a selection
(years, segments by tag or name, or a party), its observed value, its standard error (or
a weight) and its source (a seed document and place, or ``illustrative``)::

    name: hangzhou_2021_2023_observed
    parameters:
      - key: processes.demand.credit.applications_per_year
        lower: 60000
        upper: 200000
        start: 120000
    moments:
      - name: credit_lending_2021_2023
        variable: loans_amount
        select: {year: [2021, 2022, 2023], tags: [credit]}
        value: 4.0e11
        se: 4.0e10
        source: "004_2b902a7bc69c622f.txt, 一、发展目标: 累计发放小微企业信用贷款4000亿元"

Mistakes are reported like a scenario's: the file, the line, the dotted key, the value and
what is allowed (:class:`~guarantee_sim.config.ScenarioError`). The checks that need the
scenario (does the variable exist for it, do the tags, years and party) are
:func:`check_observed`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from ..config import Scenario, ScenarioError, read_yaml
from ..config.loader import format_location, model_from_dict
from ..config.types import Frozen, fail
from ..results.dataset import PROCESS_VARIABLES

__all__ = [
    "PARTY_VARIABLES",
    "SEGMENT_VARIABLES",
    "STOCK_VARIABLES",
    "FitParameter",
    "Moment",
    "Observed",
    "Selection",
    "check_observed",
    "load_observed",
    "raise_located",
]

#: results variables with a ``segment`` dimension a moment may sum (flows and stocks)
SEGMENT_VARIABLES = (
    "applications",
    "approvals",
    "rejections",
    "loans_count",
    "loans_amount",
    "borrowers",
    "outstanding_amount",
    "defaults_count",
    "default_amount",
    "credit_loss",
    "cohort_loans_count",
    "cohort_loans_amount",
)
#: results variables with a ``party`` dimension: a moment names the party
PARTY_VARIABLES = (
    "payout",
    "recovery",
    "loss",
    "fee_income",
    "guarantee_outstanding",
    "capital",
    "fee_subsidy",
    "capital_injection",
)
#: year-end balances: summing them over years means nothing, so a moment takes one year
STOCK_VARIABLES = ("outstanding_amount", "guarantee_outstanding", "capital")


class Selection(Frozen):
    """Which part of a results variable a moment sums (everything when omitted)."""

    year: int | list[int] | None = Field(
        None, description="a year or a list of years, summed (default: every year of the results)"
    )
    tags: list[str] = Field(
        default_factory=list, description="segments carrying all these tags, summed"
    )
    segment: str | None = Field(None, description="one segment by name")
    party: str | None = Field(None, description="the party (required for party variables)")

    @property
    def years(self) -> list[int] | None:
        return [self.year] if isinstance(self.year, int) else self.year

    def text(self) -> str:
        """``year=2021-2023 tags=credit``: the selection in one short line."""
        parts = []
        years = self.years
        if years:
            run = years == list(range(years[0], years[-1] + 1))
            span = f"{years[0]}-{years[-1]}" if run else ",".join(map(str, years))
            parts.append(f"year={span if len(years) > 1 else years[0]}")
        if self.tags:
            parts.append("tags=" + ",".join(self.tags))
        if self.segment:
            parts.append(f"segment={self.segment}")
        if self.party:
            parts.append(f"party={self.party}")
        return " ".join(parts) or "all"


class Moment(Frozen):
    """One observed aggregate and how it is compared with the simulation."""

    name: str = Field(min_length=1, description="unique name of the moment")
    variable: str = Field(description="results variable summed (see SEGMENT/PARTY_VARIABLES)")
    select: Selection = Field(default_factory=Selection)
    value: float = Field(description="the observed value, in the variable's units")
    se: float | None = Field(None, gt=0, description="standard error of the observed value")
    weight: float | None = Field(
        None, gt=0, description="weight of the relative residual when no standard error is known"
    )
    source: str = Field(
        min_length=1,
        description="seed document and place the value comes from, or 'illustrative'",
    )

    @field_validator("variable")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in SEGMENT_VARIABLES + PARTY_VARIABLES:
            allowed = ", ".join(SEGMENT_VARIABLES + PARTY_VARIABLES)
            raise ValueError(f"unknown results variable; allowed: {allowed}")
        return value

    @model_validator(mode="after")
    def _se_or_weight(self) -> Moment:
        if (self.se is None) == (self.weight is None):
            fail([(("se",), "give exactly one of se (standard error) or weight", self.se)])
        if self.weight is not None and self.value == 0:
            fail([(("value",), "a weighted moment's residual is relative: value must not be 0", 0)])
        return self


class FitParameter(Frozen):
    """A scenario key to fit: a number, between bounds, starting somewhere inside them."""

    key: str = Field(min_length=1, description="dotted scenario key, as for --set")
    lower: float
    upper: float
    start: float

    @model_validator(mode="after")
    def _ordered(self) -> FitParameter:
        if not self.lower < self.upper:
            fail([(("upper",), f"must be greater than lower ({self.lower:g})", self.upper)])
        if not self.lower <= self.start <= self.upper:
            fail([(("start",), f"must lie in [{self.lower:g}, {self.upper:g}]", self.start)])
        return self

    @property
    def span(self) -> float:
        return self.upper - self.lower


class Observed(Frozen):
    """An observed file: the parameters to fit and the moments to fit them to."""

    name: str = Field(min_length=1)
    description: str = ""
    parameters: list[FitParameter] = Field(min_length=1)
    moments: list[Moment] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Observed:
        problems = []
        for field, items, attr in (
            ("moments", self.moments, "name"),
            ("parameters", self.parameters, "key"),
        ):
            seen: set[str] = set()
            for i, item in enumerate(items):
                value = getattr(item, attr)
                if value in seen:
                    problems.append(((field, i, attr), f"{attr} given twice", value))
                seen.add(value)
        with_se = [m.se is not None for m in self.moments]
        if any(with_se) and not all(with_se):
            i = with_se.index(not with_se[0])
            problems.append(
                (
                    ("moments", i, "se" if with_se[i] else "weight"),
                    "every moment needs the same kind of precision: all se (standard errors) "
                    "or all weight",
                    self.moments[i].se if with_se[i] else self.moments[i].weight,
                )
            )
        fail(problems)
        return self

    @property
    def has_standard_errors(self) -> bool:
        return self.moments[0].se is not None


def load_observed(path: str | Path) -> tuple[Observed, dict[tuple, int]]:
    """Read and validate an observed file; also the line of each key (for later checks).

    >>> observed, lines = load_observed("experiments/observed/hangzhou_2021_2023.yaml")
    >>> observed.parameters[0].key
    'processes.demand.first_time_credit.applications_per_year'
    """
    data, lines = read_yaml(path)
    return model_from_dict(data, Observed, str(path), lines=lines), lines


def check_observed(
    observed: Observed, scenario: Scenario, source: str, lines: dict[tuple, int]
) -> None:
    """Refuse moments the scenario cannot produce, naming file, line, key and value.

    Raises
    ------
    ScenarioError
        A process variable for a volume-fed scenario, a party variable without a party (or
        a segment variable with one), a tag, segment, party or year the scenario lacks, or
        several years for a year-end balance.
    """
    problems = []
    for i, moment in enumerate(observed.moments):
        problems += _variable_problems(("moments", i), moment, scenario)
        problems += _selection_problems(("moments", i, "select"), moment, scenario)
    raise_located(problems, source, lines)


def _variable_problems(at: tuple, moment: Moment, scenario: Scenario) -> list:
    """A variable the scenario does not produce, or a selection that does not fit it."""
    problems: list[tuple[tuple, str, object]] = []
    sel = moment.select
    if moment.variable in PROCESS_VARIABLES and scenario.lending_source != "processes":
        problems.append(
            (
                (*at, "variable"),
                "exists only when lending comes from the institution processes "
                "(lending_source: processes)",
                moment.variable,
            )
        )
    party_var = moment.variable in PARTY_VARIABLES
    if party_var and sel.party is None:
        problems.append(((*at, "select"), f"{moment.variable} is a party's: select a party", None))
    if party_var and (sel.tags or sel.segment):
        problems.append(
            ((*at, "select"), f"{moment.variable} has no segments: select a party", None)
        )
    if not party_var and sel.party is not None:
        problems.append(((*at, "select", "party"), f"{moment.variable} has no party", sel.party))
    years = sel.years or list(scenario.years)
    if moment.variable in STOCK_VARIABLES and len(years) != 1:
        problems.append(
            (
                (*at, "select", "year"),
                f"{moment.variable} is a year-end balance: select one year",
                sel.year,
            )
        )
    return problems


def _selection_problems(at: tuple, moment: Moment, scenario: Scenario) -> list:
    """A party, segment, tag or year the scenario does not have."""
    problems: list[tuple[tuple, str, object]] = []
    sel = moment.select
    if sel.party is not None and sel.party not in scenario.parties:
        allowed = ", ".join(scenario.parties)
        problems.append(((*at, "party"), f"no such party; allowed: {allowed}", sel.party))
    if sel.segment is not None and sel.segment not in scenario.segments:
        allowed = ", ".join(scenario.segments)
        problems.append(((*at, "segment"), f"no such segment; allowed: {allowed}", sel.segment))
    tags = {t for seg in scenario.segments.values() for t in seg.tags}
    for j, tag in enumerate(sel.tags):
        if tag not in tags:
            allowed = ", ".join(sorted(tags))
            problems.append(((*at, "tags", j), f"no segment has this tag; allowed: {allowed}", tag))
    years = list(scenario.years)
    for year in sel.years or []:
        if year not in years:
            message = f"outside the scenario's years {years[0]}-{years[-1]}"
            problems.append(((*at, "year"), message, year))
    return problems


def raise_located(problems: Sequence[tuple[tuple, str, object]], source: str, lines) -> None:
    """One ScenarioError listing every problem, each with file, line, key and value."""
    if not problems:
        return
    texts = []
    for loc, message, value in problems:
        line = _line(loc, lines)
        key = ".".join(map(str, loc))
        got = "" if value is None else f" (got {value!r})"
        texts.append(f"{format_location(source, line, key)}: {message}{got}")
    loc = problems[0][0]
    raise ScenarioError(
        "\n".join(texts),
        path=source,
        line=_line(loc, lines),
        key=".".join(map(str, loc)),
        problems=texts,
    )


def _line(loc: tuple, lines: dict[tuple, int]) -> int | None:
    """The line of ``loc``, or of the nearest key above it the file has."""
    for n in range(len(loc), 0, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None
