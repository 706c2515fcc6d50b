"""``folder.*`` notifications keep each grant's folder cache current (E2).

A folder created, renamed or moved changes which messages a rep's folder names match, so
the cache follows it without a call to Nylas: the notification carries the folder. Messages
parked on that folder (N2: they arrived before it was known) are decided in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Mapping

from domain.folders import parse_folder
from domain.notifications import Notification
from storage.engine import transaction
from storage.folders import put_folder, remove_folder
from storage.reps import rep_for_grant
from workers.actors.handled import Handled, acknowledge_only
from workers.context import WorkerContext
from workers.parked_messages import decide_parked


def handle_folder_notification(context: WorkerContext, notification: Notification) -> Handled:
    """The handler of the folders queue."""
    grant_id = notification.grant_id
    if grant_id is None or notification.object_id is None or notification.api_version != "v3":
        return acknowledge_only(context, notification)
    with transaction(context.engine) as session:
        if notification.trigger == "folder.deleted":
            remove_folder(session, grant_id, notification.object_id)
            return Handled.processed("folder_removed")
        if notification.trigger not in ("folder.created", "folder.updated"):
            return acknowledge_only(context, notification)
        data = notification.payload.get("data")
        obj = data.get("object") if isinstance(data, Mapping) else None
        if not isinstance(obj, Mapping):
            return Handled.processed("no_folder")
        rep = rep_for_grant(session, grant_id)
        put_folder(session, grant_id, parse_folder(obj, rep.provider if rep else None))
        # The folder may be the one parked messages wait for (N2).
        decide_parked(session, context, grant_id)
    return Handled.processed("folder_cached")
