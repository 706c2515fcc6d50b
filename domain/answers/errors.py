"""The shape of every refusal: ``{"error": {"reason", "message", ...}}``."""

from __future__ import annotations

from typing import Annotated, NotRequired

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict


class FieldProblem(TypedDict):
    path: Annotated[str, Field(description="settings.calendar_days_after, contacts[2].emails[0]")]
    problem: str


@with_config(ConfigDict(extra="allow"))
class ErrorDetail(TypedDict):
    """What was refused: a stable ``reason`` to act on and a ``message`` to show; some
    refusals say more (``resync`` on cursor_expired)."""

    reason: str
    message: str
    fields: NotRequired[
        Annotated[
            list[FieldProblem],
            Field(
                description="for a body or query of the wrong shape: each field that is wrong "
                "(reason unknown_field: each key the document does not have)"
            ),
        ]
    ]


class Error(TypedDict):
    error: ErrorDetail
