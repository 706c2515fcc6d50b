"""What each recorded outcome word means to a person: the rule that decided, in a sentence,
and what would change it.

Every stored notification records what its handler did in a word (``stored``,
``no_contact``, ``folder_not_synced``...). Support staff asked "why is this email not in the
CRM?" should not have to know the handlers to read that word, so :data:`EXPLANATIONS` holds,
for every word a handler records, the rule that decided (``E2 folder``, ``E2 window``...), a
sentence saying what happened, and what would change the answer. A test collects the words
the handlers can return and fails on one without an entry here. A word this version does not
know (recorded by a newer one, say) gets a generic explanation, never an error.

:class:`Bearing` classifies each word by what it says about the message's email: in the CRM,
not in the CRM, not decided yet, or nothing at all (a calendar or account notification).
``crmsync status`` ranks reps by the share of their message notifications that ended with
the email not in the CRM.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain import answers
from domain.calendar_sync import Effect
from domain.email_rules import SkipReason
from domain.sending import DeliveryEvent

# A stored notification without an outcome is described by its state instead: its attempt
# failed (``failed``), or it was stored before its handler finished (``pending``).
FAILED = "failed"
PENDING = "pending"
# The decision for a message of which crmsync has no record, and for an email stored but
# hidden in the CRM (E7): not outcomes of a handler, but answers all the same.
NEVER_SEEN = "never_seen"
HIDDEN = "hidden"
STORED = "stored"
MAILBOX_DELETED = "mailbox_deleted"

# Words are short snake_case (raw_notifications.outcome holds 64 characters).
MAX_WORD_LENGTH = 64


class Bearing(StrEnum):
    """What an outcome says about whether the message's email is in the CRM."""

    IN_CRM = "in_crm"
    NOT_IN_CRM = "not_in_crm"
    UNDECIDED = "undecided"  # parked, failed and retried, or not handled yet
    OTHER = "other"  # not about an email (calendar, account, folder cache)


@dataclass(frozen=True, slots=True)
class Explanation:
    """An outcome word for people: the rule that decided, what happened, what would change it."""

    outcome: str
    rule: str
    sentence: str
    would_change: str
    bearing: Bearing

    def to_json(self) -> answers.Explanation:
        return {
            "outcome": self.outcome,
            "rule": self.rule,
            "sentence": self.sentence,
            "would_change": self.would_change,
        }


def _entry(
    outcome: str, rule: str, sentence: str, would_change: str, bearing: Bearing
) -> Explanation:
    return Explanation(outcome, rule, sentence, would_change, bearing)


_REREAD = "and reading the mailbox again (POST /v1/reps/{rep_id}/backfill)"
_NOTHING = "Nothing: the email is in the CRM."
_CALENDAR = "Nothing: calendar notifications do not decide emails."
_ACCOUNT = "Nothing: account notifications do not decide emails."
_FOLDERS = "Nothing: folder notifications keep the folder cache current; they decide no email."

_ENTRIES: tuple[Explanation, ...] = (
    # Emails (E2, E4, E5, E7) ------------------------------------------------------------------
    _entry(
        STORED,
        "E2 stored",
        "The message met every rule of E2 (email sync on, a synced folder, dated within the "
        "sync window, an address of one of the rep's contacts) and is stored as an email.",
        _NOTHING,
        Bearing.IN_CRM,
    ),
    _entry(
        "updated",
        "E4 update",
        "The message was already stored; this notification changed its folders, read or "
        "starred state, or brought its body.",
        _NOTHING,
        Bearing.IN_CRM,
    ),
    _entry(
        "unchanged",
        "E4 update",
        "Nothing changed: the notification repeated what was already recorded (a duplicate, "
        "a replay, or a state older than the one applied).",
        "Nothing: what it reported was already recorded.",
        Bearing.IN_CRM,
    ),
    _entry(
        SkipReason.EMAIL_SYNC_OFF.value,
        "E2 sync off",
        "Email sync is off for the rep, so none of its messages are stored.",
        f"Turning email sync on (settings.email_sync in PUT /v1/reps/{{rep_id}}) {_REREAD}.",
        Bearing.NOT_IN_CRM,
    ),
    _entry(
        SkipReason.FOLDER_NOT_SYNCED.value,
        "E2 folder",
        "None of the message's folders is one the rep syncs (the rep's folder names, or the "
        "inbox and sent folders when it names none).",
        "Moving the message into a synced folder (it is stored on that move's notification), "
        f"or adding its folder's name to the rep's folders (settings.folders) {_REREAD}.",
        Bearing.NOT_IN_CRM,
    ),
    _entry(
        SkipReason.UNDATED.value,
        "E2 window",
        "The message carries no date, so it cannot be placed in the rep's sync window.",
        "Nothing in crmsync: Nylas sent it without a date; a later notification of the "
        "message that carries one is decided again.",
        Bearing.NOT_IN_CRM,
    ),
    _entry(
        SkipReason.BEFORE_SYNC_FROM.value,
        "E2 window",
        "The message is dated before the rep's sync-from, where its sync window starts.",
        "Setting the rep's sync_from before the message's date (PUT /v1/reps/{rep_id}) "
        f"{_REREAD}.",
        Bearing.NOT_IN_CRM,
    ),
    _entry(
        SkipReason.NO_CONTACT.value,
        "E2 contact",
        "No From, To or CC address of the message is one of the rep's own contacts (a "
        "contact of another rep does not count, nor does BCC).",
        "Adding one of its addresses to the rep's contacts: crmsync then reads that "
        "address's mail since the sync-from (E11) and stores the message.",
        Bearing.NOT_IN_CRM,
    ),
    _entry(
        "gone",
        "E5 gone",
        "The message no longer exists: fetching it from Nylas answered 404 (it was deleted "
        "or moved out of reach before crmsync read it).",
        "Nothing: there is no message left to store.",
        Bearing.NOT_IN_CRM,
    ),
    _entry(
        "unknown_grant",
        "E1 grant",
        "The notification's mailbox (grant) belongs to no rep, so there was nobody to store "
        "the message for.",
        "Registering the grant on its rep (grant_id in PUT /v1/reps/{rep_id}, or connecting "
        "the mailbox), then handling its notifications again (crmsync reprocess --grant G).",
        Bearing.NOT_IN_CRM,
    ),
    _entry(
        "other_organization",
        "Organization scope",
        "The notification came through one organization's URL or Nylas application, but its "
        "mailbox (grant) is another organization's rep's: an organization's notifications "
        "act only on its own reps, so nothing was done.",
        "Nothing, if it was not Nylas that sent it; otherwise the grant's notifications must "
        "come through its own organization's URL or application.",
        Bearing.NOT_IN_CRM,
    ),
    _entry(
        "grant_gone",
        "A1 grant gone",
        "The mailbox's grant was deleted at Nylas: the rep is invalid and nothing of its "
        "mailbox syncs.",
        "The rep connects the mailbox again (POST /v1/reps/{rep_id}/connect); the backfill "
        "that follows reads the mail since the sync-from.",
        Bearing.NOT_IN_CRM,
    ),
    _entry(
        SkipReason.FOLDER_PENDING.value,
        "N2 folder pending",
        "The message is parked: it meets every other rule of E2, but its folders are not yet "
        "known for the mailbox, so whether one is synced is not decided on a guess.",
        "Nothing: it is decided again when its folder becomes known (a folder notification or "
        "a folder refresh), and at the latest after the parking wait "
        "(CRMSYNC_FOLDER_PARK_SECONDS) with one more refresh; this notification then shows "
        "that decision.",
        Bearing.UNDECIDED,
    ),
    _entry(
        "no_grant_or_message",
        "N1 shape",
        "The notification named no mailbox (grant) or no message id, so there was nothing "
        "to decide.",
        "Nothing in crmsync: Nylas sent an incomplete notification.",
        Bearing.OTHER,
    ),
    _entry(
        "not_stored",
        "E4 delete",
        "The message was deleted from the mailbox; no email of it was stored, so there was "
        "nothing to mark.",
        "Nothing: the message left the mailbox.",
        Bearing.NOT_IN_CRM,
    ),
    _entry(
        MAILBOX_DELETED,
        "E4 delete",
        "The message was deleted from the mailbox; its email stays in the CRM, marked "
        "mailbox_deleted.",
        "Nothing: crmsync never deletes a CRM email because its message left the mailbox.",
        Bearing.IN_CRM,
    ),
    _entry(
        HIDDEN,
        "E7 hidden",
        "The email is stored but hidden in the CRM (a CRM user hid it); the mailbox is untouched.",
        "Nothing in crmsync: a hidden email stays hidden through every update, replay and "
        "reprocess (E7).",
        Bearing.IN_CRM,
    ),
    _entry(
        NEVER_SEEN,
        "N3 never seen",
        "crmsync has no record of this message: no stored notification names it for the "
        "rep's mailbox, and no email of it is stored.",
        "If the message is dated on or after the rep's sync-from, reading the mailbox again "
        "(POST /v1/reps/{rep_id}/backfill) decides it by the same rules.",
        Bearing.NOT_IN_CRM,
    ),
    _entry(
        "malformed",
        "N1 shape",
        "The message read from Nylas had no id, so it could not be stored.",
        "Nothing in crmsync: Nylas answered an incomplete message.",
        Bearing.NOT_IN_CRM,
    ),
    _entry(
        FAILED,
        "retry",
        "Handling it failed (see last_error); it is retried with backoff, and after the last "
        "retry kept as a dead letter.",
        "Fixing the cause, then replaying the dead letter (crmsync dlq replay) or handling "
        "the notification again (crmsync reprocess).",
        Bearing.UNDECIDED,
    ),
    _entry(
        PENDING,
        "retry",
        "It was stored before its handler finished, and no attempt has finished since.",
        "Handling the notification again (crmsync reprocess).",
        Bearing.UNDECIDED,
    ),
    _entry(
        "not_handled",
        "N3 not handled",
        "crmsync has no handler for this kind of notification; it is kept for a later reprocess.",
        "Nothing now: a later version that handles it can reprocess it (crmsync reprocess).",
        Bearing.OTHER,
    ),
    # Emails the CRM sends (E9) ----------------------------------------------------------------
    _entry(
        "not_sent_by_crm",
        "E9 send",
        "A send report (success, failure or bounce) about a message the CRM did not send "
        "through crmsync; there was nothing to update.",
        "Nothing.",
        Bearing.OTHER,
    ),
    *(
        _entry(
            f"delivery_{event.value}",
            "E9 send",
            f"A delivery report ({event.value.replace('_', ' ')}) updated the email the CRM "
            "sent through crmsync.",
            "Nothing: the email's delivery state shows it.",
            Bearing.IN_CRM,
        )
        for event in DeliveryEvent
    ),
    # Folders (E2's folder cache) ----------------------------------------------------------------
    _entry(
        "folder_cached",
        "E2 folder cache",
        "The folder was saved in the cache.",
        _FOLDERS,
        Bearing.OTHER,
    ),
    _entry(
        "folder_removed", "E2 folder cache", "The folder left the cache.", _FOLDERS, Bearing.OTHER
    ),
    _entry(
        "no_folder",
        "E2 folder cache",
        "The folder notification carried no folder.",
        _FOLDERS,
        Bearing.OTHER,
    ),
    # Accounts (A1) ------------------------------------------------------------------------------
    _entry(
        "no_grant", "A1 account", "The grant notification named no grant.", _ACCOUNT, Bearing.OTHER
    ),
    _entry(
        "no_status_change",
        "A1 account",
        "The grant notification moves no account status.",
        _ACCOUNT,
        Bearing.OTHER,
    ),
    _entry(
        "status_changed", "A1 account", "The rep's account status moved.", _ACCOUNT, Bearing.OTHER
    ),
    _entry(
        "stale",
        "A1 account",
        "The grant notification was older than the last one applied, so it changed nothing.",
        _ACCOUNT,
        Bearing.OTHER,
    ),
    # Calendar (C3, C4, C5) --------------------------------------------------------------------
    _entry(
        "no_event",
        "C3 calendar",
        "The event notification carried no event.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    _entry(
        "no_calendar",
        "C3 calendar",
        "The event is linked to an action item whose calendar is not recorded, so the event "
        "cannot be read back from it; nothing was changed.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    _entry(
        "not_linked",
        "C3 calendar",
        "The event is not linked to a CRM action item; it is the rep's own business.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    _entry(
        "occurrence_of_series",
        "C3 calendar",
        "The event is one occurrence of a series; crmsync links single events only.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    _entry(
        "unsupported_when",
        "C3 calendar",
        "The event's time is of a kind an action item cannot hold.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    _entry(
        "echo",
        "C4 echo",
        "The event is what crmsync itself last wrote to the calendar.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    _entry(
        Effect.PUSH.value,
        "C3 last writer wins",
        "The action item is newer: it is written to the calendar again.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    _entry(
        Effect.APPLY_TO_CRM.value,
        "C3 last writer wins",
        "The calendar's edit is newer: it became the action item's content.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    _entry(
        Effect.UNLINK.value,
        "C5 unlink",
        "The event was deleted in the calendar: its action item is kept and unlinked.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    _entry(
        Effect.DELETE_EVENT.value,
        "C3 last writer wins",
        "The CRM deleted the action item: its event is deleted.",
        _CALENDAR,
        Bearing.OTHER,
    ),
    _entry(
        Effect.IGNORE.value,
        "C3 last writer wins",
        "Older than what is applied, a duplicate, or about an item the CRM deleted.",
        _CALENDAR,
        Bearing.OTHER,
    ),
)

EXPLANATIONS: dict[str, Explanation] = {entry.outcome: entry for entry in _ENTRIES}
if len(EXPLANATIONS) != len(_ENTRIES):  # pragma: no cover - a duplicate word in the table
    raise AssertionError("an outcome word is explained twice")


def outcome_word(state: str, outcome: str | None) -> str:
    """The word describing a stored notification: its outcome, else its state (``failed``,
    ``pending``), since a failed attempt records no outcome."""
    return outcome if outcome else state


def explain_outcome(word: str) -> Explanation:
    """The explanation of ``word``; a generic one for a word this version does not know."""
    known = EXPLANATIONS.get(word)
    if known is not None:
        return known
    return Explanation(
        word,
        "unknown",
        f"crmsync recorded the outcome {word!r}, which this version does not explain.",
        "Ask the crmsync operators; the notification's type and error say more.",
        Bearing.OTHER,
    )


def is_outcome_word(text: str) -> bool:
    """Whether ``text`` has the shape of an outcome word: lower-case ASCII letters, digits and
    ``_``, starting with a letter, at most :data:`MAX_WORD_LENGTH` characters."""
    return (
        0 < len(text) <= MAX_WORD_LENGTH
        and text.isascii()
        and text[0].isalpha()
        and all(c.islower() or c.isdigit() or c == "_" for c in text)
    )
