"""The value grammar: the four shapes a number in a scenario may take.

=============  ============================================================  =======================
shape          YAML                                                          object
=============  ============================================================  =======================
number         ``lgd: 0.65``                                                 ``float`` or ``int``
per year       ``fee_rate: {2021: 0.01, 2022: 0.008}``                       :class:`PerYear`
distribution   ``lgd: {dist: beta, alpha: 6, beta: 3, min: 0.3, max: 0.9}``  :class:`Distribution`
with source    ``lgd: {value: 0.65, source: "PARAM: LGD, unsecured"}``       :class:`Sourced`
=============  ============================================================  =======================

A source wraps any of the other three. A sourced number is a :class:`SourcedFloat` (or
:class:`SourcedInt`): a number the engine uses as it is, with a ``source`` attribute.

Which key takes which shape is said by its annotation in the schema: ``Number[T]`` takes a
number, ``Yearly[T]`` also a per-year mapping (policy levers), ``Uncertain[T]`` also a
distribution (behavioural and credit parameters); each also with its source. ``T`` is the
key's number type with its bounds, which also bound a per-year value and a distribution's
``min``, ``max`` and centre.

Distributions (``sd`` of a lognormal is the standard deviation of the logarithm)::

    normal      mean, sd            [min, max]: truncation
    lognormal   median, sd          [min, max]: truncation
    uniform     min, max
    triangular  min, mode, max
    beta        alpha, beta, min, max   (a beta(alpha, beta) scaled to [min, max])

A normal or lognormal with ``sd: 0`` is its mean or median, exactly: the same run as the
fixed value (a check that the uncertainty is wired in). ``group: NAME`` (snake_case) in a
distribution makes every key with that group share one uniform draw per path, so their
values move together (each through its own distribution): e.g. the PD levels of all
segments. :attr:`Distribution.centre` is the value the lenders and every non-random use
of the key see (mean, median, mode; a uniform's midpoint, a beta's mean).

On a key with bounds (a PD in (0, 1), an LGD in [0, 1], a rate >= 0) a distribution must
stay inside them: ``min``/``max`` are then required unless the family already respects
the bound (a lognormal is positive).
"""

from __future__ import annotations

import functools
import math
import re
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, Field, TypeAdapter, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema

from .types import refuse_bool

__all__ = [
    "FAMILIES",
    "Distribution",
    "Number",
    "PerYear",
    "Sourced",
    "SourcedFloat",
    "SourcedInt",
    "Uncertain",
    "Yearly",
    "central",
    "in_year",
    "iter_shapes",
    "source_of",
    "value_keys",
]

#: the parameters each distribution family needs (every family also takes min and max)
FAMILIES: dict[str, tuple[str, ...]] = {
    "normal": ("mean", "sd"),
    "lognormal": ("median", "sd"),
    "uniform": ("min", "max"),
    "triangular": ("min", "mode", "max"),
    "beta": ("alpha", "beta", "min", "max"),
}
_CENTRES = ("mean", "median", "mode")  # values of the key itself: the key's bounds apply
_SHAPES = ("alpha", "beta")  # positive numbers; sd may be 0 (the fixed value)
_GROUP = re.compile(r"^[a-z][a-z0-9_]*$")
_LOWEST = {"lognormal": 0.0}  # lower end of a family's support where it is not -inf
#: a beta's shape parameters: above this the distribution is a point (give the number)
MAX_SHAPE = 1e6
_SHAPE = TypeAdapter(
    Annotated[float, BeforeValidator(refuse_bool), Field(gt=0.0, le=MAX_SHAPE, allow_inf_nan=False)]
)
# checked first, so that .nan is "not a finite number" rather than "not greater than 0"
_FINITE = TypeAdapter(Annotated[float, BeforeValidator(refuse_bool), Field(allow_inf_nan=False)])
_NON_NEGATIVE = TypeAdapter(
    Annotated[float, BeforeValidator(refuse_bool), Field(ge=0.0, allow_inf_nan=False)]
)


# --------------------------------------------------------------------------- the objects


@dataclass(frozen=True)
class PerYear:
    """A value by calendar year, e.g. a fee that changes in 2022.

    >>> PerYear.of({2022: 0.008, 2021: 0.01})[2022]
    0.008
    """

    values: tuple[tuple[int, float], ...]  # (year, value), by year

    @classmethod
    def of(cls, mapping: Mapping[int, float]) -> PerYear:
        return cls(tuple(sorted(mapping.items())))

    @property
    def years(self) -> list[int]:
        return [year for year, _ in self.values]

    def __getitem__(self, year: int) -> float:
        return dict(self.values)[year]

    def to_data(self) -> dict[int, float]:
        return dict(self.values)

    def in_year(self, year: int) -> float:
        """The value in force in ``year``: the entry of the latest year given at or before it
        (a year before the first entry takes the first; the schema makes the first entry the
        horizon's first year).

        >>> PerYear.of({2021: 0.01, 2023: 0.008}).in_year(2022)
        0.01
        """
        value = self.values[0][1]
        for given, v in self.values:
            if given <= year:
                value = v
        return value


@dataclass(frozen=True)
class Distribution:
    """An uncertain value: a family and its parameters (see :data:`FAMILIES`)."""

    kind: str
    mean: float | None = None
    median: float | None = None
    mode: float | None = None
    sd: float | None = None
    alpha: float | None = None
    beta: float | None = None
    min: float | None = None
    max: float | None = None
    group: str | None = None  # keys of one group share one uniform draw per path

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"dist": self.kind}
        data.update((f.name, getattr(self, f.name)) for f in fields(self)[1:])
        return {k: v for k, v in data.items() if v is not None}

    @property
    def centre(self) -> float:
        """The central value: a normal's mean, a lognormal's median, a triangular's mode,
        a uniform's midpoint, a beta's mean (as given: truncation does not move it).

        >>> Distribution("lognormal", median=0.03, sd=0.4).centre
        0.03
        >>> Distribution("beta", alpha=1, beta=3, min=0.0, max=0.8).centre
        0.2
        """
        if self.kind == "uniform":
            return (self.min + self.max) / 2  # type: ignore[operator]
        if self.kind == "beta":
            a, b, lo, hi = self.alpha, self.beta, self.min, self.max
            return lo + (hi - lo) * a / (a + b)  # type: ignore[operator]
        centre = {"normal": self.mean, "lognormal": self.median, "triangular": self.mode}
        return centre[self.kind]  # type: ignore[return-value]


@dataclass(frozen=True)
class Sourced:
    """A per-year value or a distribution, and where it comes from."""

    value: PerYear | Distribution
    source: str

    def to_data(self) -> dict[str, Any]:
        return {"value": self.value.to_data(), "source": self.source}


class SourcedFloat(float):
    """A number with its source: the engine sees the number.

    >>> x = SourcedFloat(0.035, "PARAM: annual PD, first-time borrower")
    >>> x * 2, x.source
    (0.07, 'PARAM: annual PD, first-time borrower')
    """

    source: str

    def __new__(cls, value: float, source: str) -> SourcedFloat:
        self = super().__new__(cls, value)
        self.source = source
        return self

    def __reduce__(self):
        return type(self), (float(self), self.source)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({float(self)!r}, source={self.source!r})"

    def to_data(self) -> dict[str, Any]:
        return {"value": float(self), "source": self.source}


class SourcedInt(int):
    """An integer with its source (a lag in months, a staff count): the engine sees it."""

    source: str

    def __new__(cls, value: int, source: str) -> SourcedInt:
        self = super().__new__(cls, value)
        self.source = source
        return self

    def __reduce__(self):
        return type(self), (int(self), self.source)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({int(self)!r}, source={self.source!r})"

    def to_data(self) -> dict[str, Any]:
        return {"value": int(self), "source": self.source}


_OBJECTS = (PerYear, Distribution, Sourced, SourcedFloat, SourcedInt)


def in_year(value: Any, year: int) -> Any:
    """The number ``value`` stands for in ``year``: a per-year value's entry in force then
    (:meth:`PerYear.in_year`, also inside a source); any other value as it is.

    >>> in_year(Sourced(PerYear.of({2021: 0.01, 2022: 0.008}), "doc"), 2023)
    0.008
    >>> in_year(0.5, 2023)
    0.5
    """
    inner = value.value if isinstance(value, Sourced) else value
    return inner.in_year(year) if isinstance(inner, PerYear) else value


def central(value: Any) -> Any:
    """The number a value stands for where it is not drawn: a distribution's centre (also
    inside a source); any other value as it is.

    >>> central(Sourced(Distribution("normal", mean=0.4, sd=0.1), "doc"))
    SourcedFloat(0.4, source='doc')
    """
    if isinstance(value, Sourced) and isinstance(value.value, Distribution):
        return SourcedFloat(value.value.centre, value.source)
    return value.centre if isinstance(value, Distribution) else value


def source_of(value: Any) -> str | None:
    """The source of a value of the grammar, or None."""
    return getattr(value, "source", None) if isinstance(value, _OBJECTS) else None


def iter_shapes(model: BaseModel, loc: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Yield ``(location, value)`` for every grammar object (not plain numbers) in ``model``."""
    for name in type(model).model_fields:
        yield from _walk(getattr(model, name), (*loc, name))


def _walk(value: Any, loc: tuple) -> Iterator[tuple[tuple, Any]]:
    if isinstance(value, _OBJECTS):
        yield loc, value
    elif isinstance(value, BaseModel):
        yield from iter_shapes(value, loc)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*loc, key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _walk(item, (*loc, i))


# --------------------------------------------------------------------------- parsing


class _Problems:
    """Collects located errors so that every problem of a value is reported at once."""

    def __init__(self) -> None:
        self.details: list[InitErrorDetails] = []

    def add(self, loc: tuple, message: str, value: Any) -> None:
        kind = PydanticCustomError("value_grammar", message)
        self.details.append(InitErrorDetails(type=kind, loc=loc, input=value))

    def check(self, loc: tuple, validate, value: Any) -> Any:
        """``validate(value)``; on failure keep its errors, moved under ``loc``."""
        try:
            return validate(value)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                kind = PydanticCustomError(err["type"], err["msg"])
                where = (*loc, *err["loc"])
                self.details.append(InitErrorDetails(type=kind, loc=where, input=err["input"]))
            return None

    def raise_any(self) -> None:
        if self.details:
            raise ValidationError.from_exception_data("value", self.details)


@dataclass(frozen=True)
class _Grammar:
    """Annotation marker: the shapes a key takes besides a number (see the module doc)."""

    per_year: bool = False
    uncertain: bool = False

    def __get_pydantic_core_schema__(self, source: Any, handler) -> core_schema.CoreSchema:
        number = handler(source)
        validate = functools.partial(_validate, grammar=self, bounds=_bounds(number))
        return core_schema.no_info_wrap_validator_function(
            validate,
            number,
            serialization=core_schema.wrap_serializer_function_ser_schema(_serialize),
        )

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler) -> dict:
        """The JSON Schema of every shape the key takes (editors validate and complete a
        scenario with it): the number, its per-year mapping or distribution, each
        optionally as ``{value: ..., source: <text>}``."""
        number = handler(schema)
        shapes = [number]
        if self.per_year:
            shapes.append(
                {
                    "type": "object",
                    "description": "per year: {2021: value, 2022: value}; a year's value "
                    "holds until the next",
                    "patternProperties": {"^[0-9]{4}$": number},
                    "additionalProperties": False,
                }
            )
        if self.uncertain:
            parameters = sorted({p for ps in FAMILIES.values() for p in ps})
            shapes.append(
                {
                    "type": "object",
                    "description": "a distribution: "
                    + "; ".join(f"{family}: {', '.join(ps)}" for family, ps in FAMILIES.items())
                    + " (normal and lognormal also min, max); group: shares the draw",
                    "properties": {
                        "dist": {"enum": list(FAMILIES)},
                        **{p: {"type": "number"} for p in parameters},
                        "group": {"type": "string", "pattern": _GROUP.pattern},
                    },
                    "required": ["dist"],
                    "additionalProperties": False,
                }
            )
        sourced = {
            "type": "object",
            "description": "the value with its source",
            "properties": {"value": {"anyOf": shapes}, "source": {"type": "string"}},
            "required": ["value"],
            "additionalProperties": False,
        }
        return {"anyOf": [*shapes, sourced]}

    def allowed(self) -> str:
        if self.per_year:
            other = "a per-year mapping {2021: ..., 2022: ...}"
        elif self.uncertain:
            other = "a distribution {dist: ..., ...}"
        else:
            return "a number, or {value: <number>, source: <text>}"
        return f"a number or {other}, either optionally as {{value: ..., source: <text>}}"


def _serialize(value: Any, nxt) -> Any:
    return value.to_data() if isinstance(value, _OBJECTS) else nxt(value)


def _bounds(schema: Mapping) -> dict[str, float]:
    """The bounds (ge, gt, le, lt) of a number schema, through wrapping validators."""
    while schema.get("type") in ("function-after", "function-before", "function-wrap"):
        schema = schema["schema"]
    return {k: schema[k] for k in ("ge", "gt", "le", "lt") if k in schema}


def _validate(raw: Any, number, grammar: _Grammar, bounds: dict) -> Any:
    if isinstance(raw, _OBJECTS):  # built in Python: check it as if it were written out
        raw = raw.to_data()
    if not isinstance(raw, Mapping):
        return number(raw)  # the common case: the key's own checks and messages
    problems = _Problems()
    value = _parse(raw, number, grammar, bounds, (), problems)
    problems.raise_any()
    return value


def _parse(raw: Any, number, grammar: _Grammar, bounds: dict, loc: tuple, problems: _Problems):
    """One value of any shape at ``loc`` (relative to the key); None after a problem."""
    if not isinstance(raw, Mapping):
        return problems.check(loc, number, raw)
    if "value" in raw or "source" in raw:
        return _sourced(raw, number, grammar, bounds, loc, problems)
    if "dist" in raw and grammar.uncertain:
        return _distribution(raw, number, bounds, loc, problems)
    if "dist" in raw:
        why = (
            "a policy lever may vary by year but is never uncertain"
            if grammar.per_year
            else "it is not an uncertain parameter"
        )
        problems.add(
            loc,
            f"a distribution is not allowed for this key: {why} (allowed: {grammar.allowed()})",
            raw,
        )
        return None
    if grammar.per_year:
        return _per_year(raw, number, loc, problems)
    if raw and all(_year(k) is not None for k in raw):
        problems.add(
            loc,
            "a per-year mapping is not allowed for this key: only policy levers vary by year "
            f"(allowed: {grammar.allowed()})",
            raw,
        )
    else:
        problems.add(loc, f"expected a number (allowed: {grammar.allowed()})", raw)
    return None


def _sourced(raw: Mapping, number, grammar: _Grammar, bounds: dict, loc: tuple, problems):
    n_before = len(problems.details)
    for key in raw:
        if key not in ("value", "source"):
            problems.add((*loc, key), "unknown key (allowed keys here: value, source)", raw[key])
    missing = [k for k in ("value", "source") if k not in raw]
    if missing:
        problems.add(
            loc,
            f"a value with its source needs value and source (missing: {', '.join(missing)})",
            raw,
        )
        return None
    source, inner = raw["source"], raw["value"]
    if not isinstance(source, str) or not source.strip():
        problems.add((*loc, "source"), "source must be a non-empty text", source)
    if isinstance(inner, Mapping) and ("value" in inner or "source" in inner):
        problems.add((*loc, "value"), "a value has one source: do not nest {value, source}", inner)
        return None
    value = _parse(inner, number, grammar, bounds, (*loc, "value"), problems)
    if len(problems.details) > n_before:
        return None
    if isinstance(value, (PerYear, Distribution)):
        return Sourced(value, source)
    if isinstance(value, int) and not isinstance(value, bool):
        return SourcedInt(value, source)
    return SourcedFloat(value, source)


def _per_year(raw: Mapping, number, loc: tuple, problems: _Problems) -> PerYear | None:
    n_before = len(problems.details)
    if not raw:
        problems.add(loc, "a per-year mapping needs at least one year", raw)
    values = {}
    for key, item in raw.items():
        year = _year(key)
        if year is None:
            problems.add(
                (*loc, key), "a per-year mapping's keys are calendar years, e.g. 2022", key
            )
            continue
        if isinstance(item, Mapping):
            problems.add((*loc, key), "a year's value is a number", item)
            continue
        values[year] = problems.check((*loc, key), number, item)
    return PerYear.of(values) if len(problems.details) == n_before else None


def _year(key: Any) -> int | None:
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, str) and key.isdigit():  # JSON (and so model_dump) has text keys
        return int(key)
    return None


def _distribution(raw: Mapping, number, bounds: dict, loc: tuple, problems: _Problems):
    n_before = len(problems.details)
    kind = raw["dist"]
    if not isinstance(kind, str) or kind not in FAMILIES:
        problems.add((*loc, "dist"), f"unknown distribution (allowed: {', '.join(FAMILIES)})", kind)
        return None
    needs = FAMILIES[kind]
    allowed = ("dist", *needs, *(k for k in ("min", "max") if k not in needs), "group")
    for key in raw:
        if key not in allowed:
            problems.add(
                (*loc, key),
                f"unknown key for a {kind} distribution (allowed keys here: {', '.join(allowed)})",
                raw[key],
            )
    missing = [k for k in needs if k not in raw]
    if missing:
        problems.add(
            loc,
            f"a {kind} distribution needs {_and(needs)} (missing: {', '.join(missing)})",
            raw,
        )
    params: dict[str, Any] = {}
    for key in allowed[1:-1]:
        if key in raw:
            check = _shape if key in _SHAPES else _non_negative if key == "sd" else number
            params[key] = problems.check((*loc, key), check, raw[key])
    if "group" in raw:
        group = raw["group"]
        if isinstance(group, str) and _GROUP.match(group):
            params["group"] = group
        else:
            problems.add(
                (*loc, "group"),
                "a group is a snake_case name (lower-case letters, digits, _), e.g. pd_level",
                group,
            )
    if len(problems.details) > n_before:
        return None
    dist = Distribution(kind, **params)
    for key, message in _order_problems(dist):
        problems.add((*loc, key), message, params[key])
    for message in _bound_problems(dist, bounds):
        problems.add(loc, message, raw)
    return dist if len(problems.details) == n_before else None


def _shape(value: Any) -> float:
    return _SHAPE.validate_python(_FINITE.validate_python(value))


def _non_negative(value: Any) -> float:
    return _NON_NEGATIVE.validate_python(_FINITE.validate_python(value))


def _order_problems(d: Distribution) -> Iterator[tuple[str, str]]:
    lo, hi = d.min, d.max
    if lo is not None and hi is not None and not lo < hi:
        yield "max", f"max must be greater than min ({lo:g})"
        return
    for key in _CENTRES:
        x = getattr(d, key)
        if x is None:
            continue
        if lo is not None and x < lo:
            yield key, f"{key} must not be below min ({lo:g})"
        if hi is not None and x > hi:
            yield key, f"{key} must not be above max ({hi:g})"
    if d.kind == "lognormal" and d.median is not None and d.median <= 0:
        yield "median", "a lognormal's median must be greater than 0"


def _bound_problems(d: Distribution, bounds: dict) -> Iterator[str]:
    """A bounded key's distribution must stay inside the bounds: say which end is open."""
    lowest = d.min if d.min is not None else _LOWEST.get(d.kind, -math.inf)
    floor = bounds.get("ge", bounds.get("gt"))
    missing = ["min"] if floor is not None and lowest < floor else []
    if ("le" in bounds or "lt" in bounds) and d.max is None:
        missing.append("max")
    if missing:
        yield (
            f"this key must be {_describe(bounds)}, so a {d.kind} distribution here needs "
            f"{_and(missing)} inside those bounds"
        )


def _describe(bounds: dict) -> str:
    signs = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    return " and ".join(f"{signs[k]} {v:g}" for k, v in bounds.items())


def _and(words) -> str:
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# --------------------------------------------------------------------------- annotations


def value_keys(model_cls: type[BaseModel]) -> dict[str, str]:
    """Every key of ``model_cls`` that takes more than a number: pattern -> shape.

    Patterns name mapping entries ``<name>`` (or ``<kind>`` for a party), list items
    ``[]``: ``{"parties.<guarantor>.fee_rate": "per year", "segments.<name>.lgd":
    "uncertain", ...}``.
    """
    out: dict[str, str] = {}
    _collect(model_cls, "", (), out)
    return out


def _collect(tp: Any, prefix: str, metadata: tuple, out: dict[str, str]) -> None:
    grammar = next((m for m in (*metadata, *_metadata(tp)) if isinstance(m, _Grammar)), None)
    if grammar is not None:
        if grammar.per_year or grammar.uncertain:
            out[prefix] = "per year" if grammar.per_year else "uncertain"
        return
    tp = _bare(tp)
    args = get_args(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, field in tp.model_fields.items():
            path = f"{prefix}.{name}" if prefix else name
            _collect(field.annotation, path, tuple(field.metadata), out)
    elif get_origin(tp) in (Union, types.UnionType):
        for member in args:
            _collect(member, prefix, (), out)
    elif get_origin(tp) is dict:
        value = _bare(args[1])
        members = get_args(value) if get_origin(value) in (Union, types.UnionType) else [value]
        for member in members:
            kinds = _kinds(_bare(member))
            label = f"<{kinds[0]}>" if len(kinds) == 1 else "<name>"
            _collect(member, f"{prefix}.{label}", _metadata(args[1]), out)
    elif get_origin(tp) is list:
        _collect(args[0], f"{prefix}[]", (), out)


def _metadata(tp: Any) -> tuple:
    return get_args(tp)[1:] if get_origin(tp) is Annotated else ()


def _bare(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _kinds(model: Any) -> tuple:
    if not (isinstance(model, type) and issubclass(model, BaseModel)) or "kind" not in (
        model.model_fields
    ):
        return ()
    return get_args(model.model_fields["kind"].annotation)


T = TypeVar("T")

#: a number, optionally with its source
Number = Annotated[T, _Grammar()]
#: a number or a per-year mapping (policy levers), optionally with its source
Yearly = Annotated[T, _Grammar(per_year=True)]
#: a number or a distribution (uncertain parameters), optionally with its source
Uncertain = Annotated[T, _Grammar(uncertain=True)]
