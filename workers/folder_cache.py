"""Resolving a message's folder ids, refreshing the grant's folder cache when it must (E2)."""

from __future__ import annotations

from domain.folders import (
    FolderSelection,
    ResolvedFolders,
    parse_folder,
    resolve_folders,
    should_refresh_folders,
)
from domain.reps import Rep
from storage.engine import transaction
from storage.folders import load_folder_cache, replace_folder_cache
from storage.reps import set_provider
from workers.context import WorkerContext


def resolve_message_folders(
    context: WorkerContext, rep: Rep, grant_id: str, folder_ids: tuple[str, ...]
) -> ResolvedFolders:
    """The message's folders through the cache, refreshed from Nylas when that can matter.

    A refresh is needed when the cache was never filled, or when some ids are unknown and
    none of the known ones is already a synced folder (then the unknown ones decide), and
    the last refresh is older than the context's interval.
    """
    with transaction(context.engine) as session:
        cache = load_folder_cache(session, grant_id)
    resolved = resolve_folders(folder_ids, cache.folders)
    if _already_synced(resolved, rep.folders) and cache.refreshed_at is not None:
        return resolved
    if not should_refresh_folders(
        resolved.unknown, cache.refreshed_at, context.clock(), context.folder_refresh_interval
    ):
        return resolved
    refresh_folder_cache(context, rep, grant_id)
    with transaction(context.engine) as session:
        cache = load_folder_cache(session, grant_id)
    return resolve_folders(folder_ids, cache.folders)


def resolve_page_folders(
    context: WorkerContext, rep: Rep, grant_id: str, pages: list[tuple[str, ...]]
) -> list[ResolvedFolders]:
    """:func:`resolve_message_folders` for many messages at once (a backfill's page): the
    cache is read once, and refreshed at most once when some message needs it."""
    with transaction(context.engine) as session:
        cache = load_folder_cache(session, grant_id)
    resolved = [resolve_folders(ids, cache.folders) for ids in pages]
    unknown = frozenset(
        folder_id
        for folders in resolved
        if not _already_synced(folders, rep.folders)
        for folder_id in folders.unknown
    )
    needs_refresh = should_refresh_folders(
        unknown, cache.refreshed_at, context.clock(), context.folder_refresh_interval
    )
    if not needs_refresh:
        return resolved
    refresh_folder_cache(context, rep, grant_id)
    with transaction(context.engine) as session:
        cache = load_folder_cache(session, grant_id)
    return [resolve_folders(ids, cache.folders) for ids in pages]


def refresh_folder_cache(context: WorkerContext, rep: Rep, grant_id: str) -> None:
    """Fill the grant's folder cache from the Folders API (and learn the grant's provider)."""
    provider = rep.provider
    if provider is None:
        grant = context.nylas.find_grant(grant_id)
        found = grant.get("provider") if grant else None
        provider = found if isinstance(found, str) else None
    wire_folders = context.nylas.list_folders(grant_id)
    folders = [parse_folder(obj, provider) for obj in wire_folders if obj.get("id")]
    with transaction(context.engine) as session:
        if provider is not None and provider != rep.provider:
            set_provider(session, rep.rep_id, provider)
        replace_folder_cache(session, grant_id, folders, context.clock())


def _already_synced(resolved: ResolvedFolders, selection: FolderSelection) -> bool:
    return any(selection.matches(folder) for folder in resolved.known)
