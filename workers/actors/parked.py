"""The parked-messages actor (N2): a grant's messages parked on unknown folders are due.

load (the grant and its earliest deadline) -> call (the grant's folders listed once more,
unless that happened since the deadline; the refresh decides them in its own transaction)
-> save (whatever is still due decided for good, a batch per transaction). A message queued
twice, or for messages decided since, finds nothing left to do.
"""

from __future__ import annotations

from domain.not_found import Missing
from domain.parking import needs_final_refresh
from storage.accounts import note_grant_gone
from storage.engine import transaction
from storage.folders import load_folder_cache
from storage.parked import DECIDE_BATCH, grant_of_parked, parked_messages, settle_all_parked
from storage.reps import rep_for_grant
from workers.context import WorkerContext
from workers.folder_cache import refresh_folder_cache
from workers.nylas_failures import NylasGrantGone
from workers.parked_messages import decide_parked


def decide_due_parked(context: WorkerContext, parked_id: int) -> None:
    """Decide for good the due parked messages of ``parked_id``'s grant."""
    with transaction(context.engine) as session:
        grant_id = grant_of_parked(session, parked_id)
        if grant_id is None:
            return  # decided since it was queued
        first = parked_messages(session, grant_id, limit=1)
        rep = rep_for_grant(session, grant_id)
        refreshed_at = load_folder_cache(session, grant_id).refreshed_at
    now = context.clock()
    if rep is not None and first and needs_final_refresh(first[0].deadline, refreshed_at, now):
        try:
            refresh_folder_cache(context, rep, grant_id)
        except NylasGrantGone as gone:
            with transaction(context.engine) as session:
                note_grant_gone(session, gone.grant_id, context.clock())
                settle_all_parked(session, grant_id, Missing.GRANT.value)
            return
    while True:
        with transaction(context.engine) as session:
            looked_at = decide_parked(session, context, grant_id)
        if looked_at < DECIDE_BATCH:
            return
