"""The organizations' commands: ``crmsync orgs list|show|create|tokens|delete``.

The command-line side of the ``/v1/orgs`` admin API, for an operator on the deployment's
host (no admin token needed: the environment's database is the authority). Only the
argument parsing lives here, so ``crmsync --help`` stays fast; the commands import what they
need from ``crmsync.orgs_command`` when they run.
"""

from __future__ import annotations

import argparse
from typing import Any

from crmsync.operator_cli import deferred_command, json_flag

EXIT_STATUSES = (
    "Exit status: 0 done, 1 nothing done (unknown organization or token, refused, declined), "
    "2 bad input or configuration."
)


def add_orgs_command(commands: Any) -> None:
    """Add ``orgs`` and its actions to the ``crmsync`` subcommands (an argparse subparsers)."""
    orgs = commands.add_parser(
        "orgs",
        help="list, show, create or delete organizations; issue and revoke their tokens",
        description="The CRM customers this deployment serves, as the /v1/orgs admin API "
        "manages them, read and written straight in DATABASE_URL. Secrets are never printed. "
        + EXIT_STATUSES,
    )
    actions = orgs.add_subparsers(required=True, metavar="ACTION")

    listing = actions.add_parser(
        "list",
        help="every organization, with its Nylas access, reps and tokens",
        description="Every organization in id order: its name, how it reaches Nylas "
        "(provider_apps, nylas_application, or the deployment's), its reps by account "
        "status and its live and revoked tokens.",
    )
    json_flag(listing)
    listing.set_defaults(command=_orgs("run_list"))

    show = actions.add_parser(
        "show",
        help="one organization, as GET /v1/orgs/{id} answers, and its tokens",
        description="The organization as GET /v1/orgs/{id} answers it (whether each secret "
        "is set, never the secret), then its tokens. " + EXIT_STATUSES,
    )
    _org_argument(show)
    json_flag(show)
    show.set_defaults(command=_orgs("run_show"))

    create = actions.add_parser(
        "create",
        help="create or replace an organization from the document PUT /v1/orgs/{id} takes",
        description="Create or replace the organization with the whole document PUT "
        "/v1/orgs/{id} takes (name, provider_apps or nylas_application, defaults), checked "
        "by the same rules. Replacing means replacing: what the document leaves out (Nylas "
        "access, defaults) is dropped, except secrets, which are kept while their app is "
        "still named. Secrets are sealed with CRMSYNC_SECRET_KEYS. " + EXIT_STATUSES,
    )
    _org_argument(create)
    source = create.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--file",
        metavar="PATH",
        help="the organization as JSON, from this file ('-': standard input)",
    )
    source.add_argument(
        "--name",
        help="an organization with only this name: the deployment's Nylas access, no "
        "defaults (an existing one is replaced by just that)",
    )
    json_flag(create)
    create.set_defaults(command=_orgs("run_create"))

    tokens = actions.add_parser(
        "tokens",
        help="list, issue or revoke an organization's bearer tokens",
        description="Without an option, the organization's tokens (revoked ones too), never "
        "the tokens themselves. --issue prints a new token once: crmsync keeps only its "
        "digest. --revoke stops one at once. " + EXIT_STATUSES,
    )
    _org_argument(tokens)
    change = tokens.add_mutually_exclusive_group()
    change.add_argument("--issue", metavar="NAME", help="issue a token; NAME says what it is for")
    change.add_argument("--revoke", metavar="TOKEN_ID", help="revoke this token (tok_...)")
    json_flag(tokens)
    tokens.set_defaults(command=_orgs("run_tokens"))

    delete = actions.add_parser(
        "delete",
        help="offboard an organization: everything it holds goes",
        description="Offboard the organization, as DELETE /v1/orgs/{id} does, after a "
        "confirmation (or --yes): its tokens stop at once, then the workers disconnect its "
        "grants at Nylas and delete its rows in batches (`orgs show` follows the progress). "
        "--dry-run counts what would go. The default organization is refused. " + EXIT_STATUSES,
    )
    _org_argument(delete)
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    delete.add_argument(
        "--dry-run", action="store_true", help="count the grants and rows that would go"
    )
    json_flag(delete)
    delete.set_defaults(command=_orgs("run_delete"))


def _org_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("org", metavar="ORG", help="the organization's id (the vendor's own)")


def _orgs(name: str) -> Any:
    return deferred_command("crmsync.orgs_command", name)
