"""Realistic mailbox traffic for the benchmarks: reps, their contacts, and message notifications.

A benchmark is only as honest as its input. The ingress pays for verifying and parsing each
body, so bodies have the sizes real mail has (2 to 50 KB, log-uniform: most mail is short);
the workers pay for matching addresses against "My Contacts", so each rep has thousands of
contacts and only a share of the mail touches one of them; Gmail and Microsoft grants carry
their own folder ids, message ids and notification ``source``; a few notifications come
``.truncated`` and make the workers fetch the message from the (fake) Nylas API.

Everything is drawn from one seeded :class:`random.Random` and ``now`` is a parameter, so the
same profile and seed give the same bytes on every machine. Wire shapes come from
:mod:`simulator.notifications`. How the notifications are delivered (duplicates, reordering)
is :mod:`simulator.delivery`; sending them is the benchmark's business (``crmsync.bench``).
"""

from __future__ import annotations

import base64
import itertools
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from simulator import notifications as sim
from simulator.folder_presets import (
    GMAIL_INBOX_ID,
    GMAIL_SENT_ID,
    MICROSOFT_INBOX_ID,
    MICROSOFT_SENT_ID,
)

PROVIDERS = ("google", "microsoft")
SOURCES = {"google": "/google/emails/realtime", "microsoft": "/microsoft/emails/realtime"}
INBOX_FOLDER = {"google": GMAIL_INBOX_ID, "microsoft": MICROSOFT_INBOX_ID}
SENT_FOLDER = {"google": GMAIL_SENT_ID, "microsoft": MICROSOFT_SENT_ID}
# Labels a Gmail inbox message often carries beside INBOX (all in the Gmail folder preset).
GMAIL_EXTRA_LABELS = ("UNREAD", "IMPORTANT", "CATEGORY_PERSONAL")

INBOUND_SHARE = 0.6  # of the mail that touches a contact, the share the contact sent
CC_SHARE = 0.2
CORPUS_BYTES = 96 * 1024
_BODY_OPEN = '<div dir="ltr">'
_BODY_CLOSE = "</div>"

_FIRST = (
    "ann", "ben", "chloe", "dev", "emma", "felix", "grace", "hugo", "iris", "jon", "kara",
    "liam", "maya", "noah", "olga", "paul", "quinn", "rosa", "sam", "tara", "umar", "vera",
    "will", "xena", "yusuf", "zoe",
)  # fmt: skip
_LAST = (
    "adams", "baker", "chen", "diaz", "evans", "fischer", "garcia", "haas", "ito", "jones",
    "khan", "lopez", "moreau", "nagy", "olsen", "patel", "quist", "rossi", "silva", "tanaka",
    "ueda", "varga", "weber", "young", "zhang",
)  # fmt: skip
_COMPANIES = (
    "acme", "globex", "initech", "umbrella", "hooli", "vandelay", "stark", "wayne", "tyrell",
    "cyberdyne", "soylent", "wonka", "gringotts", "oceanic", "monarch", "aperture",
)  # fmt: skip
_WORDS = (
    "proposal", "pricing", "renewal", "meeting", "quarter", "contract", "invoice", "demo",
    "follow", "up", "thanks", "for", "the", "call", "we", "can", "review", "next", "week",
    "attached", "please", "find", "our", "team", "budget", "approval", "timeline", "signed",
    "order", "shipping", "licence", "seats", "discount", "terms", "legal", "update", "on",
    "and", "a", "to", "of", "in", "with", "let", "me", "know", "if", "you", "have", "questions",
)  # fmt: skip
_SUBJECTS = (
    "Quarterly proposal for {company}",
    "Re: Pricing for {company}",
    "Follow-up on our call",
    "Contract renewal {year}",
    "Invoice {number}",
    "Re: Re: Demo next week",
    "{company} order confirmation",
    "Fwd: Updated timeline",
)


@dataclass(frozen=True, slots=True)
class TrafficProfile:
    """The shape of the generated traffic; every share is a probability from 0 to 1."""

    reps: int = 4
    contacts_per_rep: int = 2_000
    matching_share: float = 0.3
    truncated_share: float = 0.01
    min_body_bytes: int = 2 * 1024
    max_body_bytes: int = 50 * 1024
    seed: int = 1

    def __post_init__(self) -> None:
        if self.reps < 1 or self.contacts_per_rep < 1:
            raise ValueError("a profile needs at least one rep and one contact per rep")
        for share in (self.matching_share, self.truncated_share):
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"shares are probabilities from 0 to 1, not {share}")
        if not 0 < self.min_body_bytes <= self.max_body_bytes:
            raise ValueError("body sizes need 0 < min_body_bytes <= max_body_bytes")
        if self.min_body_bytes < len(_BODY_OPEN) + len(_BODY_CLOSE):
            raise ValueError(f"min_body_bytes must be at least {len(_BODY_OPEN + _BODY_CLOSE)}")
        if self.max_body_bytes > CORPUS_BYTES:
            raise ValueError(f"max_body_bytes is at most {CORPUS_BYTES}")


@dataclass(frozen=True, slots=True)
class SimContact:
    """One of a rep's contacts, as the CRM sends it (``PUT /v1/reps/{id}/contacts``)."""

    contact_id: str
    name: str
    addresses: tuple[str, ...]

    def to_api(self) -> dict[str, Any]:
        return {"id": self.contact_id, "name": self.name, "emails": list(self.addresses)}


@dataclass(frozen=True, slots=True)
class SimRep:
    """A sales rep with a connected mailbox and "My Contacts"."""

    rep_id: str
    grant_id: str
    provider: str
    email: str
    contacts: tuple[SimContact, ...]

    @property
    def inbox_id(self) -> str:
        return INBOX_FOLDER[self.provider]

    @property
    def sent_id(self) -> str:
        return SENT_FOLDER[self.provider]


@dataclass(frozen=True, slots=True)
class SimMessage:
    """One new message in a rep's mailbox and the notification Nylas sends about it.

    ``message`` is the whole Message object (what the Messages API serves); ``notification``
    is the v3 envelope as first delivered, without the body when ``truncated``. ``matching``
    says whether rule E2 stores it: a contact of the rep in From, To or CC, in a synced folder.
    """

    rep_id: str
    grant_id: str
    message: dict[str, Any]
    notification: dict[str, Any]
    matching: bool
    truncated: bool

    @property
    def message_id(self) -> str:
        return str(self.message["id"])

    @property
    def notification_id(self) -> str:
        return str(self.notification["id"])

    @property
    def body_bytes(self) -> int:
        return len(self.message["body"])

    def delivered(self, attempt: int = 1) -> dict[str, Any]:
        """The envelope of delivery ``attempt`` (a retry keeps the id, counts the attempt)."""
        return {**self.notification, "webhook_delivery_attempt": attempt}


class MailboxTraffic:
    """Reps with contacts, and an endless, reproducible stream of their new messages."""

    def __init__(self, profile: TrafficProfile, *, now: int) -> None:
        self.profile = profile
        self.now = now
        self._rng = random.Random(profile.seed)
        self._corpus = _corpus(random.Random(profile.seed + 1))
        self.reps = tuple(self._rep(index) for index in range(profile.reps))

    def messages(self, count: int | None = None) -> Iterator[SimMessage]:
        """``count`` new messages (endless when None), spread over the reps at random."""
        numbers = itertools.count() if count is None else range(count)
        for _ in numbers:
            yield self._message(self._rng.choice(self.reps))

    # Reps and contacts ---------------------------------------------------------------------

    def _rep(self, index: int) -> SimRep:
        provider = PROVIDERS[index % len(PROVIDERS)]
        contacts = tuple(
            self._contact(index, number) for number in range(self.profile.contacts_per_rep)
        )
        return SimRep(
            rep_id=f"bench-rep-{index:03d}",
            grant_id=f"bench-grant-{index:03d}-{provider}",
            provider=provider,
            email=f"rep{index}@sales.example",
            contacts=contacts,
        )

    def _contact(self, rep_index: int, number: int) -> SimContact:
        rng = self._rng
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        company = rng.choice(_COMPANIES)
        # The number makes every address unique; a tenth of contacts have a second address.
        addresses = [f"{first}.{last}{number}@{company}.example"]
        if rng.random() < 0.1:
            addresses.append(f"{first[0]}{last}{number}@{company}-mail.example")
        return SimContact(
            contact_id=f"r{rep_index}-c{number:06d}",
            name=f"{first.title()} {last.title()}",
            addresses=tuple(addresses),
        )

    # Messages ----------------------------------------------------------------------------

    def _message(self, rep: SimRep) -> SimMessage:
        rng = self._rng
        matching = rng.random() < self.profile.matching_share
        inbound = rng.random() < INBOUND_SHARE
        other = self._contact_address(rep) if matching else self._stranger()
        cc: tuple[str, ...] = ()
        if rng.random() < CC_SHARE:
            # Mail that touches no contact must copy none either.
            copied = self._contact_address(rep) if matching and rng.random() < 0.5 else None
            cc = (copied or self._stranger(),)
        if inbound:
            sender, to, folders = other, (rep.email,), self._inbox_folders(rep)
        else:
            sender, to, folders = rep.email, (other,), (rep.sent_id,)
        date = self.now - rng.randrange(0, 3 * 24 * 3600)
        text = self._body_text()
        message = sim.message_object(
            rep.grant_id,
            message_id=self._message_id(rep.provider),
            sender=sender,
            to=to,
            cc=cc,
            folders=folders,
            subject=self._subject(),
            body=f"{_BODY_OPEN}{text}{_BODY_CLOSE}",
            date=date,
        )
        # message_object stamps these from the clock and uuid4; the stream must be reproducible.
        message["thread_id"] = f"{rng.getrandbits(64):016x}"
        message["created_at"] = date
        message["snippet"] = text[:100]
        message["unread"] = inbound
        message["from"] = [{"name": _display_name(sender), "email": sender}]
        truncated = rng.random() < self.profile.truncated_share
        delivered = dict(message)
        delivered_type = "message.created"
        if truncated:
            delivered["body"] = ""
            delivered_type += ".truncated"
        notification = sim.envelope(
            delivered_type,
            delivered,
            source=SOURCES[rep.provider],
            notification_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            at=date,
        )
        return SimMessage(rep.rep_id, rep.grant_id, message, notification, matching, truncated)

    def _contact_address(self, rep: SimRep) -> str:
        return self._rng.choice(self._rng.choice(rep.contacts).addresses)

    def _stranger(self) -> str:
        rng = self._rng
        company = rng.choice(_COMPANIES)
        if rng.random() < 0.3:  # newsletters and notifications
            return f"{rng.choice(('news', 'noreply', 'billing', 'events'))}@{company}.net"
        return f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}@{company}.net"

    def _inbox_folders(self, rep: SimRep) -> tuple[str, ...]:
        if rep.provider != "google":
            return (rep.inbox_id,)  # a Microsoft message sits in exactly one folder
        labels = [label for label in GMAIL_EXTRA_LABELS if self._rng.random() < 0.3]
        return (rep.inbox_id, *labels)

    def _message_id(self, provider: str) -> str:
        rng = self._rng
        if provider == "google":
            return f"{rng.getrandbits(64):016x}"
        # Microsoft ids are long and opaque: base64 of the Exchange entry id.
        raw = rng.getrandbits(8 * 102).to_bytes(102, "big")
        return "AAMkAD" + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _subject(self) -> str:
        rng = self._rng
        return rng.choice(_SUBJECTS).format(
            company=rng.choice(_COMPANIES).title(),
            year=rng.randrange(2025, 2028),
            number=rng.randrange(10_000, 99_999),
        )

    def _body_text(self) -> str:
        """Body text of a log-uniform size between the profile's bounds (HTML included)."""
        rng = self._rng
        low, high = self.profile.min_body_bytes, self.profile.max_body_bytes
        size = min(high, int(math.exp(rng.uniform(math.log(low), math.log(high)))))
        length = max(0, size - len(_BODY_OPEN) - len(_BODY_CLOSE))
        start = rng.randrange(0, len(self._corpus) - length + 1)
        return self._corpus[start : start + length]


def _display_name(address: str) -> str:
    """``ann.silva12@x`` -> ``Ann Silva``: the name a mail client shows beside the address."""
    local = address.split("@", 1)[0].rstrip("0123456789")
    return " ".join(part.title() for part in local.split("."))


def _corpus(rng: random.Random) -> str:
    """Business-like ASCII prose to cut bodies from (one byte per character)."""
    sentences: list[str] = []
    size = 0
    while size < CORPUS_BYTES:
        words = [rng.choice(_WORDS) for _ in range(rng.randrange(6, 18))]
        sentence = " ".join(words).capitalize() + ". "
        sentences.append(sentence)
        size += len(sentence)
    return "".join(sentences)[:CORPUS_BYTES]
