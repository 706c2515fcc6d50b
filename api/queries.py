"""Query strings read through typed models, as bodies are.

An operation that takes query parameters names a model of them (``api.operations``): its
fields are the parameters, their types and bounds the checks, their descriptions the
document's, so the OpenAPI parameters and the reading are one declaration. A query string is
text, so values are read leniently into their type (``"50"`` is the number 50) through the
few types below, which accept only what a CRM would write: ASCII digits, an RFC 3339 time
with its zone, ``true`` or ``false``.
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema
from starlette.requests import Request

from api.errors import ApiError
from domain.inputs import ZonedTime, field_problems
from domain.text import whole_number

Q = TypeVar("Q", bound=BaseModel)

# A number in a query string (limit, wait, heartbeat) has at most this many digits: more than
# any of them allows, few enough that reading it costs nothing.
QUERY_NUMBER_DIGITS = 6


def _whole_number(value: object) -> object:
    if not isinstance(value, str):
        return value
    number = whole_number(value, QUERY_NUMBER_DIGITS)
    if number is None:
        raise ValueError("must be a whole number written in ASCII digits")
    return number


def _flag(value: object) -> object:
    if not isinstance(value, str):
        return value
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise ValueError("must be true or false")
    return lowered == "true"


# Put after a number's bounds (``Annotated[int, Field(ge=1, le=200), WHOLE_NUMBER]``), so
# that the schema shows them as minimum and maximum.
WHOLE_NUMBER = BeforeValidator(_whole_number)
Time = ZonedTime
Flag = Annotated[
    bool,
    BeforeValidator(_flag),
    WithJsonSchema({"type": "string", "enum": ["true", "false"]}),
]


class QueryModel(BaseModel):
    """The base of every query model: no parameter it does not name, none changed after."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class NoQuery(QueryModel):
    """The query of an operation that takes no parameters."""


def parameter_names(model: type[BaseModel]) -> frozenset[str]:
    """The names a query string may use for ``model``'s fields (their aliases)."""
    return frozenset(field.alias or name for name, field in model.model_fields.items())


def read_query(request: Request, model: type[Q]) -> Q:
    """The request's query string as ``model``.

    A parameter given twice with the same value counts once; with two values it is
    refused, as no one can say which was meant (``?dry_run=true&dry_run=false`` on a delete).

    Raises:
        ApiError: 400 ``duplicate_parameter``, or ``invalid_<parameter>`` naming the first
            parameter that is wrong (each of them in ``fields``); ``unknown_parameter`` is
            refused before, by the route.
    """
    for name in request.query_params:
        if len(set(request.query_params.getlist(name))) > 1:
            raise ApiError(
                400,
                "duplicate_parameter",
                f"'{name[:64]}' is given more than once, with different values",
            )
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as error:
        problems = field_problems(error)
        first = problems[0]
        raise ApiError(
            400,
            f"invalid_{first.path}",
            f"'{first.path}' {first.problem}",
            details={"fields": [p.to_json() for p in problems]},
        ) from None


class PageQuery(QueryModel):
    """A page of a list in id order: at most ``limit`` after ``cursor``."""

    limit: Annotated[int, Field(ge=1, le=200), WHOLE_NUMBER] = 50
    cursor: str | None = Field(None, description="next_cursor of the page before")


class LargePageQuery(PageQuery):
    """A page of a list that a CRM reads whole (contacts): larger pages."""

    limit: Annotated[int, Field(ge=1, le=1000), WHOLE_NUMBER] = 100
