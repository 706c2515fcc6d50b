"""Account status transitions (A1): one table of events, tested as a table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.accounts import (
    AccountEvent,
    AccountStatus,
    event_for_failures,
    event_for_notification,
    is_silent,
    next_status,
)

S = AccountStatus
E = AccountEvent


@pytest.mark.parametrize(
    ("current", "event", "expected"),
    [
        pytest.param(S.STOPPED, E.CONNECTED, S.INITIALIZING, id="connecting starts initializing"),
        pytest.param(
            S.INVALID_CREDENTIALS, E.CONNECTED, S.INITIALIZING, id="reconnecting fixes expiry"
        ),
        pytest.param(S.INITIALIZING, E.BACKFILL_STARTED, S.DOWNLOADING, id="backfill downloads"),
        pytest.param(S.DOWNLOADING, E.BACKFILL_FINISHED, S.RUNNING, id="backfill done: running"),
        pytest.param(S.DOWNLOADING, E.BACKFILL_FAILED, S.PARTIAL, id="backfill gave up: partial"),
        pytest.param(S.INITIALIZING, E.GRANT_CREATED, S.INITIALIZING, id="created changes nothing"),
        pytest.param(S.STOPPED, E.GRANT_CREATED, S.VALID, id="a grant made elsewhere is valid"),
        pytest.param(S.RUNNING, E.GRANT_EXPIRED, S.INVALID_CREDENTIALS, id="expiry"),
        pytest.param(S.DOWNLOADING, E.GRANT_EXPIRED, S.INVALID_CREDENTIALS, id="expiry mid-sync"),
        pytest.param(
            S.INVALID_CREDENTIALS, E.GRANT_REAUTHENTICATED, S.RUNNING, id="reauthentication"
        ),
        pytest.param(
            S.INVALID_CREDENTIALS,
            E.BACKFILL_STARTED,
            S.INVALID_CREDENTIALS,
            id="a backfill does not hide an expiry",
        ),
        pytest.param(
            S.INVALID_CREDENTIALS,
            E.BACKFILL_FINISHED,
            S.INVALID_CREDENTIALS,
            id="nor does a backfill's end",
        ),
        pytest.param(S.RUNNING, E.GRANT_DELETED, S.INVALID, id="a deleted grant is invalid"),
        pytest.param(S.STOPPED, E.GRANT_DELETED, S.STOPPED, id="deleted after disconnect"),
        pytest.param(S.STOPPED, E.GRANT_EXPIRED, S.STOPPED, id="expired after disconnect"),
        pytest.param(S.RUNNING, E.DISCONNECTED, S.STOPPED, id="disconnecting stops"),
        pytest.param(S.RUNNING, E.SYNC_FAILING, S.SYNC_ERROR, id="repeated failures"),
        pytest.param(
            S.INVALID_CREDENTIALS,
            E.SYNC_FAILING,
            S.INVALID_CREDENTIALS,
            id="failures of an expired grant stay an expiry",
        ),
        pytest.param(S.SYNC_ERROR, E.SYNC_RECOVERED, S.RUNNING, id="recovery"),
        pytest.param(S.RUNNING, E.SYNC_RECOVERED, S.RUNNING, id="recovery of a healthy one"),
        pytest.param(S.RUNNING, E.UNEXPECTED_ERROR, S.EXCEPTION, id="unexpected error"),
        pytest.param("from-an-older-version", E.GRANT_EXPIRED, S.INVALID_CREDENTIALS, id="old"),
    ],
)
def test_an_event_moves_the_status_as_the_table_says(
    current: str, event: AccountEvent, expected: AccountStatus
) -> None:
    assert next_status(current, event) is expected


@pytest.mark.parametrize("status", list(AccountStatus))
def test_disconnecting_stops_from_any_status_and_only_connecting_restarts(
    status: AccountStatus,
) -> None:
    assert next_status(status, E.DISCONNECTED) is S.STOPPED
    revivers = {E.CONNECTED, E.GRANT_CREATED}
    for event in set(AccountEvent) - revivers - {E.DISCONNECTED}:
        assert next_status(S.STOPPED, event) is S.STOPPED, event


NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
DAY = timedelta(hours=24)


@pytest.mark.parametrize(
    ("status", "last_activity", "connected", "silent"),
    [
        pytest.param("running", NOW - 2 * DAY, NOW - 9 * DAY, True, id="quiet two days"),
        pytest.param("running", NOW - DAY / 2, NOW - 9 * DAY, False, id="heard this morning"),
        pytest.param("valid", None, NOW - 2 * DAY, True, id="never heard since connecting"),
        pytest.param("valid", None, None, False, id="no connection time: nothing to judge"),
        pytest.param("invalid-credentials", NOW - 9 * DAY, None, False, id="known broken"),
        pytest.param("stopped", NOW - 9 * DAY, None, False, id="disconnected"),
        pytest.param("mystery", NOW - 9 * DAY, None, False, id="unknown status"),
    ],
)
def test_a_healthy_mailbox_not_heard_from_is_silent(
    status: str, last_activity: datetime | None, connected: datetime | None, silent: bool
) -> None:
    assert is_silent(status, last_activity, connected, NOW, DAY) is silent


@pytest.mark.parametrize(
    ("trigger", "obj", "event"),
    [
        ("grant.created", {}, E.GRANT_CREATED),
        ("grant.updated", {"reauthentication_flag": True}, E.GRANT_REAUTHENTICATED),
        ("grant.updated", {"reauthentication_flag": False}, None),
        ("grant.updated", {}, None),
        ("grant.expired", {}, E.GRANT_EXPIRED),
        ("grant.deleted", {}, E.GRANT_DELETED),
        ("grant.imap_sync_completed", {}, None),
        ("account.invalid", {}, E.GRANT_EXPIRED),
        ("account.sync_error", {}, E.SYNC_FAILING),
        ("account.running", {}, E.SYNC_RECOVERED),
        ("message.created", {}, None),
    ],
)
def test_what_a_grant_notification_means_for_the_status(
    trigger: str, obj: dict[str, object], event: AccountEvent | None
) -> None:
    assert event_for_notification(trigger, obj) is event


@pytest.mark.parametrize(
    ("failures", "event"),
    [(1, None), (4, None), (5, E.SYNC_FAILING), (50, E.SYNC_FAILING)],
)
def test_a_streak_of_failures_means_sync_error_from_the_fifth(
    failures: int, event: AccountEvent | None
) -> None:
    assert event_for_failures(failures) is event
