"""The Nylas ingress, ``/webhooks/nylas``: challenge, size limit, signature, parse, enqueue.

The request path does no database work (NYLAS.md 7.2, "ack fast"): it verifies, hands the
notifications to Redis, and answers. A notification is acknowledged only once it is safely
in Redis; when it cannot be, the answer is 503 so that Nylas delivers it again.

``/webhooks/nylas/{org_id}`` is an organization's own URL, for its own Nylas application:
verified with that organization's secrets only (``webhooks.keys``). An organization without
such secrets, or one that does not exist, is refused as a bad signature is, so the URL tells
no one which organizations exist. Notifications that came through an organization's URL or
application are queued as its own (``Notification.via_org``): the workers act on them only
for that organization's grants.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import anyio
import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from domain.errors import MalformedNotification
from domain.notifications import Notification, parse_document
from domain.text import document_without_nul
from webhooks import metrics
from webhooks.body import check_depth, gunzip_capped, gunzip_pieces, read_capped_chunks
from webhooks.enqueue_batcher import EnqueueBatcher
from webhooks.errors import IngressError, InvalidSignature, MalformedBody, MissingChallenge
from webhooks.keys import IngressKeys, KeyRing, application_of
from webhooks.responses import refusal_response
from webhooks.signature import verify, verify_pieces, well_formed
from webhooks.unauthenticated import UnauthenticatedWork
from workers.enqueue import NotificationEnqueuer
from workers.errors import QueueUnavailable
from workers.redis_outages import REDIS_OUTAGE

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Bodies up to this size are verified and parsed on the event loop (tens of microseconds);
# larger ones, and every gzip body, in a thread.
INLINE_BODY_BYTES = 64 * 1024
# Nylas challenges are short random strings; the echo is not a reflector of arbitrary text.
MAX_CHALLENGE_CHARS = 1024


@dataclass(frozen=True, slots=True)
class IngressConfig:
    """What the ingress needs: the signing secrets, the size limit, the queue, and how long
    to hold a request that failed authentication before answering it."""

    keys: KeyRing
    max_body_bytes: int
    enqueuer: NotificationEnqueuer
    refusal_delay_seconds: float = 0.0


class NylasIngress:
    """Handlers for ``GET`` (challenge) and ``POST`` (notifications) on the Nylas webhook URL."""

    def __init__(self, config: IngressConfig) -> None:
        self._config = config
        self._unauthenticated = UnauthenticatedWork()
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
        if len(value) > MAX_CHALLENGE_CHARS:
            refusal = MissingChallenge(
                "invalid_challenge", f"the 'challenge' is at most {MAX_CHALLENGE_CHARS} characters"
            )
            return refusal_response(refusal)
        # Echoed text from anyone: declared as plain text, never sniffed as something else.
        return PlainTextResponse(value, headers={"X-Content-Type-Options": "nosniff"})

    async def receive(self, request: Request) -> Response:
        """Verify, parse and enqueue a notification body; answer within Nylas's 10 seconds."""
        return await self._receive(request, None)

    async def receive_for_org(self, request: Request) -> Response:
        """As :meth:`receive`, on an organization's own URL, with its secrets only."""
        return await self._receive(request, request.path_params["org_id"])

    async def _receive(self, request: Request, org_id: str | None) -> Response:
        try:
            signers = _Signers(self._config.keys.current, org_id)
            notifications = await self._verified_notifications(request, signers)
            queued, duplicates = await self._enqueue(notifications)
        except (IngressError, MalformedNotification, QueueUnavailable) as refusal:
            metrics.REJECTED.labels(refusal.reason).inc()
            if isinstance(refusal, QueueUnavailable):
                # Every request is refused while Redis is down: the outage is logged when it
                # starts and when it ends, not once per 503 (the metric counts each).
                REDIS_OUTAGE.failed(refusal)
            else:
                logger.warning(
                    "notification request refused: %s",
                    refusal.reason,
                    extra={"reason": refusal.reason},
                )
            if isinstance(refusal, InvalidSignature):
                # A client looping unsigned bodies is answered at this pace, so one connection
                # cannot make the ingress check bodies as fast as it can send them; the wait
                # costs a sleeping coroutine, and the body is already released.
                await anyio.sleep(self._config.refusal_delay_seconds)
            return refusal_response(refusal)
        REDIS_OUTAGE.succeeded()
        return JSONResponse({"status": "accepted", "queued": queued, "duplicates": duplicates})

    async def _verified_notifications(
        self, request: Request, signers: _Signers
    ) -> list[Notification]:
        """Authenticate and parse a body, doing bounded, linear work before authentication.

        A small plain body (the usual notification) is checked inline, where a thread would
        cost more than the work. Any other body is checked in the one low-priority thread of
        unauthenticated work (webhooks.unauthenticated), so that however many such requests
        arrive they cannot take the event loop or the threads that signed notifications need:
        the HMAC over the wire bytes first, and only when it fails on a gzip body with a
        well-formed signature, one over the decompressed bytes (NYLAS.md 1.7), piece by piece
        within the size and member limits. Once authenticated, a large body is decompressed
        and parsed in the shared thread pool.
        """
        limit = self._config.max_body_bytes
        chunks = await read_capped_chunks(request, limit)
        signature = request.headers.get("x-nylas-signature")
        gzipped = request.headers.get("content-encoding", "").strip().lower() == "gzip"
        if sum(map(len, chunks)) <= INLINE_BODY_BYTES and not gzipped:
            raw = b"".join(chunks)
            via_org = signers.verify(raw, signature)
            return signers.claimed(decode_notifications(raw), via_org)
        raw = await self._unauthenticated.run(
            self._authenticate, chunks, signature, gzipped, signers.secrets
        )
        body = await run_in_threadpool(gunzip_capped, raw, limit) if gzipped else raw
        notifications = await self._off_loop(
            len(body) <= INLINE_BODY_BYTES, decode_notifications, body
        )
        return signers.claimed(notifications, signers.org_id)

    def _authenticate(
        self,
        chunks: list[bytes],
        signature: str | None,
        gzipped: bool,
        secrets: Sequence[bytes],
    ) -> bytes:
        """The body as sent, once ``signature`` is found to sign it as sent or decompressed.

        Runs in the low-priority thread: an unauthenticated body is joined here only to be
        decompressed, and never held decompressed (its signature is checked piece by piece).

        Whether a body was malformed or would have inflated past the limit is not told before
        authentication: every failure is the same 401.

        A large or compressed body is verified with the secrets of the URL it came to (the
        deployment's, or the organization's): it is not parsed before it authenticates, so
        its application id cannot choose other secrets. An organization's own application
        that sends such bodies uses its own URL.
        """
        limit = self._config.max_body_bytes
        try:
            verify_pieces(chunks, signature, secrets)
            return b"".join(chunks)
        except InvalidSignature:
            if not gzipped or not well_formed(signature):
                raise
        raw = b"".join(chunks)
        try:
            verify_pieces(gunzip_pieces(raw, limit), signature, secrets)
        except IngressError:
            raise InvalidSignature(
                "bad_signature", "X-Nylas-Signature does not match the body"
            ) from None
        return raw

    @staticmethod
    async def _off_loop(inline: bool, work: Callable[..., T], *args: Any) -> T:
        return work(*args) if inline else await run_in_threadpool(work, *args)

    async def _enqueue(self, notifications: list[Notification]) -> tuple[int, int]:
        """Queue every notification (one crmsync has no handler for is kept on the ``other``
        queue, rule N3); how many were queued and how many were duplicates."""
        outcomes = await self._batcher.enqueue(notifications)
        queued = 0
        for outcome in outcomes:
            outcome_name = "queued" if outcome.queued else "duplicate"
            trigger = metrics.trigger_label(outcome.notification)
            metrics.NOTIFICATIONS.labels(outcome_name, trigger).inc()
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
        return queued, len(outcomes) - queued


def decode_notifications(body: bytes) -> list[Notification]:
    """Parse an authenticated body into its notifications (JSON, depth, envelope)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise MalformedBody("malformed_json", f"the body is not valid JSON: {error}") from None
    check_depth(document)
    if b"\\u0000" in body:
        # PostgreSQL stores no NUL: replaced before anything (the v2 dedupe hash included)
        # is computed from the document, so every delivery of it is the same notification.
        document = document_without_nul(document)
    return parse_document(document)


_NO_ONES_SECRET = (secrets.token_bytes(32),)


class _Signers:
    """Whose secrets may sign one request's body: those of the organization whose URL it
    came to, or the deployment's and then those of the application the body names."""

    def __init__(self, keys: IngressKeys, org_id: str | None) -> None:
        self._keys = keys
        self.org_id = org_id
        # An organization without secrets (or none of that id) costs the same work as one
        # with a secret: a secret no one knows, so a refusal's timing names no organization.
        own = keys.of_org(org_id) if org_id is not None else ()
        self.secrets = keys.deployment if org_id is None else own or _NO_ONES_SECRET

    def verify(self, raw: bytes, signature: str | None) -> str | None:
        """Verify a small plain body; the organization it came through (None: the
        deployment's secrets signed it).

        Raises:
            InvalidSignature: no secret it may be verified with signs it.
        """
        try:
            verify(raw, signature, self.secrets)
            return self.org_id
        except InvalidSignature:
            if self.org_id is not None or not self._keys.applications:
                raise
        own = self._keys.org_of_application(application_of(raw))
        if own is None:
            raise InvalidSignature("bad_signature", "X-Nylas-Signature does not match the body")
        verify(raw, signature, self._keys.of_org(own))
        return own

    @staticmethod
    def claimed(notifications: list[Notification], via_org: str | None) -> list[Notification]:
        if via_org is None:
            return notifications
        return [replace(notification, via_org=via_org) for notification in notifications]


def nylas_routes(config: IngressConfig) -> list[Route]:
    """The routes of the Nylas ingress, to mount under the application."""
    ingress = NylasIngress(config)
    return [
        Route("/webhooks/nylas", ingress.challenge, methods=["GET"]),
        Route("/webhooks/nylas", ingress.receive, methods=["POST"]),
        # Nylas checks an organization's URL with the same challenge when it is registered.
        Route("/webhooks/nylas/{org_id}", ingress.challenge, methods=["GET"]),
        Route("/webhooks/nylas/{org_id}", ingress.receive_for_org, methods=["POST"]),
    ]
