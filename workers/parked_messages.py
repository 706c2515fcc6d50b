"""Deciding parked messages again (N2): when a grant's folders change, and at their deadline.

A message parked on folder ids its grant's folder cache did not know is decided again, by the
same ``save_page`` as every message, whenever the cache changes: a ``folder.*`` notification
(``workers.actors.folders``) or a refresh from Nylas (``workers.folder_cache``), each in the
transaction that changed the cache. The dispatcher queues the grants whose parked messages are
due (``storage.parked.parked_to_queue``); :func:`decide_due_parked` then lists the grant's
folders once more, unless that happened since the deadline, and decides them for good
(``workers.actors.parked``).
"""

from __future__ import annotations

import logging

from sqlmodel import Session

from domain.folders import resolve_folders
from domain.parking import decided_for_good, may_decide_now
from storage.folders import load_folder_cache
from storage.parked import parked_messages, settle_parked
from storage.reps import rep_for_grant
from workers.context import WorkerContext
from workers.email_pages import PageEntry, save_page

logger = logging.getLogger(__name__)


def decide_parked(session: Session, context: WorkerContext, grant_id: str) -> int:
    """Decide again, in ``session``, the grant's parked messages that its folder cache (as
    ``session`` sees it) now decides; how many of those it looked at (at most
    :data:`storage.parked.DECIDE_BATCH`, those due first)."""
    parked = parked_messages(session, grant_id)
    if not parked:
        return 0
    rep = rep_for_grant(session, grant_id)
    if rep is None:
        # Disconnected, or connected to another mailbox since: nothing of it is stored.
        settle_parked(session, {(grant_id, p.message.message_id): "unknown_grant" for p in parked})
        return len(parked)
    cache = load_folder_cache(session, grant_id)
    now = context.clock()
    entries = []
    for message in parked:
        resolved = resolve_folders(message.message.folder_ids, cache.folders)
        for_good = decided_for_good(message.deadline, cache.refreshed_at, now)
        if may_decide_now(resolved, rep.folders, for_good):
            entries.append(PageEntry(message.message, resolved, message.observed_at, for_good))
    if entries:
        save_page(session, context, rep, entries)
        logger.info(
            "parked messages decided again",
            extra={"grant_id": grant_id, "count": len(entries)},
        )
    return len(entries)
