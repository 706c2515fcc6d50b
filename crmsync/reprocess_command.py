"""``crmsync reprocess``: handle stored notifications again (N3), for an organization, a grant
or a time range.

For when a rule or a fix changes what a notification should have produced: the stored
notifications go back on their queues and the (idempotent) handlers run again. A dry run
says how many of which type would go; a real run asks first unless ``--yes`` and shows a
progress bar. Needs the Redis of the deployment: in the embedded mode the queues live in
the running process.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from datetime import UTC, datetime

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from crmsync.operator_context import (
    EMBEDDED_QUEUES_NOTE,
    OperatorContext,
    confirmed,
    err,
    line,
    out,
)
from domain.dead_letters import parse_time_bound
from domain.notifications import ApiVersion
from storage.engine import transaction
from storage.notifications import notifications_to_reprocess
from workers.broker import BrokerOptions, build_broker
from workers.reprocess import requeue_notification


def run_reprocess(args: argparse.Namespace) -> int:
    if args.grant is None and args.since is None and args.org is None:
        err().print(
            "crmsync reprocess: give --org, --grant, --since or several (not everything at once)"
        )
        return 2
    now = datetime.now(UTC)
    try:
        since = parse_time_bound(args.since, now) if args.since else None
        until = parse_time_bound(args.until, now) if args.until else None
    except ValueError as error:
        err().print(line("crmsync reprocess", error))
        return 2
    context = OperatorContext.from_environ()
    try:
        if context.redis is None:
            err().print(f"crmsync reprocess: {EMBEDDED_QUEUES_NOTE}")
            return 2
        with transaction(context.engine) as session:
            rows = [
                (
                    row.api_version,
                    dict(row.payload),
                    row.received_at,
                    row.via_org or None,
                    row.trigger,
                )
                for row in notifications_to_reprocess(
                    session,
                    org_id=args.org,
                    grant_id=args.grant,
                    since=since,
                    until=until,
                    trigger_prefix=args.trigger,
                    limit=args.limit,
                )
            ]
        by_trigger = Counter(trigger for *_, trigger in rows)
        if args.dry_run or not rows:
            _report(
                args, "would queue" if args.dry_run else "nothing to queue", len(rows), by_trigger
            )
            return 0
        if not args.yes and not confirmed(f"Queue {len(rows)} stored notification(s) again?"):
            err().print("crmsync reprocess: not confirmed; nothing queued")
            return 1
        broker = build_broker(context.redis, BrokerOptions(namespace=context.namespace))
        queued = 0
        with Progress(
            TextColumn("reprocessing"), BarColumn(), MofNCompleteColumn(), console=err()
        ) as progress:
            task = progress.add_task("reprocess", total=len(rows))
            for api_version, payload, received_at, via_org, _ in rows:
                version: ApiVersion = "v2" if api_version == "v2" else "v3"
                requeue_notification(broker, version, payload, received_at.timestamp(), via_org)
                queued += 1
                progress.advance(task)
        _report(args, "queued", queued, by_trigger)
        return 0
    finally:
        context.close()


def _report(args: argparse.Namespace, verb: str, count: int, by_trigger: Counter[str]) -> None:
    if args.json:
        print(json.dumps({"result": verb, "count": count, "by_type": dict(by_trigger)}))
        return
    out().print(f"{verb}: {count}")
    for trigger, n in sorted(by_trigger.items()):
        out().print(line(f"  {trigger}", n))
