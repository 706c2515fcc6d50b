"""What the CRM sends, read through typed models (pydantic) before any rule applies.

A model says the shape of a request: which fields, of which types, within which bounds, and
no others. It validates, names what is wrong, and writes the OpenAPI schema (``api.openapi``),
so that the shape is written once. The rules of a field (an address that is an address, a
folder setting, a time with a zone) stay plain functions of the domain, applied to what the
model let through.

Every refusal is a :class:`InvalidInput`: the reason of the document (``invalid_rep``...), or
``unknown_field`` for a key the model does not have (a typo such as ``calendar_synk`` would
otherwise be ignored, and the setting silently left as it was), and the list of ``fields``
with their path and what was expected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    WithJsonSchema,
)

from domain.errors import DomainError
from domain.text import clipped, id_problem
from domain.times import parse_rfc3339

M = TypeVar("M", bound=BaseModel)

UNKNOWN_FIELD = "unknown_field"
# At most this many fields are named in one refusal: a hostile body may be wrong everywhere.
MAX_FIELDS_NAMED = 20


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


# Text with something in it besides spaces (a name, a hint, a URL).
NonBlank = Annotated[str, AfterValidator(_not_blank), Field(json_schema_extra={"pattern": r"\S"})]


def _one_line(value: str) -> str:
    problem = id_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


# A name people read in tables and prompts (an organization's, a token's): one line, no
# control character nor bidirectional override, which would fake lines or reorder text.
DisplayName = Annotated[NonBlank, AfterValidator(_one_line)]


def _zoned_time(value: object) -> datetime:
    parsed = parse_rfc3339(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValueError("must be an RFC 3339 time with a zone, e.g. 2026-11-01T00:00:00Z")
    return parsed


def _iso_date(value: object) -> date:
    if isinstance(value, str) and len(value) == len("YYYY-MM-DD"):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("must be YYYY-MM-DD")


# An instant as JSON writes it: RFC 3339 text with its zone (a time without one is refused:
# whose 08:30 would it be?). In a body or a query string alike.
ZonedTime = Annotated[
    datetime,
    BeforeValidator(_zoned_time),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
# A calendar day as JSON writes it, YYYY-MM-DD.
IsoDate = Annotated[
    date, BeforeValidator(_iso_date), WithJsonSchema({"type": "string", "format": "date"})
]


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One field that is wrong: where (``settings.calendar_days_after``) and what is wrong."""

    path: str
    problem: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "problem": self.problem}


class InvalidInput(DomainError):
    """Raised when a document the CRM sent does not have the model's shape."""

    def __init__(self, reason: str, message: str, fields: Sequence[FieldProblem]) -> None:
        super().__init__(reason, message)
        self.fields = tuple(fields)


def read_model(
    model: type[M],
    document: object,
    reason: str,
    item_reason: Callable[[str], str | None] | None = None,
) -> M:
    """``document`` (decoded JSON) as ``model``, validated strictly: JSON's own types, no
    coercion of ``"yes"`` to true or ``"14"`` to 14.

    Raises:
        InvalidInput: ``unknown_field`` when it has a key the model does not, else ``reason``;
            its message names the first field that is wrong and its ``fields`` each of them.
            ``item_reason`` may give another reason by the first wrong field's path (a
            contact of a list is ``invalid_contact``, the list ``invalid_contacts``).
    """
    try:
        return model.model_validate(document, strict=True)
    except ValidationError as error:
        raise invalid_input(error, reason, item_reason) from None


def invalid_input(
    error: ValidationError,
    reason: str,
    item_reason: Callable[[str], str | None] | None = None,
) -> InvalidInput:
    """The refusal for a failed validation: unknown keys first, as they are the likely typo."""
    details = error.errors(include_url=False, include_input=False, include_context=False)
    unknown = [d for d in details if d["type"] == "extra_forbidden"]
    if unknown:
        paths = sorted({_path(d["loc"]) for d in unknown})
        named = [FieldProblem(path, "not a field of this document") for path in paths]
        listed = ", ".join(repr(p.path) for p in named[:5])
        return InvalidInput(UNKNOWN_FIELD, f"unknown field {listed}", named[:MAX_FIELDS_NAMED])
    named = field_problems(error)
    first = named[0]
    where = f"'{first.path}'" if first.path else "the body"
    given = (item_reason(first.path) if item_reason is not None else None) or reason
    return InvalidInput(given, f"{where}: {first.problem}", named)


def field_problems(error: ValidationError) -> list[FieldProblem]:
    """Each field ``error`` found wrong, once, in the order found, at most
    ``MAX_FIELDS_NAMED``."""
    details = error.errors(include_url=False, include_input=False, include_context=False)
    return _merged([FieldProblem(_path(d["loc"]), _problem(d)) for d in details])[:MAX_FIELDS_NAMED]


# How pydantic names the member of a union a value failed (``str``, ``list[str]``...): a step
# of the location that is not a field.
_UNION_MEMBERS = frozenset({"str", "int", "bool", "float", "none", "list", "dict"})


def _path(location: Sequence[Any]) -> str:
    """``("settings", "folders", 2)`` as ``settings.folders[2]``, union members left out."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif "[" not in str(part) and str(part) not in _UNION_MEMBERS:
            # An unknown key is the client's own text, of any length: named by its start.
            name = clipped(str(part))
            path += f".{name}" if path else name
    return path


def _merged(problems: Sequence[FieldProblem]) -> list[FieldProblem]:
    """One problem per path: a value that fits no member of a union is wrong once, with
    each member's expectation (``must be a valid string or must be a valid list``)."""
    by_path: dict[str, list[str]] = {}
    for problem in problems:
        found = by_path.setdefault(problem.path, [])
        if problem.problem not in found:
            found.append(problem.problem)
    return [FieldProblem(path, " or ".join(found)) for path, found in by_path.items()]


def _problem(detail: Any) -> str:
    message = str(detail["msg"])
    if detail["type"] == "model_type" or detail["type"] == "dict_type":
        return "must be a JSON object"
    if detail["type"] == "missing":
        return "is required"
    if detail["type"] == "bool_type":
        return "must be true or false"
    if detail["type"] in ("string_too_short", "string_too_long"):
        # "String should have at most 1024 characters"
        return "must be text of" + message.split("should have", 1)[-1]
    if detail["type"] in ("too_short", "too_long"):
        # "List should have at most 50 items after validation, not 51"
        return "must have" + message.split(" after validation")[0].split("should have", 1)[-1]
    if detail["type"] == "value_error" and message.startswith("Value error, "):
        return message[len("Value error, ") :]
    if message.startswith("Input should be"):
        return "must be" + message[len("Input should be") :]
    return message[0].lower() + message[1:] if message else "is not valid"
