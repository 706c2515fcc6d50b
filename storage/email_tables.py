"""The tables of a rep's contacts and of its emails: columns and unique keys only, like
``storage.tables``.

A rep's contacts, the index of their addresses that a message is matched by, the emails
stored for the rep and which contacts each email touches: the tables that storing a
message (E4, E5) reads and writes together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.table_keys import ORG_ID_LENGTH, BigKey, of_rep
from storage.types import JsonDocument, UTCDateTime


class ContactRow(SQLModel, table=True):
    """One of a rep's own contacts ("My Contacts").

    A contact removed by the CRM is kept, inactive, so the emails already linked to it keep
    their link (E8: past emails stay with the rep that synced them).
    """

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("org_id", "rep_id", "crm_contact_id", name="uq_contacts_rep_contact"),
        Index("ix_contacts_crm_contact", "org_id", "crm_contact_id"),
        Index("ix_contacts_account_ref", "org_id", "account_ref"),
        of_rep("contacts"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(max_length=ORG_ID_LENGTH)
    rep_id: str = Field(max_length=255)
    crm_contact_id: str = Field(max_length=255)
    name: str | None = Field(default=None, max_length=255)
    account_ref: str | None = Field(default=None, max_length=255)
    lead_ref: str | None = Field(default=None, max_length=255)
    addresses: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    active: bool = Field(default=True)
    version: int = Field(default=1)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ContactAddressRow(SQLModel, table=True):
    """The address index of active contacts: one row per (contact, normalised address).

    Looked up by (rep, address), so matching a message costs the same with 100 contacts
    or 100,000.
    """

    __tablename__ = "contact_addresses"
    __table_args__ = (Index("ix_contact_addresses_rep_address", "org_id", "rep_id", "address"),)

    contact_id: int = Field(
        sa_column=Column(Integer, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    )
    address: str = Field(sa_column=Column(String(320), primary_key=True))
    org_id: str = Field(max_length=ORG_ID_LENGTH)
    rep_id: str = Field(max_length=255)


class EmailRow(SQLModel, table=True):
    """An email stored for a rep: one row per (rep, Nylas message) (E4)."""

    __tablename__ = "emails"
    __table_args__ = (
        UniqueConstraint("org_id", "rep_id", "message_id", name="uq_emails_rep_message"),
        UniqueConstraint("org_id", "rep_id", "send_key", name="uq_emails_rep_send_key"),
        Index("ix_emails_rep_date", "org_id", "rep_id", "date", "id"),
        Index("ix_emails_delivery", "delivery_state", "queued_at"),
        of_rep("emails"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigKey, primary_key=True))
    org_id: str = Field(max_length=ORG_ID_LENGTH)
    rep_id: str = Field(max_length=255)
    grant_id: str | None = Field(default=None, max_length=255)
    # None only for an email the CRM sent that Nylas has not accepted yet (E9).
    message_id: str | None = Field(default=None, max_length=1024)
    thread_id: str | None = Field(default=None, max_length=1024)
    subject: str = Field(sa_column=Column(Text(), nullable=False))
    snippet: str = Field(sa_column=Column(Text(), nullable=False))
    body: str | None = Field(default=None, sa_column=Column(Text()))
    sender: list[dict[str, Any]] = Field(sa_column=Column(JsonDocument, nullable=False))
    to: list[dict[str, Any]] = Field(sa_column=Column(JsonDocument, nullable=False))
    cc: list[dict[str, Any]] = Field(sa_column=Column(JsonDocument, nullable=False))
    bcc: list[dict[str, Any]] = Field(sa_column=Column(JsonDocument, nullable=False))
    date: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    folder_ids: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    folder_names: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
    unread: bool | None = Field(default=None, sa_column=Column(Boolean()))
    starred: bool | None = Field(default=None, sa_column=Column(Boolean()))
    attachments: list[dict[str, Any]] = Field(sa_column=Column(JsonDocument, nullable=False))
    source: str = Field(max_length=16)
    hidden: bool = Field(default=False)
    hidden_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    mailbox_deleted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    observed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Emails the CRM sends through crmsync (E9): the CRM's idempotency key, the lead or
    # contact reference it gave, and where delivery stands (queued, sent, failed, bounced).
    send_key: str | None = Field(default=None, max_length=64)
    reply_to_message_id: str | None = Field(default=None, max_length=1024)
    crm_reference: dict[str, Any] | None = Field(default=None, sa_column=Column(JsonDocument))
    delivery_state: str | None = Field(default=None, max_length=16)
    delivery_error: str | None = Field(default=None, sa_column=Column(Text()))
    queued_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    version: int = Field(default=1)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class EmailContactRow(SQLModel, table=True):
    """Which of the rep's contacts an email touches, and through which headers."""

    __tablename__ = "email_contacts"
    __table_args__ = (Index("ix_email_contacts_contact", "contact_id"),)

    email_id: int = Field(
        sa_column=Column(BigKey, ForeignKey("emails.id", ondelete="CASCADE"), primary_key=True)
    )
    contact_id: int = Field(sa_column=Column(Integer, ForeignKey("contacts.id"), primary_key=True))
    roles: list[str] = Field(sa_column=Column(JsonDocument, nullable=False))
