"""Whose work a message is: the organization behind each actor's message, for dead letters
(``crmsync dlq --org``) and for the shares of worker time (``workers.org_shares``).

Messages name their work, not their organization: a notification names its grant, the other
actors a row (a delivery, an action item, a backfill, a send, a parked message). So the
organization is looked up from what the message names, the same way for a letter queued
today or before organizations existed, with one query per kind of row. A letter whose
grant no rep holds, or whose row is gone, belongs to no organization.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import dramatiq
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from domain.errors import MalformedNotification
from domain.notifications import parse_unit
from storage.engine import transaction
from storage.reps import grant_orgs
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

T = TypeVar("T")

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


# The largest id of a 32-bit and of a 64-bit key column (PostgreSQL's INTEGER and BIGINT).
_INT32, _INT64 = 2**31 - 1, 2**63 - 1

# The actors whose message names a row by its id: how to find that row's organization, and
# the largest id its table's key can hold.
_ROW_ORGS: dict[str, tuple[RowOrgs, int]] = {
    DELIVERY_QUEUE.actor_name: (_delivery_orgs, _INT64),
    CALENDAR_PUSH_QUEUE.actor_name: (_own_org(ActionItemRow), _INT32),
    BACKFILL_QUEUE.actor_name: (_own_org(BackfillRow), _INT32),
    SEND_QUEUE.actor_name: (_own_org(EmailRow), _INT64),
    PARKED_QUEUE.actor_name: (_parked_orgs, _INT64),
}
# Ids per statement: far below PostgreSQL's 65,535 parameters and SQLite's limit.
_CHUNK = 1_000


def letter_orgs(engine: Engine) -> Callable[[Sequence[DeadLetter]], list[str | None]]:
    """``workers.deadletters.OrgsOf`` on ``engine``: each letter's organization, in order."""

    def orgs_of(letters: Sequence[DeadLetter]) -> list[str | None]:
        with transaction(engine) as session:
            return orgs_of_letters(session, letters)

    return orgs_of


def orgs_of_letters(session: Session, letters: Sequence[DeadLetter]) -> list[str | None]:
    """The organization of each letter (None: no organization is known to own its work)."""
    return orgs_of_messages(session, [letter.message for letter in letters])


def orgs_of_messages(
    session: Session, messages: Sequence[dramatiq.Message[Any]]
) -> list[str | None]:
    """The organization of each message (None: no organization is known to own its work).

    A notification that came through an organization (``org_id`` among its arguments) is
    that organization's, as its stored notification is; another, its grant's rep's. Ids are
    looked up :data:`_CHUNK` at a time, whatever the number of letters, and an id that no
    row can have (past the column's range) names none.
    """
    grants = {index: grant_of(message) for index, message in enumerate(messages)}
    rows: defaultdict[str, dict[int, int]] = defaultdict(dict)
    for index, message in enumerate(messages):
        row_id = _row_of(message)
        if message.actor_name in _ROW_ORGS and row_id is not None:
            rows[message.actor_name][index] = row_id
    owners = grant_orgs(session, grants.values())
    orgs: list[str | None] = [
        _via_org(message) or owners.get(grants[i] or "") for i, message in enumerate(messages)
    ]
    for actor_name, by_index in rows.items():
        lookup, largest = _ROW_ORGS[actor_name]
        row_orgs: dict[int, str] = {}
        for ids in _chunks(sorted({i for i in by_index.values() if 0 < i <= largest})):
            row_orgs.update(lookup(session, ids))
        for index, row_id in by_index.items():
            orgs[index] = row_orgs.get(row_id)
    return orgs


def _chunks(values: list[T]) -> Iterator[list[T]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _via_org(message: dramatiq.Message[Any]) -> str | None:
    """The organization a notification came through, as its message carries it."""
    if message.actor_name not in _NOTIFICATION_ACTORS:
        return None
    org_id = message.kwargs.get("org_id")
    return org_id if isinstance(org_id, str) else None


def grant_of(message: dramatiq.Message[Any]) -> str | None:
    """The grant a notification's message names, None for other messages and unreadable ones."""
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


def _row_of(message: dramatiq.Message[Any]) -> int | None:
    """The row id a message names (its first argument), if it is one."""
    args = message.args
    value = args[0] if args else next(iter(message.kwargs.values()), None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def subject_of(message: dramatiq.Message[Any]) -> tuple[str, object] | None:
    """What decides a message's organization, as a key to remember it by: ``("org", id)``
    for a notification that came through an organization, ``("grant", id)`` for another
    notification, ``(actor name, row id)`` for a message naming a row; None for one that
    names nothing (its organization is no one's)."""
    via_org = _via_org(message)
    if via_org is not None:
        return ("org", via_org)
    grant_id = grant_of(message)
    if grant_id is not None:
        return ("grant", grant_id)
    row_id = _row_of(message)
    if message.actor_name in _ROW_ORGS and row_id is not None:
        return (message.actor_name, row_id)
    return None
