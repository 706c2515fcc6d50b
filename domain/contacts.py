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
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from domain import answers
from domain.addresses import InvalidAddress, require_address
from domain.errors import DomainError
from domain.inputs import read_model
from domain.messages import MailMessage
from domain.text import id_problem

MAX_ADDRESSES_PER_CONTACT = 50
MAX_REFERENCE_LENGTH = 255
MAX_CONTACTS_PER_REPLACE = 200_000


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


def _as_text(value: object) -> object:
    """An id or reference the CRM's database numbered (``7``) is the text ``"7"``; a bool is
    not a number here."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError("must be text or a whole number")


def _reference(value: str) -> str:
    """An id or reference as trimmed text: ``7`` and ``" 7 "`` are the same contact."""
    text = value.strip()
    if not text:
        raise ValueError("must not be blank")
    if len(text) > MAX_REFERENCE_LENGTH:
        raise ValueError(f"is longer than {MAX_REFERENCE_LENGTH} characters")
    problem = id_problem(text)
    if problem is not None:
        raise ValueError(problem)
    return text


def _address(value: str) -> str:
    try:
        return require_address(value)
    except InvalidAddress as error:
        raise ValueError(error.message) from None


Reference = Annotated[
    str,
    BeforeValidator(_as_text),
    AfterValidator(_reference),
    WithJsonSchema({"type": ["string", "integer"], "maxLength": MAX_REFERENCE_LENGTH}),
]
Address = Annotated[str, AfterValidator(_address)]


class ContactInput(BaseModel):
    """One contact as the CRM sends it: its id, its addresses (``emails``, or one
    ``email``), and the CRM's own references, shown back on the emails it matches."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "c-1",
                    "emails": ["Dana <dana@acme.example>"],
                    "name": "Dana",
                    "account_ref": "A-9",
                    "lead_ref": None,
                }
            ]
        },
    )

    id: Reference = Field(description="the CRM's id of the contact (text or a number)")
    emails: list[Address] | None = Field(
        None,
        min_length=1,
        max_length=MAX_ADDRESSES_PER_CONTACT,
        fail_fast=True,
        description="its addresses, matched case-insensitively",
    )
    email: Address | None = Field(None, description="one address, in place of emails")
    name: Reference | None = Field(None, description="as the CRM shows it")
    account_ref: Reference | None = Field(None, description="the CRM's account")
    lead_ref: Reference | None = Field(None, description="the CRM's lead")

    @model_validator(mode="after")
    def _has_an_address(self) -> ContactInput:
        if self.emails is None and self.email is None:
            raise ValueError("needs 'emails', a non-empty list (or one 'email')")
        return self

    def addresses(self) -> frozenset[str]:
        if self.emails is not None:
            return frozenset(self.emails)
        return frozenset((self.email,)) if self.email is not None else frozenset()


class ContactListInput(BaseModel):
    """The rep's whole contact list, for a bulk replace."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [{"contacts": [{"id": "c-1", "email": "dana@acme.example"}]}]
        },
    )

    # fail_fast: the first wrong contact is named and the rest not read, so a hostile list
    # of 200,000 wrong contacts costs no more than one (not 200,000 error records).
    contacts: list[ContactInput] = Field(
        description=f"every contact of the rep, at most {MAX_CONTACTS_PER_REPLACE:,}",
        fail_fast=True,
    )


def parse_contact(rep_id: str, document: object) -> Contact:
    """Read one contact as the CRM sends it through the API, by :class:`ContactInput`.

    Raises:
        InvalidInput: not a contact crmsync can match on (``invalid_contact``), or a key
            it does not have (``unknown_field``); the message names the field.
    """
    return _contact(rep_id, read_model(ContactInput, document, "invalid_contact"))


def _contact(rep_id: str, given: ContactInput) -> Contact:
    return Contact(
        rep_id=rep_id,
        crm_contact_id=given.id,
        addresses=given.addresses(),
        name=given.name,
        account_ref=given.account_ref,
        lead_ref=given.lead_ref,
    )


def parse_contacts(rep_id: str, document: object) -> tuple[Contact, ...]:
    """Read the full list of a rep's contacts for a bulk replace (``{"contacts": [...]}``).

    Raises:
        InvalidInput: not that shape (``invalid_contacts``), too long, a contact not valid
            (``invalid_contact``, its position named), or a key no model has.
        InvalidContact: the same contact id twice (``duplicate_contact``).
    """
    listed = document.get("contacts") if isinstance(document, Mapping) else None
    if isinstance(listed, list) and len(listed) > MAX_CONTACTS_PER_REPLACE:
        raise InvalidContact(
            "invalid_contacts", f"at most {MAX_CONTACTS_PER_REPLACE} contacts per replace"
        )
    given = read_model(ContactListInput, document, "invalid_contacts", item_reason=_item_reason)
    contacts: list[Contact] = []
    seen: set[str] = set()
    for position, each in enumerate(given.contacts):
        contact = _contact(rep_id, each)
        if contact.crm_contact_id in seen:
            raise InvalidContact(
                "duplicate_contact",
                f"contacts[{position}]: contact {contact.crm_contact_id!r} is listed twice",
            )
        seen.add(contact.crm_contact_id)
        contacts.append(contact)
    return tuple(contacts)


def _item_reason(path: str) -> str | None:
    """A problem inside one contact of the list is that contact's (``invalid_contact``)."""
    return "invalid_contact" if path.startswith("contacts[") else None


def contact_json(contact: Contact) -> answers.Contact:
    """A contact as the API shows it and its changes carry it."""
    return {
        "id": contact.crm_contact_id,
        "rep_id": contact.rep_id,
        "name": contact.name,
        "emails": sorted(contact.addresses),
        "account_ref": contact.account_ref,
        "lead_ref": contact.lead_ref,
    }
