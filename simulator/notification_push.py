"""The simulator's way out: the notifications a fake mailbox queued, pushed to crmsync signed.

Nylas POSTs each notification to the application's webhook URL, signed with the webhook
secret (``X-Nylas-Signature``, NYLAS.md 1.9), and retries one that was not answered 200.
``POST /_simulator/notifications/drain`` is when the simulator does the same: with a
:class:`WebhookTarget` (``crmsync simulator --webhook-url ... --webhook-secret ...``) it delivers
what is queued, oldest first, and answers what crmsync said to each; without one (tests, the
embedded mode) it only hands them back, for the caller to deliver.

Each notification is signed with the secret of the application its grant belongs to, when that
application has its own (``FakeNylas.add_application(..., webhook_secret=...)``; Nylas signs
with the webhook secret of the application the webhook belongs to), else with the target's.

A notification crmsync did not accept is queued again with ``webhook_delivery_attempt`` one
higher (the same id, so crmsync's dedupe sees a retry), up to Nylas's three attempts. When
crmsync cannot be reached at all, the rest of the drain is put back untried: the next drain
delivers them in their order.
"""

from __future__ import annotations

import asyncio
import functools
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulator.applications import notification_grant
from simulator.mailbox import FakeNylas, Wire
from simulator.notifications import encode, sign

MAX_ATTEMPTS = 3  # webhook_delivery_attempt runs from 1 to 3 (NYLAS.md 1.1)
TIMEOUT_SECONDS = 10.0  # Nylas gives a webhook endpoint 10 seconds
MAX_ANSWER_BYTES = 4096  # what is kept of crmsync's answer, for the drain's report
MAX_PER_DRAIN = 500  # one drain's work stays bounded; the rest waits for the next drain


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """Where notifications go (crmsync's ``/webhooks/nylas``) and the secret they are signed
    with (one of crmsync's ``NYLAS_WEBHOOK_SECRETS``)."""

    url: str
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Delivered:
    """What one POST of one notification came to: crmsync's status, or why there was none."""

    id: str
    type: str
    attempt: int
    status: int | None
    answer: str | None = None
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == 200


def signing_secret(fake: FakeNylas, target: WebhookTarget, notification: Wire) -> str:
    """The secret that signs ``notification``: its grant's application's, else the target's."""
    own = fake.applications.webhook_secret_of_grant(notification_grant(notification))
    return target.secret if own is None else own


def post_signed(target: WebhookTarget, notification: Wire, secret: str | None = None) -> Delivered:
    """POST ``notification`` to ``target`` as Nylas does, signed with ``secret`` (the
    target's by default); blocking (run it off the loop)."""
    body = encode(notification)
    request = urllib.request.Request(  # noqa: S310  (the operator's own crmsync)
        target.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Nylas-Signature": sign(body, target.secret if secret is None else secret),
        },
    )
    delivered = functools.partial(
        Delivered,
        str(notification.get("id")),
        str(notification.get("type")),
        _attempt(notification),
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            answer = response.read(MAX_ANSWER_BYTES).decode(errors="replace")
            return delivered(response.status, answer=answer)
    except urllib.error.HTTPError as refusal:
        answer = refusal.read(MAX_ANSWER_BYTES).decode(errors="replace")
        return delivered(refusal.code, answer=answer)
    except (urllib.error.URLError, OSError) as failure:
        reason = getattr(failure, "reason", failure)
        return delivered(None, error=str(reason))


async def deliver(fake: FakeNylas, target: WebhookTarget) -> tuple[list[Wire], list[Delivered]]:
    """Deliver the queued notifications (the oldest :data:`MAX_PER_DRAIN`) to ``target``, and
    requeue what was not accepted: the notifications tried, and how each delivery went."""
    drained = fake.drain_notifications()
    queued, later = drained[:MAX_PER_DRAIN], drained[MAX_PER_DRAIN:]
    report: list[Delivered] = []
    again: list[Wire] = []
    for index, notification in enumerate(queued):
        secret = signing_secret(fake, target, notification)
        result = await asyncio.to_thread(post_signed, target, notification, secret)
        report.append(result)
        if result.status is None:  # crmsync is not there: keep the rest, in order, untried
            again += [_retry(notification), *queued[index + 1 :]]
            break
        if not result.accepted:
            again.append(_retry(notification))
    fake.requeue_notifications([n for n in again if _attempt(n) <= MAX_ATTEMPTS] + later)
    return queued, report


def drain_routes(fake: FakeNylas, target: WebhookTarget | None) -> list[Route]:
    async def drain(request: Request) -> JSONResponse:
        """``POST /_simulator/notifications/drain``: the notifications Nylas would have sent
        since the last drain (oldest first). With a webhook target they are also delivered,
        and ``deliveries`` says how crmsync answered each; without one they are only
        returned."""
        if target is None:
            return JSONResponse({"data": fake.drain_notifications()})
        drained, report = await deliver(fake, target)
        answer: dict[str, Any] = {
            "data": drained,
            "deliveries": [asdict(r) for r in report],
            "delivered": sum(r.accepted for r in report),
            "webhook_url": target.url,
        }
        return JSONResponse(answer)

    return [Route("/_simulator/notifications/drain", drain, methods=["POST"])]


def _attempt(notification: Wire) -> int:
    attempt = notification.get("webhook_delivery_attempt")
    return attempt if isinstance(attempt, int) else 1


def _retry(notification: Wire) -> Wire:
    return {**notification, "webhook_delivery_attempt": _attempt(notification) + 1}
