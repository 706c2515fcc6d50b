"""Insert-or-ignore on a unique key, the building block of idempotent writes.

Both SQLite and PostgreSQL support ``INSERT ... ON CONFLICT DO NOTHING``; SQLAlchemy spells
it per dialect, so this picks the spelling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def insert_ignore(
    session: Session, table: Table, values: Mapping[str, Any], conflict_columns: Sequence[str]
) -> bool:
    """Insert ``values`` unless a row with the same ``conflict_columns`` exists.

    Returns True when a row was inserted.
    """
    return insert_ignore_many(session, table, [values], conflict_columns) > 0


def insert_ignore_many(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    conflict_columns: Sequence[str],
) -> int:
    """Insert each of ``rows`` unless one with the same ``conflict_columns`` exists.

    Returns how many rows were inserted.
    """
    return len(insert_ignore_returning(session, table, rows, conflict_columns))


def insert_ignore_returning(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    conflict_columns: Sequence[str],
    returning: str | None = None,
) -> list[Any]:
    """Insert-or-ignore ``rows``; the ``returning`` column (default: the first conflict
    column) of each row actually inserted."""
    column = returning or conflict_columns[0]
    inserted = insert_ignore_rows(session, table, rows, conflict_columns, [column])
    return [row[0] for row in inserted]


def insert_ignore_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    conflict_columns: Sequence[str],
    returning: Sequence[str],
) -> list[Row[Any]]:
    """Insert-or-ignore ``rows`` in one statement; the ``returning`` columns of each row
    actually inserted."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        statement = sqlite.insert(table)
    else:
        raise NotImplementedError(f"no insert-or-ignore for the {dialect} dialect")
    # Rows are counted through RETURNING: a cursor's rowcount for an INSERT is not reliable
    # across drivers (psycopg reports -1 here through SQLAlchemy 2.1). The rows go as
    # parameters of one cached statement, which SQLAlchemy sends as multi-row VALUES
    # ("insertmanyvalues"): three to six times cheaper than compiling a statement with the
    # rows inlined, whose SQL differs with every row count.
    statement = statement.on_conflict_do_nothing(index_elements=conflict_columns).returning(
        *(table.c[name] for name in returning)
    )
    return list(session.execute(statement, [dict(r) for r in rows]).all())
