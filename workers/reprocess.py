"""Queueing stored notifications again (N3): what an operator's ``crmsync reprocess`` sends.

A reprocessed notification goes to the queue of its kind of work as the same message the
ingress would have queued, but without the ingress's dedupe mark (the point is to handle it
again). Handlers are idempotent, so reprocessing changes only what the rules now decide
differently, and an email hidden in the CRM stays hidden (E7).
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq import Broker

from domain.notifications import ApiVersion, parse_unit
from workers.queues import NOTIFICATION_QUEUES


def requeue_notification(
    broker: Broker,
    api_version: ApiVersion,
    payload: dict[str, Any],
    received_at: float,
    via_org: str | None = None,
) -> None:
    """Queue one stored notification again, on the queue of its trigger today: one kept
    without a handler reaches its handler once there is one. One that came through an
    organization goes as that organization's again (``domain.org_scope``)."""
    notification = parse_unit(api_version, payload)
    spec = NOTIFICATION_QUEUES[notification.kind]
    broker.declare_queue(spec.queue_name)
    broker.enqueue(
        dramatiq.Message(
            queue_name=spec.queue_name,
            actor_name=spec.actor_name,
            args=(),
            kwargs={
                "api_version": api_version,
                "payload": payload,
                "received_at": received_at,
                **({} if via_org is None else {"org_id": via_org}),
            },
            options={},
        )
    )
