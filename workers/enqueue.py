"""The one typed way the web side hands work to the workers.

Messages are built by actor and queue name (``workers.queues``), so the web process never
imports actors, storage or the broker's actor registry. Notifications are deduplicated and
enqueued in one atomic Lua script per call: a notification id seen within the dedupe window
is answered as a duplicate and not queued again (N2), and several notifications (a v2 body's
deltas, or a batch of concurrent requests) cost one round trip.

The script writes Dramatiq's RedisBroker layout (``<namespace>:<queue>`` list of ids plus the
``<namespace>:<queue>.msgs`` hash), which the integration tests prove by having a real
Dramatiq worker consume what it writes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import dramatiq
import orjson
import redis

from domain.notifications import Notification
from workers.errors import QueueUnavailable
from workers.queues import NOTIFICATION_QUEUES

_SCRIPT = files("workers").joinpath("enqueue.lua").read_text()


@dataclass(frozen=True, slots=True)
class EnqueueOutcome:
    """What happened to one notification handed to :meth:`NotificationEnqueuer.enqueue`."""

    notification: Notification
    queued: bool


class NotificationEnqueuer:
    """Queues notifications for the workers, deduplicated by notification id."""

    def __init__(self, client: redis.Redis, *, namespace: str, dedupe_ttl_seconds: int) -> None:
        self._namespace = namespace
        self._dedupe_ttl_seconds = dedupe_ttl_seconds
        self._script = client.register_script(_SCRIPT)

    def dedupe_key(self, notification_id: str, via_org: str | None = None) -> str:
        """The Redis key that marks a notification id as already queued: per organization
        for one that came through an organization's own application, so that one
        organization's deliveries can never mark another's as seen."""
        if via_org is None:
            return f"{self._namespace}:dedupe:{notification_id}"
        return f"{self._namespace}:dedupe:org:{via_org}:{notification_id}"

    def enqueue(
        self, notifications: Sequence[Notification], *, received_at: float | None = None
    ) -> list[EnqueueOutcome]:
        """Queue each routable notification unless its id was already queued.

        Notifications with no kind of work must be filtered out by the caller.

        Raises:
            QueueUnavailable: Redis could not be reached or failed; nothing may be acknowledged.
        """
        if not notifications:
            return []
        received_at = time.time() if received_at is None else received_at
        keys: list[str] = []
        args: list[Any] = [self._dedupe_ttl_seconds]
        for notification in notifications:
            spec = NOTIFICATION_QUEUES[notification.kind]
            message = _notification_message(
                spec.queue_name, spec.actor_name, notification, received_at
            )
            queue_key = f"{self._namespace}:{spec.queue_name}"
            dedupe = self.dedupe_key(notification.notification_id, notification.via_org)
            keys += [dedupe, queue_key, queue_key + ".msgs"]
            args += [message.options["redis_message_id"], _encode(message)]
        try:
            flags = self._script(keys=keys, args=args)
        except redis.RedisError as error:
            raise QueueUnavailable(f"could not reach the queue: {error}") from error
        return [
            EnqueueOutcome(notification, bool(flag))
            for notification, flag in zip(notifications, flags, strict=True)
        ]


def _notification_message(
    queue_name: str, actor_name: str, notification: Notification, received_at: float
) -> dramatiq.Message[Any]:
    message_id = str(uuid.uuid4())
    kwargs: dict[str, Any] = {
        "api_version": notification.api_version,
        "payload": dict(notification.payload),
        "received_at": received_at,
    }
    if notification.via_org is not None:
        kwargs["org_id"] = notification.via_org
    return dramatiq.Message(
        queue_name=queue_name,
        actor_name=actor_name,
        args=(),
        kwargs=kwargs,
        options={"redis_message_id": message_id},
        message_id=message_id,
        message_timestamp=int(received_at * 1000),
    )


def _encode(message: dramatiq.Message[Any]) -> bytes:
    """The message as Dramatiq's JSON encoder writes it (``workers.broker.OrjsonEncoder``).

    Encoded with orjson: a message notification carries the whole Nylas object (a 15 KB
    body is typical), and the standard library's encoder spent about 50 µs on each, in the
    web process, on the path of every acknowledgement.
    """
    return orjson.dumps(message.asdict())
