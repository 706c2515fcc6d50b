"""Counters for the Nylas ingress (exposed at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter

from domain.notifications import Notification
from domain.triggers import ROUTES
from workers.queues import NOTIFICATION_QUEUES

NOTIFICATIONS = Counter(
    "crmsync_notifications_total",
    "Notification units received from Nylas, by outcome (queued, duplicate) and trigger (one "
    "of the routing table's, or other).",
    ["outcome", "trigger"],
)
REJECTED = Counter(
    "crmsync_notification_requests_rejected_total",
    "Notification requests refused by the ingress, by reason.",
    ["reason"],
)
QUEUED = Counter(
    "crmsync_notifications_queued_total",
    "Notification units queued for the workers, by queue.",
    ["queue"],
)


def count_queued(notification: Notification) -> None:
    """Count ``notification`` as queued on its queue (the queue names are the shared contract
    of ``workers.queues``, so the label matches the worker and queue metrics)."""
    QUEUED.labels(NOTIFICATION_QUEUES[notification.kind].queue_name).inc()


def trigger_label(notification: Notification) -> str:
    """The trigger as a metric label: one of the routing table's, or ``other``, so that the
    label's values stay few whatever triggers Nylas adds."""
    return notification.trigger if notification.trigger in ROUTES else "other"
