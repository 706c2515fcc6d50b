"""``crmsync dlq``: list, show, replay and purge dead letters, and read the audit history (O1).

``list``, ``replay`` and ``purge`` select letters by the same rule (``domain.dead_letters``), so
a dry run names exactly what a replay then moves. Replays and purges are audited in the
database; a replay holds the Redis replay lock for its whole run.

Exit status: 0 done, 1 nothing done (not found, declined, another replay running),
2 bad input or configuration, 130 interrupted.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text
from sqlmodel import Session

from crmsync.operator_context import (
    EMBEDDED_QUEUES_NOTE,
    OperatorContext,
    confirmed,
    current_operator,
    err,
    line,
    out,
    print_json,
    shown,
    time_text,
)
from domain.dead_letters import Selection, parse_time_bound
from storage.audits import COMPLETED, FAILED, INTERRUPTED, finish_audit, recent_audits, start_audit
from storage.engine import transaction
from workers.deadletters import DeadLetter, DeadLetterStore, read_dead_letters
from workers.letter_orgs import letter_orgs
from workers.queues import all_queue_names
from workers.replay_lock import ReplayInProgress, ReplayLock

# Extend the replay lock this often (in letters moved), well inside its time to live.
_EXTEND_EVERY = 100


class _Refused(Exception):
    """Bad input or a mode without dead letters: the message says why; exit status 2."""


def list_letters(args: argparse.Namespace) -> int:
    """``dlq list``: the matching letters, oldest first, up to ``--limit``."""
    with _redis_context() as context:
        selection = _selection(args)
        everything = _read(context, _without_limit(selection))
    page = everything if selection.limit is None else everything[: selection.limit]
    if args.json:
        print_json({"total": len(everything), "letters": [_summary(x) for x in page]})
        return 0
    out().print(_letters_table(page))
    err().print(f"{len(page)} of {len(everything)} matching dead letters shown")
    return 0


def show_letter(args: argparse.Namespace) -> int:
    """``dlq show ID``: one letter in full, found by message id or Redis id."""
    with _redis_context() as context:
        letters = _read(context, Selection(message_id=args.id))
    if not letters:
        err().print(Text.assemble("no dead letter with id ", shown(args.id)))
        return 1
    documents = [_full(letter) for letter in letters]
    if args.json:
        print_json(documents[0] if len(documents) == 1 else documents)
        return 0
    console = out()
    for document in documents:
        for key in ("message_id", "redis_message_id", "queue", "actor", "dead_lettered_at"):
            console.print(line(key, document[key]))
        for key in ("enqueued_at", "retries", "args", "kwargs", "options"):
            console.print(line(key, document[key]))
        console.print(line("error", document["error"] or "(none recorded)"))
        console.print(shown(document["traceback"]))
    return 0


def replay_letters(args: argparse.Namespace) -> int:
    """``dlq replay``: queue the matching letters again, fresh budget, under the lock."""
    with _redis_context() as context:
        selection = _selection(args)
        letters = _read(context, selection)
        if args.dry_run:
            return _report_dry_run(args, letters)
        assert context.redis is not None
        operator = current_operator(args.operator)
        store = DeadLetterStore(context.redis, context.namespace)
        try:
            with ReplayLock(context.redis, context.namespace, operator) as lock:

                def replay(index: int, letter: DeadLetter) -> bool:
                    if index % _EXTEND_EVERY == _EXTEND_EVERY - 1:
                        lock.extend()
                    return store.replay(letter)

                moved = _audited(context, "replay", operator, selection, letters, replay)
        except ReplayInProgress as refusal:
            err().print(line("refused", refusal))
            return 1
    return _report_moved(args, "replay", "replayed", len(letters), moved)


def purge_letters(args: argparse.Namespace) -> int:
    """``dlq purge``: delete the matching letters after confirmation (or ``--yes``)."""
    with _redis_context() as context:
        selection = _selection(args)
        letters = _read(context, selection)
        if not letters:
            err().print("no matching dead letters")
            return _report_moved(args, "purge", "deleted", 0, 0)
        if not args.yes and not confirmed(f"Delete {len(letters)} dead letters for good?"):
            err().print("nothing deleted")
            return 1
        assert context.redis is not None
        operator = current_operator(args.operator)
        store = DeadLetterStore(context.redis, context.namespace)
        deleted = _audited(
            context, "purge", operator, selection, letters, lambda _, x: store.purge(x)
        )
    return _report_moved(args, "purge", "deleted", len(letters), deleted)


def show_audits(args: argparse.Namespace) -> int:
    """``dlq audit``: the latest replays and purges, newest first."""
    context = OperatorContext.from_environ()
    try:
        with Session(context.engine) as session:
            rows = recent_audits(session, args.limit, org_id=args.org)
    finally:
        context.close()
    documents: list[dict[str, Any]] = [
        {
            "id": row.id,
            "org_id": row.org_id,
            "operator": row.operator,
            "action": row.action,
            "selection": row.selection,
            "matched": row.matched,
            "count": row.count,
            "outcome": row.outcome,
            "detail": row.detail,
            "started_at": time_text(row.started_at),
            "finished_at": time_text(row.finished_at),
        }
        for row in rows
    ]
    if args.json:
        print_json(documents)
        return 0
    table = Table(title="Dead-letter audit")
    headers = ("started", "org", "operator", "action", "matched", "count", "outcome", "selection")
    for header in headers:
        table.add_column(header, overflow="fold")
    for d in documents:
        chosen = {k: v for k, v in d["selection"].items() if v not in (None, [])}
        table.add_row(
            shown(d["started_at"]),
            shown(d["org_id"] or "all"),
            shown(d["operator"]),
            shown(d["action"]),
            str(d["matched"]),
            str(d["count"]),
            shown(d["outcome"]),
            shown(", ".join(f"{k}={v}" for k, v in chosen.items()) or "all"),
        )
    out().print(table)
    return 0


@contextmanager
def _redis_context() -> Iterator[OperatorContext]:
    context = OperatorContext.from_environ()
    try:
        if context.redis is None:
            raise _Refused(EMBEDDED_QUEUES_NOTE)
        yield context
    finally:
        context.close()


def run_refusing(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run ``command``, turning a refusal into its message and exit status 2."""
    try:
        return command(args)
    except _Refused as refusal:
        err().print(line("crmsync dlq", refusal))
        return 2


def _selection(args: argparse.Namespace) -> Selection:
    known = all_queue_names()
    unknown = [q for q in args.queue if q not in known]
    if unknown:
        raise _Refused(f"unknown queue {', '.join(unknown)}; the queues are {', '.join(known)}")
    now = datetime.now(UTC)
    try:
        since = None if args.since is None else parse_time_bound(args.since, now)
        until = None if args.until is None else parse_time_bound(args.until, now)
    except ValueError as error:
        raise _Refused(str(error)) from error
    return Selection(
        queues=tuple(args.queue),
        actor=args.actor,
        message_id=args.message_id,
        org_id=args.org,
        since=since,
        until=until,
        error=args.error,
        limit=args.limit,
    )


def _without_limit(selection: Selection) -> Selection:
    return replace(selection, limit=None)


def _read(context: OperatorContext, selection: Selection) -> list[DeadLetter]:
    """The letters ``selection`` means, each with its organization."""
    assert context.redis is not None
    return read_dead_letters(
        context.redis,
        context.namespace,
        all_queue_names(),
        selection,
        orgs_of=letter_orgs(context.engine),
    )


def _audited(
    context: OperatorContext,
    action: str,
    operator: str,
    selection: Selection,
    letters: list[DeadLetter],
    apply: Callable[[int, DeadLetter], bool],
) -> int:
    """Apply ``apply`` to each letter with a progress bar, between the two audit writes."""
    with transaction(context.engine) as session:
        audit_id = start_audit(
            session,
            org_id=selection.org_id,
            operator=operator,
            action=action,
            selection=selection.as_document(),
            matched=len(letters),
            now=datetime.now(UTC),
        )
    done, outcome, detail = 0, FAILED, None
    try:
        with Progress(
            TextColumn(f"{action}ing"), BarColumn(), MofNCompleteColumn(), console=err()
        ) as progress:
            task = progress.add_task(action, total=len(letters))
            for index, letter in enumerate(letters):
                done += apply(index, letter)
                progress.advance(task)
        outcome = COMPLETED
    except KeyboardInterrupt:
        outcome = INTERRUPTED
        raise
    except Exception as error:
        detail = f"{type(error).__name__}: {error}"
        raise
    finally:
        with transaction(context.engine) as session:
            finish_audit(
                session, audit_id, count=done, outcome=outcome, now=datetime.now(UTC), detail=detail
            )
    return done


def _report_dry_run(args: argparse.Namespace, letters: list[DeadLetter]) -> int:
    if args.json:
        print_json(
            {"dry_run": True, "matched": len(letters), "letters": [_summary(x) for x in letters]}
        )
        return 0
    out().print(_letters_table(letters))
    err().print(f"dry run: {len(letters)} dead letters would be replayed; nothing moved")
    return 0


def _report_moved(
    args: argparse.Namespace, action: str, verb: str, matched: int, count: int
) -> int:
    if args.json:
        print_json({"action": action, "matched": matched, "count": count})
    else:
        gone = matched - count
        note = f" ({gone} were no longer there)" if gone else ""
        err().print(f"{verb} {count} of {matched} matching dead letters{note}")
    return 0


def _summary(letter: DeadLetter) -> dict[str, Any]:
    return {
        "message_id": letter.message.message_id,
        "redis_message_id": letter.redis_message_id,
        "queue": letter.queue,
        "actor": letter.message.actor_name,
        "org_id": letter.org_id,
        "dead_lettered_at": time_text(letter.dead_lettered_at),
        "enqueued_at": time_text(letter.enqueued_at),
        "retries": letter.retries,
        "error": letter.error,
    }


def _full(letter: DeadLetter) -> dict[str, Any]:
    options = {k: v for k, v in letter.message.options.items() if k != "traceback"}
    return {
        **_summary(letter),
        "args": list(letter.message.args),
        "kwargs": letter.message.kwargs,
        "options": options,
        "traceback": letter.traceback,
    }


def _letters_table(letters: list[DeadLetter]) -> Table:
    table = Table(title="Dead letters")
    for header in ("message id", "queue", "actor", "org", "dead-lettered"):
        table.add_column(header, overflow="fold")
    table.add_column("retries", justify="right")
    table.add_column("error", overflow="fold")
    for letter in letters:
        table.add_row(
            shown(letter.message.message_id),
            shown(letter.queue),
            shown(letter.message.actor_name),
            shown(letter.org_id or "-"),
            shown(time_text(letter.dead_lettered_at)),
            str(letter.retries),
            shown(letter.error or "-"),
        )
    return table
