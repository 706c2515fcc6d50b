"""A rep's account status in the manuals' vocabulary (rule A1), with what each one means.

The status is shown to people (a rep, a CRM admin), so each carries a plain-language meaning
and the next action. Which events move a rep between statuses grows with the account
features; this module owns the vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
        "The mailbox connection expired or was revoked; nothing syncs.",
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
