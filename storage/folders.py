"""The folder cache of each grant: folder ids resolved to names and roles without calling Nylas.

Filled from the Folders API on a miss and refreshed by ``folder.*`` notifications, so that
resolving a message's folders is a local read and not a provider call per message (which
would run into Microsoft's four-concurrent-requests-per-mailbox limit).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, delete, update
from sqlmodel import Session, col, select

from domain.folders import Folder, FolderRole
from storage.tables import FolderRefreshRow, FolderRow
from storage.upsert import insert_ignore, insert_ignore_many

_FOLDERS: Table = FolderRow.__table__  # type: ignore[attr-defined]
_REFRESHES: Table = FolderRefreshRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class FolderCache:
    """A grant's cached folders by id, and when they were last filled from Nylas."""

    folders: dict[str, Folder]
    refreshed_at: datetime | None


def load_folder_cache(session: Session, grant_id: str) -> FolderCache:
    """The grant's folder cache (empty, never refreshed, for a grant not seen yet)."""
    return load_folder_caches(session, [grant_id])[grant_id]


def load_folder_caches(session: Session, grant_ids: Collection[str]) -> dict[str, FolderCache]:
    """The folder caches of ``grant_ids`` in two queries, one per grant asked for."""
    ordered = sorted(grant_ids)
    # The refresh times first: under READ COMMITTED each statement sees what was committed
    # when it began, and a refresh commits its folders with its time. Read in the other
    # order, a refresh committing between the two reads gave "refreshed, no folders", and
    # messages were skipped as folder_not_synced (seen by the PostgreSQL fault tests).
    refreshed = {
        row.grant_id: row.refreshed_at
        for row in session.exec(
            select(FolderRefreshRow).where(col(FolderRefreshRow.grant_id).in_(ordered))
        )
    }
    folders: dict[str, dict[str, Folder]] = {grant_id: {} for grant_id in ordered}
    for row in session.exec(select(FolderRow).where(col(FolderRow.grant_id).in_(ordered))):
        folders[row.grant_id][row.folder_id] = _to_folder(row)
    return {
        grant_id: FolderCache(folders=folders[grant_id], refreshed_at=refreshed.get(grant_id))
        for grant_id in ordered
    }


def replace_folder_cache(
    session: Session, grant_id: str, folders: Iterable[Folder], now: datetime
) -> None:
    """Make ``folders`` the grant's whole cache, as just listed by Nylas."""
    # Two workers may refresh one grant at once: insert-or-ignore lets both commit.
    session.execute(delete(FolderRow).where(col(FolderRow.grant_id) == grant_id))
    insert_ignore_many(
        session,
        _FOLDERS,
        [_values(grant_id, folder) for folder in folders],
        ["grant_id", "folder_id"],
    )
    if not insert_ignore(
        session, _REFRESHES, {"grant_id": grant_id, "refreshed_at": now}, ["grant_id"]
    ):
        session.execute(
            update(FolderRefreshRow)
            .where(col(FolderRefreshRow.grant_id) == grant_id)
            .values(refreshed_at=now)
        )


def put_folder(session: Session, grant_id: str, folder: Folder) -> None:
    """Add or rename one folder (``folder.created``, ``folder.updated``)."""
    values = _values(grant_id, folder)
    if not insert_ignore(session, _FOLDERS, values, ["grant_id", "folder_id"]):
        session.execute(
            update(FolderRow)
            .where(col(FolderRow.grant_id) == grant_id, col(FolderRow.folder_id) == folder.id)
            .values(values)
        )


def remove_folder(session: Session, grant_id: str, folder_id: str) -> None:
    """Forget one folder (``folder.deleted``)."""
    session.execute(
        delete(FolderRow).where(
            col(FolderRow.grant_id) == grant_id, col(FolderRow.folder_id) == folder_id
        )
    )


def _values(grant_id: str, folder: Folder) -> dict[str, str | None]:
    return {
        "grant_id": grant_id,
        "folder_id": folder.id,
        "name": folder.name,
        "leaf_name": folder.leaf_name,
        "parent_id": folder.parent_id,
        "role": folder.role.value if folder.role else None,
    }


def _to_folder(row: FolderRow) -> Folder:
    return Folder(
        id=row.folder_id,
        name=row.name,
        leaf_name=row.leaf_name,
        parent_id=row.parent_id,
        role=FolderRole(row.role) if row.role else None,
    )
