"""The one place where refusals of the Nylas ingress become HTTP responses.

Nylas retries 503 (and 408, 429, 502) but not every 5xx, so "cannot queue right now" is 503:
the notification comes again later rather than being lost.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from domain.errors import MalformedNotification
from webhooks.errors import (
    IngressBusy,
    IngressError,
    InvalidSignature,
    MalformedBody,
    MissingChallenge,
    PayloadTooLarge,
)
from workers.errors import QueueUnavailable

Refusal = IngressError | MalformedNotification | QueueUnavailable

STATUS_BY_REFUSAL: dict[type[Exception], int] = {
    MissingChallenge: 400,
    MalformedBody: 400,
    MalformedNotification: 400,
    InvalidSignature: 401,
    PayloadTooLarge: 413,
    IngressBusy: 503,
    QueueUnavailable: 503,
}

RETRY_AFTER_SECONDS = "5"


def refusal_response(refusal: Refusal) -> JSONResponse:
    """A JSON error response with the refusal's reason and a status Nylas understands."""
    status = STATUS_BY_REFUSAL[type(refusal)]
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if status == 503 else None
    if isinstance(refusal, QueueUnavailable):
        message = "the queue is unavailable; retry later"
    else:
        message = refusal.message
    return JSONResponse(
        {"error": {"reason": refusal.reason, "message": message}},
        status_code=status,
        headers=headers,
    )
