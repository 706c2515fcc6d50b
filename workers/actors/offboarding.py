"""The offboarding actor: an organization's grants disconnected at Nylas, then its dead
letters deleted from Redis and its rows in batches (``storage.offboarding``), a slice of
time per message, and once more a few minutes later for what came in late.

Each grant disconnected and each batch deleted is saved as it happens, so a run cut short
(a crash, a deploy) resumes from there: the dispatcher queues an offboarding again when it
made no progress for a while (``workers.dispatch.OFFBOARDINGS``). A run that is not
finished after its slice queues itself again, so one large organization never holds a
worker thread for longer, nor runs into the actor's time limit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from storage.engine import transaction
from storage.offboarding import (
    DELETING,
    DISCONNECTING,
    DONE,
    delete_next_batch,
    release_grants,
    settled,
)
from storage.org_tables import OffboardingRow
from workers.context import NylasNotConfigured, WorkerContext

logger = logging.getLogger(__name__)

SLICE_SECONDS = 30.0
DEAD_LETTERS = "dead_letters"  # beside the tables' names in an offboarding's counts


def offboard_org(
    context: WorkerContext,
    offboarding_id: int,
    queue_again: Callable[[int], object],
    *,
    slice_seconds: float = SLICE_SECONDS,
) -> None:
    """Go on with offboarding ``offboarding_id`` for a slice of time."""
    deadline = time.monotonic() + slice_seconds
    log: dict[str, object] = {"offboarding_id": offboarding_id}
    with transaction(context.engine) as session:
        row = session.get(OffboardingRow, offboarding_id)
        if row is None or row.state == DONE:
            return
        if not settled(row, context.clock()):
            return  # queued again before its last pass is due: the dispatcher brings it back
        org_id, state, grants = row.org_id, row.state, list(row.grants)
        disconnected = row.grants_disconnected
    log["org_id"] = org_id
    if state == DISCONNECTING:
        for index in range(disconnected, len(grants)):
            _disconnect(context, grants[index], log)
            with transaction(context.engine) as session:
                row = session.get_one(OffboardingRow, offboarding_id)
                row.grants_disconnected = index + 1
                row.updated_at = context.clock()
                session.add(row)
            if time.monotonic() > deadline:
                queue_again(offboarding_id)
                return
        with transaction(context.engine) as session:
            release_grants(
                session, session.get_one(OffboardingRow, offboarding_id), context.clock()
            )
        logger.info("organization's grants disconnected", extra=log)
    if state != DELETING:  # once before the rows go, once more on the last pass; not a slice
        _purge_dead_letters(context, offboarding_id, org_id, grants, log)
    while True:
        with transaction(context.engine) as session:
            row = session.get_one(OffboardingRow, offboarding_id, with_for_update=True)
            if not delete_next_batch(session, row, context.clock()):
                deleted, state = dict(row.deleted), row.state
                break
        if time.monotonic() > deadline:
            queue_again(offboarding_id)
            return
    done = "organization offboarded" if state == DONE else "organization's rows deleted"
    logger.info("%s: %d rows so far", done, sum(deleted.values()), extra={**log, **deleted})


def _purge_dead_letters(
    context: WorkerContext,
    offboarding_id: int,
    org_id: str,
    grants: list[str],
    log: dict[str, object],
) -> None:
    """Delete the organization's dead letters from Redis (``workers.org_letters``) before
    its rows, which say whose a letter is, and count them with the rows deleted."""
    if context.org_letters is None:
        return
    purged = context.org_letters.purge(context.engine, org_id, grants)
    if not purged:
        return
    with transaction(context.engine) as session:
        row = session.get_one(OffboardingRow, offboarding_id, with_for_update=True)
        row.deleted = {**row.deleted, DEAD_LETTERS: row.deleted.get(DEAD_LETTERS, 0) + purged}
        row.updated_at = context.clock()
        session.add(row)
    logger.info("organization's dead letters deleted: %d", purged, extra=log)


def _disconnect(context: WorkerContext, grant_id: str, log: dict[str, object]) -> None:
    """Delete the grant at Nylas; one already gone is fine."""
    try:
        gone_before = not context.nylas_for(grant_id).destroy_grant(grant_id)
    except NylasNotConfigured:
        # No Nylas to disconnect from: nothing there holds the grant for crmsync.
        logger.warning("no Nylas API configured: grant not disconnected", extra=log)
        return
    if gone_before:
        logger.info("grant already gone at Nylas", extra={**log, "grant_id": grant_id})
