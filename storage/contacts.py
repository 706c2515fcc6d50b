"""A rep's contacts ("My Contacts") and the address index the matcher looks up (E2, E3, E8).

Removing a contact deactivates it and drops its addresses from the index: it stops
matching new mail, while the emails already linked to it keep their link. Every write
records a ``contact.added|updated|removed`` change, and only for what really changed, so a
CRM that re-sends the same list of 100,000 contacts writes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from domain.contacts import Contact, contact_json
from storage.changes import Change, append_change, append_changes
from storage.tables import ContactAddressRow, ContactRow

_BATCH = 1000


class ContactOutcome(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class ReplaceSummary:
    added: int
    updated: int
    removed: int
    unchanged: int

    def to_json(self) -> dict[str, int]:
        return {
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
        }


@dataclass(frozen=True, slots=True)
class IndexedContact:
    """A contact with its storage key, for linking emails to it."""

    key: int
    contact: Contact


def replace_contacts(
    session: Session, org_id: str, rep_id: str, contacts: Iterable[Contact], now: datetime
) -> ReplaceSummary:
    """Make ``contacts`` the rep's whole list: add, update and remove to match it."""
    rows = {
        row.crm_contact_id: row
        for row in session.exec(
            select(ContactRow).where(ContactRow.org_id == org_id, ContactRow.rep_id == rep_id)
        )
    }
    counts = dict.fromkeys(ContactOutcome, 0)
    wanted: set[str] = set()
    new: list[Contact] = []
    for contact in contacts:
        wanted.add(contact.crm_contact_id)
        row = rows.get(contact.crm_contact_id)
        if row is None:
            new.append(contact)
        else:
            counts[_upsert(session, org_id, row, contact, now)] += 1
    _add_many(session, org_id, new, now)
    counts[ContactOutcome.ADDED] += len(new)
    for crm_contact_id, row in rows.items():
        if row.active and crm_contact_id not in wanted:
            _deactivate(session, row, now)
            counts[ContactOutcome.REMOVED] += 1
    return ReplaceSummary(
        added=counts[ContactOutcome.ADDED],
        updated=counts[ContactOutcome.UPDATED],
        removed=counts[ContactOutcome.REMOVED],
        unchanged=counts[ContactOutcome.UNCHANGED],
    )


def put_contact(session: Session, org_id: str, contact: Contact, now: datetime) -> ContactOutcome:
    """Add one contact to its rep, or update it."""
    row = session.exec(
        select(ContactRow).where(
            ContactRow.org_id == org_id,
            ContactRow.rep_id == contact.rep_id,
            ContactRow.crm_contact_id == contact.crm_contact_id,
        )
    ).first()
    return _upsert(session, org_id, row, contact, now)


def remove_contact(
    session: Session, org_id: str, rep_id: str, crm_contact_id: str, now: datetime
) -> bool:
    """Remove one contact from its rep; False when the rep has no such active contact."""
    row = session.exec(
        select(ContactRow).where(
            ContactRow.org_id == org_id,
            ContactRow.rep_id == rep_id,
            ContactRow.crm_contact_id == crm_contact_id,
        )
    ).first()
    if row is None or not row.active:
        return False
    _deactivate(session, row, now)
    return True


def get_contact(session: Session, org_id: str, rep_id: str, crm_contact_id: str) -> Contact | None:
    row = session.exec(
        select(ContactRow).where(
            ContactRow.org_id == org_id,
            ContactRow.rep_id == rep_id,
            ContactRow.crm_contact_id == crm_contact_id,
            col(ContactRow.active).is_(True),
        )
    ).first()
    return _to_contact(row) if row else None


def contact_exists(session: Session, org_id: str, crm_contact_id: str) -> bool:
    """Whether any rep of the organization has, or had, a contact with this CRM id."""
    query = (
        select(ContactRow.id)
        .where(ContactRow.org_id == org_id, ContactRow.crm_contact_id == crm_contact_id)
        .limit(1)
    )
    return session.exec(query).first() is not None


def list_contacts(
    session: Session, org_id: str, rep_id: str, *, after: str | None, limit: int
) -> list[Contact]:
    """The rep's active contacts in contact id order, from just after ``after``."""
    query = select(ContactRow).where(
        ContactRow.org_id == org_id, ContactRow.rep_id == rep_id, col(ContactRow.active).is_(True)
    )
    if after is not None:
        query = query.where(ContactRow.crm_contact_id > after)
    query = query.order_by(col(ContactRow.crm_contact_id)).limit(limit)
    return [_to_contact(row) for row in session.exec(query)]


def contacts_for_addresses(
    session: Session, org_id: str, rep_id: str, addresses: Collection[str]
) -> list[IndexedContact]:
    """The rep's active contacts holding any of ``addresses``: one index lookup per address."""
    if not addresses:
        return []
    query = (
        select(ContactRow)
        .join(ContactAddressRow, col(ContactAddressRow.contact_id) == col(ContactRow.id))
        .where(
            ContactAddressRow.org_id == org_id,
            ContactAddressRow.rep_id == rep_id,
            col(ContactAddressRow.address).in_(sorted(addresses)),
            col(ContactRow.active).is_(True),
        )
        .distinct()
    )
    found: list[IndexedContact] = []
    for row in session.exec(query):
        assert row.id is not None
        found.append(IndexedContact(row.id, _to_contact(row)))
    return found


def contacts_by_address(
    session: Session, org_id: str, rep_id: str, addresses: Collection[str]
) -> dict[str, list[IndexedContact]]:
    """:func:`contacts_for_addresses` for a page of messages in one query: the rep's active
    contacts by each of ``addresses`` that indexes them (addresses without one are absent)."""
    if not addresses:
        return {}
    query = (
        select(ContactAddressRow.address, ContactRow)
        .join(ContactAddressRow, col(ContactAddressRow.contact_id) == col(ContactRow.id))
        .where(
            ContactAddressRow.org_id == org_id,
            ContactAddressRow.rep_id == rep_id,
            col(ContactAddressRow.address).in_(sorted(addresses)),
            col(ContactRow.active).is_(True),
        )
    )
    found: dict[str, list[IndexedContact]] = {}
    for address, row in session.exec(query):
        assert row.id is not None
        found.setdefault(address, []).append(IndexedContact(row.id, _to_contact(row)))
    return found


def _upsert(
    session: Session, org_id: str, row: ContactRow | None, contact: Contact, now: datetime
) -> ContactOutcome:
    addresses = sorted(contact.addresses)
    if row is None:
        row = ContactRow(
            org_id=org_id,
            rep_id=contact.rep_id,
            crm_contact_id=contact.crm_contact_id,
            name=contact.name,
            account_ref=contact.account_ref,
            lead_ref=contact.lead_ref,
            addresses=addresses,
            active=True,
            created_at=now,
            updated_at=now,
        )
        outcome = ContactOutcome.ADDED
    else:
        same = (
            row.active
            and row.name == contact.name
            and row.account_ref == contact.account_ref
            and row.lead_ref == contact.lead_ref
            and row.addresses == addresses
        )
        if same:
            return ContactOutcome.UNCHANGED
        outcome = ContactOutcome.UPDATED if row.active else ContactOutcome.ADDED
        row.name = contact.name
        row.account_ref = contact.account_ref
        row.lead_ref = contact.lead_ref
        row.addresses = addresses
        row.active = True
        row.version += 1
        row.updated_at = now
    session.add(row)
    session.flush()
    assert row.id is not None
    _index_addresses(session, row.id, org_id, contact.rep_id, addresses)
    append_change(
        session,
        org_id=org_id,
        change_type=f"contact.{outcome.value}",
        entity="contact",
        entity_id=contact.crm_contact_id,
        rep_id=contact.rep_id,
        operation="create" if outcome is ContactOutcome.ADDED else "update",
        entity_version=row.version,
        payload=contact_json(contact),
        now=now,
    )
    return outcome


def _add_many(session: Session, org_id: str, contacts: Sequence[Contact], now: datetime) -> None:
    """Add contacts no row exists for, a batch per statement: a first upload of 100,000
    contacts is a few hundred statements, not a few hundred thousand."""
    for start in range(0, len(contacts), _BATCH):
        batch = contacts[start : start + _BATCH]
        keys = session.execute(
            insert(ContactRow).returning(col(ContactRow.crm_contact_id), col(ContactRow.id)),
            [
                {
                    "org_id": org_id,
                    "rep_id": c.rep_id,
                    "crm_contact_id": c.crm_contact_id,
                    "name": c.name,
                    "account_ref": c.account_ref,
                    "lead_ref": c.lead_ref,
                    "addresses": sorted(c.addresses),
                    "active": True,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for c in batch
            ],
        ).all()
        key_of = dict(keys)
        address_rows = [
            {
                "contact_id": key_of[c.crm_contact_id],
                "org_id": org_id,
                "rep_id": c.rep_id,
                "address": a,
            }
            for c in batch
            for a in sorted(c.addresses)
        ]
        if address_rows:
            session.execute(insert(ContactAddressRow), address_rows)
        append_changes(
            session,
            [
                Change(
                    org_id,
                    "contact.added",
                    "contact",
                    c.crm_contact_id,
                    c.rep_id,
                    "create",
                    1,
                    contact_json(c),
                )
                for c in batch
            ],
            now,
        )


def _deactivate(session: Session, row: ContactRow, now: datetime) -> None:
    assert row.id is not None
    row.active = False
    row.version += 1
    row.updated_at = now
    session.add(row)
    session.execute(delete(ContactAddressRow).where(col(ContactAddressRow.contact_id) == row.id))
    append_change(
        session,
        org_id=row.org_id,
        change_type="contact.removed",
        entity="contact",
        entity_id=row.crm_contact_id,
        rep_id=row.rep_id,
        operation="delete",
        entity_version=row.version,
        payload=contact_json(_to_contact(row)),
        now=now,
    )


def _index_addresses(
    session: Session, contact_key: int, org_id: str, rep_id: str, addresses: list[str]
) -> None:
    session.execute(
        delete(ContactAddressRow).where(col(ContactAddressRow.contact_id) == contact_key)
    )
    if addresses:
        session.execute(
            insert(ContactAddressRow),
            [
                {"contact_id": contact_key, "org_id": org_id, "rep_id": rep_id, "address": a}
                for a in addresses
            ],
        )


def _to_contact(row: ContactRow) -> Contact:
    return Contact(
        rep_id=row.rep_id,
        crm_contact_id=row.crm_contact_id,
        addresses=frozenset(row.addresses),
        name=row.name,
        account_ref=row.account_ref,
        lead_ref=row.lead_ref,
    )
