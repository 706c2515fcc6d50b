"""Bring a database's schema up to date with Alembic, from code (no alembic.ini needed)."""

from __future__ import annotations

import logging
from importlib.resources import files

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine


class MigrationError(Exception):
    """Raised when migrations would leave the database inconsistent; nothing is committed."""


def alembic_config() -> Config:
    """An Alembic configuration for crmsync's migrations; the connection is added per run."""
    config = Config()
    config.set_main_option("script_location", str(files("storage").joinpath("migrations")))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to ``revision``; a no-op on an up-to-date database.

    All of them in one transaction: a migration that fails leaves the database as it was.
    """
    config = alembic_config()
    with engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
            return
        _upgrade_sqlite(connection, config, revision)


def _upgrade_sqlite(connection: Connection, config: Config, revision: str) -> None:
    """SQLite's procedure for schema changes (lang_altertable.html, "Making Other Kinds Of
    Table Schema Changes"): foreign keys off, the changes and a check of every foreign key
    in one transaction, foreign keys back on.

    A migration that changes a table SQLite cannot ALTER rebuilds it: a copy is made, the
    table dropped and the copy renamed. Enforced, the drop would delete the rows of the
    tables that refer to it (or refuse, or cascade), and a rebuilt key would be refused
    until every table that refers to it is rebuilt too. ``PRAGMA foreign_keys`` is a no-op
    inside a transaction, so it is switched on the driver's connection before SQLAlchemy
    begins one (the engine begins with ``BEGIN IMMEDIATE``, on the first statement).
    """
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        with connection.begin():
            config.attributes["connection"] = connection
            before = _revision(connection)
            command.upgrade(config, revision)
            if _revision(connection) != before:
                # Raised inside the transaction, so that a migration that broke a key is
                # rolled back rather than committed unenforced.
                _check_foreign_keys(connection)
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(connection: Connection) -> None:
    """Raise if any row of the database refers to a row that is not there."""
    violations = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if violations:
        shown = "; ".join(
            f"{table} rowid {rowid} -> {parent} (key {key})"
            for table, rowid, parent, key in violations[:10]
        )
        raise MigrationError(
            f"the migrations left {len(violations)} rows referring to rows that are not"
            f" there: {shown}"
        )


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    with engine.connect() as connection:
        return _revision(connection)


def _revision(connection: Connection) -> str | None:
    """The revision of the database on ``connection``.

    Quietly: a migration context announces itself at INFO ("Context impl ..."), which after
    an upgrade (that announced its own) printed the same lines twice.
    """
    from alembic.runtime.migration import MigrationContext

    announcer = logging.getLogger("alembic.runtime.migration")
    level = announcer.level
    announcer.setLevel(logging.WARNING)
    try:
        return MigrationContext.configure(connection).get_current_revision()
    finally:
        announcer.setLevel(level)
