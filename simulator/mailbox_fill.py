"""A fake mailbox full of realistic mail, made fast: for backfill and retroactive-matching tests
and benchmarks.

A rep's mailbox is mostly mail with people who are not (yet) their CRM contacts, some of it
with contacts, in the inbox and in the sent folder, spread over months, in threads.
:func:`generate_messages` makes ``count`` such messages, seeded (the same arguments give the
same mailbox), and :func:`fill_mailbox` puts them in a :class:`FakeNylas` grant in one bulk
insert, with the grant's own inbox and sent folder ids. Live notification traffic for
benchmarks is ``simulator.traffic``'s business; this only fills what the Messages API lists.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Any

from simulator.mailbox import FakeNylas

Wire = dict[str, Any]

DAY = 86_400
DEFAULT_STRANGERS = (
    "newsletter@vendor-news.example",
    "jordan.blake@partner.example",
    "it-helpdesk@sellerco.example",
    "priya.natarajan@prospect-one.example",
    "calendar-noreply@calendar.example",
    "m.okafor@supplier.example",
    "team@sellerco.example",
    "lena.fischer@agency.example",
)
SUBJECTS = (
    "Quarterly proposal",
    "Follow-up on our call",
    "Pricing for the renewal",
    "Contract draft v2",
    "Meeting next week?",
    "Invoice 2231",
    "Intro: our onboarding team",
    "Quick question about the pilot",
    "Updated deck attached",
    "Lunch on Thursday",
)
GMAIL_INBOX_LABELS = ("CATEGORY_PERSONAL",)


def _message_id(grant_id: str, seed: int, index: int) -> str:
    """A stable, Gmail-like (16 hex digits) id, distinct per grant, seed and index."""
    return hashlib.sha256(f"{grant_id}/{seed}/{index}".encode()).hexdigest()[:16]


def _person(address: str) -> Wire:
    local = address.split("@", 1)[0]
    name = " ".join(p.capitalize() for p in local.replace("_", ".").split(".") if p)
    return {"name": name, "email": address}


def generate_messages(
    grant_id: str,
    count: int,
    *,
    own_email: str,
    contacts: Sequence[str],
    start: int,
    end: int,
    inbox_folder: str,
    sent_folder: str,
    strangers: Sequence[str] = DEFAULT_STRANGERS,
    contact_share: float = 0.3,
    sent_share: float = 0.35,
    reply_share: float = 0.3,
    cc_share: float = 0.15,
    upper_case_share: float = 0.05,
    inbox_labels: Sequence[str] = (),
    seed: int = 0,
) -> list[Wire]:
    """``count`` Message objects dated uniformly in ``[start, end)``, in no particular order.

    Each message is with one counterparty: a contact (share ``contact_share``) or a stranger,
    sent by the rep (``sent_share``, in ``sent_folder``) or received (in ``inbox_folder`` plus
    ``inbox_labels``). Some copy another person (``cc_share``), some continue an earlier
    thread with the same counterparty (``reply_share``, "Re: " subject, same ``thread_id``), and
    some spell the counterparty's address in upper case (``upper_case_share``), as mail
    clients do, so that matching must normalise addresses.
    """
    if count < 0 or end <= start:
        raise ValueError("count must not be negative and end must be after start")
    if not contacts and not strangers:
        raise ValueError("give at least one contact or stranger address")
    rng = random.Random(seed)
    me = {"name": "Sales Rep", "email": own_email}
    threads: dict[str, tuple[str, str]] = {}  # counterparty -> (thread_id, subject)
    messages: list[Wire] = []
    for index in range(count):
        pool = (
            contacts if contacts and (not strangers or rng.random() < contact_share) else strangers
        )
        counterparty = rng.choice(pool)
        if rng.random() < upper_case_share:
            counterparty = counterparty.upper()
        message_id = _message_id(grant_id, seed, index)
        known = threads.get(counterparty.lower())
        if known is not None and rng.random() < reply_share:
            thread_id, subject = known[0], f"Re: {known[1]}"
        else:
            thread_id, subject = message_id, rng.choice(SUBJECTS)
            threads[counterparty.lower()] = (thread_id, subject)
        sent = rng.random() < sent_share
        others = [s for s in (*contacts, *strangers) if s.lower() != counterparty.lower()]
        cc = [_person(rng.choice(others))] if others and rng.random() < cc_share else []
        date = rng.randrange(start, end)
        text = f"Hello, about {subject.lower()}: see below. Message {index}."
        messages.append(
            {
                "id": message_id,
                "grant_id": grant_id,
                "object": "message",
                "thread_id": thread_id,
                "subject": subject,
                "from": [me if sent else _person(counterparty)],
                "to": [_person(counterparty) if sent else me],
                "cc": cc,
                "bcc": [],
                "reply_to": [],
                "date": date,
                "created_at": date,
                "folders": [sent_folder] if sent else [inbox_folder, *inbox_labels],
                "snippet": text[:100],
                "body": f"<p>{text}</p>",
                "unread": not sent and rng.random() < 0.2,
                "starred": False,
                "attachments": [],
            }
        )
    return messages


def fill_mailbox(
    fake: FakeNylas,
    grant_id: str,
    count: int,
    *,
    contacts: Sequence[str],
    start: int,
    end: int,
    seed: int = 0,
    **shares: Any,
) -> list[Wire]:
    """Put :func:`generate_messages` in the grant's own inbox and sent folders; the messages.

    ``shares`` are the other keyword arguments of :func:`generate_messages` (``strangers``,
    ``contact_share``, ``sent_share``...). Gmail inbox messages also carry a category label.
    """
    grant = fake.grant(grant_id)
    if grant is None:
        raise KeyError(f"no grant {grant_id!r} in the fake Nylas")
    inbox = fake.folder_id(grant_id, "\\Inbox")
    sent = fake.folder_id(grant_id, "\\Sent")
    if inbox is None or sent is None:
        raise ValueError(f"grant {grant_id!r} has no inbox or sent folder: use add_mailbox")
    shares.setdefault("inbox_labels", GMAIL_INBOX_LABELS if grant["provider"] == "google" else ())
    messages = generate_messages(
        grant_id,
        count,
        own_email=str(grant.get("email")),
        contacts=contacts,
        start=start,
        end=end,
        inbox_folder=inbox,
        sent_folder=sent,
        seed=seed,
        **shares,
    )
    fake.add_messages(grant_id, messages)
    return messages
