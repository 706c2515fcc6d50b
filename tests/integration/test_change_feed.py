"""The change feed (S2) on SQLite and PostgreSQL: paging, filters, the head, cursors from a
time, retention with 410, long-polling, and the proof that a reader beside concurrent writers
never skips a change that commits later with a lower number."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete
from sqlmodel import Session

from storage.engine import create_database_engine, transaction
from storage.feed import START, prune_changes, read_changes, retained_from
from storage.tables import ChangeRow
from tests.support.email_sync import EmailSyncWorld
from tests.support.feed import record_change, settled, wait_until_settled
from workers.context import WorkerContext
from workers.maintenance import Maintenance

NOW = datetime.now(UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_database_engine(database_url)
    yield engine
    engine.dispose()


def record(session: Session, n: int, *, change_type: str = "email.stored", rep: str = "r1") -> None:
    record_change(session, n, change_type=change_type, rep_id=rep, now=NOW)


def follow(world: EmailSyncWorld, **params: Any) -> tuple[list[dict[str, Any]], str]:
    """Every change the feed serves from ``params``' cursor on, page by page; the last cursor."""
    found: list[dict[str, Any]] = []
    while True:
        page = world.api("GET", "/v1/changes", params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        found += body["data"]
        params = {**params, "cursor": body["next_cursor"]}
        if not body["has_more"]:
            return found, body["next_cursor"]


def test_the_feed_pages_in_order_and_filters_by_type_and_rep(world: EmailSyncWorld) -> None:
    with transaction(world.runtime.engine) as session:
        for n in range(7):
            record(session, n, change_type="email.stored" if n % 2 else "contact.added")
        record(session, 7, change_type="email.hidden", rep="r2")
    wait_until_settled(world.runtime.engine)

    every, cursor = follow(world, limit=3)
    assert [c["payload"]["n"] for c in every] == list(range(8))
    assert [c["seq"] for c in every] == sorted(c["seq"] for c in every)
    first = every[0]
    assert set(first) == {
        "id",
        "seq",
        "type",
        "entity",
        "entity_id",
        "rep_id",
        "operation",
        "entity_version",
        "created_at",
        "cursor",
        "payload",
    }
    assert first["id"].startswith("chg_")
    # Resuming from any change's own cursor serves exactly what follows it.
    rest, _ = follow(world, cursor=every[4]["cursor"])
    assert [c["payload"]["n"] for c in rest] == [5, 6, 7]

    emails, _ = follow(world, types="email.*", limit=2)
    assert [c["payload"]["n"] for c in emails] == [1, 3, 5, 7]
    exact, _ = follow(world, types="email.hidden,contact.added")
    assert [c["payload"]["n"] for c in exact] == [0, 2, 4, 6, 7]
    # A family is literal text: `_` is no LIKE wildcard.
    wildcards, _ = follow(world, types="_____.*")
    assert wildcards == []
    by_rep, filtered_cursor = follow(world, rep_id="r2")
    assert [c["payload"]["n"] for c in by_rep] == [7]

    # Nothing new: the feed answers empty at the head, with the same cursor again.
    head = world.api("GET", "/v1/changes/latest").json()["cursor"]
    assert head == cursor == filtered_cursor
    empty = world.api("GET", "/v1/changes", params={"cursor": head}).json()
    assert empty == {"data": [], "next_cursor": head, "has_more": False}


def test_a_cursor_from_a_time_starts_at_the_first_change_recorded_then(
    world: EmailSyncWorld,
) -> None:
    with transaction(world.runtime.engine) as session:
        for n in range(3):
            record_change(session, n, now=NOW + timedelta(minutes=n))
    wait_until_settled(world.runtime.engine)
    at = (NOW + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    cursor = world.api("GET", "/v1/changes/cursor", params={"at": at}).json()["cursor"]

    changes, _ = follow(world, cursor=cursor)

    assert [c["payload"]["n"] for c in changes] == [1, 2]


def test_an_expired_cursor_gets_410_with_how_to_resync(world: EmailSyncWorld) -> None:
    with transaction(world.runtime.engine) as session:
        for n in range(3):
            record(session, n)
    # Only changes below every running transaction are final, and only those are pruned: a
    # transaction of a test running beside this one must end first.
    wait_until_settled(world.runtime.engine)
    old_cursor = world.api("GET", "/v1/changes", params={"limit": 1}).json()["next_cursor"]
    with transaction(world.runtime.engine) as session:
        assert prune_changes(session, NOW + timedelta(seconds=1), NOW) == 3
        record(session, 3)

    expired = world.api("GET", "/v1/changes", params={"cursor": old_cursor})

    assert expired.status_code == 410
    error = expired.json()["error"]
    assert error["reason"] == "cursor_expired"
    assert error["resync"]["latest_cursor"] == "/v1/changes/latest"
    fresh, _ = follow(world)
    assert [c["payload"]["n"] for c in fresh] == [3]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"cursor": "bm90LWEtY3Vyc29y"}, "invalid_cursor"),
        ({"wait": "31"}, "invalid_wait"),
        ({"wait": "-1"}, "invalid_wait"),
        ({"types": "email stored"}, "invalid_types"),
        ({"limit": "1001"}, "invalid_limit"),
    ],
    ids=["a forged cursor", "too long a wait", "a negative wait", "a bad type", "too big a page"],
)
def test_bad_feed_queries_are_refused(
    world: EmailSyncWorld, params: dict[str, str], reason: str
) -> None:
    response = world.api("GET", "/v1/changes", params=params)
    assert (response.status_code, response.json()["error"]["reason"]) == (400, reason)


def test_a_long_poll_returns_as_soon_as_a_change_is_recorded(world: EmailSyncWorld) -> None:
    head = world.api("GET", "/v1/changes/latest").json()["cursor"]
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(
            world.api, "GET", "/v1/changes", params={"cursor": head, "wait": "20"}
        )
        time.sleep(0.5)
        assert not waiting.done()  # nothing to answer yet: the request is waiting
        with transaction(world.runtime.engine) as session:
            record(session, 42)
        answer = waiting.result(timeout=20).json()
    assert [c["payload"]["n"] for c in answer["data"]] == [42]


def test_a_reader_never_skips_a_change_committed_later_with_a_lower_number(
    postgres_database_url: str,
) -> None:
    """Writer A takes the lower number and commits last: the reader must wait for it.

    PostgreSQL only: SQLite's writers are serialised, so B cannot commit while A writes.
    """
    engine = create_database_engine(postgres_database_url)
    a_wrote, b_committed, release_a = threading.Event(), threading.Event(), threading.Event()

    def writer_a() -> None:
        with transaction(engine) as session:
            record(session, 1)
            session.flush()
            a_wrote.set()
            release_a.wait(10)

    def writer_b() -> None:
        a_wrote.wait(10)
        with transaction(engine) as session:
            record(session, 2)
        b_committed.set()

    with ThreadPoolExecutor(2) as pool:
        pool.submit(writer_a)
        pool.submit(writer_b)
        assert b_committed.wait(10)
        with Session(engine) as session:
            early = read_changes(session, START, 10, org_id=None)
        release_a.set()
    wait_until_settled(engine)  # A has committed; no other transaction may precede it now
    with Session(engine) as session:
        late = read_changes(session, early.next_position, 10, org_id=None)

    with transaction(engine) as session:  # this database is shared by the session's tests
        session.execute(delete(ChangeRow))
    engine.dispose()
    assert early.changes == []  # B is committed, but A might still precede it
    assert [c.payload["n"] for c in late.changes] == [1, 2]


def test_a_reader_beside_concurrent_writers_sees_every_change_once(engine: Engine) -> None:
    """Eight writers commit 400 changes in random pauses while a reader follows the feed."""
    writers, per_writer = 8, 50
    done = threading.Event()

    def write(worker: int) -> None:
        rng = random.Random(worker)
        for i in range(per_writer):
            with transaction(engine) as session:
                record(session, worker * 1000 + i)
                session.flush()
                time.sleep(rng.random() * 0.004)  # hold the number a while before committing

    seen: list[int] = []

    def read() -> None:
        position = START
        while True:
            # Done once the writers are, the horizon has passed every write, and a page read
            # after that is empty. Settled must be seen before the read: a page read first may
            # have been empty only because a write was still below the horizon.
            finished = done.is_set() and settled(engine)
            with Session(engine) as session:
                page = read_changes(session, position, 50, org_id=None)
            seen.extend(c.payload["n"] for c in page.changes)
            position = page.next_position
            if finished and not page.changes:
                return

    with ThreadPoolExecutor(writers + 1) as pool:
        reader = pool.submit(read)
        for future in [pool.submit(write, w) for w in range(writers)]:
            future.result()
        done.set()
        reader.result(timeout=60)

    expected = {w * 1000 + i for w in range(writers) for i in range(per_writer)}
    assert len(seen) == len(expected)
    assert set(seen) == expected


def test_maintenance_prunes_only_changes_past_the_retention(engine: Engine) -> None:
    with transaction(engine) as session:
        for n, age in enumerate([45, 31, 29, 1]):
            record_change(session, n, now=NOW - timedelta(days=age))
    wait_until_settled(engine)
    maintenance = Maintenance(
        WorkerContext(engine=engine, clock=lambda: NOW), change_retention=timedelta(days=30)
    )

    assert maintenance.run_once() == 2
    assert maintenance.run_once() == 0
    with Session(engine) as session:
        kept = read_changes(session, START, 10, org_id=None).changes
        assert retained_from(session) > START
    assert [c.payload["n"] for c in kept] == [2, 3]
