"""Reading the change outbox as a gap-free feed (rule S2).

The problem: sequence numbers are handed out when a row is inserted, not when its
transaction commits. On PostgreSQL, writer A can take seq 10, writer B seq 11, and B commit
first; a reader that served 11 and moved its cursor past it would never see 10. Serving
"everything above my cursor" is not enough.

The answer here: every change row carries the id of the transaction that wrote it (``txid``,
a column default of ``pg_current_xact_id()``), and the feed is ordered by (txid, seq) and
served only below the oldest transaction still running (``pg_snapshot_xmin`` of the
reader's snapshot, read in the same statement). Any transaction that commits later is
either running now (its id is at or above that horizon) or starts later (its id is higher
still), so everything it writes sorts after every position already served. A long
transaction anywhere in the cluster delays the feed; it never makes it skip.

SQLite serialises writers (``BEGIN IMMEDIATE``), so there ``seq`` is already commit order
and positions are (0, seq).
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Table, Text, cast, delete, func, or_, tuple_
from sqlmodel import Session, col, select

from domain import answers
from domain.cursors import decode_opaque, encode_opaque, position_number
from domain.times import format_time
from storage.tables import ChangeRow, FeedRetentionRow
from storage.upsert import insert_ignore


@dataclass(frozen=True, order=True, slots=True)
class FeedPosition:
    """A place in the feed: after the change written by transaction ``txid`` as ``seq``."""

    txid: int
    seq: int


START = FeedPosition(0, 0)
_RETENTION: Table = FeedRetentionRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class FeedPage:
    """Changes after a position, and the position to read from next."""

    changes: list[ChangeRow]
    next_position: FeedPosition


def position_of(row: ChangeRow) -> FeedPosition:
    assert row.seq is not None
    return FeedPosition(row.txid or 0, row.seq)


def cursor_of(position: FeedPosition) -> str:
    """The opaque cursor clients hold for ``position``."""
    return encode_opaque({"t": position.txid, "s": position.seq})


def position_from_cursor(cursor: str) -> FeedPosition | None:
    """The position a cursor names; None when crmsync did not make it (or its numbers are
    not ones a feed position can hold)."""
    decoded = decode_opaque(cursor)
    if decoded is None:
        return None
    txid, seq = position_number(decoded, "t"), position_number(decoded, "s")
    if txid is None or seq is None:
        return None
    return FeedPosition(txid, seq)


def change_json(row: ChangeRow) -> answers.Change:
    """A change as the feed, the stream and outbound webhooks carry it."""
    return {
        "id": row.change_id,
        "seq": row.seq or 0,  # a stored change always has its seq
        "type": row.type,
        "entity": row.entity,
        "entity_id": row.entity_id,
        "rep_id": row.rep_id,
        "operation": typing.cast(answers.ChangeOperation, row.operation),
        "entity_version": row.entity_version,
        "created_at": format_time(row.created_at),
        "cursor": cursor_of(position_of(row)),
        "payload": row.payload,
    }


def read_changes(
    session: Session,
    after: FeedPosition,
    limit: int,
    *,
    org_id: str | None,
    types: Sequence[str] = (),
    rep_id: str | None = None,
) -> FeedPage:
    """Up to ``limit`` changes after ``after``, in feed order, that no later commit can precede.

    ``types`` holds exact types (``email.stored``) or families (``email.*``). When fewer than
    ``limit`` changes match, every committed change up to the head has been looked at, so the
    next position is the head: a filtered reader does not rescan what it skipped.

    ``org_id`` reads one organization's changes (None: every organization's, for
    operators); as a subset of the visible feed it is as gap-free as the whole.
    """
    below = horizon(session)
    query = _visible(select(ChangeRow), below).where(_after(session, after))
    if types:
        query = query.where(_type_filter(types))
    if org_id is not None:
        query = query.where(ChangeRow.org_id == org_id)
    if rep_id is not None:
        query = query.where(ChangeRow.rep_id == rep_id)
    rows = list(session.exec(query.order_by(*_order(session)).limit(limit)))
    if len(rows) == limit:
        return FeedPage(rows, position_of(rows[-1]))
    head = head_position(session, below)
    last = position_of(rows[-1]) if rows else after
    return FeedPage(rows, max(head, last, after))


def head_position(session: Session, below: int | None = None) -> FeedPosition:
    """The position after the newest change a reader may be served now (below the horizon
    ``below`` when given, else below the current one)."""
    if below is None:
        below = horizon(session)
    query = _visible(select(ChangeRow), below).order_by(*(c.desc() for c in _order(session)))
    row = session.exec(query.limit(1)).first()
    return position_of(row) if row is not None else retained_from(session)


def position_at(session: Session, when: datetime) -> FeedPosition:
    """The position just before the first change recorded at or after ``when``."""
    below = horizon(session)
    query = _visible(select(ChangeRow), below).where(col(ChangeRow.created_at) >= when)
    row = session.exec(query.order_by(*_order(session)).limit(1)).first()
    if row is None:
        return head_position(session, below)
    position = position_of(row)
    return max(FeedPosition(position.txid, position.seq - 1), retained_from(session))


def retained_from(session: Session) -> FeedPosition:
    """The oldest position a reader may still resume from: older changes were pruned."""
    mark = session.get(FeedRetentionRow, 1)
    return FeedPosition(mark.pruned_txid, mark.pruned_seq) if mark else START


def prune_changes(session: Session, before: datetime, now: datetime) -> int:
    """Delete changes recorded before ``before`` and move the retention mark past them.

    Only a prefix of the feed is ever pruned (up to the last visible change older than
    ``before``), so the mark says exactly which cursors are too old.
    """
    query = _visible(select(ChangeRow), horizon(session)).where(col(ChangeRow.created_at) < before)
    last = session.exec(query.order_by(*(c.desc() for c in _order(session))).limit(1)).first()
    if last is None:
        return 0
    mark = position_of(last)
    result = session.execute(delete(ChangeRow).where(_at_or_before(session, mark)))
    values: dict[str, Any] = {"pruned_txid": mark.txid, "pruned_seq": mark.seq, "pruned_at": now}
    if not insert_ignore(session, _RETENTION, {"id": 1, **values}, ["id"]):
        row = session.get(FeedRetentionRow, 1)
        assert row is not None
        if FeedPosition(row.pruned_txid, row.pruned_seq) < mark:
            row.pruned_txid, row.pruned_seq, row.pruned_at = mark.txid, mark.seq, now
            session.add(row)
    return int(result.rowcount)  # type: ignore[attr-defined]


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def horizon(session: Session) -> int | None:
    """The oldest transaction id still running (PostgreSQL), below which changes are final.

    Read once per feed request and used as a constant by each of its statements: under READ
    COMMITTED every statement has its own snapshot, and a horizon read again between the
    page and the head could pass a change the page did not see.
    """
    if not _is_postgres(session):
        return None
    # xid8 has no cast to bigint; its text form is the number.
    xmin = cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger)
    return int(session.execute(select(xmin)).scalar_one())


def _visible(query: Any, below: int | None) -> Any:
    return query if below is None else query.where(col(ChangeRow.txid) < below)


def _order(session: Session) -> list[Any]:
    if _is_postgres(session):
        return [col(ChangeRow.txid), col(ChangeRow.seq)]
    return [col(ChangeRow.seq)]


def _after(session: Session, position: FeedPosition) -> Any:
    if _is_postgres(session):
        return tuple_(col(ChangeRow.txid), col(ChangeRow.seq)) > tuple_(position.txid, position.seq)
    return col(ChangeRow.seq) > position.seq


def _at_or_before(session: Session, position: FeedPosition) -> Any:
    if _is_postgres(session):
        return tuple_(col(ChangeRow.txid), col(ChangeRow.seq)) <= tuple_(
            position.txid, position.seq
        )
    return col(ChangeRow.seq) <= position.seq


def _type_filter(types: Sequence[str]) -> Any:
    exact = [t for t in types if not t.endswith(".*")]
    families = [t[:-1] for t in types if t.endswith(".*")]
    conditions: list[Any] = [col(ChangeRow.type).in_(exact)] if exact else []
    # autoescape: a family is literal text; `_` in "___.*" is no wildcard.
    conditions += [col(ChangeRow.type).startswith(family, autoescape=True) for family in families]
    return or_(*conditions)
