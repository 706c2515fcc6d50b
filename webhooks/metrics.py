"""Counters for the Nylas ingress (exposed at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter

NOTIFICATIONS = Counter(
    "crmsync_notifications_total",
    "Notification units received from Nylas, by outcome and trigger.",
    ["outcome", "trigger"],
)
REJECTED = Counter(
    "crmsync_notification_requests_rejected_total",
    "Notification requests refused by the ingress, by reason.",
    ["reason"],
)
