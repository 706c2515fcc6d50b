"""What a send does to a grant: the sent copy, and the notifications and bounces that follow.

The rules of a send (what the Send API refuses, what the sent message looks like) are
``simulator.sending``'s; this applies them to the grants of ``simulator.grant_store``, filing
the copy in the grant's Sent folder as Nylas syncs it, and queues what Nylas would then send:
``message.created``, ``message.send_success`` when the application enables it, and
``message.bounce_detected`` for the addresses a test made bounce.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from simulator.folder_presets import folder_with_role
from simulator.grant_store import GrantStore, StoredGrant, Wire
from simulator.notifications import (
    message_bounce_detected,
    message_notification,
    message_send_success,
)
from simulator.sending import InvalidSend, new_message_id, recipient_addresses, sent_message


class Outbox(GrantStore):
    """Sends and bounces on top of the store.

    ``notify_send_success`` (set by ``simulator.mailbox.FakeNylas``) queues
    ``message.send_success`` after each send (NYLAS.md 1.3).
    """

    notify_send_success: bool

    def api_send_message(self, grant_id: str, body: Mapping[str, Any]) -> Wire:
        """``POST /messages/send``: the sent message, stored in the grant's Sent folder.

        Queues ``message.created`` for the Sent copy (Nylas syncs it), ``message.send_success``
        when :attr:`notify_send_success` is on, and ``message.bounce_detected`` for each
        recipient in the grant's bouncing addresses (:meth:`set_bouncing_addresses`).

        Raises:
            InvalidSend: a body the Send API refuses, or an unknown ``reply_to_message_id``.
        """
        at = int(self._clock())
        with self._lock:
            grant = self._grant(grant_id)
            provider = grant.wire["provider"]
            thread_id = self._thread_of(grant, body.get("reply_to_message_id"))
            sent_folder = folder_with_role(grant.folders.values(), "\\Sent")
            message = sent_message(
                grant.wire,
                body,
                message_id=new_message_id(provider),
                thread_id=thread_id or new_message_id(provider),
                folders=[] if sent_folder is None else [sent_folder],
                at=at,
            )
            grant.messages.put(copy.deepcopy(message))
            bounced = [a for a in recipient_addresses(message) if a in grant.bouncing]
        notifications = [message_notification(message, provider=provider, at=at)]
        if self.notify_send_success:
            notifications.append(message_send_success(message, at=at))
        notifications += [
            message_bounce_detected(message, bounced_address=address, at=at) for address in bounced
        ]
        self._queue_notifications(*notifications)
        return message

    def set_bouncing_addresses(self, grant_id: str, addresses: Iterable[str]) -> None:
        """Mail this grant sends to any of ``addresses`` bounces from now on (replaces the set)."""
        with self._lock:
            self._grant(grant_id).bouncing = {a.strip().lower() for a in addresses}

    def bounce(
        self,
        grant_id: str,
        message_id: str,
        reason: str = "550 5.1.1 The email account that you tried to reach does not exist.",
        *,
        address: str | None = None,
    ) -> Wire:
        """A non-delivery report arrives for a sent message: ``message.bounce_detected`` is
        queued (and returned), for ``address`` or else the message's first recipient."""
        with self._lock:
            message = self._grant(grant_id).messages.get(message_id)
        if message is None:
            raise KeyError(f"no message {message_id!r} in grant {grant_id!r}")
        recipients = recipient_addresses(message)
        bounced = address or (recipients[0] if recipients else "")
        notification = message_bounce_detected(
            message, bounced_address=bounced, reason=reason, at=int(self._clock())
        )
        self._queue_notifications(notification)
        return notification

    # Internals -----------------------------------------------------------------------------

    @staticmethod
    def _thread_of(grant: StoredGrant, reply_to_message_id: object) -> str | None:
        """The thread a reply joins; None for a new conversation."""
        if reply_to_message_id is None:
            return None
        original = grant.messages.get(str(reply_to_message_id))
        if original is None:
            raise InvalidSend(f"reply_to_message_id {reply_to_message_id} not found", status=404)
        return str(original.get("thread_id") or original["id"])
