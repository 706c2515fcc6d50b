"""Delivering a change to a CRM subscriber as a signed webhook (S3): load, send, decide, save.

One attempt per run, and only when the delivery is due: the run first claims the attempt
(a duplicate message, a sweep that raced the queue or a retry that came early does
nothing). The HTTP call happens outside any database transaction (a slow endpoint must not
hold locks); its outcome is recorded, whatever the endpoint answered (its text made
printable, its ``Retry-After`` bounded, an unexpected failure recorded as an attempt with no
status), then the verdict decides: delivered;
refused for good (a 4xx other than 408/429: no retry); or retried on the Svix-like schedule
through the queue (``dramatiq.Retry`` with the delay), until the endpoint has failed for
``disable_after`` (the subscription is disabled, saying why) or the schedule is spent (the
delivery is marked exhausted and Dramatiq puts its message in the dead letters).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dramatiq import Retry
from prometheus_client import Counter
from sqlmodel import Session

from domain.outbound_answers import printable_excerpt
from domain.outbound_webhooks import (
    Verdict,
    next_retry,
    secrets_in_use,
    should_disable,
    signature_header,
    verdict_of,
)
from domain.times import format_time
from storage.engine import transaction
from storage.subscriptions import (
    ACTIVE,
    CANCELLED,
    DELIVERED,
    EXHAUSTED,
    FAILED,
    claim_attempt,
    disable,
    record_attempt,
    subscription_of,
)
from storage.tables import DeliveryRow, SubscriptionRow
from workers.context import WorkerContext
from workers.outbound_http import OutboundClient

logger = logging.getLogger(__name__)

USER_AGENT = "crmsync-webhooks/1"
# A message arriving this early for its attempt still makes it: clocks of processes differ.
DUE_SLACK = timedelta(seconds=2)
# How long after its timeout an attempt in flight keeps its claim: past it, a worker that
# died mid-attempt leaves the delivery to the sweep.
CLAIM_MARGIN = timedelta(minutes=1)

# What an attempt came to (the label of DELIVERIES).
OUTCOME_DELIVERED = "delivered"  # 2xx
OUTCOME_REFUSED = "refused"  # a 4xx that retrying cannot help: failed for good
OUTCOME_RETRY_SCHEDULED = "retry_scheduled"  # no answer, 408, 429 or 5xx: tried again later
OUTCOME_DISABLED = "disabled"  # the endpoint failed too long: its subscription was disabled
OUTCOME_EXHAUSTED = "exhausted"  # the schedule is spent: the message goes to the dead letters
OUTCOME_CANCELLED = "cancelled"  # not attempted: the subscription was no longer active

DELIVERIES = Counter(
    "crmsync_webhook_deliveries_total",
    "Outbound webhook delivery attempts to CRM subscribers, by outcome (delivered, refused, "
    "retry_scheduled, disabled, exhausted, cancelled).",
    ["outcome"],
)


class DeliveryExhausted(Exception):
    """Raised when every scheduled attempt of a delivery failed: Dramatiq dead-letters it."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What the endpoint answered: a status (None when nothing came back) and its waits."""

    status_code: int | None
    retry_after: timedelta | None
    error: str | None


Poster = Callable[[str, bytes, dict[str, str], float], Answer]


def poster(client: OutboundClient) -> Poster:
    """A Poster sending through ``client`` (workers.outbound_http: checked addresses, one
    deadline, bounded reads, classified errors)."""

    def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
        reply = client.post(url, body, headers, timeout)
        return Answer(reply.status_code, reply.retry_after, reply.error)

    return post


def deliver(context: WorkerContext, delivery_id: int, post: Poster | None = None) -> None:
    """Make one attempt at delivery ``delivery_id``, through ``post`` or else the context's
    outbound client (checked addresses, one deadline, bounded reads)."""
    now = context.clock()
    held_until = now + timedelta(seconds=context.delivery_timeout_seconds) + CLAIM_MARGIN
    with transaction(context.engine) as session:
        if not claim_attempt(
            session, delivery_id, now, due_by=now + DUE_SLACK, held_until=held_until
        ):
            return  # done, not due or in flight: a duplicate message, or a sweep that raced
        delivery = session.get(DeliveryRow, delivery_id)
        assert delivery is not None
        subscription = subscription_of(session, delivery)
        outgoing = _outgoing(delivery, subscription, now) if subscription.status == ACTIVE else None
        if outgoing is None:
            delivery.state = CANCELLED
            session.add(delivery)
    if outgoing is None:
        DELIVERIES.labels(OUTCOME_CANCELLED).inc()
        return
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": outgoing.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            outgoing.secrets, outgoing.message_id, timestamp, outgoing.body
        ),
    }
    post = post or poster(context.outbound)
    started = time.monotonic()
    try:
        answer = post(outgoing.url, outgoing.body, headers, context.delivery_timeout_seconds)
    except Exception as failure:  # recorded as an attempt: never an unrecorded, due delivery
        logger.exception("delivery attempt failed unexpectedly", extra={"delivery_id": delivery_id})
        answer = Answer(None, None, f"unexpected_error: {type(failure).__name__}")
    answer = Answer(answer.status_code, answer.retry_after, printable_excerpt(answer.error))
    latency_ms = int((time.monotonic() - started) * 1000)
    retry_in = _record(context, delivery_id, answer, latency_ms)
    if retry_in is not None:
        raise Retry(f"delivery {delivery_id} retried", delay=int(retry_in.total_seconds() * 1000))


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """What one attempt sends, read inside the transaction and sent after it."""

    url: str
    secrets: tuple[str, ...]
    message_id: str
    body: bytes


def _outgoing(delivery: DeliveryRow, subscription: SubscriptionRow, now: datetime) -> _Outgoing:
    body = json.dumps(
        {"type": delivery.change_type, "timestamp": format_time(now), "data": delivery.payload},
        separators=(",", ":"),
    ).encode()
    secrets = secrets_in_use(
        subscription.secret, subscription.previous_secret, subscription.previous_secret_until, now
    )
    return _Outgoing(subscription.url, secrets, delivery.change_id, body)


def _record(
    context: WorkerContext, delivery_id: int, answer: Answer, latency_ms: int
) -> timedelta | None:
    """Save the attempt and its consequences; the wait before the next attempt, if any.

    Raises:
        DeliveryExhausted: after saving, when no attempt is left.
    """
    now = context.clock()
    with transaction(context.engine) as session:
        delivery = session.get(DeliveryRow, delivery_id, with_for_update=True)
        assert delivery is not None
        subscription = subscription_of(session, delivery, for_update=True)
        record_attempt(
            session,
            delivery,
            status_code=answer.status_code,
            error=answer.error,
            latency_ms=latency_ms,
            now=now,
        )
        outcome, wait = _apply_verdict(context, session, delivery, subscription, answer, now)
    # Counted once the transaction has committed: what the counter says is what was saved.
    DELIVERIES.labels(outcome).inc()
    if outcome == OUTCOME_EXHAUSTED:
        logger.warning("delivery exhausted", extra={"delivery_id": delivery_id})
        raise DeliveryExhausted(f"delivery {delivery_id}: every scheduled attempt failed")
    return wait


def _apply_verdict(
    context: WorkerContext,
    session: Session,
    delivery: DeliveryRow,
    subscription: SubscriptionRow,
    answer: Answer,
    now: datetime,
) -> tuple[str, timedelta | None]:
    """What the answer means for the delivery and its subscription, written to ``session``;
    returns the outcome (for the metrics) and the wait before the next attempt, if any."""
    verdict = verdict_of(answer.status_code)
    if verdict is Verdict.DELIVERED:
        delivery.state = DELIVERED
        delivery.delivered_at = now
        subscription.failing_since = None
        session.add(subscription)
        return OUTCOME_DELIVERED, None
    subscription.failing_since = subscription.failing_since or now
    session.add(subscription)
    if verdict is Verdict.REJECTED:
        delivery.state = FAILED
        return OUTCOME_REFUSED, None
    if should_disable(subscription.failing_since, now, context.disable_after):
        disable(
            session,
            subscription,
            f"every delivery failed since {format_time(subscription.failing_since)}; "
            f"last answer: {answer.status_code or answer.error}",
            now,
        )
        return OUTCOME_DISABLED, None
    wait = next_retry(delivery.attempts, answer.retry_after, context.delivery_schedule)
    if wait is not None:
        delivery.next_attempt_at = now + wait
        return OUTCOME_RETRY_SCHEDULED, wait
    delivery.state = EXHAUSTED
    delivery.next_attempt_at = None
    return OUTCOME_EXHAUSTED, None
