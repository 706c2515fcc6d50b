"""The Nylas ingress, ``/webhooks/nylas``: challenge, size limit, signature, parse, enqueue.

The request path does no database work (NYLAS.md 7.2, "ack fast"): it verifies, hands the
notifications to Redis, and answers. A notification is acknowledged only once it is safely
in Redis; when it cannot be, the answer is 503 so that Nylas delivers it again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from domain.errors import MalformedNotification
from domain.notifications import Notification, parse_document
from webhooks import metrics
from webhooks.body import check_depth, gunzip_capped, read_capped_body
from webhooks.enqueue_batcher import EnqueueBatcher
from webhooks.errors import IngressError, InvalidSignature, MalformedBody, MissingChallenge
from webhooks.responses import refusal_response
from webhooks.signature import verify
from workers.enqueue import NotificationEnqueuer
from workers.errors import QueueUnavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IngressConfig:
    """What the ingress needs: the signing secrets, the size limit, and the queue."""

    secrets: Sequence[bytes]
    max_body_bytes: int
    enqueuer: NotificationEnqueuer


class NylasIngress:
    """Handlers for ``GET`` (challenge) and ``POST`` (notifications) on the Nylas webhook URL."""

    def __init__(self, config: IngressConfig) -> None:
        self._config = config
        # Concurrent requests share one Redis round trip (see webhooks.enqueue_batcher).
        self._batcher = EnqueueBatcher(
            lambda batch: run_in_threadpool(config.enqueuer.enqueue, batch)
        )

    async def challenge(self, request: Request) -> Response:
        """Echo the ``challenge`` value as plain text, which is how Nylas verifies the URL."""
        value = request.query_params.get("challenge")
        if value is None:
            refusal = MissingChallenge("missing_challenge", "the 'challenge' parameter is missing")
            return refusal_response(refusal)
        return PlainTextResponse(value)

    async def receive(self, request: Request) -> Response:
        """Verify, parse and enqueue a notification body; answer within Nylas's 10 seconds."""
        try:
            notifications = await self._verified_notifications(request)
            queued, duplicates, ignored = await self._enqueue(notifications)
        except (IngressError, MalformedNotification, QueueUnavailable) as refusal:
            metrics.REJECTED.labels(refusal.reason).inc()
            logger.warning(
                "notification request refused: %s",
                refusal.reason,
                extra={"reason": refusal.reason},
            )
            return refusal_response(refusal)
        return JSONResponse(
            {"status": "accepted", "queued": queued, "duplicates": duplicates, "ignored": ignored}
        )

    async def _verified_notifications(self, request: Request) -> list[Notification]:
        limit = self._config.max_body_bytes
        raw = await read_capped_body(request, limit)
        signature = request.headers.get("x-nylas-signature")
        gzipped = request.headers.get("content-encoding", "").strip().lower() == "gzip"
        try:
            verify(raw, signature, self._config.secrets)
            body = gunzip_capped(raw, limit) if gzipped else raw
        except InvalidSignature:
            # Which bytes Nylas signs under compressed delivery is undocumented (NYLAS.md 1.7):
            # accept a signature over the decompressed body as well.
            if not gzipped or not signature:
                raise
            try:
                body = gunzip_capped(raw, limit)
            except MalformedBody:
                raise InvalidSignature(
                    "bad_signature", "X-Nylas-Signature does not match the body"
                ) from None
            verify(body, signature, self._config.secrets)
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise MalformedBody("malformed_json", f"the body is not valid JSON: {error}") from None
        check_depth(document)
        return parse_document(document)

    async def _enqueue(self, notifications: list[Notification]) -> tuple[int, int, int]:
        routable = [n for n in notifications if n.kind is not None]
        for notification in notifications:
            if notification.kind is None:
                metrics.NOTIFICATIONS.labels("ignored", "unknown").inc()
                logger.info(
                    "notification of an unhandled type acknowledged",
                    extra={
                        "notification_id": notification.notification_id,
                        "type": notification.type,
                    },
                )
        outcomes = await self._batcher.enqueue(routable)
        queued = 0
        for outcome in outcomes:
            outcome_name = "queued" if outcome.queued else "duplicate"
            metrics.NOTIFICATIONS.labels(outcome_name, outcome.notification.trigger).inc()
            if outcome.queued:
                metrics.count_queued(outcome.notification)
            queued += outcome.queued
            # A queued notification is logged at INFO by the worker that handles it, with its
            # outcome; here that line would cost a fifth of the request (BENCHMARKS.md).
            level = logging.DEBUG if outcome.queued else logging.INFO
            if logger.isEnabledFor(level):
                logger.log(
                    level,
                    "notification %s",
                    outcome_name,
                    extra={
                        "notification_id": outcome.notification.notification_id,
                        "grant_id": outcome.notification.grant_id,
                        "type": outcome.notification.type,
                    },
                )
        return queued, len(outcomes) - queued, len(notifications) - len(routable)


def nylas_routes(config: IngressConfig) -> list[Route]:
    """The routes of the Nylas ingress, to mount under the application."""
    ingress = NylasIngress(config)
    return [
        Route("/webhooks/nylas", ingress.challenge, methods=["GET"]),
        Route("/webhooks/nylas", ingress.receive, methods=["POST"]),
    ]
