"""The operators' commands (O1): ``crmsync status``, ``explain``, ``dlq ...``, ``reprocess``.

Only the argument parsing lives here, so ``crmsync --help`` stays fast; each command imports
what it needs when it runs (``status_command``, ``dlq_command``, ``reprocess_command``).
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from domain.organizations import DEFAULT_ORG_ID
from domain.rep_outcomes import DEFAULT_WORST_REPS


def add_operator_commands(commands: Any) -> None:
    """Add ``status``, ``explain`` and ``dlq`` to the ``crmsync`` subcommands (an argparse
    subparsers)."""
    status = commands.add_parser(
        "status",
        help="queue depths, dead letters, reps by account status, outcomes, recent errors",
        description="Per queue: messages ready, in progress, delayed (waiting to retry) and "
        "dead-lettered, with the age of the oldest ready and oldest dead letter; then reps by "
        "account status, the reps whose mail most often did not reach the CRM in the last day "
        "(outcome counts of their message notifications) and the latest handling errors "
        "recorded in the database. In the "
        "embedded mode (no REDIS_URL) the queues live inside the running `crmsync run` "
        "process and only the database part is shown.",
    )
    status.add_argument(
        "--reps",
        type=_positive,
        default=DEFAULT_WORST_REPS,
        metavar="N",
        help="show the N reps whose message notifications of the last day most often left "
        f"the email out of the CRM (default {DEFAULT_WORST_REPS})",
    )
    status.add_argument(
        "--org", help="only this organization (the queues, shared by all, are shown whole)"
    )
    json_flag(status)
    status.set_defaults(command=_status)

    explain = commands.add_parser(
        "explain",
        help="why a Nylas message is or is not in the CRM",
        description="The decision for one Nylas message of a rep: the rule that decided, in a "
        "sentence, what would change it, every stored notification seen for it with its "
        "outcome, and the stored email if any (as GET /v1/reps/{rep_id}/messages/{message_id} "
        "answers). Exit status 1 for an unknown rep, 2 for an id that cannot be one.",
    )
    explain.add_argument("--rep", required=True, help="the rep's id (the CRM's)")
    explain.add_argument(
        "--org", default=DEFAULT_ORG_ID, help="the rep's organization (default: %(default)s)"
    )
    explain.add_argument("--message", required=True, help="the Nylas message id")
    json_flag(explain)
    explain.set_defaults(command=_explain)

    dlq = commands.add_parser(
        "dlq",
        help="list, show, replay or purge dead letters",
        description="Dead letters: messages that failed every retry, kept per queue "
        "(Dramatiq's <queue>.XQ) for CRMSYNC_DEAD_LETTER_TTL_DAYS. Needs REDIS_URL.",
    )
    actions = dlq.add_subparsers(required=True, metavar="ACTION")

    listing = actions.add_parser(
        "list", help="list dead letters, oldest first", description="List dead letters."
    )
    _selection_flags(listing, default_limit=50)
    json_flag(listing)
    listing.set_defaults(command=_dlq("list_letters"))

    show = actions.add_parser(
        "show",
        help="one dead letter in full",
        description="Show one dead letter: actor, queue, arguments, retries and the error.",
    )
    show.add_argument("id", metavar="ID", help="message id (or Redis message id)")
    json_flag(show)
    show.set_defaults(command=_dlq("show_letter"))

    replay = actions.add_parser(
        "replay",
        help="put matching dead letters back on their queue with a fresh retry budget",
        description="Queue matching dead letters again: the same message (id, arguments) with "
        "its retries reset. One replay at a time; each is audited (see `dlq audit`). Try "
        "--dry-run first.",
    )
    _selection_flags(replay, default_limit=None)
    replay.add_argument(
        "--dry-run", action="store_true", help="say how many and which would move; move nothing"
    )
    _operator_flag(replay)
    json_flag(replay)
    replay.set_defaults(command=_dlq("replay_letters"))

    purge = actions.add_parser(
        "purge",
        help="delete matching dead letters for good",
        description="Delete matching dead letters, after a confirmation (or --yes). Audited.",
    )
    _selection_flags(purge, default_limit=None)
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _operator_flag(purge)
    json_flag(purge)
    purge.set_defaults(command=_dlq("purge_letters"))

    audit = actions.add_parser(
        "audit",
        help="the history of replays and purges",
        description="Audit records of dead-letter replays and purges, newest first.",
    )
    audit.add_argument("--limit", type=_positive, default=20, help="how many (default 20)")
    audit.add_argument("--org", help="only actions limited to this organization")
    json_flag(audit)
    audit.set_defaults(command=_dlq("show_audits"))


def _selection_flags(parser: argparse.ArgumentParser, default_limit: int | None) -> None:
    parser.add_argument("--queue", action="append", default=[], help="only this queue (repeatable)")
    parser.add_argument("--actor", help="only messages for this actor")
    parser.add_argument("--id", dest="message_id", help="only this message id (or Redis id)")
    parser.add_argument(
        "--org", help="only this organization's letters (whose grant, item, send... it holds)"
    )
    parser.add_argument(
        "--since", help="dead-lettered at or after: RFC 3339 (2026-11-23T10:00:00Z) or an age (2h)"
    )
    parser.add_argument("--until", help="dead-lettered at or before: RFC 3339 or an age (30m)")
    parser.add_argument(
        "--error", metavar="TEXT", help="only letters whose stored error contains TEXT"
    )
    limit_help = "at most N, oldest first" + (
        f" (default {default_limit})" if default_limit else " (default: all)"
    )
    parser.add_argument("--limit", type=_positive, default=default_limit, help=limit_help)


def json_flag(parser: argparse.ArgumentParser) -> None:
    """``--json``, which every operator command takes."""
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def deferred_command(module: str, name: str) -> Any:
    """The command ``module.name``, run through ``module.run_refusing``: the module is
    imported only when the command runs, so ``crmsync --help`` stays fast."""

    def run(args: argparse.Namespace) -> int:
        commands = importlib.import_module(module)
        result: int = commands.run_refusing(getattr(commands, name), args)
        return result

    return run


def _operator_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--operator", help="who to record in the audit (default: the logged-in user)"
    )


def _positive(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, not {text!r}")
    return value


def add_reprocess_command(commands: Any) -> None:
    """Add ``reprocess`` to the ``crmsync`` subcommands."""
    parser = commands.add_parser(
        "reprocess",
        help="queue stored notifications again, for an organization, a grant or a time range",
        description="Queue stored Nylas notifications again so their handlers run once more "
        "(idempotently: nothing is stored twice, hidden emails stay hidden). Give --org, "
        "--grant, --since or several; try --dry-run first.",
    )
    parser.add_argument(
        "--org", help="only this organization's notifications (those of its reps' grants)"
    )
    parser.add_argument("--grant", help="only this grant's notifications")
    parser.add_argument("--since", help="received at or after: RFC 3339 or an age (2h, 7d)")
    parser.add_argument("--until", help="received at or before: RFC 3339 or an age")
    parser.add_argument("--type", dest="trigger", help="only this trigger or family (message.)")
    parser.add_argument("--limit", type=int, help="at most N, oldest first")
    parser.add_argument("--dry-run", action="store_true", help="say what would go; queue nothing")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.set_defaults(command=_reprocess)


def _reprocess(args: argparse.Namespace) -> int:
    from crmsync.reprocess_command import run_reprocess

    return run_reprocess(args)


def _status(args: argparse.Namespace) -> int:
    from crmsync.status_command import run_status

    return run_status(args)


def _explain(args: argparse.Namespace) -> int:
    from crmsync.explain_command import run_explain

    return run_explain(args)


def _dlq(name: str) -> Any:
    return deferred_command("crmsync.dlq_command", name)
