"""The backfill actor (A2, E11): pages of a rep's past mail through the live rules.

One message of the backfill queue runs pages for up to :data:`SLICE` and then queues the
backfill again, so a large mailbox never holds a worker thread for long and other reps'
backfills take turns. After every page the position and the counts are saved; a crash
re-reads at most one page, which stores nothing twice (E4). The actor reads as load
(the backfill and its rep), call (one page from Nylas), save (emails, then progress).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from dramatiq import Retry
from dramatiq.middleware import CurrentMessage

from domain.accounts import AccountEvent
from domain.backfill import BackfillKind, BackfillState, Window, window_at, window_size
from domain.not_found import Missing
from domain.reps import Rep
from storage.accounts import apply_account_event, note_grant_gone, note_success
from storage.backfills import get_backfill
from storage.engine import transaction
from storage.reps import get_rep
from storage.tables import BackfillRow
from workers.actors.messages import apply_messages
from workers.context import WorkerContext
from workers.grant_limits import GrantThrottled
from workers.nylas_client import MAX_PAGE_SIZE
from workers.nylas_failures import NylasGrantGone, NylasRateLimited
from workers.queues import BACKFILL_QUEUE

logger = logging.getLogger(__name__)

# How long one message of the backfill queue keeps paging before it queues the rest.
SLICE = 10.0
_RUNNABLE = {BackfillState.PENDING.value, BackfillState.RUNNING.value, BackfillState.FAILED.value}


@dataclass(frozen=True, slots=True)
class _Position:
    rep: Rep
    grant_id: str
    kind: BackfillKind
    window: Window
    window_index: int
    page_token: str | None
    addresses: tuple[str, ...]


def run_backfill(
    context: WorkerContext,
    backfill_id: int,
    queue_again: Callable[[int], object],
    *,
    max_retries: int,
    slice_seconds: float = SLICE,
) -> None:
    """Run pages of backfill ``backfill_id`` for a slice of time; queue it again if unfinished."""
    log = {"backfill_id": backfill_id}
    deadline = time.monotonic() + slice_seconds
    try:
        while True:
            position = _start_page(context, backfill_id)
            if position is None:
                return
            _give_way(context, position.rep.org_id)
            page = context.nylas_for(position.grant_id).list_messages(
                position.grant_id,
                any_email=position.addresses or None,
                received_after=position.window.received_after,
                received_before=position.window.received_before,
                limit=MAX_PAGE_SIZE,
                page_token=position.page_token,
            )
            _give_way(context, position.rep.org_id)
            outcomes = apply_messages(context, position.rep, position.grant_id, page.messages)
            finished = _save_page(
                context, backfill_id, position, page.next_cursor, Counter(outcomes)
            )
            if finished:
                logger.info("backfill finished", extra={**log, "rep_id": position.rep.rep_id})
                return
            if time.monotonic() >= deadline or _over_share(context, position.rep.org_id):
                queue_again(backfill_id)
                return
    except GrantThrottled:
        raise  # not a failure: the message waits on the queue for the grant's next slot
    except NylasRateLimited as error:
        # Nylas said when to come back: the queue waits that long, not a worker thread.
        raise Retry(str(error), delay=int(error.retry_after_seconds * 1000)) from error
    except NylasGrantGone as gone:
        _stop_for_gone_grant(context, backfill_id, gone)  # no retry can help: not re-raised
    except Exception as error:
        if _retries_spent(max_retries):
            _give_up(context, backfill_id, f"{type(error).__name__}: {error}")
        raise


def _over_share(context: WorkerContext, org_id: str) -> bool:
    """Whether the rep's organization holds more than its share of the backfill worker's
    threads (``workers.org_shares``): then its slice ends now, for another's work."""
    return context.shares is not None and context.shares.over_share(
        BACKFILL_QUEUE.queue_name, org_id
    )


def _give_way(context: WorkerContext, org_id: str) -> None:
    """Between a page's steps (outside any transaction): the rep's organization waits while
    a lighter one's message runs on the backfill worker, when it is ahead in worker time."""
    if context.shares is not None:
        context.shares.give_way(BACKFILL_QUEUE.queue_name, org_id)


def _start_page(context: WorkerContext, backfill_id: int) -> _Position | None:
    """Where the backfill stands, marking it running; None when there is nothing to do."""
    now = context.clock()
    with transaction(context.engine) as session:
        row = get_backfill(session, backfill_id, for_update=True)
        if row is None or row.state not in _RUNNABLE:
            return None
        rep = get_rep(session, row.org_id, row.rep_id)
        if rep is None or rep.grant_id != row.grant_id:
            # Disconnected, or connected to another mailbox since: this history is not its.
            _finish(row, BackfillState.CANCELLED, now)
            session.add(row)
            return None
        if row.state != BackfillState.RUNNING.value:
            row.state = BackfillState.RUNNING.value
            row.started_at = row.started_at or now
            row.error = None
            row.updated_at = now
            session.add(row)
            if row.kind == BackfillKind.MAILBOX.value:
                rep = apply_account_event(
                    session, rep.org_id, rep.rep_id, AccountEvent.BACKFILL_STARTED, now
                )
                assert rep is not None
        kind = BackfillKind(row.kind)
        size = window_size(kind, row.since, row.until)
        return _Position(
            rep=rep,
            grant_id=row.grant_id,
            kind=kind,
            window=window_at(row.window_index, row.since, row.until, size),
            window_index=row.window_index,
            page_token=row.page_token,
            addresses=tuple(row.addresses),
        )


def _save_page(
    context: WorkerContext,
    backfill_id: int,
    read_at: _Position,
    next_cursor: str | None,
    outcomes: Counter[str],
) -> bool:
    """Count the page and move the position; True when this run should stop.

    The position moves only from where this page was read: if another run of the same
    backfill (a message queued again by the dispatcher) saved that page first, this one
    stops instead of moving twice and skipping a page.
    """
    now = context.clock()
    with transaction(context.engine) as session:
        row = get_backfill(session, backfill_id, for_update=True)
        if row is None or row.state != BackfillState.RUNNING.value:
            return True  # cancelled meanwhile: stop here
        if (row.window_index, row.page_token) != (read_at.window_index, read_at.page_token):
            logger.info("backfill moved on by another run", extra={"backfill_id": backfill_id})
            return True
        row.pages_done += 1
        row.scanned += sum(outcomes.values())
        row.stored += outcomes["stored"]
        row.failed += outcomes["failed"] + outcomes["malformed"]
        if next_cursor:
            row.page_token = next_cursor
        else:
            row.window_index += 1
            row.page_token = None
        row.updated_at = now
        note_success(session, row.grant_id, now)
        finished = row.window_index >= row.windows_total
        if finished:
            _finish(row, BackfillState.DONE, now)
            if row.kind == BackfillKind.MAILBOX.value:
                apply_account_event(
                    session, row.org_id, row.rep_id, AccountEvent.BACKFILL_FINISHED, now
                )
        session.add(row)
    return finished


def _give_up(context: WorkerContext, backfill_id: int, error: str) -> None:
    """The last retry failed: record it, so the API shows why, and the rep as partial."""
    now = context.clock()
    with transaction(context.engine) as session:
        row = get_backfill(session, backfill_id, for_update=True)
        if row is None or row.state not in _RUNNABLE:
            return
        row.error = error
        _finish(row, BackfillState.FAILED, now)
        session.add(row)
        if row.kind == BackfillKind.MAILBOX.value:
            apply_account_event(session, row.org_id, row.rep_id, AccountEvent.BACKFILL_FAILED, now)
    logger.error("backfill gave up", extra={"backfill_id": backfill_id, "error": error})


def _stop_for_gone_grant(context: WorkerContext, backfill_id: int, gone: NylasGrantGone) -> None:
    """The grant was deleted at Nylas: the backfill stops for good, saying so, and the rep is
    invalid (it reconnects, which starts a new backfill)."""
    now = context.clock()
    with transaction(context.engine) as session:
        row = get_backfill(session, backfill_id, for_update=True)
        if row is not None and row.state in _RUNNABLE:
            row.error = f"{Missing.GRANT.value}: the grant was deleted at Nylas; reconnect"
            _finish(row, BackfillState.FAILED, now)
            session.add(row)
        note_grant_gone(session, gone.grant_id, now)
    logger.warning("backfill stopped: grant gone", extra={"backfill_id": backfill_id})


def _finish(row: BackfillRow, state: BackfillState, now: datetime) -> None:
    row.state = state.value
    row.finished_at = now
    row.updated_at = now


def _retries_spent(max_retries: int) -> bool:
    message = CurrentMessage.get_current_message()
    return message is None or int(message.options.get("retries", 0)) >= max_retries
