"""Reps and contacts written straight into a benchmark database, for in-process measurements.

The storage-level benchmarks (direct inserts, matching) skip the API and the queue on
purpose: they measure what the database and the matching code cost on their own. Their reps
get ids of their own, so they never meet what the workers stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from domain.contacts import parse_contact
from domain.organizations import DEFAULT_ORG_ID
from domain.reps import parse_rep
from simulator.traffic import SimRep
from storage.contacts import replace_contacts
from storage.engine import transaction
from storage.reps import put_rep


def seed_rep(engine: Engine, rep: SimRep, *, rep_id: str, now: datetime) -> None:
    """Store ``rep`` (under ``rep_id`` and a grant of that name) with all its contacts."""
    document = parse_rep(
        {
            "email": rep.email,
            "grant_id": f"{rep_id}-grant",
            "provider": rep.provider,
            "settings": {"calendar_sync": False},
        }
    )
    contacts = [parse_contact(rep_id, contact.to_api()) for contact in rep.contacts]
    with transaction(engine) as session:
        put_rep(session, DEFAULT_ORG_ID, rep_id, document, now)
        replace_contacts(session, DEFAULT_ORG_ID, rep_id, contacts, now)
