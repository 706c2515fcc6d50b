"""Queue and actor names: the contract between the side that enqueues and the workers.

One queue per kind of work (DESIGN: a flood of message notifications never starves grants).
The web side builds messages by these names, so it never imports actors or storage; a test
checks that every name here is declared by ``workers.actors``.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.triggers import WorkKind


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """Where one kind of work goes and which actor takes it."""

    queue_name: str
    actor_name: str


NOTIFICATION_QUEUES: dict[WorkKind, QueueSpec] = {
    kind: QueueSpec(queue_name=f"notifications.{kind.value}", actor_name=f"handle_{kind.value}")
    for kind in WorkKind
}


# Outbound webhooks to CRM subscribers: their own queue, so a slow endpoint never delays
# the handling of Nylas notifications, nor the other way round.
DELIVERY_QUEUE = QueueSpec(queue_name="deliveries", actor_name="deliver_change")
# Writing CRM action items to calendars: apart from notifications, so a flood of event
# notifications never delays the CRM's own edits reaching the calendar.
CALENDAR_PUSH_QUEUE = QueueSpec(queue_name="calendar.push", actor_name="push_action_item")
# Reading reps' past mail (A2, E11): its own queue, so a big backfill never delays live
# notifications.
BACKFILL_QUEUE = QueueSpec(queue_name="backfill", actor_name="run_backfill")
# Emails the CRM sends (E9): apart from everything else, so a send never waits behind a flood.
SEND_QUEUE = QueueSpec(queue_name="sends", actor_name="send_email")
# Messages parked on folders not yet known (N2), due for a decision: apart, so that a grant's
# one more folder listing never waits behind (nor delays) its notifications.
PARKED_QUEUE = QueueSpec(queue_name="parked", actor_name="decide_parked_messages")
# Removing an organization with all it holds: apart, so its batches of deletes never wait
# behind (nor delay) any other organization's work.
OFFBOARDING_QUEUE = QueueSpec(queue_name="offboarding", actor_name="offboard_org")


def all_queue_names() -> list[str]:
    """Every queue crmsync's workers consume, in a stable order."""
    return [spec.queue_name for spec in NOTIFICATION_QUEUES.values()] + [
        DELIVERY_QUEUE.queue_name,
        CALENDAR_PUSH_QUEUE.queue_name,
        BACKFILL_QUEUE.queue_name,
        SEND_QUEUE.queue_name,
        PARKED_QUEUE.queue_name,
        OFFBOARDING_QUEUE.queue_name,
    ]


def queues_apart_from_deliveries() -> list[str]:
    """Every queue but ``deliveries``: what the threads handling notifications consume, so
    that slow subscribers, which hold a delivery thread for up to a whole attempt's deadline,
    can never hold all of them (the Procfile's ``worker`` and ``deliveries`` processes, and
    the two thread pools of ``crmsync run``)."""
    return [name for name in all_queue_names() if name != DELIVERY_QUEUE.queue_name]
