"""The explanations of the outcome words of notifications that decide no email: the
folder cache's (E2), the accounts' (A1) and the calendar's (C3, C4, C5).

Each says what happened and that nothing about an email follows from it (their bearing is
:attr:`domain.outcome_words.Bearing.OTHER`); they are kept apart from the words about
emails (``domain.email_outcomes``), which are the ones support staff are asked about.
"""

from __future__ import annotations

from domain.calendar_sync import Effect
from domain.outcome_words import Bearing, Explanation

_CALENDAR = "Nothing: calendar notifications do not decide emails."
_ACCOUNT = "Nothing: account notifications do not decide emails."
_FOLDERS = "Nothing: folder notifications keep the folder cache current; they decide no email."

OTHER_EXPLANATIONS: tuple[Explanation, ...] = (
    # Folders (E2's folder cache) ----------------------------------------------------------------
    Explanation(
        "folder_cached",
        "E2 folder cache",
        "The folder was saved in the cache.",
        _FOLDERS,
        Bearing.OTHER,
    ),
    Explanation(
        "folder_removed", "E2 folder cache", "The folder left the cache.", _FOLDERS, Bearing.OTHER
    ),
    Explanation(
        "no_folder",
        "E2 folder cache",
        "The folder notification carried no folder.",
        _FOLDERS,
        Bearing.OTHER,
    ),
    # Accounts (A1) ------------------------------------------------------------------------------
    Explanation(
        "no_grant", "A1 account", "The grant notification named no grant.", _ACCOUNT, Bearing.OTHER
    ),
    Explanation(
        "no_status_change",
        "A1 account",
        "The grant notification moves no account status.",
        _ACCOUNT,
        Bearing.OTHER,
    ),
    Explanation(
        "status_changed", "A1 account", "The rep's account status moved.", _ACCOUNT, Bearing.OTHER
    ),
    Explanation(
        "stale",
        "A1 account",
        "The grant notification was older than the last one applied, so it changed nothing.",
        _ACCOUNT,
        Bearing.OTHER,
    ),
    # Calendar (C3, C4, C5) --------------------------------------------------------------------
    Explanation(
        "no_event",
        "C3 calendar",
        "The event notification carried no event.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    Explanation(
        "no_calendar",
        "C3 calendar",
        "The event is linked to an action item whose calendar is not recorded, so the event "
        "cannot be read back from it; nothing was changed.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    Explanation(
        "not_linked",
        "C3 calendar",
        "The event is not linked to a CRM action item; it is the rep's own business.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    Explanation(
        "occurrence_of_series",
        "C3 calendar",
        "The event is one occurrence of a series; crmsync links single events only.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    Explanation(
        "unsupported_when",
        "C3 calendar",
        "The event's time is of a kind an action item cannot hold.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    Explanation(
        "echo",
        "C4 echo",
        "The event is what crmsync itself last wrote to the calendar.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    Explanation(
        Effect.PUSH.value,
        "C3 last writer wins",
        "The action item is newer: it is written to the calendar again.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    Explanation(
        Effect.APPLY_TO_CRM.value,
        "C3 last writer wins",
        "The calendar's edit is newer: it became the action item's content.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    Explanation(
        Effect.UNLINK.value,
        "C5 unlink",
        "The event was deleted in the calendar: its action item is kept and unlinked.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    Explanation(
        Effect.DELETE_EVENT.value,
        "C3 last writer wins",
        "The CRM deleted the action item: its event is deleted.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    Explanation(
        Effect.IGNORE.value,
        "C3 last writer wins",
        "Older than what is applied, a duplicate, or about an item the CRM deleted.",
        _CALENDAR,
        Bearing.OTHER,
    ),
)
