"""The building blocks every scenario model shares: a frozen, strict base and bounded numbers.

Numbers are strict where YAML could fool an analyst and lax where it could not:

* every number is finite: ``.inf`` and ``.nan`` are refused everywhere (a cap that means
  "none" is written ``null``);
* a boolean is never a number: ``lgd: true`` or ``paths: true`` is an error, not 1;
* an integer is a fine float (``fee_rate: 1`` is 1.0), and an integral float a fine
  integer (``paths: 1e4``), as pydantic's lax mode has it.

Pydantic's strict mode would refuse ``1e4`` for an integer and year keys read back from
JSON ("2022"), so the boolean rule is added to pydantic's own number checks instead: every
``float`` and ``int`` check in a model's schema (fields, list items, mapping keys and
values, the value grammar's numbers) first refuses a bool. ``tests/test_validation.py``
sets every number of the shipped scenarios to ``true`` and ``.nan`` to keep it so.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, ValidationError
from pydantic_core import CoreSchema, InitErrorDetails, PydanticCustomError, core_schema

#: the largest amount of money (CNY) any key may hold: about 8x China's 2023 GDP (126
#: trillion CNY). Results sum amounts over months, segments, parties and paths; larger
#: inputs only overflow them (net assets of 1e308 gave infinite capital).
MAX_MONEY = 1e15


def refuse_bool(value: Any) -> Any:
    """A YAML ``true``/``false`` where a number is expected is a mistake, not 1 or 0."""
    if isinstance(value, bool):
        raise PydanticCustomError(
            "bool_not_number",
            "expected a number, not true/false (YAML reads true, false as booleans)",
        )
    return value


def _refusing_bools(schema: Any) -> Any:
    """``schema`` with every float and int check preceded by :func:`refuse_bool`."""
    if isinstance(schema, list):
        return [_refusing_bools(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") in ("float", "int"):
        return core_schema.no_info_before_validator_function(refuse_bool, schema)
    if schema.get("type") == "function-before" and schema.get("function", {}).get("function") is (
        refuse_bool
    ):
        return schema  # a nested model's schema, already done
    return {key: _refusing_bools(value) for key, value in schema.items()}


class Frozen(BaseModel):
    """A scenario section: unknown keys are errors, and a loaded scenario never changes.

    Numbers are finite and never booleans (see the module doc).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler, /
    ) -> CoreSchema:
        return _refusing_bools(handler(source))


def fail(problems) -> None:
    """Raise one validation error per (location, message, value), located in the YAML.

    Cross-section checks run on the whole scenario but must point at the key to fix.
    """
    if problems:
        raise ValidationError.from_exception_data(
            "Scenario",
            [
                InitErrorDetails(
                    type=PydanticCustomError("scenario", message), loc=tuple(loc), input=value
                )
                for loc, message, value in problems
            ],
        )


def unlike(x: float, other: float) -> str:
    """``x`` with as few digits as show it is not ``other``: the sum 1.0000001 is not "1".

    >>> unlike(1.0000001, 1.0), unlike(0.6, 1.0), unlike(0.010000000001, 0.01)
    ('1.0000001', '0.6', '0.010000000001')
    """
    for digits in range(6, 18):
        if f"{x:.{digits}g}" != f"{other:.{digits}g}":
            return f"{x:.{digits}g}"
    return repr(x)


Share = Annotated[float, Field(ge=0.0, le=1.0, json_schema_extra={"unit": "1"})]
Money = Annotated[float, Field(ge=0.0, le=MAX_MONEY, json_schema_extra={"unit": "CNY"})]
