"""A rep's own contacts ("My Contacts") and which of them a message touches (rules E2, E3, E8).

A message belongs in the CRM for a rep when its From, To or CC holds an address of one of
that rep's own contacts. A contact of another rep never matches, even with the same address:
the lookup is always by (rep, address), and :func:`match_contacts` checks the rep again so a
caller that passes too much cannot leak one rep's mail to another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.addresses import InvalidAddress, require_address
from domain.errors import DomainError
from domain.messages import MailMessage
from domain.text import id_problem

MAX_ADDRESSES_PER_CONTACT = 50
MAX_REFERENCE_LENGTH = 255


class InvalidContact(DomainError):
    """Raised when a contact sent by the CRM cannot be stored as one."""


class HeaderRole(StrEnum):
    """The header through which a contact takes part in a message."""

    FROM = "from"
    TO = "to"
    CC = "cc"


@dataclass(frozen=True, slots=True)
class Contact:
    """A contact of one rep, with its normalised addresses."""

    rep_id: str
    crm_contact_id: str
    addresses: frozenset[str]
    name: str | None = None
    account_ref: str | None = None
    lead_ref: str | None = None


@dataclass(frozen=True, slots=True)
class ContactMatch:
    """A contact a message touches, and through which headers."""

    crm_contact_id: str
    roles: frozenset[HeaderRole]


def match_contacts(
    message: MailMessage, rep_id: str, contacts: Iterable[Contact]
) -> tuple[ContactMatch, ...]:
    """The contacts of ``rep_id`` that ``message`` touches through From, To or CC.

    BCC never matches; contacts of any other rep never match. Sorted by contact id, so the
    same inputs always give the same result.
    """
    roles_by_address: dict[str, set[HeaderRole]] = {}
    for role, participants in (
        (HeaderRole.FROM, message.sender),
        (HeaderRole.TO, message.to),
        (HeaderRole.CC, message.cc),
    ):
        for participant in participants:
            roles_by_address.setdefault(participant.email, set()).add(role)
    matches: dict[str, set[HeaderRole]] = {}
    for contact in contacts:
        if contact.rep_id != rep_id:
            continue
        for address in contact.addresses & roles_by_address.keys():
            matches.setdefault(contact.crm_contact_id, set()).update(roles_by_address[address])
    return tuple(
        ContactMatch(contact_id, frozenset(roles)) for contact_id, roles in sorted(matches.items())
    )


def parse_contact(rep_id: str, document: object) -> Contact:
    """Read one contact as the CRM sends it through the API.

    ``{"id": "c-1", "emails": ["Ann <ann@x.com>"], "name": "Ann", "account_ref": "A-9",
    "lead_ref": null}``; ``email`` (one address) is accepted in place of ``emails``.

    Raises:
        InvalidContact: the document is not a contact crmsync can match on.
    """
    if not isinstance(document, Mapping):
        raise InvalidContact("invalid_contact", "a contact must be a JSON object")
    crm_contact_id = _required_reference(document, "id")
    problem = id_problem(crm_contact_id)
    if problem is not None:
        raise InvalidContact("invalid_contact", f"'id' {problem}")
    raw_addresses: Any = document.get("emails")
    if raw_addresses is None and "email" in document:
        raw_addresses = [document.get("email")]
    if not isinstance(raw_addresses, list) or not raw_addresses:
        raise InvalidContact(
            "invalid_contact", f"contact {crm_contact_id!r} needs 'emails', a non-empty list"
        )
    if len(raw_addresses) > MAX_ADDRESSES_PER_CONTACT:
        raise InvalidContact(
            "invalid_contact",
            f"contact {crm_contact_id!r} has more than {MAX_ADDRESSES_PER_CONTACT} addresses",
        )
    addresses: set[str] = set()
    for raw in raw_addresses:
        if not isinstance(raw, str):
            raise InvalidContact(
                "invalid_contact", f"contact {crm_contact_id!r}: addresses must be strings"
            )
        try:
            addresses.add(require_address(raw))
        except InvalidAddress as error:
            raise InvalidContact(
                "invalid_contact", f"contact {crm_contact_id!r}: {error.message}"
            ) from error
    return Contact(
        rep_id=rep_id,
        crm_contact_id=crm_contact_id,
        addresses=frozenset(addresses),
        name=_reference(document, "name"),
        account_ref=_reference(document, "account_ref"),
        lead_ref=_reference(document, "lead_ref"),
    )


def _reference(document: Mapping[str, Any], key: str) -> str | None:
    if document.get(key) is None:
        return None
    return _required_reference(document, key)


def _required_reference(document: Mapping[str, Any], key: str) -> str:
    value = document.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise InvalidContact("invalid_contact", f"'{key}' must be a non-empty string")
    if len(value) > MAX_REFERENCE_LENGTH:
        raise InvalidContact(
            "invalid_contact", f"'{key}' is longer than {MAX_REFERENCE_LENGTH} characters"
        )
    return value.strip()


MAX_CONTACTS_PER_REPLACE = 200_000


def parse_contacts(rep_id: str, documents: object) -> tuple[Contact, ...]:
    """Read the full list of a rep's contacts for a bulk replace.

    Raises:
        InvalidContact: not a list, too long, a contact not valid (its position is named),
            or the same contact id twice.
    """
    if not isinstance(documents, list):
        raise InvalidContact("invalid_contacts", "'contacts' must be a list")
    if len(documents) > MAX_CONTACTS_PER_REPLACE:
        raise InvalidContact(
            "invalid_contacts", f"at most {MAX_CONTACTS_PER_REPLACE} contacts per replace"
        )
    contacts: list[Contact] = []
    seen: set[str] = set()
    for position, document in enumerate(documents):
        try:
            contact = parse_contact(rep_id, document)
        except InvalidContact as error:
            raise InvalidContact(error.reason, f"contacts[{position}]: {error.message}") from error
        if contact.crm_contact_id in seen:
            raise InvalidContact(
                "duplicate_contact",
                f"contacts[{position}]: contact {contact.crm_contact_id!r} is listed twice",
            )
        seen.add(contact.crm_contact_id)
        contacts.append(contact)
    return tuple(contacts)


def contact_json(contact: Contact) -> dict[str, Any]:
    """A contact as the API shows it and its changes carry it."""
    return {
        "id": contact.crm_contact_id,
        "rep_id": contact.rep_id,
        "name": contact.name,
        "emails": sorted(contact.addresses),
        "account_ref": contact.account_ref,
        "lead_ref": contact.lead_ref,
    }
