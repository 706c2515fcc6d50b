"""The send actor (E9): hands an email the CRM queued to Nylas, once.

load (the queued email and its rep), call (send through the rep's grant), save (the message
id and the delivery state). A send is not idempotent at Nylas, so the email's send key
travels in the message metadata, and every attempt first looks the key up: an earlier one
that went out (a timeout after the request left, a crash before its result was saved) is
recorded instead of sent again. Nylas refusing the message (4xx) fails the email for good, with
the reason, for the CRM to show.
"""

from __future__ import annotations

import logging

from dramatiq import Retry

from domain.not_found import Missing
from domain.sending import DeliveryEvent, DeliveryState
from storage.accounts import note_grant_gone
from storage.email_reads import get_email
from storage.engine import transaction
from storage.reps import get_rep
from storage.sends import record_delivery_event, record_sent
from workers.context import WorkerContext
from workers.nylas_failures import (
    NylasGrantGone,
    NylasRateLimited,
    NylasRejected,
    NylasWriteUncertain,
)

logger = logging.getLogger(__name__)


def send_email(context: WorkerContext, email_id: int) -> None:
    """Send the queued email ``email_id``; nothing when it is no longer queued."""
    with transaction(context.engine) as session:
        row = get_email(session, email_id)
        if row is None or row.delivery_state != DeliveryState.QUEUED.value:
            return
        rep = get_rep(session, row.org_id, row.rep_id)
        grant_id, send_key = row.grant_id, row.send_key
        assert send_key is not None
        request = {
            "to": list(row.to),
            "cc": list(row.cc),
            "bcc": list(row.bcc),
            "subject": row.subject,
            "body": row.body or "",
            "metadata": {f"crm_{k}": str(v) for k, v in (row.crm_reference or {}).items()},
        }
        reply_to = row.reply_to_message_id
    log = {"email_id": email_id, "grant_id": grant_id, "send_key": send_key}
    if rep is None or grant_id is None or rep.grant_id != grant_id:
        _refused(context, email_id, "the rep's mailbox was disconnected before the send")
        return
    try:
        nylas = context.nylas_for(grant_id)
        # Any earlier attempt (a retry, or a message queued again after a crash) may have
        # gone out: one lookup by key costs less than an email sent twice.
        sent = nylas.find_sent_by_key(grant_id, send_key)
        if sent is None:
            sent = nylas.send_message(
                grant_id,
                to=_participants(request["to"]),
                cc=_participants(request["cc"]),
                bcc=_participants(request["bcc"]),
                subject=str(request["subject"]),
                body=str(request["body"]),
                reply_to_message_id=reply_to,
                metadata=request["metadata"],  # type: ignore[arg-type]
                idempotency_key=send_key,
            )
    except NylasGrantGone as gone:
        # Nothing was sent: the grant was deleted at Nylas, and the rep must reconnect (A1).
        logger.warning("a send's grant is gone at Nylas", extra=log)
        _refused(context, email_id, f"{Missing.GRANT.value}: {gone}", gone_grant=gone.grant_id)
        return
    except NylasRejected as error:
        logger.warning("Nylas refused a send", extra={**log, "error": str(error)})
        _refused(context, email_id, str(error))
        return
    except NylasRateLimited as error:
        raise Retry(str(error), delay=int(error.retry_after_seconds * 1000)) from error
    except NylasWriteUncertain:
        logger.warning("a send may have gone out; it is checked before any new try", extra=log)
        raise
    with transaction(context.engine) as session:
        row = get_email(session, email_id, for_update=True)
        if row is not None:
            record_sent(session, row, sent, context.clock())
    logger.info("email sent", extra={**log, "message_id": sent.get("id")})


def _refused(
    context: WorkerContext, email_id: int, error: str, *, gone_grant: str | None = None
) -> None:
    with transaction(context.engine) as session:
        if gone_grant is not None:
            note_grant_gone(session, gone_grant, context.clock())
        row = get_email(session, email_id, for_update=True)
        if row is not None:
            record_delivery_event(session, row, DeliveryEvent.REFUSED, context.clock(), error)


def _participants(value: object) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    for entry in value if isinstance(value, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("email"), str):
            participant = {"email": entry["email"]}
            if isinstance(entry.get("name"), str):
                participant["name"] = entry["name"]
            found.append(participant)
    return found
