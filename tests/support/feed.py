"""Waiting for the change feed's horizon in tests that share a PostgreSQL server.

On PostgreSQL the feed serves a change only once no older transaction is running anywhere on
the server (``pg_snapshot_xmin`` is cluster-wide). Another test session, a benchmark or an
operator's open transaction on the same server therefore delays what a test reads: it never
makes the feed skip, but a test that reads right after committing must wait for the horizon
to pass its writes, as a real reader would simply find them on its next poll.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from domain.organizations import DEFAULT_ORG_ID
from storage.changes import append_change
from storage.feed import horizon
from storage.org_tables import OrganizationRow
from storage.tables import ChangeRow
from tests.support.services import wait_for


def settled(engine: Engine) -> bool:
    """Whether every change written so far is below the feed's horizon (always on SQLite)."""
    with Session(engine) as session:
        below = horizon(session)
        if below is None:
            return True
        newest = session.exec(select(func.max(ChangeRow.txid))).one()
        return newest is None or int(newest) < below


def wait_until_settled(engine: Engine, timeout: float = 30) -> None:
    """Wait until every change written so far can be served (see the module doc)."""
    wait_for(lambda: settled(engine), timeout=timeout, what="the feed horizon to pass the writes")


def record_change(
    session: Session,
    n: int,
    *,
    change_type: str = "email.stored",
    rep_id: str = "r1",
    org_id: str = DEFAULT_ORG_ID,
    now: datetime | None = None,
) -> None:
    """Record a change numbered ``n`` (its payload is ``{"n": n}``), as a fact's writer would."""
    append_change(
        session,
        org_id=org_id,
        change_type=change_type,
        entity=change_type.split(".")[0],
        entity_id=str(n),
        rep_id=rep_id,
        operation="create",
        entity_version=1,
        payload={"n": n},
        now=now or datetime.now(UTC),
    )


def add_organizations(session: Session, *org_ids: str, now: datetime) -> None:
    """Organizations ``org_ids`` as rows, for tests that write their data directly (those
    that go through the API create them with ``PUT /v1/orgs/{id}``); ones already there
    are left as they are."""
    for org_id in org_ids:
        if session.get(OrganizationRow, org_id) is None:
            session.add(
                OrganizationRow(
                    id=org_id,
                    name=org_id.title(),
                    provider_apps={},
                    defaults={},
                    created_at=now,
                    updated_at=now,
                )
            )
    session.flush()
