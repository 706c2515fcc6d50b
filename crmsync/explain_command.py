"""``crmsync explain --rep R --message M``: why a Nylas message is or is not in the CRM.

The same decision as ``GET /v1/reps/{rep_id}/messages/{message_id}`` (one document, built by
``storage.message_history.explain_message``), printed for a person, or as that JSON with
``--json``. Everything shown that came from outside (ids, subjects, errors) goes through
``shown``, so no escape sequence in a subject reaches the operator's terminal.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from crmsync.operator_context import OperatorContext, err, line, out, print_json, shown
from domain import answers
from domain.errors import DomainError
from domain.message_verdicts import validate_message_id
from domain.organizations import validate_org_id
from domain.reps import validate_rep_id
from storage.message_history import explain_message
from storage.reps import get_rep


def run_explain(args: argparse.Namespace) -> int:
    """Print the decision; 2 for an id that cannot be one, 1 for an unknown rep."""
    try:
        org_id = validate_org_id(args.org)
        rep_id = validate_rep_id(args.rep)
        message_id = validate_message_id(args.message)
    except DomainError as error:
        err().print(line("crmsync explain", error.message))
        return 2
    context = OperatorContext.from_environ()
    try:
        with Session(context.engine) as session:
            rep = get_rep(session, org_id, rep_id)
            if rep is None:
                err().print(line("crmsync explain", f"no rep {rep_id!r} in {org_id!r}"))
                return 1
            document = explain_message(session, rep, message_id)
    finally:
        context.close()
    if args.json:
        print_json(document)
    else:
        print_explanation(out(), document)
    return 0


def print_explanation(console: Console, document: answers.MessageDecision) -> None:
    """The decision document as a person reads it."""
    decision = document["decision"]
    console.print(
        shown(f"Message {document['message_id']} of rep {document['rep_id']}: "),
        shown(decision["outcome"]),
        shown(f" (rule {decision['rule']})"),
        sep="",
    )
    console.print(shown(f"  {decision['sentence']}"))
    console.print(shown(f"  What would change it: {decision['would_change']}"))
    for note in decision["notes"]:
        console.print(shown(f"  - {note}"))
    if decision["decided_by"]:
        console.print(shown(f"  Decided by notification {decision['decided_by']}."))
    grants = ", ".join(document["grant_ids"]) or "none"
    console.print(shown(f"Mailbox grants searched: {grants}"))
    if document["notifications"]:
        console.print(_notification_table(document))
    else:
        console.print(shown("Notifications seen for it: none"))
    if document["notifications_omitted"]:
        console.print(shown(f"({document['notifications_omitted']} older ones not shown)"))
    explained = {decision["outcome"]}
    for n in document["notifications"]:
        explanation = n["explanation"]
        if explanation["outcome"] not in explained:
            explained.add(explanation["outcome"])
            console.print(
                shown(
                    f"  {explanation['outcome']}: {explanation['sentence']} "
                    f"What would change it: {explanation['would_change']}"
                )
            )
    email = document["email"]
    if email is None:
        console.print(shown("Stored email: none"))
    else:
        console.print(
            shown(
                f"Stored email {email['id']}: {email['subject']!r}, dated {email['date']}, "
                f"folders {', '.join(email['folders']) or '-'}, "
                f"hidden: {_yes(email['hidden'])}, "
                f"deleted from the mailbox: {_yes(email['mailbox_deleted'])}"
            )
        )
    parked = document.get("parked")
    if parked:
        console.print(
            shown(
                f"Parked since {parked['parked_at']}, waiting for folders "
                f"{', '.join(parked['unknown_folder_ids']) or '-'} to become known; decided "
                f"by {parked['decide_by']} at the latest."
            )
        )
    sync = document["sync"]
    folders = ", ".join(sync["folders"]) or "the inbox and sent folders"
    backfill = sync["mailbox_backfill"]
    backfill_text = (
        f"{backfill['state']}, mail dated {backfill['since']} to {backfill['until']}"
        if backfill
        else "none"
    )
    console.print(
        shown(
            f"Sync: email sync {'on' if sync['email_sync'] else 'off'}; folders: {folders}; "
            f"from {sync['sync_from']}; latest mailbox backfill: {backfill_text}"
        )
    )


def _notification_table(document: answers.MessageDecision) -> Table:
    table = Table(title=f"Notifications seen for it ({len(document['notifications'])})")
    for header in ("received", "type", "grant", "state", "outcome", "rule", "error"):
        table.add_column(header, overflow="fold")
    for n in document["notifications"]:
        explanation = n["explanation"]
        table.add_row(
            shown(n["received_at"]),
            shown(n["type"]),
            shown(n["grant_id"]),
            shown(n["state"]),
            shown(explanation["outcome"]),
            shown(explanation["rule"]),
            shown(n["last_error"]),
        )
    return table


def _yes(value: object) -> str:
    return "yes" if value else "no"
