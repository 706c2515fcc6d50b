"""When a message parked on folders not yet known is decided for good (N2, domain.parking)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.folders import Folder, FolderRole, FolderSelection, ResolvedFolders
from domain.parking import (
    decided_for_good,
    may_decide_now,
    needs_final_refresh,
    park_deadline,
)

PARKED = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
WAIT = timedelta(minutes=5)
DEADLINE = PARKED + WAIT
BEFORE = DEADLINE - timedelta(seconds=1)
AFTER = DEADLINE + timedelta(seconds=1)

INBOX = Folder("INBOX", "INBOX", "INBOX", None, FolderRole.INBOX)
TRASH = Folder("TRASH", "TRASH", "TRASH", None, FolderRole.TRASH)


def test_the_deadline_is_the_wait_after_parking() -> None:
    assert park_deadline(PARKED, WAIT) == DEADLINE


# (now, when the grant's folders were last listed, decided for good, one more listing needed)
FINALITY = [
    pytest.param(BEFORE, None, False, False, id="waiting, never listed: wait"),
    pytest.param(BEFORE, PARKED, False, False, id="waiting, listed when parked: wait"),
    pytest.param(AFTER, PARKED, False, True, id="due, listed only before the deadline: list"),
    pytest.param(AFTER, None, False, True, id="due, never listed: list"),
    pytest.param(AFTER, DEADLINE, True, False, id="due, listed at the deadline: decide"),
    pytest.param(AFTER, AFTER, True, False, id="due, listed since: decide"),
    pytest.param(DEADLINE, DEADLINE, True, False, id="at the deadline, listed then: decide"),
    pytest.param(BEFORE, BEFORE, False, False, id="listed while waiting is not the last chance"),
]


@pytest.mark.parametrize(("now", "refreshed_at", "for_good", "refresh"), FINALITY)
def test_a_parked_message_is_decided_for_good_only_after_its_wait_and_one_more_listing(
    now: datetime, refreshed_at: datetime | None, for_good: bool, refresh: bool
) -> None:
    assert decided_for_good(DEADLINE, refreshed_at, now) is for_good
    assert needs_final_refresh(DEADLINE, refreshed_at, now) is refresh


# (resolved folders, the rep's selection, its wait over, may its decision change now)
CHANGES = [
    pytest.param(
        ResolvedFolders((), ("new",)), FolderSelection(), False, False, id="still unknown"
    ),
    pytest.param(
        ResolvedFolders((TRASH,), ("new",)),
        FolderSelection(),
        False,
        False,
        id="a known unsynced folder beside the unknown one",
    ),
    pytest.param(ResolvedFolders((TRASH,), ()), FolderSelection(), False, True, id="all known"),
    pytest.param(
        ResolvedFolders((INBOX,), ("new",)),
        FolderSelection(),
        False,
        True,
        id="in a synced folder",
    ),
    pytest.param(
        ResolvedFolders((), ("new",)), FolderSelection(), True, True, id="its wait is over"
    ),
    pytest.param(
        ResolvedFolders((TRASH,), ("new",)),
        FolderSelection(("TRASH",)),
        False,
        True,
        id="a folder named in the rep's settings",
    ),
]


@pytest.mark.parametrize(("resolved", "selection", "for_good", "may"), CHANGES)
def test_a_parked_message_is_looked_at_again_only_when_its_answer_can_change(
    resolved: ResolvedFolders, selection: FolderSelection, for_good: bool, may: bool
) -> None:
    assert may_decide_now(resolved, selection, for_good) is may
