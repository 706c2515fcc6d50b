"""Where an organization's changes go in the feed, and how far its readers may read (S2).

The feed is ordered by (position, seq) and served below a horizon, so that a change
committed later never lands behind what a reader was already served (``storage.feed``). The
deployment-wide horizon is the oldest transaction still running anywhere: one
organization's slow transaction (a backfill page saved while its thread waits for the CPU)
then holds every organization's changes out of the feed. An organization's reader needs to
wait only for the transactions that may write *its* changes, so each writer says which
organizations it writes for, and each organization's reader reads its own horizon.

A snapshot's ``xmax`` below is one past the latest transaction completed: every id below it
is finished or listed as running; ids at or above it may still be running or not yet given.

- **Writers.** A transaction appending an organization's changes first takes that
  organization's feed lock, a shared transaction-scoped advisory lock (writers never wait
  for one another), then the changes' position (:func:`positions_for`). If this is its first
  write, the position is its own transaction id, taken after the lock. If it wrote before
  (a fact stored before its change), its id is older than the lock: the position is the
  larger of its id + 1 and the ``xmax`` of a snapshot taken after the lock. Either way the
  position is above the writer's id and at least the horizon of any reader that read before
  the lock. In the second case the changes are inserted in a savepoint, whose own id (taken
  by the insert) is above the position, so once the transaction commits ``xmax`` passes it
  and the changes are readable at once, without waiting for another transaction to finish.
- **Readers.** An organization's reader reads, in one statement, the ids of the lock's
  holders and the ``xmax`` of its snapshot, then reads the changes below the least of them
  in a later statement, with a newer snapshot (:func:`org_horizon`). A holder's changes are
  above its id; a writer that takes the lock afterwards writes at or above that ``xmax``;
  one that finished before is in the newer snapshot. So nothing committed later lands below
  what was served, and no other organization's transaction holds it back.

The positions stay transaction ids in kind (each above its writer's id), so the
deployment-wide feed, below the oldest running transaction, orders them as before. Lock
holders are read from ``pg_locks`` alone (live, unlike ``pg_stat_activity``, which a
transaction reads once), in this database (advisory locks are per database): a backend
that holds a transaction id holds an exclusive lock on it. Those ids are 32 bits there,
widened to the nearest 64-bit id (:func:`full_xid`).
Savepoints are not otherwise used: one rolled back after taking a feed lock would release
it. PostgreSQL only: SQLite serialises writers, and its feed needs no horizon.
"""

from __future__ import annotations

import weakref
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

# The first key of every organization's feed lock (the second is the organization's hash):
# a constant of crmsync's own, apart from the single-key lock of storage.subscriptions.
FEED_LOCK_CLASS = 0x4645_4544 & 0x7FFF_FFFF  # "FEED"
_LOW_32 = 0xFFFF_FFFF


def org_lock_key(org_id: str) -> int:
    """The organization's feed lock's second key: a stable 31-bit hash (organizations that
    share one only wait for each other's writers, never skip)."""
    return zlib.crc32(org_id.encode()) & 0x7FFF_FFFF


def full_xid(xid32: int, next_full: int) -> int:
    """The 64-bit id of a running transaction shown as 32 bits, given a 64-bit id read about
    the same time (the next id, as of a snapshot that may be a moment older): the nearest
    one, within 2^31 either way, as PostgreSQL compares transaction ids."""
    difference = (xid32 - next_full) & _LOW_32
    if difference >= 1 << 31:
        difference -= 1 << 32
    return next_full + difference


@dataclass
class _Claimed:
    """An organization's feed position in one transaction, and whether a transaction id was
    taken after it (a savepoint's): until one is, nothing shows that it is in the past."""

    position: int
    settled: bool


# Each transaction's claims, forgotten with it.
_CLAIMED: weakref.WeakKeyDictionary[SessionTransaction, dict[str, _Claimed]] = (
    weakref.WeakKeyDictionary()
)


def positions_for(session: Session, org_ids: Iterable[str]) -> dict[str, int]:
    """The feed position of the changes ``session``'s transaction appends for each
    organization, taking each one's feed lock the first time (see the module)."""
    transaction = session.get_transaction()
    assert transaction is not None, "changes are appended inside a transaction"
    claimed = _CLAIMED.setdefault(transaction, {})
    for org_id in sorted(set(org_ids) - claimed.keys()):  # in one order: no lock cycles
        before = session.execute(
            text(
                "SELECT pg_advisory_xact_lock_shared(:lock_class, :key), "
                "pg_current_xact_id_if_assigned()::text::bigint"
            ),
            {"lock_class": FEED_LOCK_CLASS, "key": org_lock_key(org_id)},
        ).one()[1]
        if before is None:
            # The transaction's first write: its id, taken now, after the lock, is above
            # every reader's bound so far and below the next id once it commits.
            xid = session.execute(text("SELECT pg_current_xact_id()::text::bigint")).scalar_one()
            claimed[org_id] = _Claimed(int(xid), settled=True)
        else:
            # It wrote before: its own id is older than the lock. The position is above it
            # and at least the horizon of any reader that read before the lock: the
            # snapshot's xmax (one past the latest transaction completed) as of a statement
            # of its own, taken after the lock.
            upcoming = session.execute(
                text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
            ).scalar_one()
            claimed[org_id] = _Claimed(max(int(upcoming), int(before) + 1), settled=False)
    return {org_id: claimed[org_id].position for org_id in org_ids}


def unsettled(session: Session, org_ids: Iterable[str]) -> bool:
    """Whether a position of these organizations is not yet below the next transaction id:
    the changes must then be written in a savepoint, whose own id is (:func:`settle`)."""
    transaction = session.get_transaction()
    claimed = _CLAIMED.get(transaction, {}) if transaction is not None else {}
    return any(org_id in claimed and not claimed[org_id].settled for org_id in org_ids)


def settle(session: Session) -> None:
    """After changes were written in a savepoint: every position claimed so far in this
    transaction is below the savepoint's transaction id, so below the next one."""
    transaction = session.get_transaction()
    for claim in (_CLAIMED.get(transaction, {}) if transaction is not None else {}).values():
        claim.settled = True


def org_horizon(session: Session, org_id: str) -> int:
    """The position below which ``org_id``'s changes are final (see the module)."""
    rows = session.execute(
        text(
            """
            WITH locks AS MATERIALIZED (
                SELECT locktype, database, classid, objid, objsubid, pid, transactionid,
                       mode, granted
                FROM pg_locks
            )
            SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid,
                   held.transactionid::text::bigint AS holder_xid
            FROM (SELECT 1) AS one
            LEFT JOIN (
                SELECT mine.transactionid
                FROM locks AS feed
                JOIN locks AS mine
                  ON mine.pid = feed.pid
                 AND mine.locktype = 'transactionid'
                 AND mine.mode = 'ExclusiveLock'
                 AND mine.granted
                WHERE feed.locktype = 'advisory'
                  AND feed.database = (
                      SELECT oid FROM pg_database WHERE datname = current_database()
                  )
                  AND feed.classid = CAST(:lock_class AS oid)
                  AND feed.objid = CAST(:key AS oid)
                  AND feed.objsubid = 2
                  AND feed.granted
            ) AS held ON true
            """
        ),
        {"lock_class": FEED_LOCK_CLASS, "key": org_lock_key(org_id)},
    ).all()
    next_xid = int(rows[0].next_xid)
    holders = [
        full_xid(int(row.holder_xid), next_xid) for row in rows if row.holder_xid is not None
    ]
    return min([next_xid, *holders])
