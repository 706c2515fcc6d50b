"""A rep's account status in the manuals' vocabulary (rule A1), with what each one means.

The status is shown to people (a rep, a CRM admin), so each carries a plain-language meaning
and the next action. It moves on what Nylas tells (``grant.*`` notifications) and on what
crmsync itself sees (a connection, a backfill's progress, repeated failures): one table,
:data:`TRANSITIONS`, says which event moves which status where, so every path is reviewable
in one place and tested as a table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class AccountStatus(StrEnum):
    """Where a rep's mailbox connection stands."""

    INITIALIZING = "initializing"
    DOWNLOADING = "downloading"
    RUNNING = "running"
    VALID = "valid"
    PARTIAL = "partial"
    INVALID = "invalid"
    INVALID_CREDENTIALS = "invalid-credentials"
    SYNC_ERROR = "sync-error"
    EXCEPTION = "exception"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class StatusExplanation:
    meaning: str
    next_action: str


EXPLANATIONS: dict[AccountStatus, StatusExplanation] = {
    AccountStatus.INITIALIZING: StatusExplanation(
        "The mailbox was just connected and its first sync is starting.",
        "Nothing: emails appear as the first sync progresses.",
    ),
    AccountStatus.DOWNLOADING: StatusExplanation(
        "The first sync is reading the mailbox's recent history.",
        "Nothing: new emails already sync; older ones appear as the download progresses.",
    ),
    AccountStatus.RUNNING: StatusExplanation("Everything is syncing.", "Nothing."),
    AccountStatus.VALID: StatusExplanation(
        "The mailbox is connected and its credentials are valid.", "Nothing."
    ),
    AccountStatus.PARTIAL: StatusExplanation(
        "Syncing, but some folders are not fully synced yet.",
        "Usually nothing; if it lasts more than a day, contact support.",
    ),
    AccountStatus.INVALID: StatusExplanation(
        "The mailbox connection no longer exists (it was deleted at Nylas, or revoked); "
        "nothing syncs.",
        "The rep reconnects the mailbox (authenticate again from the CRM).",
    ),
    AccountStatus.INVALID_CREDENTIALS: StatusExplanation(
        "The password changed or the access was revoked; nothing syncs.",
        "The rep reconnects the mailbox (authenticate again from the CRM).",
    ),
    AccountStatus.SYNC_ERROR: StatusExplanation(
        "Syncing failed repeatedly; new emails may be missing.",
        "An operator checks `crmsync status` and the dead letters, then replays them.",
    ),
    AccountStatus.EXCEPTION: StatusExplanation(
        "An unexpected error stopped the sync of this mailbox.",
        "An operator checks the logs and the dead letters.",
    ),
    AccountStatus.STOPPED: StatusExplanation(
        "No mailbox is connected, or syncing was stopped on purpose.",
        "Connect the rep's mailbox from the CRM to start syncing.",
    ),
}


def status_for_new_grant(grant_id: str | None) -> AccountStatus:
    """The status of a rep whose grant the CRM has just set (or cleared)."""
    return AccountStatus.VALID if grant_id else AccountStatus.STOPPED


def explain(status: str) -> StatusExplanation | None:
    """The meaning and next action of a status, or None for one not in the vocabulary."""
    try:
        return EXPLANATIONS[AccountStatus(status)]
    except ValueError:
        return None


class AccountEvent(StrEnum):
    """Something that happened to a rep's mailbox connection."""

    CONNECTED = "connected"  # the rep authorised the mailbox through hosted OAuth
    BACKFILL_STARTED = "backfill_started"
    BACKFILL_FINISHED = "backfill_finished"
    BACKFILL_FAILED = "backfill_failed"  # gave up on part of the history
    GRANT_CREATED = "grant_created"  # grant.created
    GRANT_REAUTHENTICATED = "grant_reauthenticated"  # grant.updated with reauthentication
    GRANT_EXPIRED = "grant_expired"  # grant.expired, or a 401 from the API
    GRANT_DELETED = "grant_deleted"  # grant.deleted, or a 404 on the grant itself: it is gone
    DISCONNECTED = "disconnected"  # the CRM disconnected the rep
    SYNC_FAILING = "sync_failing"  # the rep's work failed repeatedly
    SYNC_RECOVERED = "sync_recovered"  # work succeeded again after failing
    UNEXPECTED_ERROR = "unexpected_error"


_S = AccountStatus
_E = AccountEvent
# Statuses in which the mailbox connection works and mail flows.
HEALTHY = frozenset({_S.VALID, _S.RUNNING, _S.PARTIAL, _S.INITIALIZING, _S.DOWNLOADING})
# Statuses only a new authorisation (or a disconnection) leaves: nothing else may revive them.
_NEEDS_AUTHORISATION = frozenset({_S.INVALID, _S.INVALID_CREDENTIALS})

# (event) -> {from status: to status}; a status missing from an event's row is left as it is.
TRANSITIONS: dict[AccountEvent, dict[AccountStatus, AccountStatus]] = {
    _E.CONNECTED: {status: _S.INITIALIZING for status in AccountStatus},
    _E.BACKFILL_STARTED: {
        status: _S.DOWNLOADING
        for status in AccountStatus
        if status not in _NEEDS_AUTHORISATION and status is not _S.STOPPED
    },
    _E.BACKFILL_FINISHED: {
        _S.INITIALIZING: _S.RUNNING,
        _S.DOWNLOADING: _S.RUNNING,
        _S.VALID: _S.RUNNING,
    },
    _E.BACKFILL_FAILED: {
        _S.INITIALIZING: _S.PARTIAL,
        _S.DOWNLOADING: _S.PARTIAL,
        _S.VALID: _S.PARTIAL,
        _S.RUNNING: _S.PARTIAL,
    },
    # A grant.created for a connection already under way says nothing new.
    _E.GRANT_CREATED: {
        _S.STOPPED: _S.VALID,
        _S.INVALID: _S.VALID,
        _S.INVALID_CREDENTIALS: _S.VALID,
    },
    _E.GRANT_REAUTHENTICATED: {
        _S.INVALID: _S.RUNNING,
        _S.INVALID_CREDENTIALS: _S.RUNNING,
        _S.SYNC_ERROR: _S.RUNNING,
        _S.EXCEPTION: _S.RUNNING,
    },
    _E.GRANT_EXPIRED: {
        status: _S.INVALID_CREDENTIALS for status in AccountStatus if status is not _S.STOPPED
    },
    _E.GRANT_DELETED: {status: _S.INVALID for status in AccountStatus if status is not _S.STOPPED},
    _E.DISCONNECTED: {status: _S.STOPPED for status in AccountStatus},
    _E.SYNC_FAILING: {status: _S.SYNC_ERROR for status in HEALTHY},
    _E.SYNC_RECOVERED: {_S.SYNC_ERROR: _S.RUNNING, _S.EXCEPTION: _S.RUNNING},
    _E.UNEXPECTED_ERROR: {status: _S.EXCEPTION for status in HEALTHY},
}


def next_status(current: str, event: AccountEvent) -> AccountStatus:
    """The status after ``event``; unchanged when the event does not apply to ``current``.

    A status not in the vocabulary (written by an older version) is read as ``valid``.
    """
    try:
        status = AccountStatus(current)
    except ValueError:
        status = AccountStatus.VALID
    return TRANSITIONS[event].get(status, status)


# This many units of a rep's work failing in a row mean its sync is failing (sync-error).
FAILURES_BEFORE_SYNC_ERROR = 5


def event_for_failures(failures_in_a_row: int) -> AccountEvent | None:
    """What a streak of failed work means for the rep's status: nothing until the limit."""
    return AccountEvent.SYNC_FAILING if failures_in_a_row >= FAILURES_BEFORE_SYNC_ERROR else None


# A healthy mailbox that has not been heard from for this long is flagged as silent.
DEFAULT_SILENCE_AFTER = timedelta(hours=24)


def is_silent(
    status: str,
    last_activity_at: datetime | None,
    connected_at: datetime | None,
    now: datetime,
    silence_after: timedelta = DEFAULT_SILENCE_AFTER,
) -> bool:
    """Whether a connected, healthy mailbox has gone quiet for longer than ``silence_after``.

    No notification and no successful Nylas call for that long while the grant is valid
    usually means the webhook destination is broken or the grant stopped syncing upstream;
    a rep with no mailbox, or one already known to be broken, is not "silent".
    """
    try:
        healthy = AccountStatus(status) in HEALTHY
    except ValueError:
        return False
    heard_at = last_activity_at or connected_at
    return healthy and heard_at is not None and now - heard_at > silence_after


# v2 account notifications, by the event they mean for the rep's status.
_V2_ACCOUNT_EVENTS = {
    "account.connected": AccountEvent.GRANT_CREATED,
    "account.invalid": AccountEvent.GRANT_EXPIRED,
    "account.sync_error": AccountEvent.SYNC_FAILING,
    "account.running": AccountEvent.SYNC_RECOVERED,
    "account.stopped": AccountEvent.UNEXPECTED_ERROR,
}


def event_for_notification(trigger: str, obj: Mapping[str, Any]) -> AccountEvent | None:
    """What a ``grant.*`` (or v2 ``account.*``) notification means for the rep's status.

    ``grant.updated`` matters only as a re-authentication (``reauthentication_flag``); a
    scope or name change leaves the status alone, as does ``grant.imap_sync_completed``.
    """
    match trigger:
        case "grant.created":
            return AccountEvent.GRANT_CREATED
        case "grant.updated":
            return AccountEvent.GRANT_REAUTHENTICATED if obj.get("reauthentication_flag") else None
        case "grant.expired":
            return AccountEvent.GRANT_EXPIRED
        case "grant.deleted":
            return AccountEvent.GRANT_DELETED
    return _V2_ACCOUNT_EVENTS.get(trigger)
