"""``crmsync orgs tokens``: an organization's bearer tokens, listed, issued and revoked.

As ``POST/GET/DELETE /v1/orgs/{id}/tokens`` do, through the same storage: a token is printed
once, when it is issued, and never again (only its digest is kept).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from rich.table import Table
from rich.text import Text
from sqlmodel import Session

from api.org_tokens import TokenInput
from crmsync.operator_context import err, line, opened_context, out, print_json, shown
from domain import answers
from domain.inputs import read_model
from domain.organizations import validate_org_id
from storage.engine import transaction
from storage.org_tokens import issue_token, list_tokens, revoke_token, token_json
from storage.organizations import require_org


def run_tokens(args: argparse.Namespace) -> int:
    """``orgs tokens ORG``: list its tokens, or ``--issue NAME`` one, or ``--revoke`` one."""
    org_id = validate_org_id(args.org)
    if args.issue is not None:
        return _issue(args, org_id, read_model(TokenInput, {"name": args.issue}, "invalid_token"))
    if args.revoke is not None:
        return _revoke(args, org_id, args.revoke)
    with opened_context() as context, Session(context.engine) as session:
        require_org(session, org_id)
        tokens = [token_json(token) for token in list_tokens(session, org_id)]
    if args.json:
        print_json({"data": tokens})
        return 0
    if tokens:
        out().print(tokens_table(tokens))
    err().print(Text.assemble(f"{len(tokens)} tokens of organization ", shown(org_id)))
    return 0


def tokens_table(tokens: list[answers.OrgToken]) -> Table:
    table = Table(title="Tokens")
    for header in ("id", "name", "created", "last used", "revoked"):
        table.add_column(header, overflow="fold")
    for token in tokens:
        table.add_row(
            shown(token["id"]),
            shown(token["name"]),
            shown(token["created_at"]),
            shown(token["last_used_at"] or "never"),
            shown(token["revoked_at"] or "-"),
        )
    return table


def _issue(args: argparse.Namespace, org_id: str, given: TokenInput) -> int:
    """Issue a token and print it this once: only its digest is stored, so no command
    (nor the API) can show it again."""
    with opened_context() as context, transaction(context.engine) as session:
        require_org(session, org_id)
        row, token = issue_token(session, org_id, given.name.strip(), datetime.now(UTC))
        document = token_json(row, token)
    if args.json:
        print_json(document)
        return 0
    out().print(line("token", token), soft_wrap=True)
    err().print(
        Text.assemble(
            "issued token ",
            shown(document["id"]),
            " (",
            shown(document["name"]),
            ") of organization ",
            shown(org_id),
            ". It is shown only this once: crmsync keeps only its digest, so copy it now.",
        )
    )
    return 0


def _revoke(args: argparse.Namespace, org_id: str, token_id: str) -> int:
    """Revoke a token; revoking one already revoked changes nothing, and says so."""
    now = datetime.now(UTC)
    with opened_context() as context, transaction(context.engine) as session:
        require_org(session, org_id)
        row = revoke_token(session, org_id, token_id, now)
        newly = row.revoked_at == now  # revoke_token keeps an earlier revocation's time
        document = token_json(row)
    if args.json:
        print_json(document)
        return 0
    verb = "revoked token " if newly else f"token already revoked at {document['revoked_at']}: "
    out().print(
        Text.assemble(
            shown(verb),
            shown(document["id"]),
            " (",
            shown(document["name"]),
            ")",
            " of ",
            shown(org_id),
        )
    )
    return 0
