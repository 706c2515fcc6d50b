"""Whose work a dead letter was: the organization behind each actor's message.

Messages name their work, not their organization: a notification names its grant, the other
actors a row (a delivery, an action item, a backfill, a send, a parked message). So the
organization is looked up from what the message names, the same way for a letter queued
today or before organizations existed, with one query per kind of row. A letter whose
grant no rep holds, or whose row is gone, belongs to no organization.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from domain.errors import MalformedNotification
from domain.notifications import parse_unit
from storage.engine import transaction
from storage.tables import (
    ActionItemRow,
    BackfillRow,
    DeliveryRow,
    EmailRow,
    ParkedMessageRow,
    RepRow,
    SubscriptionRow,
)
from workers.deadletters import DeadLetter
from workers.queues import (
    BACKFILL_QUEUE,
    CALENDAR_PUSH_QUEUE,
    DELIVERY_QUEUE,
    NOTIFICATION_QUEUES,
    PARKED_QUEUE,
    SEND_QUEUE,
)

_NOTIFICATION_ACTORS = frozenset(spec.actor_name for spec in NOTIFICATION_QUEUES.values())

RowOrgs = Callable[[Session, list[int]], dict[int, str]]


def _own_org(table: type[ActionItemRow] | type[BackfillRow] | type[EmailRow]) -> RowOrgs:
    """The lookup for a table whose rows carry their organization."""

    def lookup(session: Session, ids: list[int]) -> dict[int, str]:
        rows = session.exec(select(table.id, table.org_id).where(col(table.id).in_(ids)))
        return {row_id: org_id for row_id, org_id in rows if row_id is not None}

    return lookup


def _delivery_orgs(session: Session, ids: list[int]) -> dict[int, str]:
    rows = session.exec(
        select(DeliveryRow.id, SubscriptionRow.org_id)
        .join(SubscriptionRow, col(SubscriptionRow.id) == col(DeliveryRow.subscription_id))
        .where(col(DeliveryRow.id).in_(ids))
    )
    return {row_id: org_id for row_id, org_id in rows if row_id is not None}


def _parked_orgs(session: Session, ids: list[int]) -> dict[int, str]:
    rows = session.exec(
        select(ParkedMessageRow.id, RepRow.org_id)
        .join(RepRow, col(RepRow.grant_id) == col(ParkedMessageRow.grant_id))
        .where(col(ParkedMessageRow.id).in_(ids))
    )
    return {row_id: org_id for row_id, org_id in rows if row_id is not None}


# The actors whose message names a row by its id, and how to find that row's organization.
_ROW_ORGS: dict[str, RowOrgs] = {
    DELIVERY_QUEUE.actor_name: _delivery_orgs,
    CALENDAR_PUSH_QUEUE.actor_name: _own_org(ActionItemRow),
    BACKFILL_QUEUE.actor_name: _own_org(BackfillRow),
    SEND_QUEUE.actor_name: _own_org(EmailRow),
    PARKED_QUEUE.actor_name: _parked_orgs,
}


def letter_orgs(engine: Engine) -> Callable[[Sequence[DeadLetter]], list[str | None]]:
    """``workers.deadletters.OrgsOf`` on ``engine``: each letter's organization, in order."""

    def orgs_of(letters: Sequence[DeadLetter]) -> list[str | None]:
        with transaction(engine) as session:
            return orgs_of_letters(session, letters)

    return orgs_of


def orgs_of_letters(session: Session, letters: Sequence[DeadLetter]) -> list[str | None]:
    """The organization of each letter (None: no organization is known to own its work)."""
    grants = {index: _grant_of(letter) for index, letter in enumerate(letters)}
    rows: defaultdict[str, dict[int, int]] = defaultdict(dict)
    for index, letter in enumerate(letters):
        row_id = _row_of(letter)
        if letter.message.actor_name in _ROW_ORGS and row_id is not None:
            rows[letter.message.actor_name][index] = row_id
    known_grants = sorted({g for g in grants.values() if g is not None})
    grant_orgs: dict[str | None, str] = {}
    if known_grants:
        found = session.exec(
            select(RepRow.grant_id, RepRow.org_id).where(col(RepRow.grant_id).in_(known_grants))
        )
        grant_orgs = dict(found.all())
    orgs: list[str | None] = [grant_orgs.get(grants[i]) for i in range(len(letters))]
    for actor_name, by_index in rows.items():
        row_orgs = _ROW_ORGS[actor_name](session, sorted(set(by_index.values())))
        for index, row_id in by_index.items():
            orgs[index] = row_orgs.get(row_id)
    return orgs


def _grant_of(letter: DeadLetter) -> str | None:
    """The grant a notification's letter names, None for other letters and unreadable ones."""
    message = letter.message
    if message.actor_name not in _NOTIFICATION_ACTORS:
        return None
    api_version = message.kwargs.get("api_version")
    payload = message.kwargs.get("payload")
    if api_version not in ("v2", "v3") or not isinstance(payload, dict):
        return None
    try:
        return parse_unit(api_version, payload).grant_id
    except MalformedNotification:
        return None


def _row_of(letter: DeadLetter) -> int | None:
    """The row id a letter's message names (its first argument), if it is one."""
    args = letter.message.args
    value = args[0] if args else next(iter(letter.message.kwargs.values()), None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None
