"""Migrations 0012 and 0013 on a database that holds data: what it held at 0011 becomes the
default organization's, every key still holds, a rep is now named by its organization and
id, and a stored notification names the organization of its grant's rep."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, inspect, make_url, text
from sqlalchemy.exc import IntegrityError

from storage.engine import create_database_engine
from storage.migrate import MigrationError, current_revision, upgrade
from tests.support.services import POSTGRES_ADMIN_URL, SESSION_TOKEN

# Every table that gets an org_id, and how many rows of it the seed below writes.
SCOPED_ROWS = {
    "reps": 2,
    "contacts": 1,
    "contact_addresses": 1,
    "emails": 1,
    "action_items": 1,
    "backfills": 1,
    "connect_attempts": 1,
    "changes": 1,
    "subscriptions": 1,
}
REP_FACT_TABLES = ["connect_attempts", "backfills", "contacts", "emails", "action_items"]

REP = """
INSERT INTO reps (id, email, grant_id, provider, email_sync_enabled, folders,
    calendar_sync_enabled, calendar_days_after, sync_from, account_status, version,
    created_at, updated_at)
VALUES (:id, :email, :grant_id, 'google', TRUE, '[]', FALSE, 30, CURRENT_TIMESTAMP,
    'connected', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
"""
CONTACT = """
INSERT INTO contacts (rep_id, crm_contact_id, addresses, active, version, created_at,
    updated_at)
VALUES ('rep-1', 'crm-contact-1', '["pat@client.example"]', TRUE, 1, CURRENT_TIMESTAMP,
    CURRENT_TIMESTAMP)
RETURNING id
"""
CONTACT_ADDRESS = """
INSERT INTO contact_addresses (contact_id, address, rep_id)
VALUES (:contact_id, 'pat@client.example', 'rep-1')
"""
EMAIL = """
INSERT INTO emails (rep_id, grant_id, message_id, subject, snippet, sender, "to", cc, bcc,
    date, folder_ids, folder_names, attachments, source, hidden, version, created_at,
    updated_at)
VALUES ('rep-1', 'g1', 'message-1', 'Hello', 'Hi', '{}', '[]', '[]', '[]',
    CURRENT_TIMESTAMP, '[]', '[]', '[]', 'nylas', FALSE, 1, CURRENT_TIMESTAMP,
    CURRENT_TIMESTAMP)
RETURNING id
"""
EMAIL_CONTACT = """
INSERT INTO email_contacts (email_id, contact_id, roles) VALUES (:email_id, :contact_id, '[]')
"""
ACTION_ITEM = """
INSERT INTO action_items (rep_id, crm_item_id, content, version_at, version_side,
    version_digest, sync_enabled, notify_participants, push_state, version, created_at,
    updated_at)
VALUES ('rep-1', 'item-1', '{}', CURRENT_TIMESTAMP, 1, 'digest', TRUE, FALSE, 'idle', 1,
    CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
"""
BACKFILL = """
INSERT INTO backfills (rep_id, grant_id, kind, addresses, since, until, state,
    window_index, windows_total, pages_done, scanned, stored, failed, created_at, updated_at)
VALUES ('rep-1', 'g1', 'contacts', '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'done',
    0, 1, 0, 0, 0, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
"""
CONNECT_ATTEMPT = """
INSERT INTO connect_attempts (nonce, rep_id, created_at)
VALUES ('nonce-1', 'rep-1', CURRENT_TIMESTAMP)
"""
CHANGE = """
INSERT INTO changes (change_id, type, entity, entity_id, rep_id, operation, entity_version,
    payload, created_at)
VALUES (:change_id, 'contact.updated', 'contact', '1', 'rep-1', 'updated', 1, '{}',
    CURRENT_TIMESTAMP)
"""
SUBSCRIPTION = """
INSERT INTO subscriptions (id, url, event_types, secret, status, position_txid, position_seq,
    created_at, updated_at)
VALUES ('sub-1', 'https://crm.example/hooks', '["*"]', 'secret', 'active', 0, 0,
    CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
"""
NOTIFICATION = """
INSERT INTO raw_notifications (notification_id, api_version, type, trigger, grant_id,
    received_at, payload, state, attempts)
VALUES (:notification_id, 'v3', 'message.created', 'message.created', :grant_id,
    CURRENT_TIMESTAMP, '{}', 'processed', 1)
"""
# Written after the upgrade: the organization-scoped forms.
ORGANIZATION = """
INSERT INTO organizations (id, name, provider_apps, defaults, version, created_at, updated_at)
VALUES ('other', 'Other', '{}', '{}', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
"""
OTHER_REP = """
INSERT INTO reps (org_id, id, email, grant_id, provider, email_sync_enabled, folders,
    calendar_sync_enabled, calendar_days_after, sync_from, account_status, version,
    created_at, updated_at)
VALUES ('other', 'rep-1', 'cy@other.example', 'g3', 'google', TRUE, '[]', FALSE, 30,
    CURRENT_TIMESTAMP, 'connected', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
"""
OTHER_CONTACT = """
INSERT INTO contacts (org_id, rep_id, crm_contact_id, addresses, active, version, created_at,
    updated_at)
VALUES ('other', :rep_id, 'crm-contact-1', '[]', TRUE, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
"""
NEW_CHANGE = """
INSERT INTO changes (org_id, change_id, type, entity, entity_id, rep_id, operation,
    entity_version, payload, created_at)
VALUES ('default', 'change-3', 'contact.updated', 'contact', '1', 'rep-1', 'updated', 1, '{}',
    CURRENT_TIMESTAMP)
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_at_0011(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database of its own migrated to 0011: a SQLite file, then a private
    PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        engine = create_database_engine(f"sqlite:///{tmp_path / 'crmsync.db'}")
        upgrade(engine, "0011")
        yield engine
        engine.dispose()
        return
    name = f"crmsync_test_{SESSION_TOKEN}_m0012"
    admin = make_url(POSTGRES_ADMIN_URL)
    admin_dsn = admin.render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    engine = create_database_engine(admin.set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(engine, "0011")
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(admin_dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed_0011(engine: Engine) -> None:
    """One of each row of a rep's tree, written as a database at 0011 held them."""
    with engine.begin() as connection:
        connection.execute(
            text(REP), {"id": "rep-1", "email": "ann@acme.example", "grant_id": "g1"}
        )
        connection.execute(
            text(REP), {"id": "rep-2", "email": "ben@acme.example", "grant_id": "g2"}
        )
        contact_id = connection.execute(text(CONTACT)).scalar_one()
        connection.execute(text(CONTACT_ADDRESS), {"contact_id": contact_id})
        email_id = connection.execute(text(EMAIL)).scalar_one()
        connection.execute(text(EMAIL_CONTACT), {"email_id": email_id, "contact_id": contact_id})
        for statement in (ACTION_ITEM, BACKFILL, CONNECT_ATTEMPT, SUBSCRIPTION):
            connection.execute(text(statement))
        connection.execute(text(CHANGE), {"change_id": "change-1"})
        connection.execute(text(CHANGE), {"change_id": "change-2"})
        # A pruned change: its number must never be handed out again.
        connection.execute(text("DELETE FROM changes WHERE change_id = 'change-2'"))


def test_existing_rows_become_the_default_organizations(engine_at_0011: Engine) -> None:
    engine = engine_at_0011
    seed_0011(engine)

    upgrade(engine)

    with engine.connect() as connection:
        for table, count in SCOPED_ROWS.items():
            query = text(f"SELECT org_id FROM {table}")  # noqa: S608 (names from this module)
            org_ids = connection.execute(query).scalars().all()
            assert org_ids == ["default"] * count, table
        # The rows that refer to rebuilt tables are still there (not dropped nor cascaded).
        assert connection.execute(text("SELECT count(*) FROM email_contacts")).scalar() == 1
        assert connection.execute(text("SELECT count(*) FROM contact_addresses")).scalar() == 1
    schema = inspect(engine)
    for table in SCOPED_ROWS:
        (org_id,) = [c for c in schema.get_columns(table) if c["name"] == "org_id"]
        assert org_id["nullable"] is False, table
        assert org_id["default"] is None, table  # the fill's default is gone
    assert schema.get_pk_constraint("reps")["constrained_columns"] == ["org_id", "id"]
    for table in REP_FACT_TABLES:
        keys = {fk["name"]: fk for fk in schema.get_foreign_keys(table)}
        assert keys[f"fk_{table}_rep"]["constrained_columns"] == ["org_id", "rep_id"]
        assert keys[f"fk_{table}_rep"]["referred_columns"] == ["org_id", "id"]
        assert all(fk["referred_columns"] != ["id"] for fk in keys.values()), table


def test_every_key_holds_after_the_upgrade(engine_at_0011: Engine) -> None:
    engine = engine_at_0011
    seed_0011(engine)

    upgrade(engine)

    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            # Enforced again on the connection the upgrade used (the pool keeps it).
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        else:
            unchecked = connection.execute(
                text("SELECT conname FROM pg_constraint WHERE contype = 'f' AND NOT convalidated")
            ).all()
            assert unchecked == []


def test_a_rep_id_is_its_organizations_own(engine_at_0011: Engine) -> None:
    engine = engine_at_0011
    seed_0011(engine)
    upgrade(engine)

    with engine.begin() as connection:
        connection.execute(text(ORGANIZATION))
        connection.execute(text(OTHER_REP))
        # Its contacts may repeat the default organization's CRM ids.
        connection.execute(text(OTHER_CONTACT), {"rep_id": "rep-1"})
    with engine.connect() as connection:
        reps = connection.execute(text("SELECT org_id, id FROM reps ORDER BY org_id, id")).all()
    assert [tuple(r) for r in reps] == [
        ("default", "rep-1"),
        ("default", "rep-2"),
        ("other", "rep-1"),
    ]

    # rep-2 is the default organization's only: another organization's contact cannot name it.
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text(OTHER_CONTACT), {"rep_id": "rep-2"})


def test_the_change_feed_keeps_its_numbering(engine_at_0011: Engine) -> None:
    engine = engine_at_0011
    seed_0011(engine)
    with engine.connect() as connection:
        pruned = connection.execute(text("SELECT max(seq) FROM changes")).scalar_one() + 1

    upgrade(engine)

    with engine.begin() as connection:
        connection.execute(text(NEW_CHANGE))
        seq, txid = connection.execute(
            text("SELECT seq, txid FROM changes WHERE change_id = 'change-3'")
        ).one()
    # A pruned number is never handed out again (AUTOINCREMENT on SQLite, a sequence on
    # PostgreSQL), and PostgreSQL still stamps the writing transaction.
    assert seq > pruned
    if engine.dialect.name == "sqlite":
        assert txid is None
        with engine.connect() as connection:
            ddl = connection.execute(
                text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'changes'")
            ).scalar_one()
        assert "AUTOINCREMENT" in ddl
    else:
        assert txid is not None
        assert txid > 0


def test_an_upgrade_that_leaves_a_broken_key_is_rolled_back(tmp_path: Path) -> None:
    path = tmp_path / "crmsync.db"
    engine = create_database_engine(f"sqlite:///{path}")
    try:
        upgrade(engine, "0011")
        seed_0011(engine)
        # A contact of a rep that is not there, as a database without enforced keys has them.
        raw = sqlite3.connect(path)
        raw.execute("PRAGMA foreign_keys=OFF")
        raw.execute("DELETE FROM reps WHERE id = 'rep-1'")
        raw.commit()
        raw.close()

        with pytest.raises(MigrationError, match="contacts"):
            upgrade(engine)

        assert current_revision(engine) == "0011"
        assert "org_id" not in {c["name"] for c in inspect(engine).get_columns("reps")}
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_stored_notifications_name_the_organization_of_their_grants_rep(
    engine_at_0011: Engine,
) -> None:
    engine = engine_at_0011
    seed_0011(engine)
    with engine.begin() as connection:
        for notification_id, grant_id in (("n-1", "g1"), ("n-2", "g-nobody"), ("n-3", None)):
            connection.execute(
                text(NOTIFICATION), {"notification_id": notification_id, "grant_id": grant_id}
            )

    upgrade(engine)

    with engine.connect() as connection:
        rows = connection.execute(text("SELECT notification_id, org_id FROM raw_notifications"))
        assert dict(rows.all()) == {"n-1": "default", "n-2": None, "n-3": None}
