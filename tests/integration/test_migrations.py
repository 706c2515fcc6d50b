"""The Alembic migrations build exactly the schema the SQLModel tables describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import storage.tables  # noqa: F401  (registers the tables)
from storage.engine import create_database_engine
from storage.migrate import alembic_config, current_revision, upgrade


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_database_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()

    assert differences == []


def test_migrations_form_one_line_of_history() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [r.revision for r in script.walk_revisions()]
    assert revisions == sorted(revisions, reverse=True)
    assert len(script.get_heads()) == 1


def test_upgrade_is_idempotent(database_url: str) -> None:
    engine = create_database_engine(database_url)
    try:
        upgrade(engine)
        upgrade(engine)
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert head is not None
        assert current_revision(engine) == head
    finally:
        engine.dispose()
