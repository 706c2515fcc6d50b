"""``crmsync status``: is work flowing, what is stuck, what failed lately.

Queue depths come from Redis (Redis mode only: the embedded broker lives inside the running
``crmsync run`` process); reps by account status, the reps whose mail of the last day most
often did not reach the CRM (``--reps N``, with their outcome counts, so a rep whose mail all
ends ``folder_not_synced`` or ``before_sync_from`` stands out) and the latest handling errors
come from the database in both modes. Each organization gets a row of its own (reps, what
waits and what failed for it); ``--org`` narrows every database part to one organization,
while the queues, shared by all, are shown whole.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.table import Table
from rich.text import Text
from sqlmodel import Session

from crmsync.operator_context import (
    EMBEDDED_QUEUES_NOTE,
    OperatorContext,
    age_text,
    err,
    out,
    print_json,
    shown,
    time_text,
)
from domain.accounts import AccountStatus
from domain.rep_outcomes import DEFAULT_WORST_REPS, worst_reps
from storage.backfills import backfill_json, backfills_to_watch
from storage.org_health import org_health
from storage.status import recent_handling_errors, rep_outcome_counts, reps_by_account_status
from workers.queue_status import QueueStatus, queue_status
from workers.queues import all_queue_names


def run_status(args: argparse.Namespace) -> int:
    """Print the status; 0 whatever it shows (it reports, it does not judge)."""
    context = OperatorContext.from_environ()
    try:
        report = status_report(context, datetime.now(UTC), worst=args.reps, org_id=args.org)
    finally:
        context.close()
    if args.org is not None and not report["organizations"]:
        err().print(Text.assemble("crmsync status: no organization ", shown(args.org)))
        return 1
    if args.json:
        print_json(report)
    else:
        _print_tables(report)
    return 0


# Reps whose mailbox is connected and syncing: the others want someone's attention.
HEALTHY_STATUSES = (
    AccountStatus.RUNNING.value,
    AccountStatus.VALID.value,
    AccountStatus.DOWNLOADING.value,
    AccountStatus.INITIALIZING.value,
)

# Outcomes are counted over the last day: long enough for a quiet rep to show, short enough
# that a fixed setting stops showing by the next day.
OUTCOME_PERIOD = timedelta(days=1)


def status_report(
    context: OperatorContext,
    now: datetime,
    worst: int = DEFAULT_WORST_REPS,
    org_id: str | None = None,
) -> dict[str, Any]:
    """The status as one JSON-ready document: of the deployment, or of one organization."""
    queues: list[dict[str, Any]] | None = None
    if context.redis is not None:
        queues = [
            _queue_document(queue_status(context.redis, context.namespace, name), now)
            for name in all_queue_names()
        ]
    with Session(context.engine) as session:
        organizations = org_health(session, now - OUTCOME_PERIOD, org_id)
        reps = reps_by_account_status(session, org_id)
        errors = recent_handling_errors(session, limit=10, org_id=org_id)
        backfills = [
            {"org_id": row.org_id, **backfill_json(row)}
            for row in backfills_to_watch(session, org_id=org_id)
        ]
        outcomes = rep_outcome_counts(session, now - OUTCOME_PERIOD, org_id)
    return {
        "mode": "embedded" if context.redis is None else "redis",
        "generated_at": time_text(now),
        "org_id": org_id,
        "organizations": [health.to_json() for health in organizations],
        "queues": queues,
        "queues_note": EMBEDDED_QUEUES_NOTE if context.redis is None else None,
        "reps_by_account_status": reps,
        "backfills": backfills,
        "rep_outcomes": {
            "since": time_text(now - OUTCOME_PERIOD),
            "reps_counted": len(outcomes.by_rep),
            "worst": [rep.to_json() for rep in worst_reps(outcomes.by_rep, worst)],
            "without_rep": dict(sorted(outcomes.without_rep.items())),
        },
        "recent_errors": [
            {"source": e.source, "subject": e.subject, "at": time_text(e.at), "error": e.error}
            for e in errors
        ],
    }


def _queue_document(status: QueueStatus, now: datetime) -> dict[str, Any]:
    def age(at: datetime | None) -> float | None:
        return None if at is None else round((now - at).total_seconds(), 3)

    return {
        "queue": status.queue,
        "ready": status.ready,
        "in_progress": status.in_progress,
        "delayed": status.delayed,
        "dead_letters": status.dead_letters,
        "oldest_ready_age_seconds": age(status.oldest_ready_at),
        "oldest_dead_letter_age_seconds": age(status.oldest_dead_letter_at),
    }


def _print_tables(report: dict[str, Any]) -> None:
    console = out()
    if report["queues"] is None:
        err().print(f"note: {report['queues_note']}; showing the database only.")
    else:
        table = Table(title="Queues")
        for header in ("queue", "ready", "in progress", "delayed", "dead letters"):
            table.add_column(header, justify="left" if header == "queue" else "right")
        table.add_column("oldest ready", justify="right")
        table.add_column("oldest dead letter", justify="right")
        for q in report["queues"]:
            table.add_row(
                shown(q["queue"]),
                str(q["ready"]),
                str(q["in_progress"]),
                str(q["delayed"]),
                str(q["dead_letters"]),
                age_text(q["oldest_ready_age_seconds"]),
                age_text(q["oldest_dead_letter_age_seconds"]),
            )
        console.print(table)
    console.print(_organizations_table(report["organizations"]))
    reps = Table(title="Reps by account status")
    reps.add_column("account status")
    reps.add_column("reps", justify="right")
    for status, count in sorted(report["reps_by_account_status"].items()):
        reps.add_row(shown(status), str(count))
    console.print(reps)
    if report["backfills"]:
        console.print(_backfill_table(report["backfills"]))
    console.print(_outcome_table(report["rep_outcomes"]))
    errors = Table(title="Latest handling errors")
    for header in ("when", "source", "subject", "error"):
        errors.add_column(header, overflow="fold")
    for e in report["recent_errors"]:
        errors.add_row(shown(e["at"]), shown(e["source"]), shown(e["subject"]), shown(e["error"]))
    console.print(errors)


def _organizations_table(organizations: list[dict[str, Any]]) -> Table:
    """One row per organization: its reps, and what waits or failed for it."""
    table = Table(title="Organizations")
    headers = ("org", "name", "reps", "not running", "backfills", "deliveries waiting")
    for header in (*headers, "subscriptions disabled", "failed notifications (1 d)"):
        table.add_column(header, justify="left" if header in ("org", "name") else "right")
    for o in organizations:
        working = sum(o["reps_by_account_status"].get(s, 0) for s in HEALTHY_STATUSES)
        table.add_row(
            shown(o["org_id"]),
            shown(o["name"]),
            str(o["reps"]),
            str(o["reps"] - working),
            str(o["backfills_under_way"]),
            str(o["deliveries_pending"]),
            str(o["subscriptions_disabled"]),
            str(o["notifications_failed"]),
        )
    return table


def _backfill_table(backfills: list[dict[str, Any]]) -> Table:
    table = Table(title="Backfills under way or given up")
    headers = ("id", "org", "rep", "kind", "state", "progress", "scanned", "stored", "error")
    for header in headers:
        right = header in ("id", "progress", "scanned", "stored")
        table.add_column(header, justify="right" if right else "left", overflow="fold")
    for b in backfills:
        progress = b["progress"]
        table.add_row(
            str(b["id"]),
            shown(b["org_id"]),
            shown(b["rep_id"]),
            shown(b["kind"]),
            shown(b["state"]),
            f"{progress['percent']}% ({progress['windows_done']}/{progress['windows_total']})",
            str(progress["messages_scanned"]),
            str(progress["emails_stored"]),
            shown(b["error"]),
        )
    return table


def _outcome_table(outcomes: dict[str, Any]) -> Table:
    """The worst reps: what their message notifications of the last day came to."""
    table = Table(
        title=f"Reps whose mail most often did not reach the CRM, since {outcomes['since']} "
        f"({len(outcomes['worst'])} of {outcomes['reps_counted']})"
    )
    for header in ("org", "rep", "notifications", "not stored", "outcomes"):
        right = header in ("notifications", "not stored")
        table.add_column(header, justify="right" if right else "left", overflow="fold")
    for rep in outcomes["worst"]:
        table.add_row(
            shown(rep["org_id"]),
            shown(rep["rep_id"]),
            str(rep["total"]),
            f"{rep['not_stored_share']:.0%}",
            shown(_counts_text(rep["outcomes"])),
        )
    if outcomes["without_rep"]:
        table.add_row(
            "",
            shown("(no rep)"),
            str(sum(outcomes["without_rep"].values())),
            "",
            shown(_counts_text(outcomes["without_rep"])),
        )
    return table


def _counts_text(counts: dict[str, int]) -> str:
    """``folder_not_synced 40, stored 2``: the largest first."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{word} {count}" for word, count in ordered)
