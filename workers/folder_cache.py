"""Resolving messages' folder ids, refreshing the grant's folder cache when it must (E2)."""

from __future__ import annotations

from domain.folders import ResolvedFolders, needs_folder_refresh, parse_folder, resolve_folders
from domain.reps import Rep
from storage.engine import transaction
from storage.folders import load_folder_cache, replace_folder_cache
from storage.reps import set_provider
from workers.context import WorkerContext
from workers.parked_messages import decide_parked


def resolve_page_folders(
    context: WorkerContext, rep: Rep, grant_id: str, pages: list[tuple[str, ...]]
) -> list[ResolvedFolders]:
    """The folders of many messages at once (a backfill's page): the cache is read once,
    and refreshed from Nylas at most once, when some message needs it
    (:func:`domain.folders.needs_folder_refresh`)."""
    with transaction(context.engine) as session:
        cache = load_folder_cache(session, grant_id)
    resolved = [resolve_folders(ids, cache.folders) for ids in pages]
    if not needs_folder_refresh(
        resolved, rep.folders, cache.refreshed_at, context.clock(), context.folder_refresh_interval
    ):
        return resolved
    refresh_folder_cache(context, rep, grant_id)
    with transaction(context.engine) as session:
        cache = load_folder_cache(session, grant_id)
    return [resolve_folders(ids, cache.folders) for ids in pages]


def refresh_folder_cache(context: WorkerContext, rep: Rep, grant_id: str) -> None:
    """Fill the grant's folder cache from the Folders API (and learn the grant's provider),
    and decide again the grant's parked messages it may decide."""
    nylas = context.nylas_for(grant_id)
    provider = rep.provider
    if provider is None:
        grant = nylas.find_grant(grant_id)
        found = grant.get("provider") if grant else None
        provider = found if isinstance(found, str) else None
    wire_folders = nylas.list_folders(grant_id)
    folders = [parse_folder(obj, provider) for obj in wire_folders if obj.get("id")]
    with transaction(context.engine) as session:
        if provider is not None and provider != rep.provider:
            set_provider(session, rep, provider)
        replace_folder_cache(session, grant_id, folders, context.clock())
        # The folders just listed may be those parked messages wait for (N2).
        decide_parked(session, context, grant_id)
