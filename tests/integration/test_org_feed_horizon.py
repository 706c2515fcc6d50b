"""Each organization's feed below its own horizon (``storage.feed_positions``), on
PostgreSQL (SQLite serialises writers: its feed needs no horizon).

One organization's open transaction no longer holds another's changes out of the feed,
while each feed, and the deployment's, stays gap-free: a change committed later never lands
behind what a reader was served, whether its transaction appended the change first or wrote
other rows before (its position then comes from the lock, and a savepoint's id makes it
readable as soon as it commits).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, delete
from sqlmodel import Session

from storage.engine import create_database_engine, transaction
from storage.feed import START, FeedPosition, read_changes
from storage.tables import ChangeRow, FolderRefreshRow
from tests.support.feed import add_organizations, record_change, settled

ACME, GLOBEX = "acme", "globex"


@pytest.fixture
def engine(postgres_database_url: str) -> Iterator[Engine]:
    engine = create_database_engine(postgres_database_url)
    with transaction(engine) as session:
        add_organizations(session, ACME, GLOBEX, now=datetime.now(UTC))
    yield engine
    with transaction(engine) as session:  # the database is shared by the session's tests
        session.execute(delete(ChangeRow))
        session.execute(delete(FolderRefreshRow).where(FolderRefreshRow.grant_id.startswith("t-")))  # type: ignore[attr-defined]
    engine.dispose()


def record(session: Session, org_id: str, n: int, *, write_first: bool = False) -> None:
    """A change numbered ``n`` of ``org_id``; with ``write_first``, after another row, as a
    fact's writer that stores the fact before its change."""
    if write_first:
        session.add(
            FolderRefreshRow(grant_id=f"t-{uuid.uuid4().hex}", refreshed_at=datetime.now(UTC))
        )
        session.flush()
    record_change(session, n, org_id=org_id)


def numbers(
    session: Session, org_id: str | None, after: FeedPosition = START
) -> tuple[list[int], FeedPosition]:
    page = read_changes(session, after, 1000, org_id=org_id)
    return [int(c.payload["n"]) for c in page.changes], page.next_position


@pytest.mark.parametrize("write_first", [False, True])
def test_an_open_transaction_of_one_organization_holds_back_only_its_own_feed(
    engine: Engine, write_first: bool
) -> None:
    acme_wrote, release_acme = threading.Event(), threading.Event()

    def acme_writer() -> None:
        with transaction(engine) as session:
            record(session, ACME, 1, write_first=write_first)
            session.flush()
            acme_wrote.set()
            release_acme.wait(10)

    with ThreadPoolExecutor(1) as pool:
        acme = pool.submit(acme_writer)
        assert acme_wrote.wait(10)
        with transaction(engine) as session:
            record(session, GLOBEX, 2, write_first=write_first)
        with Session(engine) as session:
            globex_seen, _ = numbers(session, GLOBEX)
            acme_seen, acme_next = numbers(session, ACME)
            everyones, _ = numbers(session, None)
        release_acme.set()
        acme.result(timeout=10)

    # Globex's change is readable at once in its feed, acme's open transaction aside...
    assert globex_seen == [2]
    # ...while acme's feed, and the deployment's (which acme's transaction precedes), wait.
    assert acme_seen == []
    assert 2 not in everyones
    with Session(engine) as session:
        assert numbers(session, ACME, acme_next)[0] == [1]


@pytest.mark.parametrize("write_first", [False, True])
def test_a_reader_never_skips_its_organizations_change_committed_later_with_a_lower_number(
    engine: Engine, write_first: bool
) -> None:
    """Writer A of acme takes its position first and commits last: acme's reader waits."""
    a_wrote, b_committed, release_a = threading.Event(), threading.Event(), threading.Event()

    def writer_a() -> None:
        with transaction(engine) as session:
            record(session, ACME, 1, write_first=write_first)
            session.flush()
            a_wrote.set()
            release_a.wait(10)

    def writer_b() -> None:
        a_wrote.wait(10)
        with transaction(engine) as session:
            record(session, ACME, 2, write_first=write_first)
        b_committed.set()

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(writer_a), pool.submit(writer_b)]
        assert b_committed.wait(10)
        with Session(engine) as session:
            early, position = numbers(session, ACME)
        release_a.set()
        for future in futures:
            future.result(timeout=10)
    with Session(engine) as session:
        late, _ = numbers(session, ACME, position)

    assert early == []  # B is committed, but A might still precede it
    assert sorted(late) == [1, 2]


def test_a_change_written_after_other_rows_is_readable_as_soon_as_it_commits(
    engine: Engine,
) -> None:
    with transaction(engine) as session:
        record(session, ACME, 7, write_first=True)
    # No other transaction needs to start for the position to be below the horizon.
    with Session(engine) as session:
        assert numbers(session, ACME)[0] == [7]


def test_readers_of_each_organization_and_of_all_beside_writers_of_both_see_every_change_once(
    engine: Engine,
) -> None:
    """Eight writers, of two organizations, half of them storing another row first and one
    writing both organizations' changes in each transaction, commit 450 changes in random
    pauses while a reader of each organization and one of all follow."""
    writers, per_writer = 8, 50
    done = threading.Event()
    org_of = {w: (ACME if w % 2 else GLOBEX) for w in range(writers)}

    def write(worker: int) -> None:
        rng = random.Random(worker)
        for i in range(per_writer):
            with transaction(engine) as session:
                record(session, org_of[worker], worker * 1000 + i, write_first=worker % 4 < 2)
                if worker == 0:  # a transaction of both organizations' changes, as a batch
                    record(session, ACME, 90_000 + i)
                session.flush()
                time.sleep(rng.random() * 0.004)  # hold the position a while before committing

    def read(org_id: str | None) -> list[int]:
        seen: list[int] = []
        position = START
        while True:
            finished = done.is_set() and settled(engine)
            with Session(engine) as session:
                found, position = numbers(session, org_id, position)
            seen += found
            if finished and not found:
                return seen

    with ThreadPoolExecutor(writers + 3) as pool:
        readers = {org: pool.submit(read, org) for org in (ACME, GLOBEX, None)}
        for future in [pool.submit(write, w) for w in range(writers)]:
            future.result()
        done.set()
        seen = {org: reader.result(timeout=60) for org, reader in readers.items()}

    def expected(org_id: str | None) -> list[int]:
        batched = [] if org_id == GLOBEX else [90_000 + i for i in range(per_writer)]
        return sorted(
            [
                w * 1000 + i
                for w in range(writers)
                for i in range(per_writer)
                if org_id is None or org_of[w] == org_id
            ]
            + batched
        )

    for org_id, found in seen.items():
        assert sorted(found) == expected(org_id), org_id  # every one, and each once
