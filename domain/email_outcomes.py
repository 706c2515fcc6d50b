"""The explanations of the words that say what became of a message: stored or updated
(E2, E4), skipped by a rule of E2, out of reach (a grant of no rep or of another
organization, a grant or a message gone), parked, failed and retried, and the delivery
reports of the emails the CRM sends (E9).

These are the words support staff read when asked "why is this email not in the CRM?", kept
apart from those of the notifications that decide no email (``domain.other_outcomes``);
``domain.outcomes`` looks a word up in both.
"""

from __future__ import annotations

from domain.email_rules import SkipReason
from domain.outcome_words import (
    FAILED,
    HIDDEN,
    MAILBOX_DELETED,
    NEVER_SEEN,
    PENDING,
    STORED,
    Bearing,
    Explanation,
)
from domain.sending import DeliveryEvent

_REREAD = "and reading the mailbox again (POST /v1/reps/{rep_id}/backfill)"
_NOTHING = "Nothing: the email is in the CRM."

EMAIL_EXPLANATIONS: tuple[Explanation, ...] = (
    # Emails (E2, E4, E5, E7) ------------------------------------------------------------------
    Explanation(
        STORED,
        "E2 stored",
        "The message met every rule of E2 (email sync on, a synced folder, dated within the "
        "sync window, an address of one of the rep's contacts) and is stored as an email.",
        _NOTHING,
        Bearing.IN_CRM,
    ),
    Explanation(
        "updated",
        "E4 update",
        "The message was already stored; this notification changed its folders, read or "
        "starred state, or brought its body.",
        _NOTHING,
        Bearing.IN_CRM,
    ),
    Explanation(
        "unchanged",
        "E4 update",
        "Nothing changed: the notification repeated what was already recorded (a duplicate, "
        "a replay, or a state older than the one applied).",
        "Nothing: what it reported was already recorded.",
        Bearing.IN_CRM,
    ),
    Explanation(
        SkipReason.EMAIL_SYNC_OFF.value,
        "E2 sync off",
        "Email sync is off for the rep, so none of its messages are stored.",
        f"Turning email sync on (settings.email_sync in PUT /v1/reps/{{rep_id}}) {_REREAD}.",
        Bearing.NOT_IN_CRM,
    ),
    Explanation(
        SkipReason.FOLDER_NOT_SYNCED.value,
        "E2 folder",
        "None of the message's folders is one the rep syncs (the rep's folder names, or the "
        "inbox and sent folders when it names none).",
        "Moving the message into a synced folder (it is stored on that move's notification), "
        f"or adding its folder's name to the rep's folders (settings.folders) {_REREAD}.",
        Bearing.NOT_IN_CRM,
    ),
    Explanation(
        SkipReason.UNDATED.value,
        "E2 window",
        "The message carries no date, so it cannot be placed in the rep's sync window.",
        "Nothing in crmsync: Nylas sent it without a date; a later notification of the "
        "message that carries one is decided again.",
        Bearing.NOT_IN_CRM,
    ),
    Explanation(
        SkipReason.BEFORE_SYNC_FROM.value,
        "E2 window",
        "The message is dated before the rep's sync-from, where its sync window starts.",
        "Setting the rep's sync_from before the message's date (PUT /v1/reps/{rep_id}) "
        f"{_REREAD}.",
        Bearing.NOT_IN_CRM,
    ),
    Explanation(
        SkipReason.NO_CONTACT.value,
        "E2 contact",
        "No From, To or CC address of the message is one of the rep's own contacts (a "
        "contact of another rep does not count, nor does BCC).",
        "Adding one of its addresses to the rep's contacts: crmsync then reads that "
        "address's mail since the sync-from (E11) and stores the message.",
        Bearing.NOT_IN_CRM,
    ),
    Explanation(
        "gone",
        "E5 gone",
        "The message no longer exists: fetching it from Nylas answered 404 (it was deleted "
        "or moved out of reach before crmsync read it).",
        "Nothing: there is no message left to store.",
        Bearing.NOT_IN_CRM,
    ),
    Explanation(
        "unknown_grant",
        "E1 grant",
        "The notification's mailbox (grant) belongs to no rep, so there was nobody to store "
        "the message for.",
        "Registering the grant on its rep (grant_id in PUT /v1/reps/{rep_id}, or connecting "
        "the mailbox), then handling its notifications again (crmsync reprocess --grant G).",
        Bearing.NOT_IN_CRM,
    ),
    Explanation(
        "other_organization",
        "Organization scope",
        "The notification came through one organization's URL or Nylas application, but its "
        "mailbox (grant) is another organization's rep's: an organization's notifications "
        "act only on its own reps, so nothing was done.",
        "Nothing, if it was not Nylas that sent it; otherwise the grant's notifications must "
        "come through its own organization's URL or application.",
        Bearing.NOT_IN_CRM,
    ),
    Explanation(
        "grant_gone",
        "A1 grant gone",
        "The mailbox's grant was deleted at Nylas: the rep is invalid and nothing of its "
        "mailbox syncs.",
        "The rep connects the mailbox again (POST /v1/reps/{rep_id}/connect); the backfill "
        "that follows reads the mail since the sync-from.",
        Bearing.NOT_IN_CRM,
    ),
    Explanation(
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
    Explanation(
        "no_grant_or_message",
        "N1 shape",
        "The notification named no mailbox (grant) or no message id, so there was nothing "
        "to decide.",
        "Nothing in crmsync: Nylas sent an incomplete notification.",
        Bearing.OTHER,
    ),
    Explanation(
        "not_stored",
        "E4 delete",
        "The message was deleted from the mailbox; no email of it was stored, so there was "
        "nothing to mark.",
        "Nothing: the message left the mailbox.",
        Bearing.NOT_IN_CRM,
    ),
    Explanation(
        MAILBOX_DELETED,
        "E4 delete",
        "The message was deleted from the mailbox; its email stays in the CRM, marked "
        "mailbox_deleted.",
        "Nothing: crmsync never deletes a CRM email because its message left the mailbox.",
        Bearing.IN_CRM,
    ),
    Explanation(
        HIDDEN,
        "E7 hidden",
        "The email is stored but hidden in the CRM (a CRM user hid it); the mailbox is untouched.",
        "Nothing in crmsync: a hidden email stays hidden through every update, replay and "
        "reprocess (E7).",
        Bearing.IN_CRM,
    ),
    Explanation(
        NEVER_SEEN,
        "N3 never seen",
        "crmsync has no record of this message: no stored notification names it for the "
        "rep's mailbox, and no email of it is stored.",
        "If the message is dated on or after the rep's sync-from, reading the mailbox again "
        "(POST /v1/reps/{rep_id}/backfill) decides it by the same rules.",
        Bearing.NOT_IN_CRM,
    ),
    Explanation(
        "malformed",
        "N1 shape",
        "The message read from Nylas had no id, so it could not be stored.",
        "Nothing in crmsync: Nylas answered an incomplete message.",
        Bearing.NOT_IN_CRM,
    ),
    Explanation(
        FAILED,
        "retry",
        "Handling it failed (see last_error); it is retried with backoff, and after the last "
        "retry kept as a dead letter.",
        "Fixing the cause, then replaying the dead letter (crmsync dlq replay) or handling "
        "the notification again (crmsync reprocess).",
        Bearing.UNDECIDED,
    ),
    Explanation(
        PENDING,
        "retry",
        "It was stored before its handler finished, and no attempt has finished since.",
        "Handling the notification again (crmsync reprocess).",
        Bearing.UNDECIDED,
    ),
    Explanation(
        "not_handled",
        "N3 not handled",
        "crmsync has no handler for this kind of notification; it is kept for a later reprocess.",
        "Nothing now: a later version that handles it can reprocess it (crmsync reprocess).",
        Bearing.OTHER,
    ),
    # Emails the CRM sends (E9) ----------------------------------------------------------------
    Explanation(
        "not_sent_by_crm",
        "E9 send",
        "A send report (success, failure or bounce) about a message the CRM did not send "
        "through crmsync; there was nothing to update.",
        "Nothing.",
        Bearing.OTHER,
    ),
    *(
        Explanation(
            f"delivery_{event.value}",
            "E9 send",
            f"A delivery report ({event.value.replace('_', ' ')}) updated the email the CRM "
            "sent through crmsync.",
            "Nothing: the email's delivery state shows it.",
            Bearing.IN_CRM,
        )
        for event in DeliveryEvent
    ),
)
