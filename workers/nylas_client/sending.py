"""Sending mail from a grant's mailbox, and finding a sent message again by its key.

Sends and the hosted-auth code exchange are not idempotent at Nylas at all: a message sent twice
reaches the customer twice, and a code works once. So they are sent again only after a 429 or a
connection that was never made (unlike an event create, a 503 is not trusted here: nothing
finds a duplicate send afterwards); any other failure that may have reached Nylas raises
:class:`NylasWriteUncertain`. A send given an ``idempotency_key`` stores it in the message's
metadata (``key4``, as for events), so the caller can look for the sent message with
:meth:`NylasGateway.find_sent_by_key` before deciding to send again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workers.nylas_client.core import GatewayCore
from workers.nylas_client.wire import (
    IDEMPOTENCY_METADATA_KEY,
    MAX_PAGE_SIZE,
    Wire,
    _check_key,
    _path_id,
    _with_key,
)


class SendingFacet(GatewayCore):
    """The gateway's sends, each made at most once unless it surely never reached Nylas."""

    def send_message(
        self,
        grant_id: str,
        *,
        to: Sequence[Mapping[str, str]],
        cc: Sequence[Mapping[str, str]] = (),
        bcc: Sequence[Mapping[str, str]] = (),
        subject: str,
        body: str,
        reply_to_message_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Wire:
        """Send a message from the grant's mailbox; the sent message, as a wire dict.

        Participants are ``{"email": ..., "name": ...}`` (name optional). A reply joins the
        thread of ``reply_to_message_id``. ``idempotency_key`` goes into the metadata (key
        ``key4``), for :meth:`find_sent_by_key`.

        Raises:
            NylasRejected: Nylas refused the message (no recipient, a bad address...).
            NylasWriteUncertain: the message may have gone out; do not send again before
                checking (with the key, :meth:`find_sent_by_key`).
            ValueError: a bad key, or ``metadata`` holding another value at the key's metadata
                key.
        """
        request: dict[str, Any] = {
            "to": [dict(p) for p in to],
            "subject": subject,
            "body": body,
        }
        for name, participants in (("cc", cc), ("bcc", bcc)):
            if participants:
                request[name] = [dict(p) for p in participants]
        if reply_to_message_id is not None:
            request["reply_to_message_id"] = reply_to_message_id
        if idempotency_key is not None:
            request["metadata"] = _with_key(metadata, idempotency_key)
        elif metadata:
            request["metadata"] = dict(metadata)

        def call() -> Wire:
            path = f"/v3/grants/{_path_id(grant_id)}/messages/send"
            document = self._raw("POST", path, body=request)
            wire: Wire = dict(document["data"])
            return wire

        return self._write_once("send_message", grant_id, call)

    def find_sent_by_key(self, grant_id: str, key: str) -> Wire | None:
        """The message :meth:`send_message` sent with idempotency key ``key``, or None.

        One request (``metadata_pair``, which Nylas allows with no other filter). At the real
        API the sent copy appears once the provider has filed it, so a None right after an
        uncertain send is not yet proof that nothing went out.
        """
        _check_key(key)

        def call() -> Wire | None:
            query = {"metadata_pair": f"{IDEMPOTENCY_METADATA_KEY}:{key}", "limit": MAX_PAGE_SIZE}
            found, _ = self._message_list(grant_id, query)
            return found[0] if found else None

        return self._call("find_sent_by_key", grant_id, call)
