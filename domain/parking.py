"""Messages parked on folders not yet known (N2): when one is decided for good.

Nylas delivers in any order: a message can name a folder before the ``folder.created`` that
describes it arrives, or within the minute after the folder cache was last filled. An
unknown folder id is not a decision, so such a message is parked (stored as pending) and
decided again whenever its grant's folders change: a ``folder.*`` notification, a refresh
of the cache. Only when its wait is over *and* the cache has been filled from Nylas once more
since is an id still unknown read as "not a synced folder".
"""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.folders import FolderSelection, ResolvedFolders

# How long a parked message waits for its folders before one last refresh decides it.
DEFAULT_PARK_WAIT = timedelta(minutes=5)
# A parked message due but not decided this long after it was queued lost its queue message.
REQUEUE_AFTER = timedelta(minutes=10)


def park_deadline(parked_at: datetime, wait: timedelta) -> datetime:
    """When a message parked at ``parked_at`` is decided at the latest."""
    return parked_at + wait


def decided_for_good(deadline: datetime, refreshed_at: datetime | None, now: datetime) -> bool:
    """Whether a parked message's unknown folder ids now count as folders it is not synced in:
    its wait is over and the grant's folders were listed from Nylas at or after its deadline
    (the "one more refresh"), so the folder was given every chance to become known."""
    return now >= deadline and refreshed_at is not None and refreshed_at >= deadline


def needs_final_refresh(deadline: datetime, refreshed_at: datetime | None, now: datetime) -> bool:
    """Whether the grant's folders must be listed once more before a due parked message is
    decided: due, and not refreshed since its deadline."""
    return now >= deadline and (refreshed_at is None or refreshed_at < deadline)


def may_decide_now(resolved: ResolvedFolders, selection: FolderSelection, for_good: bool) -> bool:
    """Whether deciding a parked message again can give another answer than parking it:
    its wait is over, or none of its folders is unknown any more, or one it is in is synced
    (then the unknown ones cannot matter)."""
    return (
        for_good
        or not resolved.unknown
        or any(selection.matches(folder) for folder in resolved.known)
    )
