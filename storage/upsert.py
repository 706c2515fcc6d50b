"""Insert-or-ignore on a unique key, the building block of idempotent writes.

Both SQLite and PostgreSQL support ``INSERT ... ON CONFLICT DO NOTHING``; SQLAlchemy spells
it per dialect, so this picks the spelling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def insert_ignore(
    session: Session, table: Table, values: Mapping[str, Any], conflict_columns: Sequence[str]
) -> bool:
    """Insert ``values`` unless a row with the same ``conflict_columns`` exists.

    Returns True when a row was inserted.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        statement = sqlite.insert(table)
    else:
        raise NotImplementedError(f"no insert-or-ignore for the {dialect} dialect")
    statement = statement.values(**values).on_conflict_do_nothing(index_elements=conflict_columns)
    result = session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]
