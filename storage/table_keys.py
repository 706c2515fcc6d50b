"""The keys and columns the tables of every ``storage.*tables`` module share: a 64-bit id,
the length of an organization's id, the key from a rep's facts to its rep, and the column
naming a row's organization.

They stand apart from ``storage.tables``, which imports the other table modules at its end:
a table module that took them from it would be left half-imported whenever it is imported
first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, ForeignKeyConstraint, Integer, String
from sqlmodel import Field

from domain.organizations import MAX_ORG_ID_LENGTH

# A 64-bit key on PostgreSQL; on SQLite only INTEGER PRIMARY KEY autoincrements (and is 64-bit).
BigKey = BigInteger().with_variant(Integer(), "sqlite")
ORG_ID_LENGTH = MAX_ORG_ID_LENGTH


def of_rep(table: str) -> ForeignKeyConstraint:
    """The key from a table of a rep's facts to its rep: an organization's rep id is its own,
    so a rep is named by both (another organization may use the same id)."""
    return ForeignKeyConstraint(
        ["org_id", "rep_id"], ["reps.org_id", "reps.id"], name=f"fk_{table}_rep"
    )


def org_column() -> Any:
    """The organization a row belongs to."""
    return Field(
        sa_column=Column(String(ORG_ID_LENGTH), ForeignKey("organizations.id"), nullable=False)
    )
